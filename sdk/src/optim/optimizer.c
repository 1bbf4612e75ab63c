/* SGD, Adam and AdamW with PyTorch's single-tensor update formulas. The state of all
 * parameters lives in one allocation; parameters that are contiguous in memory (the
 * usual case: a module's parameters share one buffer) are updated by one kernel call. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <lt/checkpoint.h>

#include "lt_impl.h"

typedef enum { OPT_SGD, OPT_ADAM } opt_kind;

struct lt_optimizer {
    opt_kind kind;
    const char *name;
    lt_param_list_t *params;
    double lr, momentum, dampening, weight_decay, beta1, beta2, eps;
    bool nesterov, decoupled;
    int64_t step;      /* updates done so far */
    int nslots;        /* state floats per parameter element: 0, 1 (momentum) or 2 (m, v) */
    lt_storage *state; /* nslots * total elements, zero until the first step */
    int64_t total;     /* elements over all parameters */
};

static lt_optimizer_t *opt_new(lt_param_list_t *params, opt_kind kind, const char *name) {
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
    o->kind = kind;
    o->name = name;
    o->params = params;
    for (int64_t i = 0; i < params->len; i++) o->total += params->items[i]->numel;
    return o;
}

/* An optimizer's hyper-parameters, as a constructor gets them or a checkpoint's
 * param_group gives them. */
typedef struct hyper_values {
    double lr, momentum, dampening, weight_decay, beta1, beta2, eps;
    bool nesterov;
} hyper_values;

/* The constructors' rules (torch's, plus finiteness), shared with checkpoint restore so a
 * file cannot set what the code may not: the first key out of range, what it must be and
 * its value; NULL when all are fine. */
static const char *hyper_problem(opt_kind kind, const hyper_values *h, const char **rule,
                                 double *got) {
    static const char *const finite_nonneg = "finite and >= 0", *const unit = "in [0, 1)";
    const struct {
        const char *key;
        double v;
        bool ok;
        const char *rule;
    } checks[] = {
        {"lr", h->lr, isfinite(h->lr) && h->lr >= 0.0, finite_nonneg},
        {"weight_decay", h->weight_decay, isfinite(h->weight_decay) && h->weight_decay >= 0.0,
         finite_nonneg},
        {"momentum", h->momentum, kind != OPT_SGD || (isfinite(h->momentum) && h->momentum >= 0.0),
         finite_nonneg},
        {"dampening", h->dampening, kind != OPT_SGD || isfinite(h->dampening), "finite"},
        {"nesterov", h->nesterov,
         kind != OPT_SGD || !h->nesterov || (h->momentum > 0.0 && h->dampening == 0.0),
         "off unless momentum > 0 and dampening 0"},
        {"beta1", h->beta1, kind != OPT_ADAM || (h->beta1 >= 0.0 && h->beta1 < 1.0), unit},
        {"beta2", h->beta2, kind != OPT_ADAM || (h->beta2 >= 0.0 && h->beta2 < 1.0), unit},
        {"eps", h->eps, kind != OPT_ADAM || (isfinite(h->eps) && h->eps >= 0.0), finite_nonneg},
    };
    for (size_t i = 0; i < sizeof checks / sizeof *checks; i++)
        if (!checks[i].ok) {
            *rule = checks[i].rule;
            *got = checks[i].v;
            return checks[i].key;
        }
    return NULL;
}

static void set_hyper(lt_optimizer_t *o, const hyper_values *h) {
    o->lr = h->lr;
    o->momentum = h->momentum;
    o->dampening = h->dampening;
    o->weight_decay = h->weight_decay;
    o->nesterov = h->nesterov;
    o->beta1 = h->beta1;
    o->beta2 = h->beta2;
    o->eps = h->eps;
}

/* o (from opt_new) with hyper-parameters h, or NULL (o freed) with an error when the
 * constructor's rules refuse one. */
