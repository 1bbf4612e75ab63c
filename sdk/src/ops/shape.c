/* Views and copies: reshape, flatten, detach. */
#include "lt_impl.h"

static void reshape_bw(lt_node *n, lt_tensor_t *g) {
    lt__accum_grad(n->in[0], lt_reshape(g, n->in[0]->ndim, n->in[0]->shape));
}

lt_tensor_t *lt_reshape(lt_tensor_t *x, int ndim, const int64_t *shape) {
    if (!lt__check_live(x, "lt_reshape")) return NULL;
    if (ndim < 0 || ndim > LT_MAX_DIMS) {
        lt_set_error(LT_ERR_SHAPE, "lt_reshape: %d dimensions (at most %d)", ndim, LT_MAX_DIMS);
        return NULL;
    }
    int64_t s[LT_MAX_DIMS], known = 1;
    int infer = -1;
    for (int i = 0; i < ndim; i++) {
        s[i] = shape[i];
        if (s[i] == -1 && infer < 0)
            infer = i;
        else if (s[i] < 0)
            infer = -2;
        else
            known *= s[i];
    }
    if (infer >= 0 && known > 0 && x->numel % known == 0) s[infer] = x->numel / known;
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) n *= s[i];
    if (infer == -2 || n != x->numel) {
        char sx[96];
        lt_set_error(LT_ERR_SHAPE,
                     "lt_reshape: cannot view %s (%lld elements) with the "
                     "requested shape",
                     lt__shape_str(x, sx, sizeof sx), (long long)x->numel);
        return NULL;
    }
    lt_tensor_t *y = lt__slab_push(&x->arena->tensors);
    if (!y) {
        lt_set_error(LT_ERR_OOM, "out of host memory for a tensor");
        return NULL;
    }
    y->dtype = x->dtype;
    y->ndim = ndim;
    for (int i = 0; i < ndim; i++) y->shape[i] = s[i];
    y->numel = x->numel;
    y->st = x->st;
    y->offset = x->offset;
    y->arena = x->arena;
    lt__storage_retain(x->st);
    lt__record(y, reshape_bw, x, NULL, NULL);
    return y;
}

lt_tensor_t *lt_flatten(lt_tensor_t *x) {
    if (!x) return NULL;
    int64_t shape[2] = {x->ndim ? x->shape[0] : 1, -1};
    if (x->ndim && x->shape[0] == 0) shape[1] = 0;
    return lt_reshape(x, 2, shape);
}

lt_tensor_t *lt_detach(lt_tensor_t *x) {
    if (!lt__check_live(x, "lt_detach")) return NULL;
    return lt__copy_into(lt__tensor_new(x->arena, x->dtype, x->ndim, x->shape), x);
}
