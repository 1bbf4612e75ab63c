/* SGD, Adam and AdamW with PyTorch's single-tensor update formulas, and what every
 * optimizer shares: the step over the parameters, zero_grad, checkpoint state (the
 * composed optimizers, RMSprop ... RAdam, are in optim_more.c). The state of all
 * parameters lives in one allocation; parameters that are contiguous in memory (the
 * usual case: a module's parameters share one buffer) are updated by one kernel call. */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lt/checkpoint.h>

#include "optim/optimizer_impl.h"

lt_optimizer_t *lt__opt_new(lt_param_list_t *params, opt_kind kind, const char *name) {
    if (!params) {
        lt_set_error(LT_ERR_INVALID_ARG, "%s: the parameter list is NULL", name);
        return NULL;
    }
    if (params->len == 0) {
        lt_set_error(LT_ERR_INVALID_ARG,
                     "%s got an empty parameter list; declare parameters in "
                     "setup() before configure_optimizers()",
                     name);
        lt_param_list_free(params);
        return NULL;
    }
    lt_optimizer_t *o = calloc(1, sizeof *o);
    if (!o) {
        lt_set_error(LT_ERR_OOM, "out of host memory for an optimizer");
        lt_param_list_free(params);
        return NULL;
    }
    o->groups = calloc(1, sizeof *o->groups);
    if (!o->groups) {
        lt_set_error(LT_ERR_OOM, "out of host memory for an optimizer");
        lt_param_list_free(params);
        free(o);
        return NULL;
    }
    o->ngroups = 1;
    o->kind = kind;
    o->name = name;
    o->params = params;
    for (int64_t i = 0; i < params->len; i++) o->total += params->items[i]->numel;
    return o;
}

/* One rule of a constructor: key's value v must satisfy ok (checked only for the kinds in
 * mask). */
typedef struct hyper_rule {
    const char *key;
    double v;
    unsigned mask;
    bool ok;
    const char *rule;
} hyper_rule;

#define FINITE_NONNEG(x) (isfinite(x) && (x) >= 0.0)
#define UNIT(x) ((x) >= 0.0 && (x) < 1.0)

/* The constructors' rules (torch's, plus finiteness), shared with checkpoint restore so a
 * file cannot set what the code may not: the first key out of range, what it must be and
 * its value; NULL when all are fine. */
static const char *hyper_problem(opt_kind kind, const hyper_values *h, const char **rule,
                                 double *got) {
    static const char *const finite_nonneg = "finite and >= 0", *const unit = "in [0, 1)";
    const unsigned all = ~0u, sgd = OPT_MASK(OPT_SGD), rms = OPT_MASK(OPT_RMSPROP),
                   ada = OPT_MASK(OPT_ADAGRAD);
    const hyper_rule checks[] = {
        {"lr", h->lr, all, FINITE_NONNEG(h->lr), finite_nonneg},
        {"weight_decay", h->weight_decay, all, FINITE_NONNEG(h->weight_decay), finite_nonneg},
        {"momentum", h->momentum, sgd | rms, FINITE_NONNEG(h->momentum), finite_nonneg},
        {"dampening", h->dampening, sgd, isfinite(h->dampening), "finite"},
        {"nesterov", h->nesterov, sgd, !h->nesterov || (h->momentum > 0.0 && h->dampening == 0.0),
         "off unless momentum > 0 and dampening 0"},
        {"beta1", h->beta1, OPT_BETAS, UNIT(h->beta1), unit},
        {"beta2", h->beta2, OPT_BETAS, UNIT(h->beta2), unit},
        {"eps", h->eps, ~sgd, FINITE_NONNEG(h->eps), finite_nonneg},
        /* -- #23: RMSprop, Adagrad, NAdam -- */
        {"alpha", h->alpha, rms, FINITE_NONNEG(h->alpha), finite_nonneg},
        {"lr_decay", h->lr_decay, ada, FINITE_NONNEG(h->lr_decay), finite_nonneg},
        {"initial_accumulator_value", h->initial_accumulator_value, ada,
         FINITE_NONNEG(h->initial_accumulator_value), finite_nonneg},
        {"momentum_decay", h->momentum_decay, OPT_MASK(OPT_NADAM), FINITE_NONNEG(h->momentum_decay),
         finite_nonneg},
    };
    for (size_t i = 0; i < sizeof checks / sizeof *checks; i++)
        if ((checks[i].mask & OPT_MASK(kind)) && !checks[i].ok) {
            *rule = checks[i].rule;
            *got = checks[i].v;
            return checks[i].key;
        }
    return NULL;
}

