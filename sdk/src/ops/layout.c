/* Layout ops as torch names them: transpose, permute, narrow (a slice), cat, stack and
 * split. Every result is a new contiguous tensor written by the copy_strided slot (torch
 * returns views; lthost's tensors are contiguous, so a "view" here is a copy), and every
 * backward is the same copy the other way. */
#include <string.h>

#include "lt_impl.h"

/* ---- helpers ------------------------------------------------------------------------ */

static void contiguous_strides(int ndim, const int64_t *shape, int64_t *stride) {
    int64_t s = 1;
    for (int d = ndim - 1; d >= 0; d--) {
        stride[d] = s;
        s *= shape[d];
    }
}

/* dim in [-ndim, ndim) -> [0, ndim); -1 (error set) when outside. */
static int norm_dim(const lt_tensor_t *x, int dim, int ndim, const char *op) {
    int d = dim < 0 ? dim + ndim : dim;
    if (d < 0 || d >= ndim) {
        char sx[96];
        lt_set_error(LT_ERR_SHAPE, "%s: dim %d is out of range for %s (expected %d to %d)", op, dim,
                     lt__shape_str(x, sx, sizeof sx), -ndim, ndim - 1);
        return -1;
    }
    return d;
}

/* The copy g from src (element offset so) into dst (element offset dd), as one span. */
static bool copy_region(const lt_strided *g, const lt_tensor_t *src, int64_t so, lt_tensor_t *dst,
                        int64_t dd, const char *name) {
    lt_device_t *dev = lt__dev(src);
    if (!LT_NEED_SLOT(dev, copy_strided, name)) return false;
    int64_t n = 1;
    for (int d = 0; d < g->ndim; d++) n *= g->shape[d];
    LT_KCALL(dev, name, 0, LT_F32B(2 * n), copy_strided, g, lt__f32(src) + so, lt__f32(dst) + dd);
    return true;
}

/* ---- permute and transpose ---------------------------------------------------------- */

/* x permuted by perm (out dim d = x dim perm[d]); no recording. */
static lt_tensor_t *permute_copy(lt_tensor_t *x, const int *perm, const char *name) {
    int64_t xs[LT_MAX_DIMS], shape[LT_MAX_DIMS];
    contiguous_strides(x->ndim, x->shape, xs);
    lt_strided g = {.ndim = x->ndim};
    for (int d = 0; d < x->ndim; d++) {
        shape[d] = g.shape[d] = x->shape[perm[d]];
        g.src_stride[d] = xs[perm[d]];
    }
    contiguous_strides(x->ndim, shape, g.dst_stride);
    lt_tensor_t *y = lt__tensor_new(x->arena, LT_F32, x->ndim, shape);
    if (!y || !copy_region(&g, x, 0, y, 0, name)) return NULL;
    return y;
}

static void permute_bw(lt_node *n, lt_tensor_t *g) {
    int inv[LT_MAX_DIMS];
    for (int d = 0; d < g->ndim; d++) inv[n->iv[d]] = d;
    lt__accum_grad(n->in[0], permute_copy(g, inv, "permute_backward"));
}

lt_tensor_t *lt_permute(lt_tensor_t *x, const int *dims) {
    if (!lt__check_f32(x, "lt_permute")) return NULL;
    if (x->ndim > 8 || !dims) {
        lt_set_error(LT_ERR_INVALID_ARG, "lt_permute: dims must list every dimension once");
        return NULL;
    }
    int perm[LT_MAX_DIMS];
    bool seen[LT_MAX_DIMS] = {false};
    for (int d = 0; d < x->ndim; d++) {
        int p = norm_dim(x, dims[d], x->ndim, "lt_permute");
        if (p < 0) return NULL;
        if (seen[p]) {
            lt_set_error(LT_ERR_INVALID_ARG,
                         "lt_permute: dimension %d appears twice; dims must list every "
                         "dimension of the input once",
                         p);
            return NULL;
        }
        seen[p] = true;
        perm[d] = p;
    }
    lt_tensor_t *y = permute_copy(x, perm, "permute");
    lt_node *n = y ? lt__record(y, permute_bw, x, NULL, NULL) : NULL;
    for (int d = 0; n && d < x->ndim; d++) n->iv[d] = perm[d];
    return y;
}

