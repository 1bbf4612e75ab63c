/* 2-D convolution as torch.nn.functional.conv2d computes it, through three slots: im2col
 * unfolds the batch's windows into columns, one GEMM per group multiplies them by the
 * weight, and a strided binary add moves the (O, N, P) product into (N, O, P) while it
 * adds the bias. The backward is the same three in reverse, col2im folding the input's
 * gradient back. Shapes: x (N, C, H, W), w (O, C/G, kh, kw), P = OH * OW,
 * K = C/G * kh * kw per group, col (G*K, N*P). */
#include <stdio.h>

#include "lt_impl.h"

/* ---- geometry --------------------------------------------------------------------- */

/* The node's iv[] holds the window's stride, padding and dilation; n->i the groups. */
static void save_window(lt_node *n, const lt_window2d *g, int64_t groups) {
    const int64_t v[8] = {g->sh, g->sw, g->ph, g->pw, g->dh, g->dw, g->oh, g->ow};
    for (int k = 0; k < 8; k++) n->iv[k] = v[k];
    n->i = groups;
}

static lt_window2d window_of(const lt_tensor_t *x, const lt_tensor_t *w, const lt_node *n) {
    return (lt_window2d){.n = x->shape[0],
                         .c = x->shape[1],
                         .h = x->shape[2],
                         .w = x->shape[3],
                         .kh = w->shape[2],
                         .kw = w->shape[3],
                         .sh = n->iv[0],
                         .sw = n->iv[1],
                         .ph = n->iv[2],
                         .pw = n->iv[3],
                         .dh = n->iv[4],
                         .dw = n->iv[5],
                         .oh = n->iv[6],
                         .ow = n->iv[7]};
}

/* One spatial axis: padding (leading side) and output size, or false when the window
 * does not fit. "same" pads d(k-1) in all, the smaller half first, as torch does. */
static bool axis(int64_t in, int64_t k, int64_t s, int64_t p, int64_t d, bool same, int64_t *pad,
                 int64_t *out) {
    *pad = same ? d * (k - 1) / 2 : p;
    int64_t span = d * (k - 1) + 1, padded = same ? in + d * (k - 1) : in + 2 * p;
    *out = padded >= span ? (padded - span) / s + 1 : 0;
    return *out > 0;
}

static int64_t or_one(int64_t v) { return v > 0 ? v : 1; }

static bool conv_shapes_ok(const lt_tensor_t *x, const lt_tensor_t *w, const lt_tensor_t *b,
                           int64_t groups) {
    char sx[96], sw[96];
    if (x->ndim == 4 && w->ndim == 4 && x->shape[1] == w->shape[1] * groups &&
        w->shape[0] % groups == 0 && (!b || (b->ndim == 1 && b->shape[0] == w->shape[0])))
        return true;
    lt_set_error(LT_ERR_SHAPE,
                 "lt_conv2d: input %s does not match weight %s with groups=%lld (expected "
                 "x (N, C, H, W), weight (O, C/groups, kh, kw), O a multiple of groups, bias (O))",
                 lt__shape_str(x, sx, sizeof sx), lt__shape_str(w, sw, sizeof sw),
                 (long long)groups);
    return false;
}

static bool opts_ok(const lt_conv2d_opts *o) {
    const char *why = o->struct_size < sizeof *o ? "opts.struct_size is too small (make them "
                                                   "with LT_CONV2D_OPTS)"
                      : o->stride[0] < 0 || o->stride[1] < 0 || o->dilation[0] < 0 ||
                              o->dilation[1] < 0 || o->groups < 0
                          ? "stride, dilation and groups must be positive (0 means 1)"
                      : o->padding[0] < 0 || o->padding[1] < 0 ? "padding must be >= 0"
                      : o->padding_same && (or_one(o->stride[0]) != 1 || or_one(o->stride[1]) != 1)
                          ? "padding=\"same\" needs stride 1, as in torch"
                          : NULL;
    if (why) lt_set_error(LT_ERR_INVALID_ARG, "lt_conv2d: %s", why);
    return !why;
}

