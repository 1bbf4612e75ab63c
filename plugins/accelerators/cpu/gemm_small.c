/* gemm_small.c — GEMMs of a small model's step without packing (issue #20).
 *
 * OpenBLAS copies both operands into its panel layout on every call. At a batch-64 MLP's
 * shapes (64x784 by 784x128) that copy and the 64-row edge held its kernels to ~100
 * GFLOP/s on a core whose large-GEMM peak is ~140 (bench/RESULTS.md). These kernels read
 * the operands where they lie:
 *   A B^T (forward x W^T): dot products along k, both rows contiguous;
 *   A^T B and A B (weight gradient g^T x, input gradient g W): a broadcast element of A
 *   times a row of B, accumulated over k in registers.
 * They are used from CPU_SMALL_MIN to CPU_SMALL_MAX multiply-adds, where they measured
 * faster; above it OpenBLAS's cache blocking wins, except in the outer form with at most
 * CPU_SKINNY rows of C and of k (a batch's weight gradient of a wide layer, its input
 * gradient through a narrow one: the cnn's 6272-128 layer, 1.1-1.4x OpenBLAS). The choice
 * depends only on the shape and the CPU, so a given machine gets the same bits whatever
 * the thread count.
 * LT_CPU_GEMM=openblas turns them off; =avx2 picks the AVX2 tiles (on an AVX2-only CPU
 * or to test them on an AVX-512 one). */
#include <immintrin.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu_impl.h"

#define CPU_SMALL_MIN (1 << 18)
#define CPU_SMALL_MAX (1 << 24)
#define CPU_SKINNY 256

typedef struct {
    int64_t m, n, k, lda, ldb, ldc;
    float alpha, beta;
    const float *a, *b;
    float *c;
} sg_args;

#if defined(__x86_64__) && defined(__GNUC__)

/* ---- AVX-512: 16 floats a vector, 32 registers ---- */
CPU_AVX512 static inline __m512 zero_avx512(void) { return _mm512_setzero_ps(); }
CPU_AVX512 static inline __m512 load_avx512(const float *p) { return _mm512_loadu_ps(p); }
CPU_AVX512 static inline __mmask16 mask_avx512(int64_t n) {
    return (__mmask16)(n >= 16 ? 0xffff : (1u << n) - 1);
}
CPU_AVX512 static inline __m512 load_tail_avx512(const float *p, __mmask16 m) {
    return _mm512_maskz_loadu_ps(m, p);
}
CPU_AVX512 static inline void store_tail_avx512(float *p, __m512 v, __mmask16 m) {
    _mm512_mask_storeu_ps(p, m, v);
}
CPU_AVX512 static inline __m512 bcast_avx512(float x) { return _mm512_set1_ps(x); }
CPU_AVX512 static inline __m512 fma_avx512(__m512 a, __m512 b, __m512 c) {
    return _mm512_fmadd_ps(a, b, c);
}
CPU_AVX512 static inline __m512 mul_avx512(__m512 a, __m512 b) { return _mm512_mul_ps(a, b); }
CPU_AVX512 static inline float sum_avx512(__m512 v) { return _mm512_reduce_add_ps(v); }

#define SG_TARGET "avx512f"
#define SG_SUFFIX _avx512
#define SG_V __m512
#define SG_VL 16
#define SG_MASK __mmask16
#define SG_DOT_MR 6 /* 24 accumulators + 4 rows of B + 1 of A in 32 registers */
#define SG_DOT_NR 4
#define SG_OUT_MR 8 /* 24 accumulators + 3 vectors of B + 1 broadcast */
#define SG_OUT_NV 3
#define sg_zero zero_avx512
#define sg_load load_avx512
#define sg_tail_mask mask_avx512
#define sg_load_tail load_tail_avx512
#define sg_store_tail store_tail_avx512
#define sg_bcast bcast_avx512
#define sg_fma fma_avx512
#define sg_mul mul_avx512
#define sg_sum sum_avx512
#include "gemm_small_tiles.h"

/* ---- AVX2 with FMA: 8 floats a vector, 16 registers ---- */
#define AVX2 __attribute__((target("avx2,fma")))
AVX2 static inline __m256 zero_avx2(void) { return _mm256_setzero_ps(); }
AVX2 static inline __m256 load_avx2(const float *p) { return _mm256_loadu_ps(p); }
AVX2 static inline __m256i mask_avx2(int64_t n) { /* lane i on when i < n */
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n >= 8 ? 8 : (int)n),
                              _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}
