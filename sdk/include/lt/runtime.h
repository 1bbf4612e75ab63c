/* lt/runtime.h — what a host (lthost, or a program embedding liblt) uses to drive a
 * module or data plugin: contexts, hyper-parameter values, parameters, metrics.
 * Plugins never need this header. */
#ifndef LT_RUNTIME_H
#define LT_RUNTIME_H

#include <stddef.h>

#include "data.h"
#include "module.h"
#include "trainer.h"

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

/* The entry of names closest to name by edit distance, or NULL if none is close. */
LT_API const char *lt_did_you_mean(const char *name, const char *const *names, int n);

/* The forward of the module's submodule `name` (lt_submodule_desc); NULL with an error
 * that lists the submodules the module declares. */
typedef lt_tensor_t *(*lt_forward_fn)(lt_ctx_t *ctx, void *self, lt_tensor_t *x);
LT_API lt_forward_fn lt_module_submodule(const lt_module_desc *desc, const char *name);

/* After setup(): allocate all declared parameters in one buffer and initialise them. */
LT_API lt_status lt_ctx_materialize(lt_ctx_t *ctx);
LT_API int lt_ctx_num_params(const lt_ctx_t *ctx);
LT_API lt_tensor_t *lt_ctx_param(const lt_ctx_t *ctx, int i, const char **name);
/* The layer kind that declared parameter i ("Linear"), or NULL for a bare lt_param. */
LT_API const char *lt_ctx_param_layer_type(const lt_ctx_t *ctx, int i);
/* The buffers (lt_buffer), in declaration order (ABI 1.1). */
LT_API int lt_ctx_num_buffers(const lt_ctx_t *ctx);
LT_API lt_tensor_t *lt_ctx_buffer(const lt_ctx_t *ctx, int i, const char **name);
LT_API int lt_ctx_num_optimizers(const lt_ctx_t *ctx);
LT_API lt_optimizer_t *lt_ctx_optimizer(const lt_ctx_t *ctx, int i);
LT_API int lt_ctx_num_schedulers(const lt_ctx_t *ctx);
/* Scheduler i and its config (defaults filled in). */
LT_API lt_scheduler_t *lt_ctx_scheduler(const lt_ctx_t *ctx, int i, lt_scheduler_config *cfg);

/* Loop position as hooks see it when no trainer is set. */
LT_API void lt_ctx_set_progress(lt_ctx_t *ctx, int64_t epoch, int64_t global_step);
/* The batch size that weights this step's logged values. */
LT_API void lt_ctx_set_batch_size(lt_ctx_t *ctx, int64_t n);

/* ---- logging: lt_log calls land in the context's metric table ------------------- */

/* Scope of the lt_log calls that follow (one per loop: the host's numbering) and the
 * on_step/on_epoch flags used when a call gives neither. */
LT_API void lt_ctx_set_log_scope(lt_ctx_t *ctx, int scope, unsigned default_flags);
/* Forget the values of scope (its metrics stay known, with no values). */
LT_API void lt_ctx_metrics_reset_scope(lt_ctx_t *ctx, int scope);
/* Mark every metric as not logged in the current step. */
LT_API void lt_ctx_metrics_new_step(lt_ctx_t *ctx);
LT_API int lt_ctx_metric_count(const lt_ctx_t *ctx);
typedef struct lt_metric_reading {
    const char *name;
    int scope;
    unsigned flags;    /* the lt_log flags, defaults applied */
    bool logged;       /* at least one value since the scope was reset */
    bool this_step;    /* logged since lt_ctx_metrics_new_step */
    double last;       /* the latest value */
    double epoch_mean; /* batch-size-weighted mean since the reset */
    double weight;     /* the sum of those batch sizes */
} lt_metric_reading;
/* Read metric i (reads the device: call it only when printing or logging). */
LT_API lt_status lt_ctx_metric_read(lt_ctx_t *ctx, int i, lt_metric_reading *out);

/* ---- the trainer a host runs --------------------------------------------------- */

typedef struct lt_metric_value {
    char name[80];
    double value;
} lt_metric_value;

/* Filled by the host (the program that embeds liblt); plugins read it through
 * lt/trainer.h. Set struct_size = sizeof(lt_trainer_t): fields appended by later minors
 * are read only when struct_size covers them. */
