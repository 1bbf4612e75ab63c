/* The layer ops (conv2d, pools, batch_norm, layer_norm) against PyTorch — the fixture
 * tests/fixtures/layers.safetensors of tests/reference/make_layer_fixtures.py — on every
 * accelerator present, and against finite differences of their own forward; then 20
 * training steps of the cnn plugin against torch's (cnn_train.safetensors). */
#include <jansson.h>
#include <math.h>
#include <string.h>

#include <lt/runtime.h>

#include "test_fd.h"
#include "test_fixture.h"

/* ---- options from the case's JSON -------------------------------------------------- */

static int64_t jint(const json_t *o, const char *key, int k, int64_t def) {
    const json_t *v = json_object_get(o, key);
    if (json_is_array(v)) return json_integer_value(json_array_get(v, (size_t)k));
    return json_is_integer(v) ? json_integer_value(v) : def;
}
static bool jbool(const json_t *o, const char *key, bool def) {
    const json_t *v = json_object_get(o, key);
    return v ? json_is_true(v) : def;
}
static double jreal(const json_t *o, const char *key) {
    return json_number_value(json_object_get(o, key));
}

static lt_tensor_t *run_conv(const json_t *o, lt_tensor_t **in) {
    lt_conv2d_opts c = LT_CONV2D_OPTS(.groups = jint(o, "groups", 0, 1));
    for (int k = 0; k < 2; k++) {
        c.stride[k] = jint(o, "stride", k, 1);
        c.padding[k] = jint(o, "padding", k, 0);
        c.dilation[k] = jint(o, "dilation", k, 1);
    }
    c.padding_same = json_is_string(json_object_get(o, "padding"));
    return lt_conv2d_op(in[0], in[1], in[2], &c);
}

static lt_tensor_t *run_pool(const json_t *o, lt_tensor_t **in, bool max) {
    lt_pool2d_opts p = LT_POOL2D_OPTS(.ceil_mode = jbool(o, "ceil_mode", false),
                                      .exclude_pad = !jbool(o, "count_include_pad", true));
    for (int k = 0; k < 2; k++) {
        p.kernel[k] = jint(o, "kernel_size", k, 0);
        p.stride[k] = jint(o, "stride", k, 0);
        p.padding[k] = jint(o, "padding", k, 0);
        p.dilation[k] = jint(o, "dilation", k, 1);
    }
    return max ? lt_max_pool2d(in[0], &p) : lt_avg_pool2d(in[0], &p);
}

static lt_tensor_t *run_layer_norm(const json_t *o, lt_tensor_t **in) {
    const json_t *ns = json_object_get(o, "normalized_shape");
    int64_t shape[LT_MAX_DIMS];
    int n = (int)json_array_size(ns);
    for (int k = 0; k < n; k++) shape[k] = json_integer_value(json_array_get(ns, (size_t)k));
    return lt_layer_norm(in[0], n, shape, in[1], in[2], jreal(o, "eps"));
}

/* The case's op on its inputs (missing inputs NULL). */
static lt_tensor_t *run_case(const char *c, const json_t *o, lt_tensor_t **in) {
    if (!strncmp(c, "conv2d/", 7)) return run_conv(o, in);
    if (!strncmp(c, "max_pool2d/", 11)) return run_pool(o, in, true);
    if (!strncmp(c, "avg_pool2d/", 11)) return run_pool(o, in, false);
    if (!strncmp(c, "adaptive_avg_pool2d/", 20))
        return lt_adaptive_avg_pool2d(in[0], jint(o, "output_size", 0, 0),
                                      jint(o, "output_size", 1, 0));
    if (!strncmp(c, "batch_norm/", 11))
        return lt_batch_norm(in[0], in[1], in[2], in[3], in[4], jbool(o, "training", false),
                             jreal(o, "momentum"), jreal(o, "eps"));
    if (!strncmp(c, "layer_norm/", 11)) return run_layer_norm(o, in);
    if (!strncmp(c, "silu/", 5)) return lt_silu(in[0]);
    if (!strncmp(c, "leaky_relu/", 11)) return lt_leaky_relu(in[0], jreal(o, "negative_slope"));
    ck_abort_msg("unknown case %s", c);
    return NULL;
}

/* ---- fixture cases ------------------------------------------------------------------ */

#define MAX_IN 5

/* Normalisation divides by a float32 standard deviation computed in another order than
 * torch's, so its outputs and gradients agree to a few ulps, not to 1e-5 of tiny values. */
