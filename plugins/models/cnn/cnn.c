/* cnn — a small convolutional network for Fashion-MNIST, written the way a user writes
 * a LightningModule: two conv-bn-relu blocks, a max-pool, dropout, and a
 * linear-relu-dropout-linear head. BatchNorm's running statistics are buffers: saved in
 * checkpoints and used by validate/test/predict, where the host switches to eval mode
 * (which also turns dropout off). The same model in PyTorch, with the same state_dict
 * names, is CNN in tests/reference/make_layer_fixtures.py. */
#include <lt/lt.h>

typedef struct {
    lt_conv2d_t *conv1, *conv2;
    lt_batchnorm_t *bn1, *bn2;
    lt_linear_t *fc1, *fc2;
    double p; /* dropout probability */
} cnn_t;

static const lt_hparam_desc cnn_hparams[] = {
    LT_HPARAM_FLOAT("lr", 1e-3, "Adam learning rate"),
    LT_HPARAM_INT("channels1", 16, "output channels of the first convolution"),
    LT_HPARAM_INT("channels2", 32, "output channels of the second convolution"),
    LT_HPARAM_INT("hidden", 128, "width of the hidden linear layer"),
    LT_HPARAM_FLOAT("dropout", 0.25, "dropout probability after the pool and the hidden layer"),
    LT_HPARAM_END,
};

static lt_status cnn_setup(lt_ctx_t *ctx, void *self) {
    cnn_t *m = self;
    int64_t c1 = lt_hparam_int(ctx, "channels1"), c2 = lt_hparam_int(ctx, "channels2");
    /* 3x3 with padding 1: 28x28 stays 28x28. No bias: the batch norm after each
     * convolution subtracts the mean, so a bias would get only rounding noise as gradient. */
    lt_conv2d_opts same = LT_CONV2D_OPTS(.padding = {1, 1}, .no_bias = true);
    m->conv1 = lt_conv2d(ctx, "conv1", 1, c1, 3, 3, &same);
    m->bn1 = lt_batchnorm(ctx, "bn1", c1);
    m->conv2 = lt_conv2d(ctx, "conv2", c1, c2, 3, 3, &same);
    m->bn2 = lt_batchnorm(ctx, "bn2", c2);
    m->fc1 = lt_linear(ctx, "fc1", c2 * 14 * 14, lt_hparam_int(ctx, "hidden"));
    m->fc2 = lt_linear(ctx, "fc2", lt_hparam_int(ctx, "hidden"), 10);
    m->p = lt_hparam_float(ctx, "dropout");
    return lt_ok(ctx);
}

static lt_tensor_t *cnn_forward(lt_ctx_t *ctx, void *self, lt_tensor_t *x) {
    cnn_t *m = self; /* x (N, 1, 28, 28) */
    x = lt_relu(lt_batchnorm_forward(m->bn1, lt_conv2d_forward(m->conv1, x))); /* (N, c1, 28, 28) */
    x = lt_relu(lt_batchnorm_forward(m->bn2, lt_conv2d_forward(m->conv2, x))); /* (N, c2, 28, 28) */
    x = lt_dropout(ctx, lt_max_pool2d(x, &LT_POOL2D_OPTS(.kernel = {2, 2})), m->p); /* 14x14 */
    x = lt_dropout(ctx, lt_relu(lt_linear_forward(m->fc1, lt_flatten(x))), m->p); /* (N, hidden) */
    return lt_linear_forward(m->fc2, x); /* (N, 10) logits */
}

static lt_tensor_t *cnn_training_step(lt_ctx_t *ctx, void *self, const lt_batch_t *b, int64_t i) {
    (void)i;
    lt_tensor_t *loss = lt_cross_entropy(cnn_forward(ctx, self, b->x), b->y);
    lt_log(ctx, "train_loss", loss, LT_LOG_PROG_BAR | LT_LOG_ON_STEP | LT_LOG_ON_EPOCH);
    return loss;
}

static lt_tensor_t *evaluate(lt_ctx_t *ctx, void *self, const lt_batch_t *b, const char *loss_name,
                             const char *acc_name) {
    lt_tensor_t *logits = cnn_forward(ctx, self, b->x);
    lt_tensor_t *loss = lt_cross_entropy(logits, b->y);
    lt_log(ctx, loss_name, loss, LT_LOG_PROG_BAR | LT_LOG_ON_EPOCH | LT_LOG_SYNC_DIST);
    lt_log(ctx, acc_name, lt_accuracy(logits, b->y),
           LT_LOG_PROG_BAR | LT_LOG_ON_EPOCH | LT_LOG_SYNC_DIST);
    return loss;
}

static lt_tensor_t *cnn_validation_step(lt_ctx_t *ctx, void *self, const lt_batch_t *b, int64_t i) {
    (void)i;
    return evaluate(ctx, self, b, "val_loss", "val_acc");
}

static lt_tensor_t *cnn_test_step(lt_ctx_t *ctx, void *self, const lt_batch_t *b, int64_t i) {
    (void)i;
    return evaluate(ctx, self, b, "test_loss", "test_acc");
}

static lt_status cnn_configure_optimizers(lt_ctx_t *ctx, void *self) {
    (void)self;
    return lt_use_optimizer(ctx, lt_adam(lt_parameters(ctx), lt_hparam_float(ctx, "lr")));
}

LT_MODULE_EXPORT(cnn_t, .name = "cnn", .hparams = cnn_hparams, .setup = cnn_setup,
                 .forward = cnn_forward, .training_step = cnn_training_step,
                 .validation_step = cnn_validation_step, .test_step = cnn_test_step,
                 .configure_optimizers = cnn_configure_optimizers)
