/* fake_kernels.c — the plugin's kernel entry points for cuda_host_check, which links the
 * plugin's host code without its .cu files: each aborts, since that check never runs a
 * kernel (cuda_ops_check does, on a GPU), except reduce_sum below, which the cuDNN path's
 * bias gradient needs. Declared without their parameters on purpose: nothing else here
 * may be called. */
#include <stdint.h>
#include <stdlib.h>

#include <cuda_runtime.h>

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
NOT_SIMULATED(cuda_to_half)
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
NOT_SIMULATED(cuda_gemm)
NOT_SIMULATED(cuda_gemm_batched)
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

/* The one kernel the host check runs: the cuDNN path's bias gradient (cudnn.c) sums with
 * it. On the host, after the fake runtime's queued copies (the device's order). */
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