struct lt_trainer {
    uint32_t struct_size;
    const char *stage;
    int64_t current_epoch, global_step, max_epochs;
    bool sanity_checking, should_stop;
    char stop_reason[256];
    int global_rank;
    lt_ctx_t *module;
    lt_metric_value *callback_metrics; /* host-owned array */
    int n_callback_metrics;
    /* Host services behind lt_manual_backward and lt_trainer_log. */
    lt_status (*manual_backward)(lt_trainer_t *tr, lt_tensor_t *loss);
    lt_status (*log)(lt_trainer_t *tr, const char *name, double value);
    void *host;
    int world_size, local_rank; /* lt_trainer_world_size reads 0 (unset) as 1 */
    /* Host services behind lt_trainer_all_reduce / _all_gather / _barrier (the strategy's
     * collectives); NULL with one process. */
    lt_status (*all_reduce_sum)(lt_trainer_t *tr, float *values, int64_t n);
    lt_status (*barrier)(lt_trainer_t *tr);
    /* (optional) out[r*n + i] = rank r's values[i]; NULL: an all_reduce_sum of a
     * zero-padded buffer (exact, world-size times the traffic). */
    lt_status (*all_gather)(lt_trainer_t *tr, const float *values, int64_t n, float *out);
    /* -- issue 23 (gen): lt_log_image -- */
    /* (optional) Take an image for the loggers: rgb holds height x width pixels, 3 bytes
     * each, row by row; name is checked (1 to 64 of [A-Za-z0-9._-], no leading '.'). The
     * host writes it where its loggers keep images; NULL: lt_log_image says the host
     * takes no images. */
    lt_status (*log_image)(lt_trainer_t *tr, const char *name, int64_t height, int64_t width,
                           const uint8_t *rgb);
    /* -- issue 19 -- */
    /* Lightning's --sync_batchnorm under DDP: lt_batchnorm_forward in training mode uses
     * statistics over every rank (through all_reduce_sum), as torch's SyncBatchNorm. */
    bool sync_batchnorm;
    /* ---- histograms (issue #23, ABI 1.1) ---- */
    /* (optional) Host service behind lt_log_histogram: n finite values, to the loggers that
     * take histograms at the current step. */
    lt_status (*log_histogram)(lt_trainer_t *tr, const char *name, const float *values, int64_t n);
    /* -- #23: Lightning's trainer.estimated_stepping_batches: the optimizer steps fit
     * will take, known from configure_optimizers on; -1: unbounded -- */
    int64_t estimated_stepping_batches;
    /* -- #23: lt_print through the progress bar -- */
    /* (optional) Host service behind lt_print: write text and a newline without garbling a
     * progress bar being drawn (Lightning's TQDMProgressBar.print: clear the bar line,
     * print, redraw). NULL: lt_print writes to stdout itself. */
    void (*print_line)(lt_trainer_t *tr, const char *text);
};

/* The smallest struct_size this liblt accepts (1.0 has every field up to barrier). */
#define LT_TRAINER_SIZE_1_0 (offsetof(lt_trainer_t, barrier) + sizeof(void (*)(void)))

/* Let ctx's hooks see tr (lt_trainer, lt_current_epoch, lt_manual_backward, lt_stage);
 * LT_ERR_ABI (and tr not set) when tr->struct_size is below LT_TRAINER_SIZE_1_0. */
LT_API lt_status lt_ctx_set_trainer(lt_ctx_t *ctx, lt_trainer_t *tr);
/* Train or eval mode, as lt_training reports it. */
LT_API void lt_ctx_set_training(lt_ctx_t *ctx, bool training);

/* A closure the host hands to optimizer_step; run is what lt_closure_run calls. */
struct lt_closure {
    lt_status (*run)(lt_closure_t *self);
};

/* ---- data parallel training (the host's DDP) ------------------------------------ */

/* During lt_backward on ctx's tensors: fn(user, i) as soon as parameter i's gradient is
 * final for this backward (the earliest op on the tape that uses it has been
 * differentiated), so its all-reduce can start while backward goes on. Parameters the
 * step did not use are never reported. NULL: off. */
typedef void (*lt_grad_ready_fn)(void *user, int param_index);
LT_API void lt_ctx_set_grad_ready(lt_ctx_t *ctx, lt_grad_ready_fn fn, void *user);
/* lt_backward on ctx's tensors seeds the loss's gradient with scale instead of 1, so
 * every gradient comes out multiplied by it: a data-parallel host divides by the world
 * size this way before summing over ranks (torch's DDP divides before its all-reduce),
 * instead of a pass over the summed gradients. 1: off. */
LT_API void lt_ctx_set_backward_scale(lt_ctx_t *ctx, float scale);
/* All parameters' values / gradients as one float buffer (parameter i starts at
 * lt_ctx_param_offset(ctx, i)); *n is the number of floats. NULL (and *n 0) before
 * lt_ctx_materialize or when the device's memory is not host memory: then use
 * lt_ctx_copy_flat to stage them. */
LT_API float *lt_ctx_values_host(lt_ctx_t *ctx, int64_t *n);
LT_API float *lt_ctx_grads_host(lt_ctx_t *ctx, int64_t *n);
/* The same two buffers as device pointers, whatever the memory (for a strategy's
 * device collectives, which may not be dereferenced on the host); NULL before
 * lt_ctx_materialize. */
