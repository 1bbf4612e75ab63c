/* Learning-rate schedulers with torch.optim.lr_scheduler's formulas (torch 2.x).
 *
 * Every value is computed in double with the same operations, in the same order, as
 * torch's Python, so the results equal torch's bit for bit (tests/unit/test_scheduler.c
 * checks them against tests/fixtures/schedulers.safetensors). The chainable schedulers
 * follow torch's recursive get_lr(), not its closed forms, which differ in the last bits.
 * Each param group of the optimizer has its own lr and base lr, stepped as torch steps
 * them (one formula per group); last_lr reports param_groups[0]'s. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lt/checkpoint.h>

#include "optim/optimizer_impl.h"
#include "optim/scheduler_impl.h"

/* ---- argument checks --------------------------------------------------------------- */

bool lt__sched_arg_error(const char *sched, const char *arg, const char *range, double got) {
    lt_set_error(LT_ERR_INVALID_ARG, "%s: %s must be %s (got %g)", sched, arg, range, got);
    return false;
}

static bool check_opt(const lt_optimizer_t *opt, const char *sched) {
    if (opt) return true;
    lt_set_error(LT_ERR_INVALID_ARG, "%s: the optimizer is NULL", sched);
    return false;
}

static bool check_gamma(const char *sched, double gamma) {
    return (gamma > 0.0 && isfinite(gamma)) ||
           lt__sched_arg_error(sched, "gamma", "finite and > 0", gamma);
}

static bool check_nonneg(const char *sched, const char *arg, double v) {
    return (v >= 0.0 && isfinite(v)) || lt__sched_arg_error(sched, arg, "finite and >= 0", v);
}

static bool check_positive(const char *sched, const char *arg, double v) {
    return (v > 0.0 && isfinite(v)) || lt__sched_arg_error(sched, arg, "finite and > 0", v);
}

/* An options struct from an older liblt would be read past its end. */
static bool check_opts(const void *o, uint32_t got, size_t want, const char *sched,
                       const char *type, const char *init) {
    if (!o) {
        lt_set_error(LT_ERR_INVALID_ARG, "%s: the options are NULL (start from %s)", sched, init);
        return false;
    }
    if (got >= want) return true;
    lt_set_error(LT_ERR_ABI, "%s: %s.struct_size is %u, expected %zu; initialise it with %s", sched,
                 type, got, want, init);
    return false;
}

/* A param group added after the scheduler was built: torch would index past its base_lrs. */
lt_status lt__sched_groups_changed(const lt_scheduler_t *s) {
    return lt_set_error(LT_ERR_STATE,
                        "%s was built over %d param group(s), its optimizer now has %d; add "
                        "every param group before building the scheduler",
                        lt_scheduler_name(s), s->ngroups, lt_optimizer_num_groups(s->opt));
}

/* ---- chainable schedulers ------------------------------------------------------------ */

static lt_status step_lr_at(const lt_scheduler_t *s, int64_t e, double lr, double base,
                            sched_value *v) {
    (void)base;
    v->lr = e == 0 || e % s->step_size != 0 ? lr : lr * s->gamma;
    return LT_OK;
}

/* A milestone listed k times multiplies by gamma ** k (torch counts them in a Counter). */
static lt_status multistep_lr_at(const lt_scheduler_t *s, int64_t e, double lr, double base,
                                 sched_value *v) {
    (void)base;
    int k = 0;
    for (int i = 0; i < s->nmilestones; i++) k += s->milestones[i] == e;
    v->lr = k == 0 ? lr : lr * pow(s->gamma, (double)k);
    return LT_OK;
}

static lt_status exp_lr_at(const lt_scheduler_t *s, int64_t e, double lr, double base,
                           sched_value *v) {
    (void)base;
    v->lr = e == 0 ? lr : lr * s->gamma;
    return LT_OK;
}

/* torch's recursive form; at the bottom of each period (where the ratio's denominator
 * would be 0) it adds the step up from eta_min instead. */