static void check_case(lt_st_file_t *f, const char *c, lt_arena_t *arena) {
    json_t *o = json_loads(lt_st_meta(f, c), 0, NULL);
    ck_assert_msg(o != NULL, "case %s has no options", c);
    lt_tensor_t *in[MAX_IN];
    test_case_inputs(f, c, arena, MAX_IN, in);
    bool norm = strstr(c, "_norm/") != NULL;
    double rtol = norm ? 1e-4 : 1e-5, atol = norm ? 1e-5 : 1e-6;
    test_case_check(f, c, arena, run_case(c, o, in), MAX_IN, in,
                    (test_case_tol){rtol, atol, rtol, norm ? 1e-4 : atol});
    if (test_fixture_find(f, c, "running_mean")) {
        test_compare("running_mean", in[1], test_fixture_find(f, c, "running_mean"), 1e-5, 1e-6);
        test_compare("running_var", in[2], test_fixture_find(f, c, "running_var"), 1e-5, 1e-6);
    }
    json_decref(o);
}

START_TEST(layer_ops_match_torch) {
    lt_device_t *dev = test_open_accel(_i, "layers");
    if (!dev) return;
    test_fixture_each_case(dev, "layers.safetensors", "cases", 25, check_case);
    lt_device_close(dev);
}
END_TEST

/* ---- finite differences ----------------------------------------------------------------- */

static lt_tensor_t *fd_conv(lt_tensor_t **in) {
    lt_conv2d_opts o =
        LT_CONV2D_OPTS(.stride = {2, 1}, .padding = {1, 2}, .dilation = {1, 2}, .groups = 2);
    return lt_conv2d_op(in[0], in[1], in[2], &o);
}
static lt_tensor_t *fd_conv_same(lt_tensor_t **in) {
    lt_conv2d_opts o = LT_CONV2D_OPTS(.padding_same = true);
    return lt_conv2d_op(in[0], in[1], NULL, &o);
}
static lt_tensor_t *fd_max_pool(lt_tensor_t **in) {
    return lt_max_pool2d(in[0], &LT_POOL2D_OPTS(.kernel = {3, 2}, .stride = {2, 1},
                                                .padding = {1, 1}, .dilation = {1, 2}));
}
static lt_tensor_t *fd_avg_pool(lt_tensor_t **in) {
    return lt_avg_pool2d(in[0],
                         &LT_POOL2D_OPTS(.kernel = {3, 3}, .stride = {2, 2}, .padding = {1, 1},
                                         .ceil_mode = true, .exclude_pad = true));
}
static lt_tensor_t *fd_adaptive(lt_tensor_t **in) { return lt_adaptive_avg_pool2d(in[0], 3, 2); }
static lt_tensor_t *fd_batch_norm(lt_tensor_t **in) {
    return lt_batch_norm(in[0], NULL, NULL, in[1], in[2], true, 0.1, 1e-5);
}
static lt_tensor_t *fd_layer_norm(lt_tensor_t **in) {
    return lt_layer_norm(in[0], 1, (int64_t[]){5}, in[1], in[2], 1e-5);
}

static lt_tensor_t *fd_silu(lt_tensor_t **in) { return lt_silu(in[0]); }
static lt_tensor_t *fd_leaky_relu(lt_tensor_t **in) { return lt_leaky_relu(in[0], 0.2); }
/* Eval mode: the running statistics (constants here) normalise, not the batch's. */
static lt_tensor_t *fd_batch_norm_eval(lt_tensor_t **in) {
    static const float mean[2] = {0.3f, -0.2f}, var[2] = {0.8f, 1.7f};
    lt_tensor_t *rm = lt_from_host(test_arena, LT_F32, 1, (int64_t[]){2}, mean);
    lt_tensor_t *rv = lt_from_host(test_arena, LT_F32, 1, (int64_t[]){2}, var);
    return lt_batch_norm(in[0], rm, rv, in[1], in[2], false, 0.1, 1e-5);
}
/* A fixed (seed, stream) draws the same Philox mask in every forward, so the backward's
 * mask must be the forward's for the differences to agree. */
static lt_tensor_t *fd_dropout(lt_tensor_t **in) {
    return lt_mul(lt_dropout_ex(in[0], 0.4, true, 5, 3), in[0]);
}

