/* What hooks see of the trainer (lt/trainer.h), manual optimization and the closure.
 * The host owns the lt_trainer struct; liblt only reads it and forwards to its services. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctx_impl.h"

/* Whether the embedding program's struct has `field` (appended by a later minor). */
#define TRAINER_HAS(tr, field)                                                                     \
    ((tr)->struct_size >= offsetof(lt_trainer_t, field) + sizeof((tr)->field))

lt_status lt_ctx_set_trainer(lt_ctx_t *ctx, lt_trainer_t *tr) {
    if (tr && tr->struct_size < LT_TRAINER_SIZE_1_0)
        return lt_set_error(
            LT_ERR_ABI,
            "lt_ctx_set_trainer: lt_trainer_t.struct_size is %u, but this liblt "
            "(%s) needs at least %zu; set .struct_size = sizeof(lt_trainer_t) and rebuild "
            "against this SDK",
            tr->struct_size, lt_version(), LT_TRAINER_SIZE_1_0);
    ctx->trainer = tr;
    return LT_OK;
}
void lt_ctx_set_training(lt_ctx_t *ctx, bool training) { ctx->training = training; }
lt_trainer_t *lt_trainer(lt_ctx_t *ctx) { return ctx ? ctx->trainer : NULL; }
/* A frozen module (lt_freeze(ctx, NULL)) is in eval mode, as Lightning's freeze() leaves it. */
bool lt_training(lt_ctx_t *ctx) { return ctx && ctx->training && !ctx->frozen_all; }

const char *lt_stage(lt_ctx_t *ctx) {
    return ctx && ctx->trainer && ctx->trainer->stage ? ctx->trainer->stage : "";
}

int64_t lt_current_epoch(lt_ctx_t *ctx) {
    if (!ctx) return -1;
    return ctx->trainer ? ctx->trainer->current_epoch : ctx->epoch;
}

int64_t lt_global_step(lt_ctx_t *ctx) {
    if (!ctx) return -1;
    return ctx->trainer ? ctx->trainer->global_step : ctx->global_step;
}

int64_t lt_trainer_current_epoch(const lt_trainer_t *tr) { return tr ? tr->current_epoch : -1; }
int64_t lt_trainer_global_step(const lt_trainer_t *tr) { return tr ? tr->global_step : -1; }
int64_t lt_trainer_max_epochs(const lt_trainer_t *tr) { return tr ? tr->max_epochs : -1; }
const char *lt_trainer_stage(const lt_trainer_t *tr) { return tr && tr->stage ? tr->stage : ""; }
bool lt_trainer_sanity_checking(const lt_trainer_t *tr) { return tr && tr->sanity_checking; }
bool lt_trainer_should_stop(const lt_trainer_t *tr) { return tr && tr->should_stop; }
int lt_trainer_global_rank(const lt_trainer_t *tr) { return tr ? tr->global_rank : 0; }
int lt_trainer_world_size(const lt_trainer_t *tr) {
    return tr && tr->world_size > 1 ? tr->world_size : 1;
}
int lt_trainer_local_rank(const lt_trainer_t *tr) { return tr ? tr->local_rank : 0; }
/* -- #23 -- */
int64_t lt_trainer_estimated_stepping_batches(const lt_trainer_t *tr) {
    return tr && TRAINER_HAS(tr, estimated_stepping_batches) ? tr->estimated_stepping_batches : -1;
}

static lt_status check_collective(const lt_trainer_t *tr, const char *what, const void *values,
                                  int64_t n) {
    if (!tr)
        return lt_set_error(LT_ERR_STATE, "%s: called outside a trainer (use lt_trainer(ctx))",
                            what);
    if (n < 0 || (n > 0 && !values))
        return lt_set_error(LT_ERR_INVALID_ARG, "%s: %lld values at %p", what, (long long)n,
                            values);
    if (lt_trainer_world_size(tr) > 1 && !tr->all_reduce_sum)
        return lt_set_error(LT_ERR_STATE, "%s: this host has no collectives", what);
    return LT_OK;
}

lt_status lt_trainer_all_reduce(lt_trainer_t *tr, float *values, int64_t n, bool mean) {
    lt_status s = check_collective(tr, "lt_trainer_all_reduce", values, n);
    int world = lt_trainer_world_size(tr);
    if (s != LT_OK || world == 1 || n == 0) return s;
    if ((s = tr->all_reduce_sum(tr, values, n)) != LT_OK) return s;
    for (int64_t i = 0; mean && i < n; i++) values[i] /= (float)world;
    return LT_OK;
}

/* The host's all_gather, else a sum of slots that only their own rank fills: exact,
 * since every other term is 0. */
lt_status lt_trainer_all_gather(lt_trainer_t *tr, const float *values, int64_t n, float *out) {
    lt_status s = check_collective(tr, "lt_trainer_all_gather", values, n);
    if (s == LT_OK && n > 0 && !out)
        s = lt_set_error(LT_ERR_INVALID_ARG, "lt_trainer_all_gather: out is NULL");
    int world = lt_trainer_world_size(tr);
    if (s != LT_OK || n == 0) return s;
    if (world > 1 && TRAINER_HAS(tr, all_gather) && tr->all_gather)
        return tr->all_gather(tr, values, n, out);
    memset(out, 0, (size_t)world * (size_t)n * sizeof *out);
    memcpy(out + (int64_t)tr->global_rank * n, values, (size_t)n * sizeof *out);
    return world == 1 ? LT_OK : tr->all_reduce_sum(tr, out, (int64_t)world * n);
}