static lt_status cosine_lr_at(const lt_scheduler_t *s, int64_t e, double lr, double base,
                              sched_value *v) {
    const double t = (double)s->t_max, eta = s->eta_min;
    if (e == 0)
        v->lr = lr;
    else if ((e - 1 - s->t_max) % (2 * s->t_max) == 0)
        v->lr = lr + (base - eta) * (1 - cos(M_PI / t)) / 2;
    else
        v->lr =
            (1 + cos(M_PI * (double)e / t)) / (1 + cos(M_PI * (double)(e - 1) / t)) * (lr - eta) +
            eta;
    return LT_OK;
}

/* ---- OneCycleLR ---------------------------------------------------------------------- */

/* torch's _annealing_cos / _annealing_linear: from start to end as pct goes 0 -> 1. */
static double anneal(bool cosine, double start, double end, double pct) {
    if (!cosine) return (end - start) * pct + start;
    const double cos_out = cos(M_PI * pct) + 1;
    return end + (start - end) / 2.0 * cos_out;
}

/* The phase that step falls in, and the step it starts from (torch's loop in get_lr). */
static int onecycle_phase_of(const lt_scheduler_t *s, double step, double *start) {
    int i = 0;
    *start = 0.0;
    for (; i < s->nphases - 1 && step > s->phases[i].end_step; i++) *start = s->phases[i].end_step;
    return i;
}

lt_status lt__onecycle_lr_at(const lt_scheduler_t *s, int64_t e, double lr, double base,
                             sched_value *v) {
    (void)lr; /* not chainable: every value comes from the phases */
    (void)base;
    if (e > s->oc.total_steps)
        return lt_set_error(LT_ERR_STATE,
                            "OneCycleLR: Tried to step %lld times. The specified "
                            "number of total steps is %lld",
                            (long long)e, (long long)s->oc.total_steps);
    double start;
    const int i = onecycle_phase_of(s, (double)e, &start);
    const onecycle_phase *ph = &s->phases[i];
    if (ph->end_step - start == 0.0) /* torch raises ZeroDivisionError */
        return lt_set_error(LT_ERR_INVALID_ARG,
                            "OneCycleLR: step %lld falls in phase %d, which "
                            "has no steps (pct_start %g, total_steps %lld); change pct_start",
                            (long long)e, i + 1, s->oc.pct_start, (long long)s->oc.total_steps);
    const double pct = ((double)e - start) / (ph->end_step - start);
    const bool cosine = s->oc.anneal_cos != 0;
    v->lr = anneal(cosine, ph->start_lr, ph->end_lr, pct);
    v->momentum = anneal(cosine, ph->start_mom, ph->end_mom, pct);
    v->has_momentum = s->oc.cycle_momentum != 0;
    return LT_OK;
}

static void onecycle_phases(lt_scheduler_t *s) {
    const lt_onecycle_opts *o = &s->oc;
    const double init = o->max_lr / o->div_factor, min = init / o->final_div_factor;
    const double total = (double)o->total_steps, peak = o->max_lr;
    const double lo_m = o->base_momentum, hi_m = o->max_momentum;
    s->phases[0] = (onecycle_phase){o->pct_start * total - 1, init, peak, hi_m, lo_m};
    if (o->three_phase) {
        s->phases[1] = (onecycle_phase){2 * o->pct_start * total - 2, peak, init, lo_m, hi_m};
        s->phases[2] = (onecycle_phase){total - 1, init, min, hi_m, hi_m};
        s->nphases = 3;
    } else {
        s->phases[1] = (onecycle_phase){total - 1, peak, min, lo_m, hi_m};
        s->nphases = 2;
    }
}

static bool onecycle_check(const lt_onecycle_opts *o) {
    const char *n = "OneCycleLR";
    if (!check_opts(o, o ? o->struct_size : 0, sizeof *o, n, "lt_onecycle_opts",
                    "LT_ONECYCLE_DEFAULTS(max_lr, total_steps)"))
        return false;
    if (o->total_steps < 1)
        return lt__sched_arg_error(n, "total_steps", ">= 1", (double)o->total_steps);
    if (!(o->pct_start >= 0.0 && o->pct_start <= 1.0))
        return lt__sched_arg_error(n, "pct_start", "in [0, 1]", o->pct_start);
    return check_positive(n, "max_lr", o->max_lr) &&
           check_positive(n, "div_factor", o->div_factor) &&
           check_positive(n, "final_div_factor", o->final_div_factor) &&
           (!o->cycle_momentum || (check_nonneg(n, "base_momentum", o->base_momentum) &&
                                   check_nonneg(n, "max_momentum", o->max_momentum)));
}