/* Inputs in [-2, 2), step 1e-2. */
START_TEST(layer_ops_match_finite_differences) {
    const float h = 1e-2f;
    test_fd_check("silu", fd_silu, 1, (test_fd_input[]){{2, {3, 5}, 0, 0}}, h);
    test_fd_check(
        "conv2d", fd_conv, 3,
        (test_fd_input[]){{4, {2, 4, 5, 6}, 0, 0}, {4, {4, 2, 3, 2}, 0, 0}, {1, {4}, 0, 0}}, h);
    test_fd_check("conv2d same", fd_conv_same, 2,
                  (test_fd_input[]){{4, {1, 2, 5, 4}, 0, 0}, {4, {3, 2, 2, 3}, 0, 0}}, h);
    test_fd_check_spaced("max_pool2d", fd_max_pool, 1, (test_fd_input[]){{4, {2, 2, 6, 7}, 0, 0}},
                         h);
    test_fd_check("avg_pool2d", fd_avg_pool, 1, (test_fd_input[]){{4, {1, 2, 6, 7}, 0, 0}}, h);
    test_fd_check("adaptive_avg_pool2d", fd_adaptive, 1, (test_fd_input[]){{4, {2, 1, 7, 5}, 0, 0}},
                  h);
    test_fd_check("batch_norm", fd_batch_norm, 3,
                  (test_fd_input[]){{4, {3, 2, 3, 2}, 0, 0}, {1, {2}, 0, 0}, {1, {2}, 0, 0}}, h);
    test_fd_check("layer_norm", fd_layer_norm, 3,
                  (test_fd_input[]){{3, {2, 3, 5}, 0, 0}, {1, {5}, 0, 0}, {1, {5}, 0, 0}}, h);
}
END_TEST

/* The mode-dependent ops, and leaky_relu off its kink (its gradient at 0 is torch's
 * fixture case leaky_relu/at_zero). */
START_TEST(mode_ops_match_finite_differences) {
    const float h = 1e-2f;
    test_fd_check("leaky_relu", fd_leaky_relu, 1, (test_fd_input[]){{2, {3, 7}, 0, 0}}, h);
    test_fd_check("batch_norm eval", fd_batch_norm_eval, 3,
                  (test_fd_input[]){{4, {3, 2, 2, 3}, 0, 0}, {1, {2}, 0, 0}, {1, {2}, 0, 0}}, h);
    test_fd_check("dropout train", fd_dropout, 1, (test_fd_input[]){{3, {2, 3, 5}, 0, 0}}, h);
}
END_TEST

/* ---- torch's default init per layer --------------------------------------------------- */

static lt_tensor_t *named(lt_ctx_t *ctx, const char *want) {
    const char *name;
    for (int i = 0; i < lt_ctx_num_params(ctx); i++) {
        lt_tensor_t *t = lt_ctx_param(ctx, i, &name);
        if (!strcmp(name, want)) return t;
    }
    for (int i = 0; i < lt_ctx_num_buffers(ctx); i++) {
        lt_tensor_t *t = lt_ctx_buffer(ctx, i, &name);
        if (!strcmp(name, want)) return t;
    }
    ck_abort_msg("no parameter or buffer %s", want);
    return NULL;
}

/* U(-b, b) as torch draws it: inside the bound, reaching near it, mean ~0, std b/sqrt(3). */
static void expect_uniform(lt_ctx_t *ctx, const char *name, double b) {
    lt_tensor_t *t = named(ctx, name);
    float *v = test_host(t);
    int64_t n = lt_numel(t);
    double lo = 0, hi = 0, s = 0, s2 = 0;
    for (int64_t i = 0; i < n; i++) lo = fmin(lo, v[i]), hi = fmax(hi, v[i]), s += v[i];
    for (int64_t i = 0; i < n; i++) s2 += (v[i] - s / n) * (v[i] - s / n);
    double sd = sqrt(s2 / n);
    ck_assert_msg(lo >= -b && hi <= b, "%s in [%g, %g], bound %g", name, lo, hi, b);
    /* the statistics only where n makes them sharp: 400 draws put the std within 3% */
    if (n < 400) {
        free(v);
        return;
    }
    ck_assert_msg(hi > 0.9 * b && lo < -0.9 * b, "%s in [%g, %g], bound %g", name, lo, hi, b);
    ck_assert_msg(fabs(s / n) < 0.1 * b && fabs(sd - b / sqrt(3.0)) < 0.1 * b,
                  "%s: mean %g, std %g; U(+-%g) has 0, %g", name, s / n, sd, b, b / sqrt(3.0));
    free(v);
}

