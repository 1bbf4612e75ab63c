/* gemm.c — row-major C(M,N) = alpha * op(A) op(B) + beta * C through OpenBLAS (loaded
 * with the CPU's best kernels by blas.c).
 *
 * OpenBLAS threads itself (cpu.c gave it the thread budget); it splits M and N, never K,
 * so results are reproducible for a fixed thread count. */
#include <limits.h>

#include "cpu_impl.h"

/* The largest dimension or leading dimension cblas takes (blasint is 32-bit unless
 * OpenBLAS was built with INTERFACE64). Overridable to test the fallback. */
#ifndef CPU_BLASINT_MAX
#define CPU_BLASINT_MAX (sizeof(blasint) >= 8 ? INT64_MAX : (int64_t)INT_MAX)
#endif

typedef struct {
    int ta, tb;
    int64_t n, k, lda, ldb, ldc;
    float alpha, beta;
    const float *a, *b;
    float *c;
} gemm_args;

/* Element (i, p) of op(X) for a row-major X with leading dimension ld. */
static float op_at(const float *x, int64_t ld, int trans, int64_t i, int64_t p) {
    return trans ? x[p * ld + i] : x[i * ld + p];
}

/* Rows [lo, hi) of C the slow way, in double: only for shapes cblas cannot index. */
static void naive_rows_span(const void *args, int64_t lo, int64_t hi) {
    const gemm_args *g = args;
    for (int64_t i = lo; i < hi; i++) {
        for (int64_t j = 0; j < g->n; j++) {
            double s = 0;
            for (int64_t p = 0; p < g->k; p++)
                s += (double)op_at(g->a, g->lda, g->ta, i, p) * op_at(g->b, g->ldb, g->tb, p, j);
            float *c = &g->c[i * g->ldc + j];
            /* beta == 0 overwrites C (NaN included), as BLAS does. */
            *c = (float)(g->alpha * s) + (g->beta == 0.0f ? 0.0f : g->beta * *c);
        }
    }
}

static int fits_blasint(int64_t v) { return v <= CPU_BLASINT_MAX; }

void cpu_gemm(void *st, int trans_a, int trans_b, int64_t m, int64_t n, int64_t k, float alpha,
              const float *d_a, int64_t lda, const float *d_b, int64_t ldb, float beta, float *d_c,
              int64_t ldc) {
    if (m <= 0 || n <= 0) return; /* cblas would reject a 0 leading dimension */
    cpu_state *cs = st;
    if (cs->half) { /* the test twin's emulated 16-mixed / bf16: inputs rounded first */
        d_a = cpu_half_input(cs, 0, d_a, (trans_a ? k : m) * lda);
        d_b = cpu_half_input(cs, 1, d_b, (trans_b ? n : k) * ldb);
    }
    const gemm_args g = {.ta = trans_a,
                         .tb = trans_b,
                         .n = n,
                         .k = k,
                         .lda = lda,
                         .ldb = ldb,
                         .ldc = ldc,
                         .alpha = alpha,
                         .beta = beta,
                         .a = d_a,
                         .b = d_b,
                         .c = d_c};
    /* k == 0 is legal here (C = beta C) but trips some cblas argument checks. */
    if (k <= 0 || !fits_blasint(m) || !fits_blasint(n) || !fits_blasint(k) || !fits_blasint(lda) ||
        !fits_blasint(ldb) || !fits_blasint(ldc)) {
        cpu_parallel_for(st, m, n * (k > 0 ? k : 1), naive_rows_span, &g);
        return;
    }
    int want = (double)m * (double)n * (double)k < CPU_GEMM_SERIAL_WORK ? 1 : cs->threads;
    if (want != cs->blas_threads) {
        cs->blas.set_num_threads(want);
        cs->blas_threads = want;
    }
    cs->blas.sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
                   trans_b ? CblasTrans : CblasNoTrans, (blasint)m, (blasint)n, (blasint)k, alpha,
                   d_a, (blasint)lda, d_b, (blasint)ldb, beta, d_c, (blasint)ldc);
}