lt_tensor_t *lt_transpose(lt_tensor_t *x, int dim0, int dim1) {
    if (!lt__check_f32(x, "lt_transpose")) return NULL;
    int a = norm_dim(x, dim0, x->ndim, "lt_transpose"), b;
    if (a < 0 || (b = norm_dim(x, dim1, x->ndim, "lt_transpose")) < 0) return NULL;
    int perm[LT_MAX_DIMS];
    for (int d = 0; d < x->ndim; d++) perm[d] = d;
    perm[a] = b;
    perm[b] = a;
    return lt_permute(x, perm);
}

/* ---- narrow ----------------------------------------------------------------------------- */

/* The copy between x (full) and its slice [start, start + len) along dim (contiguous):
 * sizes of the slice, x's strides on the x side. */
static lt_strided slice_layout(const lt_tensor_t *x, int dim, int64_t len, bool x_is_src) {
    int64_t xs[LT_MAX_DIMS], shape[LT_MAX_DIMS], ss[LT_MAX_DIMS];
    contiguous_strides(x->ndim, x->shape, xs);
    memcpy(shape, x->shape, sizeof shape);
    shape[dim] = len;
    contiguous_strides(x->ndim, shape, ss);
    lt_strided g = {.ndim = x->ndim};
    memcpy(g.shape, shape, sizeof shape);
    memcpy(x_is_src ? g.src_stride : g.dst_stride, xs, sizeof xs);
    memcpy(x_is_src ? g.dst_stride : g.src_stride, ss, sizeof ss);
    return g;
}

static int64_t dim_stride(const lt_tensor_t *x, int dim) {
    int64_t s = 1;
    for (int d = dim + 1; d < x->ndim; d++) s *= x->shape[d];
    return s;
}

/* The slice, copied out; no recording. */
static lt_tensor_t *narrow_copy(lt_tensor_t *x, int dim, int64_t start, int64_t len,
                                const char *name) {
    lt_strided g = slice_layout(x, dim, len, true);
    lt_tensor_t *y = lt__tensor_new(x->arena, LT_F32, x->ndim, g.shape);
    if (!y || !copy_region(&g, x, start * dim_stride(x, dim), y, 0, name)) return NULL;
    return y;
}

static void narrow_bw(lt_node *n, lt_tensor_t *g) {
    lt_tensor_t *x = n->in[0];
    int dim = (int)n->i;
    lt_tensor_t *dx = lt_zeros(g->arena, LT_F32, x->ndim, x->shape);
    if (!dx) return;
    lt_strided lay = slice_layout(x, dim, g->shape[dim], false);
    if (copy_region(&lay, g, 0, dx, n->iv[0] * dim_stride(x, dim), "narrow_backward"))
        lt__accum_grad(x, dx);
}

lt_tensor_t *lt_narrow(lt_tensor_t *x, int dim, int64_t start, int64_t length) {
    if (!lt__check_f32(x, "lt_narrow")) return NULL;
    int d = norm_dim(x, dim, x->ndim, "lt_narrow");
    if (d < 0) return NULL;
    int64_t size = x->shape[d];
    if (start < 0) start += size;
    if (start < 0 || length < 0 || start > size || length > size - start) {
        lt_set_error(LT_ERR_SHAPE,
                     "lt_narrow: [%lld, %lld + %lld) is outside dimension %d of size %lld",
                     (long long)start, (long long)start, (long long)length, d, (long long)size);
        return NULL;
    }
    lt_tensor_t *y = narrow_copy(x, d, start, length, "narrow");
    lt_node *n = y ? lt__record(y, narrow_bw, x, NULL, NULL) : NULL;
    if (n) n->i = d, n->iv[0] = start;
    return y;
}

int lt_split_tensor(lt_tensor_t *x, int64_t split_size, int dim, lt_tensor_t **out, int max_out) {
    if (!lt__check_f32(x, "lt_split_tensor")) return -1;
    int d = norm_dim(x, dim, x->ndim, "lt_split_tensor");
    if (d < 0) return -1;
    int64_t size = x->shape[d];
    int64_t pieces = split_size > 0 ? (size + split_size - 1) / split_size : -1;
    if (pieces < 0 || pieces > max_out || !out) {
        lt_set_error(
            LT_ERR_INVALID_ARG,
            "lt_split_tensor: split_size %lld of dimension %d (size %lld) gives %lld pieces; "
            "split_size must be positive and out hold them (max_out %d)",
            (long long)split_size, d, (long long)size, (long long)pieces, max_out);
        return -1;
    }
    for (int64_t k = 0; k < pieces; k++) {
        int64_t start = k * split_size, len = size - start < split_size ? size - start : split_size;
        if (!(out[k] = lt_narrow(x, d, start, len))) return -1;
    }
    return (int)pieces;
}

