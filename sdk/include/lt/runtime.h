/* lt/runtime.h — what a host (lthost, or a program embedding liblt) uses to drive a
 * module or data plugin: contexts, hyper-parameter values, parameters, metrics.
 * Plugins never need this header. */
#ifndef LT_RUNTIME_H
#define LT_RUNTIME_H

#include "data.h"
#include "module.h"

/* A context for one plugin: `self` of self_size zeroed bytes, hparams at their
 * defaults, parameters initialised from seed. dev may be NULL for data plugins. */
LT_API lt_ctx_t *lt_ctx_new(lt_device_t *dev, const char *plugin_name,
                            const lt_hparam_desc *hparams, size_t self_size, uint64_t seed);
LT_API void lt_ctx_free(lt_ctx_t *ctx);
/* The plugin's struct, passed to every hook. */
LT_API void *lt_ctx_self(lt_ctx_t *ctx);

/* Set a declared hyper-parameter from text ("1e-3", "true", "adam"). An unknown name
 * or a bad value is an error that names the choices or the closest declared name. */
LT_API lt_status lt_ctx_set_hparam(lt_ctx_t *ctx, const char *name, const char *value);
LT_API int lt_ctx_hparam_count(const lt_ctx_t *ctx);
LT_API const lt_hparam_desc *lt_ctx_hparam_desc(const lt_ctx_t *ctx, int i);
/* The current value of hparam i as text, into buf. */
LT_API const char *lt_ctx_hparam_text(const lt_ctx_t *ctx, int i, char *buf, size_t n);

/* After setup(): allocate all declared parameters in one buffer and initialise them. */
LT_API lt_status lt_ctx_materialize(lt_ctx_t *ctx);
LT_API int lt_ctx_num_params(const lt_ctx_t *ctx);
LT_API lt_tensor_t *lt_ctx_param(const lt_ctx_t *ctx, int i, const char **name);
LT_API int lt_ctx_num_optimizers(const lt_ctx_t *ctx);
LT_API lt_optimizer_t *lt_ctx_optimizer(const lt_ctx_t *ctx, int i);

/* Loop position as hooks see it. */
LT_API void lt_ctx_set_progress(lt_ctx_t *ctx, int64_t epoch, int64_t global_step);
/* The batch size that weights this step's logged values. */
LT_API void lt_ctx_set_batch_size(lt_ctx_t *ctx, int64_t n);

/* Metrics logged with lt_log since the last lt_ctx_metrics_reset(). */
LT_API int lt_ctx_metric_count(const lt_ctx_t *ctx);
/* Name and flags of metric i, and its batch-size-weighted mean (reads the device). */
LT_API const char *lt_ctx_metric(lt_ctx_t *ctx, int i, unsigned *flags, double *mean);
LT_API void lt_ctx_metrics_reset(lt_ctx_t *ctx);

/* Whether the data plugin registered a dataset for split. */
LT_API bool lt_ctx_has_split(const lt_ctx_t *ctx, lt_split split);
/* The dataset a data plugin registered for split, or LT_ERR_STATE if none. */
LT_API lt_status lt_ctx_split(const lt_ctx_t *ctx, lt_split split, lt_dataset *ds,
                              lt_loader_opts *opts);

#endif
