/* Test plugin for DDP failures: a linear model that, on rank `rank` at global step
 * `step`, returns an error from training_step (mode "error"), dies at once (mode
 * "crash": SIGKILL, as an out-of-memory kill would) or never returns (mode "hang": a
 * deadlock, an endless loop). Every rank must then exit
 * non-zero within seconds, never hang. Each step it also logs its rank + 1, with and
 * without sync_dist, for the metric reduction test (--model.rank -1: nobody fails), and
 * at the end of each training epoch what the trainer's collectives make of it. */
#include <lt/lt.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

typedef struct rank_fail {
    lt_linear_t *l;
} rank_fail_t;

static const lt_hparam_desc hparams[] = {
    LT_HPARAM_INT("rank", 1, "the rank that fails"),
    LT_HPARAM_INT("step", 3, "the global step it fails at"),
    LT_HPARAM_CHOICE("mode", "error", "error|crash|hang",
                     "return an error, be killed, or never return"),
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
        if (!strcmp(lt_hparam_str(ctx, "mode"), "hang"))
            for (;;) pause(); /* only a signal that kills ends it */
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

/* Rank r contributes (r + 1, 10 (r + 1)). Logged from rank 0 (no sync_dist): the world
 * size, the mean and the sum of both values over ranks, and, gathered from every rank,
 * r + 1 and the local rank, each read as decimal digits (2 ranks on a node: 12 and 1). */
static lt_status on_train_epoch_end(lt_ctx_t *ctx, void *self) {
    (void)self;
    enum { MAX_RANKS = 8 };
    lt_trainer_t *tr = lt_trainer(ctx);
    int world = lt_trainer_world_size(tr);
    if (world > MAX_RANKS) return lt_set_error(LT_ERR_INVALID_ARG, "rank_fail: at most 8 ranks");
    float me = (float)lt_trainer_global_rank(tr) + 1;
    float mean[2] = {me, 10 * me}, sum[2] = {me, 10 * me};
    float mine[3] = {me, 10 * me, (float)lt_trainer_local_rank(tr)}, all[3 * MAX_RANKS];
    lt_status s = lt_trainer_barrier(tr);
    if (s == LT_OK) s = lt_trainer_all_reduce(tr, mean, 2, true);
    if (s == LT_OK) s = lt_trainer_all_reduce(tr, sum, 2, false);
    if (s == LT_OK) s = lt_trainer_all_gather(tr, mine, 3, all);
    if (s != LT_OK) return s;
    double ranks = 0, local_ranks = 0;
    for (int r = 0; r < world; r++) {
        if (all[3 * r + 1] != 10 * all[3 * r])
            return lt_set_error(LT_ERR_STATE, "rank_fail: rank %d's values arrived torn", r);
        ranks = 10 * ranks + all[3 * r];
        local_ranks = 10 * local_ranks + all[3 * r + 2];
    }
    const struct {
        const char *name;
        double v;
    } out[] = {{"coll_world", world},
               {"coll_mean", mean[0]},
               {"coll_mean10", mean[1]},
               {"coll_sum", sum[0]},
               {"coll_sum10", sum[1]},
               {"coll_ranks", ranks},
               {"coll_local_ranks", local_ranks}};
    for (size_t i = 0; i < sizeof out / sizeof *out; i++)
        if ((s = lt_log_value(ctx, out[i].name, out[i].v, LT_LOG_ON_EPOCH)) != LT_OK) return s;
    return LT_OK;
}

LT_MODULE_EXPORT(rank_fail_t, .name = "rank_fail", .hparams = hparams, .setup = setup,
                 .configure_optimizers = configure_optimizers, .training_step = training_step,
                 .on_train_epoch_end = on_train_epoch_end);
