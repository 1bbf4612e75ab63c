/* LinearLR, ConstantLR, PolynomialLR, CosineAnnealingWarmRestarts, SequentialLR and
 * ChainedScheduler, with torch.optim.lr_scheduler's formulas (torch 2.x), computed in
 * double with the operations of torch's Python in the same order, so that every value is
 * torch's to the bit (tests/unit/test_sched_more.c against sched_more.safetensors).
 *
 * The chainable ones follow torch's recursive get_lr(). SequentialLR steps one child at a
 * time and, at each milestone, restarts the next child at its closed form of epoch 0
 * (torch's _update_lr(0)); ChainedScheduler steps every child. Children are owned. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lt/checkpoint.h>

#include "optim/optimizer_impl.h"
#include "optim/scheduler_impl.h"

#define MAX_CHILDREN 16

/* ---- the chainable formulas ---------------------------------------------------------- */

lt_status lt__linear_lr_at(const lt_scheduler_t *s, int64_t e, double lr, double base,
                           sched_value *v) {
    (void)base;
    const double d = s->end_factor - s->start_factor;
    if (e == 0)
        v->lr = lr * s->start_factor;
    else if (e > s->total_iters)
        v->lr = lr;
    else
        v->lr = lr * (1.0 + d / ((double)s->total_iters * s->start_factor + (double)(e - 1) * d));
    return LT_OK;
}

lt_status lt__constant_lr_at(const lt_scheduler_t *s, int64_t e, double lr, double base,
                             sched_value *v) {
    (void)base;
    if (e == 0)
        v->lr = lr * s->factor;
    else if (e != s->total_iters)
        v->lr = lr;
    else
        v->lr = lr * (1.0 / s->factor);
    return LT_OK;
}

lt_status lt__poly_lr_at(const lt_scheduler_t *s, int64_t e, double lr, double base,
                         sched_value *v) {
    (void)base;
    if (e == 0 || e > s->total_iters) {
        v->lr = lr;
        return LT_OK;
    }
    const double t = (double)s->total_iters;
    v->lr = lr * pow((1.0 - (double)e / t) / (1.0 - (double)(e - 1) / t), s->power);
    return LT_OK;
}

static double warm_restarts_lr(const lt_scheduler_t *s, double base, int64_t t_cur, int64_t t_i) {
    return s->eta_min + (base - s->eta_min) * (1.0 + cos(M_PI * (double)t_cur / (double)t_i)) / 2.0;
}

/* torch's step(): the first one (epoch 0) starts the cycle; later ones advance T_cur and
 * restart the cycle, T_mult times longer, when it reaches T_i. */
lt_status lt__warm_restarts_lr_at(const lt_scheduler_t *s, int64_t e, double lr, double base,
                                  sched_value *v) {
    (void)lr;
    int64_t t_cur = 0, t_i = s->t_0;
    if (e > 0) {
        t_cur = s->t_cur + 1;
        t_i = s->t_i;
        if (t_cur >= t_i) {
            t_cur %= t_i;
            if (t_i > LT_CKPT_MAX_COUNT / s->t_mult)
                return lt_set_error(LT_ERR_STATE,
                                    "CosineAnnealingWarmRestarts: the next cycle would be over "
                                    "2^53 steps long (T_i %lld, T_mult %lld)",
                                    (long long)t_i, (long long)s->t_mult);
            t_i *= s->t_mult;
        }
    }
    v->lr = warm_restarts_lr(s, base, t_cur, t_i);
    v->has_t = true;
    v->t_cur = t_cur;
    v->t_i = t_i;
    return LT_OK;
}

/* ---- constructors -------------------------------------------------------------------- */

static bool check_opt(const lt_optimizer_t *opt, const char *name) {
    if (opt) return true;
    lt_set_error(LT_ERR_INVALID_ARG, "%s: the optimizer is NULL", name);
    return false;
}

static bool check_iters(const char *name, int64_t n, int64_t lo) {
    return (n >= lo && n < LT_CKPT_MAX_COUNT) ||
           lt__sched_arg_error(name, "total_iters", lo ? "in [1, 2^53)" : "in [0, 2^53)",
                               (double)n);
}

