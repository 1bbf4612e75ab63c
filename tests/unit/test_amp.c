/* Mixed precision: GradScaler's rules (torch.amp.GradScaler), its checkpoint state, and
 * the cpu accelerator's unscale_grads and round_half slots. */
#include <float.h>
#include <math.h>
#include <string.h>

#include <lt/amp.h>
#include <lt/runtime.h>

#include "test_util.h"

#define N 4
/* Step k's gradient is c * (k + 1); at the steps in bad[] one element is inf or NaN. */
static const float c[N] = {0.5f, -0.25f, 1.0f, 2.0f};

typedef struct amp_mod {
    lt_ctx_t *ctx;
    lt_tensor_t *w;
    lt_optimizer_t *opt;
} amp_mod;

static amp_mod amp_mod_new(lt_device_t *dev) {
    amp_mod m = {.ctx = lt_ctx_new(dev, "amp", NULL, 0, 1)};
    ck_assert_msg(m.ctx != NULL, "%s", lt_last_error());
    m.w = lt_param(m.ctx, "w", 1, (int64_t[]){N}, LT_INIT_ONES);
    ck_assert_int_eq(lt_ctx_materialize(m.ctx), LT_OK);
    m.opt = lt_sgd(lt_parameters(m.ctx), 0.1);
    ck_assert_msg(m.opt != NULL, "%s", lt_last_error());
    return m;
}

static void amp_mod_free(amp_mod *m) {
    lt_optimizer_free(m->opt);
    lt_ctx_free(m->ctx);
}

/* One training step: loss = sum(w * g_k), backward (seeded with the scale), step. */
static void amp_step(amp_mod *m, int k, float poison) {
    lt_arena_t *a = lt_ctx_arena(m->ctx);
    lt_arena_reset(a);
    float g[N];
    for (int i = 0; i < N; i++) g[i] = c[i] * (float)(k + 1);
    if (poison != 0.0f) g[1] = poison;
    lt_tensor_t *tg = lt_from_host(a, LT_F32, 1, (int64_t[]){N}, g);
    ck_assert_int_eq(lt_optimizer_zero_grad(m->opt), LT_OK);
    ck_assert_int_eq(lt_backward(lt_sum(lt_mul(m->w, tg))), LT_OK);
    ck_assert_int_eq(lt_optimizer_step(m->opt), LT_OK);
}

/* init 8, interval 3, inf at step 2 and NaN at step 6: the scale and _growth_tracker after
 * every step, by torch's _amp_update_scale_; skipped steps leave the weights alone. */
static void check_trajectory(lt_device_t *dev) {
    amp_mod m = amp_mod_new(dev);
    lt_grad_scaler_t *sc = lt_grad_scaler_new(dev, 8.0, 2.0, 0.5, 3);
    ck_assert_msg(sc != NULL, "%s", lt_last_error());
    ck_assert_int_eq(lt_ctx_set_grad_scaler(m.ctx, sc), LT_OK);
    static const double scale[10] = {8, 8, 4, 4, 4, 8, 4, 4, 4, 8};
    static const int64_t tracker[10] = {1, 2, 0, 1, 2, 0, 0, 1, 2, 0};
    double want[N] = {1, 1, 1, 1};
    for (int k = 0; k < 10; k++) {
        float poison = k == 2 ? INFINITY : k == 6 ? NAN : 0.0f;
        amp_step(&m, k, poison);
        ck_assert_msg(lt_grad_scaler_get_scale(sc) == scale[k], "step %d: scale %g, want %g", k,
                      lt_grad_scaler_get_scale(sc), scale[k]);
        ck_assert_int_eq(lt_grad_scaler_growth_tracker(sc), tracker[k]);
        if (poison == 0.0f)
            for (int i = 0; i < N; i++) want[i] -= 0.1 * c[i] * (k + 1);
    }
    ck_assert_int_eq(lt_grad_scaler_skipped_steps(sc), 2);
    ck_assert_int_eq(lt_optimizer_num_steps(m.opt), 8);
    float *w = test_host(m.w);
    for (int i = 0; i < N; i++)
        ck_assert_msg(fabs(w[i] - want[i]) < 1e-5, "w[%d] = %g, want %g", i, w[i], want[i]);
    free(w);
    ck_assert_int_eq(lt_ctx_set_grad_scaler(m.ctx, NULL), LT_OK);
    lt_grad_scaler_free(sc);
    amp_mod_free(&m);
}

