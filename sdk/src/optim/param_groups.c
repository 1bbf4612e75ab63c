/* Param groups (torch's optimizer.param_groups): parameters chosen by name patterns, each
 * group with its own lr and weight decay, added to an optimizer before its first step.
 * The groups' parameters follow one another in the optimizer's list, so the state
 * buffers stay one allocation and a group's update is a few runs of that list. */
#include <fnmatch.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <lt/runtime.h>

#include "optim/optimizer_impl.h"

/* As many as a scheduler steps (LT_SCHED_MAX_GROUPS in scheduler_impl.h). */
#define LT_OPTIM_MAX_GROUPS 64

/* ---- choosing parameters by name ---------------------------------------------------- */

/* Whether name matches one of the '|'-separated glob patterns. */
static bool matches_any(const char *name, const char *patterns) {
    char pat[256];
    for (const char *p = patterns;;) {
        const size_t len = strcspn(p, "|");
        if (len < sizeof pat) {
            memcpy(pat, p, len);
            pat[len] = '\0';
            if (len > 0 && fnmatch(pat, name, 0) == 0) return true;
        }
        if (!p[len]) return false;
        p += len + 1;
    }
}

lt_param_list_t *lt_parameters_where(lt_ctx_t *ctx, const char *patterns, bool match) {
    if (!ctx || !patterns) {
        lt_set_error(LT_ERR_INVALID_ARG, "lt_parameters_where: %s is NULL",
                     ctx ? "patterns" : "ctx");
        return NULL;
    }
    for (const char *p = patterns; *p;) {
        const size_t len = strcspn(p, "|");
        if (len >= 256) {
            lt_set_error(LT_ERR_INVALID_ARG,
                         "lt_parameters_where: a pattern of %zu characters; "
                         "each '|'-separated pattern must be under 256",
                         len);
            return NULL;
        }
        p += len + (p[len] == '|');
    }
    lt_param_list_t *l = lt_param_list_new();
    for (int i = 0; l && i < lt_ctx_num_params(ctx); i++) {
        const char *name;
        lt_tensor_t *t = lt_ctx_param(ctx, i, &name);
        if (matches_any(name, patterns) != match) continue;
        if (lt_param_list_add(l, t) != LT_OK) {
            lt_param_list_free(l);
            return NULL;
        }
    }
    return l;
}

/* ---- groups ------------------------------------------------------------------------- */

/* Whether t is one of the first n items of l. */
static bool in_list(const lt_param_list_t *l, int64_t n, const lt_tensor_t *t) {
    for (int64_t i = 0; i < n; i++)
        if (l->items[i] == t) return true;
    return false;
}

static lt_status group_refusal(lt_optimizer_t *o, lt_param_list_t *params, double lr, double wd) {
    if (!o)
        return lt_set_error(LT_ERR_INVALID_ARG, "lt_optimizer_add_param_group: optimizer is NULL");
    if (!params)
        return lt_set_error(LT_ERR_INVALID_ARG, "%s.add_param_group: the parameter list is NULL",
                            o->name);
    if (o->ngroups >= LT_OPTIM_MAX_GROUPS)
        return lt_set_error(LT_ERR_INVALID_ARG,
                            "%s.add_param_group: the optimizer has %d groups already, the most "
                            "there may be",
                            o->name, o->ngroups);
    if (o->step > 0 || o->state)
        return lt_set_error(LT_ERR_STATE,
                            "%s.add_param_group after the optimizer stepped; add every group in "
                            "configure_optimizers, before training",
                            o->name);
    if (!(isfinite(lr) && lr >= 0.0) || !(isfinite(wd) && wd >= 0.0))
        return lt_set_error(LT_ERR_INVALID_ARG,
                            "%s.add_param_group: lr and weight_decay must be finite and >= 0 "
                            "(got %g, %g; NAN takes the optimizer's)",
                            o->name, lr, wd);
    for (int64_t i = 0; i < params->len; i++)
        if (in_list(o->params, o->params->len, params->items[i]) ||
            in_list(params, i, params->items[i]))
            return lt_set_error(LT_ERR_INVALID_ARG,
                                "%s.add_param_group: some parameters appear in more than one "
                                "parameter group (parameter %lld of the new group); choose "
                                "disjoint name patterns",
                                o->name, (long long)i);
    return LT_OK;
}

lt_status lt_optimizer_add_param_group(lt_optimizer_t *o, lt_param_list_t *params, double lr,
                                       double weight_decay) {
    if (o && isnan(lr)) lr = o->h.lr;
    if (o && isnan(weight_decay)) weight_decay = o->h.weight_decay;
    lt_status s = group_refusal(o, params, lr, weight_decay);
    opt_group *groups =
        s == LT_OK ? realloc(o->groups, (size_t)(o->ngroups + 1) * sizeof *groups) : NULL;
    if (s == LT_OK && !groups) s = lt_set_error(LT_ERR_OOM, "out of host memory for a param group");
    if (s != LT_OK) {
        lt_param_list_free(params);
        return s;
    }
    o->groups = groups;
    const int64_t first = o->params->len;
    for (int64_t i = 0; i < params->len && s == LT_OK; i++)
        s = lt_param_list_add(o->params, params->items[i]);
    if (s != LT_OK) { /* leave the optimizer as it was */
        o->params->len = first;
        lt_param_list_free(params);
        return s;
    }
    for (int64_t i = 0; i < params->len; i++) o->total += params->items[i]->numel;
    o->groups[o->ngroups++] = (opt_group){first, lr, weight_decay, 0.0, false};
    lt_param_list_free(params);
    return LT_OK;
}

int lt_optimizer_num_groups(const lt_optimizer_t *o) { return o ? o->ngroups : 0; }

static bool group_ok(const lt_optimizer_t *o, int g) { return o && g >= 0 && g < o->ngroups; }

double lt_optimizer_group_lr(const lt_optimizer_t *o, int g) {
    return group_ok(o, g) ? o->groups[g].lr : NAN;
}

double lt_optimizer_group_weight_decay(const lt_optimizer_t *o, int g) {
    return group_ok(o, g) ? o->groups[g].weight_decay : NAN;
}

lt_status lt_optimizer_set_group_lr(lt_optimizer_t *o, int g, double lr) {
    if (!group_ok(o, g))
        return lt_set_error(LT_ERR_INVALID_ARG,
                            "lt_optimizer_set_group_lr: no param group %d (the optimizer has %d)",
                            g, o ? o->ngroups : 0);
    o->groups[g].lr = lr;
    return LT_OK;
}

double lt__optimizer_initial_lr(lt_optimizer_t *o, int g) {
    if (!o->groups[g].has_initial_lr) lt__optimizer_set_initial_lr(o, g, o->groups[g].lr);
    return o->groups[g].initial_lr;
}

void lt__optimizer_set_initial_lr(lt_optimizer_t *o, int g, double lr) {
    o->groups[g].initial_lr = lr;
    o->groups[g].has_initial_lr = true;
}