static void expect_all(lt_ctx_t *ctx, const char *name, float value) {
    lt_tensor_t *t = named(ctx, name);
    float *v = test_host(t);
    for (int64_t i = 0; i < lt_numel(t); i++)
        ck_assert_msg(v[i] == value, "%s[%lld] = %g, torch starts it at %g", name, (long long)i,
                      v[i], value);
    free(v);
}

/* nn.Embedding: N(0, 1) with its padding_idx row zero. */
static void expect_embedding(lt_ctx_t *ctx, const char *name, int64_t dim, int64_t pad) {
    lt_tensor_t *t = named(ctx, name);
    float *v = test_host(t);
    int64_t n = lt_numel(t);
    double s = 0, s2 = 0;
    for (int64_t i = 0; i < n; i++) s += v[i], s2 += (double)v[i] * v[i];
    for (int64_t j = 0; j < dim; j++) ck_assert_float_eq(v[pad * dim + j], 0.0f);
    double sd = sqrt(s2 / n - (s / n) * (s / n));
    ck_assert_msg(fabs(s / n) < 0.05 && fabs(sd - 1.0) < 0.05, "%s: mean %g, std %g", name, s / n,
                  sd);
    free(v);
}

/* kaiming_uniform(a=sqrt(5)) is U(+-1/sqrt(fan_in)), fan_in = in/groups * kh * kw; bias the
 * same bound; norms ones and zeros; BatchNorm's running stats zeros and ones. */
START_TEST(layers_start_as_torchs_defaults) {
    lt_ctx_t *ctx = lt_ctx_new(test_dev, "t", NULL, 0, 4);
    ck_assert_ptr_nonnull(lt_conv2d(ctx, "conv", 8, 48, 3, 5, &LT_CONV2D_OPTS(.groups = 2)));
    ck_assert_ptr_nonnull(lt_linear(ctx, "fc", 50, 400));
    ck_assert_ptr_nonnull(lt_embedding(ctx, "emb", 100, 60, 3));
    ck_assert_ptr_nonnull(lt_batchnorm(ctx, "bn", 6));
    ck_assert_ptr_nonnull(lt_layernorm(ctx, "ln", 1, (int64_t[]){7}));
    ck_assert_int_eq(lt_ctx_materialize(ctx), LT_OK);
    expect_uniform(ctx, "conv.weight", 1.0 / sqrt(4.0 * 15.0));
    expect_uniform(ctx, "conv.bias", 1.0 / sqrt(4.0 * 15.0));
    expect_uniform(ctx, "fc.weight", 1.0 / sqrt(50.0));
    expect_uniform(ctx, "fc.bias", 1.0 / sqrt(50.0));
    expect_embedding(ctx, "emb.weight", 60, 3);
    expect_all(ctx, "bn.weight", 1.0f);
    expect_all(ctx, "bn.bias", 0.0f);
    expect_all(ctx, "bn.running_mean", 0.0f);
    expect_all(ctx, "bn.running_var", 1.0f);
    expect_all(ctx, "ln.weight", 1.0f);
    expect_all(ctx, "ln.bias", 0.0f);
    lt_ctx_free(ctx);
}
END_TEST

/* Each bad argument is one clear error naming the op and what to fix. */
static void expect_refusal(lt_tensor_t *got, const char *words) {
    ck_assert_ptr_null(got);
    ck_assert_msg(strstr(lt_last_error(), words) != NULL, "error '%s' lacks '%s'", lt_last_error(),
                  words);
    lt_clear_error();
}