START_TEST(scaler_trajectory) { check_trajectory(test_dev); }
END_TEST

/* An accelerator without unscale_grads (the ABI 1.0 table): liblt's fallback from affine
 * and reduce_sum must follow the same trajectory. */
START_TEST(scaler_trajectory_without_slot) {
    const char *dir = getenv("LT_TEST_PLUGIN_DIR");
    ck_assert_msg(dir && dir[0], "LT_TEST_PLUGIN_DIR is not set: run the tests with meson test");
    char path[4096];
    snprintf(path, sizeof path, "%s/abi10_cpu.so", dir);
    lt_device_t *dev = NULL;
    ck_assert_msg(lt_device_open(path, 1, &dev) == LT_OK, "%s", lt_last_error());
    check_trajectory(dev);
    lt_device_close(dev);
}
END_TEST

/* growth_interval set through the API: the scale doubles after that many clean steps,
 * and a growth that would overflow float32 keeps the old scale. */
START_TEST(scaler_growth) {
    amp_mod m = amp_mod_new(test_dev);
    lt_grad_scaler_t *sc = lt_grad_scaler_new(test_dev, 65536.0, 2.0, 0.5, 2);
    ck_assert_int_eq(lt_ctx_set_grad_scaler(m.ctx, sc), LT_OK);
    amp_step(&m, 0, 0.0f);
    ck_assert(lt_grad_scaler_get_scale(sc) == 65536.0);
    amp_step(&m, 0, 0.0f);
    ck_assert(lt_grad_scaler_get_scale(sc) == 131072.0);
    ck_assert_int_eq(lt_grad_scaler_growth_tracker(sc), 0);
    lt_ctx_set_grad_scaler(m.ctx, NULL);
    lt_grad_scaler_free(sc);
    sc = lt_grad_scaler_new(test_dev, 0x1p127, 2.0, 0.5, 1);
    ck_assert_int_eq(lt_ctx_set_grad_scaler(m.ctx, sc), LT_OK);
    lt_arena_t *a = lt_ctx_arena(m.ctx);
    lt_arena_reset(a);
    lt_tensor_t *tg = lt_full(a, 1, (int64_t[]){N}, 1e-30f); /* 1e-30 * 2^127: finite */
    ck_assert_int_eq(lt_optimizer_zero_grad(m.opt), LT_OK);
    ck_assert_int_eq(lt_backward(lt_sum(lt_mul(m.w, tg))), LT_OK);
    ck_assert_int_eq(lt_optimizer_step(m.opt), LT_OK);
    ck_assert(lt_grad_scaler_get_scale(sc) == 0x1p127);
    ck_assert_int_eq(lt_grad_scaler_skipped_steps(sc), 0);
    lt_ctx_set_grad_scaler(m.ctx, NULL);
    lt_grad_scaler_free(sc);
    amp_mod_free(&m);
}
END_TEST

