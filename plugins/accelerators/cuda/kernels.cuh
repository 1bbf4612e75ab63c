/* kernels.cuh — what the .cu files share: block size, the grid-stride loop, and the
 * reductions over the threads that share a row.
 *
 * Determinism: every reduction combines values in an order fixed by the shape and the
 * block size (a strided per-thread pass, then an xor butterfly, then the warps in
 * order), never with atomics, so results are bit-identical from run to run. The xor
 * butterfly leaves the same value in every lane: each step adds a and b in one lane and
 * b and a in its partner, and float addition is commutative. */
#ifndef LT_CUDA_KERNELS_CUH
#define LT_CUDA_KERNELS_CUH

#include <math.h>
#include <stdint.h>

#include "cuda_impl.h"

#define CUDA_THREADS 256               /* every kernel's block size */
#define CUDA_WARPS (CUDA_THREADS / 32) /* warps per block */
#define CUDA_WARP_ROW_MAX 512          /* rows up to this long get a warp, longer a block */

/* for (int64_t i = ...; i < n; ...) over a 1-D grid of any size. */
#define GRID_STRIDE(i, n)                                                                          \
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < (n);                      \
         i += (int64_t)blockDim.x * gridDim.x)

/* Launch on the state's stream, then record a launch error under the kernel's name. */
#define CUDA_LAUNCH(st, grid, kernel, ...)                                                         \
    do {                                                                                           \
        kernel<<<(grid), CUDA_THREADS, 0, (st)->stream>>>(__VA_ARGS__);                            \
        cuda_check_launch((st), #kernel);                                                          \
    } while (0)

/* Blocks for rows handled tpr threads apiece, capped (the kernels loop over the rest). */
static inline unsigned cuda_row_grid(const cuda_state *st, int64_t rows, int tpr) {
    const int64_t per_block = CUDA_THREADS / tpr;
    int64_t b = (rows + per_block - 1) / per_block;
    if (b > st->max_grid) b = st->max_grid;
    return b < 1 ? 1u : (unsigned)b;
}

/* ---- reductions over TPR threads (32: one warp; CUDA_THREADS: the block) ----------- */

template <typename T> __device__ __forceinline__ T warp_sum(T v) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

__device__ __forceinline__ float warp_max(float v) {
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}

/* The block's warps' values combined in warp order; every thread gets the result. smem
 * holds CUDA_WARPS values; the leading barrier lets a previous use finish reading it. */
template <typename T, typename F> __device__ __forceinline__ T block_combine(T v, T *smem, F f) {
    __syncthreads();
    if ((threadIdx.x & 31) == 0) smem[threadIdx.x >> 5] = v;
    __syncthreads();
    T r = smem[0];
    for (int w = 1; w < CUDA_WARPS; w++) r = f(r, smem[w]);
    return r;
}

struct add_op {
    template <typename T> __device__ T operator()(T a, T b) const { return a + b; }
};
struct max_op {
    __device__ float operator()(float a, float b) const { return fmaxf(a, b); }
};

template <int TPR, typename T> __device__ __forceinline__ T row_sum(T v, T *smem) {
    v = warp_sum(v);
    if (TPR == 32) return v;
    return block_combine(v, smem, add_op());
}

template <int TPR> __device__ __forceinline__ float row_max(float v, float *smem) {
    v = warp_max(v);
    if (TPR == 32) return v;
    return block_combine(v, smem, max_op());
}

#endif
