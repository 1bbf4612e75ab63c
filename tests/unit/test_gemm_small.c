/* The cpu accelerator's unpacked small-GEMM tiles (gemm_small.c) and its worker pool
 * (pool.c), issue #20: each tile set the CPU runs (LT_CPU_GEMM=avx512, avx2) at shapes
 * that end in every kind of tail (rows, columns, k), with operands on cache lines as the
 * accelerator allocates them (the dot form wants that), leading dimensions wider than the
 * product, alpha, beta 0 over NaN and beta 1, against a product in double; the same
 * bits on 1 and 3 threads; two host threads sharing one device; LT_CPU_GEMM refused when
 * unknown or beyond the CPU. */
#include <lt/accelerator.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "cpu_impl.h" /* the tiles' choice rule, compiled into the test (tests/meson.build) */
#include "test_util.h"

typedef struct gemm_case {
    int64_t m, n, k;
    int ta, tb;
} gemm_case;

/* Shapes the small tiles take (2^18 to 2^24 multiply-adds; NT with k >= 64, TN and NN
 * with n >= 16; TN and NN past 2^24 with at most 256 rows and k): the demo MLP's, and odd
 * sizes for the tails of both tile sets (AVX-512: dot 6x4, outer 8 rows x 48 columns;
 * AVX2: dot 3x4, outer 6 x 16). */
static const gemm_case small_cases[] = {
    {64, 128, 784, 0, 1}, /* forward x W^T */
    {128, 784, 64, 1, 0}, /* weight gradient g^T x */
    {64, 256, 128, 0, 0}, /* input gradient g W */
    {67, 131, 101, 0, 1}, /* every tail: rows, columns, k % 16 */
    {101, 77, 67, 1, 0},   {53, 83, 71, 0, 0},   {35, 17, 500, 0, 1},
    {29, 97, 99, 1, 0},    {41, 6001, 79, 1, 0}, /* past 2^24, skinny: the cnn's weight gradient, split on the pool */
    {97, 2003, 101, 0, 0},
};

/* A leading dimension on whole cache lines (a multiple of 16 floats). */
static int64_t line_ld(int64_t cols) { return (cols + 15) / 16 * 16; }

/* n floats on a cache line, as the accelerator's allocations are. */
static float *line_alloc(int64_t n) {
    float *p = aligned_alloc(64, (size_t)(n + 15) / 16 * 16 * sizeof *p);
    ck_assert_ptr_nonnull(p);
    return p;
}

static double ref_at(const float *a, int64_t lda, const float *b, int64_t ldb, const gemm_case *s,
                     int64_t i, int64_t j) {
    double sum = 0.0;
    for (int64_t p = 0; p < s->k; p++)
        sum += (double)(s->ta ? a[p * lda + i] : a[i * lda + p]) *
               (s->tb ? b[j * ldb + p] : b[p * ldb + j]);
    return sum;
}

static lt_device_t *open_cpu(const char *tiles, int threads) {
    if (tiles)
        setenv("LT_CPU_GEMM", tiles, 1); /* read when the cpu plugin's device opens */
    else
        unsetenv("LT_CPU_GEMM");
    lt_device_t *dev = NULL;
    lt_status s = lt_device_open("cpu", threads, &dev);
    unsetenv("LT_CPU_GEMM");
    ck_assert_msg(s == LT_OK, "%s", lt_last_error());
    return dev;
}

/* C = alpha op(A) op(B) + beta C0 into a C with pad spare columns, checked element by
 * element; C0 is NaN for beta 0 (which must overwrite it). */
static void check_case(const lt_accelerator_desc *k, void *st, const gemm_case *s, float alpha,
                       float beta, int64_t pad) {
    const int64_t ldc = s->n + pad;
    const int64_t lda = line_ld(s->ta ? s->m : s->k), ldb = line_ld(s->tb ? s->k : s->n);
    const int64_t a_len = (s->ta ? s->k : s->m) * lda, b_len = (s->tb ? s->n : s->k) * ldb;
    float *a = line_alloc(a_len), *b = line_alloc(b_len), *c = line_alloc(s->m * ldc);
    test_fill(a, a_len, 41, -1.0f, 1.0f, 0.0f);
    test_fill(b, b_len, 42, -1.0f, 1.0f, 0.0f);
    for (int64_t i = 0; i < s->m * ldc; i++) c[i] = beta == 0.0f ? NAN : (float)(i % 5) - 2.0f;
    k->gemm(st, s->ta, s->tb, s->m, s->n, s->k, alpha, a, lda, b, ldb, beta, c, ldc);
    for (int64_t i = 0; i < s->m; i++)
        for (int64_t j = 0; j < ldc; j++) {
            const float c0 = beta == 0.0f ? NAN : (float)((i * ldc + j) % 5) - 2.0f;
            const float got = c[i * ldc + j];
            if (j >= s->n) {
                ck_assert_msg(beta == 0.0f ? isnan(got) : got == c0, "C[%ld][%ld] was written",
                              (long)i, (long)j);
                continue;
            }
            const double want =
                alpha * ref_at(a, lda, b, ldb, s, i, j) + (beta == 0.0f ? 0.0 : beta * c0);
            ck_assert_msg(fabs(got - want) <= 1e-4 * (1.0 + fabs(want)),
                          "%ldx%ldx%ld ta %d tb %d alpha %g beta %g: C[%ld][%ld] = %.7g, want %.7g",
                          (long)s->m, (long)s->n, (long)s->k, s->ta, s->tb, alpha, beta, (long)i,
                          (long)j, got, want);
        }
    free(a);
    free(b);
    free(c);
}

