/* The layer_norm / layer_norm_bwd slots of the cpu accelerator (#18: one pass instead of
 * liblt's composition) against a double reference, for widths on and off the vector
 * lanes, with and without weight and bias, bit-identical on 1 and 2 threads; and
 * lt_layer_norm through the slots against the composition an accelerator without them
 * runs (abi10_cpu): output and every gradient. */
#include <lt/accelerator.h>
#include <math.h>
#include <string.h>

#include "test_util.h"

typedef struct ln_case {
    int64_t rows, d;
    int affine; /* weight and bias given */
} ln_case;

/* Everything one call reads and writes, on the host (the cpu's memory). */
typedef struct ln_mem {
    float *x, *w, *b, *dy, *y, *mean, *rstd, *dx, *dw, *db;
} ln_mem;

static float *floats(int64_t n, uint64_t seed, float lo, float hi) {
    float *v = malloc((size_t)n * sizeof *v);
    ck_assert(v);
    test_fill(v, n, seed, lo, hi, 0.0f);
    return v;
}

static ln_mem ln_alloc(const ln_case *c) {
    const int64_t n = c->rows * c->d;
    ln_mem m = {.x = floats(n, 41, -3.0f, 5.0f), .dy = floats(n, 42, -1.0f, 1.0f)};
    if (c->affine) m.w = floats(c->d, 43, 0.5f, 1.5f), m.b = floats(c->d, 44, -1.0f, 1.0f);
    m.y = floats(n, 45, 0.0f, 1.0f), m.dx = floats(n, 45, 0.0f, 1.0f);
    m.mean = floats(c->rows, 46, 0, 1), m.rstd = floats(c->rows, 47, 0, 1);
    m.dw = floats(c->d, 48, 0, 1), m.db = floats(c->d, 49, 0, 1);
    return m;
}

static void ln_free(ln_mem *m) {
    float *all[] = {m->x, m->w, m->b, m->dy, m->y, m->mean, m->rstd, m->dx, m->dw, m->db};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) free(all[i]);
}

static void run(const lt_accelerator_desc *k, void *st, const ln_case *c, ln_mem *m) {
    k->layer_norm(st, c->rows, c->d, m->x, m->w, m->b, 1e-5, m->y, m->mean, m->rstd);
    k->layer_norm_bwd(st, c->rows, c->d, m->x, m->dy, m->mean, m->rstd, m->w, m->dx, m->dw, m->db);
}

static void near(const char *what, const ln_case *c, int64_t i, double got, double want,
                 double scale) {
    ck_assert_msg(fabs(got - want) <= 2e-5 * scale,
                  "%s[%ld] (rows %ld, d %ld, affine %d): %.8g, want %.8g", what, (long)i,
                  (long)c->rows, (long)c->d, c->affine, got, want);
}

/* Row r's forward and dx in double, checked against m. */
static void check_row(const ln_case *c, const ln_mem *m, int64_t r, double *xh) {
    const float *x = m->x + r * c->d, *dy = m->dy + r * c->d;
    double mean = 0, var = 0, sg = 0, sgx = 0;
    for (int64_t j = 0; j < c->d; j++) mean += x[j];
    mean /= (double)c->d;
    for (int64_t j = 0; j < c->d; j++) var += (x[j] - mean) * (x[j] - mean);
    const double rstd = 1.0 / sqrt(var / (double)c->d + 1e-5);
    near("mean", c, r, m->mean[r], mean, 1 + fabs(mean));
    near("rstd", c, r, m->rstd[r], rstd, rstd);
    for (int64_t j = 0; j < c->d; j++) {
        xh[j] = (x[j] - mean) * rstd;
        const double y = xh[j] * (m->w ? m->w[j] : 1) + (m->b ? m->b[j] : 0);
        near("y", c, r * c->d + j, m->y[r * c->d + j], y, 1 + fabs(y));
        const double g = dy[j] * (m->w ? m->w[j] : 1);
        sg += g, sgx += g * xh[j];
    }
    for (int64_t j = 0; j < c->d; j++) {
        const double g = dy[j] * (m->w ? m->w[j] : 1);
        const double dx = rstd * (g - sg / (double)c->d - xh[j] * sgx / (double)c->d);
        near("dx", c, r * c->d + j, m->dx[r * c->d + j], dx, rstd * (1 + fabs(xh[j])));
    }
}

static void check_against_double(const ln_case *c, const ln_mem *m) {
    double *xh = malloc((size_t)c->d * sizeof *xh), *sw = calloc((size_t)c->d, sizeof *sw);
    double *sb = calloc((size_t)c->d, sizeof *sb);
    ck_assert(xh && sw && sb);
    for (int64_t r = 0; r < c->rows; r++) {
        check_row(c, m, r, xh);
        for (int64_t j = 0; j < c->d; j++)
            sw[j] += m->dy[r * c->d + j] * xh[j], sb[j] += m->dy[r * c->d + j];
    }
    for (int64_t j = 0; j < c->d; j++) {
        near("dw", c, j, m->dw[j], sw[j], sqrt((double)c->rows) * 3);
        near("db", c, j, m->db[j], sb[j], sqrt((double)c->rows));
    }
    free(xh), free(sw), free(sb);
}

static lt_device_t *open_cpu(int threads, const lt_accelerator_desc **k, void **st) {
    lt_device_t *dev = NULL;
    ck_assert_msg(lt_device_open("cpu", threads, &dev) == LT_OK, "%s", lt_last_error());
    *k = lt_device_kernels(dev, st);
    ck_assert(*k && (*k)->layer_norm && (*k)->layer_norm_bwd);
    return dev;
}