lt_optimizer_t *lt__opt_init(lt_optimizer_t *o, const hyper_values *h) {
    if (!o) return NULL;
    const char *rule;
    double got;
    const char *key = hyper_problem(o->kind, h, &rule, &got);
    if (key) {
        lt_set_error(LT_ERR_INVALID_ARG, "%s: %s must be %s (got %g)", o->name, key, rule, got);
        lt_optimizer_free(o);
        return NULL;
    }
    o->h = *h;
    o->groups[0].lr = h->lr;
    o->groups[0].weight_decay = h->weight_decay;
    return o;
}

lt_optimizer_t *lt_sgd_ex(lt_param_list_t *params, double lr, double momentum, double dampening,
                          double weight_decay, bool nesterov) {
    hyper_values h = {.lr = lr,
                      .momentum = momentum,
                      .dampening = dampening,
                      .weight_decay = weight_decay,
                      .nesterov = nesterov};
    lt_optimizer_t *o = lt__opt_init(lt__opt_new(params, OPT_SGD, "SGD"), &h);
    if (o && momentum != 0.0) {
        o->nslots = 1;
        o->slot_names[0] = "momentum_buffer";
    }
    return o;
}

lt_optimizer_t *lt_sgd(lt_param_list_t *params, double lr) {
    return lt_sgd_ex(params, lr, 0.0, 0.0, 0.0, false);
}

static lt_optimizer_t *adam_new(lt_param_list_t *params, const char *name, double lr, double b1,
                                double b2, double eps, double wd, bool decoupled) {
    hyper_values h = {
        .lr = lr, .beta1 = b1, .beta2 = b2, .eps = eps, .weight_decay = wd, .decoupled = decoupled};
    lt_optimizer_t *o = lt__opt_init(lt__opt_new(params, OPT_ADAM, name), &h);
    if (o) {
        o->nslots = 2;
        o->slot_names[0] = "exp_avg";
        o->slot_names[1] = "exp_avg_sq";
    }
    return o;
}

lt_optimizer_t *lt_adam_ex(lt_param_list_t *params, double lr, double b1, double b2, double eps,
                           double wd) {
    return adam_new(params, "Adam", lr, b1, b2, eps, wd, false);
}
lt_optimizer_t *lt_adam(lt_param_list_t *params, double lr) {
    return adam_new(params, "Adam", lr, 0.9, 0.999, 1e-8, 0.0, false);
}
lt_optimizer_t *lt_adamw_ex(lt_param_list_t *params, double lr, double b1, double b2, double eps,
                            double wd) {
    return adam_new(params, "AdamW", lr, b1, b2, eps, wd, true);
}
lt_optimizer_t *lt_adamw(lt_param_list_t *params, double lr, double wd) {
    return adam_new(params, "AdamW", lr, 0.9, 0.999, 1e-8, wd, true);
}

/* Parameters [i, j) form a run when values and gradients are both contiguous. */
static int64_t run_end(const lt_param_list_t *l, int64_t i, int64_t end) {
    int64_t j = i + 1;
    for (; j < end; j++) {
        const lt_tensor_t *a = l->items[j - 1], *b = l->items[j];
        if (!a->grad || !b->grad || a->st != b->st || a->grad->st != b->grad->st) break;
        if (a->requires_grad != b->requires_grad) break; /* frozen ones are skipped */
        if (b->offset != a->offset + (size_t)a->numel * 4) break;
        if (b->grad->offset != a->grad->offset + (size_t)a->numel * 4) break;
    }
    return j;
}

