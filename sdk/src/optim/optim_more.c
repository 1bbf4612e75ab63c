/* RMSprop, Adagrad, Adamax, NAdam and RAdam, following torch.optim's _single_tensor_*
 * functions (torch/optim/rmsprop.py, adagrad.py, adamax.py, nadam.py, radam.py) step by
 * step. They are composed of the accelerator's required elementwise slots (affine, unary,
 * binary, fill), so every accelerator runs them without a kernel of its own: the scalar
 * factors are computed in double, as Python computes them, and each tensor op of torch
 * becomes the slot calls that round as ATen's kernel rounds:
 *   x.mul_(s)                 affine(x, s, 0)
 *   x.add_(s)                 affine(x, 1, s)
 *   a.addcmul_(b, c, value=s) a + (s b) c
 *   a.addcdiv_(b, c, value=s) a + (s b) / c
 *   a.lerp_(b, w)             |w| < 0.5 ? a + w (b - a) : b - (b - a)(1 - w)
 * One step works on a chunk of at most OPT_CHUNK floats with up to three scratch buffers.
 * Where torch divides a tensor by a Python float, we multiply by the reciprocal (one
 * rounding more, well inside the parity tolerance). */
#include <math.h>
#include <string.h>
#include <strings.h>

#include "optim/optimizer_impl.h"

/* ---- the tensor ops, on n floats --------------------------------------------------- */

typedef struct {
    lt_device_t *dev;
    int64_t n;
    const hyper_values *h; /* the optimizer's, with the param group's lr and weight decay */
} chunk;

static void mul_s(const chunk *c, const float *x, double s, float *out) {
    c->dev->k.affine(c->dev->state, c->n, x, (float)s, 0.0f, out);
}
static void add_s(const chunk *c, const float *x, double s, float *out) {
    c->dev->k.affine(c->dev->state, c->n, x, 1.0f, (float)s, out);
}
static void bin(const chunk *c, lt_binary_op op, const float *a, const float *b, float *out) {
    c->dev->k.binary(c->dev->state, op, c->n, a, b, out, NULL);
}
static void un(const chunk *c, lt_unary_op op, const float *x, float *out) {
    c->dev->k.unary(c->dev->state, op, c->n, x, out);
}

/* a.addcmul_(b, b, value=s) (tmp: scratch) */
static void addcmul_sq(const chunk *c, float *a, const float *b, double s, float *tmp) {
    mul_s(c, b, s, tmp);
    bin(c, LT_BIN_MUL, tmp, b, tmp);
    bin(c, LT_BIN_ADD, a, tmp, a);
}

/* a.addcdiv_(b, d, value=s) (tmp: scratch, not d) */
static void addcdiv(const chunk *c, float *a, const float *b, const float *d, double s,
                    float *tmp) {
    mul_s(c, b, s, tmp);
    bin(c, LT_BIN_DIV, tmp, d, tmp);
    bin(c, LT_BIN_ADD, a, tmp, a);
}

/* a.lerp_(b, w): ATen picks the formula by |w| < 0.5, for accuracy near w = 1. */
static void lerp(const chunk *c, float *a, const float *b, double weight, float *tmp) {
    const float w = (float)weight;
    bin(c, LT_BIN_SUB, b, a, tmp);
    if (fabsf(w) < 0.5f) {
        mul_s(c, tmp, w, tmp);
        bin(c, LT_BIN_ADD, a, tmp, a);
    } else {
        mul_s(c, tmp, 1.0f - w, tmp);
        bin(c, LT_BIN_SUB, b, tmp, a);
    }
}

/* grad.add(param, alpha=weight_decay) into tmp, or grad itself when there is none. */
static const float *decayed_grad(const chunk *c, const float *p, const float *g, double wd,
                                 float *tmp) {
    if (wd == 0.0) return g;
    mul_s(c, p, wd, tmp);
    bin(c, LT_BIN_ADD, g, tmp, tmp);
    return tmp;
}

