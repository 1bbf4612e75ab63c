/* Each recorded op as ONNX nodes. A node's `op` is the name its op gave the tape (the
 * elementwise ops' own, "lt_add") or its backward's ("linear_bw"); without "lt_" and
 * "_bw" it is the key of the table at the end. batch_norm (eval) and layer_norm are
 * recorded as one node while exporting (onnx_norm.c); other ops composed in liblt (silu,
 * leaky_relu) arrive as their parts and export as those, so the ONNX graph computes what
 * lthost computes, step for step. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "onnx_impl.h"

/* One ONNX node on n's inputs in[0..nin) giving n's output. */
static lt_status simple(onnx_exp *e, const lt_node *n, const char *op, int nin,
                        const onnx_attr *attrs, int nattrs) {
    const char *in[LT_NODE_MAX_IN] = {0};
    for (int k = 0; k < nin; k++)
        if (n->in[k] && !(in[k] = lt__onnx_use(e, n->in[k]))) return lt_last_status();
    while (nin > 0 && !n->in[nin - 1]) nin--; /* an optional input left out (a bias) */
    const char *out = lt__onnx_define(e, n->out);
    if (!out) return lt_last_status();
    lt__onnx_node(e, op, in, nin, out, attrs, nattrs);
    return LT_OK;
}

static lt_status emit_add(onnx_exp *e, const lt_node *n) { return simple(e, n, "Add", 2, NULL, 0); }
static lt_status emit_sub(onnx_exp *e, const lt_node *n) { return simple(e, n, "Sub", 2, NULL, 0); }
static lt_status emit_mul(onnx_exp *e, const lt_node *n) { return simple(e, n, "Mul", 2, NULL, 0); }
static lt_status emit_div(onnx_exp *e, const lt_node *n) { return simple(e, n, "Div", 2, NULL, 0); }
static lt_status emit_matmul(onnx_exp *e, const lt_node *n) {
    return simple(e, n, "MatMul", 2, NULL, 0);
}
static lt_status emit_relu(onnx_exp *e, const lt_node *n) {
    return simple(e, n, "Relu", 1, NULL, 0);
}
static lt_status emit_tanh(onnx_exp *e, const lt_node *n) {
    return simple(e, n, "Tanh", 1, NULL, 0);
}
static lt_status emit_sigmoid(onnx_exp *e, const lt_node *n) {
    return simple(e, n, "Sigmoid", 1, NULL, 0);
}
static lt_status emit_exp(onnx_exp *e, const lt_node *n) { return simple(e, n, "Exp", 1, NULL, 0); }
static lt_status emit_log(onnx_exp *e, const lt_node *n) { return simple(e, n, "Log", 1, NULL, 0); }
static lt_status emit_sqrt(onnx_exp *e, const lt_node *n) {
    return simple(e, n, "Sqrt", 1, NULL, 0);
}
static lt_status emit_softmax(onnx_exp *e, const lt_node *n) {
    onnx_attr axis = ONNX_INT("axis", -1); /* lthost's softmax runs over the last dimension */
    return simple(e, n, n->i ? "LogSoftmax" : "Softmax", 1, &axis, 1);
}

/* a op b -> out, for the steps of a multi-node op. */
static void node2(onnx_exp *e, const char *op, const char *a, const char *b, const char *out) {
    const char *in[2] = {a, b};
    lt__onnx_node(e, op, in, b ? 2 : 1, out, NULL, 0);
}

/* ---- ops made of several ONNX nodes --------------------------------------------------- */

/* Exact GELU: Gelu from opset 20, before that 0.5 x (1 + erf(x / sqrt 2)), in the order
 * the cpu kernel computes it. */
static lt_status emit_gelu(onnx_exp *e, const lt_node *n) {
    if (e->opset >= 20) return simple(e, n, "Gelu", 1, NULL, 0);
    const char *x = lt__onnx_use(e, n->in[0]);
    const char *c_r2 = lt__onnx_const_f32(e, (float)M_SQRT1_2), *c1 = lt__onnx_const_f32(e, 1.0f);
    const char *c_half = lt__onnx_const_f32(e, 0.5f);
    const char *t0 = lt__onnx_temp(e), *t1 = lt__onnx_temp(e), *t2 = lt__onnx_temp(e);
    const char *t3 = lt__onnx_temp(e);
    const char *out = x && t3 ? lt__onnx_define(e, n->out) : NULL;
    if (!out || !c_r2 || !c1 || !c_half) return lt_last_status();
    node2(e, "Mul", x, c_r2, t0);
    node2(e, "Erf", t0, NULL, t1);
    node2(e, "Add", t1, c1, t2);
    node2(e, "Mul", x, c_half, t3);
    node2(e, "Mul", t3, t2, out);
    return LT_OK;
}

