/* norm.cu — dropout's keep mask (Philox4x32-10) and batch norm in training mode, forward
 * and backward; the cpu accelerator's random.c and norm.c, formula for formula.
 *
 * Dropout: element i is the i-th lt_rng_uniform of lt_rng_make(seed, stream)
 * (sdk/src/core/rng.c), so the mask is the cpu's bit for bit, whatever the grid.
 *
 * Batch norm: a block per channel (grid-stride over channels). Each thread sums its
 * strided share of the channel in double, then the block combines them in a fixed order
 * (kernels.cuh): no atomics, the same bits every run, and within double rounding of the
 * cpu's sequential double sums, so the float statistics agree with the cpu's. */
#include "kernels.cuh"

/* ---- dropout ---------------------------------------------------------------------------- */

#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u
#define PHILOX_W1 0xBB67AE85u

/* The four words of counter block `block` of stream `stream` under key `seed`. */
__device__ void philox_block(uint64_t seed, uint64_t stream, uint64_t block, uint32_t out[4]) {
    uint32_t k0 = (uint32_t)seed, k1 = (uint32_t)(seed >> 32);
    uint32_t c0 = (uint32_t)block, c1 = (uint32_t)(block >> 32);
    uint32_t c2 = (uint32_t)stream, c3 = (uint32_t)(stream >> 32);
    for (int round = 0; round < 10; round++) {
        const uint64_t p0 = (uint64_t)PHILOX_M0 * c0, p1 = (uint64_t)PHILOX_M1 * c2;
        const uint32_t n0 = (uint32_t)(p1 >> 32) ^ c1 ^ k0, n2 = (uint32_t)(p0 >> 32) ^ c3 ^ k1;
        c1 = (uint32_t)p1;
        c3 = (uint32_t)p0;
        c0 = n0;
        c2 = n2;
        k0 += PHILOX_W0;
        k1 += PHILOX_W1;
    }
    out[0] = c0;
    out[1] = c1;
    out[2] = c2;
    out[3] = c3;
}

/* A thread per block of four elements. */
__global__ void dropout_kernel(int64_t n, uint64_t seed, uint64_t stream, float keep, float scale,
                               float *mask) {
    GRID_STRIDE(b, (n + 3) / 4) {
        uint32_t w[4];
        philox_block(seed, stream, (uint64_t)b, w);
        for (int64_t k = 0; k < 4 && 4 * b + k < n; k++) {
            const float u = (float)(w[k] >> 8) * (1.0f / 16777216.0f);
            mask[4 * b + k] = u < keep ? scale : 0.0f;
        }
    }
}

extern "C" void cuda_dropout_mask(void *vst, int64_t n, double p, uint64_t seed, uint64_t stream,
                                  float *d_mask) {
    cuda_state *st = (cuda_state *)vst;
    if (n <= 0) return;
    const float keep = (float)(1.0 - p), scale = keep > 0.0f ? 1.0f / keep : 0.0f;
    CUDA_LAUNCH(st, cuda_grid(st, (n + 3) / 4, CUDA_THREADS), dropout_kernel, n, seed, stream, keep,
                scale, d_mask);
}

/* ---- batch norm --------------------------------------------------------------------------- */

/* Offset of element k (0 <= k < n l) of channel ch in x viewed as (n, c, l). */
__device__ __forceinline__ int64_t bn_at(int64_t c, int64_t l, int64_t ch, int64_t k) {
    return ((k / l) * c + ch) * l + k % l;
}

/* The block's sum over channel ch of x - shift (square: of its square), in double. */
__device__ double bn_channel_sum(int64_t n, int64_t c, int64_t l, const float *x, int64_t ch,
                                 double shift, bool square, double *smem) {
    double s = 0;
    for (int64_t k = threadIdx.x; k < n * l; k += blockDim.x) {
        const double d = (double)x[bn_at(c, l, ch, k)] - shift;
        s += square ? d * d : d;
    }
    return row_sum<CUDA_THREADS>(s, smem);
}