lt_status lt_trainer_barrier(lt_trainer_t *tr) {
    lt_status s = check_collective(tr, "lt_trainer_barrier", NULL, 0);
    if (s != LT_OK || lt_trainer_world_size(tr) == 1) return s;
    return tr->barrier ? tr->barrier(tr)
                       : lt_set_error(LT_ERR_STATE, "lt_trainer_barrier: this host has no barrier");
}

bool lt_trainer_metric(const lt_trainer_t *tr, const char *name, double *value) {
    for (int i = 0; tr && name && i < tr->n_callback_metrics; i++)
        if (strcmp(tr->callback_metrics[i].name, name) == 0) {
            if (value) *value = tr->callback_metrics[i].value;
            return true;
        }
    return false;
}

int lt_trainer_metric_count(const lt_trainer_t *tr) { return tr ? tr->n_callback_metrics : 0; }

const char *lt_trainer_metric_at(const lt_trainer_t *tr, int i, double *value) {
    if (!tr || i < 0 || i >= tr->n_callback_metrics) return NULL;
    if (value) *value = tr->callback_metrics[i].value;
    return tr->callback_metrics[i].name;
}

void lt_trainer_request_stop(lt_trainer_t *tr, const char *reason) {
    if (!tr) return;
    if (!tr->should_stop && reason) snprintf(tr->stop_reason, sizeof tr->stop_reason, "%s", reason);
    tr->should_stop = true;
}

int lt_trainer_num_optimizers(const lt_trainer_t *tr) {
    return tr && tr->module ? tr->module->nopts : 0;
}

lt_optimizer_t *lt_trainer_optimizer(const lt_trainer_t *tr, int i) {
    return tr && tr->module ? lt_ctx_optimizer(tr->module, i) : NULL;
}

lt_status lt_trainer_log(lt_trainer_t *tr, const char *name, double value) {
    if (!tr || !tr->log || !name)
        return lt_set_error(LT_ERR_STATE, "lt_trainer_log: no trainer to log '%s' to",
                            name ? name : "(null)");
    return tr->log(tr, name, value);
}

/* ---- manual optimization ------------------------------------------------------ */

int lt_num_optimizers(lt_ctx_t *ctx) { return ctx ? ctx->nopts : 0; }
lt_optimizer_t *lt_optimizers(lt_ctx_t *ctx, int i) {
    return ctx ? lt_ctx_optimizer(ctx, i) : NULL;
}

lt_status lt_manual_backward(lt_ctx_t *ctx, lt_tensor_t *loss) {
    if (!loss) return lt_last_status() ? lt_last_status() : LT_ERR_INVALID_ARG;
    if (ctx && ctx->trainer && ctx->trainer->manual_backward)
        return ctx->trainer->manual_backward(ctx->trainer, loss);
    return lt_backward(loss);
}

static bool in_list(const lt_param_list_t *l, const lt_tensor_t *t) {
    for (int64_t i = 0; i < l->len; i++)
        if (l->items[i] == t) return true;
    return false;
}

/* As Lightning: parameters outside opt stop requiring gradients, so backward through
 * a generator's output does not fill the discriminator's gradients (and vice versa). */
lt_status lt_toggle_optimizer(lt_ctx_t *ctx, lt_optimizer_t *opt) {
    if (!ctx || !opt) return lt_set_error(LT_ERR_INVALID_ARG, "lt_toggle_optimizer: NULL argument");
    if (ctx->toggle_saved)
        return lt_set_error(LT_ERR_STATE, "lt_toggle_optimizer: an optimizer is already toggled; "
                                          "call lt_untoggle_optimizer first");
    if (!(ctx->toggle_saved = calloc((size_t)ctx->nparams + 1, sizeof *ctx->toggle_saved)))
        return lt_set_error(LT_ERR_OOM, "out of host memory toggling an optimizer");
    const lt_param_list_t *mine = lt__optimizer_params(opt);
    for (int i = 0; i < ctx->nparams; i++) {
        lt_tensor_t *t = ctx->params[i].t;
        ctx->toggle_saved[i] = t->requires_grad;
        t->requires_grad = t->requires_grad && in_list(mine, t);
    }
    return LT_OK;
}

lt_status lt_untoggle_optimizer(lt_ctx_t *ctx, lt_optimizer_t *opt) {
    (void)opt;
    if (!ctx || !ctx->toggle_saved) return LT_OK;
    for (int i = 0; i < ctx->nparams; i++) ctx->params[i].t->requires_grad = ctx->toggle_saved[i];
    free(ctx->toggle_saved);
    ctx->toggle_saved = NULL;
    return LT_OK;
}

lt_status lt_closure_run(lt_closure_t *closure) {
    if (!closure || !closure->run)
        return lt_set_error(LT_ERR_INVALID_ARG, "lt_closure_run: NULL closure");
    return closure->run(closure);
}
