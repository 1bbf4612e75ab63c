/* The cpu accelerator's gemm_batched slot on 2 threads (issue 18): every transposition,
 * small and mid-sized products, an input shared by every product (stride 0), C wider than
 * the product and matrices spaced wider than C, beta 0 over NaN and beta 1 accumulating,
 * against a product in double; what it must leave to liblt's loop (products it would
 * not thread as well as gemm does) it declines, C untouched. */
#include <lt/accelerator.h>
#include <math.h>
#include <string.h>

#include "test_util.h"

typedef struct batch_case {
    int64_t m, n, k, batch;
    int once; /* 1: every product reads A[0]; 2: B[0] */
} batch_case;

typedef struct batch_mem {
    float *a, *b, *c;
    int64_t lda, ldb, ldc, sa, sb, sc;
} batch_mem;

/* Operands for c in transposition (ta, tb): C with 3 spare columns and 7 floats more
 * between matrices, filled with NaN (beta 0) or a pattern (beta 1). */
static batch_mem batch_alloc(const batch_case *c, int ta, int tb, float beta) {
    batch_mem t = {.lda = ta ? c->m : c->k, .ldb = tb ? c->k : c->n, .ldc = c->n + 3};
    t.sa = c->once == 1 ? 0 : c->m * c->k, t.sb = c->once == 2 ? 0 : c->k * c->n;
    t.sc = c->m * t.ldc + 7;
    const int64_t na = c->once == 1 ? c->m * c->k : c->batch * t.sa;
    const int64_t nb = c->once == 2 ? c->k * c->n : c->batch * t.sb, nc = c->batch * t.sc;
    t.a = malloc((size_t)na * sizeof *t.a), t.b = malloc((size_t)nb * sizeof *t.b);
    t.c = malloc((size_t)nc * sizeof *t.c);
    ck_assert(t.a && t.b && t.c);
    test_fill(t.a, na, 31, -1.0f, 1.0f, 0.0f);
    test_fill(t.b, nb, 32, -1.0f, 1.0f, 0.0f);
    for (int64_t i = 0; i < nc; i++) t.c[i] = beta == 0.0f ? NAN : (float)(i % 7) - 3.0f;
    return t;
}

static void batch_free(batch_mem *t) {
    free(t->a);
    free(t->b);
    free(t->c);
}

/* C_i = 0.5 op(A_i) op(B_i) + beta C0_i within float32 accumulation error; every float
 * of C outside the products untouched. */
static void expect_products(const batch_case *c, int ta, int tb, float beta, const batch_mem *t) {
    for (int64_t i = 0; i < c->batch * t->sc; i++) {
        const int64_t p = i / t->sc, r = i % t->sc / t->ldc, col = i % t->sc % t->ldc;
        const float c0 = beta == 0.0f ? NAN : (float)(i % 7) - 3.0f, got = t->c[i];
        if (r >= c->m || col >= c->n) {
            ck_assert_msg(beta == 0.0f ? isnan(got) : got == c0, "C float %ld written", (long)i);
            continue;
        }
        const float *a = t->a + p * t->sa, *b = t->b + p * t->sb;
        double want = 0.0, mag = 0.0;
        for (int64_t q = 0; q < c->k; q++) {
            const double x = ta ? a[q * t->lda + r] : a[r * t->lda + q];
            const double y = tb ? b[col * t->ldb + q] : b[q * t->ldb + col];
            want += x * y, mag += fabs(x * y);
        }
        const double add = beta == 0.0f ? 0.0 : beta * c0;
        want = 0.5 * want + add;
        ck_assert_msg(fabs(got - want) <= 1e-5 * (1.0 + 0.5 * mag + fabs(add)),
                      "%ldx%ldx%ld x%ld ta %d tb %d beta %g: C_%ld[%ld][%ld] = %.7g, want %.7g",
                      (long)c->m, (long)c->n, (long)c->k, (long)c->batch, ta, tb, beta, (long)p,
                      (long)r, (long)col, got, want);
    }
}

static int call(const lt_accelerator_desc *k, void *st, const batch_case *c, int ta, int tb,
                float beta, const batch_mem *t) {
    return k->gemm_batched(st, ta, tb, c->m, c->n, c->k, 0.5f, t->a, t->lda, t->sa, t->b, t->ldb,
                           t->sb, beta, t->c, t->ldc, t->sc, c->batch);
}

/* The cpu accelerator on 2 threads: its kernels (with gemm_batched) and state. */
static lt_device_t *open_cpu2(const lt_accelerator_desc **k, void **st) {
    lt_device_t *dev = NULL;
    ck_assert_msg(lt_device_open("cpu", 2, &dev) == LT_OK, "%s", lt_last_error());
    *k = lt_device_kernels(dev, st);
    ck_assert(*k && (*k)->gemm_batched);
    return dev;
}

START_TEST(batched_products_match_double) {
    void *st = NULL;
    const lt_accelerator_desc *k = NULL;
    lt_device_t *dev = open_cpu2(&k, &st);
    /* attention's shapes in small; a mid-sized one (over 2^20 multiply-adds) in a batch of
     * at least the thread count; odd sizes for the small kernels' edges */
    const batch_case cases[] = {{8, 5, 3, 7, 0},     {40, 33, 17, 9, 0},   {16, 16, 8, 5, 1},
                                {16, 16, 8, 5, 2},   {64, 128, 130, 2, 0}, {128, 32, 128, 6, 0},
                                {128, 128, 32, 6, 1}};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        for (int tr = 0; tr < 4; tr++)
            for (int z = 0; z < 2; z++) {
                const float beta = (float)z;
                batch_mem t = batch_alloc(&cases[i], tr & 1, tr >> 1, beta);
                ck_assert_int_eq(call(k, st, &cases[i], tr & 1, tr >> 1, beta, &t), 0);
                expect_products(&cases[i], tr & 1, tr >> 1, beta, &t);
                batch_free(&t);
            }
    lt_device_close(dev);
}
END_TEST

/* A mid-sized product in a batch shorter than the threads, and a product gemm would run
 * on all threads: declined, C as it was. */
START_TEST(declines_what_gemm_threads_better) {
    void *st = NULL;
    const lt_accelerator_desc *k = NULL;
    lt_device_t *dev = open_cpu2(&k, &st);
    const batch_case cases[] = {{64, 128, 130, 1, 0}, {256, 512, 256, 2, 2}};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        batch_mem t = batch_alloc(&cases[i], 0, 1, 0.0f);
        ck_assert_int_ne(call(k, st, &cases[i], 0, 1, 0.0f, &t), 0);
        for (int64_t j = 0; j < cases[i].batch * t.sc; j++) ck_assert(isnan(t.c[j]));
        batch_free(&t);
    }
    lt_device_close(dev);
}
END_TEST

Suite *suite_gemm_batched(void) {
    Suite *s = suite_create("gemm_batched");
    TCase *tc = tcase_create("cpu");
    tcase_add_test(tc, batched_products_match_double);
    tcase_add_test(tc, declines_what_gemm_threads_better);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);
    return s;
}