/* ---- cat and stack -------------------------------------------------------------------- */

static void cat_bw(lt_node *n, lt_tensor_t *g) {
    lt_tensor_t *x = n->in[0];
    lt__accum_grad(x, narrow_copy(g, (int)n->i, n->iv[0], x->shape[n->i], "cat_backward"));
}

/* Whether xs[0..n) can be joined along dim d (same rank and sizes elsewhere). */
static bool cat_shapes_ok(int n, lt_tensor_t *const *xs, int d, int64_t *total) {
    *total = 0;
    for (int k = 0; k < n; k++) {
        if (!lt__check_f32(xs[k], "lt_cat")) return false;
        bool ok = xs[k]->ndim == xs[0]->ndim;
        for (int e = 0; ok && e < xs[0]->ndim; e++)
            ok = e == d || xs[k]->shape[e] == xs[0]->shape[e];
        if (!ok) {
            char s0[96], sk[96];
            lt_set_error(LT_ERR_SHAPE,
                         "lt_cat: tensor %d %s does not match tensor 0 %s outside dimension %d", k,
                         lt__shape_str(xs[k], sk, sizeof sk), lt__shape_str(xs[0], s0, sizeof s0),
                         d);
            return false;
        }
        *total += xs[k]->shape[d];
    }
    return true;
}

lt_tensor_t *lt_cat(int n, lt_tensor_t *const *xs, int dim) {
    if (n < 1 || !xs) {
        lt_set_error(LT_ERR_INVALID_ARG, "lt_cat: expected at least one tensor");
        return NULL;
    }
    for (int k = 0; k < n; k++)
        if (!xs[k]) return NULL;
    int d = norm_dim(xs[0], dim, xs[0]->ndim, "lt_cat");
    int64_t total;
    if (d < 0 || !cat_shapes_ok(n, xs, d, &total)) return NULL;
    int64_t shape[LT_MAX_DIMS];
    memcpy(shape, xs[0]->shape, sizeof shape);
    shape[d] = total;
    lt_tensor_t *y = lt__tensor_new(xs[0]->arena, LT_F32, xs[0]->ndim, shape);
    if (!y) return NULL;
    int64_t start = 0;
    for (int k = 0; k < n; k++) {
        lt_strided g = slice_layout(y, d, xs[k]->shape[d], false);
        if (!copy_region(&g, xs[k], 0, y, start * dim_stride(y, d), "cat")) return NULL;
        lt_node *node = lt__record(y, cat_bw, xs[k], NULL, NULL); /* one node per input */
        if (node) node->i = d, node->iv[0] = start;
        start += xs[k]->shape[d];
    }
    return y;
}

lt_tensor_t *lt_stack(int n, lt_tensor_t *const *xs, int dim) {
    if (n < 1 || n > 4096 || !xs || !xs[0]) {
        if (n < 1 || n > 4096 || !xs)
            lt_set_error(LT_ERR_INVALID_ARG, "lt_stack: expected 1 to 4096 tensors, got %d", n);
        return NULL;
    }
    if (xs[0]->ndim >= LT_MAX_DIMS) {
        lt_set_error(LT_ERR_SHAPE, "lt_stack: inputs have %d dimensions (at most %d)", xs[0]->ndim,
                     LT_MAX_DIMS - 1);
        return NULL;
    }
    int d = norm_dim(xs[0], dim, xs[0]->ndim + 1, "lt_stack");
    if (d < 0) return NULL;
    lt_tensor_t *parts[4096];
    for (int k = 0; k < n; k++) {
        if (!xs[k]) return NULL;
        int64_t shape[LT_MAX_DIMS];
        for (int e = 0, f = 0; e <= xs[k]->ndim; e++) shape[e] = e == d ? 1 : xs[k]->shape[f++];
        if (!lt__same_shape(xs[k], xs[0])) {
            char s0[96], sk[96];
            lt_set_error(LT_ERR_SHAPE, "lt_stack: tensor %d %s differs from tensor 0 %s", k,
                         lt__shape_str(xs[k], sk, sizeof sk), lt__shape_str(xs[0], s0, sizeof s0));
            return NULL;
        }
        if (!(parts[k] = lt_reshape(xs[k], xs[k]->ndim + 1, shape))) return NULL;
    }
    return lt_cat(n, parts, d);
}
