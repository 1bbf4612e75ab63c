/* elementwise.cu — fill, affine, clamp, unary and (broadcast) binary float kernels, the
 * mixed-precision helpers (unscale, rounding to half, GEMM input casts) and C = beta C.
 *
 * Formulas are the cpu accelerator's (plugins/accelerators/cpu/elementwise.c), operand
 * order included; built with --fmad=false, so arithmetic rounds as the CPU's does and
 * only the library functions (expf, erff, tanhf, logf: within 2 ulp) differ. Every kernel
 * reads element i before writing out[i] in the same thread, so in place works. */
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "../shared/lt_formulas.h" /* the cpu plugin's formulas too */
#include "fastdiv.h"
#include "kernels.cuh"

/* ---- fill, affine, clamp -------------------------------------------------------------- */

__global__ void fill_kernel(int64_t n, float value, float *out) {
    GRID_STRIDE(i, n) out[i] = value;
}

__global__ void affine_kernel(int64_t n, const float *x, float alpha, float beta, float *out) {
    GRID_STRIDE(i, n) out[i] = alpha * x[i] + beta;
}

/* NaN passes through (both comparisons are false), as on the cpu. */
__global__ void clamp_kernel(int64_t n, const float *x, float lo, float hi, float *out) {
    GRID_STRIDE(i, n) {
        const float v = x[i];
        out[i] = v < lo ? lo : v > hi ? hi : v;
    }
}

extern "C" void cuda_fill(void *vst, int64_t n, float value, float *d_out) {
    cuda_state *st = (cuda_state *)vst;
    if (n <= 0) return;
    CUDA_LAUNCH(st, cuda_grid(st, n, CUDA_THREADS), fill_kernel, n, value, d_out);
}

extern "C" void cuda_affine(void *vst, int64_t n, const float *d_x, float alpha, float beta,
                            float *d_out) {
    cuda_state *st = (cuda_state *)vst;
    if (n <= 0) return;
    CUDA_LAUNCH(st, cuda_grid(st, n, CUDA_THREADS), affine_kernel, n, d_x, alpha, beta, d_out);
}

extern "C" void cuda_clamp(void *vst, int64_t n, const float *d_x, float lo, float hi,
                           float *d_out) {
    cuda_state *st = (cuda_state *)vst;
    if (n <= 0) return;
    CUDA_LAUNCH(st, cuda_grid(st, n, CUDA_THREADS), clamp_kernel, n, d_x, lo, hi, d_out);
}

/* ---- unary ------------------------------------------------------------------------------ */

template <int OP> __device__ __forceinline__ float unary_f(float v) {
    switch (OP) {
    case LT_UN_NEG: return -v;
    case LT_UN_RELU: return lt_relu_f(v);
    case LT_UN_GELU: return lt_gelu_f(v);
    case LT_UN_TANH: return tanhf(v);
    case LT_UN_SIGMOID: return lt_sigmoid_f(v);
    case LT_UN_EXP: return expf(v);
    case LT_UN_LOG: return logf(v);
    case LT_UN_SQRT: return sqrtf(v);
    default: return v * v; /* LT_UN_SQUARE */
    }
}

template <int OP> __global__ void unary_kernel(int64_t n, const float *x, float *out) {
    GRID_STRIDE(i, n) out[i] = unary_f<OP>(x[i]);
}

#define UNARY_CASE(OP)                                                                             \
    case OP: CUDA_LAUNCH(st, grid, unary_kernel<OP>, n, d_x, d_out); break;

extern "C" void cuda_unary(void *vst, lt_unary_op op, int64_t n, const float *d_x, float *d_out) {
    cuda_state *st = (cuda_state *)vst;
    if (n <= 0) return;
    const unsigned grid = cuda_grid(st, n, CUDA_THREADS);
    switch (op) {
        UNARY_CASE(LT_UN_NEG)
        UNARY_CASE(LT_UN_RELU)
        UNARY_CASE(LT_UN_GELU)
        UNARY_CASE(LT_UN_TANH)
        UNARY_CASE(LT_UN_SIGMOID)
        UNARY_CASE(LT_UN_EXP)
        UNARY_CASE(LT_UN_LOG)
        UNARY_CASE(LT_UN_SQRT)
        UNARY_CASE(LT_UN_SQUARE)
    case LT_UN_COUNT: break;
    }
}

/* ---- binary ----------------------------------------------------------------------------- */

