/* optim.c — SGD and Adam(W) updates in place, following PyTorch's _single_tensor_sgd and
 * _single_tensor_adam (torch/optim/sgd.py, adam.py) step by step: the scalar factors
 * are computed in double, as Python computes them, then applied in float in the order
 * ATen's kernels apply them (add with alpha: a + alpha * b; addcmul: a + s * b * c;
 * addcdiv: a + s * b / c; lerp). Parameter, gradient and state never alias. */
#include <math.h>

#include "../shared/lt_formulas.h"
#include "cpu_impl.h"

#define ALWAYS_INLINE static inline __attribute__((always_inline))

/* Each update is one loop body written once, compiled once per combination of its
 * flags. With the flags constant, the body has no branches: GCC will not if-convert
 * float arithmetic (it may trap), so a branch on a flag would stop vectorisation. */

/* ---- SGD ---------------------------------------------------------------------------- */

enum { SGD_PLAIN, SGD_FIRST, SGD_MOMENTUM, SGD_MODES }; /* momentum buffer handling */

typedef struct {
    float *p, *buf; /* (n); buf unused (maybe NULL) for SGD_PLAIN */
    const float *g; /* (n) */
    float wd, momentum, damp_alpha, neg_lr;
} sgd_args;

/* g = grad + wd p; buf = g (first step) or buf momentum + (1 - dampening) g;
 * g = nesterov ? g + momentum buf : buf; p = p - lr g. */
ALWAYS_INLINE void sgd_loop(const sgd_args *a, int64_t lo, int64_t hi, int use_wd, int mode,
                            int nesterov) {
    float *restrict p = a->p, *restrict buf = a->buf;
    const float *restrict grad = a->g;
    const float wd = a->wd, mom = a->momentum, damp = a->damp_alpha, neg_lr = a->neg_lr;
    for (int64_t i = lo; i < hi; i++) {
        float g = use_wd ? grad[i] + wd * p[i] : grad[i];
        if (mode != SGD_PLAIN) {
            const float b = mode == SGD_FIRST ? g : buf[i] * mom + damp * g;
            buf[i] = b;
            g = nesterov ? g + mom * b : b;
        }
        p[i] = p[i] + neg_lr * g;
    }
}

#define SGD_VARIANT(WD, MODE, NEST)                                                                \
    static void sgd_##WD##_##MODE##_##NEST(const void *a, int64_t lo, int64_t hi) {                \
        sgd_loop(a, lo, hi, WD, MODE, NEST);                                                       \
    }
#define SGD_VARIANTS(WD, MODE) SGD_VARIANT(WD, MODE, 0) SGD_VARIANT(WD, MODE, 1)
/* clang-format off */
SGD_VARIANTS(0, 0) SGD_VARIANTS(0, 1) SGD_VARIANTS(0, 2)
SGD_VARIANTS(1, 0) SGD_VARIANTS(1, 1) SGD_VARIANTS(1, 2)
    /* clang-format on */

    /* [weight decay?][mode][nesterov?] */
    static const cpu_span_fn sgd_spans[2][SGD_MODES][2] = {
        {{sgd_0_0_0, sgd_0_0_1}, {sgd_0_1_0, sgd_0_1_1}, {sgd_0_2_0, sgd_0_2_1}},
        {{sgd_1_0_0, sgd_1_0_1}, {sgd_1_1_0, sgd_1_1_1}, {sgd_1_2_0, sgd_1_2_1}},
};

void cpu_sgd_step(void *st, int64_t n, float *d_p, const float *d_g, float *d_buf,
                  const lt_sgd_hyper *h) {
    const sgd_args a = {.p = d_p,
                        .buf = d_buf,
                        .g = d_g,
                        .wd = h->weight_decay,
                        .momentum = h->momentum,
                        .damp_alpha = (float)(1.0 - (double)h->dampening),
                        .neg_lr = -h->lr};
    const int mode = h->momentum == 0.0f ? SGD_PLAIN : h->first_step ? SGD_FIRST : SGD_MOMENTUM;
    const cpu_span_fn span = sgd_spans[h->weight_decay != 0.0f][mode][h->nesterov != 0];
    cpu_parallel_for(st, n, 1, span, &a);
}