/* ---- ReduceLROnPlateau --------------------------------------------------------------- */

static bool plateau_check(const lt_plateau_opts *o) {
    const char *n = "ReduceLROnPlateau";
    if (!check_opts(o, o ? o->struct_size : 0, sizeof *o, n, "lt_plateau_opts",
                    "LT_PLATEAU_DEFAULTS"))
        return false;
    if (!(o->factor >= 0.0 && o->factor < 1.0))
        return lt__sched_arg_error(n, "factor", "in [0, 1)", o->factor);
    if (o->patience < 0) return lt__sched_arg_error(n, "patience", ">= 0", (double)o->patience);
    if (o->cooldown < 0) return lt__sched_arg_error(n, "cooldown", ">= 0", (double)o->cooldown);
    return check_nonneg(n, "threshold", o->threshold) && check_nonneg(n, "min_lr", o->min_lr) &&
           check_nonneg(n, "eps", o->eps);
}

/* torch's _is_better, with its rel_epsilon computed first. */
static bool plateau_is_better(const lt_scheduler_t *s, double a) {
    const lt_plateau_opts *o = &s->pl;
    if (o->mode_max)
        return o->threshold_abs ? a > s->best + o->threshold : a > s->best * (o->threshold + 1.0);
    return o->threshold_abs ? a < s->best - o->threshold : a < s->best * (1.0 - o->threshold);
}

/* torch's _reduce_lr: a reduction smaller than eps is skipped. */
static void plateau_reduce(lt_scheduler_t *s) {
    for (int g = 0; g < s->ngroups; g++) {
        const double old_lr = lt_optimizer_group_lr(s->opt, g);
        double new_lr = old_lr * s->pl.factor;
        if (s->pl.min_lr > new_lr) new_lr = s->pl.min_lr; /* Python's max(new, min_lr) */
        if (old_lr - new_lr > s->pl.eps) lt_optimizer_set_group_lr(s->opt, g, new_lr);
    }
}

static lt_status plateau_step(lt_scheduler_t *s, double metric) {
    if (lt_optimizer_num_groups(s->opt) != s->ngroups) return lt__sched_groups_changed(s);
    if (isnan(metric))
        return lt_set_error(LT_ERR_NUMERIC, "ReduceLROnPlateau: the metric is NaN (step %lld)",
                            (long long)s->last_epoch + 1);
    s->last_epoch++;
    if (plateau_is_better(s, metric)) {
        s->best = metric;
        s->num_bad_epochs = 0;
    } else {
        s->num_bad_epochs++;
    }
    if (s->cooldown_counter > 0) {
        s->cooldown_counter--;
        s->num_bad_epochs = 0; /* bad epochs in cooldown do not count */
    }
    if (s->num_bad_epochs > s->pl.patience) {
        plateau_reduce(s);
        s->cooldown_counter = s->pl.cooldown;
        s->num_bad_epochs = 0;
    }
    s->last_lr = lt_optimizer_lr(s->opt);
    return LT_OK;
}

/* ---- the scheduler ------------------------------------------------------------------- */

static const struct {
    const char *name;
    sched_lr_fn lr_at; /* NULL: steps need a metric, or the kind is a composite */
    bool composite;
} kinds[SCHED_KIND_COUNT] = {
    [SCHED_STEP] = {"StepLR", step_lr_at, false},
    [SCHED_MULTISTEP] = {"MultiStepLR", multistep_lr_at, false},
    [SCHED_EXP] = {"ExponentialLR", exp_lr_at, false},
    [SCHED_COSINE] = {"CosineAnnealingLR", cosine_lr_at, false},
    [SCHED_ONECYCLE] = {"OneCycleLR", lt__onecycle_lr_at, false},
    [SCHED_PLATEAU] = {"ReduceLROnPlateau", NULL, false},
    /* -- #23 (sched_more.c) -- */
    [SCHED_LINEAR] = {"LinearLR", lt__linear_lr_at, false},
    [SCHED_CONSTANT] = {"ConstantLR", lt__constant_lr_at, false},
    [SCHED_POLY] = {"PolynomialLR", lt__poly_lr_at, false},
    [SCHED_WARM_RESTARTS] = {"CosineAnnealingWarmRestarts", lt__warm_restarts_lr_at, false},
    [SCHED_SEQUENTIAL] = {"SequentialLR", NULL, true},
    [SCHED_CHAINED] = {"ChainedScheduler", NULL, true},
};

