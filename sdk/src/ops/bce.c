/* Binary cross-entropy, as torch.nn.functional computes it (issue 19), composed of the
 * elementwise slots every accelerator has (plus clamp, for torch's clamps). Two nodes
 * carry torch's own gradient formulas: logsigmoid and the elementwise BCE on
 * probabilities; weight, pos_weight and the reduction are the recorded ops mul, add and
 * mean/sum, so their gradients come from autograd. Shapes: input, target (...) alike,
 * weight and pos_weight broadcast to them. */
#include <math.h>
#include <stdio.h>

#include "lt_impl.h"

/* torch clamps each log at -100 and the gradient's denominator at 1e-12. */
#define BCE_LOG_MIN -100.0f
#define BCE_EPS 1e-12f

/* ---- logsigmoid ------------------------------------------------------------------------ */

/* y = -(relu(-x) + log(1 + exp(-|x|))), using t1, t2 (n) as scratch. log(1 + e) stands
 * for log1p(e): the two differ by less than 6e-8 where 1 + e rounds to 1. */
static void logsigmoid_kernels(lt_device_t *dev, int64_t n, const float *x, float *t1, float *t2,
                               float *y) {
    dev->k.unary(dev->state, LT_UN_NEG, n, x, t1);
    dev->k.unary(dev->state, LT_UN_RELU, n, t1, t1);            /* relu(-x) */
    dev->k.unary(dev->state, LT_UN_RELU, n, x, t2);             /* relu(x) */
    dev->k.binary(dev->state, LT_BIN_ADD, n, t1, t2, t2, NULL); /* |x| */
    dev->k.affine(dev->state, n, t2, -1.0f, 0.0f, t2);          /* -|x| */
    dev->k.unary(dev->state, LT_UN_EXP, n, t2, t2);             /* exp(-|x|) */
    dev->k.affine(dev->state, n, t2, 1.0f, 1.0f, t2);           /* 1 + exp(-|x|) */
    dev->k.unary(dev->state, LT_UN_LOG, n, t2, t2);             /* log1p(exp(-|x|)) */
    dev->k.binary(dev->state, LT_BIN_ADD, n, t1, t2, y, NULL);  /* softplus(-x) */
    dev->k.affine(dev->state, n, y, -1.0f, 0.0f, y);
}

/* dx = dy (1 - sigmoid(x)) = dy sigmoid(-x) */
static void logsigmoid_bw(lt_node *n, lt_tensor_t *g) {
    lt_tensor_t *x = n->in[0], *dx = lt__tensor_new(g->arena, LT_F32, x->ndim, x->shape);
    if (!dx) return;
    lt_device_t *dev = lt__dev(g);
    LT_PROF_SPAN(dev, "logsigmoid_backward", 3.0 * (double)x->numel, LT_F32B(5 * x->numel), {
        dev->k.unary(dev->state, LT_UN_NEG, x->numel, lt__f32(x), lt__f32(dx));
        dev->k.unary(dev->state, LT_UN_SIGMOID, x->numel, lt__f32(dx), lt__f32(dx));
        dev->k.binary(dev->state, LT_BIN_MUL, x->numel, lt__f32(dx), lt__f32(g), lt__f32(dx), NULL);
    });
    lt__accum_grad(x, dx);
}

lt_tensor_t *lt_logsigmoid(lt_tensor_t *x) {
    if (!lt__check_f32(x, "lt_logsigmoid")) return NULL;
    lt_tensor_t *y = lt__tensor_new(x->arena, LT_F32, x->ndim, x->shape);
    lt_tensor_t *t1 = y ? lt__tensor_new(x->arena, LT_F32, x->ndim, x->shape) : NULL;
    lt_tensor_t *t2 = t1 ? lt__tensor_new(x->arena, LT_F32, x->ndim, x->shape) : NULL;
    if (!t2) return NULL;
    lt_device_t *dev = lt__dev(x);
    LT_PROF_SPAN(
        dev, "logsigmoid", 10.0 * (double)x->numel, LT_F32B(20 * x->numel),
        logsigmoid_kernels(dev, x->numel, lt__f32(x), lt__f32(t1), lt__f32(t2), lt__f32(y)));
    lt__record(y, logsigmoid_bw, x, NULL, NULL);
    return y;
}

