/* Normalisation as torch.nn.functional computes it — batch_norm and layer_norm — through
 * an accelerator's fused slots where it has them (batch_norm in training, layer_norm),
 * else written with the front-end ops (means, broadcast arithmetic, sqrt), so their
 * backward comes from the tape and every accelerator runs them with the slots it already
 * has. Only the running statistics are updated by hand, in place and outside autograd. */
#include "lt_impl.h"

static void sqrt_bw(lt_node *n, lt_tensor_t *g) { /* d sqrt(x) = g / (2 sqrt(x)) */
    lt__accum_grad(n->in[0], lt_div(lt_scale(g, 0.5f), n->out));
}

lt_tensor_t *lt_sqrt(lt_tensor_t *x) {
    if (!lt__check_f32(x, "lt_sqrt")) return NULL;
    lt_tensor_t *out = lt__tensor_new(x->arena, LT_F32, x->ndim, x->shape);
    if (!out) return NULL;
    lt_device_t *dev = lt__dev(x);
    LT_KCALL(dev, "sqrt", x->numel, LT_F32B(2 * x->numel), unary, LT_UN_SQRT, x->numel, lt__f32(x),
             lt__f32(out));
    lt__record(out, sqrt_bw, x, NULL, NULL);
    return out;
}

/* (x - mean) / sqrt(var + eps): var is the biased variance. */
static lt_tensor_t *normalize(lt_tensor_t *x, lt_tensor_t *mean, lt_tensor_t *var, double eps) {
    return lt_div(lt_sub(x, mean), lt_sqrt(lt_add_scalar(var, (float)eps)));
}

/* y * weight + bias, each viewed with `ndim` dimensions of `shape` (NULL: skipped). */
static lt_tensor_t *affine_params(lt_tensor_t *y, lt_tensor_t *weight, lt_tensor_t *bias, int ndim,
                                  const int64_t *shape) {
    if (weight) y = lt_mul(y, lt_reshape(weight, ndim, shape));
    if (bias) y = lt_add(y, lt_reshape(bias, ndim, shape));
    return y;
}

/* ---- batch_norm ---------------------------------------------------------------------- */

static bool is_channel_vector(const lt_tensor_t *t, int64_t c) {
    return !t || (t->dtype == LT_F32 && t->ndim == 1 && t->shape[0] == c);
}

/* Why batch_norm cannot take these arguments, or NULL. */
static const char *batch_norm_problem(const lt_tensor_t *x, const lt_tensor_t *rm,
                                      const lt_tensor_t *rv, const lt_tensor_t *w,
                                      const lt_tensor_t *b, bool training) {
    if (x->ndim < 2) return "the input must be (N, C, ...)";
    int64_t c = x->shape[1];
    if (!is_channel_vector(rm, c) || !is_channel_vector(rv, c) || !is_channel_vector(w, c) ||
        !is_channel_vector(b, c))
        return "running_mean, running_var, weight and bias must be float32 (C)";
    if ((rm == NULL) != (rv == NULL)) return "give both running statistics or neither";
    if (!training && !rm) return "eval mode needs running_mean and running_var";
    if (training && x->numel / c <= 1) return "training needs more than one value per channel";
    return NULL;
}

static bool batch_norm_args_ok(const lt_tensor_t *x, const lt_tensor_t *rm, const lt_tensor_t *rv,
                               const lt_tensor_t *w, const lt_tensor_t *b, bool training) {
    const char *why = batch_norm_problem(x, rm, rv, w, b, training);
    char sx[96];
    if (why)
        lt_set_error(LT_ERR_SHAPE, "lt_batch_norm: %s (input %s)", why,
                     lt__shape_str(x, sx, sizeof sx));
    return !why;
}

/* buf = (1 - m) buf + m * scale * src (c floats), in place: a running statistic's update;
 * tmp is c floats of scratch. */
static void blend_kernels(lt_device_t *dev, int64_t c, float *buf, const float *src, float *tmp,
                          double m, double scale) {
    dev->k.affine(dev->state, c, src, (float)(m * scale), 0.0f, tmp);
    dev->k.affine(dev->state, c, buf, (float)(1.0 - m), 0.0f, buf);
    dev->k.binary(dev->state, LT_BIN_ADD, c, buf, tmp, buf, NULL);
}