template <int OP> __device__ __forceinline__ float binary_f(float x, float y) {
    switch (OP) {
    case LT_BIN_ADD: return x + y;
    case LT_BIN_SUB: return x - y;
    case LT_BIN_MUL: return x * y;
    case LT_BIN_DIV: return x / y;
    case LT_BIN_RELU_BWD: return lt_relu_bwd_f(x, y);
    case LT_BIN_GELU_BWD: return lt_gelu_bwd_f(x, y);
    case LT_BIN_TANH_BWD: return lt_tanh_bwd_f(x, y);
    default: return lt_sigmoid_bwd_f(x, y); /* LT_BIN_SIGMOID_BWD */
    }
}

/* A broadcast with size-1 dimensions dropped and mergeable neighbours merged (as the cpu
 * accelerator's bin_view), passed to the kernel by value. */
struct bin_view {
    int ndim; /* >= 1 */
    int64_t shape[LT_MAX_DIMS];
    int64_t sa[LT_MAX_DIMS], sb[LT_MAX_DIMS]; /* element strides, 0 where broadcast */
    int small;                                /* n < 2^31: indices through div */
    cuda_fastdiv div[LT_MAX_DIMS];            /* by shape[d], when small */
};

static void view_push(bin_view *v, int64_t size, int64_t sa, int64_t sb) {
    v->shape[v->ndim] = size;
    v->sa[v->ndim] = sa;
    v->sb[v->ndim] = sb;
    v->ndim++;
}

static void view_from_bcast(const lt_bcast *bc, bin_view *v) {
    v->ndim = 0;
    for (int d = 0; d < bc->ndim; d++) {
        const int64_t size = bc->shape[d], sa = bc->a_stride[d], sb = bc->b_stride[d];
        if (size == 1) continue;
        const int k = v->ndim - 1;
        if (k >= 0 && v->sa[k] == sa * size && v->sb[k] == sb * size) { /* fold into k */
            v->shape[k] *= size;
            v->sa[k] = sa;
            v->sb[k] = sb;
            continue;
        }
        view_push(v, size, sa, sb);
    }
    if (v->ndim == 0) view_push(v, 1, 0, 0); /* every dimension was 1: one element */
}

/* 1-D: out[i] = op(a[i sa], b[i sb]). */
template <int OP>
__global__ void binary_flat_kernel(int64_t n, const float *a, int64_t sa, const float *b,
                                   int64_t sb, float *out) {
    GRID_STRIDE(i, n) out[i] = binary_f<OP>(a[i * sa], b[i * sb]);
}

/* r / shape[d]: by multiply-high below 2^31 elements (fastdiv.h), else a 64-bit division. */
__device__ __forceinline__ uint32_t dim_quot(const bin_view &v, int d, uint32_t r) {
    return cuda_fastdiv_div(v.div[d], r);
}
__device__ __forceinline__ int64_t dim_quot(const bin_view &v, int d, int64_t r) {
    return r / v.shape[d];
}

/* Element r's offsets in a and b from its index, last dimension fastest. The outermost
 * index needs no division: what is left of r is it. */
template <typename I>
__device__ __forceinline__ void nd_offsets(I r, const bin_view &v, int64_t *oa, int64_t *ob) {
    int64_t a = 0, b = 0;
    for (int d = v.ndim - 1; d > 0; d--) {
        const I q = dim_quot(v, d, r), idx = r - q * (I)v.shape[d];
        a += idx * v.sa[d];
        b += idx * v.sb[d];
        r = q;
    }
    *oa = a + r * v.sa[0], *ob = b + r * v.sb[0];
}

/* N-D (a bias added over rows, say). */
template <int OP>
__global__ void binary_nd_kernel(int64_t n, const float *a, const float *b, float *out,
                                 bin_view v) {
    GRID_STRIDE(i, n) {
        int64_t oa, ob;
        if (v.small)
            nd_offsets((uint32_t)i, v, &oa, &ob);
        else
            nd_offsets(i, v, &oa, &ob);
        out[i] = binary_f<OP>(a[oa], b[ob]);
    }
}

