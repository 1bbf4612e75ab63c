/* The ops of issue #19 as ONNX nodes: layout (permute -> Transpose, narrow -> Slice,
 * cat -> Concat; stack and split are reshape/cat and narrow), indexing (embedding and
 * index_select -> Gather, gather -> GatherElements, one_hot -> OneHot), to_f32 -> Cast,
 * batched matmul -> MatMul, masked_fill -> Where, clamp -> Clip, pow -> Pow, logsigmoid
 * -> -Softplus(-x) and conv_transpose2d -> ConvTranspose. Ops liblt composes from others
 * (sdpa, softplus, rsqrt, group_norm, silu, leaky_relu) arrive as their parts. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "onnx_impl.h"

/* ONNX TensorProto.data_type for Cast's "to" */
enum { ONNX_BOOL = 9 };

/* op(in[0..nin)) -> n's output, with attributes. */
static lt_status one_node(onnx_exp *e, const lt_node *n, const char *op, const char **in, int nin,
                          const onnx_attr *a, int na) {
    for (int k = 0; k < nin; k++)
        if (!in[k]) return lt_last_status();
    const char *out = lt__onnx_define(e, n->out);
    if (!out) return lt_last_status();
    lt__onnx_node(e, op, in, nin, out, a, na);
    return LT_OK;
}

/* iv[0..ndim) = the permutation (out dim d = in dim iv[d]). */
lt_status lt__onnx_permute(onnx_exp *e, const lt_node *n) {
    const char *x = lt__onnx_use(e, n->in[0]);
    onnx_attr perm = ONNX_INTS("perm", n->iv, n->out->ndim);
    return one_node(e, n, "Transpose", &x, 1, &perm, 1);
}

/* i = the dimension, iv[0] = the start; the length is the output's size there. */
lt_status lt__onnx_narrow(onnx_exp *e, const lt_node *n) {
    int64_t axis = n->i, start = n->iv[0], end = n->iv[0] + n->out->shape[n->i];
    const char *in[4] = {lt__onnx_use(e, n->in[0]), lt__onnx_const_i64(e, &start, 1),
                         lt__onnx_const_i64(e, &end, 1), lt__onnx_const_i64(e, &axis, 1)};
    return one_node(e, n, "Slice", in, 4, NULL, 0);
}

/* lt_cat records one node per input (i = the dimension, iv[0] = where it starts): the
 * inputs are gathered until the last piece, then one Concat. */
lt_status lt__onnx_cat(onnx_exp *e, const lt_node *n) {
    const char *x = lt__onnx_use(e, n->in[0]);
    if (!x) return lt_last_status();
    if (e->ncat == e->cap_cat) {
        int cap = e->cap_cat ? 2 * e->cap_cat : 16;
        const char **p = realloc(e->cat_in, (size_t)cap * sizeof *p);
        if (!p) return lt_set_error(LT_ERR_OOM, "lt_model_export_onnx: out of host memory");
        e->cat_in = p;
        e->cap_cat = cap;
    }
    e->cat_in[e->ncat++] = x;
    int64_t d = n->i;
    if (n->iv[0] + n->in[0]->shape[d] < n->out->shape[d]) return LT_OK; /* more to come */
    onnx_attr axis = ONNX_INT("axis", d);
    lt_status s = one_node(e, n, "Concat", e->cat_in, e->ncat, &axis, 1);
    e->ncat = 0;
    return s;
}

/* The tensor a recorded node reads besides in[]: the index of a gather, the mask of a
 * masked_fill (kept in saved, which the backward needs); NULL for other ops. */
const lt_tensor_t *lt__onnx_extra_input(const lt_node *n) {
    char key[64];
    lt__onnx_op_key(n->op, key, sizeof key);
    static const char *const keys[] = {"gather", "masked_fill", "one_hot", "to_f32"};
    for (size_t k = 0; k < sizeof keys / sizeof *keys; k++)
        if (!strcmp(key, keys[k])) return n->saved;
    return NULL;
}

/* saved = the int64 labels, i = the classes: OneHot with int64 values (off 0, on 1),
 * which onnxruntime implements for int64 indices, then Cast to float32 as lt_one_hot
 * returns. A label out of range is an error in lthost; ONNX gives it a row of zeros (a
 * negative one counts from the end). */
lt_status lt__onnx_one_hot(onnx_exp *e, const lt_node *n) {
    const int64_t values[2] = {0, 1}, depth = n->i;
    const char *in[3] = {lt__onnx_use(e, n->saved), lt__onnx_const_i64(e, &depth, -1),
                         lt__onnx_const_i64(e, values, 2)};
    const char *hot = lt__onnx_temp(e);
    if (!in[0] || !in[1] || !in[2] || !hot) return lt_last_status();
    onnx_attr axis = ONNX_INT("axis", -1), to = ONNX_INT("to", ONNX_FLOAT);
    lt__onnx_node(e, "OneHot", in, 3, hot, &axis, 1);
    return one_node(e, n, "Cast", &hot, 1, &to, 1);
}

/* saved = the input (int64 with --input_dtype int64), s = the divisor: Cast to float32,
 * then a true division as lt_to_f32's (none for 1). */
lt_status lt__onnx_to_f32(onnx_exp *e, const lt_node *n) {
    const char *x = lt__onnx_use(e, n->saved);
    onnx_attr to = ONNX_INT("to", ONNX_FLOAT);
    if (n->s == 1.0) return one_node(e, n, "Cast", &x, 1, &to, 1);
    const char *in[2] = {lt__onnx_temp(e), lt__onnx_const_f32(e, (float)n->s)};
    if (!x || !in[0] || !in[1]) return lt_last_status();
    lt__onnx_node(e, "Cast", &x, 1, in[0], &to, 1);
    return one_node(e, n, "Div", in, 2, NULL, 0);
}