/* FLOPs per element of one update, for the profiler: p -= lr * g is 2; weight decay adds
 * 2, momentum 3 and nesterov 2 more. Adam's moments, bias corrections, sqrt, divide and
 * update are about 12. */
static double update_flops(const lt_optimizer_t *o) {
    const hyper_values *h = &o->h;
    double wd = h->weight_decay != 0.0 ? 2.0 : 0.0;
    if (o->kind == OPT_ADAM) return 12.0 + wd;
    return 2.0 + wd + (h->momentum != 0.0 ? 3.0 : 0.0) + (h->nesterov ? 2.0 : 0.0);
}

/* The update kernel of o's kind over n floats from first. */
static void update_kernel(const lt_optimizer_t *o, const hyper_values *v, lt_device_t *dev,
                          lt_tensor_t *first, int64_t n, float *slot0, float *slot1) {
    if (o->kind == OPT_SGD) {
        lt_sgd_hyper h = {v->lr,           v->momentum, v->dampening,
                          v->weight_decay, v->nesterov, o->step == 1};
        dev->k.sgd_step(dev->state, n, lt__f32(first), lt__f32(first->grad), slot0, &h);
    } else {
        lt_adam_hyper h = {v->lr,           v->beta1,     v->beta2, v->eps,
                           v->weight_decay, v->decoupled, o->step};
        dev->k.adam_step(dev->state, n, lt__f32(first), lt__f32(first->grad), slot0, slot1, &h);
    }
}

/* A composed update over n floats from first, in chunks of at most OPT_CHUNK so its
 * scratch stays small (and in cache). */
static void composed_run(const lt_optimizer_t *o, const hyper_values *h, lt_device_t *dev,
                         lt_tensor_t *first, int64_t n, float *const slot[OPT_MAX_SLOTS]) {
    float *tmp[OPT_MAX_SCRATCH] = {0};
    const int64_t cap = o->total < OPT_CHUNK ? o->total : OPT_CHUNK;
    for (int k = 0; k < o->nscratch; k++) tmp[k] = (float *)o->scratch->data + k * cap;
    float *p = lt__f32(first);
    const float *g = lt__f32(first->grad);
    for (int64_t lo = 0; lo < n; lo += cap) {
        const int64_t m = n - lo < cap ? n - lo : cap;
        float *s[OPT_MAX_SLOTS] = {0};
        for (int k = 0; k < o->nslots; k++) s[k] = slot[k] + lo;
        lt__optim_more_run(o, h, dev, p + lo, g + lo, s, tmp, m);
    }
}

static void update_run(lt_optimizer_t *o, const hyper_values *h, lt_tensor_t *first, int64_t n,
                       float *const slot[OPT_MAX_SLOTS]) {
    lt_device_t *dev = lt__dev(first);
    if (o->kind != OPT_SGD && o->kind != OPT_ADAM) {
        LT_PROF_SPAN(dev, lt__optim_more_span(o), lt__optim_more_flops(o) * n,
                     LT_F32B(n) * (3 + 2 * o->nslots), composed_run(o, h, dev, first, n, slot));
        return;
    }
    /* reads p and g, writes p; each state slot is read and written */
    LT_PROF_SPAN(dev, o->kind == OPT_SGD ? "sgd_step" : "adam_step", update_flops(o) * n,
                 LT_F32B(n) * (3 + 2 * o->nslots),
                 update_kernel(o, h, dev, first, n, slot[0], slot[1]));
}