START_TEST(scaler_bad_arguments) {
    ck_assert_ptr_null(lt_grad_scaler_new(test_dev, 0.0, 2.0, 0.5, 10));
    ck_assert_ptr_nonnull(strstr(lt_last_error(), "scale must be finite and > 0"));
    ck_assert_ptr_null(lt_grad_scaler_new(test_dev, 1.0, 1.0, 0.5, 10));
    ck_assert_ptr_nonnull(strstr(lt_last_error(), "growth_factor must be finite and > 1"));
    ck_assert_ptr_null(lt_grad_scaler_new(test_dev, 1.0, 2.0, 1.0, 10));
    ck_assert_ptr_nonnull(strstr(lt_last_error(), "backoff_factor must be in (0, 1)"));
    ck_assert_ptr_null(lt_grad_scaler_new(test_dev, 1.0, 2.0, 0.5, 0));
    ck_assert_ptr_nonnull(strstr(lt_last_error(), "growth_interval"));
    ck_assert_ptr_null(lt_grad_scaler_new(test_dev, 1e39, 2.0, 0.5, 10)); /* inf as a float */
}
END_TEST

/* state_dict round trip, and a checkpoint's values bounded before anything changes. */
START_TEST(scaler_state) {
    lt_grad_scaler_t *a = lt_grad_scaler_new(test_dev, 1024.0, 4.0, 0.25, 7);
    lt_grad_scaler_t *b = lt_grad_scaler_new(test_dev, 65536.0, 2.0, 0.5, 2000);
    amp_mod m = amp_mod_new(test_dev);
    ck_assert_int_eq(lt_ctx_set_grad_scaler(m.ctx, a), LT_OK);
    for (int k = 0; k < 3; k++) amp_step(&m, k, 0.0f); /* tracker 3 */
    lt_state_t *st = lt_state_new();
    ck_assert_int_eq(lt_grad_scaler_save(a, st), LT_OK);
    ck_assert_int_eq(lt_grad_scaler_load(b, st, "MixedPrecision"), LT_OK);
    ck_assert(lt_grad_scaler_get_scale(b) == 1024.0);
    ck_assert_int_eq(lt_grad_scaler_growth_tracker(b), 3);
    char *json = lt_state_to_json(st);
    ck_assert_ptr_nonnull(strstr(json, "\"_growth_tracker\":3"));
    ck_assert_ptr_nonnull(strstr(json, "\"growth_interval\":7"));
    free(json);
    static const struct {
        const char *key;
        double v;
        const char *says;
    } bad[] = {
        {"scale", NAN, "MixedPrecision.scale must be finite and > 0"},
        {"scale", -1.0, "MixedPrecision.scale must be"},
        {"scale", 1e300, "MixedPrecision.scale must be"},
        {"growth_factor", INFINITY, "MixedPrecision.growth_factor must be finite and > 1"},
        {"backoff_factor", 0.0, "MixedPrecision.backoff_factor must be in (0, 1)"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        lt_state_t *edit = lt_state_new();
        ck_assert_int_eq(lt_grad_scaler_save(a, edit), LT_OK);
        lt_state_set_float(edit, bad[i].key, bad[i].v);
        ck_assert_int_eq(lt_grad_scaler_load(b, edit, "MixedPrecision"), LT_ERR_FORMAT);
        ck_assert_msg(strstr(lt_last_error(), bad[i].says), "%s", lt_last_error());
        ck_assert(lt_grad_scaler_get_scale(b) == 1024.0); /* unchanged */
        lt_state_free(edit);
    }
    lt_state_t *edit = lt_state_new();
    ck_assert_int_eq(lt_grad_scaler_save(a, edit), LT_OK);
    lt_state_set_int(edit, "_growth_tracker", 7); /* not below growth_interval */
    ck_assert_int_eq(lt_grad_scaler_load(b, edit, "MixedPrecision"), LT_ERR_FORMAT);
    ck_assert_ptr_nonnull(
        strstr(lt_last_error(), "_growth_tracker must be in [0, growth_interval)"));
    lt_state_free(edit);
    edit = lt_state_new();
    lt_state_set_float(edit, "scale", 2.0);
    ck_assert_int_eq(lt_grad_scaler_load(b, edit, "MixedPrecision"), LT_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(lt_last_error(), "MixedPrecision.growth_factor is missing"));
    lt_state_free(edit);
    lt_state_free(st);
    lt_ctx_set_grad_scaler(m.ctx, NULL);
    amp_mod_free(&m);
    lt_grad_scaler_free(a);
    lt_grad_scaler_free(b);
}
END_TEST

/* ---- the cpu accelerator's slots, through its table ------------------------------ */

typedef struct cpu_table {
    lt_plugin_t *p;
    const lt_accelerator_desc *d;
    void *st;
} cpu_table;

static cpu_table cpu_open(void) {
    cpu_table t = {0};
    ck_assert_msg(lt_plugin_open(LT_PLUGIN_ACCELERATOR, "cpu", NULL, &t.p) == LT_OK, "%s",
                  lt_last_error());
    t.d = lt_plugin_desc(t.p);
    lt_accel_opts o = {.struct_size = sizeof o, .threads = 1};
    ck_assert_int_eq(t.d->init(&o, &t.st), LT_OK);
    ck_assert_ptr_nonnull(t.d->round_half);
    ck_assert_ptr_nonnull(t.d->unscale_grads);
    return t;
}

static void cpu_close(cpu_table *t) {
    t->d->shutdown(t->st);
    lt_plugin_close(t->p);
}

START_TEST(cpu_round_half_ties_to_even) {
    cpu_table t = cpu_open();
    static const float x[] = {
        65504.0f,        65519.0f,     65520.0f,         0x1p-24f, 0x1p-25f,
        3 * 0x1p-25f,    1 + 0x1p-11f, 1 + 3 * 0x1p-11f, -2.5f,    1 + 0x1p-8f,
        1 + 3 * 0x1p-8f, FLT_MAX,      0x1.fep127f,      -0.0f,
    };
    static const float fp16[] = {
        65504.0f,    65504.0f, INFINITY,    0x1p-24f,        0.0f,     0x1p-23f, 1.0f,
        1 + 0x1p-9f, -2.5f,    1 + 0x1p-8f, 1 + 3 * 0x1p-8f, INFINITY, INFINITY, -0.0f,
    };
    static const float bf16[] = {
        65536.0f, 65536.0f, 65536.0f, 0x1p-24f,    0x1p-25f, 3 * 0x1p-25f, 1.0f,
        1.0f,     -2.5f,    1.0f,     1 + 0x1p-6f, INFINITY, 0x1.fep127f,  -0.0f,
    };
    enum { M = sizeof x / sizeof *x };
    float out[M];
    t.d->round_half(t.st, M, x, 0, out);
    for (int i = 0; i < M; i++)
        ck_assert_msg(out[i] == fp16[i] && signbit(out[i]) == signbit(fp16[i]),
                      "fp16(%a) = %a, want %a", x[i], out[i], fp16[i]);
    t.d->round_half(t.st, M, x, 1, out);
    for (int i = 0; i < M; i++)
        ck_assert_msg(out[i] == bf16[i], "bf16(%a) = %a, want %a", x[i], out[i], bf16[i]);
    float nan_in = NAN, nan_out = 0;
    t.d->round_half(t.st, 1, &nan_in, 1, &nan_out);
    ck_assert(isnan(nan_out));
    t.d->round_half(t.st, 1, &nan_in, 0, &nan_out);
    ck_assert(isnan(nan_out));
    cpu_close(&t);
}
END_TEST

START_TEST(cpu_unscale_grads_flags_non_finite) {
    cpu_table t = cpu_open();
    float g[4] = {1.0f, 2.0f, 4.0f, 8.0f}, found = 0.0f;
    t.d->unscale_grads(t.st, 4, g, 0.5f, &found);
    ck_assert(g[0] == 0.5f && g[3] == 4.0f && found == 0.0f);
    g[2] = INFINITY;
    t.d->unscale_grads(t.st, 4, g, 0.5f, &found);
    ck_assert(found == 1.0f && isinf(g[2]) && g[0] == 0.25f);
    found = 0.0f;
    g[2] = NAN;
    t.d->unscale_grads(t.st, 4, g, 0.5f, &found);
    ck_assert(found == 1.0f);
    cpu_close(&t);
}
END_TEST

/* bf16 rounding of one float (ties to even), for the reference below. */
static double bf16_value(float x) {
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    u = (u + 0x7fffu + ((u >> 16) & 1u)) & 0xffff0000u;
    float r;
    memcpy(&r, &u, sizeof r);
    return r;
}

/* A product's sizes; ldc leaves padding after each row of C. */
typedef struct gemm_dims {
    int m, n, k, ldc;
} gemm_dims;

/* C (m x n, ld ldc) against alpha op(A) op(B) + beta C0 from the bf16-rounded inputs,
 * in double, within float32 accumulation error; the padding untouched. */
static void expect_bf16_product(gemm_dims g, int ta, int tb, float alpha, float beta,
                                const float *a, const float *b, const float *c0, const float *c) {
    for (int i = 0; i < g.m; i++) {
        for (int j = 0; j < g.n; j++) {
            double want = 0, mag = 0;
            for (int q = 0; q < g.k; q++) {
                const double x = bf16_value(ta ? a[q * g.m + i] : a[i * g.k + q]);
                const double y = bf16_value(tb ? b[j * g.k + q] : b[q * g.n + j]);
                want += x * y, mag += fabs(x * y);
            }
            const float c0ij = c0[i * g.ldc + j], cij = c[i * g.ldc + j];
            want = alpha * want + beta * c0ij;
            mag = fabs(alpha) * mag + fabs(beta * c0ij);
            ck_assert_msg(fabs(cij - want) <= 1e-5 * mag,
                          "%dx%dx%d ta %d tb %d alpha %g beta %g: C[%d][%d] = %.9g, want %.9g", g.m,
                          g.n, g.k, ta, tb, alpha, beta, i, j, cij, want);
        }
        ck_assert(
            !memcmp(&c[i * g.ldc + g.n], &c0[i * g.ldc + g.n], (size_t)(g.ldc - g.n) * sizeof *c));
    }
}

/* cpu bf16-mixed: every transposition, alpha and beta (oneDNN's output scale and sum), a
 * padded C, against the reference above, on a product small enough for one thread and
 * one large enough for oneDNN's team; and inputs that bf16 cannot hold show the rounding
 * happened. Without bf16 units the plugin refuses at init, saying so. */
/* The cpu plugin in bf16-mixed on 2 threads; NULL (a skip line printed, the plugin
 * closed) where the CPU has no bf16 units, which init must say. */
static void *open_bf16_cpu(lt_plugin_t **p, const lt_accelerator_desc **d, const char *what) {
    ck_assert_int_eq(lt_plugin_open(LT_PLUGIN_ACCELERATOR, "cpu", NULL, p), LT_OK);
    *d = lt_plugin_desc(*p);
    lt_accel_opts o = {.struct_size = sizeof o, .threads = 2, .precision = LT_PRECISION_BF16_MIXED};
    void *st = NULL;
    lt_clear_error();
    if ((*d)->init(&o, &st) == LT_OK) return st;
    ck_assert_msg(
        strstr(lt_last_error(), "runs bf16 precisions only on CPUs with AVX512-BF16 or AMX"), "%s",
        lt_last_error());
    printf("skip: cpu bf16-mixed %s: %s\n", what, lt_last_error());
    lt_plugin_close(*p);
    return NULL;
}

START_TEST(cpu_bf16_mixed_gemm) {
    lt_plugin_t *p = NULL;
    const lt_accelerator_desc *d = NULL;
    void *st = open_bf16_cpu(&p, &d, "GEMM");
    if (!st) return;
    /* 256 x 512 x 256 multiply-adds: the cpu's threshold for a team (CPU_GEMM_SERIAL_WORK) */
    enum { BIG_M = 256, BIG_N = 512, BIG_K = 256, BIG_LDC = BIG_N + 3 };
    static float a[BIG_K * BIG_M], b[BIG_K * BIG_N], c[BIG_M * BIG_LDC], c0[BIG_M * BIG_LDC];
    test_fill(a, BIG_K * BIG_M, 11, -1.0f, 1.0f, 0.0f);
    test_fill(b, BIG_K * BIG_N, 12, -1.0f, 1.0f, 0.0f);
    test_fill(c0, BIG_M * BIG_LDC, 13, -1.0f, 1.0f, 0.0f);
    static const float ab[][2] = {{1.0f, 0.0f}, {0.5f, 1.0f}, {-1.0f, 0.25f}};
    const gemm_dims sizes[] = {{37, 45, 300, 48}, {BIG_M, BIG_N, BIG_K, BIG_LDC}};
    for (int z = 0; z < 2; z++) {
        const gemm_dims g = sizes[z];
        for (int t = 0; t < 4; t++)
            for (size_t s = z; s < sizeof ab / sizeof *ab; s++) { /* the big one: two */
                memcpy(c, c0, sizeof c);
                d->gemm(st, t & 1, t >> 1, g.m, g.n, g.k, ab[s][0], a, t & 1 ? g.m : g.k, b,
                        t >> 1 ? g.k : g.n, ab[s][1], c, g.ldc);
                expect_bf16_product(g, t & 1, t >> 1, ab[s][0], ab[s][1], a, b, c0, c);
            }
    }
    /* 1 + 2^-9 is 1 in bf16: 64 products of it sum to 64, not float32's 64.25 */
    for (int i = 0; i < 32 * 64; i++) a[i] = b[i] = 1.0f + 0x1p-9f;
    d->gemm(st, 0, 1, 32, 32, 64, 1.0f, a, 64, b, 64, 0.0f, c, 32);
    ck_assert_msg(c[0] == 64.0f && c[32 * 32 - 1] == 64.0f, "C = %.9g: inputs not rounded", c[0]);
    ck_assert_msg(strstr(d->describe(st), "bf16 matmuls on"), "%s", d->describe(st));
    d->shutdown(st);
    lt_plugin_close(p);
}
END_TEST

/* cpu bf16-mixed's gemm_batched, one oneDNN matmul over the batch, against the reference
 * per matrix in every transposition: a batch reading one B (stride 0) and one large
 * enough for oneDNN's team; C's matrices spaced wider than its rows. */
START_TEST(cpu_bf16_mixed_gemm_batched) {
    lt_plugin_t *p = NULL;
    const lt_accelerator_desc *d = NULL;
    void *st = open_bf16_cpu(&p, &d, "gemm_batched");
    if (!st) return;
    ck_assert(d->gemm_batched);
    const struct {
        gemm_dims g;
        int batch, one_b;
    } cases[] = {{{37, 45, 30, 48}, 5, 1}, {{128, 128, 32, 131}, 64, 0}};
    for (size_t z = 0; z < sizeof cases / sizeof *cases; z++) {
        const gemm_dims g = cases[z].g;
        const int64_t sa = g.m * g.k, sb = cases[z].one_b ? 0 : g.k * g.n, sc = g.m * g.ldc + 5;
        const int64_t na = cases[z].batch * sa,
                      nb = cases[z].one_b ? g.k * g.n : cases[z].batch * sb;
        const int64_t nc = cases[z].batch * sc;
        float *a = malloc((size_t)na * sizeof *a), *b = malloc((size_t)nb * sizeof *b);
        float *c = malloc((size_t)nc * sizeof *c), *c0 = malloc((size_t)nc * sizeof *c0);
        ck_assert(a && b && c && c0);
        test_fill(a, na, 21, -1.0f, 1.0f, 0.0f);
        test_fill(b, nb, 22, -1.0f, 1.0f, 0.0f);
        test_fill(c0, nc, 23, -1.0f, 1.0f, 0.0f);
        for (int t = 0; t < 4; t++) {
            const int ta = t & 1, tb = t >> 1;
            memcpy(c, c0, (size_t)nc * sizeof *c);
            ck_assert_int_eq(d->gemm_batched(st, ta, tb, g.m, g.n, g.k, 0.5f, a, ta ? g.m : g.k, sa,
                                             b, tb ? g.k : g.n, sb, 1.0f, c, g.ldc, sc,
                                             cases[z].batch),
                             0);
            for (int i = 0; i < cases[z].batch; i++) {
                expect_bf16_product(g, ta, tb, 0.5f, 1.0f, a + i * sa, b + i * sb, c0 + i * sc,
                                    c + i * sc);
                ck_assert(!memcmp(c + i * sc + g.m * g.ldc, c0 + i * sc + g.m * g.ldc,
                                  5 * sizeof *c)); /* the gap after each matrix */
            }
        }
        free(a), free(b), free(c), free(c0);
    }
    d->shutdown(st);
    lt_plugin_close(p);
}
END_TEST

/* The cpu accelerator refuses what it cannot do, saying what it can; liblt names the
 * precision for a plugin that says nothing (abi10_cpu below). */
START_TEST(cpu_refuses_mixed_precision) {
    lt_plugin_t *p = NULL;
    ck_assert_int_eq(lt_plugin_open(LT_PLUGIN_ACCELERATOR, "cpu", NULL, &p), LT_OK);
    lt_accel_opts o = {.struct_size = sizeof o, .threads = 1, .precision = LT_PRECISION_16_MIXED};
    lt_device_t *dev = NULL;
    ck_assert_int_eq(lt_device_from_plugin_opts(p, &o, &dev), LT_ERR_UNSUPPORTED);
    ck_assert_ptr_null(dev);
    ck_assert_msg(
        strstr(lt_last_error(), "the cpu accelerator trains in 32-true, bf16-mixed and bf16-true"),
        "%s", lt_last_error());
    ck_assert_str_eq(lt_precision_name(LT_PRECISION_BF16_TRUE), "bf16-true");
    /* bf16-true needs round_half: the ABI 1.0 table has none, whatever init would say */
    const char *dir = getenv("LT_TEST_PLUGIN_DIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/abi10_cpu.so", dir ? dir : ".");
    ck_assert_int_eq(lt_plugin_open(LT_PLUGIN_ACCELERATOR, path, NULL, &p), LT_OK);
    o.precision = LT_PRECISION_BF16_TRUE;
    ck_assert_int_eq(lt_device_from_plugin_opts(p, &o, &dev), LT_ERR_UNSUPPORTED);
    ck_assert_msg(strstr(lt_last_error(), "has no round_half kernel, so it cannot train in "
                                          "precision bf16-true"),
                  "%s", lt_last_error());
    ck_assert(lt_device_host_memory(test_dev));
    ck_assert(!lt_device_has_ranges(test_dev));
    lt_device_range_push(test_dev, "no-op"); /* without the slots: nothing happens */
    lt_device_range_pop(test_dev);
}
END_TEST

Suite *suite_amp(void) {
    Suite *s = suite_create("amp");
    TCase *tc = tcase_create("grad_scaler");
    tcase_add_checked_fixture(tc, test_open, test_close);
    tcase_add_test(tc, scaler_trajectory);
    tcase_add_test(tc, scaler_trajectory_without_slot);
    tcase_add_test(tc, scaler_growth);
    tcase_add_test(tc, scaler_bad_arguments);
    tcase_add_test(tc, scaler_state);
    tcase_add_test(tc, cpu_round_half_ties_to_even);
    tcase_add_test(tc, cpu_unscale_grads_flags_non_finite);
    tcase_add_test(tc, cpu_refuses_mixed_precision);
    tcase_add_test(tc, cpu_bf16_mixed_gemm);
    tcase_add_test(tc, cpu_bf16_mixed_gemm_batched);
    suite_add_tcase(s, tc);
    return s;
}
