/* random.c — dropout's keep mask from Philox4x32-10, the generator of lt/rng.h: element
 * i is the i-th lt_rng_uniform of lt_rng_make(seed, stream), so any block of the mask is
 * computed without the ones before it, and the split over threads changes nothing. */
#include "cpu_impl.h"

#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u
#define PHILOX_W1 0xBB67AE85u

/* The four words of counter block `block` of stream `stream` under key `seed`. */
static void philox_block(uint64_t seed, uint64_t stream, uint64_t block, uint32_t out[4]) {
    uint32_t k0 = (uint32_t)seed, k1 = (uint32_t)(seed >> 32);
    uint32_t c0 = (uint32_t)block, c1 = (uint32_t)(block >> 32);
    uint32_t c2 = (uint32_t)stream, c3 = (uint32_t)(stream >> 32);
    for (int round = 0; round < 10; round++) {
        const uint64_t p0 = (uint64_t)PHILOX_M0 * c0, p1 = (uint64_t)PHILOX_M1 * c2;
        const uint32_t n0 = (uint32_t)(p1 >> 32) ^ c1 ^ k0, n2 = (uint32_t)(p0 >> 32) ^ c3 ^ k1;
        c1 = (uint32_t)p1;
        c3 = (uint32_t)p0;
        c0 = n0;
        c2 = n2;
        k0 += PHILOX_W0;
        k1 += PHILOX_W1;
    }
    out[0] = c0;
    out[1] = c1;
    out[2] = c2;
    out[3] = c3;
}

typedef struct {
    int64_t n;
    uint64_t seed, stream;
    float keep, scale;
    float *mask;
} mask_args;

/* Items are blocks of four elements. */
static void mask_span(const void *p, int64_t lo, int64_t hi) {
    const mask_args *a = p;
    uint32_t w[4];
    for (int64_t b = lo; b < hi; b++) {
        philox_block(a->seed, a->stream, (uint64_t)b, w);
        for (int64_t k = 0; k < 4 && 4 * b + k < a->n; k++) {
            const float u = (float)(w[k] >> 8) * (1.0f / 16777216.0f);
            a->mask[4 * b + k] = u < a->keep ? a->scale : 0.0f;
        }
    }
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