template <int OP>
static void binary_launch(cuda_state *st, int64_t n, const float *a, const float *b, float *out,
                          const bin_view *v) {
    const unsigned grid = cuda_grid(st, n, CUDA_THREADS);
    if (v->ndim == 1) {
        CUDA_LAUNCH(st, grid, binary_flat_kernel<OP>, n, a, v->sa[0], b, v->sb[0], out);
        return;
    }
    bin_view k = *v;
    k.small = n <= INT32_MAX; /* then every shape[d] is too */
    for (int d = 0; k.small && d < k.ndim; d++) k.div[d] = cuda_fastdiv_make((uint32_t)k.shape[d]);
    CUDA_LAUNCH(st, grid, binary_nd_kernel<OP>, n, a, b, out, k);
}

#define BINARY_CASE(OP)                                                                            \
    case OP: binary_launch<OP>(st, n, d_a, d_b, d_out, &v); break;

extern "C" void cuda_binary(void *vst, lt_binary_op op, int64_t n, const float *d_a,
                            const float *d_b, float *d_out, const lt_bcast *bc) {
    cuda_state *st = (cuda_state *)vst;
    if (n <= 0) return;
    bin_view v;
    v.ndim = 0;
    if (bc)
        view_from_bcast(bc, &v);
    else
        view_push(&v, n, 1, 1);
    switch (op) {
        BINARY_CASE(LT_BIN_ADD)
        BINARY_CASE(LT_BIN_SUB)
        BINARY_CASE(LT_BIN_MUL)
        BINARY_CASE(LT_BIN_DIV)
        BINARY_CASE(LT_BIN_RELU_BWD)
        BINARY_CASE(LT_BIN_GELU_BWD)
        BINARY_CASE(LT_BIN_TANH_BWD)
        BINARY_CASE(LT_BIN_SIGMOID_BWD)
    case LT_BIN_COUNT: break;
    }
}

/* ---- mixed precision ---------------------------------------------------------------------- */

/* torch's _amp_foreach_non_finite_check_and_unscale_: the check is on the value before
 * scaling; every thread that sees one writes the same 1, so the race is harmless. */
__global__ void unscale_kernel(int64_t n, float *g, float inv_scale, float *found_inf) {
    bool bad = false;
    GRID_STRIDE(i, n) {
        const float v = g[i];
        bad |= !isfinite(v);
        g[i] = inv_scale == 1.0f ? v : v * inv_scale;
    }
    if (bad) *found_inf = 1.0f;
}

__global__ void round_half_kernel(int64_t n, const float *x, int bf16, float *out) {
    if (bf16) {
        GRID_STRIDE(i, n) out[i] = __bfloat162float(__float2bfloat16_rn(x[i]));
    } else {
        GRID_STRIDE(i, n) out[i] = __half2float(__float2half_rn(x[i]));
    }
}

__device__ __forceinline__ void store_half(__half *p, float v) { *p = __float2half_rn(v); }
__device__ __forceinline__ void store_half(__nv_bfloat16 *p, float v) {
    *p = __float2bfloat16_rn(v);
}

/* out (n) = x (n) rounded to T: a GEMM operand stored densely (ld == cols). */
template <typename T> __global__ void to_half_dense_kernel(int64_t n, const float *x, T *out) {
    GRID_STRIDE(i, n) store_half(&out[i], x[i]);
}

/* out (rows, cols) dense = x (rows, cols, leading dimension ld) rounded to T;
 * rows * cols < 2^31, the row found through cols_div (fastdiv.h). */
template <typename T>
__global__ void to_half_kernel(int64_t n, cuda_fastdiv cols_div, const float *x, int64_t ld,
                               T *out) {
    GRID_STRIDE(i, n) {
        const uint32_t r = cuda_fastdiv_div(cols_div, (uint32_t)i),
                       c = (uint32_t)i - r * cols_div.divisor;
        store_half(&out[i], x[(int64_t)r * ld + c]);
    }
}

/* The same for operands of 2^31 elements or more: 64-bit division. */
template <typename T>
__global__ void to_half_wide_kernel(int64_t rows, int64_t cols, const float *x, int64_t ld,
                                    T *out) {
    GRID_STRIDE(i, rows * cols) {
        const int64_t r = i / cols, c = i - r * cols;
        store_half(&out[i], x[r * ld + c]);
    }
}

