/* 2-D transposed convolution as torch.nn.functional.conv_transpose2d computes it: the
 * input gradient of a conv2d, made of the same slots run the other way. A strided
 * binary add moves x (N, Cin, P) into (Cin, N*P), one GEMM per group spreads each input
 * pixel over a window of columns (w^T x), and col2im folds the columns into the larger
 * output. The backward is conv2d's forward: im2col of the output's gradient, then one
 * GEMM per group for x's gradient and one for w's.
 * Shapes: x (N, Cin, H, W), w (Cin, Cout/G, kh, kw), b (Cout), y (N, Cout, OH, OW),
 * P = H * W, Q = OH * OW, K = Cout/G * kh * kw per group, col (G*K, N*P), and
 * OH = (H - 1) sh - 2 ph + dh (kh - 1) + oph + 1 (likewise OW).
 * The window passed to im2col/col2im is the one of the conv2d whose input is y and
 * whose output is x: it reads y's rows oy*sh - ph + i*dh for x's row oy. */
#include <stdio.h>

#include "lt_impl.h"

#define OP "lt_conv_transpose2d"

static int64_t or_one(int64_t v) { return v > 0 ? v : 1; }

/* ---- geometry ------------------------------------------------------------------------ */

/* The node's iv[] holds the window; n->i the groups; n->s is unused. */
static void save_window(lt_node *n, const lt_window2d *g, int64_t groups) {
    const int64_t v[8] = {g->sh, g->sw, g->ph, g->pw, g->dh, g->dw, g->h, g->w};
    for (int k = 0; k < 8; k++) n->iv[k] = v[k];
    n->i = groups;
}

static lt_window2d window_of(const lt_tensor_t *x, const lt_tensor_t *w, const lt_node *n) {
    return (lt_window2d){.n = x->shape[0],
                         .c = w->shape[1] * n->i,
                         .h = n->iv[6],
                         .w = n->iv[7],
                         .kh = w->shape[2],
                         .kw = w->shape[3],
                         .sh = n->iv[0],
                         .sw = n->iv[1],
                         .ph = n->iv[2],
                         .pw = n->iv[3],
                         .dh = n->iv[4],
                         .dw = n->iv[5],
                         .oh = x->shape[2],
                         .ow = x->shape[3]};
}

static bool opts_ok(const lt_conv_transpose2d_opts *o) {
    const char *why = NULL;
    if (o->struct_size < sizeof *o)
        why = "opts.struct_size is too small (make them with LT_CONV_TRANSPOSE2D_OPTS)";
    for (int k = 0; k < 2 && !why; k++) {
        if (o->stride[k] < 0 || o->dilation[k] < 0 || o->groups < 0)
            why = "stride, dilation and groups must be positive (0 means 1)";
        else if (o->padding[k] < 0 || o->output_padding[k] < 0)
            why = "padding and output_padding must be >= 0";
        else if (o->output_padding[k] >= or_one(o->stride[k]) &&
                 o->output_padding[k] >= or_one(o->dilation[k]))
            why = "output_padding must be smaller than either stride or dilation, as in torch";
    }
    if (why) lt_set_error(LT_ERR_INVALID_ARG, OP ": %s", why);
    return !why;
}

static bool shapes_ok(const lt_tensor_t *x, const lt_tensor_t *w, const lt_tensor_t *b,
                      int64_t groups) {
    char sx[96], sw[96];
    if (x->ndim == 4 && w->ndim == 4 && x->shape[1] == w->shape[0] && w->shape[0] % groups == 0 &&
        (!b || (b->ndim == 1 && b->shape[0] == w->shape[1] * groups)))
        return true;
    lt_set_error(LT_ERR_SHAPE,
                 OP ": input %s does not match weight %s with groups=%lld (expected x (N, Cin, H, "
                    "W), weight (Cin, Cout/groups, kh, kw), Cin a multiple of groups, bias (Cout))",
                 lt__shape_str(x, sx, sizeof sx), lt__shape_str(w, sw, sizeof sw),
                 (long long)groups);
    return false;
}

/* One axis's output size, or false when it is not positive or absurdly large. */
static bool out_size(int64_t in, int64_t k, int64_t s, int64_t p, int64_t d, int64_t op,
                     int64_t *out) {
    if (k > ((int64_t)1 << 20) || s > ((int64_t)1 << 20) || d > ((int64_t)1 << 20) ||
        p > ((int64_t)1 << 30) || in > ((int64_t)1 << 30))
        return false;
    *out = (in - 1) * s - 2 * p + d * (k - 1) + op + 1;
    return *out > 0;
}

