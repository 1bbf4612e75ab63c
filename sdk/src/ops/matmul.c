/* Matrix products: matmul and linear (x W^T + b), with backward. */
#include "lt_impl.h"

/* FLOPs and bytes of C(M,N) = op(A) op(B) (+ C when accumulating). */
static double gemm_flops(int64_t m, int64_t n, int64_t k) { return 2.0 * m * n * k; }
static double gemm_bytes(int64_t m, int64_t n, int64_t k, bool accumulate) {
    return LT_F32B(m * k + k * n + m * n) + (accumulate ? LT_F32B(m * n) : 0.0);
}

/* op(a) (M, K) @ op(b) (K, N) -> (M, N); a and b are 2-D, stored transposed when t*. */
lt_tensor_t *lt__gemm(lt_tensor_t *a, bool ta, lt_tensor_t *b, bool tb, const char *name) {
    if (!a || !b) return NULL;
    int64_t m = ta ? a->shape[1] : a->shape[0], k = ta ? a->shape[0] : a->shape[1];
    int64_t n = tb ? b->shape[0] : b->shape[1];
    int64_t shape[2] = {m, n};
    lt_tensor_t *c = lt__tensor_new(a->arena, LT_F32, 2, shape);
    if (!c) return NULL;
    lt_device_t *dev = lt__dev(a);
    LT_KCALL(dev, name, gemm_flops(m, n, k), gemm_bytes(m, n, k, false), gemm, ta, tb, m, n, k,
             1.0f, lt__f32(a), a->shape[1], lt__f32(b), b->shape[1], 0.0f, lt__f32(c), n);
    return c;
}

static void matmul_bw(lt_node *n, lt_tensor_t *g) {
    lt_tensor_t *a = n->in[0], *b = n->in[1];
    const char *name = "matmul_backward";
    if (a->requires_grad) lt__accum_grad(a, lt__gemm(g, false, b, true, name)); /* g b^T */
    if (b->requires_grad) lt__accum_grad(b, lt__gemm(a, true, g, false, name)); /* a^T g */
}

lt_tensor_t *lt_matmul(lt_tensor_t *a, lt_tensor_t *b) {
    if (!lt__check_f32(a, "lt_matmul") || !lt__check_f32(b, "lt_matmul")) return NULL;
    if ((a->ndim > 2 || b->ndim > 2) && a->ndim >= 2 && b->ndim >= 2)
        return lt__matmul_batched(a, b); /* bmm.c: batch dimensions, broadcast */
    if (a->ndim != 2 || b->ndim != 2 || a->shape[1] != b->shape[0]) {
        char sa[96], sb[96];
        lt_set_error(LT_ERR_SHAPE, "lt_matmul: expected (M, K) @ (K, N), got %s @ %s",
                     lt__shape_str(a, sa, sizeof sa), lt__shape_str(b, sb, sizeof sb));
        return NULL;
    }
    lt_tensor_t *c = lt__gemm(a, false, b, false, "matmul");
    if (c) lt__record(c, matmul_bw, a, b, NULL);
    return c;
}

/* A parameter's gradient is written by the GEMM itself: no temporary; beta = 0 for the
 * step's first gradient after a zero_grad, else 1 (accumulating). */
static void weight_grad(lt_tensor_t *w, lt_tensor_t *g2, lt_tensor_t *x2) {
    bool first;
    if (w->persistent && lt__grad_overwrite(w, &first)) {
        int64_t m = w->shape[0], n = w->shape[1], k = g2->shape[0];
        lt_device_t *dev = lt__dev(w);
        LT_KCALL(dev, "linear_backward", gemm_flops(m, n, k), gemm_bytes(m, n, k, !first), gemm, 1,
                 0, m, n, k, 1.0f, lt__f32(g2), g2->shape[1], lt__f32(x2), x2->shape[1],
                 first ? 0.0f : 1.0f, lt__f32(w->grad), n);
    } else {
        lt__accum_grad(w, lt__gemm(g2, true, x2, false, "linear_backward"));
    }
}

/* The column sums of g (rows, out): straight into a parameter's grad when it is the
 * step's first gradient there, else through a temporary that is added. */