/* The window of x under w and o, or false with an error. */
static bool conv_window(const lt_tensor_t *x, const lt_tensor_t *w, const lt_conv2d_opts *o,
                        lt_window2d *g) {
    *g = (lt_window2d){.n = x->shape[0],
                       .c = x->shape[1],
                       .h = x->shape[2],
                       .w = x->shape[3],
                       .kh = w->shape[2],
                       .kw = w->shape[3],
                       .sh = or_one(o->stride[0]),
                       .sw = or_one(o->stride[1]),
                       .dh = or_one(o->dilation[0]),
                       .dw = or_one(o->dilation[1])};
    if (axis(g->h, g->kh, g->sh, o->padding[0], g->dh, o->padding_same, &g->ph, &g->oh) &&
        axis(g->w, g->kw, g->sw, o->padding[1], g->dw, o->padding_same, &g->pw, &g->ow))
        return true;
    char sx[96], sw[96];
    lt_set_error(LT_ERR_SHAPE,
                 "lt_conv2d: the %lldx%lld kernel (dilation %lldx%lld) is larger than "
                 "the padded input %s; weight %s",
                 (long long)g->kh, (long long)g->kw, (long long)g->dh, (long long)g->dw,
                 lt__shape_str(x, sx, sizeof sx), lt__shape_str(w, sw, sizeof sw));
    return false;
}

/* ---- kernels ---------------------------------------------------------------------- */

static double conv_flops(const lt_window2d *g, int64_t o, int64_t groups) {
    return 2.0 * (double)o * (double)(g->c / groups * g->kh * g->kw) *
           (double)(g->n * g->oh * g->ow);
}

/* dst (A, B, P) = src (B, A, P) transposed in its first two dimensions, plus add, which
 * is broadcast with element strides add_s (a bias over (N, O, P) or a zero scalar). */
static void swap_add(lt_device_t *dev, int64_t a, int64_t b, int64_t p, const float *src,
                     const float *add, const int64_t add_s[3], float *dst) {
    lt_bcast bc = {.ndim = 3,
                   .shape = {a, b, p},
                   .a_stride = {add_s[0], add_s[1], add_s[2]},
                   .b_stride = {p, a * p, 1}};
    dev->k.binary(dev->state, LT_BIN_ADD, a * b * p, add, src, dst, &bc);
}

/* y2 (O, N*P) = w (O, K) @ col per group. */
static void grouped_gemm(lt_device_t *dev, const lt_window2d *g, int64_t groups, int64_t o,
                         const float *w, const float *col, float *y2) {
    int64_t og = o / groups, k = g->c / groups * g->kh * g->kw, np = g->n * g->oh * g->ow;
    for (int64_t gi = 0; gi < groups; gi++)
        dev->k.gemm(dev->state, 0, 0, og, np, k, 1.0f, w + gi * og * k, k, col + gi * k * np, np,
                    0.0f, y2 + gi * og * np, np);
}

/* col (G*K, N*P) = x's windows, for the im2col path. */
static lt_tensor_t *unfold(lt_device_t *dev, const lt_window2d *g, lt_tensor_t *x) {
    lt_tensor_t *col = lt__tensor_new(x->arena, LT_F32, 2,
                                      (int64_t[]){g->c * g->kh * g->kw, g->n * g->oh * g->ow});
    if (col) dev->k.im2col(dev->state, g, lt__f32(x), lt__f32(col));
    return col;
}

/* y = conv2d(x, w) + b: the accelerator's direct convolution when it takes the shape,
 * else im2col, GEMM and swap_add. Returns col for the backward (NULL on the direct path,
 * which needs none) and sets *ok. */
static lt_tensor_t *conv_forward_kernels(lt_device_t *dev, const lt_window2d *g, int64_t groups,
                                         lt_tensor_t *x, lt_tensor_t *w, lt_tensor_t *b,
                                         lt_tensor_t *y, bool *ok) {
    int64_t o = w->shape[0], p = g->oh * g->ow;
    *ok = dev->k.conv2d && dev->k.conv2d(dev->state, g, groups, o, lt__f32(x), lt__f32(w),
                                         b ? lt__f32(b) : NULL, lt__f32(y)) == 0;
    if (*ok) return NULL;
    lt_tensor_t *col = unfold(dev, g, x);
    lt_tensor_t *y2 = col ? lt__tensor_new(x->arena, LT_F32, 2, (int64_t[]){o, g->n * p}) : NULL;
    lt_tensor_t *add = y2 && !b ? lt_zeros(x->arena, LT_F32, 0, NULL) : b;
    if (!y2 || !add) return NULL;
    const int64_t add_s[3] = {0, b ? 1 : 0, 0};
    grouped_gemm(dev, g, groups, o, lt__f32(w), lt__f32(col), lt__f32(y2));
    swap_add(dev, g->n, o, p, lt__f32(y2), lt__f32(add), add_s, lt__f32(y));
    *ok = true;
    return col;
}

