/* softmax.cu — row-wise softmax, log-softmax, their backwards, and cross-entropy fused
 * with softmax, over (rows, cols): a warp per row up to CUDA_WARP_ROW_MAX columns, a
 * block per row above. Formulas follow the cpu accelerator (softmax.c): max subtraction,
 * expf in float, sums in double. A row is read in full (through the reductions) before
 * any output element is written, so in place works. */
#include "kernels.cuh"

/* One body per kernel, looped over the rows this block owns; `row` is the row index. */
#define FOR_EACH_ROW(rows)                                                                         \
    const int per_block = CUDA_THREADS / TPR, lane = threadIdx.x % TPR;                            \
    for (int64_t r0_ = (int64_t)blockIdx.x * per_block; r0_ < (rows);                              \
         r0_ += (int64_t)gridDim.x * per_block)                                                    \
        if (const int64_t row = r0_ + threadIdx.x / TPR; TPR != 32 || row < (rows))

struct row_stats {
    float mx;   /* the row's maximum */
    double sum; /* of expf(x - mx) */
};

/* The row's stats, in every thread of the row. fmaxf skips NaN where the cpu's row max
 * may keep it; either way a NaN in the row makes the sum NaN and so every output of the
 * row, as on the cpu. */
template <int TPR>
__device__ __forceinline__ row_stats stats_of(const float *x, int64_t cols, int lane, float *smem_f,
                                              double *smem_d) {
    float mx = -INFINITY;
    for (int64_t c = lane; c < cols; c += TPR) mx = fmaxf(mx, x[c]);
    mx = row_max<TPR>(mx, smem_f);
    double s = 0;
    for (int64_t c = lane; c < cols; c += TPR) s += (double)expf(x[c] - mx);
    s = row_sum<TPR>(s, smem_d);
    return {mx, s};
}

template <int TPR>
__global__ void softmax_kernel(int64_t rows, int64_t cols, const float *x, float *y) {
    __shared__ float smem_f[CUDA_WARPS];
    __shared__ double smem_d[CUDA_WARPS];
    FOR_EACH_ROW(rows) {
        const float *xr = x + row * cols;
        float *yr = y + row * cols;
        const row_stats s = stats_of<TPR>(xr, cols, lane, smem_f, smem_d);
        const float inv = (float)(1.0 / s.sum);
        for (int64_t c = lane; c < cols; c += TPR) yr[c] = expf(xr[c] - s.mx) * inv;
    }
}

template <int TPR>
__global__ void log_softmax_kernel(int64_t rows, int64_t cols, const float *x, float *y) {
    __shared__ float smem_f[CUDA_WARPS];
    __shared__ double smem_d[CUDA_WARPS];
    FOR_EACH_ROW(rows) {
        const float *xr = x + row * cols;
        float *yr = y + row * cols;
        const row_stats s = stats_of<TPR>(xr, cols, lane, smem_f, smem_d);
        const float lse = (float)((double)s.mx + log(s.sum));
        for (int64_t c = lane; c < cols; c += TPR) yr[c] = xr[c] - lse;
    }
}

/* dx = y * (dy - sum(dy * y)) */
template <int TPR>
__global__ void softmax_bwd_kernel(int64_t rows, int64_t cols, const float *y, const float *dy,
                                   float *dx) {
    __shared__ double smem_d[CUDA_WARPS];
    FOR_EACH_ROW(rows) {
        const int64_t off = row * cols;
        double s = 0;
        for (int64_t c = lane; c < cols; c += TPR) s += (double)dy[off + c] * y[off + c];
        const float dot = (float)row_sum<TPR>(s, smem_d);
        for (int64_t c = lane; c < cols; c += TPR) dx[off + c] = y[off + c] * (dy[off + c] - dot);
    }
}

/* dx = dy - exp(y) * sum(dy) */
template <int TPR>
__global__ void log_softmax_bwd_kernel(int64_t rows, int64_t cols, const float *y, const float *dy,
                                       float *dx) {
    __shared__ double smem_d[CUDA_WARPS];
    FOR_EACH_ROW(rows) {
        const int64_t off = row * cols;
        double s = 0;
        for (int64_t c = lane; c < cols; c += TPR) s += dy[off + c];
        const float sum = (float)row_sum<TPR>(s, smem_d);
        for (int64_t c = lane; c < cols; c += TPR)
            dx[off + c] = dy[off + c] - expf(y[off + c]) * sum;
    }
}

/* loss[r] = logsumexp(x[r]) - x[r, label] (NaN for a label outside [0, cols)), prob[r] =
 * softmax(x[r]). x[r, label] is read before the reductions, so before prob is written. */
