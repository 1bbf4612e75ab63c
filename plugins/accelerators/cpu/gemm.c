/* gemm.c — row-major C(M,N) = alpha * op(A) op(B) + beta * C through OpenBLAS (loaded
 * with the CPU's best kernels by blas.c), or gemm_small.c's kernels for small shapes.
 *
 * OpenBLAS threads itself (cpu.c gave it the thread budget) on large GEMMs; mid-sized
 * ones are cut into blocks here. Blocks split M or N, never K, so results are
 * reproducible for a fixed thread count (and the small kernels' for any). */
#include <limits.h>
#include <string.h>

#include "cpu_impl.h"

/* The largest dimension or leading dimension cblas takes (blasint is 32-bit unless
 * OpenBLAS was built with INTERFACE64). Overridable to test the fallback. */
#ifndef CPU_BLASINT_MAX
#define CPU_BLASINT_MAX (sizeof(blasint) >= 8 ? INT64_MAX : (int64_t)INT_MAX)
#endif

typedef struct {
    int ta, tb;
    bool small; /* gemm_small.c's kernels compute it (a choice made on the whole shape) */
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

/* Whether cblas can take the sizes (k == 0 is legal here, C = beta C, but trips some
 * cblas argument checks). */
static bool cblas_takes(int64_t m, int64_t n, int64_t k, int64_t lda, int64_t ldb, int64_t ldc) {
    return k > 0 && fits_blasint(m) && fits_blasint(n) && fits_blasint(k) && fits_blasint(lda) &&
           fits_blasint(ldb) && fits_blasint(ldc);
}

static gemm_args gemm_args_of(int ta, int tb, int64_t n, int64_t k, float alpha, const float *a,
                              int64_t lda, const float *b, int64_t ldb, float beta, float *c,
                              int64_t ldc) {
    return (gemm_args){.ta = ta,
                       .tb = tb,
                       .n = n,
                       .k = k,
                       .lda = lda,
                       .ldb = ldb,
                       .ldc = ldc,
                       .alpha = alpha,
                       .beta = beta,
                       .a = a,
                       .b = b,
                       .c = c};
}

/* Rows [r0, r0 + m) by columns [c0, c0 + n) of C, one call of the small kernels or of
 * OpenBLAS. OpenBLAS's kernels always add into C, and for beta = 0 it first clears C with
 * its own loop, which took 5-60 us more per call than memset at the demo MLP's shapes
 * (bench/RESULTS.md): C is cleared here instead and the call accumulates (beta = 1). */
static void blas_block(const cpu_state *cs, const gemm_args *g, int64_t m, int64_t n, int64_t r0,
                       int64_t c0) {
    const float *a = g->a + (g->ta ? r0 : r0 * g->lda), *b = g->b + (g->tb ? c0 * g->ldb : c0);
    float *c = g->c + r0 * g->ldc + c0, beta = g->beta;
    if (g->small) {
        cpu_small_gemm(cs->small, g->ta, g->tb, m, n, g->k, g->alpha, a, g->lda, b, g->ldb, beta, c,
                       g->ldc);
        return;
    }
    if (beta == 0.0f && cs->blas_threads == 1) { /* OpenBLAS's threads clear big C's */
        if (g->ldc == n)
            memset(c, 0, (size_t)(m * n) * sizeof *c);
        else
            for (int64_t i = 0; i < m; i++) memset(c + i * g->ldc, 0, (size_t)n * sizeof *c);
        beta = 1.0f;
    }
    cs->blas.sgemm(CblasRowMajor, g->ta ? CblasTrans : CblasNoTrans,
                   g->tb ? CblasTrans : CblasNoTrans, (blasint)m, (blasint)n, (blasint)g->k,
                   g->alpha, a, (blasint)g->lda, b, (blasint)g->ldb, beta, c, (blasint)g->ldc);
}

typedef struct {
    const cpu_state *cs;
    const gemm_args *g;
    int64_t m, parts;
    bool by_rows;
} split_args;

/* Part p's first row (or column) of `len`: a multiple of 16 floats, so each part's
 * micro-kernel tiles line up with the whole call's. */
static int64_t part_start(int64_t len, int64_t parts, int64_t p) {
    int64_t at = (len * p / parts + 8) / 16 * 16;
    return p == 0 ? 0 : p == parts ? len : at < len ? at : len;
}

/* Parts [lo, hi), one OpenBLAS call each: the same calls whoever runs them. */
static void split_span(const void *args, int64_t lo, int64_t hi) {
    const split_args *s = args;
    int64_t len = s->by_rows ? s->m : s->g->n;
    for (int64_t p = lo; p < hi; p++) {
        int64_t a = part_start(len, s->parts, p), b = part_start(len, s->parts, p + 1);
        if (b <= a) continue;
        if (s->by_rows)
            blas_block(s->cs, s->g, b - a, s->g->n, a, 0);
        else
            blas_block(s->cs, s->g, s->m, b - a, 0, a);
    }
}

/* A GEMM too small for OpenBLAS's own threads (a heap buffer and a team wake-up per
 * call) but worth two cores: C cut into blocks along the dimension whose operand is
 * larger, each block one single-threaded call. OpenBLAS packs all of the other operand
 * per block, so it gets one block per thread; the small kernels pack nothing and get a few
 * per thread, which the pool hands to whichever thread is free. */
static void split_gemm(cpu_state *cs, int64_t m, const gemm_args *g) {
    split_args s = {.cs = cs,
                    .g = g,
                    .m = m,
                    .parts = cs->threads * (g->small ? CPU_CHUNKS_PER_THREAD : 1),
                    .by_rows = m > g->n};
    cpu_parallel_for(cs, s.parts, CPU_PAR_MIN, split_span, &s);
}

void cpu_gemm(void *st, int trans_a, int trans_b, int64_t m, int64_t n, int64_t k, float alpha,
              const float *d_a, int64_t lda, const float *d_b, int64_t ldb, float beta, float *d_c,
              int64_t ldc) {
    if (m <= 0 || n <= 0) return; /* cblas would reject a 0 leading dimension */
    cpu_state *cs = st;
#ifdef CPU_WITH_DNNL
    if (cs->bf16 && cpu_bf16_gemm(cs, trans_a, trans_b, m, n, k, alpha, d_a, lda, d_b, ldb, beta,
                                  d_c, ldc) == 0)
        return; /* bf16-mixed on the CPU's bf16 units */
#endif
    if (cs->half) { /* mixed precision emulated: inputs rounded first */
        d_a = cpu_half_input(cs, 0, d_a, (trans_a ? k : m) * lda);
        d_b = cpu_half_input(cs, 1, d_b, (trans_b ? n : k) * ldb);
    }
    gemm_args g = gemm_args_of(trans_a, trans_b, n, k, alpha, d_a, lda, d_b, ldb, beta, d_c, ldc);
    g.small = cpu_small_gemm_takes(cs->small, trans_a, trans_b, m, n, k, d_a, lda, d_b, ldb);
    if (!cblas_takes(m, n, k, lda, ldb, ldc)) {
        cpu_parallel_for(st, m, n * (k > 0 ? k : 1), naive_rows_span, &g);
        return;
    }
    /* the small kernels are single-threaded: a large GEMM of theirs is split too */
    double work = (double)m * (double)n * (double)k;
    int want = work < CPU_GEMM_SERIAL_WORK || g.small ? 1 : cs->threads;
    if (want != cs->blas_threads) {
        cs->blas.set_num_threads(want);
        cs->blas_threads = want;
    }
    if (want == 1 && cs->threads > 1 && work >= CPU_GEMM_SPLIT_WORK) {
        split_gemm(cs, m, &g);
        return;
    }
    blas_block(cs, &g, m, n, 0, 0);
}

typedef struct {
    const cpu_state *cs;
    gemm_args g; /* the first product's */
    int64_t m, stride_a, stride_b, stride_c;
} batch_args;

/* Products [lo, hi) of a batch, each one single-threaded call. */
static void batch_span(const void *args, int64_t lo, int64_t hi) {
    const batch_args *ba = args;
    for (int64_t i = lo; i < hi; i++) {
        gemm_args g = ba->g;
        g.a += i * ba->stride_a, g.b += i * ba->stride_b, g.c += i * ba->stride_c;
        g.small = cpu_small_gemm_takes(ba->cs->small, g.ta, g.tb, ba->m, g.n, g.k, g.a, g.lda, g.b,
                                       g.ldb);
        blas_block(ba->cs, &g, ba->m, g.n, 0, 0);
    }
}

int cpu_gemm_batched(void *st, int trans_a, int trans_b, int64_t m, int64_t n, int64_t k,
                     float alpha, const float *d_a, int64_t lda, int64_t stride_a, const float *d_b,
                     int64_t ldb, int64_t stride_b, float beta, float *d_c, int64_t ldc,
                     int64_t stride_c, int64_t batch) {
    if (m <= 0 || n <= 0 || batch <= 0) return 0; /* no C to write */
    cpu_state *cs = st;
#ifdef CPU_WITH_DNNL
    if (cs->bf16)
        return cpu_bf16_gemm_batched(cs, trans_a, trans_b, m, n, k, alpha, d_a, lda, stride_a, d_b,
                                     ldb, stride_b, beta, d_c, ldc, stride_c, batch);
#endif
    /* The batch is shared out, each product one single-threaded call. cpu_gemm (liblt's
     * loop, after a decline) does better where it threads a product itself: a large one,
     * or a mid-sized one in a batch shorter than the threads; and it alone rounds the
     * emulated half inputs (into buffers the products would share). */
    const double work = (double)m * (double)n * (double)k;
    if (cs->half || work >= CPU_GEMM_SERIAL_WORK ||
        (work >= CPU_GEMM_SPLIT_WORK && batch < cs->threads) ||
        !cblas_takes(m, n, k, lda, ldb, ldc))
        return 1;
    if (cs->blas_threads != 1) {
        cs->blas.set_num_threads(1);
        cs->blas_threads = 1;
    }
    const batch_args ba = {
        .cs = cs,
        .g = gemm_args_of(trans_a, trans_b, n, k, alpha, d_a, lda, d_b, ldb, beta, d_c, ldc),
        .m = m,
        .stride_a = stride_a,
        .stride_b = stride_b,
        .stride_c = stride_c};
    cpu_parallel_for(cs, batch, m * n * k, batch_span, &ba);
    return 0;
}