static void check_tiles(const char *tiles, const char *named) {
    lt_device_t *dev = open_cpu(tiles, 2);
    ck_assert_msg(strstr(lt_device_describe(dev), named), "describe says '%s', want '%s'",
                  lt_device_describe(dev), named);
    void *st = NULL;
    const lt_accelerator_desc *k = lt_device_kernels(dev, &st);
    for (size_t i = 0; i < sizeof small_cases / sizeof small_cases[0]; i++) {
        check_case(k, st, &small_cases[i], 1.0f, 0.0f, 0);
        check_case(k, st, &small_cases[i], 0.5f, 1.0f, 3);
        check_case(k, st, &small_cases[i], -2.0f, 0.25f, 17);
    }
    lt_device_close(dev);
}

START_TEST(avx512_tiles) {
    if (!__builtin_cpu_supports("avx512f")) {
        printf("gemm_small: no AVX-512 on this CPU, avx512 tiles not tested\n");
        return;
    }
    check_tiles("avx512", "own AVX-512 tiles");
    check_tiles(NULL, "own AVX-512 tiles"); /* auto picks them */
}
END_TEST

START_TEST(avx2_tiles) {
    if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma")) {
        printf("gemm_small: no AVX2 and FMA on this CPU, avx2 tiles not tested\n");
        return;
    }
    check_tiles("avx2", "own AVX2 tiles");
}
END_TEST

/* The cases above are the tiles'; outside the work range, A^T B^T, or rows of the dot
 * form off cache lines, OpenBLAS computes. */
START_TEST(which_gemms_the_tiles_take) {
    float *x = line_alloc(128 * 800);
    for (size_t i = 0; i < sizeof small_cases / sizeof small_cases[0]; i++) {
        const gemm_case *c = &small_cases[i];
        ck_assert_msg(cpu_small_gemm_takes(CPU_SMALL_AVX512, c->ta, c->tb, c->m, c->n, c->k, x,
                                           line_ld(c->ta ? c->m : c->k), x,
                                           line_ld(c->tb ? c->k : c->n)),
                      "case %zu", i);
    }
    ck_assert(!cpu_small_gemm_takes(CPU_SMALL_NONE, 0, 1, 64, 128, 784, x, 784, x, 784));
    ck_assert(!cpu_small_gemm_takes(CPU_SMALL_AVX512, 1, 1, 64, 128, 784, x, 64, x, 784));
    ck_assert(!cpu_small_gemm_takes(CPU_SMALL_AVX512, 0, 1, 8, 8, 784, x, 784, x, 784));
    ck_assert(!cpu_small_gemm_takes(CPU_SMALL_AVX512, 0, 1, 512, 4096, 784, x, 784, x, 784));
    ck_assert(!cpu_small_gemm_takes(CPU_SMALL_AVX512, 0, 1, 64, 128, 784, x + 4, 784, x, 784));
    ck_assert(!cpu_small_gemm_takes(CPU_SMALL_AVX512, 0, 1, 64, 128, 780, x, 780, x, 780));
    ck_assert(cpu_small_gemm_takes(CPU_SMALL_AVX512, 1, 0, 128, 784, 64, x + 4, 128, x, 784));
    /* past 2^24: the outer form of at most 256 rows and k only */
    ck_assert(cpu_small_gemm_takes(CPU_SMALL_AVX512, 1, 0, 128, 6272, 64, x, 128, x, 6272));
    ck_assert(!cpu_small_gemm_takes(CPU_SMALL_AVX512, 0, 1, 64, 128, 6272, x, 6272, x, 6272));
    ck_assert(!cpu_small_gemm_takes(CPU_SMALL_AVX512, 1, 0, 1024, 1024, 64, x, 1024, x, 1024));
    ck_assert(!cpu_small_gemm_takes(CPU_SMALL_AVX512, 0, 0, 64, 1024, 1024, x, 1024, x, 1024));
    free(x);
}
END_TEST

START_TEST(openblas_when_asked) {
    lt_device_t *dev = open_cpu("openblas", 2);
    ck_assert_ptr_null(strstr(lt_device_describe(dev), "own "));
    lt_device_close(dev);
}
END_TEST

/* One GEMM of each form on `threads` threads, into out (the cases' outputs back to back). */
/* The widest tiles this CPU runs (the default is OpenBLAS on an AVX2-only CPU), or NULL. */
static const char *widest_tiles(void) {
    if (__builtin_cpu_supports("avx512f")) return "avx512";
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return "avx2";
    return NULL;
}