/* torch: running_mean <- (1 - m) running_mean + m mean, running_var likewise with the
 * unbiased variance (n / (n - 1) of the batch's biased one). Outside autograd. */
void lt__batch_norm_update_running(lt_tensor_t *rm, lt_tensor_t *rv, const float *mean,
                                   const float *var, double momentum, int64_t n) {
    int64_t c = rm->numel;
    lt_tensor_t *tmp = lt__tensor_new(rm->arena, LT_F32, 1, &c);
    if (!tmp) return;
    lt_device_t *dev = lt__dev(rm);
    LT_PROF_SPAN(dev, "batch_norm_update", 10.0 * (double)c, LT_F32B(8 * c), {
        blend_kernels(dev, c, lt__f32(rm), mean, lt__f32(tmp), momentum, 1.0);
        blend_kernels(dev, c, lt__f32(rv), var, lt__f32(tmp), momentum,
                      (double)n / (double)(n - 1));
    });
}

/* ---- the fused path: the batch_norm / batch_norm_bwd slots --------------------------- */

/* saved: (2, C) = the batch's mean and biased variance; s = eps. */
static void fused_bw(lt_node *n, lt_tensor_t *g) {
    lt_tensor_t *x = n->in[0], *w = n->in[1], *b = n->in[2], *stats = n->saved;
    int64_t c = x->shape[1], l = x->numel / (x->shape[0] * c);
    lt_tensor_t *dx = x->requires_grad ? lt__tensor_new(g->arena, LT_F32, x->ndim, x->shape) : NULL;
    lt_tensor_t *dw = w && w->requires_grad ? lt__tensor_new(g->arena, LT_F32, 1, &c) : NULL;
    lt_tensor_t *db = b && b->requires_grad ? lt__tensor_new(g->arena, LT_F32, 1, &c) : NULL;
    if (lt_last_status() != LT_OK) return;
    lt_device_t *dev = lt__dev(g);
    LT_KCALL(dev, "batch_norm_backward", 8.0 * (double)x->numel, LT_F32B(3 * x->numel + 5 * c),
             batch_norm_bwd, x->shape[0], c, l, lt__f32(x), lt__f32(g), lt__f32(stats),
             lt__f32(stats) + c, w ? lt__f32(w) : NULL, n->s, dx ? lt__f32(dx) : NULL,
             dw ? lt__f32(dw) : NULL, db ? lt__f32(db) : NULL);
    lt__accum_grad(x, dx);
    lt__accum_grad(w, dw);
    lt__accum_grad(b, db);
}

static lt_tensor_t *batch_norm_fused(lt_tensor_t *x, lt_tensor_t *rm, lt_tensor_t *rv,
                                     lt_tensor_t *w, lt_tensor_t *b, double momentum, double eps) {
    int64_t c = x->shape[1], l = x->numel / (x->shape[0] * c), ss[2] = {2, c};
    lt_tensor_t *y = lt__tensor_new(x->arena, LT_F32, x->ndim, x->shape);
    lt_tensor_t *stats = y ? lt__tensor_new(x->arena, LT_F32, 2, ss) : NULL;
    if (!stats) return NULL;
    lt_device_t *dev = lt__dev(x);
    LT_KCALL(dev, "batch_norm", 5.0 * (double)x->numel, LT_F32B(3 * x->numel + 4 * c), batch_norm,
             x->shape[0], c, l, lt__f32(x), w ? lt__f32(w) : NULL, b ? lt__f32(b) : NULL, eps,
             lt__f32(y), lt__f32(stats), lt__f32(stats) + c);
    if (rm)
        lt__batch_norm_update_running(rm, rv, lt__f32(stats), lt__f32(stats) + c, momentum,
                                      x->numel / c);
    lt_node *n = lt__record(y, fused_bw, x, w, b);
    if (n) {
        n->saved = stats;
        n->s = eps;
    }
    return y;
}