/* The window (y as the conv2d's input, x as its output), or false with an error. */
static bool window(const lt_tensor_t *x, const lt_tensor_t *w, const lt_conv_transpose2d_opts *o,
                   int64_t groups, lt_window2d *g) {
    *g = (lt_window2d){.n = x->shape[0],
                       .c = w->shape[1] * groups,
                       .kh = w->shape[2],
                       .kw = w->shape[3],
                       .sh = or_one(o->stride[0]),
                       .sw = or_one(o->stride[1]),
                       .ph = o->padding[0],
                       .pw = o->padding[1],
                       .dh = or_one(o->dilation[0]),
                       .dw = or_one(o->dilation[1]),
                       .oh = x->shape[2],
                       .ow = x->shape[3]};
    if (out_size(g->oh, g->kh, g->sh, g->ph, g->dh, o->output_padding[0], &g->h) &&
        out_size(g->ow, g->kw, g->sw, g->pw, g->dw, o->output_padding[1], &g->w))
        return true;
    char sx[96], sw[96];
    lt_set_error(LT_ERR_SHAPE,
                 OP ": input %s with weight %s, stride %lldx%lld and padding %lldx%lld gives an "
                    "empty or oversized output; lower the padding",
                 lt__shape_str(x, sx, sizeof sx), lt__shape_str(w, sw, sizeof sw), (long long)g->sh,
                 (long long)g->sw, (long long)o->padding[0], (long long)o->padding[1]);
    return false;
}

/* ---- kernels --------------------------------------------------------------------------- */

/* The GEMMs' work, the same as the conv2d's: 2 Cin K N P. */
static double flops_of(const lt_window2d *g, int64_t cin, int64_t groups) {
    return 2.0 * (double)cin * (double)(g->c / groups * g->kh * g->kw) *
           (double)(g->n * g->oh * g->ow);
}

/* dst (A, B, P) = src (B, A, P) with its first two dimensions swapped. */
static void swap01(lt_device_t *dev, int64_t a, int64_t b, int64_t p, const float *src,
                   const float *zero, float *dst) {
    lt_bcast bc = {.ndim = 3, .shape = {a, b, p}, .a_stride = {0, 0, 0}, .b_stride = {p, a * p, 1}};
    dev->k.binary(dev->state, LT_BIN_ADD, a * b * p, zero, src, dst, &bc);
}

/* col (G*K, N*P) = w^T x2 per group: w (Cin/G, K) and x2 (Cin/G, N*P) of each group. */
static void spread(lt_device_t *dev, const lt_window2d *g, int64_t groups, int64_t cin,
                   const float *w, const float *x2, float *col) {
    int64_t cg = cin / groups, k = g->c / groups * g->kh * g->kw, np = g->n * g->oh * g->ow;
    for (int64_t gi = 0; gi < groups; gi++)
        dev->k.gemm(dev->state, 1, 0, k, np, cg, 1.0f, w + gi * cg * k, k, x2 + gi * cg * np, np,
                    0.0f, col + gi * k * np, np);
}

/* y (N, Cout, Q) += b (Cout), in place. */
static void add_bias(lt_device_t *dev, const lt_window2d *g, const float *b, float *y) {
    int64_t q = g->h * g->w;
    lt_bcast bc = {
        .ndim = 3, .shape = {g->n, g->c, q}, .a_stride = {g->c * q, q, 1}, .b_stride = {0, 1, 0}};
    dev->k.binary(dev->state, LT_BIN_ADD, g->n * g->c * q, y, b, y, &bc);
}

/* ---- backward ---------------------------------------------------------------------------- */

/* x's gradient: dx2 (Cin/G, N*P) = w (Cin/G, K) @ dcol per group, then back to (N, Cin, P). */
static lt_tensor_t *input_grad(lt_device_t *dev, const lt_window2d *g, int64_t groups,
                               const lt_tensor_t *x, const lt_tensor_t *w, const lt_tensor_t *dcol,
                               const float *zero) {
    int64_t cin = w->shape[0], cg = cin / groups, k = w->numel / cin, np = g->n * g->oh * g->ow;
    lt_tensor_t *dx2 = lt__tensor_new(dcol->arena, LT_F32, 2, (int64_t[]){cin, np});
    lt_tensor_t *dx = dx2 ? lt__tensor_new(dcol->arena, LT_F32, x->ndim, x->shape) : NULL;
    if (!dx) return NULL;
    for (int64_t gi = 0; gi < groups; gi++)
        dev->k.gemm(dev->state, 0, 0, cg, np, k, 1.0f, lt__f32(w) + gi * cg * k, k,
                    lt__f32(dcol) + gi * k * np, np, 0.0f, lt__f32(dx2) + gi * cg * np, np);
    swap01(dev, g->n, cin, g->oh * g->ow, lt__f32(dx2), zero, lt__f32(dx));
    return dx;
}