static lt_optimizer_t *opt_init(lt_optimizer_t *o, const hyper_values *h) {
    if (!o) return NULL;
    const char *rule;
    double got;
    const char *key = hyper_problem(o->kind, h, &rule, &got);
    if (key) {
        lt_set_error(LT_ERR_INVALID_ARG, "%s: %s must be %s (got %g)", o->name, key, rule, got);
        lt_optimizer_free(o);
        return NULL;
    }
    set_hyper(o, h);
    return o;
}

lt_optimizer_t *lt_sgd_ex(lt_param_list_t *params, double lr, double momentum, double dampening,
                          double weight_decay, bool nesterov) {
    hyper_values h = {.lr = lr,
                      .momentum = momentum,
                      .dampening = dampening,
                      .weight_decay = weight_decay,
                      .nesterov = nesterov};
    lt_optimizer_t *o = opt_init(opt_new(params, OPT_SGD, "SGD"), &h);
    if (o) o->nslots = momentum != 0.0 ? 1 : 0;
    return o;
}

lt_optimizer_t *lt_sgd(lt_param_list_t *params, double lr) {
    return lt_sgd_ex(params, lr, 0.0, 0.0, 0.0, false);
}

static lt_optimizer_t *adam_new(lt_param_list_t *params, const char *name, double lr, double b1,
                                double b2, double eps, double wd, bool decoupled) {
    hyper_values h = {.lr = lr, .beta1 = b1, .beta2 = b2, .eps = eps, .weight_decay = wd};
    lt_optimizer_t *o = opt_init(opt_new(params, OPT_ADAM, name), &h);
    if (o) {
        o->decoupled = decoupled;
        o->nslots = 2;
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
static int64_t run_end(const lt_param_list_t *l, int64_t i) {
    int64_t j = i + 1;
    for (; j < l->len; j++) {
        const lt_tensor_t *a = l->items[j - 1], *b = l->items[j];
        if (!a->grad || !b->grad || a->st != b->st || a->grad->st != b->grad->st) break;
        if (b->offset != a->offset + (size_t)a->numel * 4) break;
        if (b->grad->offset != a->grad->offset + (size_t)a->numel * 4) break;
    }
    return j;
}

/* FLOPs per element of one update, for the profiler: p -= lr * g is 2; weight decay adds
 * 2, momentum 3 and nesterov 2 more. Adam's moments, bias corrections, sqrt, divide and
 * update are about 12. */
static double update_flops(const lt_optimizer_t *o) {
    double wd = o->weight_decay != 0.0 ? 2.0 : 0.0;
    if (o->kind == OPT_ADAM) return 12.0 + wd;
    return 2.0 + wd + (o->momentum != 0.0 ? 3.0 : 0.0) + (o->nesterov ? 2.0 : 0.0);
}

/* The update kernel of o's kind over n floats from first. */
static void update_kernel(const lt_optimizer_t *o, lt_device_t *dev, lt_tensor_t *first, int64_t n,
                          float *slot0, float *slot1) {
    if (o->kind == OPT_SGD) {
        lt_sgd_hyper h = {o->lr,           o->momentum, o->dampening,
                          o->weight_decay, o->nesterov, o->step == 1};
        dev->k.sgd_step(dev->state, n, lt__f32(first), lt__f32(first->grad), slot0, &h);
    } else {
        lt_adam_hyper h = {o->lr,           o->beta1,     o->beta2, o->eps,
                           o->weight_decay, o->decoupled, o->step};
        dev->k.adam_step(dev->state, n, lt__f32(first), lt__f32(first->grad), slot0, slot1, &h);
    }
}

static void update_run(lt_optimizer_t *o, lt_tensor_t *first, int64_t n, float *slot0,
                       float *slot1) {
    lt_device_t *dev = lt__dev(first);
    /* reads p and g, writes p; each state slot is read and written */
    LT_PROF_SPAN(dev, o->kind == OPT_SGD ? "sgd_step" : "adam_step", update_flops(o) * n,
                 LT_F32B(n) * (3 + 2 * o->nslots), update_kernel(o, dev, first, n, slot0, slot1));
}

static lt_status alloc_state(lt_optimizer_t *o) {
    if (o->nslots == 0 || o->state) return LT_OK;
    lt_device_t *dev = lt__dev(o->params->items[0]);
    o->state = lt__storage_new(dev, (size_t)(o->total * o->nslots) * sizeof(float));
    if (!o->state) return lt_last_status();
    LT_KCALL(dev, "fill", 0, LT_F32B(o->total * o->nslots), fill, o->total * o->nslots, 0.0f,
             o->state->data);
    return LT_OK;
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

lt_status lt__optimizer_update(lt_optimizer_t *o) {
    lt_status s = alloc_state(o);
    if (s != LT_OK) return s;
    o->step++;
    float *state = o->state ? o->state->data : NULL;
    int64_t off = 0;
    const lt_param_list_t *l = o->params;
    for (int64_t i = 0, j; i < l->len; i = j) {
        j = run_end(l, i);
        int64_t n = 0;
        for (int64_t k = i; k < j; k++) n += l->items[k]->numel;
        if (l->items[i]->grad) { /* no gradient yet: PyTorch skips the parameter too */
            update_run(o, l->items[i], n, state ? state + off : NULL,
                       o->nslots == 2 ? state + o->total + off : NULL);
            lt__round_params(lt__dev(l->items[i]), lt__f32(l->items[i]), n); /* bf16-true */
        }
        off += n;
    }
    return LT_OK;
}

lt_status lt_optimizer_zero_grad(lt_optimizer_t *o) {
    if (!o) return lt_set_error(LT_ERR_INVALID_ARG, "lt_optimizer_zero_grad: optimizer is NULL");
    const lt_param_list_t *l = o->params;
    for (int64_t i = 0, j; i < l->len; i = j) {
        j = run_end(l, i);
        lt_tensor_t *p = l->items[i];
        if (!p->grad) continue;
        int64_t n = 0;
        for (int64_t k = i; k < j; k++) n += l->items[k]->numel;
        lt_device_t *dev = lt__dev(p);
        LT_KCALL(dev, "zero_grad", 0, LT_F32B(n), fill, n, 0.0f, lt__f32(p->grad));
    }
    return LT_OK;
}

double lt_optimizer_lr(const lt_optimizer_t *o) { return o ? o->lr : NAN; }
void lt_optimizer_set_lr(lt_optimizer_t *o, double lr) {
    if (o) o->lr = lr;
}

double lt_optimizer_momentum(const lt_optimizer_t *o) {
    if (!o) return NAN;
    return o->kind == OPT_SGD ? o->momentum : o->beta1;
}

lt_status lt_optimizer_set_momentum(lt_optimizer_t *o, double m) {
    if (!o) return lt_set_error(LT_ERR_INVALID_ARG, "lt_optimizer_set_momentum: optimizer is NULL");
    if (o->kind == OPT_ADAM) {
        if (!(m >= 0.0 && m < 1.0))
            return lt_set_error(LT_ERR_INVALID_ARG, "%s: beta1 must be in [0, 1) (got %g)", o->name,
                                m);
        o->beta1 = m;
        return LT_OK;
    }
    /* An SGD built with momentum 0 has no momentum buffer (nslots 0) for a new momentum
     * to act on; torch would start one at the next step, we refuse instead. */
    if (o->nslots == 0)
        return lt_set_error(LT_ERR_INVALID_ARG,
                            "SGD: optimizer must support momentum (it was "
                            "built with momentum 0; build it with momentum > 0)");
    if (!(m >= 0.0) || !isfinite(m))
        return lt_set_error(LT_ERR_INVALID_ARG, "SGD: momentum must be finite and >= 0 (got %g)",
                            m);
    o->momentum = m;
    return LT_OK;
}
const char *lt_optimizer_name(const lt_optimizer_t *o) { return o ? o->name : "?"; }

void lt_optimizer_free(lt_optimizer_t *o) {
    if (!o) return;
    lt__storage_release(o->state);
    lt_param_list_free(o->params);
    free(o);
}

const lt_param_list_t *lt__optimizer_params(const lt_optimizer_t *opt) { return opt->params; }
int64_t lt_optimizer_num_steps(const lt_optimizer_t *opt) { return opt ? opt->step : 0; }

/* ---- checkpoint support ------------------------------------------------------------ */

static const char *const slot_names[2][2] = {{"momentum_buffer", NULL}, {"exp_avg", "exp_avg_sq"}};

int lt__optimizer_num_slots(const lt_optimizer_t *o) { return o->nslots; }
const char *lt__optimizer_slot_name(const lt_optimizer_t *o, int k) {
    return slot_names[o->kind][k];
}
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
lt_status lt__optimizer_save(const lt_optimizer_t *o, lt_state_t *st) {
    lt_status s = lt_state_set_str(st, "type", o->name);
    if (s == LT_OK) s = lt_state_set_int(st, "step", o->step);
    if (s == LT_OK) s = lt_state_set_int(st, "num_params", o->params->len);
    lt_state_t *g = s == LT_OK ? lt_state_child(st, "param_group") : NULL;
    if (!g) return lt_last_status();
    s = lt_state_set_float(g, "lr", o->lr);
    if (s == LT_OK) s = lt_state_set_float(g, "weight_decay", o->weight_decay);
    if (o->kind == OPT_SGD) {
        if (s == LT_OK) s = lt_state_set_float(g, "momentum", o->momentum);
        if (s == LT_OK) s = lt_state_set_float(g, "dampening", o->dampening);
        if (s == LT_OK) s = lt_state_set_int(g, "nesterov", o->nesterov);
    } else {
        if (s == LT_OK) s = lt_state_set_float(g, "beta1", o->beta1);
        if (s == LT_OK) s = lt_state_set_float(g, "beta2", o->beta2);
        if (s == LT_OK) s = lt_state_set_float(g, "eps", o->eps);
    }
    return s;
}

/* o's values, with those param_group g holds in place of them (a key it lacks keeps the
 * module's value); false with an error naming the first key of the wrong JSON type. */
static bool read_param_group(const lt_optimizer_t *o, const lt_state_t *g, hyper_values *h,
                             const char *where) {
    *h = (hyper_values){o->lr,    o->momentum, o->dampening, o->weight_decay,
                        o->beta1, o->beta2,    o->eps,       o->nesterov};
    const struct {
        const char *key;
        double *v;
        bool used;
    } floats[] = {
        {"lr", &h->lr, true},
        {"weight_decay", &h->weight_decay, true},
        {"momentum", &h->momentum, o->kind == OPT_SGD},
        {"dampening", &h->dampening, o->kind == OPT_SGD},
        {"beta1", &h->beta1, o->kind == OPT_ADAM},
        {"beta2", &h->beta2, o->kind == OPT_ADAM},
        {"eps", &h->eps, o->kind == OPT_ADAM},
    };
    for (size_t i = 0; i < sizeof floats / sizeof *floats; i++) {
        if (!floats[i].used || !lt__state_has(g, floats[i].key) ||
            lt_state_get_float(g, floats[i].key, floats[i].v))
            continue;
        lt_set_error(LT_ERR_FORMAT,
                     "%s.param_group.%s is not a number; the checkpoint is "
                     "damaged or was edited",
                     where, floats[i].key);
        return false;
    }
    int64_t nesterov = h->nesterov;
    if (o->kind == OPT_SGD && lt__state_has(g, "nesterov") &&
        (!lt_state_get_int(g, "nesterov", &nesterov) || (nesterov != 0 && nesterov != 1))) {
        lt_set_error(LT_ERR_FORMAT,
                     "%s.param_group.nesterov must be 0 or 1; the checkpoint is "
                     "damaged or was edited",
                     where);
        return false;
    }
    h->nesterov = nesterov != 0;
    return true;
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
    return LT_OK;
}

/* After lt__optimizer_check accepted st. */
void lt__optimizer_load(lt_optimizer_t *o, const lt_state_t *st) {
    hyper_values h;
    lt_state_get_int(st, "step", &o->step);
    if (!read_param_group(o, lt_state_get_child(st, "param_group"), &h, "")) return;
    set_hyper(o, &h);
}