AVX2 static inline __m256 load_tail_avx2(const float *p, __m256i m) {
    return _mm256_maskload_ps(p, m);
}
AVX2 static inline void store_tail_avx2(float *p, __m256 v, __m256i m) {
    _mm256_maskstore_ps(p, m, v);
}
AVX2 static inline __m256 bcast_avx2(float x) { return _mm256_set1_ps(x); }
AVX2 static inline __m256 fma_avx2(__m256 a, __m256 b, __m256 c) {
    return _mm256_fmadd_ps(a, b, c);
}
AVX2 static inline __m256 mul_avx2(__m256 a, __m256 b) { return _mm256_mul_ps(a, b); }
AVX2 static inline float sum_avx2(__m256 v) { /* halves, then pairs: a fixed order */
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

#define SG_TARGET "avx2,fma"
#define SG_SUFFIX _avx2
#define SG_V __m256
#define SG_VL 8
#define SG_MASK __m256i
#define SG_DOT_MR 3 /* 12 accumulators + 4 rows of B + 1 of A: 17 for 16 registers */
#define SG_DOT_NR 4
#define SG_OUT_MR 6 /* 12 accumulators + 2 vectors of B + 1 broadcast */
#define SG_OUT_NV 2
#define sg_zero zero_avx2
#define sg_load load_avx2
#define sg_tail_mask mask_avx2
#define sg_load_tail load_tail_avx2
#define sg_store_tail store_tail_avx2
#define sg_bcast bcast_avx2
#define sg_fma fma_avx2
#define sg_mul mul_avx2
#define sg_sum sum_avx2
#include "gemm_small_tiles.h"

#define CPU_SMALL_BUILT 1
#endif

const char *cpu_small_isa_name(cpu_small_isa isa) {
    return isa == CPU_SMALL_AVX512 ? "AVX-512" : isa == CPU_SMALL_AVX2 ? "AVX2" : "none";
}

/* LT_CPU_GEMM (openblas | avx2 | avx512 | auto) against what the CPU runs; -1 and a
 * message in why when the value is unknown or asks for what the CPU lacks. */
int cpu_small_choose(const cpu_isa *f, const char *env, char *why, size_t cap) {
#ifdef CPU_SMALL_BUILT
    cpu_small_isa best = f->avx512f          ? CPU_SMALL_AVX512
                         : f->avx2 && f->fma ? CPU_SMALL_AVX2
                                             : CPU_SMALL_NONE;
#else
    (void)f;
    cpu_small_isa best = CPU_SMALL_NONE;
#endif
    /* auto: the AVX2 tiles only tied OpenBLAS's Haswell kernels (measured on an AVX-512
     * Xeon running both, bench/RESULTS.md), so an AVX2-only CPU keeps OpenBLAS */
    if (!env || !*env || !strcmp(env, "auto"))
        return best == CPU_SMALL_AVX512 ? CPU_SMALL_AVX512 : CPU_SMALL_NONE;
    if (!strcmp(env, "openblas")) return CPU_SMALL_NONE;
    cpu_small_isa want = !strcmp(env, "avx512") ? CPU_SMALL_AVX512
                         : !strcmp(env, "avx2") ? CPU_SMALL_AVX2
                                                : CPU_SMALL_NONE;
    if (want == CPU_SMALL_NONE) {
        snprintf(why, cap,
                 "cpu accelerator: LT_CPU_GEMM='%.40s' is not one of auto, openblas, avx2, "
                 "avx512; unset it or pick one",
                 env);
        return -1;
    }
    if (want > best) {
        snprintf(why, cap,
                 "cpu accelerator: LT_CPU_GEMM=%s needs %s, which this CPU lacks (it runs %s); "
                 "unset LT_CPU_GEMM",
                 env, cpu_small_isa_name(want), cpu_small_isa_name(best));
        return -1;
    }
    return want;
}

/* Rows starting on a cache line: a (64-byte) vector load that straddles two lines costs
 * two, and the dot form loads ten vectors per 24 multiply-adds. */
static bool rows_on_lines(const float *x, int64_t ld) {
    return (uintptr_t)x % 64 == 0 && ld % 16 == 0;
}

bool cpu_small_gemm_takes(cpu_small_isa isa, int ta, int tb, int64_t m, int64_t n, int64_t k,
                          const float *a, int64_t lda, const float *b, int64_t ldb) {
    if (isa == CPU_SMALL_NONE || (ta && tb)) return false;
    const double work = (double)m * (double)n * (double)k;
    if (work < CPU_SMALL_MIN) return false;
    /* dot products need a few vectors of k, on aligned rows (unaligned, OpenBLAS's packed
     * copies won at the MLP's shapes); the outer form a vector of columns */
    if (tb)
        return work <= CPU_SMALL_MAX && k >= 64 && rows_on_lines(a, lda) && rows_on_lines(b, ldb);
    return n >= 16 && (work <= CPU_SMALL_MAX || (m <= CPU_SKINNY && k <= CPU_SKINNY));
}

void cpu_small_gemm(cpu_small_isa isa, int ta, int tb, int64_t m, int64_t n, int64_t k, float alpha,
                    const float *a, int64_t lda, const float *b, int64_t ldb, float beta, float *c,
                    int64_t ldc) {
#ifdef CPU_SMALL_BUILT
    const sg_args g = {m, n, k, lda, ldb, ldc, alpha, beta, a, b, c};
    const int64_t ars = ta ? 1 : lda, aps = ta ? lda : 1;
    if (isa == CPU_SMALL_AVX512) {
        if (tb)
            sg_dot_avx512(&g);
        else
            sg_outer_avx512(&g, ars, aps);
    } else {
        if (tb)
            sg_dot_avx2(&g);
        else
            sg_outer_avx2(&g, ars, aps);
    }
#else
    (void)isa, (void)ta, (void)tb, (void)m, (void)n, (void)k, (void)alpha, (void)a, (void)lda;
    (void)b, (void)ldb, (void)beta, (void)c, (void)ldc;
    abort(); /* cpu_small_gemm_takes said no */
#endif
}
