/* random.c — dropout's keep mask from Philox4x32-10, the generator of lt/rng.h: element
 * i is the i-th lt_rng_uniform of lt_rng_make(seed, stream), so any block of the mask is
 * computed without the ones before it, and the split over threads changes nothing. */
#include <lt/rng.h>

#include "cpu_impl.h"

typedef struct {
    int64_t n;
    uint64_t seed, stream;
    float keep, scale;
    float *mask;
    bool avx512; /* mask_lanes_avx512 runs */
} mask_args;

/* Philox4x32-10 on LANES consecutive counters at once, laid out lane by lane so the
 * compiler runs each round as a few vector multiplies (vpmuludq) instead of one block at
 * a time: the same integer arithmetic as lt/rng.h's, so the same bits on every ISA. */
#define LANES 16
#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u
#define PHILOX_W1 0xBB67AE85u

/* Blocks b0 .. b0 + LANES - 1 of the stream into the 4 * LANES mask entries from 4 b0. */
static inline void mask_lanes(const mask_args *a, uint64_t b0) {
    uint32_t c0[LANES], c1[LANES], c2[LANES], c3[LANES];
    for (int j = 0; j < LANES; j++) {
        const uint64_t ctr = b0 + (uint64_t)j;
        c0[j] = (uint32_t)ctr, c1[j] = (uint32_t)(ctr >> 32);
        c2[j] = (uint32_t)a->stream, c3[j] = (uint32_t)(a->stream >> 32);
    }
    uint32_t k0 = (uint32_t)a->seed, k1 = (uint32_t)(a->seed >> 32);
    for (int round = 0; round < 10; round++) {
        /* Not unrolled: GCC's -O3 would unroll it whole before vectorising, then fail to. */
#pragma GCC unroll 1
        for (int j = 0; j < LANES; j++) {
            const uint64_t p0 = (uint64_t)PHILOX_M0 * c0[j], p1 = (uint64_t)PHILOX_M1 * c2[j];
            const uint32_t n0 = (uint32_t)(p1 >> 32) ^ c1[j] ^ k0;
            const uint32_t n2 = (uint32_t)(p0 >> 32) ^ c3[j] ^ k1;
            c1[j] = (uint32_t)p1, c3[j] = (uint32_t)p0, c0[j] = n0, c2[j] = n2;
        }
        k0 += PHILOX_W0, k1 += PHILOX_W1;
    }
    /* lt_rng_uniform: the top 24 bits times 2^-24, exact in float. keep and scale in
     * locals: the stores through m could alias *a, and reloads would stop vectorising. */
    const float keep = a->keep, scale = a->scale, unit = 1.0f / 16777216.0f;
    float *m = a->mask + 4 * b0;
#pragma GCC unroll 1
    for (int j = 0; j < LANES; j++) {
        m[4 * j] = (float)(c0[j] >> 8) * unit < keep ? scale : 0.0f;
        m[4 * j + 1] = (float)(c1[j] >> 8) * unit < keep ? scale : 0.0f;
        m[4 * j + 2] = (float)(c2[j] >> 8) * unit < keep ? scale : 0.0f;
        m[4 * j + 3] = (float)(c3[j] >> 8) * unit < keep ? scale : 0.0f;
    }
}

#if CPU_AVX512_BUILT
#include <immintrin.h>

/* The high and low 32 bits of m * c in each 32-bit lane (vpmuludq takes every other lane). */
CPU_AVX512 static inline void mul_hilo(__m512i c, __m512i m, __m512i *hi, __m512i *lo) {
    const __m512i even = _mm512_mul_epu32(c, m),
                  odd = _mm512_mul_epu32(_mm512_srli_epi64(c, 32), m);
    *lo = _mm512_mask_blend_epi32(0xAAAA, even, _mm512_slli_epi64(odd, 32));
    *hi = _mm512_mask_blend_epi32(0xAAAA, _mm512_srli_epi64(even, 32), odd);
}

/* mask_lanes in AVX-512 registers: GCC's vectorisation of the loops above kept the state
 * in memory between rounds and ran 0.66 G numbers/s a core; the same arithmetic here, then
 * a 4x16 transpose into the mask's order (element 4j + w is word w of block j). */