/* lt_scale, lt_add_scalar, lt_neg: alpha x + beta (s, s2). */
static lt_status emit_affine(onnx_exp *e, const lt_node *n) {
    float alpha = (float)n->s, beta = (float)n->s2;
    if (alpha == -1.0f && beta == 0.0f) return simple(e, n, "Neg", 1, NULL, 0);
    const char *x = lt__onnx_use(e, n->in[0]);
    const char *ca = alpha != 1.0f ? lt__onnx_const_f32(e, alpha) : NULL;
    const char *cb = beta != 0.0f ? lt__onnx_const_f32(e, beta) : NULL;
    const char *mid = ca && cb ? lt__onnx_temp(e) : NULL;
    const char *out = x ? lt__onnx_define(e, n->out) : NULL;
    if (!out || (alpha != 1.0f && !ca) || (beta != 0.0f && !cb) || (ca && cb && !mid))
        return lt_last_status();
    if (!ca && !cb) {
        node2(e, "Identity", x, NULL, out);
        return LT_OK;
    }
    if (ca) node2(e, "Mul", x, ca, cb ? mid : out);
    if (cb) node2(e, "Add", ca ? mid : x, cb, out);
    return LT_OK;
}

/* Reshape to the traced shape; with a dynamic batch, the one dimension that differed in
 * the run on another batch size is -1 (ONNX infers it). */
static lt_status emit_reshape(onnx_exp *e, const lt_node *n) {
    const lt_tensor_t *x = n->in[0], *y = n->out;
    const int64_t *other = lt__onnx_other_shape(e, y);
    int64_t shape[LT_MAX_DIMS];
    int varying = 0;
    for (int i = 0; i < y->ndim; i++) {
        bool differs = other && other[i] != y->shape[i];
        shape[i] = differs ? -1 : y->shape[i];
        varying += differs;
    }
    if (varying > 1) {
        char sx[96], sy[96];
        return lt_set_error(LT_ERR_UNSUPPORTED,
                            "lt_model_export_onnx: the reshape %s -> %s has %d dimensions that "
                            "depend on the batch size (ONNX can infer one); export without "
                            "dynamic_batch",
                            lt__shape_str(x, sx, sizeof sx), lt__shape_str(y, sy, sizeof sy),
                            varying);
    }
    const char *in = lt__onnx_use(e, x), *s = lt__onnx_const_i64(e, shape, y->ndim);
    const char *out = in && s ? lt__onnx_define(e, y) : NULL;
    if (!out) return lt_last_status();
    node2(e, "Reshape", in, s, out);
    return LT_OK;
}

/* x (..., in) W^T + b: Gemm for a matrix, else MatMul with W transposed, then Add. */
static lt_status emit_linear(onnx_exp *e, const lt_node *n) {
    onnx_attr trans_b = ONNX_INT("transB", 1);
    if (n->in[0]->ndim == 2) return simple(e, n, "Gemm", 3, &trans_b, 1);
    const char *x = lt__onnx_use(e, n->in[0]), *w = lt__onnx_use(e, n->in[1]);
    const char *b = n->in[2] ? lt__onnx_use(e, n->in[2]) : NULL;
    const char *wt = lt__onnx_temp(e), *mid = n->in[2] ? lt__onnx_temp(e) : NULL;
    const char *out = x && w && wt ? lt__onnx_define(e, n->out) : NULL;
    if (!out || (n->in[2] && (!b || !mid))) return lt_last_status();
    static const int64_t perm[2] = {1, 0};
    onnx_attr p = ONNX_INTS("perm", perm, 2);
    lt__onnx_node(e, "Transpose", &w, 1, wt, &p, 1);
    node2(e, "MatMul", x, wt, b ? mid : out);
    if (b) node2(e, "Add", mid, b, out);
    return LT_OK;
}

/* ONNX's end padding of one axis: the begin padding again when that gives the traced
 * output size (symmetric padding), else what the output needs ("same", an even
 * kernel: torch pads the smaller half first). */