/* torch's step(): last_epoch + 1, get_lr() for every group, then the optimizer's lrs. */
lt_status lt__sched_advance(lt_scheduler_t *s) {
    if (lt_optimizer_num_groups(s->opt) != s->ngroups) return lt__sched_groups_changed(s);
    sched_value v[LT_SCHED_MAX_GROUPS] = {0};
    lt_status st = LT_OK;
    for (int g = 0; g < s->ngroups && st == LT_OK; g++)
        st = kinds[s->kind].lr_at(s, s->last_epoch + 1, lt_optimizer_group_lr(s->opt, g),
                                  s->base_lrs[g], &v[g]);
    if (st == LT_OK && v[0].has_momentum) st = lt_optimizer_set_momentum(s->opt, v[0].momentum);
    if (st != LT_OK) return st;
    s->last_epoch++;
    for (int g = 0; g < s->ngroups; g++) lt_optimizer_set_group_lr(s->opt, g, v[g].lr);
    if (v[0].has_t) {
        s->t_cur = v[0].t_cur;
        s->t_i = v[0].t_i;
    }
    s->last_lr = v[0].lr;
    return LT_OK;
}

/* extra: bytes for the milestones that follow the struct. */
lt_scheduler_t *lt__sched_new(lt_optimizer_t *opt, sched_kind kind, size_t extra) {
    lt_scheduler_t *s = calloc(1, sizeof *s + extra);
    if (!s) {
        lt_set_error(LT_ERR_OOM, "out of host memory for a %s", kinds[kind].name);
        return NULL;
    }
    s->kind = kind;
    s->opt = opt;
    s->last_epoch = -1;
    s->base_lr = lt_optimizer_lr(opt);
    s->last_lr = s->base_lr;
    s->ngroups = lt_optimizer_num_groups(opt);
    s->base_lrs =
        s->ngroups <= LT_SCHED_MAX_GROUPS ? calloc((size_t)s->ngroups, sizeof *s->base_lrs) : NULL;
    if (!s->base_lrs) {
        lt_set_error(s->ngroups > LT_SCHED_MAX_GROUPS ? LT_ERR_INVALID_ARG : LT_ERR_OOM,
                     "%s: %s (the optimizer has %d param groups, at most %d are scheduled)",
                     kinds[kind].name,
                     s->ngroups > LT_SCHED_MAX_GROUPS ? "too many param groups"
                                                      : "out of host memory",
                     s->ngroups, LT_SCHED_MAX_GROUPS);
        free(s);
        return NULL;
    }
    /* torch's group.setdefault("initial_lr", lr): a second scheduler keeps the first's */
    for (int g = 0; g < s->ngroups; g++) s->base_lrs[g] = lt__optimizer_initial_lr(opt, g);
    s->base_lr = s->base_lrs[0];
    return s;
}

/* torch's _initial_step; s is freed when it fails. */
lt_scheduler_t *lt__sched_start(lt_scheduler_t *s) {
    if (s && lt__sched_advance(s) != LT_OK) {
        lt_scheduler_free(s);
        return NULL;
    }
    return s;
}

lt_scheduler_t *lt_step_lr(lt_optimizer_t *opt, int64_t step_size, double gamma) {
    if (!check_opt(opt, "StepLR") || !check_gamma("StepLR", gamma)) return NULL;
    if (step_size < 1) {
        lt__sched_arg_error("StepLR", "step_size", ">= 1", (double)step_size);
        return NULL;
    }
    lt_scheduler_t *s = lt__sched_new(opt, SCHED_STEP, 0);
    if (s) {
        s->step_size = step_size;
        s->gamma = gamma;
    }
    return lt__sched_start(s);
}

