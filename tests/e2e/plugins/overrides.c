/* Test plugin for tests/e2e/test_module_overrides.sh (issue #23): a small classifier
 * (encoder: Linear 784 -> 16 with a BatchNorm "encoder.bn", head: Linear 16 -> 10) whose
 * --model.mode exercises one override, logging what it saw so the script can check it:
 *   freeze  lt_freeze("encoder") at on_train_start; logs enc_sum, head_sq, bn_batches
 *   thaw    as freeze, then lt_unfreeze("encoder") before global step 3
 *   sched   lr_scheduler_step steps its StepLR(1, 0.5) only on every other call
 *   clip    configure_gradient_clipping clips by value at half the trainer's value
 *   bad_freeze  lt_freeze("enc"), which names no submodule: a clear error */
#include <lt/lt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct overrides {
    lt_linear_t *enc, *head;
    lt_batchnorm_t *bn;
    int64_t sched_calls, clip_calls;
    double clip_val, grad_max, metric_seen;
} overrides_t;

static const lt_hparam_desc ov_hparams[] = {
    LT_HPARAM_CHOICE("mode", "freeze", "freeze|thaw|sched|clip|bad_freeze",
                     "which override to exercise"),
    LT_HPARAM_END,
};

static lt_status ov_setup(lt_ctx_t *ctx, void *self) {
    overrides_t *m = self;
    m->enc = lt_linear(ctx, "encoder", 784, 16);
    m->bn = lt_batchnorm(ctx, "encoder.bn", 16);
    m->head = lt_linear(ctx, "head", 16, 10);
    return lt_ok(ctx);
}

static bool mode_is(lt_ctx_t *ctx, const char *mode) {
    return !strcmp(lt_hparam_str(ctx, "mode"), mode);
}

enum { SUM, MAX_ABS, SUM_SQ };

/* sum, max |x| or sum of squares of t's elements (on the host: a test plugin may read) */
static double reduce_host(const lt_tensor_t *t, int how) {
    const int64_t n = t ? lt_numel(t) : 0;
    float *v = n > 0 ? malloc((size_t)n * sizeof *v) : NULL;
    double r = 0.0;
    if (v && lt_to_host(t, v, (size_t)n * sizeof *v) == LT_OK)
        for (int64_t i = 0; i < n; i++)
            r = how == MAX_ABS ? fmax(r, fabs(v[i])) : r + (how == SUM_SQ ? v[i] * v[i] : v[i]);
    free(v);
    return r;
}

static lt_tensor_t *ov_training_step(lt_ctx_t *ctx, void *self, const lt_batch_t *b, int64_t i) {
    (void)i;
    overrides_t *m = self;
    lt_tensor_t *h =
        lt_relu(lt_batchnorm_forward(m->bn, lt_linear_forward(m->enc, lt_flatten(b->x))));
    lt_tensor_t *loss = lt_cross_entropy(lt_linear_forward(m->head, h), b->y);
    lt_log_value(ctx, "enc_sum", reduce_host(m->enc->weight, SUM), LT_LOG_ON_STEP);
    /* (the sum of a classifier's weights barely moves: each column's gradient sums to 0) */
    lt_log_value(ctx, "head_sq", reduce_host(m->head->weight, SUM_SQ), LT_LOG_ON_STEP);
    lt_log_value(ctx, "bn_batches", (double)m->bn->batches, LT_LOG_ON_STEP);
    lt_log_value(ctx, "training", lt_training(ctx) ? 1.0 : 0.0, LT_LOG_ON_STEP);
    lt_log_value(ctx, "sched_calls", (double)m->sched_calls, LT_LOG_ON_STEP);
    lt_log_value(ctx, "metric_seen", m->metric_seen, LT_LOG_ON_STEP);
    lt_log_value(ctx, "clip_calls", (double)m->clip_calls, LT_LOG_ON_STEP);
    lt_log_value(ctx, "clip_val", m->clip_val, LT_LOG_ON_STEP);
    lt_log_value(ctx, "grad_max", m->grad_max, LT_LOG_ON_STEP);
    return loss;
}

static lt_status ov_on_train_start(lt_ctx_t *ctx, void *self) {
    (void)self;
    if (mode_is(ctx, "bad_freeze")) return lt_freeze(ctx, "enc"); /* not a submodule's name */
    return mode_is(ctx, "freeze") || mode_is(ctx, "thaw") ? lt_freeze(ctx, "encoder") : LT_OK;
}

static lt_status ov_on_train_batch_start(lt_ctx_t *ctx, void *self, const lt_batch_t *b,
                                         int64_t i) {
    (void)self, (void)b, (void)i;
    if (mode_is(ctx, "thaw") && lt_global_step(ctx) == 3) return lt_unfreeze(ctx, "encoder");
    return LT_OK;
}

static lt_status ov_configure_optimizers(lt_ctx_t *ctx, void *self) {
    (void)self;
    lt_optimizer_t *opt = lt_sgd(lt_parameters(ctx), 0.1);
    lt_status st = lt_use_optimizer(ctx, opt);
    if (st != LT_OK || !mode_is(ctx, "sched")) return st;
    lt_scheduler_config cfg = LT_SCHEDULER_CONFIG(.interval = LT_INTERVAL_STEP);
    return lt_use_scheduler(ctx, lt_step_lr(opt, 1, 0.5), &cfg);
}

/* Steps the scheduler on the 1st, 3rd, 5th ... call only. */
static lt_status ov_lr_scheduler_step(lt_ctx_t *ctx, void *self, lt_scheduler_t *sch,
                                      const double *metric) {
    (void)ctx;
    overrides_t *m = self;
    m->metric_seen = metric ? 1.0 : 0.0;
    return m->sched_calls++ % 2 == 0 ? lt_scheduler_step(sch) : LT_OK;
}

static lt_status ov_configure_gradient_clipping(lt_ctx_t *ctx, void *self, lt_optimizer_t *opt,
                                                double clip_val, const char *algorithm) {
    overrides_t *m = self;
    m->clip_calls++;
    m->clip_val = clip_val;
    lt_status st = mode_is(ctx, "clip") ? lt_clip_gradients(opt, clip_val / 2, "value")
                                        : lt_clip_gradients(opt, clip_val, algorithm);
    m->grad_max = reduce_host(lt_grad(m->head->weight), MAX_ABS);
    return st;
}

LT_MODULE_EXPORT(overrides_t, .name = "overrides", .hparams = ov_hparams, .setup = ov_setup,
                 .training_step = ov_training_step, .configure_optimizers = ov_configure_optimizers,
                 .on_train_start = ov_on_train_start,
                 .on_train_batch_start = ov_on_train_batch_start,
                 .lr_scheduler_step = ov_lr_scheduler_step,
                 .configure_gradient_clipping = ov_configure_gradient_clipping);