START_TEST(layer_ops_refuse_bad_arguments) {
    lt_tensor_t *x = lt_full(test_arena, 4, (int64_t[]){2, 3, 5, 5}, 1.0f);
    lt_tensor_t *w = lt_full(test_arena, 4, (int64_t[]){4, 3, 3, 3}, 1.0f);
    lt_tensor_t *w2 = lt_full(test_arena, 4, (int64_t[]){4, 2, 3, 3}, 1.0f);
    lt_tensor_t *big = lt_full(test_arena, 4, (int64_t[]){4, 3, 7, 7}, 1.0f);
    lt_tensor_t *v3 = lt_full(test_arena, 1, (int64_t[]){3}, 1.0f);
    expect_refusal(lt_conv2d_op(x, w2, NULL, NULL), "does not match weight (4, 2, 3, 3)");
    expect_refusal(lt_conv2d_op(x, big, NULL, NULL), "larger than the padded input");
    expect_refusal(lt_conv2d_op(x, w, v3, NULL), "bias (O)");
    expect_refusal(
        lt_conv2d_op(x, w, NULL, &LT_CONV2D_OPTS(.padding_same = true, .stride = {2, 2})),
        "padding=\"same\" needs stride 1");
    expect_refusal(lt_max_pool2d(x, &LT_POOL2D_OPTS(.kernel = {0, 2})),
                   "kernel sizes must be positive");
    expect_refusal(lt_max_pool2d(x, &LT_POOL2D_OPTS(.kernel = {2, 2}, .padding = {2, 0})),
                   "at most half the kernel");
    expect_refusal(lt_avg_pool2d(v3, &LT_POOL2D_OPTS(.kernel = {2, 2})),
                   "expected an input (N, C, H, W)");
    expect_refusal(lt_adaptive_avg_pool2d(x, 0, 2), "must be positive");
    expect_refusal(lt_batch_norm(x, NULL, NULL, w, NULL, true, 0.1, 1e-5), "float32 (C)");
    expect_refusal(lt_batch_norm(x, NULL, NULL, NULL, NULL, false, 0.1, 1e-5),
                   "eval mode needs running_mean");
    expect_refusal(lt_layer_norm(x, 1, (int64_t[]){4}, NULL, NULL, 1e-5), "normalized_shape");
    expect_refusal(lt_dropout_ex(x, 2.0, true, 1, 1), "p is 2");
}
END_TEST

/* ---- 20 training steps of the cnn plugin -------------------------------------------- */

/* Twenty Adam steps (batch 32) in training mode from torch's initial state on torch's
 * batches: losses to 1e-4 relative (3e-6 seen), every parameter and buffer at the end to
 * 1e-4 (4e-5 seen). Training amplifies float32 rounding: torch's own float32 run ends
 * 3e-5 away from its float64 run of the same steps, so this is as close as two float32
 * implementations can be. (At batch 16 the same model is ill-conditioned: float32 and
 * float64 torch end 2e-3 apart.)
 *
 * Except for max pool's near-ties: at step 6, sample 16, channel 20, rows 10 and 11 of
 * column 16 come out of conv2 two to three ulps apart (0.32620334 and 0.3262034). Which
 * one is larger then depends on rounding upstream: with OpenBLAS's SkylakeX or Prescott
 * kernels in fc1's backward, the weights differ by 1e-8 at step 6 and the pool routes that
 * gradient to the other row. Adam turns the changed gradients of weights whose gradient is
 * otherwise ~0 into lr-sized steps, so 534 of fc1.weight's 200704 elements end past 1e-4,
 * the worst 2.65x it. So up to 0.5% of a tensor's elements may be off by up to 10x the
 * tolerance; a kernel's real error moves far more of them, and the per-step losses stay
 * at 1e-4. Fed to torch one step at a time, every step's gradients match float64 to 4e-6
 * save at such windows (tests/reference/cnn_step_check.py with LT_TEST_DUMP_DIR, and
 * tests/reference/README.md, "When the cnn parity drifts"). */
static void check_cnn(lt_device_t *dev) {
    lt_plugin_t *plugin = test_open_model_plugin("cnn");
    const lt_module_desc *m = lt_plugin_desc(plugin);
    lt_ctx_t *ctx = lt_ctx_new(dev, m->name, m->hparams, m->self_size, 0);
    ck_assert_int_eq(lt_ctx_set_hparam(ctx, "hidden", "32"), LT_OK);
    ck_assert_int_eq(lt_ctx_set_hparam(ctx, "dropout", "0"), LT_OK);
    void *self = lt_ctx_self(ctx);
    ck_assert_int_eq(m->setup(ctx, self), LT_OK);
    ck_assert_int_eq(lt_ctx_materialize(ctx), LT_OK);
    lt_st_file_t *f = test_open_fixture("cnn_train.safetensors");
    int nstate = test_load_state(ctx, f, "init/");
    ck_assert_int_eq(nstate, lt_ctx_num_params(ctx) + lt_ctx_num_buffers(ctx));
    ck_assert_int_eq(m->configure_optimizers(ctx, self), LT_OK);
    test_replay_training(ctx, m, f); /* every step's loss to 1e-4 */
    test_compare_state_strays(ctx, f, "final/", 1e-4, 1e-4, 0.005, 10);
    lt_st_close(f);
    lt_ctx_free(ctx);
    lt_plugin_close(plugin);
}

