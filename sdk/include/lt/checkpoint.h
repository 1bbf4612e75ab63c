/* lt/checkpoint.h — .ckpt files (docs/checkpoint-format.md): a safetensors file with the
 * module's weights (state_dict.*), optimizer state (optimizer_states.*) and, in its
 * __metadata__, JSON for hyper-parameters, schedulers and whatever the host adds (epoch,
 * loops, callbacks). Loading validates everything before it changes anything. */
#ifndef LT_CHECKPOINT_H
#define LT_CHECKPOINT_H

#include <stdbool.h>

#include "module.h"
#include "safetensors.h"

#define LT_CKPT_FORMAT_MAJOR 1
#define LT_CKPT_FORMAT_MINOR 0

/* Every counter a checkpoint holds (epochs, batches, steps, a scheduler's last_epoch) is
 * below 2^53: exact in a double, and far from int64 overflow however long a resumed run
 * goes on. Restoring refuses a value outside [0, LT_CKPT_MAX_COUNT), naming its key. */
#define LT_CKPT_MAX_COUNT ((int64_t)1 << 53)

typedef struct lt_ckpt lt_ckpt_t; /* opaque: one checkpoint being written or read */

/* A checkpoint of module's state now: weights, hyper_parameters, and (after
 * configure_optimizers) optimizer and scheduler state. */
LT_API lt_ckpt_t *lt_ckpt_capture(lt_ctx_t *module);
/* Set a metadata entry to JSON text (epoch, global_step, loops, callbacks, ...). */
LT_API lt_status lt_ckpt_set(lt_ckpt_t *c, const char *key, const char *json);
/* Write atomically (lt_st_writer_save): path is either the old or the new file. */
LT_API lt_status lt_ckpt_save(lt_ckpt_t *c, const char *path);

/* Open and check a checkpoint: safetensors structure, checksum, format version. */
LT_API lt_status lt_ckpt_open(const char *path, lt_ckpt_t **out);
/* A metadata entry's JSON text, or NULL. */
LT_API const char *lt_ckpt_get(const lt_ckpt_t *c, const char *key);
/* The underlying file (its tensors and metadata). */
LT_API const lt_st_file_t *lt_ckpt_file(const lt_ckpt_t *c);
/* Set ctx's declared hparams to the saved ones (call before setup; names the module no
 * longer declares are skipped: the "hyper_parameters" metadata lists them all). */
LT_API lt_status lt_ckpt_restore_hparams(const lt_ckpt_t *c, lt_ctx_t *ctx);
/* Copy state_dict.* into ctx's parameters (after lt_ctx_materialize). strict: every
 * parameter present and no unexpected key; shapes must always match. On error nothing
 * was changed and the message names every missing, unexpected or mismatched key. */
LT_API lt_status lt_ckpt_restore_weights(const lt_ckpt_t *c, lt_ctx_t *ctx, bool strict);
/* Optimizer and scheduler state (after configure_optimizers); all or nothing. */
LT_API lt_status lt_ckpt_restore_training(const lt_ckpt_t *c, lt_ctx_t *ctx);
LT_API void lt_ckpt_free(lt_ckpt_t *c);

/* (#23) Set metadata key to the JSON of st, its float32 arrays (lt_state_set_f32) moved
 * into the file as F32 tensors named by their key path ("key.child.name"), each left in
 * the JSON as {"__lt_tensor__": "<tensor name>"}. */
LT_API lt_status lt_ckpt_set_state(lt_ckpt_t *c, const char *key, const lt_state_t *st);
/* Metadata key as a state (free it with lt_state_free), tensor references read back as
 * float32 arrays; NULL when absent (no error) or invalid (an error naming the problem:
 * bad JSON, a reference to a tensor the file lacks or that is not 1-D F32). */
LT_API lt_state_t *lt_ckpt_get_state(const lt_ckpt_t *c, const char *key);

/* Load a plain safetensors state dict (e.g. torch's save_file(model.state_dict())) into
 * ctx's parameters; keys may carry a "state_dict." or "model." prefix. */
LT_API lt_status lt_load_weights_file(lt_ctx_t *ctx, const char *path, bool strict);

#endif