static void run_forms(int threads, float *out, const float *a, const float *b) {
    lt_device_t *dev = open_cpu(widest_tiles(), threads);
    void *st = NULL;
    const lt_accelerator_desc *k = lt_device_kernels(dev, &st);
    for (int i = 0; i < 3; i++) {
        const gemm_case *s = &small_cases[i];
        k->gemm(st, s->ta, s->tb, s->m, s->n, s->k, 1.0f, a, s->ta ? s->m : s->k, b,
                s->tb ? s->k : s->n, 0.0f, out, s->n);
        out += s->m * s->n;
    }
    lt_device_close(dev);
}

/* The tiles compute an element the same way in any block: no dependence on threads. */
START_TEST(same_bits_on_any_thread_count) {
    if (!widest_tiles()) {
        printf("gemm_small: no AVX2 or AVX-512 on this CPU, no tiles to test\n");
        return;
    }
    enum { MAX = 128 * 784 };
    float *a = line_alloc(MAX), *b = line_alloc(MAX);
    float *one = line_alloc(3 * MAX), *three = line_alloc(3 * MAX);
    memset(one, 0, 3 * MAX * sizeof *one);
    memset(three, 0, 3 * MAX * sizeof *three);
    test_fill(a, MAX, 51, -1.0f, 1.0f, 0.0f);
    test_fill(b, MAX, 52, -1.0f, 1.0f, 0.0f);
    run_forms(1, one, a, b);
    run_forms(3, three, a, b);
    ck_assert(memcmp(one, three, 3 * MAX * sizeof *one) == 0);
    free(a);
    free(b);
    free(one);
    free(three);
}
END_TEST

typedef struct {
    const lt_accelerator_desc *k;
    void *st;
    const float *a, *b;
    float *c;
} shared_job;

static void *gemm_many(void *arg) {
    const shared_job *j = arg;
    for (int r = 0; r < 50; r++)
        j->k->gemm(j->st, 0, 1, 64, 128, 784, 1.0f, j->a, 784, j->b, 784, 0.0f, j->c, 128);
    return NULL;
}

/* Two host threads on one device: one gets the pool, the other runs inline; both right. */
START_TEST(two_callers_share_the_pool) {
    lt_device_t *dev = open_cpu(NULL, 2);
    void *st = NULL;
    const lt_accelerator_desc *k = lt_device_kernels(dev, &st);
    float *a = line_alloc(64 * 784), *b = line_alloc(128 * 784);
    float *want = line_alloc(64 * 128), *c[2];
    test_fill(a, 64 * 784, 61, -1.0f, 1.0f, 0.0f);
    test_fill(b, 128 * 784, 62, -1.0f, 1.0f, 0.0f);
    k->gemm(st, 0, 1, 64, 128, 784, 1.0f, a, 784, b, 784, 0.0f, want, 128);
    pthread_t t[2];
    shared_job jobs[2];
    for (int i = 0; i < 2; i++) {
        c[i] = line_alloc(64 * 128);
        jobs[i] = (shared_job){k, st, a, b, c[i]};
        ck_assert_int_eq(pthread_create(&t[i], NULL, gemm_many, &jobs[i]), 0);
    }
    for (int i = 0; i < 2; i++) {
        pthread_join(t[i], NULL);
        ck_assert(memcmp(c[i], want, 64 * 128 * sizeof *want) == 0);
        free(c[i]);
    }
    free(a);
    free(b);
    free(want);
    lt_device_close(dev);
}
END_TEST

START_TEST(bad_choice_is_refused) {
    setenv("LT_CPU_GEMM", "avx1024", 1);
    lt_device_t *dev = NULL;
    ck_assert_int_ne(lt_device_open("cpu", 1, &dev), LT_OK);
    unsetenv("LT_CPU_GEMM");
    ck_assert_msg(strstr(lt_last_error(), "LT_CPU_GEMM='avx1024' is not one of"), "%s",
                  lt_last_error());
    if (!__builtin_cpu_supports("avx512f")) {
        setenv("LT_CPU_GEMM", "avx512", 1);
        ck_assert_int_ne(lt_device_open("cpu", 1, &dev), LT_OK);
        unsetenv("LT_CPU_GEMM");
        ck_assert_msg(strstr(lt_last_error(), "which this CPU lacks"), "%s", lt_last_error());
    }
}
END_TEST

Suite *suite_gemm_small(void) {
    Suite *s = suite_create("gemm_small");
    TCase *tc = tcase_create("cpu");
    tcase_add_test(tc, avx512_tiles);
    tcase_add_test(tc, avx2_tiles);
    tcase_add_test(tc, which_gemms_the_tiles_take);
    tcase_add_test(tc, openblas_when_asked);
    tcase_add_test(tc, same_bits_on_any_thread_count);
    tcase_add_test(tc, two_callers_share_the_pool);
    tcase_add_test(tc, bad_choice_is_refused);
    suite_add_tcase(s, tc);
    return s;
}
