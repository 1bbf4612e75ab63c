/* fake_kernels.c — the plugin's kernel entry points for cuda_host_check, which links the
 * plugin's host code without its .cu files: each aborts, since that check never runs a
 * kernel (cuda_ops_check does, on a GPU), except the three at the end, which the cuDNN
 * path's bias gradient and gemm.c's half copies and k = 0 case need. Declared without
 * their parameters on purpose: nothing else here may be called. */
#include <stdint.h>
#include <stdlib.h>

#include <cuda_runtime.h>
#include <lt/tensor.h>

struct cuda_state;

#define NOT_SIMULATED(name)                                                                        \
    void name(void);                                                                               \
    void name(void) { abort(); }

NOT_SIMULATED(cuda_fill)
NOT_SIMULATED(cuda_affine)
NOT_SIMULATED(cuda_unary)
NOT_SIMULATED(cuda_binary)
NOT_SIMULATED(cuda_clamp)
NOT_SIMULATED(cuda_unscale_grads)
NOT_SIMULATED(cuda_round_half)
NOT_SIMULATED(cuda_cast_f32)
NOT_SIMULATED(cuda_argmax)
NOT_SIMULATED(cuda_eq_i64)
NOT_SIMULATED(cuda_softmax)
NOT_SIMULATED(cuda_log_softmax)
NOT_SIMULATED(cuda_softmax_bwd)
NOT_SIMULATED(cuda_log_softmax_bwd)
NOT_SIMULATED(cuda_cross_entropy)
NOT_SIMULATED(cuda_cross_entropy_bwd)
NOT_SIMULATED(cuda_sgd_step)
NOT_SIMULATED(cuda_adam_step)
NOT_SIMULATED(cuda_im2col)
NOT_SIMULATED(cuda_col2im)
NOT_SIMULATED(cuda_pool2d)
NOT_SIMULATED(cuda_pool2d_bwd)
NOT_SIMULATED(cuda_dropout_mask)
NOT_SIMULATED(cuda_batch_norm)
NOT_SIMULATED(cuda_batch_norm_bwd)
/* tensor manipulation (index.cu) */
NOT_SIMULATED(cuda_copy_strided)
NOT_SIMULATED(cuda_gather)
NOT_SIMULATED(cuda_scatter_add)
NOT_SIMULATED(cuda_masked_fill)

/* The kernels the host check runs, on the host after the fake runtime's queued copies
 * (the device's order). The cuDNN path's bias gradient (cudnn.c) sums with this one. */
void cuda_reduce_sum(void *st, int64_t outer, int64_t mid, int64_t inner, const float *d_in,
                     float scale, float *d_out);
void cuda_reduce_sum(void *st, int64_t outer, int64_t mid, int64_t inner, const float *d_in,
                     float scale, float *d_out) {
    (void)st;
    cudaStreamSynchronize(NULL);
    for (int64_t o = 0; o < outer; o++)
        for (int64_t i = 0; i < inner; i++) {
            double sum = 0;
            for (int64_t m = 0; m < mid; m++) sum += d_in[(o * mid + m) * inner + i];
            d_out[o * inner + i] = (float)(sum * scale);
        }
}

/* gemm.c's half-precision operands: rows x cols of x (ld apart) as dense fp16 / bf16,
 * rounded to nearest even as the kernel's __float2half_rn / __float2bfloat16_rn. */
void cuda_to_half(struct cuda_state *st, int64_t rows, int64_t cols, const float *d_x, int64_t ld,
                  int bf16, void *d_out);
void cuda_to_half(struct cuda_state *st, int64_t rows, int64_t cols, const float *d_x, int64_t ld,
                  int bf16, void *d_out) {
    (void)st;
    cudaStreamSynchronize(NULL);
    uint16_t *out = d_out;
    for (int64_t r = 0; r < rows; r++)
        for (int64_t c = 0; c < cols; c++) {
            const float x = d_x[r * ld + c];
            out[r * cols + c] = bf16 ? lt_f32_to_bf16(x) : lt_f32_to_f16(x);
        }
}

/* gemm.c's k = 0 product: C = beta C, where beta 0 overwrites (NaN included). */
void cuda_scale_matrix(struct cuda_state *st, int64_t m, int64_t n, float beta, float *d_c,
                       int64_t ldc);
void cuda_scale_matrix(struct cuda_state *st, int64_t m, int64_t n, float beta, float *d_c,
                       int64_t ldc) {
    (void)st;
    cudaStreamSynchronize(NULL);
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++)
            d_c[i * ldc + j] = beta == 0.0f ? 0.0f : beta * d_c[i * ldc + j];
}
