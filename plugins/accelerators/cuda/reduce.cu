/* reduce.cu — sums over one axis, row argmax, int64 equality.
 *
 * reduce_sum views its input as (outer, mid, inner) and sums over mid in double, like the
 * cpu accelerator, so the two agree to the last float bit but for rare ties in rounding.
 * A long mid with few outputs is cut into parts (pass 1 writes one double per part, pass
 * 2 adds the parts in order); the cut depends on the shape alone, and no atomics are
 * used, so a sum is the same from run to run. */
#include "kernels.cuh"

#define SUM_PART 16384      /* elements of a row part, at least (inner == 1) */
#define SUM_ROW_PARTS 512   /* a row is cut into at most this many parts */
#define SUM_SPLIT_ROWS 1024 /* more rows than this fill the GPU unsplit */
#define SUM_COL_ITEMS 65536 /* (outer, inner) columns that fill the GPU unsplit */
#define SUM_COL_PART 256    /* rows of a column part, at least (inner > 1) */

/* Elements [lo, hi) of part p of `parts` over n. */
__device__ __forceinline__ void part_range(int64_t n, int64_t parts, int64_t p, int64_t *lo,
                                           int64_t *hi) {
    *lo = n * p / parts;
    *hi = n * (p + 1) / parts;
}

/* ---- inner == 1: row sums -------------------------------------------------------------- */

/* Segment s = (row o, part p) of (outer, parts), TPR threads per segment: its sum, scaled
 * into out[o] when parts == 1, else into partial[s]. */
template <int TPR>
__global__ void sum_rows_kernel(int64_t segments, int64_t parts, int64_t mid, const float *in,
                                double scale, float *out, double *partial) {
    __shared__ double smem[CUDA_WARPS];
    const int per_block = CUDA_THREADS / TPR, lane = threadIdx.x % TPR;
    for (int64_t s0 = (int64_t)blockIdx.x * per_block; s0 < segments;
         s0 += (int64_t)gridDim.x * per_block) {
        const int64_t s = s0 + threadIdx.x / TPR;
        if (TPR == 32 && s >= segments) continue; /* a whole warp; blocks never get here */
        const int64_t o = s / parts;
        int64_t lo, hi;
        part_range(mid, parts, s - o * parts, &lo, &hi);
        const float *row = in + o * mid;
        double acc = 0;
        for (int64_t m = lo + lane; m < hi; m += TPR) acc += row[m];
        acc = row_sum<TPR>(acc, smem);
        if (lane != 0) continue;
        if (parts == 1)
            out[o] = (float)(scale * acc);
        else
            partial[s] = acc;
    }
}

/* ---- inner > 1: column sums ------------------------------------------------------------- */

/* Item (o, p, j) of (outer, parts, inner): column j of part p of mid, in double. */
__global__ void sum_cols_kernel(int64_t outer, int64_t parts, int64_t mid, int64_t inner,
                                const float *in, double scale, float *out, double *partial) {
    GRID_STRIDE(item, outer * parts * inner) {
        const int64_t j = item % inner, t = item / inner, p = t % parts, o = t / parts;
        int64_t lo, hi;
        part_range(mid, parts, p, &lo, &hi);
        const float *col = in + o * mid * inner + j;
        double acc = 0;
        for (int64_t m = lo; m < hi; m++) acc += col[m * inner];
        if (parts == 1)
            out[o * inner + j] = (float)(scale * acc);
        else
            partial[item] = acc;
    }
}

/* out(o, j) = scale * the parts of (o, j) added in order; partial is (outer, parts, inner). */
__global__ void sum_finish_kernel(int64_t outer, int64_t parts, int64_t inner,
                                  const double *partial, double scale, float *out) {
    GRID_STRIDE(i, outer * inner) {
        const int64_t o = i / inner, j = i - o * inner;
        const double *p = partial + o * parts * inner + j;
        double acc = 0;
        for (int64_t k = 0; k < parts; k++) acc += p[k * inner];
        out[i] = (float)(scale * acc);
    }
}

/* How many parts mid is cut into: a function of the shape only. */
static int64_t sum_parts(int64_t outer, int64_t mid, int64_t inner) {
    int64_t parts;
    if (inner == 1) {
        if (outer > SUM_SPLIT_ROWS) return 1;
        parts = mid / SUM_PART;
        if (parts > SUM_ROW_PARTS) parts = SUM_ROW_PARTS;
    } else {
        const int64_t cols = outer * inner;
        if (cols >= SUM_COL_ITEMS) return 1;
        parts = mid / SUM_COL_PART;
        const int64_t fill = (SUM_COL_ITEMS + cols - 1) / cols; /* parts that fill the GPU */
        if (parts > fill) parts = fill;
    }
    return parts < 1 ? 1 : parts;
}

static void sum_pass1(cuda_state *st, int64_t outer, int64_t parts, int64_t mid, int64_t inner,
                      const float *in, double scale, float *out, double *partial) {
    if (inner > 1) {
        const unsigned grid = cuda_grid(st, outer * parts * inner, CUDA_THREADS);
        CUDA_LAUNCH(st, grid, sum_cols_kernel, outer, parts, mid, inner, in, scale, out, partial);
    } else if (mid <= CUDA_WARP_ROW_MAX) {
        CUDA_LAUNCH(st, cuda_row_grid(st, outer * parts, 32), sum_rows_kernel<32>, outer * parts,
                    parts, mid, in, scale, out, partial);
    } else {
        CUDA_LAUNCH(st, cuda_row_grid(st, outer * parts, CUDA_THREADS),
                    sum_rows_kernel<CUDA_THREADS>, outer * parts, parts, mid, in, scale, out,
                    partial);
    }
}

