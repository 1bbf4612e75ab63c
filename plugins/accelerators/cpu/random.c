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

/* Items are blocks of four elements: block b is counter b of the stream, so a span starts
 * there instead of drawing the 4b numbers before it. Whole groups of LANES blocks run
 * vectorised; the rest (a span's or the mask's end) through lt_rng_uniform. */
CPU_WIDEST static void mask_span(const void *p, int64_t lo, int64_t hi) {
    const mask_args *a = p;
    int64_t b = lo;
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
                         .mask = d_mask};
    cpu_parallel_for(st, (n + 3) / 4, 40, mask_span, &a);
}
