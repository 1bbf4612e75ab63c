/* lt/log.h — logging metrics from a module's hooks (Lightning's self.log). */
#ifndef LT_LOG_H
#define LT_LOG_H

#include "module.h"

/* Lightning's self.log arguments. With neither ON_STEP nor ON_EPOCH the hook decides, as
 * in Lightning: training_step and the train batch hooks log on_step, every other hook
 * on_epoch. With both, the logger gets NAME_step and NAME_epoch. */
enum {
    LT_LOG_PROG_BAR = 1u << 0,  /* show in the progress bar */
    LT_LOG_ON_STEP = 1u << 1,   /* record this step's value */
    LT_LOG_ON_EPOCH = 1u << 2,  /* record the epoch mean (weighted by batch size) */
    LT_LOG_NO_LOGGER = 1u << 3, /* logger=False: keep out of metrics.csv / TensorBoard */
    LT_LOG_SYNC_DIST = 1u << 4, /* average over processes (DDP) before it is read */
};

/* Log a one-element tensor under name (1 to 57 bytes). name is copied: the caller's
 * string may be freed or reused after the call. Values accumulate on the device; the
 * host reads them back only when it prints or writes them. Anything else (a (N, C)
 * tensor, a tensor of an earlier step) records an error that stops the run. */
LT_API lt_status lt_log(lt_ctx_t *ctx, const char *name, lt_tensor_t *value, unsigned flags);
/* Log a host number (name is copied too). */
LT_API lt_status lt_log_value(lt_ctx_t *ctx, const char *name, double value, unsigned flags);

/* ---- issue 23 (gen): images -------------------------------------------------------- */

/* torchvision.utils.make_grid's options, for lt_log_image_ex. */
typedef struct lt_image_opts {
    uint32_t struct_size; /* sizeof(lt_image_opts): LT_IMAGE_OPTS sets it */
    int64_t nrow;         /* images per row of the grid; 0: 8 */
    int64_t padding;      /* pixels between and around the images; 0: 2, -1: none */
    float pad_value;      /* the padding's value (before scaling to 0..255); 0: black */
    /* make_grid's normalize=True: values are shifted and scaled by value_range (lo, hi),
     * clamped to it; lo == hi: by the minimum and maximum of the tensor. */
    bool normalize;
    float value_range[2];
} lt_image_opts;
#define LT_IMAGE_OPTS(...) ((lt_image_opts){.struct_size = sizeof(lt_image_opts), __VA_ARGS__})

/* Log an image, as TensorBoardLogger's add_image after torchvision's make_grid: t is a
 * float32 (C, H, W) image or (N, C, H, W) batch, C = 1 or 3, values in [0, 1] (clamped);
 * a batch is tiled into a grid of nrow images per row with 2 pixels of padding, and a
 * one-channel image is shown as gray RGB. The host writes
 * <log dir>/images/<name>/step_<global_step>.png and, with the TensorBoard logger, an
 * image summary tagged name. name: 1 to 64 of [A-Za-z0-9._-], not starting with '.'
 * (it becomes a folder name). Reads the tensor back to the host: call it once an epoch,
 * not every step. Nothing is written when logging is off (--logger false). */
LT_API lt_status lt_log_image(lt_ctx_t *ctx, const char *name, lt_tensor_t *t);
/* The same with make_grid's options (o NULL: the defaults above). */
LT_API lt_status lt_log_image_ex(lt_ctx_t *ctx, const char *name, lt_tensor_t *t,
                                 const lt_image_opts *o);

#endif