lt_scheduler_t *lt_linear_lr(lt_optimizer_t *opt, double start_factor, double end_factor,
                             int64_t total_iters) {
    const char *n = "LinearLR";
    if (!check_opt(opt, n) || !check_iters(n, total_iters, 1)) return NULL;
    if (!(start_factor > 0.0 && start_factor <= 1.0)) {
        lt__sched_arg_error(n, "start_factor", "in (0, 1]", start_factor);
        return NULL;
    }
    if (!(end_factor >= 0.0 && end_factor <= 1.0)) {
        lt__sched_arg_error(n, "end_factor", "in [0, 1]", end_factor);
        return NULL;
    }
    lt_scheduler_t *s = lt__sched_new(opt, SCHED_LINEAR, 0);
    if (s) {
        s->start_factor = start_factor;
        s->end_factor = end_factor;
        s->total_iters = total_iters;
    }
    return lt__sched_start(s);
}

lt_scheduler_t *lt_constant_lr(lt_optimizer_t *opt, double factor, int64_t total_iters) {
    const char *n = "ConstantLR";
    if (!check_opt(opt, n) || !check_iters(n, total_iters, 0)) return NULL;
    /* at total_iters the lr is divided by factor: torch fails there with factor 0 */
    if (!(factor >= 0.0 && factor <= 1.0) || (factor == 0.0 && total_iters > 0)) {
        lt__sched_arg_error(n, "factor", "in (0, 1] (0 only with total_iters 0)", factor);
        return NULL;
    }
    lt_scheduler_t *s = lt__sched_new(opt, SCHED_CONSTANT, 0);
    if (s) {
        s->factor = factor;
        s->total_iters = total_iters;
    }
    return lt__sched_start(s);
}

lt_scheduler_t *lt_polynomial_lr(lt_optimizer_t *opt, int64_t total_iters, double power) {
    const char *n = "PolynomialLR";
    if (!check_opt(opt, n) || !check_iters(n, total_iters, 1)) return NULL;
    if (!(power >= 0.0 && isfinite(power))) {
        lt__sched_arg_error(n, "power", "finite and >= 0", power);
        return NULL;
    }
    lt_scheduler_t *s = lt__sched_new(opt, SCHED_POLY, 0);
    if (s) {
        s->total_iters = total_iters;
        s->power = power;
    }
    return lt__sched_start(s);
}

lt_scheduler_t *lt_cosine_warm_restarts(lt_optimizer_t *opt, int64_t t_0, int64_t t_mult,
                                        double eta_min) {
    const char *n = "CosineAnnealingWarmRestarts";
    if (!check_opt(opt, n)) return NULL;
    if (t_0 < 1 || t_0 >= LT_CKPT_MAX_COUNT) {
        lt__sched_arg_error(n, "T_0", "in [1, 2^53)", (double)t_0);
        return NULL;
    }
    if (t_mult < 1 || t_mult > 1024) {
        lt__sched_arg_error(n, "T_mult", "in [1, 1024]", (double)t_mult);
        return NULL;
    }
    if (!(eta_min >= 0.0 && isfinite(eta_min))) {
        lt__sched_arg_error(n, "eta_min", "finite and >= 0", eta_min);
        return NULL;
    }
    lt_scheduler_t *s = lt__sched_new(opt, SCHED_WARM_RESTARTS, 0);
    if (s) {
        s->t_0 = s->t_i = t_0;
        s->t_mult = t_mult;
        s->eta_min = eta_min;
        s->t_cur = -1; /* torch's T_cur = last_epoch */
    }
    return lt__sched_start(s);
}

/* ---- SequentialLR and ChainedScheduler ------------------------------------------------ */

static void free_children(lt_scheduler_t *const *c, int n) {
    for (int i = 0; c && i < n; i++) lt_scheduler_free(c[i]);
}