/* NAdam and RAdam: param.mul_(1 - lr wd) when decoupled, else the gradient gains wd p. */
static const float *weight_decay(const chunk *c, const hyper_values *h, float *p, const float *g,
                                 float *tmp) {
    if (h->weight_decay == 0.0) return g;
    if (!h->decoupled) return decayed_grad(c, p, g, h->weight_decay, tmp);
    mul_s(c, p, 1.0 - h->lr * h->weight_decay, p);
    return g;
}

/* ---- the updates ------------------------------------------------------------------- */

/* square_avg (s0), momentum_buffer (s1 when momentum > 0), grad_avg (last, centered). */
static void rmsprop(const lt_optimizer_t *o, const chunk *c, float *p, const float *g,
                    float *const s[], float *const t[]) {
    const hyper_values *h = c->h;
    const float *grad = decayed_grad(c, p, g, h->weight_decay, t[0]);
    float *sq = s[0], *avg = t[1];
    mul_s(c, sq, h->alpha, sq);
    addcmul_sq(c, sq, grad, 1.0 - h->alpha, t[2]);
    if (h->centered) {
        float *ga = s[o->nslots - 1];
        lerp(c, ga, grad, 1.0 - h->alpha, t[2]);
        bin(c, LT_BIN_MUL, ga, ga, avg); /* square_avg.addcmul(ga, ga, value=-1) */
        bin(c, LT_BIN_SUB, sq, avg, avg);
        un(c, LT_UN_SQRT, avg, avg);
    } else {
        un(c, LT_UN_SQRT, sq, avg);
    }
    add_s(c, avg, h->eps, avg);
    if (h->momentum > 0.0) {
        float *buf = s[1];
        mul_s(c, buf, h->momentum, buf);
        addcdiv(c, buf, grad, avg, 1.0, t[2]);
        mul_s(c, buf, -h->lr, t[2]); /* param.add_(buf, alpha=-lr) */
        bin(c, LT_BIN_ADD, p, t[2], p);
    } else {
        addcdiv(c, p, grad, avg, -h->lr, t[2]);
    }
}

/* sum (s0). */
static void adagrad(const lt_optimizer_t *o, const chunk *c, float *p, const float *g,
                    float *const s[], float *const t[]) {
    const hyper_values *h = c->h;
    const float *grad = decayed_grad(c, p, g, h->weight_decay, t[0]);
    const double clr = h->lr / (1.0 + (double)(o->step - 1) * h->lr_decay);
    addcmul_sq(c, s[0], grad, 1.0, t[1]);
    un(c, LT_UN_SQRT, s[0], t[1]); /* std = sum.sqrt().add_(eps) */
    add_s(c, t[1], h->eps, t[1]);
    addcdiv(c, p, grad, t[1], -clr, t[2]);
}

/* torch.maximum(u, b, out=u) exactly: with m = (u - b > 0), u m + (b - b m); b is
 * clobbered, d is scratch. */
static void maximum(const chunk *c, float *u, float *b, float *d, float *bm) {
    bin(c, LT_BIN_SUB, u, b, d);
    bin(c, LT_BIN_RELU_BWD, d, b, bm); /* b m */
    bin(c, LT_BIN_SUB, b, bm, b);      /* b (1 - m) */
    bin(c, LT_BIN_RELU_BWD, d, u, u);  /* u m */
    bin(c, LT_BIN_ADD, u, b, u);
}