static lt_status alloc_scratch(lt_optimizer_t *o, lt_device_t *dev) {
    if (o->nscratch == 0 || o->scratch) return LT_OK;
    const int64_t cap = o->total < OPT_CHUNK ? o->total : OPT_CHUNK;
    o->scratch = lt__storage_new(dev, (size_t)(cap * o->nscratch) * sizeof(float));
    return o->scratch ? LT_OK : lt_last_status();
}

static lt_status alloc_state(lt_optimizer_t *o) {
    lt_device_t *dev = lt__dev(o->params->items[0]);
    if (o->nslots == 0 || o->state) return alloc_scratch(o, dev);
    o->state = lt__storage_new(dev, (size_t)(o->total * o->nslots) * sizeof(float));
    if (!o->state) return lt_last_status();
    /* one fill for the slots that start alike (all but Adagrad's "sum") */
    for (int k = 0, j; k < o->nslots; k = j) {
        for (j = k + 1; j < o->nslots && o->slot_init[j] == o->slot_init[k]; j++) {}
        LT_KCALL(dev, "fill", 0, LT_F32B(o->total * (j - k)), fill, o->total * (j - k),
                 o->slot_init[k], (float *)o->state->data + k * o->total);
    }
    return alloc_scratch(o, dev);
}

lt_status lt_optimizer_step(lt_optimizer_t *o) {
    if (!o) return lt_set_error(LT_ERR_INVALID_ARG, "lt_optimizer_step: optimizer is NULL");
    lt_grad_scaler_t *sc = o->params->items[0]->arena->scaler;
    if (!sc) return lt__optimizer_update(o);
    /* Lightning's MixedPrecision.optimizer_step: scaler.step(opt), then scaler.update() */
    bool stepped;
    lt_status s = lt_grad_scaler_step(sc, o, &stepped);
    return s == LT_OK ? lt_grad_scaler_update(sc) : s;
}

/* Group g's parameters, whose state starts off floats into each slot; the offset after. */
static int64_t update_group(lt_optimizer_t *o, int g, int64_t off) {
    hyper_values h = o->h;
    h.lr = o->groups[g].lr;
    h.weight_decay = o->groups[g].weight_decay;
    float *state = o->state ? o->state->data : NULL;
    const lt_param_list_t *l = o->params;
    const int64_t end = lt__opt_group_end(o, g);
    for (int64_t i = o->groups[g].first, j; i < end; i = j) {
        j = run_end(l, i, end);
        int64_t n = 0;
        for (int64_t k = i; k < j; k++) n += l->items[k]->numel;
        /* no gradient (yet, or frozen): PyTorch skips the parameter too */
        if (l->items[i]->grad && l->items[i]->requires_grad) {
            for (int64_t k = i; k < j; k++) lt__grad_settle(l->items[k]); /* got none: 0 */
            float *slot[OPT_MAX_SLOTS] = {0};
            for (int k = 0; k < o->nslots; k++) slot[k] = state + k * o->total + off;
            update_run(o, &h, l->items[i], n, slot);
            lt__round_params(lt__dev(l->items[i]), lt__f32(l->items[i]), n); /* bf16-true */
        }
        off += n;
    }
    return off;
}

lt_status lt__optimizer_update(lt_optimizer_t *o) {
    lt_status s = alloc_state(o);
    if (s != LT_OK) return s;
    o->step++;
    if (o->kind != OPT_SGD && o->kind != OPT_ADAM) lt__optim_more_begin_step(o);
    int64_t off = 0;
    for (int g = 0; g < o->ngroups; g++) off = update_group(o, g, off);
    return LT_OK;
}

lt_status lt_optimizer_zero_grad(lt_optimizer_t *o) {
    if (!o) return lt_set_error(LT_ERR_INVALID_ARG, "lt_optimizer_zero_grad: optimizer is NULL");
    const lt_param_list_t *l = o->params;
    for (int64_t i = 0, j; i < l->len; i = j) {
        j = run_end(l, i, l->len);
        lt_tensor_t *p = l->items[i];
        if (!p->grad) continue;
        /* deferred: backward's first write overwrites; a reader fills what stays unwritten */
        for (int64_t k = i; k < j; k++) l->items[k]->grad_lazy = true;
    }
    return LT_OK;
}