/* Why child c cannot be part of a composite over opt, or NULL. */
static const char *child_problem(const lt_scheduler_t *c, const lt_optimizer_t *opt) {
    if (!c) return "is NULL";
    if (lt_scheduler_optimizer(c) != opt) return "drives another optimizer";
    if (lt_scheduler_needs_metric(c)) return "is a ReduceLROnPlateau, which steps on a metric";
    if (c->kind == SCHED_SEQUENTIAL || c->kind == SCHED_CHAINED)
        return "is itself a SequentialLR or ChainedScheduler";
    return NULL;
}

/* The children fit: 1..MAX_CHILDREN of them, none NULL, on opt, none stepped on a metric
 * nor a composite itself. */
static bool children_ok(const char *name, lt_optimizer_t *opt, lt_scheduler_t *const *c, int n) {
    if (n < 1 || n > MAX_CHILDREN || !c) {
        lt_set_error(LT_ERR_INVALID_ARG, "%s expects 1 to %d schedulers, got %d%s", name,
                     MAX_CHILDREN, n, c ? "" : " (the array is NULL)");
        return false;
    }
    for (int i = 0; i < n; i++) {
        const char *why = child_problem(c[i], opt);
        if (why) {
            lt_set_error(LT_ERR_INVALID_ARG,
                         "%s: scheduler %d %s; every scheduler must be a plain one built on the "
                         "same optimizer",
                         name, i, why);
            return false;
        }
    }
    return true;
}

/* n - 1 milestones, each >= 0 and none below the one before. */
static bool milestones_ok(const int64_t *m, int n) {
    for (int i = 0; i + 1 < n; i++)
        if (!m || m[i] < 0 || (i > 0 && m[i] < m[i - 1]))
            return lt__sched_arg_error("SequentialLR", "milestones",
                                       "n - 1 ascending steps >= 0 (one fewer than the schedulers)",
                                       m ? (double)m[i] : NAN);
    return true;
}

static lt_scheduler_t *composite_new(lt_optimizer_t *opt, sched_kind kind, lt_scheduler_t *const *c,
                                     int n) {
    lt_scheduler_t *s = lt__sched_new(opt, kind, 0);
    lt_scheduler_t **copy = s ? malloc((size_t)n * sizeof *copy) : NULL;
    if (!copy) {
        if (s) lt_set_error(LT_ERR_OOM, "out of host memory for a scheduler");
        lt_scheduler_free(s);
        free_children(c, n);
        return NULL;
    }
    memcpy(copy, c, (size_t)n * sizeof *copy);
    s->children = copy;
    s->nchildren = n;
    return s;
}

/* Python's bisect_right: how many milestones are <= e. */
static int bisect_right(const int64_t *m, int n, int64_t e) {
    int k = 0;
    while (k < n && m[k] <= e) k++;
    return k;
}

lt_scheduler_t *lt_sequential_lr(lt_optimizer_t *opt, lt_scheduler_t *const *scheds, int n,
                                 const int64_t *milestones) {
    const char *name = "SequentialLR";
    bool ok =
        check_opt(opt, name) && children_ok(name, opt, scheds, n) && milestones_ok(milestones, n);
    lt_scheduler_t *s = ok ? composite_new(opt, SCHED_SEQUENTIAL, scheds, n) : NULL;
    if (!ok) free_children(scheds, scheds ? n : 0);
    if (!s) return NULL;
    s->seq_milestones = n > 1 ? malloc((size_t)(n - 1) * sizeof *milestones) : NULL;
    if (n > 1 && !s->seq_milestones) {
        lt_set_error(LT_ERR_OOM, "out of host memory for a scheduler");
        lt_scheduler_free(s);
        return NULL;
    }
    if (n > 1) memcpy(s->seq_milestones, milestones, (size_t)(n - 1) * sizeof *milestones);
    /* torch: every lr back to its initial_lr, every child one step back, then the first
     * child's initial step again */
    for (int g = 0; g < s->ngroups; g++) lt_optimizer_set_group_lr(opt, g, s->base_lrs[g]);
    for (int i = 0; i < n; i++) s->children[i]->last_epoch--;
    lt_scheduler_t *first = s->children[bisect_right(s->seq_milestones, n - 1, 0)];
    if (lt__sched_advance(first) != LT_OK) {
        lt_scheduler_free(s);
        return NULL;
    }
    s->last_epoch = 0;
    s->last_lr = first->last_lr;
    return s;
}