START_TEST(cnn_training_matches_torch) {
    lt_device_t *dev = test_open_accel(_i, "layers");
    if (!dev) return;
    check_cnn(dev);
    lt_device_close(dev);
}
END_TEST

/* max_pool2d's 2x2, stride-2 kernels (the cnn's: 16 windows a vector on AVX-512, 4 else)
 * against torch's rule written out here: the first of equal maxima wins, and so does the
 * first NaN, for good. Values in {0, 1, 2} with NaNs; rows of 14 outputs (a masked vector)
 * and of 20 (a full one and a masked one), odd sizes left over; the backward routes each
 * output's gradient to the index it chose. */
static void check_max_pool_2x2(int64_t n, int64_t c, int64_t h, int64_t w) {
    const int64_t numel = n * c * h * w, oh = h / 2, ow = w / 2;
    float *hx = malloc((size_t)numel * sizeof *hx);
    ck_assert_ptr_nonnull(hx);
    for (int64_t i = 0; i < numel; i++)
        hx[i] = (i * 7919) % 53 == 0 ? NAN : (float)((i * 2654435761u >> 7) % 3);
    lt_tensor_t *x = lt_from_host(test_arena, LT_F32, 4, (int64_t[]){n, c, h, w}, hx);
    lt_set_requires_grad(x, true);
    lt_tensor_t *y = lt_max_pool2d(x, &LT_POOL2D_OPTS(.kernel = {2, 2}));
    ck_assert_msg(y != NULL, "%s", lt_last_error());
    ck_assert_int_eq(lt_backward(lt_sum(y)), LT_OK);
    float *hy = test_host(y), *dx = test_host(lt_grad(x));
    float *want_dx = calloc((size_t)numel, sizeof *want_dx);
    for (int64_t p = 0; p < n * c; p++)
        for (int64_t oy = 0; oy < oh; oy++)
            for (int64_t ox = 0; ox < ow; ox++) {
                const int64_t at[4] = {2 * oy * w + 2 * ox, 2 * oy * w + 2 * ox + 1,
                                       (2 * oy + 1) * w + 2 * ox, (2 * oy + 1) * w + 2 * ox + 1};
                int64_t best = p * h * w + at[0];
                for (int k = 1; k < 4; k++) {
                    const float v = hx[p * h * w + at[k]], b = hx[best];
                    if (v > b || (isnan(v) && !isnan(b))) best = p * h * w + at[k];
                }
                const float got = hy[(p * oh + oy) * ow + ox];
                ck_assert_msg(memcmp(&got, &hx[best], sizeof got) == 0,
                              "%lldx%lld plane %lld window (%lld, %lld): %g, want %g", (long long)h,
                              (long long)w, (long long)p, (long long)oy, (long long)ox, got,
                              hx[best]);
                want_dx[best] += 1.0f;
            }
    ck_assert_mem_eq(dx, want_dx, (size_t)numel * sizeof *dx);
    free(hx);
    free(hy);
    free(dx);
    free(want_dx);
}

START_TEST(max_pool_2x2_ties_and_nan) {
    check_max_pool_2x2(2, 3, 9, 29);
    check_max_pool_2x2(1, 2, 6, 40);
    check_max_pool_2x2(3, 1, 4, 6);
}
END_TEST

Suite *suite_layers(void) {
    Suite *s = suite_create("layers");
    TCase *tc = tcase_create("torch");
    tcase_add_loop_test(tc, layer_ops_match_torch, 0, TEST_ACCELERATORS);
    tcase_add_loop_test(tc, cnn_training_matches_torch, 0, TEST_ACCELERATORS);
    tcase_set_timeout(tc, 120);
    suite_add_tcase(s, tc);
    TCase *fd = tcase_create("finite_differences");
    tcase_add_checked_fixture(fd, test_open, test_close);
    tcase_add_test(fd, layer_ops_match_finite_differences);
    tcase_add_test(fd, mode_ops_match_finite_differences);
    tcase_add_test(fd, layers_start_as_torchs_defaults);
    tcase_add_test(fd, layer_ops_refuse_bad_arguments);
    tcase_add_test(fd, max_pool_2x2_ties_and_nan);
    tcase_set_timeout(fd, 120);
    suite_add_tcase(s, fd);
    return s;
}
