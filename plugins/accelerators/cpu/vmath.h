/* vmath.h — e^x and GELU's normal CDF as straight-line float arithmetic and bit
 * operations, so that a loop calling them vectorises: glibc's expf and erff are scalar
 * calls, and at ~4-7 ns an element they made GELU, its backward and softmax a seventh of a
 * chargpt step (bench/RESULTS.md). No fused multiply-adds (the plugin is built with
 * -std=c11, which turns contraction off) and no lane-dependent steps: every ISA the plugin
 * is cloned for gets the same bits. tests/unit/test_vmath.c bounds both against double
 * precision. */
#ifndef CPU_VMATH_H
#define CPU_VMATH_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#define CPU_VMATH static inline __attribute__((always_inline))

/* 2^n for an integer n in [-126, 127], from its exponent bits. */
CPU_VMATH float cpu_pow2i(int32_t n) {
    const int32_t bits = (n + 127) << 23;
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

/* e^x within 2 ulp: x = n ln2 + r with |r| <= ln2 / 2 (ln2 in two parts, Cody and Waite),
 * e^r by Cephes's expf polynomial, times 2^n as two factors so that results reach the
 * subnormals and 2^128 without a factor overflowing. +inf above ln(FLT_MAX), 0 below the
 * smallest subnormal's log, NaN through. */
CPU_VMATH float cpu_expf_v(float x) {
    const float hi = 88.72283935546875f, lo = -103.972084f;
    /* NaN fails both comparisons and becomes lo (converting it to an integer below would
     * be undefined), then is put back at the end */
    const float xl = x > lo ? x : lo, xc = xl < hi ? xl : hi;
    /* n = rint(xc / ln2): adding and removing 1.5 * 2^23 rounds to an integer in float */
    const float n = (xc * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
    const float r = (xc - n * 0.693359375f) - n * -2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    const float e = p * (r * r) + r + 1.0f;
    const int32_t ni = (int32_t)n, half = ni / 2;
    const float y = e * cpu_pow2i(half) * cpu_pow2i(ni - half);
    return x != x ? x : x > hi ? INFINITY : x < lo ? 0.0f : y;
}

/* Phi(x) = (1 + erf(x / sqrt 2)) / 2, GELU's weight, with erf by Abramowitz and Stegun
 * 7.1.26 (absolute error under 1.5e-7), as PyTorch's vectorised CPU GELU computes it: an
 * absolute error, so this is no general erf (its relative error near 0 is large). */
CPU_VMATH float cpu_gelu_cdf_v(float x) {
    const float z = x * 0.70710678118654752440f, a = fabsf(z);
    const float t = 1.0f / (1.0f + 0.3275911f * a);
    float r = 1.061405429f;
    r = r * t + -1.453152027f;
    r = r * t + 1.421413741f;
    r = r * t + -0.284496736f;
    r = r * t + 0.254829592f;
    const float erf_abs = 1.0f - r * t * cpu_expf_v(-(a * a));
    return 0.5f * (1.0f + copysignf(erf_abs, z));
}

/* Exact GELU, x Phi(x) (torch's approximate='none'). */
CPU_VMATH float cpu_gelu_v(float x) { return x * cpu_gelu_cdf_v(x); }

/* dy (Phi(x) + x phi(x)), as ATen's GeluBackward. */
CPU_VMATH float cpu_gelu_bwd_v(float x, float dy) {
    const float pdf = 0.39894228040143267794f * cpu_expf_v(x * x * -0.5f);
    return dy * (cpu_gelu_cdf_v(x) + x * pdf);
}

#endif