double lt_optimizer_lr(const lt_optimizer_t *o) { return o ? o->groups[0].lr : NAN; }
void lt_optimizer_set_lr(lt_optimizer_t *o, double lr) {
    for (int g = 0; o && g < o->ngroups; g++) o->groups[g].lr = lr;
}

/* torch's OneCycleLR cycles "betas" where an optimizer has them, else "momentum". */
static bool has_betas(const lt_optimizer_t *o) { return (OPT_BETAS & OPT_MASK(o->kind)) != 0; }

static bool has_momentum_buffer(const lt_optimizer_t *o) {
    for (int k = 0; k < o->nslots; k++)
        if (!strcmp(o->slot_names[k], "momentum_buffer")) return true;
    return false;
}

double lt_optimizer_momentum(const lt_optimizer_t *o) {
    if (!o || o->kind == OPT_ADAGRAD) return NAN;
    return has_betas(o) ? o->h.beta1 : o->h.momentum;
}

lt_status lt_optimizer_set_momentum(lt_optimizer_t *o, double m) {
    if (!o) return lt_set_error(LT_ERR_INVALID_ARG, "lt_optimizer_set_momentum: optimizer is NULL");
    if (has_betas(o)) {
        if (!(m >= 0.0 && m < 1.0))
            return lt_set_error(LT_ERR_INVALID_ARG, "%s: beta1 must be in [0, 1) (got %g)", o->name,
                                m);
        o->h.beta1 = m;
        return LT_OK;
    }
    if (o->kind == OPT_ADAGRAD)
        return lt_set_error(LT_ERR_INVALID_ARG, "Adagrad: optimizer must support momentum (it has "
                                                "neither momentum nor betas; use another optimizer "
                                                "or turn cycle_momentum off)");
    /* Built with momentum 0, SGD and RMSprop have no momentum buffer for a new momentum to
     * act on; torch would start one (SGD) or fail (RMSprop) at the next step, we refuse. */
    if (!has_momentum_buffer(o))
        return lt_set_error(LT_ERR_INVALID_ARG,
                            "%s: optimizer must support momentum (it was "
                            "built with momentum 0; build it with momentum > 0)",
                            o->name);
    if (!(m >= 0.0) || !isfinite(m))
        return lt_set_error(LT_ERR_INVALID_ARG, "%s: momentum must be finite and >= 0 (got %g)",
                            o->name, m);
    o->h.momentum = m;
    return LT_OK;
}
const char *lt_optimizer_name(const lt_optimizer_t *o) { return o ? o->name : "?"; }

void lt_optimizer_free(lt_optimizer_t *o) {
    if (!o) return;
    lt__storage_release(o->state);
    lt__storage_release(o->scratch);
    lt_param_list_free(o->params);
    free(o->groups);
    free(o);
}

const lt_param_list_t *lt__optimizer_params(const lt_optimizer_t *opt) { return opt->params; }
int64_t lt_optimizer_num_steps(const lt_optimizer_t *opt) { return opt ? opt->step : 0; }

/* ---- checkpoint support ------------------------------------------------------------ */

int lt__optimizer_num_slots(const lt_optimizer_t *o) { return o->nslots; }
const char *lt__optimizer_slot_name(const lt_optimizer_t *o, int k) { return o->slot_names[k]; }
bool lt__optimizer_has_state(const lt_optimizer_t *o) { return o->state != NULL; }

void lt__optimizer_clear_state(lt_optimizer_t *o) {
    lt__storage_release(o->state);
    o->state = NULL;
}

/* Where parameter p's floats of slot k start in the state buffer. */
static size_t slot_offset(const lt_optimizer_t *o, int k, int64_t p) {
    int64_t off = (int64_t)k * o->total;
    for (int64_t i = 0; i < p; i++) off += o->params->items[i]->numel;
    return (size_t)off * sizeof(float);
}

