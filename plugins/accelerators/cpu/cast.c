/* cast.c — the cast_f32 slot (issue #21): uint8, float16, bfloat16, int64 or float32
 * data to float32, divided by a divisor with a true division (x / 255 as torch's
 * x.float() / 255). The half formats widen exactly by bit moves. */
#include <string.h>

#include "cpu_impl.h"

typedef struct {
    int dtype;
    const void *src;
    float divisor;
    float *out;
} cast_args;

static float f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, exp = (h >> 10) & 0x1fu, man = h & 0x3ffu;
    uint32_t bits = sign;
    if (exp == 0x1f)
        bits |= 0x7f800000u | (man << 13);
    else if (exp != 0)
        bits |= ((exp + 112u) << 23) | (man << 13);
    else if (man != 0) { /* subnormal: man * 2^-24 is exact in float32 */
        float v = (float)man * 0x1p-24f;
        return sign ? -v : v;
    }
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

static float bf16_to_f32(uint16_t h) {
    uint32_t bits = (uint32_t)h << 16;
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

static void cast_span(const void *p, int64_t lo, int64_t hi) {
    const cast_args *a = p;
    const float d = a->divisor;
    float *out = a->out;
    switch (a->dtype) {
    case LT_U8: {
        const uint8_t *s = a->src;
#pragma omp simd
        for (int64_t i = lo; i < hi; i++) out[i] = (float)s[i] / d;
        break;
    }
    case LT_F16: {
        const uint16_t *s = a->src;
        for (int64_t i = lo; i < hi; i++) out[i] = f16_to_f32(s[i]) / d;
        break;
    }
    case LT_BF16: {
        const uint16_t *s = a->src;
        for (int64_t i = lo; i < hi; i++) out[i] = bf16_to_f32(s[i]) / d;
        break;
    }
    case LT_I64: {
        const int64_t *s = a->src;
        for (int64_t i = lo; i < hi; i++) out[i] = (float)s[i] / d;
        break;
    }
    default: {
        const float *s = a->src;
#pragma omp simd
        for (int64_t i = lo; i < hi; i++) out[i] = s[i] / d;
    }
    }
}

void cpu_cast_f32(void *st, int64_t n, int src_dtype, const void *d_src, float divisor,
                  float *d_out) {
    const cast_args a = {.dtype = src_dtype, .src = d_src, .divisor = divisor, .out = d_out};
    cpu_parallel_for(st, n, 2, cast_span, &a);
}