static bool multistep_check(const int64_t *milestones, int n, double gamma) {
    const char *name = "MultiStepLR";
    if (n < 0) return lt__sched_arg_error(name, "n", ">= 0", n);
    if (n > 0 && !milestones) {
        lt_set_error(LT_ERR_INVALID_ARG, "%s: milestones is NULL but n is %d", name, n);
        return false;
    }
    for (int i = 0; i < n; i++)
        if (milestones[i] < 0)
            return lt__sched_arg_error(name, "every milestone", ">= 0", (double)milestones[i]);
    return check_gamma(name, gamma);
}

lt_scheduler_t *lt_multistep_lr(lt_optimizer_t *opt, const int64_t *milestones, int n,
                                double gamma) {
    if (!check_opt(opt, "MultiStepLR") || !multistep_check(milestones, n, gamma)) return NULL;
    lt_scheduler_t *s = lt__sched_new(opt, SCHED_MULTISTEP, (size_t)n * sizeof *milestones);
    if (s) {
        s->gamma = gamma;
        s->nmilestones = n;
        if (n > 0) memcpy(s->milestones, milestones, (size_t)n * sizeof *milestones);
    }
    return lt__sched_start(s);
}

lt_scheduler_t *lt_exponential_lr(lt_optimizer_t *opt, double gamma) {
    if (!check_opt(opt, "ExponentialLR") || !check_gamma("ExponentialLR", gamma)) return NULL;
    lt_scheduler_t *s = lt__sched_new(opt, SCHED_EXP, 0);
    if (s) s->gamma = gamma;
    return lt__sched_start(s);
}

lt_scheduler_t *lt_cosine_annealing_lr(lt_optimizer_t *opt, int64_t t_max, double eta_min) {
    const char *name = "CosineAnnealingLR";
    if (!check_opt(opt, name) || !check_nonneg(name, "eta_min", eta_min)) return NULL;
    if (t_max < 1 || t_max > ((int64_t)1 << 62)) { /* 2 * t_max must not overflow */
        lt__sched_arg_error(name, "t_max", "in [1, 2^62]", (double)t_max);
        return NULL;
    }
    lt_scheduler_t *s = lt__sched_new(opt, SCHED_COSINE, 0);
    if (s) {
        s->t_max = t_max;
        s->eta_min = eta_min;
    }
    return lt__sched_start(s);
}

/* Both momentum bounds must be ones the optimizer accepts (SGD without momentum has
 * none to cycle); its momentum is left as it was. */
static bool onecycle_momentum_ok(lt_optimizer_t *opt, const lt_onecycle_opts *o) {
    const double m0 = lt_optimizer_momentum(opt);
    lt_status st = lt_optimizer_set_momentum(opt, o->base_momentum);
    if (st == LT_OK) {
        st = lt_optimizer_set_momentum(opt, o->max_momentum);
        lt_optimizer_set_momentum(opt, m0); /* accepted before, so accepted again */
    }
    if (st != LT_OK) lt_set_error(st, "OneCycleLR with cycle_momentum: %s", lt_last_error());
    return st == LT_OK;
}

lt_scheduler_t *lt_onecycle_lr(lt_optimizer_t *opt, const lt_onecycle_opts *o) {
    if (!check_opt(opt, "OneCycleLR") || !onecycle_check(o)) return NULL;
    if (o->cycle_momentum && !onecycle_momentum_ok(opt, o)) return NULL;
    const double m0 = lt_optimizer_momentum(opt);
    lt_scheduler_t *s = lt__sched_new(opt, SCHED_ONECYCLE, 0);
    if (!s) return NULL;
    s->oc = *o;
    s->oc.struct_size = sizeof s->oc;
    onecycle_phases(s);
    for (int g = 0; g < s->ngroups; g++) { /* torch sets group["initial_lr"] itself */
        s->base_lrs[g] = o->max_lr / o->div_factor;
        lt__optimizer_set_initial_lr(opt, g, s->base_lrs[g]);
    }
    s->base_lr = s->base_lrs[0];
    s = lt__sched_start(s);
    if (!s && o->cycle_momentum) lt_optimizer_set_momentum(opt, m0);
    return s;
}