lt_tensor_t *lt_batch_norm(lt_tensor_t *x, lt_tensor_t *running_mean, lt_tensor_t *running_var,
                           lt_tensor_t *weight, lt_tensor_t *bias, bool training, double momentum,
                           double eps) {
    if (!lt__check_f32(x, "lt_batch_norm")) return NULL;
    if (!batch_norm_args_ok(x, running_mean, running_var, weight, bias, training)) return NULL;
    lt_device_t *dev = lt__dev(x);
    if (training && dev->k.batch_norm && dev->k.batch_norm_bwd)
        return batch_norm_fused(x, running_mean, running_var, weight, bias, momentum, eps);
    size_t mark = x->arena->nodes.used; /* ONNX export: the eval parts become one node */
    int64_t c = x->shape[1], per_c = x->numel / c, l = per_c / x->shape[0];
    int64_t x3s[3] = {x->shape[0], c, l}, cs[3] = {1, c, 1};
    lt_tensor_t *x3 = lt_reshape(x, 3, x3s), *mean, *var;
    if (training) { /* statistics over N and the spatial dimensions, from the ops */
        mean = lt_mean_dim(lt_mean_dim(x3, 2, true), 0, true);
        lt_tensor_t *xc = lt_sub(x3, mean);
        var = lt_mean_dim(lt_mean_dim(lt_mul(xc, xc), 2, true), 0, true);
        if (running_mean && mean && var)
            lt__batch_norm_update_running(running_mean, running_var, lt__f32(mean), lt__f32(var),
                                          momentum, per_c);
    } else {
        mean = lt_reshape(running_mean, 3, cs);
        var = lt_reshape(running_var, 3, cs);
    }
    lt_tensor_t *y = affine_params(normalize(x3, mean, var, eps), weight, bias, 3, cs);
    y = lt_reshape(y, x->ndim, x->shape);
    lt_node *n =
        training ? NULL : lt__record_composite(y, mark, "batch_norm_eval", x, weight, bias);
    if (n) {
        n->saved = running_mean;
        n->saved2 = running_var;
        n->s = eps;
    }
    return y;
}

/* ---- layer_norm ---------------------------------------------------------------------- */

static bool layer_norm_args_ok(const lt_tensor_t *x, int nn, const int64_t *ns,
                               const lt_tensor_t *w, const lt_tensor_t *b, int64_t *d) {
    bool ok = ns && nn >= 1 && nn <= x->ndim;
    *d = 1;
    for (int i = 0; ok && i < nn; i++) {
        ok = ns[i] == x->shape[x->ndim - nn + i];
        *d *= ns[i];
    }
    ok = ok && (!w || (w->dtype == LT_F32 && w->numel == *d && w->ndim == nn));
    ok = ok && (!b || (b->dtype == LT_F32 && b->numel == *d && b->ndim == nn));
    if (!ok) {
        char sx[96];
        lt_set_error(LT_ERR_SHAPE,
                     "lt_layer_norm: normalized_shape (%d sizes) must match the last "
                     "dimensions of the input %s, and weight and bias must have that shape",
                     nn, lt__shape_str(x, sx, sizeof sx));
    }
    return ok;
}

/* ---- the fused path: the layer_norm / layer_norm_bwd slots ---------------------------- */

/* saved: (2, rows) = each row's mean and rstd. */
static void layer_norm_bw(lt_node *n, lt_tensor_t *g) {
    lt_tensor_t *x = n->in[0], *w = n->in[1], *b = n->in[2], *stats = n->saved;
    const int64_t rows = stats->shape[1], d = x->numel / rows;
    lt_tensor_t *dx = x->requires_grad ? lt__tensor_new(g->arena, LT_F32, x->ndim, x->shape) : NULL;
    lt_tensor_t *dw =
        w && w->requires_grad ? lt__tensor_new(g->arena, LT_F32, w->ndim, w->shape) : NULL;
    lt_tensor_t *db =
        b && b->requires_grad ? lt__tensor_new(g->arena, LT_F32, b->ndim, b->shape) : NULL;
    if (lt_last_status() != LT_OK) return;
    lt_device_t *dev = lt__dev(g);
    LT_KCALL(dev, "layer_norm_backward", 12.0 * (double)x->numel, LT_F32B(5 * x->numel + 3 * d),
             layer_norm_bwd, rows, d, lt__f32(x), lt__f32(g), lt__f32(stats), lt__f32(stats) + rows,
             w ? lt__f32(w) : NULL, dx ? lt__f32(dx) : NULL, dw ? lt__f32(dw) : NULL,
             db ? lt__f32(db) : NULL);
    lt__accum_grad(x, dx);
    lt__accum_grad(w, dw);
    lt__accum_grad(b, db);
}