void lt__optimizer_slot_get(const lt_optimizer_t *o, int k, int64_t p, float *dst) {
    lt_device_t *dev = lt__dev(o->params->items[0]);
    dev->k.memcpy_d2h(dev->state, dst, (char *)o->state->data + slot_offset(o, k, p),
                      (size_t)o->params->items[p]->numel * sizeof(float));
}

lt_status lt__optimizer_slot_set(lt_optimizer_t *o, int k, int64_t p, const void *src) {
    lt_status s = alloc_state(o);
    if (s != LT_OK) return s;
    lt_device_t *dev = lt__dev(o->params->items[0]);
    dev->k.memcpy_h2d(dev->state, (char *)o->state->data + slot_offset(o, k, p), src,
                      (size_t)o->params->items[p]->numel * sizeof(float));
    return LT_OK;
}

/* torch's param_groups[0] keys, so a reader of the checkpoint sees familiar names. */
/* The param_group keys of each kind, in the order they are saved; booleans as 0 / 1. */
typedef struct group_key {
    const char *key;
    size_t off; /* into hyper_values */
    unsigned mask;
    bool is_bool;
} group_key;

#define GK(name, field, mask, is_bool)                                                             \
    { name, offsetof(hyper_values, field), mask, is_bool }
static const group_key group_keys[] = {
    GK("lr", lr, ~0u, false),
    GK("weight_decay", weight_decay, ~0u, false),
    GK("momentum", momentum, OPT_MASK(OPT_SGD) | OPT_MASK(OPT_RMSPROP), false),
    GK("dampening", dampening, OPT_MASK(OPT_SGD), false),
    GK("nesterov", nesterov, OPT_MASK(OPT_SGD), true),
    GK("beta1", beta1, OPT_BETAS, false),
    GK("beta2", beta2, OPT_BETAS, false),
    GK("eps", eps, ~OPT_MASK(OPT_SGD), false),
    /* -- #23: RMSprop, Adagrad, NAdam, RAdam -- */
    GK("alpha", alpha, OPT_MASK(OPT_RMSPROP), false),
    GK("centered", centered, OPT_MASK(OPT_RMSPROP), true),
    GK("lr_decay", lr_decay, OPT_MASK(OPT_ADAGRAD), false),
    GK("initial_accumulator_value", initial_accumulator_value, OPT_MASK(OPT_ADAGRAD), false),
    GK("momentum_decay", momentum_decay, OPT_MASK(OPT_NADAM), false),
    GK("decoupled_weight_decay", decoupled, OPT_MASK(OPT_NADAM) | OPT_MASK(OPT_RADAM), true),
};
#undef GK
#define NUM_GROUP_KEYS (sizeof group_keys / sizeof *group_keys)

static double *key_double(hyper_values *h, const group_key *k) {
    return (double *)(void *)((char *)h + k->off);
}
static bool *key_bool(hyper_values *h, const group_key *k) {
    return (bool *)(void *)((char *)h + k->off);
}

/* torch's param_groups[0] keys, so a reader of the checkpoint sees familiar names. */
static lt_status save_group(const lt_optimizer_t *o, int group, lt_state_t *g) {
    hyper_values h = o->h;
    h.lr = o->groups[group].lr;
    h.weight_decay = o->groups[group].weight_decay;
    lt_status s = LT_OK;
    for (size_t i = 0; i < NUM_GROUP_KEYS && s == LT_OK; i++) {
        const group_key *k = &group_keys[i];
        if (!(k->mask & OPT_MASK(o->kind))) continue;
        s = k->is_bool ? lt_state_set_int(g, k->key, *key_bool(&h, k))
                       : lt_state_set_float(g, k->key, *key_double(&h, k));
    }
    return s;
}

