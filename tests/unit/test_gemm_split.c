/* The cpu accelerator's gemm slot on 2 threads at mid-sized shapes, where gemm.c cuts C
 * into blocks (issue #20): every transpose, both cutting directions, a C
 * wider than the product (ldc > n), beta 0 over garbage and beta 1 accumulating, against
 * a product in double. */
#include <lt/accelerator.h>
#include <math.h>
#include <string.h>

#include "test_util.h"

typedef struct shape {
    int64_t m, n, k;
    int ta, tb;
} shape;

static double ref_at(const float *a, const float *b, const shape *s, int64_t i, int64_t j) {
    int64_t lda = s->ta ? s->m : s->k, ldb = s->tb ? s->k : s->n;
    double sum = 0.0;
    for (int64_t p = 0; p < s->k; p++)
        sum += (double)(s->ta ? a[p * lda + i] : a[i * lda + p]) *
               (s->tb ? b[j * ldb + p] : b[p * ldb + j]);
    return sum;
}

/* C = 0.5 op(A) op(B) + beta C0, C0 = garbage (NaN for beta 0, which must overwrite). */
static void check(const lt_accelerator_desc *k, void *st, const shape *s, float beta, int64_t pad) {
    int64_t ldc = s->n + pad; /* pad: columns of C that the product must not touch */
    float *a = malloc((size_t)(s->m * s->k) * sizeof *a);
    float *b = malloc((size_t)(s->k * s->n) * sizeof *b);
    float *c = malloc((size_t)(s->m * ldc) * sizeof *c);
    ck_assert(a && b && c);
    test_fill(a, s->m * s->k, 21, -1.0f, 1.0f, 0.0f);
    test_fill(b, s->k * s->n, 22, -1.0f, 1.0f, 0.0f);
    for (int64_t i = 0; i < s->m * ldc; i++) c[i] = beta == 0.0f ? NAN : (float)(i % 7) - 3.0f;
    k->gemm(st, s->ta, s->tb, s->m, s->n, s->k, 0.5f, a, s->ta ? s->m : s->k, b,
            s->tb ? s->k : s->n, beta, c, ldc);
    for (int64_t i = 0; i < s->m; i++) {
        for (int64_t j = 0; j < ldc; j++) {
            float c0 = beta == 0.0f ? NAN : (float)((i * ldc + j) % 7) - 3.0f;
            float got = c[i * ldc + j];
            if (j >= s->n) { /* outside the product: untouched */
                ck_assert_msg(beta == 0.0f ? isnan(got) : got == c0, "C[%ld][%ld] was written",
                              (long)i, (long)j);
                continue;
            }
            double want = 0.5 * ref_at(a, b, s, i, j) + (beta == 0.0f ? 0.0 : beta * c0);
            ck_assert_msg(fabs(got - want) <= 1e-4 * (1.0 + fabs(want)),
                          "%ldx%ldx%ld ta %d tb %d beta %g: C[%ld][%ld] = %.6f, want %.6f",
                          (long)s->m, (long)s->n, (long)s->k, s->ta, s->tb, beta, (long)i, (long)j,
                          got, want);
        }
    }
    free(a);
    free(b);
    free(c);
}

START_TEST(two_threads_cut_c_correctly) {
    lt_device_t *dev = NULL;
    ck_assert_msg(lt_device_open("cpu", 2, &dev) == LT_OK, "%s", lt_last_error());
    void *st = NULL;
    const lt_accelerator_desc *k = lt_device_kernels(dev, &st);
    ck_assert_ptr_nonnull(k);
    /* each above CPU_GEMM_SPLIT_WORK (2^20 multiply-adds), under CPU_GEMM_SERIAL_WORK
     * (2^25); n >= m: cut by columns (n not a multiple of 16); m > n: by rows */
    const shape shapes[] = {{64, 300, 72, 0, 0},
                            {64, 300, 72, 1, 1},
                            {300, 60, 80, 0, 1},
                            {300, 60, 80, 1, 0},
                            {129, 131, 70, 1, 1}};
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        const shape *s = &shapes[i];
        ck_assert(s->m * s->n * s->k >= (1 << 20));
        for (int64_t pad = 0; pad <= 5; pad += 5) {
            check(k, st, s, 0.0f, pad);
            check(k, st, s, 1.0f, pad);
        }
    }
    lt_device_close(dev);
}
END_TEST

/* The pool hands a GEMM's blocks to whichever thread is free, or runs them all on the
 * caller when its workers measured late: the same bits every call. */
START_TEST(results_do_not_depend_on_how_blocks_ran) {
    lt_device_t *dev = NULL;
    ck_assert_msg(lt_device_open("cpu", 2, &dev) == LT_OK, "%s", lt_last_error());
    void *st = NULL;
    const lt_accelerator_desc *k = lt_device_kernels(dev, &st);
    enum { M = 64, N = 300, K = 72, CALLS = 40 };
    float *a = malloc(M * K * sizeof *a), *b = malloc(K * N * sizeof *b);
    float *first = malloc(M * N * sizeof *first), *c = malloc(M * N * sizeof *c);
    ck_assert(a && b && first && c);
    test_fill(a, M * K, 31, -1.0f, 1.0f, 0.0f);
    test_fill(b, K * N, 32, -1.0f, 1.0f, 0.0f);
    k->gemm(st, 0, 0, M, N, K, 1.0f, a, K, b, N, 0.0f, first, N);
    for (int i = 1; i < CALLS; i++) {
        k->gemm(st, 0, 0, M, N, K, 1.0f, a, K, b, N, 0.0f, c, N);
        ck_assert_msg(memcmp(first, c, M * N * sizeof *c) == 0, "call %d differs", i);
    }
    free(a);
    free(b);
    free(first);
    free(c);
    lt_device_close(dev);
}
END_TEST

Suite *suite_gemm_split(void) {
    Suite *s = suite_create("gemm_split");
    TCase *tc = tcase_create("cpu");
    tcase_add_test(tc, two_threads_cut_c_correctly);
    tcase_add_test(tc, results_do_not_depend_on_how_blocks_ran);
    suite_add_tcase(s, tc);
    return s;
}