/* ---- backward ------------------------------------------------------------------------- */

void lt__conv_weight_grad(lt_device_t *dev, lt_arena_t *arena, int64_t groups, lt_tensor_t *w,
                          const lt_tensor_t *a, const lt_tensor_t *b) {
    int64_t r = w->shape[0] / groups, k = w->numel / w->shape[0], np = b->shape[1];
    bool first = true; /* beta 0: a temporary, or the step's first gradient in w's grad */
    bool in_place = w->persistent && lt__grad_overwrite(w, &first);
    lt_tensor_t *dw = in_place ? w->grad : lt__tensor_new(arena, LT_F32, w->ndim, w->shape);
    if (!dw) return;
    for (int64_t gi = 0; gi < groups; gi++)
        dev->k.gemm(dev->state, 0, 1, r, k, np, 1.0f, lt__f32(a) + gi * r * np, np,
                    lt__f32(b) + gi * k * np, np, first ? 0.0f : 1.0f, lt__f32(dw) + gi * r * k, k);
    if (!in_place) lt__accum_grad(w, dw);
}

/* x's gradient: dcol (G*K, N*P) = w^T g2 per group, folded back by col2im. */
static lt_tensor_t *input_grad(lt_device_t *dev, const lt_window2d *g, int64_t groups,
                               lt_tensor_t *x, lt_tensor_t *w, lt_tensor_t *g2) {
    int64_t o = w->shape[0], og = o / groups, k = w->numel / o, np = g->n * g->oh * g->ow;
    lt_tensor_t *dcol = lt__tensor_new(g2->arena, LT_F32, 2, (int64_t[]){groups * k, np});
    lt_tensor_t *dx = dcol ? lt__tensor_new(g2->arena, LT_F32, x->ndim, x->shape) : NULL;
    if (!dx) return NULL;
    for (int64_t gi = 0; gi < groups; gi++)
        dev->k.gemm(dev->state, 1, 0, k, np, og, 1.0f, lt__f32(w) + gi * og * k, k,
                    lt__f32(g2) + gi * og * np, np, 0.0f, lt__f32(dcol) + gi * k * np, np);
    dev->k.col2im(dev->state, g, lt__f32(dcol), lt__f32(dx));
    return dx;
}

/* What the backward still has to compute, and what it has computed. */
typedef struct conv_grads {
    bool want_w, want_b, want_x;
    lt_tensor_t *dw, *db, *dx;
} conv_grads;

/* The accelerator's direct backward slots, for the gradients they take; the rest stay
 * wanted for the im2col path. */
static void direct_grads(lt_device_t *dev, const lt_window2d *g, int64_t groups, lt_tensor_t *x,
                         lt_tensor_t *w, lt_tensor_t *gy, conv_grads *r) {
    int64_t o = w->shape[0];
    lt_arena_t *a = gy->arena;
    if (r->want_w && dev->k.conv2d_bwd_weights) {
        lt_tensor_t *dw = lt__tensor_new(a, LT_F32, w->ndim, w->shape);
        lt_tensor_t *db = dw && r->want_b ? lt__tensor_new(a, LT_F32, 1, &o) : NULL;
        if (dw && (db || !r->want_b) &&
            dev->k.conv2d_bwd_weights(dev->state, g, groups, o, lt__f32(x), lt__f32(gy),
                                      lt__f32(dw), db ? lt__f32(db) : NULL) == 0) {
            r->dw = dw, r->db = db, r->want_w = false, r->want_b = false;
        }
    }
    if (r->want_x && dev->k.conv2d_bwd_data) {
        lt_tensor_t *dx = lt__tensor_new(a, LT_F32, x->ndim, x->shape);
        if (dx && dev->k.conv2d_bwd_data(dev->state, g, groups, o, lt__f32(gy), lt__f32(w),
                                         lt__f32(dx)) == 0)
            r->dx = dx, r->want_x = false;
    }
}

/* The gradients the direct slots left, through g2 (O, N*P) = gy transposed and GEMMs;
 * col is the forward's, or unfolded again when the forward ran the direct path. */