template <int TPR>
__global__ void cross_entropy_kernel(int64_t rows, int64_t cols, const float *x,
                                     const int64_t *label, float *loss, float *prob) {
    __shared__ float smem_f[CUDA_WARPS];
    __shared__ double smem_d[CUDA_WARPS];
    FOR_EACH_ROW(rows) {
        const float *xr = x + row * cols;
        float *pr = prob + row * cols;
        const int64_t l = label[row];
        const double xl = l >= 0 && l < cols ? (double)xr[l] : (double)NAN;
        const row_stats s = stats_of<TPR>(xr, cols, lane, smem_f, smem_d);
        const float inv = (float)(1.0 / s.sum);
        for (int64_t c = lane; c < cols; c += TPR) pr[c] = expf(xr[c] - s.mx) * inv;
        if (lane == 0) loss[row] = (float)((double)s.mx + log(s.sum) - xl);
    }
}

/* dx = (prob - onehot(label)) * dloss[row]: elementwise, no reduction. */
__global__ void cross_entropy_bwd_kernel(int64_t rows, int64_t cols, const float *prob,
                                         const int64_t *label, const float *dloss, float *dx) {
    GRID_STRIDE(i, rows * cols) {
        const int64_t r = i / cols, c = i - r * cols;
        const float p = prob[i], d = dloss[r];
        /* c is in range, so a label outside it never matches */
        dx[i] = label[r] == c ? (p - 1.0f) * d : p * d;
    }
}

/* ---- launches ---------------------------------------------------------------------------- */

/* The kernel template for the row length: a warp per row or a block per row. */
#define ROW_LAUNCH(st, kernel, rows, cols, ...)                                                    \
    do {                                                                                           \
        if ((cols) <= CUDA_WARP_ROW_MAX)                                                           \
            CUDA_LAUNCH(st, cuda_row_grid(st, rows, 32), kernel<32>, rows, cols, __VA_ARGS__);     \
        else                                                                                       \
            CUDA_LAUNCH(st, cuda_row_grid(st, rows, CUDA_THREADS), kernel<CUDA_THREADS>, rows,     \
                        cols, __VA_ARGS__);                                                        \
    } while (0)

extern "C" void cuda_softmax(void *vst, int64_t rows, int64_t cols, const float *d_x, float *d_y) {
    cuda_state *st = (cuda_state *)vst;
    if (rows <= 0 || cols <= 0) return;
    ROW_LAUNCH(st, softmax_kernel, rows, cols, d_x, d_y);
}

extern "C" void cuda_log_softmax(void *vst, int64_t rows, int64_t cols, const float *d_x,
                                 float *d_y) {
    cuda_state *st = (cuda_state *)vst;
    if (rows <= 0 || cols <= 0) return;
    ROW_LAUNCH(st, log_softmax_kernel, rows, cols, d_x, d_y);
}

extern "C" void cuda_softmax_bwd(void *vst, int64_t rows, int64_t cols, const float *d_y,
                                 const float *d_dy, float *d_dx) {
    cuda_state *st = (cuda_state *)vst;
    if (rows <= 0 || cols <= 0) return;
    ROW_LAUNCH(st, softmax_bwd_kernel, rows, cols, d_y, d_dy, d_dx);
}

extern "C" void cuda_log_softmax_bwd(void *vst, int64_t rows, int64_t cols, const float *d_y,
                                     const float *d_dy, float *d_dx) {
    cuda_state *st = (cuda_state *)vst;
    if (rows <= 0 || cols <= 0) return;
    ROW_LAUNCH(st, log_softmax_bwd_kernel, rows, cols, d_y, d_dy, d_dx);
}

/* An asynchronous device cannot name the first bad row without waiting: that row's loss
 * is NaN instead, and the trainer's non-finite check stops the run (lt/accelerator.h). */
extern "C" int64_t cuda_cross_entropy(void *vst, int64_t rows, int64_t cols, const float *d_x,
                                      const int64_t *d_label, float *d_loss, float *d_prob) {
    cuda_state *st = (cuda_state *)vst;
    if (rows <= 0 || cols <= 0) return -1;
    ROW_LAUNCH(st, cross_entropy_kernel, rows, cols, d_x, d_label, d_loss, d_prob);
    return -1;
}

extern "C" void cuda_cross_entropy_bwd(void *vst, int64_t rows, int64_t cols, const float *d_prob,
                                       const int64_t *d_label, const float *d_dloss, float *d_dx) {
    cuda_state *st = (cuda_state *)vst;
    if (rows <= 0 || cols <= 0) return;
    CUDA_LAUNCH(st, cuda_grid(st, rows * cols, CUDA_THREADS), cross_entropy_bwd_kernel, rows, cols,
                d_prob, d_label, d_dloss, d_dx);
}
