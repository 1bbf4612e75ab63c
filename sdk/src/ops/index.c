/* Indexing ops as torch names them: F.embedding (padding_idx), index_select, gather and
 * F.one_hot, through the gather and scatter_add slots (a gather's backward is the
 * scatter-add of the gradient into zeros). Indices are int64 tensors; one outside the
 * indexed dimension is refused with its position. */
#include <stdlib.h>
#include <string.h>

#include "lt_impl.h"

static bool check_index(const lt_tensor_t *idx, const char *op) {
    if (!lt__check_live(idx, op)) return false;
    if (idx->dtype != LT_I64) {
        lt_set_error(LT_ERR_INVALID_ARG, "%s: indices must be int64, got %s", op,
                     lt_dtype_name(idx->dtype));
        return false;
    }
    return true;
}

/* y (outer, m, inner) = the gather of x by idx over g; the first bad index is an error. */
static lt_tensor_t *run_gather(lt_tensor_t *x, const lt_tensor_t *idx, const lt_gather_geom *g,
                               int ndim, const int64_t *shape, const char *op) {
    lt_device_t *dev = lt__dev(x);
    if (!LT_NEED_SLOT(dev, gather, op) || !LT_NEED_SLOT(dev, scatter_add, op)) return NULL;
    lt_tensor_t *y = lt__tensor_new(x->arena, LT_F32, ndim, shape);
    if (!y) return NULL;
    int64_t bad = -1, n = g->outer * g->m * g->inner;
    LT_PROF_SPAN(
        dev, op + 3, 0, LT_F32B(2 * n) + 8.0 * (double)idx->numel,
        bad = dev->k.gather(dev->state, g, lt__f32(x), (const int64_t *)lt__data(idx), lt__f32(y)));
    if (bad >= 0) {
        int64_t v = 0, pos = bad;
        if (g->idx_stride[0] == 0 && g->idx_stride[2] == 0) pos = (bad / g->inner) % g->m;
        if (pos < idx->numel) /* reads one index back to name it */
            dev->k.memcpy_d2h(dev->state, &v, (const int64_t *)lt__data(idx) + pos, sizeof v);
        lt_set_error(LT_ERR_INVALID_ARG,
                     "%s: index %lld at position %lld is out of range for a dimension of size "
                     "%lld (indices must be in [0, %lld))",
                     op, (long long)v, (long long)pos, (long long)g->n, (long long)g->n);
        return NULL;
    }
    return y;
}

/* dx (x's shape) = the scatter-add of g by the node's index over its geometry. */
static void gather_bw(lt_node *n, lt_tensor_t *g) {
    lt_tensor_t *x = n->in[0], *idx = n->saved;
    lt_gather_geom geom = {.outer = n->iv[0],
                           .n = n->iv[1],
                           .m = n->iv[2],
                           .inner = n->iv[3],
                           .idx_stride = {n->iv[4], n->iv[5], n->iv[6]}};
    lt_tensor_t *dx = lt_zeros(g->arena, LT_F32, x->ndim, x->shape);
    if (!dx) return;
    lt_device_t *dev = lt__dev(g);
    LT_KCALL(dev, "gather_backward", (double)g->numel, LT_F32B(3 * g->numel) + 8.0 * idx->numel,
             scatter_add, &geom, lt__f32(g), (const int64_t *)lt__data(idx), n->i, lt__f32(dx));
    lt__accum_grad(x, dx);
}

/* iv: the geometry, then (iv[7]) the gathered dimension, for ONNX export. */
static void record_gather(lt_tensor_t *y, lt_tensor_t *x, lt_tensor_t *idx, const lt_gather_geom *g,
                          int64_t skip, int dim) {
    lt_node *n = lt__record(y, gather_bw, x, NULL, NULL);
    if (!n) return;
    n->saved = idx;
    n->i = skip;
    const int64_t v[7] = {g->outer,        g->n, g->m, g->inner, g->idx_stride[0], g->idx_stride[1],
                          g->idx_stride[2]};
    memcpy(n->iv, v, sizeof v);
    n->iv[7] = dim;
}

/* x viewed as (outer, x->shape[d], inner) around dimension d. */
static lt_gather_geom around(const lt_tensor_t *x, int d) {
    lt_gather_geom g = {.outer = 1, .n = x->shape[d], .inner = 1};
    for (int e = 0; e < d; e++) g.outer *= x->shape[e];
    for (int e = d + 1; e < x->ndim; e++) g.inner *= x->shape[e];
    return g;
}

static int dim_of(const lt_tensor_t *x, int dim, const char *op) {
    int d = dim < 0 ? dim + x->ndim : dim;
    if (d < 0 || d >= x->ndim) {
        lt_set_error(LT_ERR_SHAPE, "%s: dim %d is out of range for a %d-dimensional input", op, dim,
                     x->ndim);
        return -1;
    }
    return d;
}

