/* lt/trainer.h — what a hook can read of the trainer (Lightning's self.trainer): loop
 * position, callback_metrics, stopping, the optimizers, and logging from callbacks. */
#ifndef LT_TRAINER_H
#define LT_TRAINER_H

#include "module.h"

typedef struct lt_trainer lt_trainer_t; /* opaque to plugins; hosts see lt/runtime.h */

/* The trainer running this context's hooks, or NULL outside a trainer. */
LT_API lt_trainer_t *lt_trainer(lt_ctx_t *ctx);
LT_API int64_t lt_trainer_current_epoch(const lt_trainer_t *tr);
/* Optimizer steps taken so far (Lightning's global_step). */
LT_API int64_t lt_trainer_global_step(const lt_trainer_t *tr);
LT_API int64_t lt_trainer_max_epochs(const lt_trainer_t *tr);
/* "fit", "validate", "test" or "predict". */
LT_API const char *lt_trainer_stage(const lt_trainer_t *tr);
LT_API bool lt_trainer_sanity_checking(const lt_trainer_t *tr);
/* callback_metrics: the latest value logged under name (NAME, NAME_step, NAME_epoch). */
LT_API bool lt_trainer_metric(const lt_trainer_t *tr, const char *name, double *value);
LT_API int lt_trainer_metric_count(const lt_trainer_t *tr);
LT_API const char *lt_trainer_metric_at(const lt_trainer_t *tr, int i, double *value);
/* Ask fit to stop after this epoch (Lightning's trainer.should_stop = True). */
LT_API void lt_trainer_request_stop(lt_trainer_t *tr, const char *reason);
LT_API bool lt_trainer_should_stop(const lt_trainer_t *tr);
/* The module's optimizers (for callbacks such as a learning-rate monitor). */
LT_API int lt_trainer_num_optimizers(const lt_trainer_t *tr);
LT_API lt_optimizer_t *lt_trainer_optimizer(const lt_trainer_t *tr, int i);
/* Send one value straight to the loggers at the current step (a callback's logging). */
LT_API lt_status lt_trainer_log(lt_trainer_t *tr, const char *name, double value);
/* 0 on the process that prints and writes files. */
LT_API int lt_trainer_global_rank(const lt_trainer_t *tr);
/* Lightning's trainer.world_size: the processes training together (1 without DDP). */
LT_API int lt_trainer_world_size(const lt_trainer_t *tr);
/* Lightning's trainer.local_rank: this process's index among those on its node. */
LT_API int lt_trainer_local_rank(const lt_trainer_t *tr);

/* Collectives (Lightning's strategy.reduce, all_gather, strategy.barrier): every rank must
 * make the same calls in the same order with the same n, or the ranks wait for each other
 * (a hook that returns on rank 0 only must not call them). With one process they return
 * at once. values[0..n) become their sum over ranks, or their mean when mean is true. */
LT_API lt_status lt_trainer_all_reduce(lt_trainer_t *tr, float *values, int64_t n, bool mean);
/* out[r * n + i] = rank r's values[i]; out holds lt_trainer_world_size(tr) * n floats. */
LT_API lt_status lt_trainer_all_gather(lt_trainer_t *tr, const float *values, int64_t n,
                                       float *out);
/* Returns once every rank has called it. */
LT_API lt_status lt_trainer_barrier(lt_trainer_t *tr);

/* -- #23 -- */
/* Lightning's trainer.estimated_stepping_batches: the optimizer steps fit will take
 * (ceil(training batches / accumulate_grad_batches) * max_epochs, capped by max_steps),
 * so OneCycleLR or a warmup can be sized in configure_optimizers; -1 when unbounded
 * (max_epochs -1 and max_steps -1), outside fit, or with a host older than this liblt. */
LT_API int64_t lt_trainer_estimated_stepping_batches(const lt_trainer_t *tr);

#endif