CPU_AVX512 static void mask_lanes_avx512(const mask_args *a, uint64_t b0) {
    const __m512i iota = _mm512_set_epi64(7, 6, 5, 4, 3, 2, 1, 0);
    const __m512i lo8 = _mm512_add_epi64(_mm512_set1_epi64((long long)b0), iota);
    const __m512i hi8 = _mm512_add_epi64(lo8, _mm512_set1_epi64(8));
    const __m512i evens =
        _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
    const __m512i odds = _mm512_add_epi32(evens, _mm512_set1_epi32(1));
    __m512i c0 = _mm512_permutex2var_epi32(lo8, evens, hi8);
    __m512i c1 = _mm512_permutex2var_epi32(lo8, odds, hi8);
    __m512i c2 = _mm512_set1_epi32((int)(uint32_t)a->stream);
    __m512i c3 = _mm512_set1_epi32((int)(uint32_t)(a->stream >> 32));
    const __m512i m0 = _mm512_set1_epi32((int)PHILOX_M0), m1 = _mm512_set1_epi32((int)PHILOX_M1);
    uint32_t k0 = (uint32_t)a->seed, k1 = (uint32_t)(a->seed >> 32);
    for (int round = 0; round < 10; round++) {
        __m512i hi0, lo0, hi1, lo1;
        mul_hilo(c0, m0, &hi0, &lo0);
        mul_hilo(c2, m1, &hi1, &lo1);
        c0 = _mm512_xor_si512(_mm512_xor_si512(hi1, c1), _mm512_set1_epi32((int)k0));
        c2 = _mm512_xor_si512(_mm512_xor_si512(hi0, c3), _mm512_set1_epi32((int)k1));
        c1 = lo1, c3 = lo0;
        k0 += PHILOX_W0, k1 += PHILOX_W1;
    }
    const __m512 keep = _mm512_set1_ps(a->keep), scale = _mm512_set1_ps(a->scale);
    const __m512 unit = _mm512_set1_ps(1.0f / 16777216.0f);
    const __m512i words[4] = {c0, c1, c2, c3};
    __m512 f[4];
    for (int w = 0; w < 4; w++) {
        const __m512 u = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_srli_epi32(words[w], 8)), unit);
        f[w] = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(u, keep, _CMP_LT_OQ), scale);
    }
    /* in each 128-bit block q: u[e] = the four words of block 4q + e */
    const __m512 t0 = _mm512_unpacklo_ps(f[0], f[1]), t1 = _mm512_unpackhi_ps(f[0], f[1]);
    const __m512 t2 = _mm512_unpacklo_ps(f[2], f[3]), t3 = _mm512_unpackhi_ps(f[2], f[3]);
    const __m512 u0 = _mm512_shuffle_ps(t0, t2, 0x44), u1 = _mm512_shuffle_ps(t0, t2, 0xEE);
    const __m512 u2 = _mm512_shuffle_ps(t1, t3, 0x44), u3 = _mm512_shuffle_ps(t1, t3, 0xEE);
    const __m512 v0 = _mm512_shuffle_f32x4(u0, u1, 0x44), v1 = _mm512_shuffle_f32x4(u2, u3, 0x44);
    const __m512 v2 = _mm512_shuffle_f32x4(u0, u1, 0xEE), v3 = _mm512_shuffle_f32x4(u2, u3, 0xEE);
    float *m = a->mask + 4 * b0;
    _mm512_storeu_ps(m, _mm512_shuffle_f32x4(v0, v1, 0x88));
    _mm512_storeu_ps(m + 16, _mm512_shuffle_f32x4(v0, v1, 0xDD));
    _mm512_storeu_ps(m + 32, _mm512_shuffle_f32x4(v2, v3, 0x88));
    _mm512_storeu_ps(m + 48, _mm512_shuffle_f32x4(v2, v3, 0xDD));
}
#endif

/* Items are blocks of four elements: block b is counter b of the stream, so a span starts
 * there instead of drawing the 4b numbers before it. Whole groups of LANES blocks run
 * vectorised; the rest (a span's or the mask's end) through lt_rng_uniform. */
CPU_WIDEST static void mask_span(const void *p, int64_t lo, int64_t hi) {
    const mask_args *a = p;
    int64_t b = lo;
#if CPU_AVX512_BUILT
    if (a->avx512)
        for (; b + LANES <= hi && 4 * (b + LANES) <= a->n; b += LANES)
            mask_lanes_avx512(a, (uint64_t)b);
#endif
    for (; b + LANES <= hi && 4 * (b + LANES) <= a->n; b += LANES) mask_lanes(a, (uint64_t)b);
    lt_rng_t r = lt_rng_make(a->seed, a->stream);
    r.counter = (uint64_t)b;
    for (int64_t i = 4 * b; i < 4 * hi && i < a->n; i++)
        a->mask[i] = lt_rng_uniform(&r) < a->keep ? a->scale : 0.0f;
}

void cpu_dropout_mask(void *st, int64_t n, double p, uint64_t seed, uint64_t stream,
                      float *d_mask) {
    const float keep = (float)(1.0 - p);
    const mask_args a = {.n = n,
                         .seed = seed,
                         .stream = stream,
                         .keep = keep,
                         .scale = keep > 0.0f ? 1.0f / keep : 0.0f,
                         .mask = d_mask,
                         .avx512 = ((const cpu_state *)st)->blas.isa.avx512f};
    cpu_parallel_for(st, (n + 3) / 4, 40, mask_span, &a);
}