extern "C" void cuda_reduce_sum(void *vst, int64_t outer, int64_t mid, int64_t inner,
                                const float *d_in, float scale, float *d_out) {
    cuda_state *st = (cuda_state *)vst;
    if (outer <= 0 || inner <= 0) return;
    if (mid < 0) mid = 0;
    const int64_t parts = sum_parts(outer, mid, inner);
    double *partial = NULL;
    if (parts > 1) {
        partial = (double *)cuda_cache_alloc(st, (size_t)(outer * parts * inner) * sizeof(double));
        if (!partial) {
            cuda_fail(st, "reduce_sum", "out of device memory for partial sums");
            return;
        }
    }
    sum_pass1(st, outer, parts, mid, inner, d_in, (double)scale, d_out, partial);
    if (parts > 1) {
        CUDA_LAUNCH(st, cuda_grid(st, outer * inner, CUDA_THREADS), sum_finish_kernel, outer, parts,
                    inner, partial, (double)scale, d_out);
        cuda_cache_free(st, partial); /* stream order: reused only after the finish */
    }
}

/* ---- argmax ------------------------------------------------------------------------------ */

#define ARGMAX_NONE INT64_MAX /* a thread that saw no element */

/* Whether (vb, ib) beats (va, ia): a NaN beats any number (torch.argmax), then the larger
 * value, then the lower index. A strict total order, so any combination order picks the
 * cpu's answer: the first NaN, else the first maximum. */
__device__ __forceinline__ bool argmax_beats(float vb, int64_t ib, float va, int64_t ia) {
    if (ib == ARGMAX_NONE) return false;
    if (ia == ARGMAX_NONE) return true;
    const bool na = isnan(va), nb = isnan(vb);
    if (na || nb) return nb && (!na || ib < ia);
    return vb > va || (vb == va && ib < ia);
}

struct argmax_pair {
    float v;
    int64_t i;
};

__device__ __forceinline__ argmax_pair argmax_warp(argmax_pair p) {
    for (int o = 16; o > 0; o >>= 1) {
        const float v = __shfl_xor_sync(0xffffffffu, p.v, o);
        const int64_t i = __shfl_xor_sync(0xffffffffu, p.i, o);
        if (argmax_beats(v, i, p.v, p.i)) p = {v, i};
    }
    return p;
}

template <int TPR>
__global__ void argmax_kernel(int64_t rows, int64_t cols, const float *x, int64_t *idx) {
    __shared__ argmax_pair smem[CUDA_WARPS];
    const int per_block = CUDA_THREADS / TPR, lane = threadIdx.x % TPR;
    for (int64_t r0 = (int64_t)blockIdx.x * per_block; r0 < rows;
         r0 += (int64_t)gridDim.x * per_block) {
        const int64_t r = r0 + threadIdx.x / TPR;
        if (TPR == 32 && r >= rows) continue;
        const float *row = x + r * cols;
        argmax_pair best = {0.0f, ARGMAX_NONE};
        for (int64_t c = lane; c < cols; c += TPR)
            if (argmax_beats(row[c], c, best.v, best.i)) best = {row[c], c};
        best = argmax_warp(best);
        if (TPR != 32) {
            __syncthreads();
            if ((threadIdx.x & 31) == 0) smem[threadIdx.x >> 5] = best;
            __syncthreads();
            best = smem[0];
            for (int w = 1; w < CUDA_WARPS; w++)
                if (argmax_beats(smem[w].v, smem[w].i, best.v, best.i)) best = smem[w];
        }
        if (lane == 0) idx[r] = best.i;
    }
}

extern "C" void cuda_argmax(void *vst, int64_t rows, int64_t cols, const float *d_x,
                            int64_t *d_idx) {
    cuda_state *st = (cuda_state *)vst;
    if (rows <= 0 || cols <= 0) return;
    if (cols <= CUDA_WARP_ROW_MAX)
        CUDA_LAUNCH(st, cuda_row_grid(st, rows, 32), argmax_kernel<32>, rows, cols, d_x, d_idx);
    else
        CUDA_LAUNCH(st, cuda_row_grid(st, rows, CUDA_THREADS), argmax_kernel<CUDA_THREADS>, rows,
                    cols, d_x, d_idx);
}

/* ---- eq_i64 ------------------------------------------------------------------------------ */

__global__ void eq_i64_kernel(int64_t n, const int64_t *a, const int64_t *b, float *out) {
    GRID_STRIDE(i, n) out[i] = a[i] == b[i] ? 1.0f : 0.0f;
}

extern "C" void cuda_eq_i64(void *vst, int64_t n, const int64_t *d_a, const int64_t *d_b,
                            float *d_out) {
    cuda_state *st = (cuda_state *)vst;
    if (n <= 0) return;
    CUDA_LAUNCH(st, cuda_grid(st, n, CUDA_THREADS), eq_i64_kernel, n, d_a, d_b, d_out);
}
