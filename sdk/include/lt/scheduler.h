/* lt/scheduler.h — learning-rate schedulers with PyTorch's formulas
 * (torch.optim.lr_scheduler), computed in double exactly as torch computes them.
 *
 * Each constructor does torch's initial step (last_epoch -1 -> 0), so it may change the
 * optimizer's lr at once (OneCycleLR sets max_lr / div_factor); ReduceLROnPlateau does
 * not step at construction. The scheduler does not own the optimizer, which must outlive
 * it. Like torch's, the chainable schedulers (StepLR, MultiStepLR, ExponentialLR,
 * CosineAnnealingLR) scale the optimizer's current lr, so changes made to it between
 * steps carry on. On bad arguments a constructor returns NULL and records an error that
 * names the argument and its valid range. */
#ifndef LT_SCHEDULER_H
#define LT_SCHEDULER_H

#include <stdbool.h>
#include <stdint.h>

#include "optim.h"

typedef struct lt_scheduler lt_scheduler_t;

/* StepLR: lr *= gamma every step_size steps (step_size >= 1, gamma finite and > 0). */
LT_API lt_scheduler_t *lt_step_lr(lt_optimizer_t *opt, int64_t step_size, double gamma);
/* MultiStepLR: lr *= gamma at each milestone; a milestone given k times multiplies by
 * gamma^k (the n milestones are copied, any order, each >= 0; n >= 0). */
LT_API lt_scheduler_t *lt_multistep_lr(lt_optimizer_t *opt, const int64_t *milestones, int n,
                                       double gamma);
/* ExponentialLR: lr *= gamma every step (gamma finite and > 0). */
LT_API lt_scheduler_t *lt_exponential_lr(lt_optimizer_t *opt, double gamma);
/* CosineAnnealingLR in torch's recursive form, from the optimizer's lr to eta_min over
 * t_max steps and back up after (t_max >= 1, eta_min finite and >= 0). */
LT_API lt_scheduler_t *lt_cosine_annealing_lr(lt_optimizer_t *opt, int64_t t_max, double eta_min);

typedef struct lt_onecycle_opts {
    uint32_t struct_size; /* sizeof(lt_onecycle_opts) */
    double max_lr;        /* the peak lr, finite and > 0 */
    int64_t total_steps;  /* >= 1; step total_steps + 1 is an error */
    double pct_start;     /* [0, 1]: share of the steps spent raising the lr */
    int anneal_cos;       /* 1 cos, 0 linear */
    int cycle_momentum;   /* cycle SGD's momentum / Adam's beta1 inversely to the lr */
    double base_momentum, max_momentum;
    double div_factor;       /* initial lr = max_lr / div_factor (finite, > 0) */
    double final_div_factor; /* min lr = initial lr / final_div_factor (finite, > 0) */
    int three_phase;         /* torch's three_phase: warm up, cool down, annihilate */
} lt_onecycle_opts;

#define LT_ONECYCLE_DEFAULTS(max_lr_, total_)                                                      \
    ((lt_onecycle_opts){.struct_size = sizeof(lt_onecycle_opts),                                   \
                        .max_lr = (max_lr_),                                                       \
                        .total_steps = (total_),                                                   \
                        .pct_start = 0.3,                                                          \
                        .anneal_cos = 1,                                                           \
                        .cycle_momentum = 1,                                                       \
                        .base_momentum = 0.85,                                                     \
                        .max_momentum = 0.95,                                                      \
                        .div_factor = 25.0,                                                        \
                        .final_div_factor = 1e4,                                                   \
                        .three_phase = 0})

/* OneCycleLR. With cycle_momentum the optimizer must have a momentum to cycle (SGD built
 * with momentum > 0, Adam, AdamW) and both momentum bounds must suit it. */
LT_API lt_scheduler_t *lt_onecycle_lr(lt_optimizer_t *opt, const lt_onecycle_opts *o);

typedef struct lt_plateau_opts {
    uint32_t struct_size; /* sizeof(lt_plateau_opts) */
    int mode_max;         /* 0: the metric should fall (loss), 1: rise (accuracy) */
    double factor;        /* new lr = lr * factor, in [0, 1) */
    int64_t patience;     /* bad steps tolerated before a reduction, >= 0 */
    double threshold;     /* least improvement that counts, finite and >= 0 */
    int threshold_abs;    /* 0: relative (best * (1 -/+ threshold)), 1: absolute */
    int64_t cooldown;     /* steps after a reduction in which bad steps are ignored, >= 0 */
    double min_lr, eps;   /* lr floor; reductions smaller than eps are skipped (both >= 0) */
} lt_plateau_opts;