/* exp_avg (s0), exp_inf (s1). */
static void adamax(const lt_optimizer_t *o, const chunk *c, float *p, const float *g,
                   float *const s[], float *const t[]) {
    const hyper_values *h = c->h;
    const float *grad = decayed_grad(c, p, g, h->weight_decay, t[0]);
    lerp(c, s[0], grad, 1.0 - h->beta1, t[1]);
    mul_s(c, s[1], h->beta2, s[1]);
    un(c, LT_UN_NEG, grad, t[1]); /* |grad| = relu(grad) + relu(-grad), exactly */
    un(c, LT_UN_RELU, t[1], t[1]);
    un(c, LT_UN_RELU, grad, t[2]);
    bin(c, LT_BIN_ADD, t[1], t[2], t[1]);
    add_s(c, t[1], h->eps, t[1]);
    /* grad (t[0]) is no longer needed: t[0] and t[2] are the scratch of maximum */
    maximum(c, s[1], t[1], t[2], t[0]);
    const double clr = h->lr / (1.0 - pow(h->beta1, (double)o->step));
    addcdiv(c, p, s[0], s[1], -clr, t[1]);
}

/* The first and second moments of Adam, as NAdam and RAdam update them. */
static void moments(const chunk *c, const float *grad, float *const s[], float *tmp) {
    lerp(c, s[0], grad, 1.0 - c->h->beta1, tmp);
    mul_s(c, s[1], c->h->beta2, s[1]);
    addcmul_sq(c, s[1], grad, 1.0 - c->h->beta2, tmp);
}

/* NAdam's momentum schedule at step t. */
static double nadam_mu(const hyper_values *h, double t) {
    return h->beta1 * (1.0 - 0.5 * pow(0.96, t * h->momentum_decay));
}

void lt__optim_more_begin_step(lt_optimizer_t *o) {
    if (o->kind == OPT_NADAM) /* mu_product *= mu, on a float32 tensor */
        o->mu_product = o->mu_product * (float)nadam_mu(&o->h, (double)o->step);
}

/* exp_avg (s0), exp_avg_sq (s1); mu_product already holds this step's factor. */
static void nadam(const lt_optimizer_t *o, const chunk *c, float *p, const float *g,
                  float *const s[], float *const t[]) {
    const hyper_values *h = c->h;
    const double step = (double)o->step, bc2 = 1.0 - pow(h->beta2, step);
    const double mu = nadam_mu(h, step), mu_next = nadam_mu(h, step + 1.0);
    const double mu_product = o->mu_product, mu_product_next = mu_product * mu_next;
    const float *grad = weight_decay(c, h, p, g, t[0]);
    moments(c, grad, s, t[1]);
    mul_s(c, s[1], 1.0 / bc2, t[1]); /* denom = exp_avg_sq.div(bc2).sqrt().add_(eps) */
    un(c, LT_UN_SQRT, t[1], t[1]);
    add_s(c, t[1], h->eps, t[1]);
    addcdiv(c, p, grad, t[1], -h->lr * (1.0 - mu) / (1.0 - mu_product), t[2]);
    addcdiv(c, p, s[0], t[1], -h->lr * mu_next / (1.0 - mu_product_next), t[2]);
}

/* exp_avg (s0), exp_avg_sq (s1). */
static void radam(const lt_optimizer_t *o, const chunk *c, float *p, const float *g,
                  float *const s[], float *const t[]) {
    const hyper_values *h = c->h;
    const double step = (double)o->step;
    const double bc1 = 1.0 - pow(h->beta1, step), bc2 = 1.0 - pow(h->beta2, step);
    const float *grad = weight_decay(c, h, p, g, t[0]);
    moments(c, grad, s, t[1]);
    const double rho_inf = 2.0 / (1.0 - h->beta2) - 1.0;
    const double rho_t = rho_inf - 2.0 * step * pow(h->beta2, step) / bc2;
    float *upd = t[1]; /* bias_corrected_exp_avg * lr [* adaptive_lr * rect] */
    mul_s(c, s[0], 1.0 / bc1, upd);
    mul_s(c, upd, h->lr, upd);
    if (rho_t > 5.0) {
        const double rect = pow((rho_t - 4.0) * (rho_t - 2.0) * rho_inf /
                                    ((rho_inf - 4.0) * (rho_inf - 2.0) * rho_t),
                                0.5);
        float *ad = t[2], *one = t[0]; /* grad is no longer needed */
        un(c, LT_UN_SQRT, s[1], ad);
        add_s(c, ad, h->eps, ad);
        /* (bc2 ** 0.5) / t is torch's t.reciprocal() * (bc2 ** 0.5) */
        c->dev->k.fill(c->dev->state, c->n, 1.0f, one);
        bin(c, LT_BIN_DIV, one, ad, ad);
        mul_s(c, ad, pow(bc2, 0.5), ad);
        bin(c, LT_BIN_MUL, upd, ad, upd);
        mul_s(c, upd, rect, upd);
    }
    bin(c, LT_BIN_SUB, p, upd, p); /* param.add_(upd, alpha=-1) */
}