template <typename T>
static void to_half_launch(cuda_state *st, int64_t rows, int64_t cols, const float *d_x, int64_t ld,
                           T *d_out) {
    const int64_t n = rows * cols;
    const unsigned grid = cuda_grid(st, n, CUDA_THREADS);
    if (ld == cols)
        CUDA_LAUNCH(st, grid, to_half_dense_kernel<T>, n, d_x, d_out);
    else if (n <= INT32_MAX)
        CUDA_LAUNCH(st, grid, to_half_kernel<T>, n, cuda_fastdiv_make((uint32_t)cols), d_x, ld,
                    d_out);
    else
        CUDA_LAUNCH(st, grid, to_half_wide_kernel<T>, rows, cols, d_x, ld, d_out);
}

/* C = beta C over (m, n) with leading dimension ldc; beta == 0 writes zeros. */
__global__ void scale_matrix_kernel(int64_t m, int64_t n, float beta, float *c, int64_t ldc) {
    GRID_STRIDE(i, m * n) {
        const int64_t r = i / n, j = i - r * n;
        float *p = &c[r * ldc + j];
        *p = beta == 0.0f ? 0.0f : beta * *p;
    }
}

extern "C" void cuda_unscale_grads(void *vst, int64_t n, float *d_g, float inv_scale,
                                   float *d_found_inf) {
    cuda_state *st = (cuda_state *)vst;
    if (n <= 0) return;
    CUDA_LAUNCH(st, cuda_grid(st, n, CUDA_THREADS), unscale_kernel, n, d_g, inv_scale, d_found_inf);
}

extern "C" void cuda_round_half(void *vst, int64_t n, const float *d_x, int bf16, float *d_out) {
    cuda_state *st = (cuda_state *)vst;
    if (n <= 0) return;
    CUDA_LAUNCH(st, cuda_grid(st, n, CUDA_THREADS), round_half_kernel, n, d_x, bf16, d_out);
}

/* ---- uint8 / half data to float32 (#21): the cpu's cast.c, a true division ------------ */

template <typename T> __device__ __forceinline__ float widen(T v) { return (float)v; }
template <> __device__ __forceinline__ float widen(__half v) { return __half2float(v); }
template <> __device__ __forceinline__ float widen(__nv_bfloat16 v) { return __bfloat162float(v); }

template <typename T>
__global__ void cast_f32_kernel(int64_t n, const T *src, float divisor, float *out) {
    GRID_STRIDE(i, n) out[i] = widen(src[i]) / divisor; /* __fdiv_rn: --prec-div is the default */
}

extern "C" void cuda_cast_f32(void *vst, int64_t n, int src_dtype, const void *d_src, float divisor,
                              float *d_out) {
    cuda_state *st = (cuda_state *)vst;
    if (n <= 0) return;
    const unsigned grid = cuda_grid(st, n, CUDA_THREADS);
    switch (src_dtype) {
    case LT_U8:
        CUDA_LAUNCH(st, grid, cast_f32_kernel<uint8_t>, n, (const uint8_t *)d_src, divisor, d_out);
        break;
    case LT_F16:
        CUDA_LAUNCH(st, grid, cast_f32_kernel<__half>, n, (const __half *)d_src, divisor, d_out);
        break;
    case LT_BF16:
        CUDA_LAUNCH(st, grid, cast_f32_kernel<__nv_bfloat16>, n, (const __nv_bfloat16 *)d_src,
                    divisor, d_out);
        break;
    case LT_I64:
        CUDA_LAUNCH(st, grid, cast_f32_kernel<int64_t>, n, (const int64_t *)d_src, divisor, d_out);
        break;
    default: CUDA_LAUNCH(st, grid, cast_f32_kernel<float>, n, (const float *)d_src, divisor, d_out);
    }
}

extern "C" void cuda_to_half(cuda_state *st, int64_t rows, int64_t cols, const float *d_x,
                             int64_t ld, int bf16, void *d_out) {
    if (rows <= 0 || cols <= 0) return;
    if (bf16)
        to_half_launch(st, rows, cols, d_x, ld, (__nv_bfloat16 *)d_out);
    else
        to_half_launch(st, rows, cols, d_x, ld, (__half *)d_out);
}

extern "C" void cuda_scale_matrix(cuda_state *st, int64_t m, int64_t n, float beta, float *d_c,
                                  int64_t ldc) {
    if (m <= 0 || n <= 0) return;
    CUDA_LAUNCH(st, cuda_grid(st, m * n, CUDA_THREADS), scale_matrix_kernel, m, n, beta, d_c, ldc);
}

extern "C" cudaError_t cuda_kernels_usable(void) {
    cudaFuncAttributes attr;
    return cudaFuncGetAttributes(&attr, (const void *)fill_kernel);
}
