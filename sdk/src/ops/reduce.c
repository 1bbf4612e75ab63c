/* Reductions: sum and mean, over everything or over one dimension. */
#include "lt_impl.h"

/* out = g broadcast by bc (times scale): zero it, add g, scale. */
static void expand_kernels(lt_device_t *dev, lt_tensor_t *g, lt_tensor_t *out, const lt_bcast *bc,
                           float scale) {
    dev->k.fill(dev->state, out->numel, 0.0f, lt__f32(out));
    dev->k.binary(dev->state, LT_BIN_ADD, out->numel, lt__f32(out), lt__f32(g), lt__f32(out), bc);
    if (scale != 1.0f)
        dev->k.affine(dev->state, out->numel, lt__f32(out), scale, 0.0f, lt__f32(out));
}

/* g broadcast up to shape (ndim, shape), times scale: the backward of a reduction. */
static lt_tensor_t *expand(lt_tensor_t *g, int ndim, const int64_t *shape, float scale) {
    lt_tensor_t *out = lt__tensor_new(g->arena, LT_F32, ndim, shape);
    if (!out) return NULL;
    lt_bcast bc = {.ndim = ndim};
    int64_t so = 1, sg = 1;
    for (int d = ndim - 1; d >= 0; d--) {
        int dg = d - (ndim - g->ndim);
        int64_t ng = dg >= 0 ? g->shape[dg] : 1;
        bc.shape[d] = shape[d];
        bc.a_stride[d] = so;
        bc.b_stride[d] = ng == 1 ? 0 : sg;
        so *= shape[d];
        sg *= ng;
    }
    lt_device_t *dev = lt__dev(g);
    LT_PROF_SPAN(dev, scale != 1.0f ? "mean_backward" : "sum_backward",
                 (scale != 1.0f ? 2.0 : 1.0) * out->numel, LT_F32B(g->numel + out->numel),
                 expand_kernels(dev, g, out, &bc, scale));
    return out;
}

/* The backward of every reduction: spread g (keepdim-shaped) back over the input. */
static void reduce_bw(lt_node *n, lt_tensor_t *g) {
    lt_tensor_t *x = n->in[0];
    int64_t kshape[LT_MAX_DIMS]; /* g with the reduced dimension kept as 1 */
    int dim = (int)n->i, kd = x->ndim;
    for (int d = 0; d < x->ndim; d++) kshape[d] = (dim < 0 || d == dim) ? 1 : x->shape[d];
    lt_tensor_t *gk = lt_reshape(g, kd, kshape);
    if (gk) lt__accum_grad(x, expand(gk, x->ndim, x->shape, (float)n->s));
}

/* Reduce x over dim (dim < 0: over everything). */
static lt_tensor_t *reduce(lt_tensor_t *x, int dim, bool keepdim, bool mean, const char *name) {
    if (!lt__check_f32(x, name)) return NULL;
    int64_t outer = 1, mid = x->numel, inner = 1, shape[LT_MAX_DIMS];
    int nd = 0;
    if (dim >= 0) {
        outer = 1;
        for (int d = 0; d < dim; d++) outer *= x->shape[d];
        mid = x->shape[dim];
        for (int d = dim + 1; d < x->ndim; d++) inner *= x->shape[d];
        for (int d = 0; d < x->ndim; d++) {
            if (d != dim)
                shape[nd++] = x->shape[d];
            else if (keepdim)
                shape[nd++] = 1;
        }
    }
    lt_tensor_t *out = lt__tensor_new(x->arena, LT_F32, nd, shape);
    if (!out) return NULL;
    float scale = mean ? (mid ? 1.0f / (float)mid : 0.0f) : 1.0f;
    lt_device_t *dev = lt__dev(x);
    LT_KCALL(dev, mean ? "mean" : "sum", x->numel, LT_F32B(x->numel + out->numel), reduce_sum,
             outer, mid, inner, lt__f32(x), scale, lt__f32(out));
    lt_node *n = lt__record(out, reduce_bw, x, NULL, NULL);
    if (n) {
        n->i = dim;
        n->s = scale;
    }
    return out;
}

static int norm_dim(const lt_tensor_t *x, int dim, const char *name) {
    if (!x) return -2;
    int d = dim < 0 ? dim + x->ndim : dim;
    if (d < 0 || d >= x->ndim) {
        lt_set_error(LT_ERR_INVALID_ARG, "%s: dimension %d is out of range for a %d-D tensor", name,
                     dim, x->ndim);
        return -2;
    }
    return d;
}

lt_tensor_t *lt_sum(lt_tensor_t *x) { return reduce(x, -1, false, false, "lt_sum"); }
lt_tensor_t *lt_mean(lt_tensor_t *x) { return reduce(x, -1, false, true, "lt_mean"); }

lt_tensor_t *lt_sum_dim(lt_tensor_t *x, int dim, bool keepdim) {
    int d = norm_dim(x, dim, "lt_sum_dim");
    return d < 0 ? NULL : reduce(x, d, keepdim, false, "lt_sum_dim");
}

lt_tensor_t *lt_mean_dim(lt_tensor_t *x, int dim, bool keepdim) {
    int d = norm_dim(x, dim, "lt_mean_dim");
    return d < 0 ? NULL : reduce(x, d, keepdim, true, "lt_mean_dim");
}
