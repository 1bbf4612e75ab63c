/* Elementwise ops with PyTorch broadcasting, and their backward formulas written with
 * the same front-end ops (so every accelerator gets autograd for free). */
#include <stdio.h>
#include <string.h>

#include "lt_impl.h"

/* ---- broadcasting ------------------------------------------------------------------ */

/* Right-aligned broadcast of a and b into bc; false (error set) when incompatible. */
static bool broadcast(const lt_tensor_t *a, const lt_tensor_t *b, const char *op, lt_bcast *bc) {
    int nd = a->ndim > b->ndim ? a->ndim : b->ndim;
    int64_t sa = 1, sb = 1;
    bc->ndim = nd;
    for (int d = nd - 1; d >= 0; d--) {
        int da = d - (nd - a->ndim), db = d - (nd - b->ndim);
        int64_t na = da >= 0 ? a->shape[da] : 1, nb = db >= 0 ? b->shape[db] : 1;
        if (na != nb && na != 1 && nb != 1) {
            char bufa[96], bufb[96];
            lt_set_error(LT_ERR_SHAPE,
                         "%s: shapes %s and %s cannot be broadcast (dimension %d: "
                         "%lld vs %lld)",
                         op, lt__shape_str(a, bufa, sizeof bufa),
                         lt__shape_str(b, bufb, sizeof bufb), d, (long long)na, (long long)nb);
            return false;
        }
        bc->shape[d] = na > nb ? na : nb;
        bc->a_stride[d] = na == 1 ? 0 : sa;
        bc->b_stride[d] = nb == 1 ? 0 : sb;
        sa *= na;
        sb *= nb;
    }
    return true;
}

/* ---- profiler span names, by kernel op ---------------------------------------------- */

static const char *const binary_names[LT_BIN_COUNT] = {
    [LT_BIN_ADD] = "add",
    [LT_BIN_SUB] = "sub",
    [LT_BIN_MUL] = "mul",
    [LT_BIN_DIV] = "div",
    [LT_BIN_RELU_BWD] = "relu_backward",
    [LT_BIN_GELU_BWD] = "gelu_backward",
    [LT_BIN_TANH_BWD] = "tanh_backward",
    [LT_BIN_SIGMOID_BWD] = "sigmoid_backward",
};
static const char *const unary_names[LT_UN_COUNT] = {
    [LT_UN_NEG] = "neg",   [LT_UN_RELU] = "relu",       [LT_UN_GELU] = "gelu",
    [LT_UN_TANH] = "tanh", [LT_UN_SIGMOID] = "sigmoid", [LT_UN_EXP] = "exp",
    [LT_UN_LOG] = "log",   [LT_UN_SQRT] = "sqrt",       [LT_UN_SQUARE] = "square",
};

/* "lt_scale" -> "scale": the span of a public op is its name without the prefix. */
static const char *span_name(const char *api) {
    return strncmp(api, "lt_", 3) == 0 ? api + 3 : api;
}

/* ---- ops ------------------------------------------------------------------------------ */

/* out = op(a, b) with broadcasting; records bw when given. */
static lt_tensor_t *binary_op(lt_tensor_t *a, lt_tensor_t *b, lt_binary_op op, const char *name,
                              lt_backward_fn bw) {
    if (!lt__check_f32(a, name) || !lt__check_f32(b, name)) return NULL;
    lt_bcast bc;
    bool same = lt__same_shape(a, b);
    if (!same && !broadcast(a, b, name, &bc)) return NULL;
    lt_tensor_t *out = same ? lt__tensor_new(a->arena, LT_F32, a->ndim, a->shape)
                            : lt__tensor_new(a->arena, LT_F32, bc.ndim, bc.shape);
    if (!out) return NULL;
    lt_device_t *dev = lt__dev(a);
    LT_KCALL(dev, binary_names[op], out->numel, LT_F32B(a->numel + b->numel + out->numel), binary,
             op, out->numel, lt__f32(a), lt__f32(b), lt__f32(out), same ? NULL : &bc);
    if (bw) lt__record_op(out, bw, name, a, b, NULL);
    return out;
}

static lt_tensor_t *unary_op(lt_tensor_t *x, lt_unary_op op, const char *name, lt_backward_fn bw) {
    if (!lt__check_f32(x, name)) return NULL;
    lt_tensor_t *out = lt__tensor_new(x->arena, LT_F32, x->ndim, x->shape);
    if (!out) return NULL;
    lt_device_t *dev = lt__dev(x);
    LT_KCALL(dev, unary_names[op], x->numel, LT_F32B(2 * x->numel), unary, op, x->numel, lt__f32(x),
             lt__f32(out));
    if (bw) lt__record_op(out, bw, name, x, NULL, NULL);
    return out;
}

static lt_tensor_t *affine_op(lt_tensor_t *x, float alpha, float beta, const char *name,
                              lt_backward_fn bw) {
    if (!lt__check_f32(x, name)) return NULL;
    lt_tensor_t *out = lt__tensor_new(x->arena, LT_F32, x->ndim, x->shape);
    if (!out) return NULL;
    lt_device_t *dev = lt__dev(x);
    LT_KCALL(dev, span_name(name), 2.0 * x->numel, LT_F32B(2 * x->numel), affine, x->numel,
             lt__f32(x), alpha, beta, lt__f32(out));
    lt_node *n = bw ? lt__record_op(out, bw, name, x, NULL, NULL) : NULL;
    if (n) {
        n->s = alpha;
        n->s2 = beta;
    }
    return out;
}

