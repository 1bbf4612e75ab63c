/* Test plugin for DDP failures: a linear model that, on rank `rank` at global step
 * `step`, either returns an error from training_step (mode "error") or dies at once
 * (mode "crash": SIGKILL, as an out-of-memory kill would). Every rank must then exit
 * non-zero within seconds, never hang. Each step it also logs its rank + 1, with and
 * without sync_dist, for the metric reduction test (--model.rank -1: nobody fails). */
#include <lt/lt.h>
#include <signal.h>
#include <string.h>

typedef struct rank_fail {
    lt_linear_t *l;
} rank_fail_t;

static const lt_hparam_desc hparams[] = {
    LT_HPARAM_INT("rank", 1, "the rank that fails"),
    LT_HPARAM_INT("step", 3, "the global step it fails at"),
    LT_HPARAM_CHOICE("mode", "error", "error|crash", "return an error, or be killed"),
    LT_HPARAM_END,
};

static lt_status setup(lt_ctx_t *ctx, void *self) {
    ((rank_fail_t *)self)->l = lt_linear(ctx, "l", 28 * 28, 10);
    return lt_ok(ctx);
}

static lt_status configure_optimizers(lt_ctx_t *ctx, void *self) {
    (void)self;
    return lt_use_optimizer(ctx, lt_sgd(lt_parameters(ctx), 0.01));
}

static lt_tensor_t *training_step(lt_ctx_t *ctx, void *self, const lt_batch_t *b, int64_t i) {
    (void)i;
    lt_trainer_t *tr = lt_trainer(ctx);
    if (lt_trainer_global_rank(tr) == lt_hparam_int(ctx, "rank") &&
        lt_trainer_global_step(tr) == lt_hparam_int(ctx, "step")) {
        if (!strcmp(lt_hparam_str(ctx, "mode"), "crash")) raise(SIGKILL);
        lt_set_error(LT_ERR_STATE, "rank_fail: failing on purpose at step %lld",
                     (long long)lt_trainer_global_step(tr));
        return NULL;
    }
    double me = lt_trainer_global_rank(tr) + 1;
    if (lt_log_value(ctx, "rank_synced", me, LT_LOG_ON_STEP | LT_LOG_SYNC_DIST) != LT_OK ||
        lt_log_value(ctx, "rank_local", me, LT_LOG_ON_STEP) != LT_OK ||
        lt_log_value(ctx, "rank_epoch", me, LT_LOG_ON_EPOCH | LT_LOG_SYNC_DIST) != LT_OK)
        return NULL;
    rank_fail_t *m = self;
    return lt_cross_entropy(lt_linear_forward(m->l, lt_flatten(b->x)), b->y);
}

LT_MODULE_EXPORT(rank_fail_t, .name = "rank_fail", .hparams = hparams, .setup = setup,
                 .configure_optimizers = configure_optimizers, .training_step = training_step);
