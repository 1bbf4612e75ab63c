/* Test module for ONNX export (tests/e2e/test_export.sh, tests/reference/check_onnx.py):
 * a forward through every op the exporter maps, on x (N, 2, 8, 8). --model.mode picks:
 *   mapped    every mapped op (conv with "same" and strided/grouped/dilated windows,
 *             batch_norm eval, layer_norm, the pools with ceil_mode and padding, gelu,
 *             tanh, sigmoid, silu, leaky_relu, exp, ln, sqrt, softmax, log_softmax,
 *             sum/mean, 3-D linear, matmul, scale/add_scalar/neg, sub/div; and issue
 *             #19's: conv_transpose2d (output_padding, groups, dilation), group_norm,
 *             narrow/split, permute/transpose, cat, stack, index_select, gather,
 *             embedding, batched matmul (lt_matmul on 3-D), scaled_dot_product_attention (causal:
 *             masked_fill), clamp, pow, rsqrt, softplus, logsigmoid)
 *   unmapped  ends in lt_cross_entropy, which has no ONNX mapping
 *   detach    goes through lt_detach, which the tape does not record
 *   one_hot   int64 labels x (N, 6) in [0, 8): one_hot, then a matmul by emb.weight and
 *             fc, (N, 6, 6) (export with --input_dtype int64)
 * training_step: the mean square of the output, so that fit moves every weight. */
#include <math.h>
#include <string.h>

#include <lt/lt.h>

typedef struct zoo {
    lt_conv2d_t *conv1, *conv2;
    lt_batchnorm_t *bn;
    lt_linear_t *fc; /* (6 -> 6), applied to (N, 4, 6) */
    lt_tensor_t *ln_w, *ln_b, *proj;
    lt_conv_transpose2d_t *up; /* 4 -> 4, groups 2, stride 2, output_padding, dilation */
    lt_tensor_t *gn_w, *gn_b;  /* group_norm (4) */
    lt_tensor_t *emb, *mix;    /* an embedding table (8, 6), a (6, 6) batch-matmul weight */
    const char *mode;
} zoo_t;

