/* The optimizer object, shared by optimizer.c (SGD, Adam, AdamW, the common step, zero_grad
 * and checkpoint support) and optim_more.c (RMSprop, Adagrad, Adamax, NAdam, RAdam, composed
 * of the accelerator's elementwise slots). Private to liblt. */
#ifndef LT_OPTIMIZER_IMPL_H
#define LT_OPTIMIZER_IMPL_H

#include <stdbool.h>
#include <stdint.h>

#include "lt_impl.h"

typedef enum {
    OPT_SGD,
    OPT_ADAM, /* Adam and AdamW (decoupled) */
    OPT_RMSPROP,
    OPT_ADAGRAD,
    OPT_ADAMAX,
    OPT_NADAM,
    OPT_RADAM,
    OPT_KINDS
} opt_kind;

/* Which kinds an option applies to. */
#define OPT_MASK(k) (1u << (k))
#define OPT_BETAS                                                                                  \
    (OPT_MASK(OPT_ADAM) | OPT_MASK(OPT_ADAMAX) | OPT_MASK(OPT_NADAM) | OPT_MASK(OPT_RADAM))

/* An optimizer's hyper-parameters, as a constructor gets them or a checkpoint's
 * param_group gives them. */
typedef struct hyper_values {
    double lr, momentum, dampening, weight_decay, beta1, beta2, eps;
    bool nesterov;
    /* -- #23: RMSprop, Adagrad, NAdam, RAdam -- */
    double alpha, lr_decay, initial_accumulator_value, momentum_decay;
    bool centered, decoupled;
} hyper_values;

/* The most state slots (RMSprop: square_avg, momentum_buffer, grad_avg) and scratch
 * buffers (Adamax) an optimizer uses; scratch holds at most OPT_CHUNK floats each. */
#define OPT_MAX_SLOTS 3
#define OPT_MAX_SCRATCH 3
#define OPT_CHUNK ((int64_t)1 << 16)

/* A param group: parameters [first, next group's first) of the list, with their own lr
 * and weight decay (torch's param_groups; the other hyper-parameters are shared). */
typedef struct opt_group {
    int64_t first;
    double lr, weight_decay;
    double initial_lr; /* torch's group["initial_lr"], set by the first scheduler */
    bool has_initial_lr;
} opt_group;

struct lt_optimizer {
    opt_kind kind;
    const char *name;
    lt_param_list_t *params;
    hyper_values h;
    int64_t step; /* updates done so far */
    int nslots;   /* state floats per parameter element */
    const char *slot_names[OPT_MAX_SLOTS];
    float slot_init[OPT_MAX_SLOTS]; /* each slot's value before the first step */
    lt_storage *state;              /* nslots * total elements, slot_init until the first step */
    int64_t total;                  /* elements over all parameters */
    float mu_product; /* NAdam: the product of the momentum schedule (a float32, as torch's) */
    int nscratch;     /* composed updates: scratch buffers of min(total, OPT_CHUNK) floats */
    lt_storage *scratch;
    int ngroups; /* >= 1 */
    opt_group *groups;
};

/* Parameters of group g: [first, end). */
static inline int64_t lt__opt_group_end(const lt_optimizer_t *o, int g) {
    return g + 1 < o->ngroups ? o->groups[g + 1].first : o->params->len;
}

/* A new optimizer over params (owned, also on failure) before its hyper-parameters are
 * set; NULL with an error. */
lt_optimizer_t *lt__opt_new(lt_param_list_t *params, opt_kind kind, const char *name);
/* o with hyper-parameters h when the constructor's rules accept them; otherwise NULL (o
 * freed) with an error naming the first one out of range. */
lt_optimizer_t *lt__opt_init(lt_optimizer_t *o, const hyper_values *h);

/* One step of a composed optimizer (RMSprop ... RAdam) over n <= OPT_CHUNK floats of
 * parameter p (gradient g), its state slots at slot[k] and scratch at tmp[k], with h (o's
 * values with the group's lr and weight decay). o->step has been counted already. */
void lt__optim_more_run(const lt_optimizer_t *o, const hyper_values *h, lt_device_t *dev, float *p,
                        const float *g, float *const slot[OPT_MAX_SLOTS],
                        float *const tmp[OPT_MAX_SCRATCH], int64_t n);
/* What the kind's step needs once per step, before any run (NAdam's mu_product). */
void lt__optim_more_begin_step(lt_optimizer_t *o);
/* Group g's initial_lr: set to its lr on the first call (torch's setdefault), and by
 * OneCycleLR to its own. */
double lt__optimizer_initial_lr(lt_optimizer_t *o, int g);
void lt__optimizer_set_initial_lr(lt_optimizer_t *o, int g, double lr);

/* FLOPs per element of one composed update, for the profiler. */
double lt__optim_more_flops(const lt_optimizer_t *o);
/* Profiler span name of a kind's update: "rmsprop_step", ... */
const char *lt__optim_more_span(const lt_optimizer_t *o);

#endif
