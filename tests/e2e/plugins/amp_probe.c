/* Test plugin for tests/e2e/test_precision.sh: a linear model on Fashion-MNIST (Adam)
 * whose loss goes wrong at one chosen optimizer step.
 *   --model.blowup_step K  the loss of step K times 1e35: still finite, but its gradients
 *                          times 16-mixed's loss scale are inf, so the GradScaler must skip
 *                          that update and halve the scale
 *   --model.nan_step K     the loss of step K (and every later one) is NaN: the host must
 *                          stop with its divergence message
 * Built a second time with -DAMP_PROBE_MANUAL as amp_probe_manual.so: the same model under
 * manual optimization (lt_manual_backward, lt_optimizer_step), as the GAN trains. */
#include <lt/lt.h>
#include <math.h>

typedef struct {
    lt_linear_t *l;
} probe_t;

static const lt_hparam_desc hparams[] = {
    LT_HPARAM_INT("blowup_step", -1, "global step whose loss is multiplied by 1e35 (-1: none)"),
    LT_HPARAM_INT("nan_step", -1, "global step from which the loss is NaN (-1: none)"),
    LT_HPARAM_END,
};

static lt_status setup(lt_ctx_t *ctx, void *self) {
    ((probe_t *)self)->l = lt_linear(ctx, "l", 28 * 28, 10);
    return lt_ok(ctx);
}

static lt_status configure_optimizers(lt_ctx_t *ctx, void *self) {
    (void)self;
    return lt_use_optimizer(ctx, lt_adam(lt_parameters(ctx), 1e-3));
}

static lt_tensor_t *probe_loss(lt_ctx_t *ctx, probe_t *m, const lt_batch_t *b) {
    lt_tensor_t *loss = lt_cross_entropy(lt_linear_forward(m->l, lt_flatten(b->x)), b->y);
    int64_t step = lt_global_step(ctx), nan_from = lt_hparam_int(ctx, "nan_step");
    if (step == lt_hparam_int(ctx, "blowup_step")) loss = lt_scale(loss, 1e35f);
    if (nan_from >= 0 && step >= nan_from) loss = lt_scale(loss, NAN);
    lt_log(ctx, "train_loss", loss, LT_LOG_PROG_BAR);
    return loss;
}

#ifdef AMP_PROBE_MANUAL
static lt_tensor_t *training_step(lt_ctx_t *ctx, void *self, const lt_batch_t *b, int64_t i) {
    (void)i;
    lt_optimizer_t *opt = lt_optimizers(ctx, 0);
    lt_tensor_t *loss = probe_loss(ctx, self, b);
    lt_optimizer_zero_grad(opt);
    if (lt_manual_backward(ctx, loss) != LT_OK || lt_optimizer_step(opt) != LT_OK) return NULL;
    return loss;
}
#define PROBE_NAME "amp_probe_manual"
#define PROBE_MANUAL true
#else
static lt_tensor_t *training_step(lt_ctx_t *ctx, void *self, const lt_batch_t *b, int64_t i) {
    (void)i;
    return probe_loss(ctx, self, b);
}
#define PROBE_NAME "amp_probe"
#define PROBE_MANUAL false
#endif

static lt_tensor_t *test_step(lt_ctx_t *ctx, void *self, const lt_batch_t *b, int64_t i) {
    (void)i;
    probe_t *m = self;
    lt_tensor_t *logits = lt_linear_forward(m->l, lt_flatten(b->x));
    lt_log(ctx, "test_acc", lt_accuracy(logits, b->y), LT_LOG_ON_EPOCH);
    return lt_cross_entropy(logits, b->y);
}

LT_MODULE_EXPORT(probe_t, .name = PROBE_NAME, .hparams = hparams, .setup = setup,
                 .configure_optimizers = configure_optimizers, .training_step = training_step,
                 .test_step = test_step, .manual_optimization = PROBE_MANUAL);
