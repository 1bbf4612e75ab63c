/* amp.c — the mixed-precision slots: GradScaler's unscale with its inf/NaN check, and
 * rounding float32 values to the nearest fp16 or bf16 (ties to even), kept as float32.
 * The test twin fakecuda_cpu (-DCPU_EMULATE_HALF) also rounds GEMM inputs with these, so
 * the host's 16-mixed and bf16 paths run on any machine. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cpu_impl.h"

/* ---- rounding ------------------------------------------------------------------ */

static uint32_t float_bits(float x) {
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    return u;
}

static float bits_float(uint32_t u) {
    float x;
    memcpy(&x, &u, sizeof x);
    return x;
}

/* bf16 keeps float32's exponent and the top 7 mantissa bits (cpu_bf16_bits rounds, ties
 * to even), widened back to float32. */
static float round_bf16(float x) { return bits_float((uint32_t)cpu_bf16_bits(x) << 16); }

/* fp16: 10 mantissa bits, exponents down to 2^-14, subnormals in steps of 2^-24, largest
 * finite 65504; from 65520 (the tie above it) on, inf. */
static float round_fp16(float x) {
    float a = fabsf(x);
    if (!isfinite(x)) return x;
    if (a >= 65520.0f) return copysignf(INFINITY, x);
    if (a < 0x1p-14f) /* a * 2^24 is exact; rintf rounds ties to even */
        return copysignf(rintf(a * 0x1p24f) * 0x1p-24f, x);
    uint32_t u = float_bits(a);
    u += 0xfffu + ((u >> 13) & 1u);
    return copysignf(bits_float(u & ~0x1fffu), x);
}

typedef struct {
    const float *x;
    float *out;
    int bf16;
} round_args;

static void round_span(const void *p, int64_t lo, int64_t hi) {
    const round_args *a = p;
    if (a->bf16)
        for (int64_t i = lo; i < hi; i++) a->out[i] = round_bf16(a->x[i]);
    else
        for (int64_t i = lo; i < hi; i++) a->out[i] = round_fp16(a->x[i]);
}

void cpu_round_half(void *st, int64_t n, const float *d_x, int bf16, float *d_out) {
    const round_args a = {.x = d_x, .out = d_out, .bf16 = bf16};
    cpu_parallel_for(st, n, 4, round_span, &a);
}

/* ---- GradScaler's unscale ------------------------------------------------------ */

typedef struct {
    float *g;
    float inv;
    float *found;
} unscale_args;

/* Each span checks its own elements; one that saw inf or NaN sets the flag (atomically:
 * several spans may write the same 1.0 at once). */
static void unscale_span(const void *p, int64_t lo, int64_t hi) {
    const unscale_args *a = p;
    float *g = a->g;
    const float inv = a->inv;
    int bad = 0;
#pragma omp simd reduction(| : bad)
    for (int64_t i = lo; i < hi; i++) {
        bad |= !isfinite(g[i]);
        g[i] *= inv;
    }
    if (bad) {
        float one = 1.0f;
        __atomic_store(a->found, &one, __ATOMIC_RELAXED);
    }
}

void cpu_unscale_grads(void *st, int64_t n, float *d_g, float inv_scale, float *d_found_inf) {
    const unscale_args a = {.g = d_g, .inv = inv_scale, .found = d_found_inf};
    cpu_parallel_for(st, n, 2, unscale_span, &a);
}

/* ---- GEMM inputs at half precision (the test twin only) --------------------------- */

const float *cpu_half_input(cpu_state *cs, int which, const float *d_x, int64_t n) {
    if (!cs->half || n <= 0) return d_x;
    if ((size_t)n > cs->half_cap[which]) {
        float *grown = realloc(cs->half_buf[which], (size_t)n * sizeof *grown);
        if (!grown) return d_x; /* out of memory: this GEMM runs in float32 */
        cs->half_buf[which] = grown;
        cs->half_cap[which] = (size_t)n;
    }
    cpu_round_half(cs, n, d_x, cs->half == CPU_HALF_BF16, cs->half_buf[which]);
    return cs->half_buf[which];
}