lt_status lt__optimizer_save(const lt_optimizer_t *o, lt_state_t *st) {
    lt_status s = lt_state_set_str(st, "type", o->name);
    if (s == LT_OK) s = lt_state_set_int(st, "step", o->step);
    if (s == LT_OK) s = lt_state_set_int(st, "num_params", o->params->len);
    if (s == LT_OK && o->kind == OPT_NADAM) s = lt_state_set_float(st, "mu_product", o->mu_product);
    lt_state_t *g = s == LT_OK ? lt_state_child(st, "param_group") : NULL;
    if (!g) return lt_last_status();
    s = save_group(o, 0, g);
    /* torch's param_groups list, as "0", "1", ... each with its parameter count */
    lt_state_t *all = s == LT_OK ? lt_state_child(st, "param_groups") : NULL;
    if (!all) return lt_last_status();
    for (int i = 0; i < o->ngroups && s == LT_OK; i++) {
        char key[16];
        snprintf(key, sizeof key, "%d", i);
        g = lt_state_child(all, key);
        s = g ? save_group(o, i, g) : lt_last_status();
        if (s == LT_OK)
            s = lt_state_set_int(g, "num_params", lt__opt_group_end(o, i) - o->groups[i].first);
    }
    return s;
}

static bool bad_key(const char *where, const char *key, const char *what) {
    lt_set_error(LT_ERR_FORMAT, "%s.param_group.%s %s; the checkpoint is damaged or was edited",
                 where, key, what);
    return false;
}

/* o's values, with those param_group g holds in place of them (a key it lacks keeps the
 * module's value); false with an error naming the first key of the wrong JSON type. */
static bool read_param_group(const lt_optimizer_t *o, const lt_state_t *g, hyper_values *h,
                             const char *where) {
    *h = o->h;
    h->lr = o->groups[0].lr;
    h->weight_decay = o->groups[0].weight_decay;
    for (size_t i = 0; i < NUM_GROUP_KEYS; i++) {
        const group_key *k = &group_keys[i];
        if (!(k->mask & OPT_MASK(o->kind)) || !lt__state_has(g, k->key)) continue;
        if (!k->is_bool) {
            if (!lt_state_get_float(g, k->key, key_double(h, k)))
                return bad_key(where, k->key, "is not a number");
            continue;
        }
        int64_t v;
        if (!lt_state_get_int(g, k->key, &v) || (v != 0 && v != 1))
            return bad_key(where, k->key, "must be 0 or 1");
        *key_bool(h, k) = v != 0;
    }
    return true;
}

/* NAdam's mu_product: a product of factors in (0, 1), so in [0, 1]. */
static lt_status check_mu_product(const lt_optimizer_t *o, const lt_state_t *st,
                                  const char *where) {
    double mu;
    if (o->kind != OPT_NADAM) return LT_OK;
    if (!lt_state_get_float(st, "mu_product", &mu) || !(mu >= 0.0 && mu <= 1.0))
        return lt_set_error(LT_ERR_FORMAT,
                            "%s.mu_product must be a number in [0, 1] (NAdam's "
                            "momentum product); the checkpoint is damaged or was edited",
                            where);
    return LT_OK;
}

/* The saved param_groups fit o's: as many, each over as many parameters, lr and weight
 * decay finite and >= 0. A checkpoint from before param groups has none: one group. */
