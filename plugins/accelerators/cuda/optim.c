/* optim.c — the factors of the SGD and Adam(W) updates, computed in double as PyTorch's
 * _single_tensor_sgd / _single_tensor_adam compute them, then rounded to float exactly as
 * the cpu accelerator rounds them (plugins/accelerators/cpu/optim.c); optim.cu applies
 * them in one pass. */
#include <math.h>

#include "cuda_impl.h"

void cuda_sgd_step(void *st, int64_t n, float *d_p, const float *d_g, float *d_buf,
                   const lt_sgd_hyper *h) {
    const cuda_sgd_args a = {
        .wd = (float)h->weight_decay,
        .momentum = (float)h->momentum,
        .damp_alpha = (float)(1.0 - (double)h->dampening),
        .neg_lr = (float)-h->lr,
        .use_wd = h->weight_decay != 0.0f,
        .mode = h->momentum == 0.0f ? 0
                : h->first_step     ? 1
                                    : 2,
        .nesterov = h->nesterov != 0,
    };
    cuda_launch_sgd(st, n, d_p, d_g, d_buf, &a);
}

void cuda_adam_step(void *st, int64_t n, float *d_p, const float *d_g, float *d_m, float *d_v,
                    const lt_adam_hyper *h) {
    const double lr = h->lr, wd = h->weight_decay, beta1 = h->beta1, beta2 = h->beta2;
    const double step = (double)h->step;
    const double bc1 = 1.0 - pow(beta1, step), bc2 = 1.0 - pow(beta2, step);
    const float w1 = (float)(1.0 - beta1);
    const cuda_adam_args a = {
        .decay = h->decoupled ? (float)(1.0 - lr * wd) : 1.0f,
        .wd = (float)h->weight_decay,
        .w1 = w1,
        .beta2 = (float)h->beta2,
        .c2 = (float)(1.0 - beta2),
        .bc2_sqrt = (float)sqrt(bc2),
        .eps = (float)h->eps,
        .neg_step = (float)(-(lr / bc1)),
        .use_wd = !h->decoupled && h->weight_decay != 0.0f,
        .small_w = fabsf(w1) < 0.5f,
    };
    cuda_launch_adam(st, n, d_p, d_g, d_m, d_v, &a);
}