typedef void (*update_fn)(const lt_optimizer_t *, const chunk *, float *, const float *,
                          float *const[], float *const[]);

static const struct {
    update_fn fn;
    const char *span;
    double flops; /* per element, roughly: each slot call is one */
} kinds[OPT_KINDS] = {
    [OPT_RMSPROP] = {rmsprop, "rmsprop_step", 12.0}, [OPT_ADAGRAD] = {adagrad, "adagrad_step", 9.0},
    [OPT_ADAMAX] = {adamax, "adamax_step", 18.0},    [OPT_NADAM] = {nadam, "nadam_step", 16.0},
    [OPT_RADAM] = {radam, "radam_step", 16.0},
};

void lt__optim_more_run(const lt_optimizer_t *o, const hyper_values *h, lt_device_t *dev, float *p,
                        const float *g, float *const slot[OPT_MAX_SLOTS],
                        float *const tmp[OPT_MAX_SCRATCH], int64_t n) {
    const chunk c = {dev, n, h};
    kinds[o->kind].fn(o, &c, p, g, slot, tmp);
}

double lt__optim_more_flops(const lt_optimizer_t *o) {
    return kinds[o->kind].flops + (o->h.weight_decay != 0.0 ? 2.0 : 0.0);
}
const char *lt__optim_more_span(const lt_optimizer_t *o) { return kinds[o->kind].span; }

/* ---- constructors ------------------------------------------------------------------ */

/* o with its state slots named (torch's state keys, in torch's order) and its scratch. */
static lt_optimizer_t *with_slots(lt_optimizer_t *o, int nscratch, const char *const *names,
                                  float init) {
    if (!o) return NULL;
    for (int k = 0; names[k]; k++) {
        o->slot_names[o->nslots] = names[k];
        o->slot_init[o->nslots++] = k == 0 ? init : 0.0f;
    }
    o->nscratch = nscratch;
    o->mu_product = 1.0f;
    return o;
}

lt_optimizer_t *lt_rmsprop_ex(lt_param_list_t *params, double lr, double alpha, double eps,
                              double weight_decay, double momentum, bool centered) {
    hyper_values h = {.lr = lr,
                      .alpha = alpha,
                      .eps = eps,
                      .weight_decay = weight_decay,
                      .momentum = momentum,
                      .centered = centered};
    const char *names[4] = {"square_avg", NULL, NULL, NULL};
    int k = 1;
    if (momentum > 0.0) names[k++] = "momentum_buffer";
    if (centered) names[k++] = "grad_avg";
    return with_slots(lt__opt_init(lt__opt_new(params, OPT_RMSPROP, "RMSprop"), &h), 3, names,
                      0.0f);
}
lt_optimizer_t *lt_rmsprop(lt_param_list_t *params, double lr) {
    return lt_rmsprop_ex(params, lr, 0.99, 1e-8, 0.0, 0.0, false);
}

lt_optimizer_t *lt_adagrad_ex(lt_param_list_t *params, double lr, double lr_decay,
                              double weight_decay, double initial_accumulator_value, double eps) {
    hyper_values h = {.lr = lr,
                      .lr_decay = lr_decay,
                      .weight_decay = weight_decay,
                      .initial_accumulator_value = initial_accumulator_value,
                      .eps = eps};
    static const char *const names[] = {"sum", NULL};
    return with_slots(lt__opt_init(lt__opt_new(params, OPT_ADAGRAD, "Adagrad"), &h), 3, names,
                      (float)initial_accumulator_value);
}
lt_optimizer_t *lt_adagrad(lt_param_list_t *params, double lr) {
    return lt_adagrad_ex(params, lr, 0.0, 0.0, 0.0, 1e-10);
}