static lt_status check_groups(const lt_optimizer_t *o, const lt_state_t *all, const char *where) {
    const int n = all ? lt_state_count(all) : 1;
    if (n != o->ngroups)
        return lt_set_error(LT_ERR_STATE,
                            "%s: the checkpoint has %d param group(s), the module configured %d; "
                            "configure_optimizers must build the same groups as the run that "
                            "saved it",
                            where, n, o->ngroups);
    for (int i = 0; all && i < n; i++) {
        char key[16];
        snprintf(key, sizeof key, "%d", i);
        const lt_state_t *g = lt_state_get_child(all, key);
        int64_t np = -1;
        double lr = NAN, wd = NAN;
        if (g) {
            lt_state_get_int(g, "num_params", &np);
            lt_state_get_float(g, "lr", &lr);
            lt_state_get_float(g, "weight_decay", &wd);
        }
        if (np != lt__opt_group_end(o, i) - o->groups[i].first)
            return lt_set_error(LT_ERR_STATE,
                                "%s.param_groups.%d has %lld parameters, the module's group %d "
                                "has %lld; configure_optimizers must build the same groups",
                                where, i, (long long)np, i,
                                (long long)(lt__opt_group_end(o, i) - o->groups[i].first));
        if (!FINITE_NONNEG(lr) || !FINITE_NONNEG(wd))
            return lt_set_error(LT_ERR_FORMAT,
                                "%s.param_groups.%d: lr and weight_decay must be finite and >= 0 "
                                "(got %g, %g); the checkpoint is damaged or was edited",
                                where, i, lr, wd);
    }
    return LT_OK;
}

lt_status lt__optimizer_check(const lt_optimizer_t *o, const lt_state_t *st, const char *where) {
    const char *type = lt_state_get_str(st, "type");
    int64_t step, n;
    const lt_state_t *g = lt_state_get_child(st, "param_group");
    double x;
    if (!type || !lt_state_get_int(st, "step", &step) || !lt_state_get_int(st, "num_params", &n) ||
        !g || !lt_state_get_float(g, "lr", &x))
        return lt_set_error(LT_ERR_FORMAT,
                            "%s: optimizer state is incomplete (type, step, "
                            "num_params, param_group.lr)",
                            where);
    if (strcmp(type, o->name) != 0 || n != o->params->len)
        return lt_set_error(LT_ERR_STATE,
                            "%s: the checkpoint has a %s over %lld parameters, the "
                            "module configured a %s over %lld; configure_optimizers must build "
                            "the same optimizers as the run that saved it",
                            where, type, (long long)n, o->name, (long long)o->params->len);
    /* Adam's bias correction raises the betas to step + 1: a wrapped step makes NaN */
    if (step < 0 || step >= LT_CKPT_MAX_COUNT)
        return lt_set_error(LT_ERR_FORMAT,
                            "%s.step is %lld; an optimizer's step count must be "
                            "in [0, 2^53); the checkpoint is damaged or was edited",
                            where, (long long)step);
    hyper_values h;
    if (!read_param_group(o, g, &h, where)) return lt_last_status();
    const char *rule, *key = hyper_problem(o->kind, &h, &rule, &x);
    if (key)
        return lt_set_error(LT_ERR_FORMAT,
                            "%s.param_group.%s must be %s, as %s's constructor "
                            "requires (got %g); the checkpoint is damaged or was edited",
                            where, key, rule, o->name, x);
    lt_status s = check_mu_product(o, st, where);
    return s == LT_OK ? check_groups(o, lt_state_get_child(st, "param_groups"), where) : s;
}

/* After lt__optimizer_check accepted st. */
void lt__optimizer_load(lt_optimizer_t *o, const lt_state_t *st) {
    hyper_values h;
    lt_state_get_int(st, "step", &o->step);
    if (o->kind == OPT_NADAM) {
        double mu = 1.0;
        lt_state_get_float(st, "mu_product", &mu);
        o->mu_product = (float)mu;
    }
    if (!read_param_group(o, lt_state_get_child(st, "param_group"), &h, "")) return;
    o->h = h;
    o->groups[0].lr = h.lr;
    o->groups[0].weight_decay = h.weight_decay;
    const lt_state_t *all = lt_state_get_child(st, "param_groups");
    for (int i = 0; all && i < o->ngroups; i++) {
        char key[16];
        snprintf(key, sizeof key, "%d", i);
        const lt_state_t *g = lt_state_get_child(all, key);
        lt_state_get_float(g, "lr", &o->groups[i].lr);
        lt_state_get_float(g, "weight_decay", &o->groups[i].weight_decay);
    }
}