/* ---- elementwise BCE on probabilities ---------------------------------------------------- */

/* lp = max(log p, -100), l1p = max(log(1 - p), -100) */
static void clamped_logs(lt_device_t *dev, int64_t n, const float *p, float *lp, float *l1p) {
    dev->k.unary(dev->state, LT_UN_LOG, n, p, lp);
    dev->k.clamp(dev->state, n, lp, BCE_LOG_MIN, INFINITY, lp);
    dev->k.affine(dev->state, n, p, -1.0f, 1.0f, l1p);
    dev->k.unary(dev->state, LT_UN_LOG, n, l1p, l1p);
    dev->k.clamp(dev->state, n, l1p, BCE_LOG_MIN, INFINITY, l1p);
}

/* loss = (y - 1) l1p - y lp */
static void bce_kernels(lt_device_t *dev, int64_t n, const float *p, const float *y, float *lp,
                        float *l1p, float *loss) {
    clamped_logs(dev, n, p, lp, l1p);
    dev->k.affine(dev->state, n, y, 1.0f, -1.0f, loss);
    dev->k.binary(dev->state, LT_BIN_MUL, n, loss, l1p, loss, NULL);
    dev->k.binary(dev->state, LT_BIN_MUL, n, y, lp, lp, NULL);
    dev->k.binary(dev->state, LT_BIN_SUB, n, loss, lp, loss, NULL);
}

/* dp = g (p - y) / max(p (1 - p), 1e-12) */
static void bce_input_grad(lt_device_t *dev, int64_t n, const float *p, const float *y,
                           const float *g, float *tmp, float *dp) {
    dev->k.affine(dev->state, n, p, -1.0f, 1.0f, tmp);
    dev->k.binary(dev->state, LT_BIN_MUL, n, tmp, p, tmp, NULL);
    dev->k.clamp(dev->state, n, tmp, BCE_EPS, INFINITY, tmp);
    dev->k.binary(dev->state, LT_BIN_SUB, n, p, y, dp, NULL);
    dev->k.binary(dev->state, LT_BIN_DIV, n, dp, tmp, dp, NULL);
    dev->k.binary(dev->state, LT_BIN_MUL, n, dp, g, dp, NULL);
}

/* dy = g (l1p - lp) */
static void bce_target_grad(lt_device_t *dev, int64_t n, const float *p, const float *g, float *lp,
                            float *l1p, float *dy) {
    clamped_logs(dev, n, p, lp, l1p);
    dev->k.binary(dev->state, LT_BIN_SUB, n, l1p, lp, dy, NULL);
    dev->k.binary(dev->state, LT_BIN_MUL, n, dy, g, dy, NULL);
}

static void bce_bw(lt_node *n, lt_tensor_t *g) {
    lt_tensor_t *p = n->in[0], *y = n->in[1];
    int64_t k = p->numel;
    lt_tensor_t *a = lt__tensor_new(g->arena, LT_F32, p->ndim, p->shape);
    lt_tensor_t *b = a ? lt__tensor_new(g->arena, LT_F32, p->ndim, p->shape) : NULL;
    lt_tensor_t *dp =
        b && p->requires_grad ? lt__tensor_new(g->arena, LT_F32, p->ndim, p->shape) : NULL;
    lt_tensor_t *dy =
        b && y->requires_grad ? lt__tensor_new(g->arena, LT_F32, y->ndim, y->shape) : NULL;
    if (!b) return;
    lt_device_t *dev = lt__dev(g);
    LT_PROF_SPAN(dev, "binary_cross_entropy_backward", 12.0 * (double)k, LT_F32B(24 * k), {
        if (dp) bce_input_grad(dev, k, lt__f32(p), lt__f32(y), lt__f32(g), lt__f32(a), lt__f32(dp));
        if (dy)
            bce_target_grad(dev, k, lt__f32(p), lt__f32(g), lt__f32(a), lt__f32(b), lt__f32(dy));
    });
    if (dp) lt__accum_grad(p, dp);
    if (dy) lt__accum_grad(y, dy);
}

