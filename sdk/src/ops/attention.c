/* Attention's pieces: masked_fill, the causal mask and F.scaled_dot_product_attention,
 * composed of batched matmul, masked_fill, softmax and dropout (so its backward is theirs
 * and its dropout is the Philox mask of lt_dropout_ex: runs stay bit-exact). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lt_impl.h"

/* ---- masked_fill -------------------------------------------------------------------- */

/* mask broadcast to x's shape as the b operand (x is a); false + error if it cannot be. */
static bool mask_layout(const lt_tensor_t *x, const lt_tensor_t *mask, lt_bcast *bc) {
    bc->ndim = x->ndim;
    int64_t sx = 1, sm = 1, off = x->ndim - mask->ndim;
    bool ok = mask->ndim <= x->ndim;
    for (int d = x->ndim - 1; ok && d >= 0; d--) {
        int64_t nm = d - off >= 0 ? mask->shape[d - off] : 1;
        ok = nm == x->shape[d] || nm == 1;
        bc->shape[d] = x->shape[d];
        bc->a_stride[d] = sx;
        bc->b_stride[d] = nm == 1 ? 0 : sm;
        sx *= x->shape[d];
        sm *= nm;
    }
    if (!ok) {
        char a[96], b[96];
        lt_set_error(LT_ERR_SHAPE, "lt_masked_fill: mask %s cannot be broadcast to the input %s",
                     lt__shape_str(mask, b, sizeof b), lt__shape_str(x, a, sizeof a));
    }
    return ok;
}

/* x with value where mask != 0 (no recording). */
static lt_tensor_t *fill_where(lt_tensor_t *x, lt_tensor_t *mask, float value, const char *name) {
    lt_bcast bc;
    if (!mask_layout(x, mask, &bc)) return NULL;
    lt_device_t *dev = lt__dev(x);
    if (!LT_NEED_SLOT(dev, masked_fill, "lt_masked_fill")) return NULL;
    lt_tensor_t *y = lt__tensor_new(x->arena, LT_F32, x->ndim, x->shape);
    if (!y) return NULL;
    LT_KCALL(dev, name, 0, LT_F32B(2 * x->numel + mask->numel), masked_fill, x->numel, lt__f32(x),
             lt__f32(mask), value, lt__f32(y), &bc);
    return y;
}

static void masked_fill_bw(lt_node *n, lt_tensor_t *g) {
    lt__accum_grad(n->in[0], fill_where(g, n->saved, 0.0f, "masked_fill_backward"));
}

lt_tensor_t *lt_masked_fill(lt_tensor_t *x, lt_tensor_t *mask, float value) {
    if (!lt__check_f32(x, "lt_masked_fill") || !lt__check_f32(mask, "lt_masked_fill")) return NULL;
    lt_tensor_t *y = fill_where(x, mask, value, "masked_fill");
    lt_node *n = y ? lt__record(y, masked_fill_bw, x, NULL, NULL) : NULL;
    if (n) n->saved = mask, n->s = value; /* the value for ONNX export */
    return y;
}

/* ---- the causal mask ---------------------------------------------------------------- */

#define CAUSAL_MAX 65536
#define CAUSAL_STACK 4096 /* floats of the row pattern kept on the stack */

lt_tensor_t *lt_causal_mask(lt_arena_t *a, int64_t l, int64_t s) {
    if (l < 1 || s < 1 || l > CAUSAL_MAX || s > CAUSAL_MAX) {
        lt_set_error(LT_ERR_INVALID_ARG, "lt_causal_mask: sizes %lld x %lld must be 1 to %d",
                     (long long)l, (long long)s, CAUSAL_MAX);
        return NULL;
    }
    int64_t shape[2] = {l, s};
    lt_tensor_t *m = lt__tensor_new(a, LT_F32, 2, shape);
    if (!m) return NULL;
    /* pattern = s zeros then s ones; row i (1 where j > i) is pattern[s - 1 - i + j] */
    float stack[CAUSAL_STACK], *pat = 2 * s <= CAUSAL_STACK ? stack : malloc(8 * (size_t)s);
    if (!pat) {
        lt_set_error(LT_ERR_OOM, "lt_causal_mask: out of host memory");
        return NULL;
    }
    for (int64_t j = 0; j < 2 * s; j++) pat[j] = j < s ? 0.0f : 1.0f;
    lt_device_t *dev = a->dev;
    for (int64_t i = 0; i < l; i++) {
        const float *row = i < s ? pat + s - 1 - i : pat; /* rows past s see every key */
        LT_KCALL(dev, "memcpy_h2d", 0, LT_F32B(s), memcpy_h2d, lt__f32(m) + i * s, row,
                 (size_t)s * sizeof *row);
    }
    if (pat != stack) {
        lt_device_sync(dev); /* the copies have read the pattern */
        free(pat);
    }
    return m;
}

/* ---- scaled_dot_product_attention ------------------------------------------------------ */

static bool sdpa_shapes_ok(const lt_tensor_t *q, const lt_tensor_t *k, const lt_tensor_t *v) {
    bool ok = q->ndim >= 2 && k->ndim >= 2 && v->ndim >= 2 &&
              q->shape[q->ndim - 1] == k->shape[k->ndim - 1] &&
              k->shape[k->ndim - 2] == v->shape[v->ndim - 2];
    if (!ok) {
        char sq[96], sk[96], sv[96];
        lt_set_error(LT_ERR_SHAPE,
                     "lt_scaled_dot_product_attention: expected q (..., L, E), k (..., S, E), "
                     "v (..., S, Ev); got %s, %s, %s",
                     lt__shape_str(q, sq, sizeof sq), lt__shape_str(k, sk, sizeof sk),
                     lt__shape_str(v, sv, sizeof sv));
    }
    return ok;
}

lt_tensor_t *lt_scaled_dot_product_attention(lt_tensor_t *q, lt_tensor_t *k, lt_tensor_t *v,
                                             const lt_sdpa_opts *o) {
    const char *op = "lt_scaled_dot_product_attention";
    if (!lt__check_f32(q, op) || !lt__check_f32(k, op) || !lt__check_f32(v, op)) return NULL;
    lt_sdpa_opts opts = {0};
    if (o) memcpy(&opts, o, o->struct_size < sizeof opts ? o->struct_size : sizeof opts);
    if (!sdpa_shapes_ok(q, k, v)) return NULL;
    if (!(opts.dropout_p >= 0.0 && opts.dropout_p <= 1.0) || !(opts.scale >= 0.0)) {
        lt_set_error(LT_ERR_INVALID_ARG, "%s: dropout_p %g must be in [0, 1] and scale %g >= 0", op,
                     opts.dropout_p, opts.scale);
        return NULL;
    }
    int64_t l = q->shape[q->ndim - 2], s = k->shape[k->ndim - 2], e = q->shape[q->ndim - 1];
    double scale = opts.scale > 0.0 ? opts.scale : 1.0 / sqrt((double)e);
    lt_tensor_t *w = lt_scale(lt_matmul(q, lt_transpose(k, -2, -1)), (float)scale); /* (.., L, S) */
    if (opts.attn_mask) w = lt_add(w, opts.attn_mask);
    if (opts.is_causal) w = lt_masked_fill(w, lt_causal_mask(q->arena, l, s), -INFINITY);
    w = lt_softmax(w);
    if (opts.dropout_p > 0.0) w = lt_dropout_ex(w, opts.dropout_p, true, opts.seed, opts.stream);
    return lt_matmul(w, v);
}