lt_scheduler_t *lt_chained_scheduler(lt_scheduler_t *const *scheds, int n) {
    const char *name = "ChainedScheduler";
    lt_optimizer_t *opt = scheds && n > 0 && scheds[0] ? lt_scheduler_optimizer(scheds[0]) : NULL;
    if (!children_ok(name, opt, scheds, n)) {
        free_children(scheds, scheds ? n : 0);
        return NULL;
    }
    lt_scheduler_t *s = composite_new(opt, SCHED_CHAINED, scheds, n);
    if (!s) return NULL;
    s->last_epoch = 0;
    s->last_lr = lt_optimizer_lr(opt);
    return s;
}

/* A child's value at epoch 0 by its closed form, as torch's _update_lr(0) computes it
 * (kinds without one: get_lr at epoch 0). */
static lt_status closed_form_0(const lt_scheduler_t *c, double lr, double base, sched_value *v) {
    const double zero_or_one = c->total_iters <= 0 ? 1.0 : 0.0; /* (0 >= total_iters) */
    int k = 0;
    switch (c->kind) {
    case SCHED_MULTISTEP:
        for (int i = 0; i < c->nmilestones; i++) k += c->milestones[i] == 0;
        v->lr = base * pow(c->gamma, (double)k);
        return LT_OK;
    case SCHED_COSINE:
        v->lr = c->eta_min + (base - c->eta_min) * (1.0 + cos(M_PI * 0.0 / (double)c->t_max)) / 2;
        return LT_OK;
    case SCHED_LINEAR:
        v->lr = base * (c->start_factor +
                        (c->end_factor - c->start_factor) * 0.0 / (double)c->total_iters);
        return LT_OK;
    case SCHED_CONSTANT: v->lr = base * (c->factor + zero_or_one * (1.0 - c->factor)); return LT_OK;
    case SCHED_WARM_RESTARTS: /* no closed form: get_lr where the cycle stands */
        v->lr = warm_restarts_lr(c, base, c->t_cur, c->t_i);
        return LT_OK;
    case SCHED_ONECYCLE: return lt__onecycle_lr_at(c, 0, lr, base, v);
    default: /* StepLR, ExponentialLR, PolynomialLR: base_lr * 1.0 */
        v->lr = base * 1.0;
        return LT_OK;
    }
}

/* torch's _update_lr(0) on child c: last_epoch 0, every lr from the closed form. */
static lt_status restart_child(lt_scheduler_t *c) {
    if (lt_optimizer_num_groups(c->opt) != c->ngroups) return lt__sched_groups_changed(c);
    sched_value v[LT_SCHED_MAX_GROUPS] = {0};
    lt_status st = LT_OK;
    for (int g = 0; g < c->ngroups && st == LT_OK; g++)
        st = closed_form_0(c, lt_optimizer_group_lr(c->opt, g), c->base_lrs[g], &v[g]);
    if (st == LT_OK && v[0].has_momentum) st = lt_optimizer_set_momentum(c->opt, v[0].momentum);
    if (st != LT_OK) return st;
    c->last_epoch = 0;
    for (int g = 0; g < c->ngroups; g++) lt_optimizer_set_group_lr(c->opt, g, v[g].lr);
    c->last_lr = v[0].lr;
    return LT_OK;
}

lt_status lt__sched_composite_step(lt_scheduler_t *s) {
    lt_status st = LT_OK;
    if (s->kind == SCHED_CHAINED) {
        for (int i = 0; i < s->nchildren && st == LT_OK; i++)
            st = lt__sched_advance(s->children[i]);
        if (st != LT_OK) return st;
        s->last_epoch++;
        s->last_lr = lt_optimizer_lr(s->opt);
        return LT_OK;
    }
    const int64_t e = s->last_epoch + 1;
    const int idx = bisect_right(s->seq_milestones, s->nchildren - 1, e);
    lt_scheduler_t *c = s->children[idx];
    st = idx > 0 && s->seq_milestones[idx - 1] == e ? restart_child(c) : lt__sched_advance(c);
    if (st != LT_OK) return st;
    s->last_epoch = e;
    s->last_lr = c->last_lr;
    return LT_OK;
}