static lt_tensor_t *layer_norm_fused(lt_tensor_t *x, int64_t d, lt_tensor_t *w, lt_tensor_t *b,
                                     double eps) {
    const int64_t rows = x->numel / d, ss[2] = {2, rows};
    lt_tensor_t *y = lt__tensor_new(x->arena, LT_F32, x->ndim, x->shape);
    lt_tensor_t *stats = y ? lt__tensor_new(x->arena, LT_F32, 2, ss) : NULL;
    if (!stats) return NULL;
    lt_device_t *dev = lt__dev(x);
    LT_KCALL(dev, "layer_norm", 8.0 * (double)x->numel, LT_F32B(2 * x->numel + 2 * d + 2 * rows),
             layer_norm, rows, d, lt__f32(x), w ? lt__f32(w) : NULL, b ? lt__f32(b) : NULL, eps,
             lt__f32(y), lt__f32(stats), lt__f32(stats) + rows);
    lt_node *n = lt__record(y, layer_norm_bw, x, w, b);
    if (n) n->saved = stats;
    return y;
}

/* (x - mean) / sqrt(var + eps) * weight + bias from the ops: an accelerator without the
 * layer_norm slots, and the export's parts. */
static lt_tensor_t *layer_norm_composed(lt_tensor_t *x, int64_t d, lt_tensor_t *weight,
                                        lt_tensor_t *bias, double eps) {
    int64_t x2s[2] = {x->numel / d, d}, ds[2] = {1, d};
    lt_tensor_t *x2 = lt_reshape(x, 2, x2s);
    lt_tensor_t *mean = lt_mean_dim(x2, 1, true);
    lt_tensor_t *xc = lt_sub(x2, mean);
    lt_tensor_t *var = lt_mean_dim(lt_mul(xc, xc), 1, true);
    lt_tensor_t *y = lt_div(xc, lt_sqrt(lt_add_scalar(var, (float)eps)));
    return lt_reshape(affine_params(y, weight, bias, 2, ds), x->ndim, x->shape);
}

lt_tensor_t *lt_layer_norm(lt_tensor_t *x, int nnorm, const int64_t *normalized_shape,
                           lt_tensor_t *weight, lt_tensor_t *bias, double eps) {
    if (!lt__check_f32(x, "lt_layer_norm")) return NULL;
    int64_t d;
    if (!layer_norm_args_ok(x, nnorm, normalized_shape, weight, bias, &d)) return NULL;
    size_t mark = x->arena->nodes.used; /* ONNX export: the parts become one node */
    lt_device_t *dev = lt__dev(x);
    lt_tensor_t *y = x->numel > 0 && dev->k.layer_norm && dev->k.layer_norm_bwd
                         ? layer_norm_fused(x, d, weight, bias, eps)
                         : layer_norm_composed(x, d, weight, bias, eps);
    lt_node *n = lt__record_composite(y, mark, "layer_norm", x, weight, bias);
    if (n) {
        n->s = eps;
        n->i = nnorm;
    }
    return y;
}

/* ---- dropout ------------------------------------------------------------------------- */

lt_tensor_t *lt_dropout_ex(lt_tensor_t *x, double p, bool training, uint64_t seed,
                           uint64_t stream) {
    if (!lt__check_f32(x, "lt_dropout")) return NULL;
    if (!(p >= 0.0 && p <= 1.0)) {
        lt_set_error(LT_ERR_INVALID_ARG, "lt_dropout: p is %g; it must be in [0, 1]", p);
        return NULL;
    }
    if (!training || p == 0.0) return x; /* torch returns the input itself */
    lt_device_t *dev = lt__dev(x);
    if (!LT_NEED_SLOT(dev, dropout_mask, "lt_dropout")) return NULL;
    lt_tensor_t *mask = lt__tensor_new(x->arena, LT_F32, x->ndim, x->shape);
    if (!mask) return NULL;
    LT_KCALL(dev, "dropout_mask", 20.0 * (double)x->numel, LT_F32B(x->numel), dropout_mask,
             x->numel, p, seed, stream, lt__f32(mask));
    return lt_mul(x, mask); /* the mask needs no gradient: the backward is g * mask */
}