START_TEST(slots_match_double_on_any_threads) {
    const ln_case cases[] = {{1, 1, 1},    {7, 5, 1},   {64, 128, 1}, {33, 37, 0},
                             {300, 16, 1}, {5, 200, 0}, {1000, 24, 1}};
    const lt_accelerator_desc *k1, *k2;
    void *st1, *st2;
    lt_device_t *one = open_cpu(1, &k1, &st1), *two = open_cpu(2, &k2, &st2);
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const ln_case *c = &cases[i];
        ln_mem a = ln_alloc(c), b = ln_alloc(c);
        run(k1, st1, c, &a);
        run(k2, st2, c, &b);
        check_against_double(c, &a);
        const size_t n = (size_t)(c->rows * c->d) * sizeof(float),
                     nd = (size_t)c->d * sizeof(float);
        ck_assert_msg(!memcmp(a.y, b.y, n) && !memcmp(a.dx, b.dx, n) && !memcmp(a.dw, b.dw, nd) &&
                          !memcmp(a.db, b.db, nd),
                      "rows %ld, d %ld: 1 and 2 threads differ", (long)c->rows, (long)c->d);
        ln_free(&a), ln_free(&b);
    }
    lt_device_close(one);
    lt_device_close(two);
}
END_TEST

/* Gradients not asked for (NULL) are skipped; the others are as with all three. */
START_TEST(backward_skips_what_is_null) {
    const lt_accelerator_desc *k;
    void *st;
    lt_device_t *dev = open_cpu(2, &k, &st);
    const ln_case c = {40, 48, 1};
    ln_mem m = ln_alloc(&c);
    run(k, st, &c, &m);
    float *dw = floats(c.d, 50, 0, 1), *db = floats(c.d, 51, 0, 1);
    k->layer_norm_bwd(st, c.rows, c.d, m.x, m.dy, m.mean, m.rstd, m.w, NULL, dw, NULL);
    k->layer_norm_bwd(st, c.rows, c.d, m.x, m.dy, m.mean, m.rstd, m.w, NULL, NULL, db);
    ck_assert(!memcmp(dw, m.dw, (size_t)c.d * sizeof *dw) &&
              !memcmp(db, m.db, (size_t)c.d * sizeof *db));
    free(dw), free(db);
    ln_free(&m);
    lt_device_close(dev);
}
END_TEST

/* lt_layer_norm's output and gradients on dev, for x (rows, d) viewed as (2, rows/2, d). */
static void op_on(lt_device_t *dev, int64_t rows, int64_t d, float *out[4]) {
    lt_arena_t *a = lt_arena_new(dev);
    float *xv = floats(rows * d, 61, -2, 3), *gv = floats(rows * d, 62, -1, 1);
    float *wv = floats(d, 63, 0.5f, 1.5f), *bv = floats(d, 64, -1, 1);
    const int64_t shape[3] = {2, rows / 2, d};
    lt_tensor_t *x = lt_from_host(a, LT_F32, 3, shape, xv);
    lt_tensor_t *w = lt_from_host(a, LT_F32, 1, &d, wv), *b = lt_from_host(a, LT_F32, 1, &d, bv);
    lt_set_requires_grad(x, true), lt_set_requires_grad(w, true), lt_set_requires_grad(b, true);
    lt_tensor_t *y = lt_layer_norm(x, 1, &d, w, b, 1e-5);
    lt_tensor_t *g = lt_from_host(a, LT_F32, 3, shape, gv);
    ck_assert_int_eq(lt_backward(lt_sum(lt_mul(y, g))), LT_OK);
    out[0] = test_host(y), out[1] = test_host(lt_grad(x));
    out[2] = test_host(lt_grad(w)), out[3] = test_host(lt_grad(b));
    lt_arena_free(a);
    free(xv), free(gv), free(wv), free(bv);
}

START_TEST(op_through_slots_matches_the_composition) {
    const char *dir = getenv("LT_TEST_PLUGIN_DIR");
    ck_assert_msg(dir && dir[0], "LT_TEST_PLUGIN_DIR is not set: run the tests with meson test");
    char path[1024];
    snprintf(path, sizeof path, "%s/abi10_cpu.so", dir);
    lt_device_t *fused = NULL, *composed = NULL;
    ck_assert_msg(lt_device_open("cpu", 2, &fused) == LT_OK, "%s", lt_last_error());
    ck_assert_msg(lt_device_open(path, 2, &composed) == LT_OK, "%s", lt_last_error());
    const int64_t rows = 24, d = 40, n[4] = {rows * d, rows * d, d, d};
    const char *what[4] = {"y", "dx", "dw", "db"};
    float *f[4], *c[4];
    op_on(fused, rows, d, f);
    op_on(composed, rows, d, c);
    for (int t = 0; t < 4; t++) {
        for (int64_t i = 0; i < n[t]; i++)
            ck_assert_msg(fabsf(f[t][i] - c[t][i]) <=
                              1e-5f * (1 + fabsf(c[t][i])) * (t > 1 ? 5 : 1),
                          "%s[%ld]: slots %.8g, composed %.8g", what[t], (long)i, f[t][i], c[t][i]);
        free(f[t]), free(c[t]);
    }
    lt_device_close(fused);
    lt_device_close(composed);
}
END_TEST

Suite *suite_layer_norm(void) {
    Suite *s = suite_create("layer_norm");
    TCase *tc = tcase_create("cpu");
    tcase_add_test(tc, slots_match_double_on_any_threads);
    tcase_add_test(tc, backward_skips_what_is_null);
    tcase_add_test(tc, op_through_slots_matches_the_composition);
    suite_add_tcase(s, tc);
    return s;
}
