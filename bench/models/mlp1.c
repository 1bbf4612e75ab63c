/* mlp1 — the benchmark's small MLP, 784-H-10 with ReLU and Adam, the same network as
 * bench/contenders.py builds in PyTorch. Built by bench/run against the build tree. */
#include <lt/lt.h>

typedef struct {
    lt_linear_t *l1, *l2;
} mlp1_t;

static const lt_hparam_desc mlp1_hparams[] = {
    LT_HPARAM_FLOAT("lr", 1e-3, "Adam learning rate"),
    LT_HPARAM_INT("hidden", 128, "hidden units"),
    LT_HPARAM_END,
};

static lt_status mlp1_setup(lt_ctx_t *ctx, void *self) {
    mlp1_t *m = self;
    m->l1 = lt_linear(ctx, "l1", 784, lt_hparam_int(ctx, "hidden"));
    m->l2 = lt_linear(ctx, "l2", lt_hparam_int(ctx, "hidden"), 10);
    return lt_ok(ctx);
}

static lt_tensor_t *mlp1_forward(mlp1_t *m, lt_tensor_t *x) {
    return lt_linear_forward(m->l2, lt_relu(lt_linear_forward(m->l1, lt_flatten(x))));
}

static lt_tensor_t *mlp1_training_step(lt_ctx_t *ctx, void *self, const lt_batch_t *b, int64_t i) {
    (void)i;
    lt_tensor_t *loss = lt_cross_entropy(mlp1_forward(self, b->x), b->y);
    lt_log(ctx, "train_loss", loss, LT_LOG_ON_EPOCH);
    return loss;
}

/* The 784-500-10 row reports its test accuracy after training (#20). */
static lt_tensor_t *mlp1_test_step(lt_ctx_t *ctx, void *self, const lt_batch_t *b, int64_t i) {
    (void)i;
    lt_tensor_t *logits = mlp1_forward(self, b->x);
    lt_log(ctx, "test_acc", lt_accuracy(logits, b->y), LT_LOG_ON_EPOCH);
    return lt_cross_entropy(logits, b->y);
}

static lt_status mlp1_configure_optimizers(lt_ctx_t *ctx, void *self) {
    (void)self;
    return lt_use_optimizer(ctx, lt_adam(lt_parameters(ctx), lt_hparam_float(ctx, "lr")));
}

LT_MODULE_EXPORT(mlp1_t, .name = "mlp1", .hparams = mlp1_hparams, .setup = mlp1_setup,
                 .training_step = mlp1_training_step, .test_step = mlp1_test_step,
                 .configure_optimizers = mlp1_configure_optimizers)