/* Gather node: saved = the int64 index; iv = outer, n, m, inner, the index strides, and
 * iv[7] = the dimension. Strides (0, 1, 0): one index per slice (embedding,
 * index_select) -> Gather; else an index per element (gather) -> GatherElements. */
lt_status lt__onnx_gather(onnx_exp *e, const lt_node *n) {
    const lt_tensor_t *x = n->in[0], *idx = n->saved;
    onnx_attr axis = ONNX_INT("axis", n->iv[7]);
    const char *in[2] = {lt__onnx_use(e, x), lt__onnx_use(e, idx)};
    bool per_slice = n->iv[4] == 0 && n->iv[6] == 0;
    if (!per_slice) return one_node(e, n, "GatherElements", in, 2, &axis, 1);
    if (in[1] && x->ndim - 1 + idx->ndim != n->out->ndim) { /* a 0-d index_select index */
        int64_t one = 1;
        const char *shape = lt__onnx_const_i64(e, &one, 1), *flat = lt__onnx_temp(e);
        if (!shape || !flat) return lt_last_status();
        const char *r[2] = {in[1], shape};
        lt__onnx_node(e, "Reshape", r, 2, flat, NULL, 0);
        in[1] = flat;
    }
    return one_node(e, n, "Gather", in, 2, &axis, 1);
}

/* (..., M, K) @ (..., K, N) with broadcast batch dimensions: MatMul's own semantics. */
lt_status lt__onnx_bmm(onnx_exp *e, const lt_node *n) {
    const char *in[2] = {lt__onnx_use(e, n->in[0]), lt__onnx_use(e, n->in[1])};
    return one_node(e, n, "MatMul", in, 2, NULL, 0);
}

/* x where mask == 0, s (the fill value) elsewhere: Where(Cast(mask, bool), s, x). */
lt_status lt__onnx_masked_fill(onnx_exp *e, const lt_node *n) {
    const char *mask = lt__onnx_use(e, n->saved), *cond = lt__onnx_temp(e);
    const char *in[3] = {cond, lt__onnx_const_f32(e, (float)n->s), lt__onnx_use(e, n->in[0])};
    if (!mask || !cond) return lt_last_status();
    onnx_attr to = ONNX_INT("to", ONNX_BOOL);
    lt__onnx_node(e, "Cast", &mask, 1, cond, &to, 1);
    return one_node(e, n, "Where", in, 3, NULL, 0);
}

/* s = min, iv[0] = max's bits; an infinite bound is left out. */
lt_status lt__onnx_clamp(onnx_exp *e, const lt_node *n) {
    double lo = n->s, hi;
    memcpy(&hi, &n->iv[0], sizeof hi);
    const char *in[3] = {lt__onnx_use(e, n->in[0]), "", ""};
    if (lo > -INFINITY) in[1] = lt__onnx_const_f32(e, (float)lo);
    if (hi < INFINITY) in[2] = lt__onnx_const_f32(e, (float)hi);
    return one_node(e, n, "Clip", in, hi < INFINITY ? 3 : lo > -INFINITY ? 2 : 1, NULL, 0);
}

/* s = the exponent. */
lt_status lt__onnx_pow(onnx_exp *e, const lt_node *n) {
    const char *in[2] = {lt__onnx_use(e, n->in[0]), lt__onnx_const_f32(e, (float)n->s)};
    return one_node(e, n, "Pow", in, 2, NULL, 0);
}

/* log sigmoid(x) = -softplus(-x). */
lt_status lt__onnx_logsigmoid(onnx_exp *e, const lt_node *n) {
    const char *x = lt__onnx_use(e, n->in[0]), *t0 = lt__onnx_temp(e), *t1 = lt__onnx_temp(e);
    if (!x || !t0 || !t1) return lt_last_status();
    lt__onnx_node(e, "Neg", &x, 1, t0, NULL, 0);
    lt__onnx_node(e, "Softplus", &t0, 1, t1, NULL, 0);
    return one_node(e, n, "Neg", &t1, 1, NULL, 0);
}

/* iv = sh, sw, ph, pw, dh, dw, H, W (the output's size); i = groups; w (C_in, C_out/G,
 * kh, kw) as ONNX's. output_padding is what the traced size adds to the formula's. */
lt_status lt__onnx_conv_transpose(onnx_exp *e, const lt_node *n) {
    const lt_tensor_t *x = n->in[0], *w = n->in[1];
    const int64_t *v = n->iv;
    int64_t kernel[2] = {w->shape[2], w->shape[3]}, strides[2] = {v[0], v[1]};
    int64_t pads[4] = {v[2], v[3], v[2], v[3]}, dil[2] = {v[4], v[5]}, outpad[2];
    for (int k = 0; k < 2; k++)
        outpad[k] = v[6 + k] - ((x->shape[2 + k] - 1) * strides[k] - 2 * v[2 + k] +
                                dil[k] * (kernel[k] - 1) + 1);
    onnx_attr a[6] = {ONNX_INTS("kernel_shape", kernel, 2),
                      ONNX_INTS("strides", strides, 2),
                      ONNX_INTS("pads", pads, 4),
                      ONNX_INTS("dilations", dil, 2),
                      ONNX_INT("group", n->i),
                      ONNX_INTS("output_padding", outpad, 2)};
    const char *in[3] = {lt__onnx_use(e, x), lt__onnx_use(e, w),
                         n->in[2] ? lt__onnx_use(e, n->in[2]) : ""};
    return one_node(e, n, "ConvTranspose", in, n->in[2] ? 3 : 2, a, 6);
}
