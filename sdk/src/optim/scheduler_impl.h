/* The scheduler object, shared by scheduler.c (the six first schedulers, stepping,
 * checkpoint state) and sched_more.c (LinearLR, ConstantLR, PolynomialLR,
 * CosineAnnealingWarmRestarts, SequentialLR, ChainedScheduler). Private to liblt. */
#ifndef LT_SCHEDULER_IMPL_H
#define LT_SCHEDULER_IMPL_H

#include <lt/scheduler.h>

#include "lt_impl.h"

typedef enum {
    SCHED_STEP,
    SCHED_MULTISTEP,
    SCHED_EXP,
    SCHED_COSINE,
    SCHED_ONECYCLE,
    SCHED_PLATEAU,
    /* -- #23 -- */
    SCHED_LINEAR,
    SCHED_CONSTANT,
    SCHED_POLY,
    SCHED_WARM_RESTARTS,
    SCHED_SEQUENTIAL, /* composite: steps one of its children */
    SCHED_CHAINED,    /* composite: steps all of its children */
    SCHED_KIND_COUNT
} sched_kind;

/* A OneCycleLR phase: anneal from start to end over the steps up to end_step. */
typedef struct {
    double end_step;
    double start_lr, end_lr;
    double start_mom, end_mom;
} onecycle_phase;

struct lt_scheduler {
    sched_kind kind;
    lt_optimizer_t *opt; /* not owned */
    int64_t last_epoch;  /* torch's last_epoch: -1 until the initial step */
    double last_lr;      /* torch's get_last_lr()[0] */
    double base_lr;      /* torch's initial_lr: the optimizer's lr at construction */
    int ngroups;         /* the optimizer's param groups at construction */
    double *base_lrs;    /* (ngroups) each group's initial_lr; base_lrs[0] == base_lr */
    double gamma;        /* StepLR, MultiStepLR, ExponentialLR */
    int64_t step_size;   /* StepLR */
    int64_t t_max;       /* CosineAnnealingLR */
    double eta_min;      /* CosineAnnealingLR, CosineAnnealingWarmRestarts */
    lt_onecycle_opts oc; /* OneCycleLR */
    int nphases;
    onecycle_phase phases[3];
    lt_plateau_opts pl; /* ReduceLROnPlateau */
    double best;
    int64_t num_bad_epochs, cooldown_counter;
    /* -- #23 -- */
    double start_factor, end_factor; /* LinearLR */
    double factor;                   /* ConstantLR */
    double power;                    /* PolynomialLR */
    int64_t total_iters;             /* LinearLR, ConstantLR, PolynomialLR */
    int64_t t_0, t_mult, t_i, t_cur; /* CosineAnnealingWarmRestarts: torch's T_0 ... T_cur */
    int nchildren;                   /* SequentialLR, ChainedScheduler */
    lt_scheduler_t **children;       /* (nchildren), owned */
    int64_t *seq_milestones;         /* SequentialLR: (nchildren - 1), ascending */
    int nmilestones;                 /* MultiStepLR */
    int64_t milestones[];            /* (nmilestones), as given */
};

/* What a step sets: the lr, for OneCycleLR with cycle_momentum the momentum, for
 * CosineAnnealingWarmRestarts its position in the cycle. */
typedef struct {
    double lr, momentum;
    bool has_momentum;
    bool has_t;
    int64_t t_cur, t_i;
} sched_value;

/* The values of step `epoch` for a param group given its current lr and its base lr
 * (torch's get_lr()); pure, so that a failing step changes nothing. */
typedef lt_status (*sched_lr_fn)(const lt_scheduler_t *s, int64_t epoch, double lr, double base,
                                 sched_value *out);

/* The most param groups a scheduler steps (its values are computed before any is set). */
#define LT_SCHED_MAX_GROUPS 64

/* scheduler.c */
lt_status lt__onecycle_lr_at(const lt_scheduler_t *s, int64_t e, double lr, double base,
                             sched_value *v);
lt_scheduler_t *lt__sched_new(lt_optimizer_t *opt, sched_kind kind, size_t extra);
lt_scheduler_t *lt__sched_start(lt_scheduler_t *s); /* the initial step; frees s on failure */
lt_status lt__sched_advance(lt_scheduler_t *s);     /* one step of a non-composite */
bool lt__sched_arg_error(const char *sched, const char *arg, const char *range, double got);
lt_status lt__sched_groups_changed(const lt_scheduler_t *s);

/* sched_more.c */
lt_status lt__linear_lr_at(const lt_scheduler_t *s, int64_t e, double lr, double base,
                           sched_value *v);
lt_status lt__constant_lr_at(const lt_scheduler_t *s, int64_t e, double lr, double base,
                             sched_value *v);
lt_status lt__poly_lr_at(const lt_scheduler_t *s, int64_t e, double lr, double base,
                         sched_value *v);
lt_status lt__warm_restarts_lr_at(const lt_scheduler_t *s, int64_t e, double lr, double base,
                                  sched_value *v);
/* SequentialLR / ChainedScheduler's step. */
lt_status lt__sched_composite_step(lt_scheduler_t *s);
/* The kind's own state, into a checkpoint and back (after the common fields). */
lt_status lt__sched_more_save(const lt_scheduler_t *s, lt_state_t *st);
lt_status lt__sched_more_check(const lt_scheduler_t *s, const lt_state_t *st, const char *where);
void lt__sched_more_load(lt_scheduler_t *s, const lt_state_t *st);
void lt__sched_more_free(lt_scheduler_t *s);

#endif