#define LT_PLATEAU_DEFAULTS                                                                        \
    ((lt_plateau_opts){.struct_size = sizeof(lt_plateau_opts),                                     \
                       .mode_max = 0,                                                              \
                       .factor = 0.1,                                                              \
                       .patience = 10,                                                             \
                       .threshold = 1e-4,                                                          \
                       .threshold_abs = 0,                                                         \
                       .cooldown = 0,                                                              \
                       .min_lr = 0.0,                                                              \
                       .eps = 1e-8})

/* ReduceLROnPlateau: stepped with lt_scheduler_step_metric. */
LT_API lt_scheduler_t *lt_reduce_lr_on_plateau(lt_optimizer_t *opt, const lt_plateau_opts *o);

/* One scheduler step (torch's scheduler.step()), after the optimizer's step. On error
 * nothing changes. ReduceLROnPlateau needs lt_scheduler_step_metric (error here). */
LT_API lt_status lt_scheduler_step(lt_scheduler_t *s);
/* ReduceLROnPlateau.step(metric); for other schedulers the metric is ignored and it is
 * lt_scheduler_step. A NaN metric is an error (LT_ERR_NUMERIC). */
LT_API lt_status lt_scheduler_step_metric(lt_scheduler_t *s, double metric);
/* Whether steps need a metric (ReduceLROnPlateau). */
LT_API bool lt_scheduler_needs_metric(const lt_scheduler_t *s);
/* torch's get_last_lr()[0]: the lr after the last step (or construction); NaN for NULL. */
LT_API double lt_scheduler_last_lr(const lt_scheduler_t *s);
/* "StepLR", "MultiStepLR", "ExponentialLR", "CosineAnnealingLR", "OneCycleLR",
 * "ReduceLROnPlateau", "LinearLR", "ConstantLR", "PolynomialLR",
 * "CosineAnnealingWarmRestarts", "SequentialLR", "ChainedScheduler" */
LT_API const char *lt_scheduler_name(const lt_scheduler_t *s);
/* The optimizer the scheduler drives (not owned). */
LT_API lt_optimizer_t *lt_scheduler_optimizer(const lt_scheduler_t *s);
/* torch's last_epoch: steps taken since construction (0 right after it). */
LT_API int64_t lt_scheduler_last_epoch(const lt_scheduler_t *s);
/* Free the scheduler (NULL is a no-op); the optimizer keeps its current lr. */
LT_API void lt_scheduler_free(lt_scheduler_t *s);

/* ---- #23: more of torch.optim.lr_scheduler ----------------------------------------- */

/* LinearLR: the lr scaled from start_factor (in (0, 1]) to end_factor (in [0, 1]) times
 * the initial lr, linearly over total_iters (>= 1) steps, then left alone. */
LT_API lt_scheduler_t *lt_linear_lr(lt_optimizer_t *opt, double start_factor, double end_factor,
                                    int64_t total_iters);
/* ConstantLR: the lr times factor (in [0, 1]) until step total_iters (>= 0), then back. */
LT_API lt_scheduler_t *lt_constant_lr(lt_optimizer_t *opt, double factor, int64_t total_iters);
/* PolynomialLR: the lr decayed as (1 - t / total_iters) ^ power to 0 at total_iters (>= 1;
 * power finite, >= 0). */
LT_API lt_scheduler_t *lt_polynomial_lr(lt_optimizer_t *opt, int64_t total_iters, double power);
/* CosineAnnealingWarmRestarts: cosine from the initial lr to eta_min over t_0 steps, then
 * again over t_0 * t_mult, t_0 * t_mult^2, ... (t_0 >= 1, t_mult in [1, 1024]). */
LT_API lt_scheduler_t *lt_cosine_warm_restarts(lt_optimizer_t *opt, int64_t t_0, int64_t t_mult,
                                               double eta_min);
/* SequentialLR: scheds[0] until step milestones[0], then scheds[1] (restarted at its epoch
 * 0) until milestones[1], ...; n (1 to 16) schedulers built on opt (none a
 * ReduceLROnPlateau or a composite), n - 1 ascending milestones. Takes ownership of the
 * schedulers, also on failure. Linear warmup then cosine:
 *   lt_sequential_lr(opt, (lt_scheduler_t *[]){lt_linear_lr(opt, 0.01, 1, w),
 *                    lt_cosine_annealing_lr(opt, total - w, 0)}, 2, (int64_t[]){w}) */
LT_API lt_scheduler_t *lt_sequential_lr(lt_optimizer_t *opt, lt_scheduler_t *const *scheds, int n,
                                        const int64_t *milestones);
/* ChainedScheduler: every step steps all n (1 to 16) schedulers, in order, each scaling
 * the lr the previous one left; owned as by lt_sequential_lr. */
LT_API lt_scheduler_t *lt_chained_scheduler(lt_scheduler_t *const *scheds, int n);

#endif