static void im2col_grads(lt_device_t *dev, const lt_window2d *g, int64_t groups, lt_tensor_t *x,
                         lt_tensor_t *w, lt_tensor_t *col, lt_tensor_t *gy, conv_grads *r) {
    int64_t o = w->shape[0], p = g->oh * g->ow, zs[3] = {0, 0, 0};
    if (!r->want_w && !r->want_b && !r->want_x) return;
    lt_tensor_t *g2 = lt__tensor_new(gy->arena, LT_F32, 2, (int64_t[]){o, g->n * p});
    lt_tensor_t *zero = lt_zeros(gy->arena, LT_F32, 0, NULL);
    if (!g2 || !zero) return;
    swap_add(dev, o, g->n, p, lt__f32(gy), lt__f32(zero), zs, lt__f32(g2));
    if (r->want_w && (col || (col = unfold(dev, g, x))))
        lt__conv_weight_grad(dev, gy->arena, groups, w, g2, col);
    if (r->want_b && (r->db = lt__tensor_new(gy->arena, LT_F32, 1, &o)))
        dev->k.reduce_sum(dev->state, o, g->n * p, 1, lt__f32(g2), 1.0f, lt__f32(r->db));
    if (r->want_x) r->dx = input_grad(dev, g, groups, x, w, g2);
}

static void conv_bw(lt_node *n, lt_tensor_t *gy) {
    lt_tensor_t *x = n->in[0], *w = n->in[1], *b = n->in[2], *col = n->saved;
    lt_window2d g = window_of(x, w, n);
    int64_t groups = n->i, o = w->shape[0], k = w->numel / o, cols = g.n * g.oh * g.ow;
    lt_device_t *dev = lt__dev(gy);
    conv_grads r = {
        .want_w = w->requires_grad, .want_b = b && b->requires_grad, .want_x = x->requires_grad};
    LT_PROF_SPAN(dev, "conv2d_backward", 2.0 * conv_flops(&g, o, groups) + (double)gy->numel,
                 LT_F32B(2 * gy->numel + 2 * groups * k * cols + x->numel + 2 * w->numel), {
                     direct_grads(dev, &g, groups, x, w, gy, &r);
                     im2col_grads(dev, &g, groups, x, w, col, gy, &r);
                 });
    if (r.dw) lt__accum_grad(w, r.dw);
    if (r.db) lt__accum_grad(b, r.db);
    if (r.dx) lt__accum_grad(x, r.dx);
}

/* ---- the op -------------------------------------------------------------------------- */

lt_tensor_t *lt_conv2d_op(lt_tensor_t *x, lt_tensor_t *w, lt_tensor_t *b, const lt_conv2d_opts *o) {
    if (!lt__check_f32(x, "lt_conv2d") || !lt__check_f32(w, "lt_conv2d")) return NULL;
    if (b && !lt__check_f32(b, "lt_conv2d")) return NULL;
    lt_conv2d_opts defaults = LT_CONV2D_OPTS();
    if (!o) o = &defaults;
    if (!opts_ok(o)) return NULL;
    int64_t groups = or_one(o->groups);
    lt_window2d g;
    if (!conv_shapes_ok(x, w, b, groups) || !conv_window(x, w, o, &g)) return NULL;
    lt_device_t *dev = lt__dev(x);
    if (!LT_NEED_SLOT(dev, im2col, "lt_conv2d") || !LT_NEED_SLOT(dev, col2im, "lt_conv2d"))
        return NULL;
    int64_t oc = w->shape[0], cols = g.n * g.oh * g.ow;
    lt_tensor_t *y = lt__tensor_new(x->arena, LT_F32, 4, (int64_t[]){g.n, oc, g.oh, g.ow}), *col;
    if (!y) return NULL;
    bool ok = false;
    LT_PROF_SPAN(dev, "conv2d", conv_flops(&g, oc, groups) + (double)y->numel,
                 LT_F32B(x->numel + 2 * (w->numel / oc * groups) * cols + w->numel + 2 * y->numel),
                 col = conv_forward_kernels(dev, &g, groups, x, w, b, y, &ok));
    if (!ok) return NULL;
    lt_node *n = lt__record(y, conv_bw, x, w, b);
    if (n) {
        n->saved = col;
        save_window(n, &g, groups);
    }
    return y;
}
