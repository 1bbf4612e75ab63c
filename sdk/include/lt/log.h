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

/* ---- histograms (issue #23, ABI 1.1) ---- */

/* The distribution of a f32 tensor's values (1 to 2^28 of them, all finite), to the loggers
 * that take histograms (TensorBoard's add_histogram, bins "tensorflow") at the current
 * global step, as Lightning's self.logger.experiment.add_histogram(name, t, step). Unlike
 * lt_log this reads the tensor back at once (a device sync); call it, say, once an epoch. */
LT_API lt_status lt_log_histogram(lt_ctx_t *ctx, const char *name, lt_tensor_t *t);

#endif