static int64_t pad_end(int64_t in, int64_t out, int64_t k, int64_t s, int64_t p, int64_t d) {
    int64_t needed = (out - 1) * s + d * (k - 1) + 1 - in;
    return 2 * p >= needed ? p : needed - p;
}

/* iv = sh, sw, ph, pw, dh, dw, oh, ow; i = groups; w (O, C/G, kh, kw). */
static lt_status emit_conv(onnx_exp *e, const lt_node *n) {
    const lt_tensor_t *x = n->in[0], *w = n->in[1];
    const int64_t *v = n->iv;
    int64_t kernel[2] = {w->shape[2], w->shape[3]}, strides[2] = {v[0], v[1]};
    int64_t dil[2] = {v[4], v[5]};
    int64_t pads[4] = {v[2], v[3], pad_end(x->shape[2], v[6], kernel[0], v[0], v[2], v[4]),
                       pad_end(x->shape[3], v[7], kernel[1], v[1], v[3], v[5])};
    onnx_attr a[5] = {ONNX_INTS("kernel_shape", kernel, 2), ONNX_INTS("strides", strides, 2),
                      ONNX_INTS("pads", pads, 4), ONNX_INTS("dilations", dil, 2),
                      ONNX_INT("group", n->i)};
    return simple(e, n, "Conv", 3, a, 5);
}

/* torch's pooled size (pool.c's pool_out) with or without ceil_mode. */
static int64_t pooled(int64_t in, int64_t k, int64_t s, int64_t p, int64_t d, bool ceil_mode) {
    int64_t num = in + 2 * p - d * (k - 1) - 1 + (ceil_mode ? s - 1 : 0);
    if (num < 0) return 0;
    int64_t out = num / s + 1;
    if (ceil_mode && (out - 1) * s >= in + p) out--;
    return out;
}

/* Adaptive average pooling: global, or an even split of each axis. */
static lt_status emit_adaptive(onnx_exp *e, const lt_node *n) {
    const lt_tensor_t *x = n->in[0], *y = n->out;
    int64_t h = x->shape[2], w = x->shape[3], oh = y->shape[2], ow = y->shape[3];
    if (oh == 1 && ow == 1) return simple(e, n, "GlobalAveragePool", 1, NULL, 0);
    if (h % oh || w % ow)
        return lt_set_error(LT_ERR_UNSUPPORTED,
                            "lt_model_export_onnx: op 'adaptive_avg_pool2d' from %lldx%lld to "
                            "%lldx%lld has no ONNX mapping (uneven windows); pool to a size "
                            "that divides the input",
                            (long long)h, (long long)w, (long long)oh, (long long)ow);
    int64_t k[2] = {h / oh, w / ow};
    onnx_attr a[2] = {ONNX_INTS("kernel_shape", k, 2), ONNX_INTS("strides", k, 2)};
    return simple(e, n, "AveragePool", 1, a, 2);
}

/* iv = kh, kw, sh, sw, ph, pw, dh, dw; i = the mode. */
static lt_status emit_pool(onnx_exp *e, const lt_node *n) {
    lt_pool_mode mode = (lt_pool_mode)n->i;
    if (mode == LT_POOL_ADAPTIVE_AVG) return emit_adaptive(e, n);
    const lt_tensor_t *x = n->in[0], *y = n->out;
    const int64_t *v = n->iv;
    bool ceil_mode = pooled(x->shape[2], v[0], v[2], v[4], v[6], false) != y->shape[2] ||
                     pooled(x->shape[3], v[1], v[3], v[5], v[7], false) != y->shape[3];
    int64_t kernel[2] = {v[0], v[1]}, strides[2] = {v[2], v[3]}, pads[4] = {v[4], v[5], v[4], v[5]};
    int64_t dil[2] = {v[6], v[7]};
    onnx_attr a[5] = {ONNX_INTS("kernel_shape", kernel, 2), ONNX_INTS("strides", strides, 2),
                      ONNX_INTS("pads", pads, 4), ONNX_INT("ceil_mode", ceil_mode),
                      mode == LT_POOL_MAX ? ONNX_INTS("dilations", dil, 2)
                                          : ONNX_INT("count_include_pad", mode == LT_POOL_AVG)};
    return simple(e, n, mode == LT_POOL_MAX ? "MaxPool" : "AveragePool", 1, a, 5);
}

/* Sum or mean over one dimension (i >= 0, keepdim when the rank stays) or all (i < 0);
 * s = the scale (1 for a sum). Axes are an input from opset 13 (ReduceSum) and 18
 * (ReduceMean), an attribute before. */