static const lt_hparam_desc zoo_hparams[] = {
    LT_HPARAM_CHOICE("mode", "mapped", "mapped|unmapped|detach|one_hot", "which forward to run"),
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
    z->up = lt_conv_transpose2d(ctx, "up", 4, 4, 3, 3,
                                &LT_CONV_TRANSPOSE2D_OPTS(.stride = {2, 2}, .padding = {1, 1},
                                                          .output_padding = {1, 0},
                                                          .dilation = {1, 2}, .groups = 2));
    const int64_t four[1] = {4}, emb[2] = {8, 6}, mix[2] = {6, 6};
    z->gn_w = lt_param(ctx, "gn.weight", 1, four, (lt_init){LT_INIT_UNIFORM, 0.5, 1.5});
    z->gn_b = lt_param(ctx, "gn.bias", 1, four, (lt_init){LT_INIT_UNIFORM, -0.5, 0.5});
    z->emb = lt_param(ctx, "emb.weight", 2, emb, (lt_init){LT_INIT_NORMAL, 0.0, 0.5});
    z->mix = lt_param(ctx, "mix", 2, mix, (lt_init){LT_INIT_NORMAL, 0.0, 0.4});
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

/* (N, 4, 2, 3) -> the same, through conv_transpose2d to (N, 4, 4, 7), group_norm,
 * narrow to (N, 4, 4, 6) and a max pool. */
static lt_tensor_t *upsampled(zoo_t *z, lt_tensor_t *x) {
    lt_tensor_t *u = lt_conv_transpose2d_forward(z->up, x);
    u = lt_narrow(lt_group_norm(u, 2, z->gn_w, z->gn_b, 1e-5), 3, 0, 6);
    return lt_add(x, lt_max_pool2d(u, &LT_POOL2D_OPTS(.kernel = {2, 2}, .stride = {2, 2})));
}

/* int64 constants of the forward. */
static lt_tensor_t *ids(lt_ctx_t *ctx, int ndim, const int64_t *shape, const int64_t *v) {
    return lt_from_host(lt_ctx_arena(ctx), LT_I64, ndim, shape, v);
}

/* (N, 4, 6) -> the same, through the layout, indexing and attention ops. */
static lt_tensor_t *shuffled(lt_ctx_t *ctx, zoo_t *z, lt_tensor_t *x) {
    lt_tensor_t *p[3];
    if (lt_split_tensor(x, 2, 2, p, 3) != 3) return NULL; /* three (N, 4, 2) */
    lt_tensor_t *order[3] = {p[2], p[0], p[1]};
    lt_tensor_t *y = lt_cat(3, order, 2);                            /* (N, 4, 6) */
    lt_tensor_t *st = lt_stack(2, (lt_tensor_t *[]){p[0], p[1]}, 1); /* (N, 2, 4, 2) */
    st = lt_reshape(lt_permute(st, (int[]){0, 2, 1, 3}), 3, (int64_t[]){lt_dim(x, 0), 4, 4});
    y = lt_add(y, lt_cat(2, (lt_tensor_t *[]){st, p[2]}, 2));
    static const int64_t rev[6] = {5, 4, 3, 2, 1, 0}, rows[4] = {3, 0, 7, 1};
    static const int64_t cols[12] = {1, 0, 5, 2, 3, 4, 0, 0, 1, 5, 5, 2};
    y = lt_add(y, lt_index_select(x, 2, ids(ctx, 1, (int64_t[]){6}, rev)));
    y = lt_add(y, lt_embedding_op(ids(ctx, 1, (int64_t[]){4}, rows), z->emb, LT_NO_PADDING_IDX));
    lt_tensor_t *g = lt_gather(z->mix, 0, ids(ctx, 2, (int64_t[]){2, 6}, cols)); /* (2, 6) */
    lt_tensor_t *w = lt_cat(3, (lt_tensor_t *[]){g, lt_narrow(z->mix, 0, 0, 2), g}, 0);
    y = lt_matmul(y, lt_reshape(lt_narrow(w, 0, 0, 6), 3, (int64_t[]){1, 6, 6}));
    lt_tensor_t *att = lt_scaled_dot_product_attention(y, lt_scale(y, 0.5f),
                                                       lt_transpose(lt_transpose(x, 1, 2), 1, 2),
                                                       &LT_SDPA_OPTS(.is_causal = true));
    return lt_add(y, att);
}

/* (N, 4, 6) -> the same, through the pointwise ops. */
static lt_tensor_t *pointwise(lt_tensor_t *x) {
    lt_tensor_t *pos = lt_add_scalar(lt_softplus(x, 1.0, 20.0), 0.5f);
    lt_tensor_t *y = lt_add(lt_clamp(x, -1.5, 1.5), lt_clamp(x, -INFINITY, 0.5));
    y = lt_add(y, lt_mul(lt_pow(pos, 1.5), lt_rsqrt(pos)));
    y = lt_add(y, lt_scale(lt_pow(lt_clamp(x, 0.0, INFINITY), 2.0), 0.1f));
    return lt_add(y, lt_logsigmoid(x));
}

/* one_hot mode: labels (N, 6) -> (N, 6, 8) -> (N, 6, 6). */
static lt_tensor_t *one_hot_forward(zoo_t *z, lt_tensor_t *labels) {
    return lt_linear_forward(z->fc, lt_matmul(lt_one_hot(labels, 8), z->emb));
}

static lt_tensor_t *zoo_forward(lt_ctx_t *ctx, void *self, lt_tensor_t *x) {
    zoo_t *z = self;
    if (!strcmp(z->mode, "one_hot")) return one_hot_forward(z, x);
    x = lt_gelu(lt_conv2d_forward(z->conv1, x));                     /* (N, 4, 8, 8) */
    x = lt_batchnorm_forward(z->bn, lt_conv2d_forward(z->conv2, x)); /* (N, 4, 4, 8) */
    x = lt_add(lt_tanh(x), lt_scale(lt_sigmoid(x), 0.5f));
    x = lt_sub(lt_silu(x), lt_leaky_relu(lt_neg(x), 0.1));
    if (!strcmp(z->mode, "detach")) x = lt_detach(x);
    x = upsampled(z, pools(x)); /* (N, 4, 2, 3) */
    int64_t n = lt_dim(x, 0), s3[3] = {n, 4, 6}, six[1] = {6};
    x = lt_linear_forward(z->fc, lt_reshape(x, 3, s3)); /* (N, 4, 6) */
    x = lt_layer_norm(x, 1, six, z->ln_w, z->ln_b, 1e-5);
    x = pointwise(shuffled(ctx, z, x));
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
