/* tabular — a model for a table of numbers (the csv and npy data plugins): logistic or
 * linear regression with --model.hidden 0, else an MLP with one hidden ReLU layer.
 * classification: cross-entropy over --model.out_features classes, with accuracy;
 * regression: mean squared error against --model.out_features float targets. */
#include <lt/lt.h>
#include <stdio.h>
#include <string.h>

typedef struct {
    lt_linear_t *hidden, *out; /* hidden is NULL for a linear model */
    bool classify;
} tabular_t;

static const lt_hparam_desc tabular_hparams[] = {
    LT_HPARAM_INT("in_features", 0, "features per sample (the data's columns but the target)"),
    LT_HPARAM_INT("out_features", 2, "classes (classification) or targets per sample"),
    LT_HPARAM_INT("hidden", 64, "width of the hidden layer; 0: logistic / linear regression"),
    LT_HPARAM_CHOICE("task", "classification", "classification|regression",
                     "cross-entropy on class indices, or mean squared error on values"),
    LT_HPARAM_FLOAT("lr", 1e-2, "learning rate (Adam)"),
    LT_HPARAM_FLOAT("x_divisor", 1,
                    "inputs that are not float32 (uint8 pixels, float16: --data.x_dtype keep) "
                    "become float32 / x_divisor on the device; 255 for pixels"),
    LT_HPARAM_END,
};

static lt_status tabular_setup(lt_ctx_t *ctx, void *self) {
    tabular_t *m = self;
    int64_t in = lt_hparam_int(ctx, "in_features"), out = lt_hparam_int(ctx, "out_features");
    int64_t hidden = lt_hparam_int(ctx, "hidden");
    if (in < 1 || out < 1 || hidden < 0)
        return lt_set_error(LT_ERR_INVALID_ARG,
                            "tabular: --model.in_features %lld and --model.out_features %lld "
                            "must be >= 1 and --model.hidden %lld >= 0 (in_features: the "
                            "data's feature columns)",
                            (long long)in, (long long)out, (long long)hidden);
    m->classify = !strcmp(lt_hparam_str(ctx, "task"), "classification");
    if (hidden > 0) m->hidden = lt_linear(ctx, "hidden", in, hidden);
    m->out = lt_linear(ctx, "out", hidden > 0 ? hidden : in, out);
    return lt_ok(ctx);
}

static lt_tensor_t *tabular_forward(lt_ctx_t *ctx, void *self, lt_tensor_t *x) {
    tabular_t *m = self;
    if (x && lt_dtype_of(x) != LT_F32) x = lt_to_f32(x, (float)lt_hparam_float(ctx, "x_divisor"));
    x = lt_flatten(x); /* (N, ...) -> (N, in_features) */
    if (m->hidden) x = lt_relu(lt_linear_forward(m->hidden, x));
    return lt_linear_forward(m->out, x); /* (N, out_features) */
}

/* The loss of a batch; a regression target of one value per sample is (N), the output
 * (N, 1): compare them as (N). */
static lt_tensor_t *loss_of(const tabular_t *m, lt_tensor_t *out, const lt_batch_t *b) {
    if (m->classify) return lt_cross_entropy(out, b->y);
    if (out && lt_ndim(b->y) == 1) out = lt_reshape(out, 1, (int64_t[]){b->size});
    return lt_mse_loss(out, b->y);
}

static lt_tensor_t *tabular_training_step(lt_ctx_t *ctx, void *self, const lt_batch_t *b,
                                          int64_t i) {
    (void)i;
    lt_tensor_t *loss = loss_of(self, tabular_forward(ctx, self, b->x), b);
    lt_log(ctx, "train_loss", loss, LT_LOG_PROG_BAR | LT_LOG_ON_STEP | LT_LOG_ON_EPOCH);
    return loss;
}

static lt_tensor_t *evaluate(lt_ctx_t *ctx, tabular_t *m, const lt_batch_t *b, const char *prefix) {
    char name[32];
    lt_tensor_t *out = tabular_forward(ctx, m, b->x), *loss = loss_of(m, out, b);
    int flags = LT_LOG_PROG_BAR | LT_LOG_ON_EPOCH | LT_LOG_SYNC_DIST;
    snprintf(name, sizeof name, "%s_loss", prefix);
    lt_log(ctx, name, loss, flags);
    if (m->classify) {
        snprintf(name, sizeof name, "%s_acc", prefix);
        lt_log(ctx, name, lt_accuracy(out, b->y), flags);
    }
    return loss;
}

static lt_tensor_t *tabular_validation_step(lt_ctx_t *ctx, void *self, const lt_batch_t *b,
                                            int64_t i) {
    (void)i;
    return evaluate(ctx, self, b, "val");
}

static lt_tensor_t *tabular_test_step(lt_ctx_t *ctx, void *self, const lt_batch_t *b, int64_t i) {
    (void)i;
    return evaluate(ctx, self, b, "test");
}

static lt_status tabular_configure_optimizers(lt_ctx_t *ctx, void *self) {
    (void)self;
    return lt_use_optimizer(ctx, lt_adam(lt_parameters(ctx), lt_hparam_float(ctx, "lr")));
}

LT_MODULE_EXPORT(tabular_t, .name = "tabular", .hparams = tabular_hparams, .setup = tabular_setup,
                 .forward = tabular_forward, .training_step = tabular_training_step,
                 .validation_step = tabular_validation_step, .test_step = tabular_test_step,
                 .configure_optimizers = tabular_configure_optimizers)
