/* optim.cu — the fused SGD and Adam(W) updates, one pass over the flat parameter buffer.
 * optim.c computes the float factors exactly as the cpu accelerator does; the loop bodies
 * are the cpu's (plugins/accelerators/cpu/optim.c) expression for expression, and with
 * --fmad=false they round alike, so both accelerators produce the same bits. Each
 * combination of flags is its own kernel: no per-element branch on a flag. */
#include "../shared/lt_formulas.h"
#include "kernels.cuh"

/* g = grad + wd p; buf = g (first step) or buf momentum + (1 - dampening) g;
 * g = nesterov ? g + momentum buf : buf; p = p - lr g. */
template <int USE_WD, int MODE, int NESTEROV>
__global__ void sgd_kernel(int64_t n, float *p, const float *grad, float *buf, cuda_sgd_args a) {
    GRID_STRIDE(i, n) {
        float g = USE_WD ? grad[i] + a.wd * p[i] : grad[i];
        if (MODE != 0) {
            const float b = MODE == 1 ? g : buf[i] * a.momentum + a.damp_alpha * g;
            buf[i] = b;
            g = NESTEROV ? g + a.momentum * b : b;
        }
        p[i] = p[i] + a.neg_lr * g;
    }
}

/* The update's formulas are the cpu accelerator's (../shared/lt_formulas.h). */
template <int USE_WD, int SMALL_W>
__global__ void adam_kernel(int64_t n, float *p, const float *grad, float *m, float *v,
                            cuda_adam_args a) {
    GRID_STRIDE(i, n) {
        const float pi = p[i] * a.decay;
        const float g = lt_adam_grad(grad[i], pi, a.wd, USE_WD);
        const float mi = lt_lerp_f(m[i], g, a.w1, SMALL_W);
        const float vi = lt_adam_v(v[i], g, a.beta2, a.c2);
        const float denom = lt_adam_denom(vi, a.bc2_sqrt, a.eps);
        m[i] = mi;
        v[i] = vi;
        p[i] = lt_adam_p(pi, mi, denom, a.neg_step);
    }
}

#define SGD_NEST(WD, MODE)                                                                         \
    if (a->nesterov)                                                                               \
        CUDA_LAUNCH(st, grid, (sgd_kernel<WD, MODE, 1>), n, d_p, d_g, d_buf, *a);                  \
    else                                                                                           \
        CUDA_LAUNCH(st, grid, (sgd_kernel<WD, MODE, 0>), n, d_p, d_g, d_buf, *a);
#define SGD_MODE(WD)                                                                               \
    if (a->mode == 0) {                                                                            \
        SGD_NEST(WD, 0)                                                                            \
    } else if (a->mode == 1) {                                                                     \
        SGD_NEST(WD, 1)                                                                            \
    } else {                                                                                       \
        SGD_NEST(WD, 2)                                                                            \
    }

extern "C" void cuda_launch_sgd(cuda_state *st, int64_t n, float *d_p, const float *d_g,
                                float *d_buf, const cuda_sgd_args *a) {
    if (n <= 0) return;
    const unsigned grid = cuda_grid(st, n, CUDA_THREADS);
    if (a->use_wd) {
        SGD_MODE(1)
    } else {
        SGD_MODE(0)
    }
}

extern "C" void cuda_launch_adam(cuda_state *st, int64_t n, float *d_p, const float *d_g,
                                 float *d_m, float *d_v, const cuda_adam_args *a) {
    if (n <= 0) return;
    const unsigned grid = cuda_grid(st, n, CUDA_THREADS);
    if (a->use_wd && a->small_w)
        CUDA_LAUNCH(st, grid, (adam_kernel<1, 1>), n, d_p, d_g, d_m, d_v, *a);
    else if (a->use_wd)
        CUDA_LAUNCH(st, grid, (adam_kernel<1, 0>), n, d_p, d_g, d_m, d_v, *a);
    else if (a->small_w)
        CUDA_LAUNCH(st, grid, (adam_kernel<0, 1>), n, d_p, d_g, d_m, d_v, *a);
    else
        CUDA_LAUNCH(st, grid, (adam_kernel<0, 0>), n, d_p, d_g, d_m, d_v, *a);
}
