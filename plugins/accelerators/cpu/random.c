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

/* Items are blocks of four elements: block b is counter b of the stream, so the
 * generator starts there instead of drawing the 4b numbers before it. */
static void mask_span(const void *p, int64_t lo, int64_t hi) {
    const mask_args *a = p;
    lt_rng_t r = lt_rng_make(a->seed, a->stream);
    r.counter = (uint64_t)lo;
    for (int64_t i = 4 * lo; i < 4 * hi && i < a->n; i++)
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
