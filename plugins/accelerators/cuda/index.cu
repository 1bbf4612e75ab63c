/* index.cu — tensor manipulation kernels (issue 19, text models): strided copies, row
 * gathers, their scatter-add adjoint and masked_fill; the cpu accelerator's index.c is
 * the reference (tests/gpu/ops_index.c compares them).
 *
 * Determinism: scatter_add gives each destination column (o, i) one thread, which adds
 * its k = 0 .. m-1 contributions in order, never with atomics, so sums are the cpu's and
 * the same from run to run. */
#include "kernels.cuh"

/* ---- copy_strided ------------------------------------------------------------------------ */

__global__ void copy_strided_kernel(int64_t n, lt_strided g, const float *src, float *dst) {
    GRID_STRIDE(i, n) {
        int64_t r = i, os = 0, od = 0;
        for (int d = g.ndim - 1; d >= 0; d--) {
            const int64_t q = r / g.shape[d], idx = r - q * g.shape[d];
            os += idx * g.src_stride[d];
            od += idx * g.dst_stride[d];
            r = q;
        }
        dst[od] = src[os];
    }
}

extern "C" void cuda_copy_strided(void *vst, const lt_strided *g, const float *d_src,
                                  float *d_dst) {
    cuda_state *st = (cuda_state *)vst;
    int64_t n = 1;
    for (int d = 0; d < g->ndim; d++) n *= g->shape[d];
    if (n <= 0) return;
    CUDA_LAUNCH(st, cuda_grid(st, n, CUDA_THREADS), copy_strided_kernel, n, *g, d_src, d_dst);
}

/* ---- gather / scatter_add ------------------------------------------------------------------ */

__device__ __forceinline__ int64_t index_at(const lt_gather_geom &g, const int64_t *idx,
                                            int64_t o, int64_t k, int64_t i) {
    return idx[o * g.idx_stride[0] + k * g.idx_stride[1] + i * g.idx_stride[2]];
}

/* One thread per output element; a bad index reads as 0. */
__global__ void gather_kernel(int64_t n, lt_gather_geom g, const float *x, const int64_t *idx,
                              float *out) {
    GRID_STRIDE(p, n) {
        const int64_t i = p % g.inner, k = (p / g.inner) % g.m, o = p / (g.inner * g.m);
        const int64_t r = index_at(g, idx, o, k, i);
        out[p] = r >= 0 && r < g.n ? x[(o * g.n + r) * g.inner + i] : 0.0f;
    }
}

extern "C" int64_t cuda_gather(void *vst, const lt_gather_geom *g, const float *d_x,
                               const int64_t *d_idx, float *d_out) {
    cuda_state *st = (cuda_state *)vst;
    const int64_t n = g->outer * g->m * g->inner;
    if (n <= 0) return -1;
    CUDA_LAUNCH(st, cuda_grid(st, n, CUDA_THREADS), gather_kernel, n, *g, d_x, d_idx, d_out);
    return -1; /* asynchronous: a bad index reads as 0 (the slot allows not reporting it) */
}

/* One thread per destination column (o, i), adding every k in order. */
__global__ void scatter_add_kernel(int64_t cols, lt_gather_geom g, const float *dy,
                                   const int64_t *idx, int64_t skip, float *dx) {
    GRID_STRIDE(c, cols) {
        const int64_t o = c / g.inner, i = c % g.inner;
        for (int64_t k = 0; k < g.m; k++) {
            const int64_t r = index_at(g, idx, o, k, i);
            if (r >= 0 && r < g.n && r != skip)
                dx[(o * g.n + r) * g.inner + i] += dy[(o * g.m + k) * g.inner + i];
        }
    }
}

extern "C" void cuda_scatter_add(void *vst, const lt_gather_geom *g, const float *d_dy,
                                 const int64_t *d_idx, int64_t skip, float *d_dx) {
    cuda_state *st = (cuda_state *)vst;
    const int64_t cols = g->outer * g->inner;
    if (cols <= 0 || g->m <= 0) return;
    CUDA_LAUNCH(st, cuda_grid(st, cols, CUDA_THREADS), scatter_add_kernel, cols, *g, d_dy, d_idx,
                skip, d_dx);
}

/* ---- masked_fill ------------------------------------------------------------------------- */

__global__ void masked_fill_kernel(int64_t n, const float *x, const float *mask, float value,
                                   float *out, lt_bcast bc, int flat) {
    GRID_STRIDE(i, n) {
        int64_t ox = i, om = i;
        if (!flat) {
            int64_t r = i;
            ox = om = 0;
            for (int d = bc.ndim - 1; d >= 0; d--) {
                const int64_t q = r / bc.shape[d], idx = r - q * bc.shape[d];
                ox += idx * bc.a_stride[d];
                om += idx * bc.b_stride[d];
                r = q;
            }
        }
        out[i] = mask[om] != 0.0f ? value : x[ox];
    }
}

extern "C" void cuda_masked_fill(void *vst, int64_t n, const float *d_x, const float *d_mask,
                                 float value, float *d_out, const lt_bcast *bc) {
    cuda_state *st = (cuda_state *)vst;
    if (n <= 0) return;
    lt_bcast none;
    none.ndim = 0;
    const int flat = !bc || bc->ndim == 0;
    CUDA_LAUNCH(st, cuda_grid(st, n, CUDA_THREADS), masked_fill_kernel, n, d_x, d_mask, value,
                d_out, flat ? none : *bc, flat);
}