lt_scheduler_t *lt_reduce_lr_on_plateau(lt_optimizer_t *opt, const lt_plateau_opts *o) {
    if (!check_opt(opt, "ReduceLROnPlateau") || !plateau_check(o)) return NULL;
    lt_scheduler_t *s = lt__sched_new(opt, SCHED_PLATEAU, 0);
    if (!s) return NULL;
    s->pl = *o;
    s->pl.struct_size = sizeof s->pl;
    s->best = o->mode_max ? -INFINITY : INFINITY; /* torch's mode_worse */
    s->last_epoch = 0;                            /* no initial step */
    return s;
}

lt_status lt_scheduler_step(lt_scheduler_t *s) {
    if (!s) return lt_set_error(LT_ERR_INVALID_ARG, "lt_scheduler_step: scheduler is NULL");
    if (kinds[s->kind].composite) return lt__sched_composite_step(s);
    if (!kinds[s->kind].lr_at)
        return lt_set_error(LT_ERR_UNSUPPORTED,
                            "%s steps on a metric: call "
                            "lt_scheduler_step_metric",
                            kinds[s->kind].name);
    return lt__sched_advance(s);
}

lt_status lt_scheduler_step_metric(lt_scheduler_t *s, double metric) {
    if (!s) return lt_set_error(LT_ERR_INVALID_ARG, "lt_scheduler_step_metric: scheduler is NULL");
    if (kinds[s->kind].composite) return lt__sched_composite_step(s);
    return kinds[s->kind].lr_at ? lt__sched_advance(s) : plateau_step(s, metric);
}

bool lt_scheduler_needs_metric(const lt_scheduler_t *s) {
    return s && !kinds[s->kind].lr_at && !kinds[s->kind].composite;
}
double lt_scheduler_last_lr(const lt_scheduler_t *s) { return s ? s->last_lr : NAN; }
const char *lt_scheduler_name(const lt_scheduler_t *s) { return s ? kinds[s->kind].name : "?"; }
lt_optimizer_t *lt_scheduler_optimizer(const lt_scheduler_t *s) { return s ? s->opt : NULL; }
int64_t lt_scheduler_last_epoch(const lt_scheduler_t *s) { return s ? s->last_epoch : -1; }
void lt_scheduler_free(lt_scheduler_t *s) {
    if (s) lt__sched_more_free(s);
    if (s) free(s->base_lrs);
    free(s);
}

/* ---- checkpoint support: torch's state_dict fields that change as it steps ------------ */

lt_status lt__scheduler_save(const lt_scheduler_t *s, lt_state_t *st) {
    lt_status r = lt_state_set_str(st, "type", kinds[s->kind].name);
    if (r == LT_OK) r = lt_state_set_int(st, "last_epoch", s->last_epoch);
    if (r == LT_OK) r = lt_state_set_float(st, "_last_lr", s->last_lr);
    if (r == LT_OK) r = lt_state_set_float(st, "base_lr", s->base_lr);
    lt_state_t *bases = r == LT_OK ? lt_state_child(st, "base_lrs") : NULL;
    if (!bases) return lt_last_status();
    for (int g = 0; g < s->ngroups && r == LT_OK; g++) {
        char key[16];
        snprintf(key, sizeof key, "%d", g);
        r = lt_state_set_float(bases, key, s->base_lrs[g]);
    }
    if (r == LT_OK) r = lt__sched_more_save(s, st);
    if (s->kind != SCHED_PLATEAU) return r;
    if (r == LT_OK) r = lt_state_set_float(st, "best", s->best);
    if (r == LT_OK) r = lt_state_set_int(st, "num_bad_epochs", s->num_bad_epochs);
    if (r == LT_OK) r = lt_state_set_int(st, "cooldown_counter", s->cooldown_counter);
    return r;
}