static void bias_grad(lt_tensor_t *b, lt_tensor_t *g, int64_t rows, int64_t out) {
    bool first = false;
    if (b->persistent && !lt__grad_overwrite(b, &first)) return;
    lt_tensor_t *db = first ? b->grad : lt__tensor_new(g->arena, LT_F32, 1, &out);
    if (!db) return;
    lt_device_t *dev = lt__dev(g);
    LT_KCALL(dev, "linear_backward", (double)rows * out, LT_F32B(rows * out + out), reduce_sum, 1,
             rows, out, lt__f32(g), 1.0f, lt__f32(db));
    if (!first) lt__accum_grad(b, db);
}

static void linear_bw(lt_node *n, lt_tensor_t *g) {
    lt_tensor_t *x = n->in[0], *w = n->in[1], *b = n->in[2];
    int64_t out = w->shape[0], in = w->shape[1], rows = x->numel / in;
    int64_t g2s[2] = {rows, out}, x2s[2] = {rows, in};
    lt_tensor_t *g2 = lt_reshape(g, 2, g2s);
    if (!g2) return;
    if (x->requires_grad) {
        /* (rows, out) @ (out, in) */
        lt_tensor_t *dx = lt__gemm(g2, false, w, false, "linear_backward");
        lt__accum_grad(x, lt_reshape(dx, x->ndim, x->shape));
    }
    if (w->requires_grad) weight_grad(w, g2, lt_reshape(x, 2, x2s));
    if (b && b->requires_grad) bias_grad(b, g, rows, out);
}

/* y (rows, out) = x (rows, in) W^T (+ b, broadcast over the rows): in one call where the
 * accelerator adds the bias in the GEMM's epilogue (gemm_bias), else a GEMM and an add. */
static void linear_kernels(lt_device_t *dev, lt_tensor_t *x, lt_tensor_t *w, lt_tensor_t *b,
                           lt_tensor_t *y, int64_t rows) {
    int64_t out = w->shape[0], in = w->shape[1];
    if (b && dev->k.gemm_bias &&
        dev->k.gemm_bias(dev->state, 0, 1, rows, out, in, lt__f32(x), in, lt__f32(w), in,
                         lt__f32(b), lt__f32(y), out) == 0)
        return;
    dev->k.gemm(dev->state, 0, 1, rows, out, in, 1.0f, lt__f32(x), in, lt__f32(w), in, 0.0f,
                lt__f32(y), out);
    if (b) {
        lt_bcast bc = {.ndim = 2, .shape = {rows, out}, .a_stride = {out, 1}, .b_stride = {0, 1}};
        dev->k.binary(dev->state, LT_BIN_ADD, y->numel, lt__f32(y), lt__f32(b), lt__f32(y), &bc);
    }
}

lt_tensor_t *lt_linear_op(lt_tensor_t *x, lt_tensor_t *w, lt_tensor_t *b) {
    if (!lt__check_f32(x, "lt_linear") || !lt__check_f32(w, "lt_linear")) return NULL;
    if (b && !lt__check_f32(b, "lt_linear")) return NULL;
    char sx[96], sw[96];
    if (w->ndim != 2 || x->ndim < 1 || x->shape[x->ndim - 1] != w->shape[1] ||
        (b && (b->ndim != 1 || b->shape[0] != w->shape[0]))) {
        lt_set_error(LT_ERR_SHAPE,
                     "lt_linear: input %s does not match weight %s (expected "
                     "(..., in) with weight (out, in) and bias (out))",
                     lt__shape_str(x, sx, sizeof sx), lt__shape_str(w, sw, sizeof sw));
        return NULL;
    }
    int64_t out = w->shape[0], in = w->shape[1], rows = x->numel / (in ? in : 1);
    int64_t shape[LT_MAX_DIMS];
    for (int i = 0; i < x->ndim - 1; i++) shape[i] = x->shape[i];
    shape[x->ndim - 1] = out;
    lt_tensor_t *y = lt__tensor_new(x->arena, LT_F32, x->ndim, shape);
    if (!y) return NULL;
    lt_device_t *dev = lt__dev(x);
    /* one span, as torch's addmm: the bias add is part of the op */
    LT_PROF_SPAN(dev, "linear", gemm_flops(rows, out, in) + (b ? (double)y->numel : 0.0),
                 gemm_bytes(rows, out, in, false) + (b ? LT_F32B(out) : 0.0),
                 linear_kernels(dev, x, w, b, y, rows));
    lt__record(y, linear_bw, x, w, b);
    return y;
}
