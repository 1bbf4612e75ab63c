/* lt/rng.h — a counter-based random number generator (Philox4x32-10).
 * The same (seed, stream) gives the same numbers on every machine and thread count. */
#ifndef LT_RNG_H
#define LT_RNG_H

#include <stdint.h>

#include "version.h"

typedef struct lt_rng {
    uint64_t seed;    /* the key */
    uint64_t stream;  /* high half of the counter: independent sequences per use */
    uint64_t counter; /* low half of the counter: advanced every 4 numbers */
    uint32_t buf[4];
    int left; /* unread numbers in buf */
} lt_rng_t;

/* A generator for (seed, stream), positioned at its start. */
LT_API lt_rng_t lt_rng_make(uint64_t seed, uint64_t stream);
LT_API uint32_t lt_rng_u32(lt_rng_t *r);
/* Uniform in [0, 1) with 24 random bits, as torch's float uniform. */
LT_API float lt_rng_uniform(lt_rng_t *r);
/* Standard normal (Box-Muller). */
LT_API float lt_rng_normal(lt_rng_t *r);
/* Uniform integer in [0, n). */
LT_API uint64_t lt_rng_below(lt_rng_t *r, uint64_t n);
/* out = a random permutation of 0..n-1 (Fisher-Yates). */
LT_API void lt_randperm(lt_rng_t *r, int64_t n, int64_t *out);

#endif
