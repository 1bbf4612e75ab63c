/* lt_formulas.h — float formulas the cpu and cuda accelerators share, written once:
 * compiled as C by the cpu plugin (gcc, -ffp-contract=off) and as __host__ __device__
 * C++ by the cuda kernels (nvcc, --fmad=false), so both evaluate the same operations in
 * the same order with no fused multiply-add. Where a formula uses only + - * / and sqrtf
 * (correctly rounded on both) the two accelerators agree bit for bit (the optimizers);
 * erff and expf differ by an ulp or so between glibc and CUDA's math library, within
 * tests/gpu/ops_check.h's tolerances. The cpu plugin computes GELU and its backward with
 * its own vectorisable erf and exp instead (cpu/vmath.h, within 4e-7). Formulas follow ATen's kernels, operand order
 * included. Included by relative path: plugins/accelerators/{cpu,cuda}/ both reach it. */
#ifndef LT_ACCEL_FORMULAS_H
#define LT_ACCEL_FORMULAS_H

#include <math.h>

#ifdef __CUDACC__
#define LT_FORMULA static __host__ __device__ __forceinline__
#else
#define LT_FORMULA static inline __attribute__((always_inline))
#endif

#define LT_SQRT1_2 0.70710678118654752440f      /* 1/sqrt(2) */
#define LT_INV_SQRT_2PI 0.39894228040143267794f /* 1/sqrt(2 pi): the normal pdf at 0 */

/* ---- activations and their backwards ---------------------------------------------- */

/* NaN passes through, as torch.relu (clamp_min) does. */
LT_FORMULA float lt_relu_f(float x) { return (x > 0.0f || isnan(x)) ? x : 0.0f; }

/* Exact GELU, torch's default approximate='none'. */
LT_FORMULA float lt_gelu_f(float x) { return 0.5f * x * (1.0f + erff(x * LT_SQRT1_2)); }

LT_FORMULA float lt_sigmoid_f(float x) { return 1.0f / (1.0f + expf(-x)); }

/* x = the input: dy where x > 0, as ATen's threshold_backward. */
LT_FORMULA float lt_relu_bwd_f(float x, float dy) { return x <= 0.0f ? 0.0f : dy; }

/* dy * (Phi(x) + x * phi(x)), as ATen's GeluBackward. */
LT_FORMULA float lt_gelu_bwd_f(float x, float dy) {
    const float cdf = 0.5f * (1.0f + erff(x * LT_SQRT1_2));
    const float pdf = LT_INV_SQRT_2PI * expf(x * x * -0.5f);
    return dy * (cdf + x * pdf);
}

/* y = tanh(x): dy * (1 - y^2). */
LT_FORMULA float lt_tanh_bwd_f(float y, float dy) { return dy * (1.0f - y * y); }

/* y = sigmoid(x): dy * (1 - y) * y. */
LT_FORMULA float lt_sigmoid_bwd_f(float y, float dy) { return dy * (1.0f - y) * y; }

/* ---- Adam / AdamW, one element (torch's _single_tensor_adam) ------------------------
 * With pi = p * decay (AdamW's p *= 1 - lr wd; decay is exactly 1 for Adam):
 *   g = grad (+ wd pi for Adam's weight decay), m = lerp(m, g, 1 - beta1),
 *   v = v beta2 + (1 - beta2) g^2, p = pi - step m / (sqrt(v) / sqrt(1 - beta2^t) + eps). */

LT_FORMULA float lt_adam_grad(float grad, float pi, float wd, int use_wd) {
    return use_wd ? grad + wd * pi : grad;
}

/* torch.lerp(m, g, w) picks its formula by |w| < 0.5, for accuracy near w = 1. */
LT_FORMULA float lt_lerp_f(float m, float g, float w, int small_w) {
    return small_w ? m + w * (g - m) : g - (g - m) * (1.0f - w);
}

/* c2 = 1 - beta2, computed in double by the caller as torch does. */
LT_FORMULA float lt_adam_v(float v, float g, float beta2, float c2) {
    return v * beta2 + c2 * g * g;
}

/* bc2_sqrt = sqrt(1 - beta2^t). */
LT_FORMULA float lt_adam_denom(float v, float bc2_sqrt, float eps) {
    return sqrtf(v) / bc2_sqrt + eps;
}

/* neg_step = -lr / (1 - beta1^t). */
LT_FORMULA float lt_adam_p(float pi, float m, float denom, float neg_step) {
    return pi + neg_step * m / denom;
}

#endif
