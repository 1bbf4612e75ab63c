/* Test plugin: an MLP whose activation is the custom op swish_beta (a learnable beta) and
 * whose inputs can be quantised by the custom op round_ste (custom_ops_example.h):
 * tests/e2e/test_custom_op.sh trains it. */
#include <string.h>

#include "custom_ops_example.h"

typedef struct {
    lt_linear_t *l1, *l2;
    lt_tensor_t *beta; /* (1): swish_beta's beta, a parameter "act.beta" */
} custom_mlp_t;

static const lt_hparam_desc custom_hparams[] = {
    LT_HPARAM_FLOAT("lr", 1e-3, "learning rate (Adam)"),
    LT_HPARAM_INT("hidden", 64, "width of the hidden layer"),
    LT_HPARAM_INT("levels", 0, "> 0: quantise the inputs to this many levels with round_ste"),
    LT_HPARAM_END,
};

static lt_status custom_setup(lt_ctx_t *ctx, void *self) {
    custom_mlp_t *m = self;
    int64_t h = lt_hparam_int(ctx, "hidden"), one = 1;
    m->l1 = lt_linear(ctx, "l1", 28 * 28, h);
    m->beta = lt_param(ctx, "act.beta", 1, &one, LT_INIT_ONES);
    m->l2 = lt_linear(ctx, "l2", h, 10);
    return lt_ok(ctx);
}

static lt_tensor_t *custom_forward(lt_ctx_t *ctx, void *self, lt_tensor_t *x) {
    custom_mlp_t *m = self;
    int64_t levels = lt_hparam_int(ctx, "levels");
    x = lt_flatten(x);
    if (levels > 0) /* round(x * levels) / levels, gradient straight through */
        x = lt_scale(round_ste(lt_scale(x, (float)levels)), 1.0f / (float)levels);
    x = swish_beta(lt_linear_forward(m->l1, x), m->beta);
    return lt_linear_forward(m->l2, x);
}

static lt_tensor_t *custom_training_step(lt_ctx_t *ctx, void *self, const lt_batch_t *b,
                                         int64_t i) {
    (void)i;
    custom_mlp_t *m = self;
    lt_tensor_t *loss = lt_cross_entropy(custom_forward(ctx, self, b->x), b->y);
    lt_log(ctx, "train_loss", loss, LT_LOG_ON_STEP);
    lt_log(ctx, "beta", m->beta, LT_LOG_ON_STEP);
    return loss;
}

static lt_tensor_t *custom_eval_step(lt_ctx_t *ctx, void *self, const lt_batch_t *b, int64_t i) {
    (void)i;
    lt_tensor_t *logits = custom_forward(ctx, self, b->x);
    lt_tensor_t *loss = lt_cross_entropy(logits, b->y);
    bool test = !strcmp(lt_stage(ctx), "test");
    lt_log(ctx, test ? "test_loss" : "val_loss", loss, LT_LOG_ON_EPOCH | LT_LOG_PROG_BAR);
    lt_log(ctx, test ? "test_acc" : "val_acc", lt_accuracy(logits, b->y), LT_LOG_ON_EPOCH);
    return loss;
}

static lt_status custom_configure_optimizers(lt_ctx_t *ctx, void *self) {
    (void)self;
    return lt_use_optimizer(ctx, lt_adam(lt_parameters(ctx), lt_hparam_float(ctx, "lr")));
}

LT_MODULE_EXPORT(custom_mlp_t, .name = "custom_op_model", .hparams = custom_hparams,
                 .setup = custom_setup, .forward = custom_forward,
                 .training_step = custom_training_step, .validation_step = custom_eval_step,
                 .test_step = custom_eval_step,
                 .configure_optimizers = custom_configure_optimizers);