/* b's gradient: gy (N, Cout, Q) summed over N and Q, through a (N, Cout) partial sum. */
static lt_tensor_t *bias_grad(lt_device_t *dev, const lt_window2d *g, const lt_tensor_t *gy) {
    int64_t nc = g->n * g->c;
    lt_tensor_t *part = lt__tensor_new(gy->arena, LT_F32, 1, &nc);
    lt_tensor_t *db = part ? lt__tensor_new(gy->arena, LT_F32, 1, &g->c) : NULL;
    if (!db) return NULL;
    dev->k.reduce_sum(dev->state, nc, g->h * g->w, 1, lt__f32(gy), 1.0f, lt__f32(part));
    dev->k.reduce_sum(dev->state, 1, g->n, g->c, lt__f32(part), 1.0f, lt__f32(db));
    return db;
}

/* What the backward still has to compute, and what it has computed. */
typedef struct ct_grads {
    bool want_w, want_x;
    lt_tensor_t *dw, *dx;
} ct_grads;

/* The conv2d slots with the roles swapped (gy is the conv2d's input, x its output
 * gradient): dx = conv2d(gy, w) and dw = conv2d's weight gradient; what they decline
 * stays wanted for the im2col path. */
static void direct_grads(lt_device_t *dev, const lt_window2d *g, int64_t groups,
                         const lt_tensor_t *x, const lt_tensor_t *w, const lt_tensor_t *gy,
                         ct_grads *r) {
    int64_t cin = w->shape[0];
    if (r->want_x && dev->k.conv2d) {
        lt_tensor_t *dx = lt__tensor_new(gy->arena, LT_F32, x->ndim, x->shape);
        if (dx && dev->k.conv2d(dev->state, g, groups, cin, lt__f32(gy), lt__f32(w), NULL,
                                lt__f32(dx)) == 0)
            r->dx = dx, r->want_x = false;
    }
    if (r->want_w && dev->k.conv2d_bwd_weights) {
        lt_tensor_t *dw = lt__tensor_new(gy->arena, LT_F32, w->ndim, w->shape);
        if (dw && dev->k.conv2d_bwd_weights(dev->state, g, groups, cin, lt__f32(gy), lt__f32(x),
                                            lt__f32(dw), NULL) == 0)
            r->dw = dw, r->want_w = false;
    }
}

/* The gradients the direct slots left, through the unfolded gy; x2 is the forward's
 * (Cin, N*P) copy of x, or made again when the forward ran the direct path. */
static void im2col_grads(lt_device_t *dev, const lt_window2d *g, int64_t groups,
                         const lt_tensor_t *x, lt_tensor_t *w, lt_tensor_t *x2,
                         const lt_tensor_t *gy, ct_grads *r) {
    if (!r->want_w && !r->want_x) return;
    int64_t cin = w->shape[0], np = g->n * g->oh * g->ow;
    lt_tensor_t *dcol = lt__tensor_new(gy->arena, LT_F32, 2, (int64_t[]){g->c * g->kh * g->kw, np});
    lt_tensor_t *zero = dcol ? lt_zeros(gy->arena, LT_F32, 0, NULL) : NULL;
    if (!zero) return;
    dev->k.im2col(dev->state, g, lt__f32(gy), lt__f32(dcol));
    if (r->want_w && !x2 && (x2 = lt__tensor_new(gy->arena, LT_F32, 2, (int64_t[]){cin, np})))
        swap01(dev, cin, g->n, g->oh * g->ow, lt__f32(x), lt__f32(zero), lt__f32(x2));
    if (r->want_w && x2) lt__conv_weight_grad(dev, gy->arena, groups, w, x2, dcol);
    if (r->want_x) r->dx = input_grad(dev, g, groups, x, w, dcol, lt__f32(zero));
}

static void conv_transpose_bw(lt_node *n, lt_tensor_t *gy) {
    lt_tensor_t *x = n->in[0], *w = n->in[1], *b = n->in[2], *db = NULL;
    lt_window2d g = window_of(x, w, n);
    int64_t groups = n->i, cin = w->shape[0], k = g.c * g.kh * g.kw, np = g.n * g.oh * g.ow;
    lt_device_t *dev = lt__dev(gy);
    ct_grads r = {.want_w = w->requires_grad, .want_x = x->requires_grad};
    LT_PROF_SPAN(dev, "conv_transpose2d_backward",
                 2.0 * flops_of(&g, cin, groups) + (double)gy->numel,
                 LT_F32B(2 * gy->numel + 2 * k * np + 2 * x->numel + 2 * w->numel), {
                     direct_grads(dev, &g, groups, x, w, gy, &r);
                     im2col_grads(dev, &g, groups, x, w, n->saved, gy, &r);
                     if (b && b->requires_grad) db = bias_grad(dev, &g, gy);
                 });
    if (r.dw) lt__accum_grad(w, r.dw);
    if (db) lt__accum_grad(b, db);
    if (r.dx) lt__accum_grad(x, r.dx);
}