lt_optimizer_t *lt_adamax_ex(lt_param_list_t *params, double lr, double beta1, double beta2,
                             double eps, double weight_decay) {
    hyper_values h = {
        .lr = lr, .beta1 = beta1, .beta2 = beta2, .eps = eps, .weight_decay = weight_decay};
    static const char *const names[] = {"exp_avg", "exp_inf", NULL};
    return with_slots(lt__opt_init(lt__opt_new(params, OPT_ADAMAX, "Adamax"), &h), 3, names, 0.0f);
}
lt_optimizer_t *lt_adamax(lt_param_list_t *params, double lr) {
    return lt_adamax_ex(params, lr, 0.9, 0.999, 1e-8, 0.0);
}

static const char *const adam_names[] = {"exp_avg", "exp_avg_sq", NULL};

lt_optimizer_t *lt_nadam_ex(lt_param_list_t *params, double lr, double beta1, double beta2,
                            double eps, double weight_decay, double momentum_decay,
                            bool decoupled_weight_decay) {
    hyper_values h = {.lr = lr,
                      .beta1 = beta1,
                      .beta2 = beta2,
                      .eps = eps,
                      .weight_decay = weight_decay,
                      .momentum_decay = momentum_decay,
                      .decoupled = decoupled_weight_decay};
    return with_slots(lt__opt_init(lt__opt_new(params, OPT_NADAM, "NAdam"), &h), 3, adam_names,
                      0.0f);
}
lt_optimizer_t *lt_nadam(lt_param_list_t *params, double lr) {
    return lt_nadam_ex(params, lr, 0.9, 0.999, 1e-8, 0.0, 4e-3, false);
}

lt_optimizer_t *lt_radam_ex(lt_param_list_t *params, double lr, double beta1, double beta2,
                            double eps, double weight_decay, bool decoupled_weight_decay) {
    hyper_values h = {.lr = lr,
                      .beta1 = beta1,
                      .beta2 = beta2,
                      .eps = eps,
                      .weight_decay = weight_decay,
                      .decoupled = decoupled_weight_decay};
    return with_slots(lt__opt_init(lt__opt_new(params, OPT_RADAM, "RAdam"), &h), 3, adam_names,
                      0.0f);
}
lt_optimizer_t *lt_radam(lt_param_list_t *params, double lr) {
    return lt_radam_ex(params, lr, 0.9, 0.999, 1e-8, 0.0, false);
}

/* ---- by name ----------------------------------------------------------------------- */

lt_optimizer_t *lt_optimizer_by_name(lt_param_list_t *params, const char *name, double lr) {
    static const struct {
        const char *name;
        lt_optimizer_t *(*make)(lt_param_list_t *, double);
    } table[] = {{"sgd", lt_sgd},         {"adam", lt_adam},     {"rmsprop", lt_rmsprop},
                 {"adagrad", lt_adagrad}, {"adamax", lt_adamax}, {"nadam", lt_nadam},
                 {"radam", lt_radam}};
    for (size_t i = 0; name && i < sizeof table / sizeof *table; i++)
        if (!strcasecmp(name, table[i].name)) return table[i].make(params, lr);
    if (name && !strcasecmp(name, "adamw")) return lt_adamw(params, lr, 1e-2);
    lt_set_error(LT_ERR_INVALID_ARG,
                 "unknown optimizer '%s'; choose one of sgd, adam, adamw, rmsprop, adagrad, "
                 "adamax, nadam, radam",
                 name ? name : "(null)");
    lt_param_list_free(params);
    return NULL;
}