/* The unreduced, unweighted loss of probabilities p against targets y. */
static lt_tensor_t *bce_elementwise(lt_tensor_t *p, lt_tensor_t *y) {
    lt_tensor_t *loss = lt__tensor_new(p->arena, LT_F32, p->ndim, p->shape);
    lt_tensor_t *lp = loss ? lt__tensor_new(p->arena, LT_F32, p->ndim, p->shape) : NULL;
    lt_tensor_t *l1p = lp ? lt__tensor_new(p->arena, LT_F32, p->ndim, p->shape) : NULL;
    if (!l1p) return NULL;
    lt_device_t *dev = lt__dev(p);
    LT_PROF_SPAN(dev, "binary_cross_entropy", 10.0 * (double)p->numel, LT_F32B(20 * p->numel),
                 bce_kernels(dev, p->numel, lt__f32(p), lt__f32(y), lt__f32(lp), lt__f32(l1p),
                             lt__f32(loss)));
    lt__record(loss, bce_bw, p, y, NULL);
    return loss;
}

/* ---- arguments and reduction ------------------------------------------------------------ */

/* Whether w (NULL: yes) broadcasts to x's shape without growing it. */
static bool broadcasts_to(const lt_tensor_t *w, const lt_tensor_t *x) {
    if (!w) return true;
    if (w->ndim > x->ndim) return false;
    for (int d = 1; d <= w->ndim; d++) {
        int64_t a = w->shape[w->ndim - d], b = x->shape[x->ndim - d];
        if (a != 1 && a != b) return false;
    }
    return true;
}

static bool args_ok(const char *op, lt_tensor_t *x, lt_tensor_t *y, lt_tensor_t *w, lt_tensor_t *pw,
                    lt_reduction r) {
    if (!lt__check_f32(x, op) || !lt__check_f32(y, op)) return false;
    if ((w && !lt__check_f32(w, op)) || (pw && !lt__check_f32(pw, op))) return false;
    char sx[96], sy[96];
    const char *what = !lt__same_shape(x, y)   ? "target"
                       : !broadcasts_to(w, x)  ? "weight"
                       : !broadcasts_to(pw, x) ? "pos_weight"
                                               : NULL;
    const lt_tensor_t *bad = what == NULL ? NULL : what[0] == 't' ? y : what[0] == 'w' ? w : pw;
    if (bad) {
        lt_set_error(LT_ERR_SHAPE,
                     "%s: %s %s does not fit input %s (target: the same shape; weight and "
                     "pos_weight: broadcastable to it)",
                     op, what, lt__shape_str(bad, sy, sizeof sy), lt__shape_str(x, sx, sizeof sx));
        return false;
    }
    return lt__check_reduction(r, op);
}

static lt_tensor_t *weigh_and_reduce(lt_tensor_t *loss, lt_tensor_t *w, lt_reduction r) {
    if (w) loss = lt_mul(loss, w);
    return r == LT_REDUCTION_MEAN ? lt_mean(loss) : r == LT_REDUCTION_SUM ? lt_sum(loss) : loss;
}

lt_tensor_t *lt_binary_cross_entropy(lt_tensor_t *input, lt_tensor_t *target, lt_tensor_t *weight,
                                     lt_reduction reduction) {
    const char *op = "lt_binary_cross_entropy";
    if (!args_ok(op, input, target, weight, NULL, reduction)) return NULL;
    if (!LT_NEED_SLOT(lt__dev(input), clamp, op)) return NULL;
    return weigh_and_reduce(bce_elementwise(input, target), weight, reduction);
}

lt_tensor_t *lt_binary_cross_entropy_with_logits(lt_tensor_t *input, lt_tensor_t *target,
                                                 lt_tensor_t *weight, lt_tensor_t *pos_weight,
                                                 lt_reduction reduction) {
    if (!args_ok("lt_binary_cross_entropy_with_logits", input, target, weight, pos_weight,
                 reduction))
        return NULL;
    /* (1 - target) input - lw logsigmoid(input), lw = 1 + (pos_weight - 1) target */
    lt_tensor_t *ls = lt_logsigmoid(input);
    if (pos_weight)
        ls = lt_mul(lt_add_scalar(lt_mul(lt_add_scalar(pos_weight, -1.0f), target), 1.0f), ls);
    lt_tensor_t *loss = lt_sub(lt_mul(lt_add_scalar(lt_neg(target), 1.0f), input), ls);
    return weigh_and_reduce(loss, weight, reduction);
}
