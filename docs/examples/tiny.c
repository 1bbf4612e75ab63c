/* tiny — a model built outside the lthost tree, against the installed SDK:
 *
 *   cc -shared -fPIC tiny.c $(pkg-config --cflags --libs lt) -o tiny.so
 *   lthost fit --module ./tiny.so --max_epochs 1
 *
 * A 784-64-10 perceptron with GELU, trained with SGD + momentum. */
#include <lt/lt.h>

typedef struct {
    lt_linear_t *hidden, *out;
} tiny_t;

static const lt_hparam_desc tiny_hparams[] = {
    LT_HPARAM_FLOAT("lr", 0.05, "SGD learning rate"),
    LT_HPARAM_FLOAT("momentum", 0.9, "SGD momentum"),
    LT_HPARAM_INT("width", 64, "hidden units"),
    LT_HPARAM_END,
};

static lt_status tiny_setup(lt_ctx_t *ctx, void *self) {
    tiny_t *m = self;
    m->hidden = lt_linear(ctx, "hidden", 784, lt_hparam_int(ctx, "width"));
    m->out = lt_linear(ctx, "out", lt_hparam_int(ctx, "width"), 10);
    return lt_ok(ctx);
}

static lt_tensor_t *tiny_forward(lt_ctx_t *ctx, void *self, lt_tensor_t *x) {
    (void)ctx;
    tiny_t *m = self;
    return lt_linear_forward(m->out, lt_gelu(lt_linear_forward(m->hidden, lt_flatten(x))));
}

static lt_tensor_t *tiny_training_step(lt_ctx_t *ctx, void *self, const lt_batch_t *b, int64_t i) {
    (void)i;
    lt_tensor_t *loss = lt_cross_entropy(tiny_forward(ctx, self, b->x), b->y);
    lt_log(ctx, "train_loss", loss, LT_LOG_ON_EPOCH);
    return loss;
}

static lt_tensor_t *tiny_validation_step(lt_ctx_t *ctx, void *self, const lt_batch_t *b,
                                         int64_t i) {
    (void)i;
    lt_tensor_t *logits = tiny_forward(ctx, self, b->x);
    lt_log(ctx, "val_acc", lt_accuracy(logits, b->y), LT_LOG_ON_EPOCH);
    return NULL;
}

static lt_status tiny_configure_optimizers(lt_ctx_t *ctx, void *self) {
    (void)self;
    return lt_use_optimizer(ctx, lt_sgd_ex(lt_parameters(ctx), lt_hparam_float(ctx, "lr"),
                                           lt_hparam_float(ctx, "momentum"), 0.0, 0.0, false));
}

LT_MODULE_EXPORT(tiny_t, .name = "tiny", .hparams = tiny_hparams, .setup = tiny_setup,
                 .forward = tiny_forward, .training_step = tiny_training_step,
                 .validation_step = tiny_validation_step,
                 .configure_optimizers = tiny_configure_optimizers)