__global__ void bn_fwd_kernel(int64_t n, int64_t c, int64_t l, const float *x, const float *w,
                              const float *b, double eps, float *y, float *out_mean,
                              float *out_var) {
    __shared__ double smem[CUDA_WARPS];
    const double m = (double)(n * l);
    for (int64_t ch = blockIdx.x; ch < c; ch += gridDim.x) {
        const double mean = bn_channel_sum(n, c, l, x, ch, 0.0, false, smem) / m;
        const double var = bn_channel_sum(n, c, l, x, ch, mean, true, smem) / m;
        const float invstd = (float)(1.0 / sqrt(var + eps));
        const float alpha = w ? w[ch] * invstd : invstd;
        const float beta = (b ? b[ch] : 0.0f) - (float)mean * alpha;
        if (threadIdx.x == 0) {
            out_mean[ch] = (float)mean;
            out_var[ch] = (float)var;
        }
        for (int64_t k = threadIdx.x; k < n * l; k += blockDim.x) {
            const int64_t at = bn_at(c, l, ch, k);
            y[at] = x[at] * alpha + beta;
        }
    }
}

extern "C" void cuda_batch_norm(void *vst, int64_t n, int64_t c, int64_t l, const float *d_x,
                                const float *d_w, const float *d_b, double eps, float *d_y,
                                float *d_mean, float *d_var) {
    cuda_state *st = (cuda_state *)vst;
    if (c <= 0) return;
    CUDA_LAUNCH(st, cuda_row_grid(st, c, CUDA_THREADS), bn_fwd_kernel, n, c, l, d_x, d_w, d_b, eps,
                d_y, d_mean, d_var);
}

/* Per channel: sum dy and sum dy xh (xh in float, as the cpu computes it), then dx. */
__global__ void bn_bwd_kernel(int64_t n, int64_t c, int64_t l, const float *x, const float *dy,
                              const float *mean_in, const float *var_in, const float *w, double eps,
                              float *dx, float *dw, float *db) {
    __shared__ double smem[CUDA_WARPS];
    const double m = (double)(n * l);
    for (int64_t ch = blockIdx.x; ch < c; ch += gridDim.x) {
        const float mean = mean_in[ch];
        const float invstd = (float)(1.0 / sqrt((double)var_in[ch] + eps));
        double s0 = 0, s1 = 0;
        for (int64_t k = threadIdx.x; k < n * l; k += blockDim.x) {
            const int64_t at = bn_at(c, l, ch, k);
            const double g = dy[at];
            s0 += g;
            s1 += g * (double)((x[at] - mean) * invstd);
        }
        const double sdy = row_sum<CUDA_THREADS>(s0, smem);
        const double sdyxh = row_sum<CUDA_THREADS>(s1, smem);
        if (threadIdx.x == 0) {
            if (dw) dw[ch] = (float)sdyxh;
            if (db) db[ch] = (float)sdy;
        }
        if (!dx) continue;
        const float scale = (w ? w[ch] : 1.0f) * invstd;
        const float gmean = (float)(sdy / m), xhmean = (float)(sdyxh / m);
        for (int64_t k = threadIdx.x; k < n * l; k += blockDim.x) {
            const int64_t at = bn_at(c, l, ch, k);
            dx[at] = scale * (dy[at] - gmean - (x[at] - mean) * invstd * xhmean);
        }
    }
}

extern "C" void cuda_batch_norm_bwd(void *vst, int64_t n, int64_t c, int64_t l, const float *d_x,
                                    const float *d_dy, const float *d_mean, const float *d_var,
                                    const float *d_w, double eps, float *d_dx, float *d_dw,
                                    float *d_db) {
    cuda_state *st = (cuda_state *)vst;
    if (c <= 0) return;
    CUDA_LAUNCH(st, cuda_row_grid(st, c, CUDA_THREADS), bn_bwd_kernel, n, c, l, d_x, d_dy, d_mean,
                d_var, d_w, eps, d_dx, d_dw, d_db);
}
