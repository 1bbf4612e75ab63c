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

/* ---- (1.1) Lightning's other self.log arguments, self.log_dict, self.print -------- */

/* reduce_fx (one of them; none: mean) and rank_zero_only, as lt_log flags too. The epoch
 * value of a metric is the batch-size-weighted mean of its values (mean), or their plain
 * sum, max or min, as Lightning's _ResultMetric; one name keeps one reduce_fx per epoch.
 * With SYNC_DIST the ranks' values combine the same way. */
enum {
    LT_LOG_REDUCE_SUM = 1u << 5,
    LT_LOG_REDUCE_MAX = 2u << 5,
    LT_LOG_REDUCE_MIN = 3u << 5,
    LT_LOG_REDUCE_MASK = 3u << 5,
    /* Only rank 0 logs this (Lightning's rank_zero_only): never synced over ranks, so a
     * hook may log it on rank 0 alone; not for callbacks' monitor on other ranks. */
    LT_LOG_RANK_ZERO_ONLY = 1u << 7,
};

typedef struct lt_log_opts {
    uint32_t struct_size; /* sizeof(lt_log_opts) */
    unsigned flags;       /* LT_LOG_* as lt_log's, reduce_fx and rank_zero_only included */
    int64_t batch_size;   /* > 0: this value's weight in the epoch mean (Lightning's
                           * batch_size=); 0: the size of the batch being run */
} lt_log_opts;
#define LT_LOG_OPTS(...) ((lt_log_opts){.struct_size = sizeof(lt_log_opts), __VA_ARGS__})

/* lt_log / lt_log_value with options (opts NULL: lt_log's defaults). */
LT_API lt_status lt_log_with(lt_ctx_t *ctx, const char *name, lt_tensor_t *value,
                             const lt_log_opts *opts);
LT_API lt_status lt_log_value_with(lt_ctx_t *ctx, const char *name, double value,
                                   const lt_log_opts *opts);

/* One entry of lt_log_dict: a tensor, or (tensor NULL) the host number value. */
typedef struct lt_log_item {
    const char *name;
    lt_tensor_t *tensor;
    double value;
} lt_log_item;

/* Lightning's self.log_dict: every item with the same options. A NULL tensor while an
 * error is recorded (a failed op) fails the call, as lt_log does. */
LT_API lt_status lt_log_dict(lt_ctx_t *ctx, const lt_log_item *items, int n,
                             const lt_log_opts *opts);

/* Lightning's self.print: printf to stdout (and a newline) on global rank 0 only, so
 * that DDP prints a message once; under a host with a progress bar on a terminal the line
 * goes above the bar (lt_trainer.print_line). Messages are cut at 8191 bytes. */
LT_API void lt_print(lt_ctx_t *ctx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
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
/* ---- histograms (issue #23, ABI 1.1) ---- */

/* The distribution of a f32 tensor's values (1 to 2^28 of them, all finite), to the loggers
 * that take histograms (TensorBoard's add_histogram, bins "tensorflow") at the current
 * global step, as Lightning's self.logger.experiment.add_histogram(name, t, step). Unlike
 * lt_log this reads the tensor back at once (a device sync); call it, say, once an epoch. */
LT_API lt_status lt_log_histogram(lt_ctx_t *ctx, const char *name, lt_tensor_t *t);

#endif
