/* The normalisations, which liblt composes from the elementwise ops and records as one
 * node while exporting (lt__record_composite): BatchNormalization in eval mode, and
 * LayerNormalization from opset 17 (before it, the steps lt_layer_norm takes). */
#include "onnx_impl.h"

/* w, or a constant of v shaped (ndim, shape) when the op had no such parameter. */
static const char *param_or(onnx_exp *e, const lt_tensor_t *w, int ndim, const int64_t *shape,
                            float v) {
    return w ? lt__onnx_use(e, w) : lt__onnx_const_fill(e, ndim, shape, v);
}

/* in = x, weight, bias (NULL: 1, 0); saved, saved2 = running mean and variance; s = eps. */
lt_status lt__onnx_batch_norm(onnx_exp *e, const lt_node *n) {
    const lt_tensor_t *x = n->in[0];
    const int64_t *c = &x->shape[1];
    const char *in[5] = {lt__onnx_use(e, x), param_or(e, n->in[1], 1, c, 1.0f),
                         param_or(e, n->in[2], 1, c, 0.0f), lt__onnx_use(e, n->saved),
                         lt__onnx_use(e, n->saved2)};
    for (int i = 0; i < 5; i++)
        if (!in[i]) return lt_last_status();
    const char *out = lt__onnx_define(e, n->out);
    if (!out) return lt_last_status();
    onnx_attr eps = ONNX_FLT("epsilon", (float)n->s);
    lt__onnx_node(e, "BatchNormalization", in, 5, out, &eps, 1);
    return LT_OK;
}

/* mean and variance over the last nn dimensions, as lt_layer_norm computes them. */
static lt_status layer_norm_steps(onnx_exp *e, const lt_node *n, const char *x, const char *w,
                                  const char *b, const char *out) {
    int nn = (int)n->i, nd = n->in[0]->ndim;
    int64_t axes[LT_MAX_DIMS];
    for (int k = 0; k < nn; k++) axes[k] = nd - nn + k;
    const char *t[8], *eps = lt__onnx_const_f32(e, (float)n->s);
    for (int k = 0; k < 8; k++)
        if (!(t[k] = lt__onnx_temp(e))) return lt_last_status();
    if (!eps) return lt_last_status();
    onnx_attr a[2] = {ONNX_INTS("axes", axes, nn), ONNX_INT("keepdims", 1)};
    const char *pair[2];
    lt__onnx_node(e, "ReduceMean", &x, 1, t[0], a, 2); /* mean */
    pair[0] = x, pair[1] = t[0];
    lt__onnx_node(e, "Sub", pair, 2, t[1], NULL, 0); /* xc */
    pair[0] = t[1], pair[1] = t[1];
    lt__onnx_node(e, "Mul", pair, 2, t[2], NULL, 0);
    lt__onnx_node(e, "ReduceMean", &t[2], 1, t[3], a, 2); /* var */
    pair[0] = t[3], pair[1] = eps;
    lt__onnx_node(e, "Add", pair, 2, t[4], NULL, 0);
    lt__onnx_node(e, "Sqrt", &t[4], 1, t[5], NULL, 0);
    pair[0] = t[1], pair[1] = t[5];
    lt__onnx_node(e, "Div", pair, 2, t[6], NULL, 0);
    pair[0] = t[6], pair[1] = w;
    lt__onnx_node(e, "Mul", pair, 2, b ? t[7] : out, NULL, 0);
    if (!b) return LT_OK;
    pair[0] = t[7], pair[1] = b;
    lt__onnx_node(e, "Add", pair, 2, out, NULL, 0);
    return LT_OK;
}

/* in = x, weight, bias (NULL: 1, none); s = eps; i = how many last dimensions. */
lt_status lt__onnx_layer_norm(onnx_exp *e, const lt_node *n) {
    const lt_tensor_t *x = n->in[0];
    int nn = (int)n->i;
    const char *xs = lt__onnx_use(e, x);
    const char *w = param_or(e, n->in[1], nn, x->shape + x->ndim - nn, 1.0f);
    const char *b = n->in[2] ? lt__onnx_use(e, n->in[2]) : NULL;
    const char *out = xs && w && (b || !n->in[2]) ? lt__onnx_define(e, n->out) : NULL;
    if (!out) return lt_last_status();
    if (e->opset < 17) return layer_norm_steps(e, n, xs, w, b, out);
    const char *in[3] = {xs, w, b};
    onnx_attr a[2] = {ONNX_INT("axis", -nn), ONNX_FLT("epsilon", (float)n->s)};
    lt__onnx_node(e, "LayerNormalization", in, b ? 3 : 2, out, a, 2);
    return LT_OK;
}