/* ---- Adam / AdamW ------------------------------------------------------------------- */

typedef struct {
    float *p, *m, *v; /* (n) */
    const float *g;   /* (n) */
    float decay;      /* AdamW: p *= 1 - lr wd; exactly 1 for Adam */
    float wd;         /* Adam: g += wd p */
    float w1;         /* lerp weight 1 - beta1 */
    float beta2, c2;  /* v = v beta2 + c2 g g, c2 = 1 - beta2 */
    float bc2_sqrt;   /* sqrt(1 - beta2^step) */
    float eps;
    float neg_step; /* -lr / (1 - beta1^step) */
} adam_args;

/* The update's formulas are the cuda kernel's too (../shared/lt_formulas.h). */
ALWAYS_INLINE void adam_loop(const adam_args *a, int64_t lo, int64_t hi, int use_wd, int small_w) {
    float *restrict p = a->p, *restrict m = a->m, *restrict v = a->v;
    const float *restrict grad = a->g;
    for (int64_t i = lo; i < hi; i++) {
        const float pi = p[i] * a->decay;
        const float g = lt_adam_grad(grad[i], pi, a->wd, use_wd);
        const float mi = lt_lerp_f(m[i], g, a->w1, small_w);
        const float vi = lt_adam_v(v[i], g, a->beta2, a->c2);
        /* Vectorises when built with -fno-math-errno (else sqrtf keeps an errno branch). */
        const float denom = lt_adam_denom(vi, a->bc2_sqrt, a->eps);
        m[i] = mi;
        v[i] = vi;
        p[i] = lt_adam_p(pi, mi, denom, a->neg_step);
    }
}

CPU_WIDEST static void adam_0_0(const void *a, int64_t lo, int64_t hi) {
    adam_loop(a, lo, hi, 0, 0);
}
CPU_WIDEST static void adam_0_1(const void *a, int64_t lo, int64_t hi) {
    adam_loop(a, lo, hi, 0, 1);
}
CPU_WIDEST static void adam_1_0(const void *a, int64_t lo, int64_t hi) {
    adam_loop(a, lo, hi, 1, 0);
}
CPU_WIDEST static void adam_1_1(const void *a, int64_t lo, int64_t hi) {
    adam_loop(a, lo, hi, 1, 1);
}

/* [coupled weight decay?][|1 - beta1| < 0.5?] */
static const cpu_span_fn adam_spans[2][2] = {{adam_0_0, adam_0_1}, {adam_1_0, adam_1_1}};

void cpu_adam_step(void *st, int64_t n, float *d_p, const float *d_g, float *d_m, float *d_v,
                   const lt_adam_hyper *h) {
    const double lr = h->lr, wd = h->weight_decay, beta1 = h->beta1, beta2 = h->beta2;
    const double step = (double)h->step;
    const double bc1 = 1.0 - pow(beta1, step), bc2 = 1.0 - pow(beta2, step);
    const adam_args a = {
        .p = d_p,
        .m = d_m,
        .v = d_v,
        .g = d_g,
        .decay = h->decoupled ? (float)(1.0 - lr * wd) : 1.0f,
        .wd = h->weight_decay,
        .w1 = (float)(1.0 - beta1),
        .beta2 = h->beta2,
        .c2 = (float)(1.0 - beta2),
        .bc2_sqrt = (float)sqrt(bc2),
        .eps = h->eps,
        .neg_step = (float)(-(lr / bc1)),
    };
    const int coupled = !h->decoupled && h->weight_decay != 0.0f;
    cpu_parallel_for(st, n, 1, adam_spans[coupled][fabsf(a.w1) < 0.5f], &a);
}