static lt_status emit_reduce(onnx_exp *e, const lt_node *n) {
    const lt_tensor_t *x = n->in[0];
    int64_t axis = n->i;
    bool mean = n->s != 1.0, all = axis < 0, keep = !all && n->out->ndim == x->ndim;
    bool axes_input = !mean || e->opset >= 18;
    const char *in[2] = {lt__onnx_use(e, x), NULL};
    if (!all && axes_input) in[1] = lt__onnx_const_i64(e, &axis, 1);
    const char *out = in[0] ? lt__onnx_define(e, n->out) : NULL;
    if (!out || (!all && axes_input && !in[1])) return lt_last_status();
    onnx_attr a[2] = {ONNX_INT("keepdims", keep), ONNX_INTS("axes", &axis, 1)};
    lt__onnx_node(e, mean ? "ReduceMean" : "ReduceSum", in, in[1] ? 2 : 1, out, a,
                  all || axes_input ? 1 : 2);
    return LT_OK;
}

/* ---- the table ----------------------------------------------------------------------- */

typedef lt_status (*emit_fn)(onnx_exp *e, const lt_node *n);

static const struct {
    const char *op;
    emit_fn emit;
} emitters[] = {
    {"add", emit_add},
    {"sub", emit_sub},
    {"mul", emit_mul},
    {"div", emit_div},
    {"scale", emit_affine},
    {"add_scalar", emit_affine},
    {"neg", emit_affine},
    {"relu", emit_relu},
    {"gelu", emit_gelu},
    {"tanh", emit_tanh},
    {"sigmoid", emit_sigmoid},
    {"exp", emit_exp},
    {"ln", emit_log},
    {"sqrt", emit_sqrt},
    {"reshape", emit_reshape},
    {"matmul", emit_matmul},
    {"linear", emit_linear},
    {"conv", emit_conv},
    {"pool", emit_pool},
    {"softmax", emit_softmax},
    {"reduce", emit_reduce},
    {"batch_norm_eval", lt__onnx_batch_norm},
    {"layer_norm", lt__onnx_layer_norm},
    /* the ops of issue #19 (onnx_ops2.c) */
    {"permute", lt__onnx_permute},
    {"narrow", lt__onnx_narrow},
    {"cat", lt__onnx_cat},
    {"gather", lt__onnx_gather},
    {"one_hot", lt__onnx_one_hot},
    {"to_f32", lt__onnx_to_f32},
    {"bmm", lt__onnx_bmm},
    {"masked_fill", lt__onnx_masked_fill},
    {"clamp", lt__onnx_clamp},
    {"pow", lt__onnx_pow},
    {"logsigmoid", lt__onnx_logsigmoid},
    {"conv_transpose", lt__onnx_conv_transpose},
};

const char *lt__onnx_op_key(const char *op, char *buf, size_t n) {
    if (!op) op = "(unnamed)";
    if (!strncmp(op, "lt_", 3)) op += 3;
    size_t len = strlen(op);
    if (len > 3 && !strcmp(op + len - 3, "_bw")) len -= 3;
    snprintf(buf, n, "%.*s", (int)len, op);
    return buf;
}

lt_status lt__onnx_emit(onnx_exp *e, const lt_node *n) {
    char key[64];
    lt__onnx_op_key(n->op, key, sizeof key);
    for (size_t i = 0; i < sizeof emitters / sizeof *emitters; i++)
        if (!strcmp(key, emitters[i].op)) return emitters[i].emit(e, n);
    if (!strcmp(key, "fused"))
        return lt_set_error(LT_ERR_UNSUPPORTED,
                            "lt_model_export_onnx: op 'batch_norm' ran in training mode; "
                            "export runs the forward in eval mode (lt_ctx_set_training false)");
    return lt_set_error(LT_ERR_UNSUPPORTED,
                        "lt_model_export_onnx: op '%s' has no ONNX mapping (mapped: add, sub, "
                        "mul, div, scale, add_scalar, neg, relu, gelu, tanh, sigmoid, exp, ln, "
                        "sqrt, reshape, matmul, linear, conv2d, pools, softmax, log_softmax, "
                        "sum, mean, batch_norm (eval), layer_norm, permute, narrow, cat, gather, "
                        "one_hot, to_f32, bmm, masked_fill, clamp, pow, logsigmoid, "
                        "conv_transpose2d, and what is made of them)",
                        key);
}