lt_tensor_t *lt_embedding_op(lt_tensor_t *idx, lt_tensor_t *weight, int64_t padding_idx) {
    if (!check_index(idx, "lt_embedding") || !lt__check_f32(weight, "lt_embedding")) return NULL;
    char sw[96];
    if (weight->ndim != 2 || idx->ndim >= LT_MAX_DIMS) {
        lt_set_error(LT_ERR_SHAPE,
                     "lt_embedding: expected weight (num_embeddings, embedding_dim) and at most "
                     "%d index dimensions, got weight %s",
                     LT_MAX_DIMS - 1, lt__shape_str(weight, sw, sizeof sw));
        return NULL;
    }
    int64_t v = weight->shape[0];
    if (padding_idx != LT_NO_PADDING_IDX && (padding_idx < -v || padding_idx >= v)) {
        lt_set_error(LT_ERR_INVALID_ARG,
                     "lt_embedding: padding_idx %lld must be within [-%lld, %lld) (or "
                     "LT_NO_PADDING_IDX)",
                     (long long)padding_idx, (long long)v, (long long)v);
        return NULL;
    }
    int64_t skip = padding_idx == LT_NO_PADDING_IDX ? -1
                   : padding_idx < 0                ? padding_idx + v
                                                    : padding_idx;
    lt_gather_geom g = {
        .outer = 1, .n = v, .m = idx->numel, .inner = weight->shape[1], .idx_stride = {0, 1, 0}};
    int64_t shape[LT_MAX_DIMS];
    memcpy(shape, idx->shape, sizeof(int64_t) * (size_t)idx->ndim);
    shape[idx->ndim] = weight->shape[1];
    lt_tensor_t *y = run_gather(weight, idx, &g, idx->ndim + 1, shape, "lt_embedding");
    if (y) record_gather(y, weight, idx, &g, skip, 0);
    return y;
}

lt_tensor_t *lt_index_select(lt_tensor_t *x, int dim, lt_tensor_t *index) {
    if (!lt__check_f32(x, "lt_index_select") || !check_index(index, "lt_index_select")) return NULL;
    int d = dim_of(x, dim, "lt_index_select");
    if (d < 0) return NULL;
    if (index->ndim > 1) {
        lt_set_error(LT_ERR_SHAPE, "lt_index_select: index must be 1-D, it has %d dimensions",
                     index->ndim);
        return NULL;
    }
    lt_gather_geom g = around(x, d);
    g.m = index->numel;
    g.idx_stride[1] = 1;
    int64_t shape[LT_MAX_DIMS];
    memcpy(shape, x->shape, sizeof shape);
    shape[d] = index->numel;
    lt_tensor_t *y = run_gather(x, index, &g, x->ndim, shape, "lt_index_select");
    if (y) record_gather(y, x, index, &g, -1, d);
    return y;
}

lt_tensor_t *lt_gather(lt_tensor_t *x, int dim, lt_tensor_t *index) {
    if (!lt__check_f32(x, "lt_gather") || !check_index(index, "lt_gather")) return NULL;
    int d = dim_of(x, dim, "lt_gather");
    if (d < 0) return NULL;
    bool ok = index->ndim == x->ndim;
    for (int e = 0; ok && e < x->ndim; e++) ok = e == d || index->shape[e] == x->shape[e];
    if (!ok) {
        char sx[96], si[96];
        lt_set_error(LT_ERR_SHAPE,
                     "lt_gather: index %s must have the input's shape %s except along dim %d",
                     lt__shape_str(index, si, sizeof si), lt__shape_str(x, sx, sizeof sx), d);
        return NULL;
    }
    lt_gather_geom g = around(x, d);
    g.m = index->shape[d];
    g.idx_stride[0] = g.m * g.inner;
    g.idx_stride[1] = g.inner;
    g.idx_stride[2] = 1;
    lt_tensor_t *y = run_gather(x, index, &g, x->ndim, index->shape, "lt_gather");
    if (y) record_gather(y, x, index, &g, -1, d);
    return y;
}

lt_tensor_t *lt_one_hot(lt_tensor_t *labels, int64_t num_classes) {
    if (!check_index(labels, "lt_one_hot")) return NULL;
    if (num_classes < 1 || num_classes > ((int64_t)1 << 24) || labels->ndim >= LT_MAX_DIMS) {
        lt_set_error(LT_ERR_INVALID_ARG,
                     "lt_one_hot: num_classes is %lld; give the number of classes (1 to 2^24), "
                     "labels at most %d-dimensional",
                     (long long)num_classes, LT_MAX_DIMS - 1);
        return NULL;
    }
    int64_t n = labels->numel, shape[LT_MAX_DIMS];
    memcpy(shape, labels->shape, sizeof(int64_t) * (size_t)labels->ndim);
    shape[labels->ndim] = num_classes;
    /* a gather from a zero table of the classes refuses a bad label with its position */
    lt_tensor_t *table = lt_zeros(labels->arena, LT_F32, 1, &num_classes);
    lt_gather_geom check = {
        .outer = 1, .n = num_classes, .m = n, .inner = 1, .idx_stride = {0, 1, 0}};
    if (!table || !run_gather(table, labels, &check, 1, &n, "lt_one_hot")) return NULL;
    /* then y (n, classes, 1)(o, label[o], 0) += ones (n, 1, 1) */
    lt_gather_geom g = {.outer = n, .n = num_classes, .m = 1, .inner = 1, .idx_stride = {1, 0, 0}};
    lt_tensor_t *ones = lt_full(labels->arena, 1, &n, 1.0f);
    lt_tensor_t *y = lt_zeros(labels->arena, LT_F32, labels->ndim + 1, shape);
    if (!y || !ones) return NULL;
    lt_device_t *dev = lt__dev(labels);
    LT_KCALL(dev, "one_hot", 0, LT_F32B(y->numel + n) + 8.0 * n, scatter_add, &g, lt__f32(ones),
             (const int64_t *)lt__data(labels), -1, lt__f32(y));
    lt_node *nd = lt__record_export_only(y, "one_hot", labels); /* ONNX OneHot */
    if (nd) nd->i = num_classes;
    return y;
}
