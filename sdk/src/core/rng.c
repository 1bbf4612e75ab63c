/* Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3"):
 * counter-based, so any position of any stream is reachable without state. */
#include <math.h>

#include "lt_impl.h"

#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u
#define PHILOX_W1 0xBB67AE85u

static void philox4x32_10(const uint32_t key_in[2], const uint32_t ctr_in[4], uint32_t out[4]) {
    uint32_t k0 = key_in[0], k1 = key_in[1];
    uint32_t c0 = ctr_in[0], c1 = ctr_in[1], c2 = ctr_in[2], c3 = ctr_in[3];
    for (int round = 0; round < 10; round++) {
        uint64_t p0 = (uint64_t)PHILOX_M0 * c0;
        uint64_t p1 = (uint64_t)PHILOX_M1 * c2;
        uint32_t n0 = (uint32_t)(p1 >> 32) ^ c1 ^ k0;
        uint32_t n2 = (uint32_t)(p0 >> 32) ^ c3 ^ k1;
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

lt_rng_t lt_rng_make(uint64_t seed, uint64_t stream) {
    lt_rng_t r = {.seed = seed, .stream = stream, .counter = 0, .left = 0};
    return r;
}

uint32_t lt_rng_u32(lt_rng_t *r) {
    if (r->left == 0) {
        uint32_t key[2] = {(uint32_t)r->seed, (uint32_t)(r->seed >> 32)};
        uint32_t ctr[4] = {(uint32_t)r->counter, (uint32_t)(r->counter >> 32), (uint32_t)r->stream,
                           (uint32_t)(r->stream >> 32)};
        philox4x32_10(key, ctr, r->buf);
        r->counter++;
        r->left = 4;
    }
    return r->buf[4 - r->left--];
}

float lt_rng_uniform(lt_rng_t *r) { return (float)(lt_rng_u32(r) >> 8) * (1.0f / 16777216.0f); }

float lt_rng_normal(lt_rng_t *r) {
    /* 1 - u keeps the log argument in (0, 1]. */
    double u1 = 1.0 - (double)lt_rng_uniform(r);
    double u2 = (double)lt_rng_uniform(r);
    return (float)(sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2));
}

uint64_t lt_rng_below(lt_rng_t *r, uint64_t n) {
    if (n <= 1) return 0;
    /* Rejection sampling on 64 bits: unbiased for every n. */
    uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    for (;;) {
        uint64_t x = ((uint64_t)lt_rng_u32(r) << 32) | lt_rng_u32(r);
        if (x < limit) return x % n;
    }
}

void lt_randperm(lt_rng_t *r, int64_t n, int64_t *out) {
    for (int64_t i = 0; i < n; i++) out[i] = i;
    for (int64_t i = n - 1; i > 0; i--) {
        int64_t j = (int64_t)lt_rng_below(r, (uint64_t)i + 1);
        int64_t t = out[i];
        out[i] = out[j];
        out[j] = t;
    }
}