LT_API float *lt_ctx_values_device(lt_ctx_t *ctx, int64_t *n);
LT_API float *lt_ctx_grads_device(lt_ctx_t *ctx, int64_t *n);
LT_API int64_t lt_ctx_param_offset(const lt_ctx_t *ctx, int i);
/* Copy floats [first, first + n) of the flat gradient (or values, when values is true)
 * buffer to host memory (to_host) or back from it. */
LT_API lt_status lt_ctx_copy_flat(lt_ctx_t *ctx, bool values, bool to_host, int64_t first,
                                  int64_t n, float *host);

/* ---- checkpoint state objects (an lt_state_t is a JSON object) ------------------- */

/* An empty object; NULL (LT_ERR_OOM) when out of memory. */
LT_API lt_state_t *lt_state_new(void);
/* Free st and every child in it. Only for objects from lt_state_new / _from_json: a
 * child from lt_state_child belongs to its parent. NULL is a no-op. */
LT_API void lt_state_free(lt_state_t *st);
/* Compact JSON text, malloc'd (the caller frees it); NULL with an error recorded. */
LT_API char *lt_state_to_json(const lt_state_t *st);
/* Parse a JSON object (duplicate keys refused); bad text or a value that is not an
 * object is LT_ERR_FORMAT naming line and column. Free the result with lt_state_free. */
LT_API lt_state_t *lt_state_from_json(const char *text);

/* Whether the data plugin registered a dataset for split. */
LT_API bool lt_ctx_has_split(const lt_ctx_t *ctx, lt_split split);
/* The dataset a data plugin registered for split, or LT_ERR_STATE if none. */
LT_API lt_status lt_ctx_split(const lt_ctx_t *ctx, lt_split split, lt_dataset *ds,
                              lt_loader_opts *opts);

/* ---- trainer flags (issue 23) ------------------------------------------------------ */

/* --detect_anomaly: from now on every op on dev that records a backward has its output,
 * and every backward its input gradients, checked for NaN/inf; the first one found is an
 * LT_ERR_NUMERIC error naming the op (the step that ran it then fails). Reads the device
 * after each op: for debugging. */
LT_API void lt_device_set_detect_anomaly(lt_device_t *dev, bool on);
/* Caps the bytes dev's tensors hold plus the freed blocks it caches (torch's reserved
 * memory); 0 lifts the cap. An allocation past it drops the cache, then fails as
 * LT_ERR_OOM: a memory budget on an accelerator that has none of its own. */
LT_API void lt_device_set_memory_limit(lt_device_t *dev, uint64_t bytes);
/* Bytes dev's tensors hold now and at most so far (torch's memory_allocated and
 * max_memory_allocated), and how many allocations failed; NULL skips one. */
LT_API void lt_device_memory_usage(const lt_device_t *dev, uint64_t *held, uint64_t *peak,
                                   uint64_t *failed);
/* ---- several val/test dataloaders (1.1) ------------------------------------------ */

/* The dataloaders registered for split (0: none). */
LT_API int lt_ctx_num_loaders(const lt_ctx_t *ctx, lt_split split);
/* Dataloader i of split (0 is lt_ctx_split's), or LT_ERR_STATE if there is none. */
LT_API lt_status lt_ctx_loader(const lt_ctx_t *ctx, lt_split split, int i, lt_dataset *ds,
                               lt_loader_opts *opts);
/* The dataloader whose batches the lt_log calls that follow log: 0..LT_MAX_DATALOADERS-1
 * keys them apart (Lightning's NAME/dataloader_idx_K), -1 (the default) logs plain NAME. */
LT_API void lt_ctx_set_dataloader_idx(lt_ctx_t *ctx, int idx);
/* The dataloader metric i was logged under (lt_ctx_set_dataloader_idx), -1 for none. */
LT_API int lt_ctx_metric_dataloader_idx(const lt_ctx_t *ctx, int i);
/* lt_ctx_metrics_new_step for the metrics of one scope only (an evaluation loop's step
 * inside a training epoch leaves the training step's values marked). */
LT_API void lt_ctx_metrics_new_step_of(lt_ctx_t *ctx, int scope);

/* ---- #23: batch-norm statistics for averaged weights (StochasticWeightAveraging) ---- */

/* The batch norm layers (lt_batchnorm) the module declared: Lightning's
 * pl_module_contains_batch_norm. */
LT_API int lt_ctx_num_batchnorms(const lt_ctx_t *ctx);
/* cumulative true: every lt_batchnorm's running_mean becomes 0, running_var 1 and
 * num_batches_tracked 0, and its momentum torch's None, so training-mode forwards make
 * the running statistics the plain average over the batches that follow
 * (torch.optim.swa_utils.update_bn). false: each layer's own momentum applies again; the
 * statistics stay. */
LT_API lt_status lt_ctx_batchnorm_cumulative(lt_ctx_t *ctx, bool cumulative);

#endif
