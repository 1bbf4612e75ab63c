/* Test module for ONNX export (tests/e2e/test_export.sh, tests/reference/check_onnx.py):
 * a forward through every op the exporter maps, on x (N, 2, 8, 8). --model.mode picks:
 *   mapped    every mapped op (conv with "same" and strided/grouped/dilated windows,
 *             batch_norm eval, layer_norm, the pools with ceil_mode and padding, gelu,
 *             tanh, sigmoid, silu, leaky_relu, exp, ln, sqrt, softmax, log_softmax,
 *             sum/mean, 3-D linear, matmul, scale/add_scalar/neg, sub/div)
 *   unmapped  ends in lt_cross_entropy, which has no ONNX mapping
 *   detach    goes through lt_detach, which the tape does not record
 * training_step: the mean square of the output, so that fit moves every weight. */
#include <string.h>

#include <lt/lt.h>

typedef struct zoo {
    lt_conv2d_t *conv1, *conv2;
    lt_batchnorm_t *bn;
    lt_linear_t *fc; /* (6 -> 6), applied to (N, 4, 6) */
    lt_tensor_t *ln_w, *ln_b, *proj;
    const char *mode;
} zoo_t;

static const lt_hparam_desc zoo_hparams[] = {
    LT_HPARAM_CHOICE("mode", "mapped", "mapped|unmapped|detach", "which forward to run"),
    LT_HPARAM_END,
};

static lt_status zoo_setup(lt_ctx_t *ctx, void *self) {
    zoo_t *z = self;
    z->mode = lt_hparam_str(ctx, "mode");
    z->conv1 = lt_conv2d(ctx, "conv1", 2, 4, 2, 2, &LT_CONV2D_OPTS(.padding_same = true));
    z->conv2 = lt_conv2d(
        ctx, "conv2", 4, 4, 3, 3,
        &LT_CONV2D_OPTS(.stride = {2, 1}, .padding = {1, 2}, .dilation = {1, 2}, .groups = 2));
    z->bn = lt_batchnorm(ctx, "bn", 4);
    z->fc = lt_linear(ctx, "fc", 6, 6);
    const int64_t six[1] = {6}, proj[2] = {6, 5};
    z->ln_w = lt_param(ctx, "ln.weight", 1, six, (lt_init){LT_INIT_UNIFORM, 0.5, 1.5});
    z->ln_b = lt_param(ctx, "ln.bias", 1, six, (lt_init){LT_INIT_UNIFORM, -0.5, 0.5});
    z->proj = lt_param(ctx, "proj", 2, proj, (lt_init){LT_INIT_NORMAL, 0.0, 0.5});
    return lt_ok(ctx);
}

/* (N, 4, 4, 8) -> (N, 4, 2, 3) through the pools. */
static lt_tensor_t *pools(lt_tensor_t *x) {
    lt_tensor_t *mx = lt_max_pool2d(x, &LT_POOL2D_OPTS(.kernel = {3, 3}, .stride = {2, 2},
                                                       .padding = {1, 1}, .ceil_mode = true));
    lt_tensor_t *av = lt_avg_pool2d(mx, &LT_POOL2D_OPTS(.kernel = {2, 2}, .stride = {1, 1},
                                                        .padding = {1, 1}, .exclude_pad = true));
    lt_tensor_t *ad = lt_adaptive_avg_pool2d(av, 2, 3);
    lt_tensor_t *g = lt_adaptive_avg_pool2d(ad, 1, 1); /* (N, 4, 1, 1), broadcast back */
    return lt_add(ad, lt_scale(g, 0.5f));
}

static lt_tensor_t *zoo_forward(lt_ctx_t *ctx, void *self, lt_tensor_t *x) {
    zoo_t *z = self;
    x = lt_gelu(lt_conv2d_forward(z->conv1, x));                     /* (N, 4, 8, 8) */
    x = lt_batchnorm_forward(z->bn, lt_conv2d_forward(z->conv2, x)); /* (N, 4, 4, 8) */
    x = lt_add(lt_tanh(x), lt_scale(lt_sigmoid(x), 0.5f));
    x = lt_sub(lt_silu(x), lt_leaky_relu(lt_neg(x), 0.1));
    if (!strcmp(z->mode, "detach")) x = lt_detach(x);
    x = pools(x); /* (N, 4, 2, 3) */
    int64_t n = lt_dim(x, 0), s3[3] = {n, 4, 6}, six[1] = {6};
    x = lt_linear_forward(z->fc, lt_reshape(x, 3, s3)); /* (N, 4, 6) */
    x = lt_layer_norm(x, 1, six, z->ln_w, z->ln_b, 1e-5);
    lt_tensor_t *pos = lt_add_scalar(lt_exp(lt_scale(x, 0.25f)), 1.0f);
    x = lt_add(lt_ln(pos), lt_div(lt_sqrt(pos), lt_add_scalar(lt_mean_dim(pos, 1, true), 2.0f)));
    x = lt_add(x, lt_sum_dim(x, 2, true));
    int64_t p2[2] = {n * 4, 6};
    x = lt_matmul(lt_reshape(x, 2, p2), z->proj); /* (N*4, 5) */
    x = lt_reshape(x, 3, (int64_t[]){n, 4, 5});
    x = lt_add(lt_softmax(x), lt_scale(lt_log_softmax(x), 0.1f));
    x = lt_add(x, lt_mean(x));
    if (strcmp(z->mode, "unmapped")) return x;
    int64_t rows = 4 * n, flat[2] = {rows, 5};
    lt_tensor_t *labels = lt_zeros(lt_ctx_arena(ctx), LT_I64, 1, &rows);
    return lt_cross_entropy(lt_reshape(x, 2, flat), labels);
}

static lt_tensor_t *zoo_training_step(lt_ctx_t *ctx, void *self, const lt_batch_t *b,
                                      int64_t batch_idx) {
    (void)batch_idx;
    lt_tensor_t *y = zoo_forward(ctx, self, b->x);
    return lt_mean(lt_mul(y, y));
}

static lt_status zoo_configure_optimizers(lt_ctx_t *ctx, void *self) {
    (void)self;
    return lt_use_optimizer(ctx, lt_adam(lt_parameters(ctx), 1e-2));
}

LT_MODULE_EXPORT(zoo_t, .name = "onnx_ops", .hparams = zoo_hparams, .setup = zoo_setup,
                 .forward = zoo_forward, .training_step = zoo_training_step,
                 .configure_optimizers = zoo_configure_optimizers);
