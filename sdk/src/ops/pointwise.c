/* Pointwise ops composed of others, so their backward comes with them: F.softplus,
 * clamp, pow and rsqrt. clamp uses the clamp slot forward and relu_backward masks
 * backward. */
#include <math.h>
#include <string.h>

#include "lt_impl.h"

/* softplus(x) = log(1 + exp(beta x)) / beta, as relu(bx) + log(1 + exp(-|bx|)) (no
 * overflow); above threshold torch returns x, which this equals to float precision. */
lt_tensor_t *lt_softplus(lt_tensor_t *x, double beta, double threshold) {
    if (!lt__check_f32(x, "lt_softplus")) return NULL;
    if (!(beta > 0.0) || !(threshold > 0.0)) {
        lt_set_error(LT_ERR_INVALID_ARG,
                     "lt_softplus: beta %g and threshold %g must be positive (torch: 1 and 20)",
                     beta, threshold);
        return NULL;
    }
    lt_tensor_t *bx = beta == 1.0 ? x : lt_scale(x, (float)beta);
    lt_tensor_t *abs = lt_add(lt_relu(bx), lt_relu(lt_neg(bx)));
    lt_tensor_t *y = lt_add(lt_relu(bx), lt_ln(lt_add_scalar(lt_exp(lt_neg(abs)), 1.0f)));
    return beta == 1.0 ? y : lt_scale(y, (float)(1.0 / beta));
}

/* ---- clamp ---------------------------------------------------------------------------- */

/* g * (a > 0), elementwise over same-shaped tensors (the relu_backward kernel). */
static lt_tensor_t *pass_where_positive(lt_tensor_t *a, lt_tensor_t *g) {
    if (!a || !g) return NULL;
    lt_tensor_t *out = lt__tensor_new(g->arena, LT_F32, g->ndim, g->shape);
    if (!out) return NULL;
    lt_device_t *dev = lt__dev(g);
    LT_KCALL(dev, "clamp_backward", g->numel, LT_F32B(3 * g->numel), binary, LT_BIN_RELU_BWD,
             g->numel, lt__f32(a), lt__f32(g), lt__f32(out), NULL);
    return out;
}

/* The gradient passes where min < x < max (torch's also at x == min or max). */
static void clamp_bw(lt_node *n, lt_tensor_t *g) {
    lt_tensor_t *x = n->in[0];
    double lo = n->s, hi;
    memcpy(&hi, &n->iv[0], sizeof hi);
    if (lo > -INFINITY) g = pass_where_positive(lt_add_scalar(x, (float)-lo), g);
    if (hi < INFINITY) g = pass_where_positive(lt_add_scalar(lt_neg(x), (float)hi), g);
    lt__accum_grad(x, g);
}

lt_tensor_t *lt_clamp(lt_tensor_t *x, double min, double max) {
    if (!lt__check_f32(x, "lt_clamp")) return NULL;
    if (isnan(min) || isnan(max) || min > max) {
        lt_set_error(LT_ERR_INVALID_ARG,
                     "lt_clamp: min %g must not exceed max %g (no bound: -INFINITY, INFINITY)", min,
                     max);
        return NULL;
    }
    lt_device_t *dev = lt__dev(x);
    if (!LT_NEED_SLOT(dev, clamp, "lt_clamp")) return NULL;
    lt_tensor_t *y = lt__tensor_new(x->arena, LT_F32, x->ndim, x->shape);
    if (!y) return NULL;
    LT_KCALL(dev, "clamp", 2.0 * (double)x->numel, LT_F32B(2 * x->numel), clamp, x->numel,
             lt__f32(x), (float)min, (float)max, lt__f32(y));
    lt_node *n = lt__record(y, clamp_bw, x, NULL, NULL);
    if (n) {
        n->s = min;
        memcpy(&n->iv[0], &max, sizeof max);
    }
    return y;
}

/* ---- pow and rsqrt ---------------------------------------------------------------------- */

#define POW_INT_MAX 64 /* integer exponents up to this are products (any sign of x) */

/* x^p with no recording: products for small integer p, exp(p log x) otherwise (NaN for
 * x < 0, as torch). */
static lt_tensor_t *pow_value(lt_tensor_t *x, double p) {
    if (p == 0.0) return lt_full(x->arena, x->ndim, x->shape, 1.0f);
    if (p == 1.0) return lt_scale(x, 1.0f); /* a new tensor, as torch's */
    if (p == floor(p) && fabs(p) <= POW_INT_MAX) {
        lt_tensor_t *acc = NULL, *base = x;
        for (long e = (long)fabs(p); e > 0 && base; e >>= 1) {
            if (e & 1) acc = acc ? lt_mul(acc, base) : base;
            if (e > 1) base = lt_mul(base, base);
        }
        if (p > 0) return acc;
        int64_t one = 1;
        lt_tensor_t *ones = lt_full(x->arena, 0, &one, 1.0f);
        return lt_div(ones, acc);
    }
    if (p == 0.5) return lt_sqrt(x);
    return lt_exp(lt_scale(lt_ln(x), (float)p));
}

static void pow_bw(lt_node *n, lt_tensor_t *g) { /* g p x^(p-1) */
    lt_tensor_t *x = n->in[0];
    lt__accum_grad(x, lt_mul(g, lt_scale(pow_value(x, n->s - 1.0), (float)n->s)));
}

lt_tensor_t *lt_pow(lt_tensor_t *x, double exponent) {
    if (!lt__check_f32(x, "lt_pow")) return NULL;
    if (!isfinite(exponent)) {
        lt_set_error(LT_ERR_INVALID_ARG, "lt_pow: the exponent %g must be finite", exponent);
        return NULL;
    }
    bool prev = lt_arena_set_grad(x->arena, false);
    lt_tensor_t *y = pow_value(x, exponent);
    lt_arena_set_grad(x->arena, prev);
    lt_node *n = y ? lt__record(y, pow_bw, x, NULL, NULL) : NULL;
    if (n) n->s = exponent;
    return y;
}

lt_tensor_t *lt_rsqrt(lt_tensor_t *x) {
    if (!lt__check_f32(x, "lt_rsqrt")) return NULL;
    int64_t one = 1;
    return lt_div(lt_full(x->arena, 0, &one, 1.0f), lt_sqrt(x));
}