/* ---- backward formulas -------------------------------------------------------------- */

static void add_bw(lt_node *n, lt_tensor_t *g) {
    lt__accum_grad(n->in[0], g);
    lt__accum_grad(n->in[1], g);
}

static void sub_bw(lt_node *n, lt_tensor_t *g) {
    lt__accum_grad(n->in[0], g);
    if (n->in[1]->requires_grad) lt__accum_grad(n->in[1], lt_neg(g));
}

static void mul_bw(lt_node *n, lt_tensor_t *g) {
    if (n->in[0]->requires_grad) lt__accum_grad(n->in[0], lt_mul(g, n->in[1]));
    if (n->in[1]->requires_grad) lt__accum_grad(n->in[1], lt_mul(g, n->in[0]));
}

static void div_bw(lt_node *n, lt_tensor_t *g) {
    lt_tensor_t *ga = lt_div(g, n->in[1]); /* d(a/b)/db = -(g/b) * (a/b) */
    lt__accum_grad(n->in[0], ga);
    if (n->in[1]->requires_grad) lt__accum_grad(n->in[1], lt_neg(lt_mul(ga, n->out)));
}

static void scale_bw(lt_node *n, lt_tensor_t *g) {
    lt__accum_grad(n->in[0], lt_scale(g, (float)n->s));
}
static void relu_bw(lt_node *n, lt_tensor_t *g) {
    lt__accum_grad(n->in[0], binary_op(n->in[0], g, LT_BIN_RELU_BWD, "relu_backward", NULL));
}
static void gelu_bw(lt_node *n, lt_tensor_t *g) {
    lt__accum_grad(n->in[0], binary_op(n->in[0], g, LT_BIN_GELU_BWD, "gelu_backward", NULL));
}
static void tanh_bw(lt_node *n, lt_tensor_t *g) {
    lt__accum_grad(n->in[0], binary_op(n->out, g, LT_BIN_TANH_BWD, "tanh_backward", NULL));
}
static void sigmoid_bw(lt_node *n, lt_tensor_t *g) {
    lt__accum_grad(n->in[0], binary_op(n->out, g, LT_BIN_SIGMOID_BWD, "sigmoid_backward", NULL));
}
static void exp_bw(lt_node *n, lt_tensor_t *g) { lt__accum_grad(n->in[0], lt_mul(g, n->out)); }
static void log_bw(lt_node *n, lt_tensor_t *g) { lt__accum_grad(n->in[0], lt_div(g, n->in[0])); }

/* ---- public ops ----------------------------------------------------------------------- */

lt_tensor_t *lt_add(lt_tensor_t *a, lt_tensor_t *b) {
    return binary_op(a, b, LT_BIN_ADD, "lt_add", add_bw);
}
lt_tensor_t *lt_sub(lt_tensor_t *a, lt_tensor_t *b) {
    return binary_op(a, b, LT_BIN_SUB, "lt_sub", sub_bw);
}
lt_tensor_t *lt_mul(lt_tensor_t *a, lt_tensor_t *b) {
    return binary_op(a, b, LT_BIN_MUL, "lt_mul", mul_bw);
}
lt_tensor_t *lt_div(lt_tensor_t *a, lt_tensor_t *b) {
    return binary_op(a, b, LT_BIN_DIV, "lt_div", div_bw);
}
lt_tensor_t *lt_scale(lt_tensor_t *x, float s) {
    return affine_op(x, s, 0.0f, "lt_scale", scale_bw);
}
lt_tensor_t *lt_add_scalar(lt_tensor_t *x, float s) {
    return affine_op(x, 1.0f, s, "lt_add_scalar", scale_bw);
}
lt_tensor_t *lt_neg(lt_tensor_t *x) { return affine_op(x, -1.0f, 0.0f, "lt_neg", scale_bw); }
lt_tensor_t *lt_relu(lt_tensor_t *x) { return unary_op(x, LT_UN_RELU, "lt_relu", relu_bw); }
lt_tensor_t *lt_gelu(lt_tensor_t *x) { return unary_op(x, LT_UN_GELU, "lt_gelu", gelu_bw); }
lt_tensor_t *lt_tanh(lt_tensor_t *x) { return unary_op(x, LT_UN_TANH, "lt_tanh", tanh_bw); }
lt_tensor_t *lt_sigmoid(lt_tensor_t *x) {
    return unary_op(x, LT_UN_SIGMOID, "lt_sigmoid", sigmoid_bw);
}
lt_tensor_t *lt_exp(lt_tensor_t *x) { return unary_op(x, LT_UN_EXP, "lt_exp", exp_bw); }
lt_tensor_t *lt_ln(lt_tensor_t *x) { return unary_op(x, LT_UN_LOG, "lt_ln", log_bw); }