/* A saved counter: an integer in [lo, 2^53), or an error naming key. */
static bool saved_count(const lt_state_t *st, const char *key, int64_t lo, const char *where) {
    int64_t v;
    if (!lt_state_get_int(st, key, &v))
        lt_set_error(LT_ERR_FORMAT,
                     "%s.%s is missing or not an integer; the checkpoint is "
                     "damaged or was edited",
                     where, key);
    else if (v < lo || v >= LT_CKPT_MAX_COUNT)
        lt_set_error(LT_ERR_FORMAT,
                     "%s.%s is %lld; it must be in [%lld, 2^53); the checkpoint "
                     "is damaged or was edited",
                     where, key, (long long)v, (long long)lo);
    else
        return true;
    return false;
}

/* A saved learning rate: finite and >= 0, as the optimizers require of theirs; any other
 * float (best may be +-inf before the first value) not NaN. */
static bool saved_float(const lt_state_t *st, const char *key, bool is_lr, const char *where) {
    double v;
    if (!lt_state_get_float(st, key, &v))
        lt_set_error(LT_ERR_FORMAT,
                     "%s.%s is missing or not a number; the checkpoint is "
                     "damaged or was edited",
                     where, key);
    else if (isnan(v) || (is_lr && !(isfinite(v) && v >= 0.0)))
        lt_set_error(LT_ERR_FORMAT,
                     "%s.%s is %g; it must be %s; the checkpoint is damaged or "
                     "was edited",
                     where, key, v, is_lr ? "finite and >= 0" : "a number");
    else
        return true;
    return false;
}

lt_status lt__scheduler_check(const lt_scheduler_t *s, const lt_state_t *st, const char *where) {
    const char *type = lt_state_get_str(st, "type");
    if (!type)
        return lt_set_error(LT_ERR_FORMAT, "%s: scheduler state is incomplete (no type)", where);
    if (strcmp(type, kinds[s->kind].name) != 0)
        return lt_set_error(LT_ERR_STATE,
                            "%s: the checkpoint has a %s, the module configured a "
                            "%s; configure_optimizers must build the same schedulers as the run "
                            "that saved it",
                            where, type, kinds[s->kind].name);
    bool ok = saved_count(st, "last_epoch", -1, where) &&
              saved_float(st, "_last_lr", true, where) && saved_float(st, "base_lr", true, where);
    const lt_state_t *bases = lt_state_get_child(st, "base_lrs");
    if (ok && bases && lt_state_count(bases) != s->ngroups)
        return lt_set_error(LT_ERR_STATE,
                            "%s.base_lrs has %d param groups, the module's %s has %d; "
                            "configure_optimizers must build the same groups as the run that "
                            "saved it",
                            where, lt_state_count(bases), kinds[s->kind].name, s->ngroups);
    char key[16];
    for (int g = 0; ok && bases && g < s->ngroups; g++) {
        snprintf(key, sizeof key, "%d", g);
        ok = saved_float(bases, key, true, where);
    }
    if (ok && lt__sched_more_check(s, st, where) != LT_OK) return lt_last_status();
    if (ok && s->kind == SCHED_PLATEAU)
        ok = saved_float(st, "best", false, where) && saved_count(st, "num_bad_epochs", 0, where) &&
             saved_count(st, "cooldown_counter", 0, where);
    return ok ? LT_OK : lt_last_status();
}

void lt__scheduler_load(lt_scheduler_t *s, const lt_state_t *st) {
    lt_state_get_int(st, "last_epoch", &s->last_epoch);
    lt_state_get_float(st, "_last_lr", &s->last_lr);
    lt_state_get_float(st, "base_lr", &s->base_lr);
    const lt_state_t *bases = lt_state_get_child(st, "base_lrs");
    s->base_lrs[0] = s->base_lr;
    for (int g = 0; bases && g < s->ngroups; g++) {
        char key[16];
        snprintf(key, sizeof key, "%d", g);
        lt_state_get_float(bases, key, &s->base_lrs[g]);
    }
    lt__sched_more_load(s, st);
    if (s->kind != SCHED_PLATEAU) return;
    lt_state_get_float(st, "best", &s->best);
    lt_state_get_int(st, "num_bad_epochs", &s->num_bad_epochs);
    lt_state_get_int(st, "cooldown_counter", &s->cooldown_counter);
}