/* ---- checkpoint state ------------------------------------------------------------------ */

lt_status lt__sched_more_save(const lt_scheduler_t *s, lt_state_t *st) {
    lt_status r = LT_OK;
    if (s->kind == SCHED_WARM_RESTARTS) {
        r = lt_state_set_int(st, "T_cur", s->t_cur);
        if (r == LT_OK) r = lt_state_set_int(st, "T_i", s->t_i);
    }
    lt_state_t *all = r == LT_OK && s->nchildren ? lt_state_child(st, "_schedulers") : NULL;
    if (r != LT_OK || !s->nchildren) return r;
    for (int i = 0; i < s->nchildren && r == LT_OK; i++) {
        char key[16];
        snprintf(key, sizeof key, "%d", i);
        lt_state_t *c = all ? lt_state_child(all, key) : NULL;
        r = c ? lt__scheduler_save(s->children[i], c) : lt_last_status();
    }
    return r;
}

static lt_status warm_restarts_check(const lt_scheduler_t *s, const lt_state_t *st,
                                     const char *where) {
    int64_t t_cur, t_i;
    if (!lt_state_get_int(st, "T_cur", &t_cur) || !lt_state_get_int(st, "T_i", &t_i) ||
        t_i < s->t_0 || t_i >= LT_CKPT_MAX_COUNT || t_cur < -1 || t_cur >= t_i)
        return lt_set_error(LT_ERR_FORMAT,
                            "%s: T_cur and T_i must be integers with T_0 (%lld) <= T_i < 2^53 "
                            "and -1 <= T_cur < T_i; the checkpoint is damaged or was edited",
                            where, (long long)s->t_0);
    return LT_OK;
}

lt_status lt__sched_more_check(const lt_scheduler_t *s, const lt_state_t *st, const char *where) {
    if (s->kind == SCHED_WARM_RESTARTS) return warm_restarts_check(s, st, where);
    if (!s->nchildren) return LT_OK;
    const lt_state_t *all = lt_state_get_child(st, "_schedulers");
    if (!all || lt_state_count(all) != s->nchildren)
        return lt_set_error(LT_ERR_STATE,
                            "%s: the checkpoint's %s holds %d schedulers, the module's %d; "
                            "configure_optimizers must build the same schedulers",
                            where, lt_scheduler_name(s), all ? lt_state_count(all) : 0,
                            s->nchildren);
    for (int i = 0; i < s->nchildren; i++) {
        char key[16], sub[700];
        snprintf(key, sizeof key, "%d", i);
        snprintf(sub, sizeof sub, "%.600s._schedulers.%d", where, i);
        const lt_state_t *c = lt_state_get_child(all, key);
        lt_status r = c ? lt__scheduler_check(s->children[i], c, sub)
                        : lt_set_error(LT_ERR_FORMAT, "%s is not an object", sub);
        if (r != LT_OK) return r;
    }
    return LT_OK;
}

void lt__sched_more_load(lt_scheduler_t *s, const lt_state_t *st) {
    if (s->kind == SCHED_WARM_RESTARTS) {
        lt_state_get_int(st, "T_cur", &s->t_cur);
        lt_state_get_int(st, "T_i", &s->t_i);
    }
    const lt_state_t *all = s->nchildren ? lt_state_get_child(st, "_schedulers") : NULL;
    for (int i = 0; all && i < s->nchildren; i++) {
        char key[16];
        snprintf(key, sizeof key, "%d", i);
        lt__scheduler_load(s->children[i], lt_state_get_child(all, key));
    }
}

void lt__sched_more_free(lt_scheduler_t *s) {
    free_children(s->children, s->nchildren);
    free(s->children);
    free(s->seq_milestones);
    s->children = NULL;
    s->nchildren = 0;
}