/* ---- the op ---------------------------------------------------------------------------- */

static void forward_kernels(lt_device_t *dev, const lt_window2d *g, int64_t groups,
                            const lt_tensor_t *x, const lt_tensor_t *w, const lt_tensor_t *b,
                            const float *zero, lt_tensor_t *x2, lt_tensor_t *col, lt_tensor_t *y) {
    int64_t cin = x->shape[1];
    swap01(dev, cin, g->n, g->oh * g->ow, lt__f32(x), zero, lt__f32(x2));
    spread(dev, g, groups, cin, lt__f32(w), lt__f32(x2), lt__f32(col));
    dev->k.col2im(dev->state, g, lt__f32(col), lt__f32(y));
    if (b) add_bias(dev, g, lt__f32(b), lt__f32(y));
}

/* y through the accelerator's conv2d_bwd_data slot (the transposed convolution is
 * conv2d's input gradient, x in the role of dy), else im2col's way, leaving *x2 the
 * (Cin, N*P) copy of x the backward's weight gradient reuses. */
static lt_tensor_t *run_forward(lt_device_t *dev, const lt_window2d *g, int64_t groups,
                                const lt_tensor_t *x, const lt_tensor_t *w, const lt_tensor_t *b,
                                lt_tensor_t **x2) {
    int64_t cin = x->shape[1], np = g->n * g->oh * g->ow;
    lt_tensor_t *y = lt__tensor_new(x->arena, LT_F32, 4, (int64_t[]){g->n, g->c, g->h, g->w});
    lt_tensor_t *zero = y ? lt_zeros(x->arena, LT_F32, 0, NULL) : NULL;
    if (!zero) return NULL;
    if (dev->k.conv2d_bwd_data) {
        bool done = false;
        LT_PROF_SPAN(dev, "conv_transpose2d", flops_of(g, cin, groups) + (double)(b ? y->numel : 0),
                     LT_F32B(x->numel + w->numel + (b ? 3 : 1) * y->numel), {
                         done = dev->k.conv2d_bwd_data(dev->state, g, groups, cin, lt__f32(x),
                                                       lt__f32(w), lt__f32(y)) == 0;
                         if (done && b) add_bias(dev, g, lt__f32(b), lt__f32(y));
                     });
        if (done) return y;
    }
    *x2 = lt__tensor_new(x->arena, LT_F32, 2, (int64_t[]){cin, np});
    lt_tensor_t *col =
        *x2 ? lt__tensor_new(x->arena, LT_F32, 2, (int64_t[]){g->c * g->kh * g->kw, np}) : NULL;
    if (!col) return NULL;
    LT_PROF_SPAN(dev, "conv_transpose2d", flops_of(g, cin, groups) + (double)(b ? y->numel : 0),
                 LT_F32B(3 * x->numel + 2 * col->numel + w->numel + (b ? 3 : 1) * y->numel),
                 forward_kernels(dev, g, groups, x, w, b, lt__f32(zero), *x2, col, y));
    return y;
}

lt_tensor_t *lt_conv_transpose2d_op(lt_tensor_t *x, lt_tensor_t *w, lt_tensor_t *b,
                                    const lt_conv_transpose2d_opts *o) {
    if (!lt__check_f32(x, OP) || !lt__check_f32(w, OP)) return NULL;
    if (b && !lt__check_f32(b, OP)) return NULL;
    lt_conv_transpose2d_opts defaults = LT_CONV_TRANSPOSE2D_OPTS();
    if (!o) o = &defaults;
    if (!opts_ok(o)) return NULL;
    int64_t groups = or_one(o->groups);
    lt_window2d g;
    if (!shapes_ok(x, w, b, groups) || !window(x, w, o, groups, &g)) return NULL;
    lt_device_t *dev = lt__dev(x);
    if (!LT_NEED_SLOT(dev, im2col, OP) || !LT_NEED_SLOT(dev, col2im, OP)) return NULL;
    lt_tensor_t *x2 = NULL;
    lt_tensor_t *y = run_forward(dev, &g, groups, x, w, b, &x2);
    if (!y) return NULL;
    lt_node *n = lt__record(y, conv_transpose_bw, x, w, b);
    if (n) {
        n->saved = x2;
        save_window(n, &g, groups);
    }
    return y;
}
