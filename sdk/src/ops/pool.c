/* 2-D pooling as torch.nn.functional computes it: max_pool2d (with its argmax kept for
 * the backward), avg_pool2d and adaptive_avg_pool2d, all through the pool2d and
 * pool2d_bwd slots. Shapes: x (N, C, H, W) -> (N, C, OH, OW). */
#include "lt_impl.h"

static const char *const pool_names[] = {
    [LT_POOL_MAX] = "max_pool2d",
    [LT_POOL_AVG] = "avg_pool2d",
    [LT_POOL_AVG_NOPAD] = "avg_pool2d",
    [LT_POOL_ADAPTIVE_AVG] = "adaptive_avg_pool2d",
};
static const char *const pool_bwd_names[] = {
    [LT_POOL_MAX] = "max_pool2d_backward",
    [LT_POOL_AVG] = "avg_pool2d_backward",
    [LT_POOL_AVG_NOPAD] = "avg_pool2d_backward",
    [LT_POOL_ADAPTIVE_AVG] = "adaptive_avg_pool2d_backward",
};

/* The node keeps the window: iv[] = kh, kw, sh, sw, ph, pw, dh, dw; i = the mode. */
static void save_window(lt_node *n, const lt_window2d *g, lt_pool_mode mode) {
    const int64_t v[8] = {g->kh, g->kw, g->sh, g->sw, g->ph, g->pw, g->dh, g->dw};
    for (int k = 0; k < 8; k++) n->iv[k] = v[k];
    n->i = mode;
}

static void pool_bw(lt_node *n, lt_tensor_t *gy) {
    lt_tensor_t *x = n->in[0];
    lt_window2d g = {.n = x->shape[0],
                     .c = x->shape[1],
                     .h = x->shape[2],
                     .w = x->shape[3],
                     .kh = n->iv[0],
                     .kw = n->iv[1],
                     .sh = n->iv[2],
                     .sw = n->iv[3],
                     .ph = n->iv[4],
                     .pw = n->iv[5],
                     .dh = n->iv[6],
                     .dw = n->iv[7],
                     .oh = gy->shape[2],
                     .ow = gy->shape[3]};
    lt_pool_mode mode = (lt_pool_mode)n->i;
    lt_tensor_t *dx = lt__tensor_new(gy->arena, LT_F32, x->ndim, x->shape);
    if (!dx) return;
    lt_device_t *dev = lt__dev(gy);
    const int64_t *idx = n->saved ? (const int64_t *)lt__data(n->saved) : NULL;
    LT_KCALL(dev, pool_bwd_names[mode], gy->numel,
             LT_F32B(gy->numel + x->numel) + (idx ? 8.0 * (double)gy->numel : 0.0), pool2d_bwd,
             mode, &g, lt__f32(gy), idx, lt__f32(dx));
    lt__accum_grad(x, dx);
}

/* y = pool(x) over window g (its output size set); records the backward. */
static lt_tensor_t *pool(lt_tensor_t *x, lt_pool_mode mode, const lt_window2d *g, const char *op) {
    lt_device_t *dev = lt__dev(x);
    if (!LT_NEED_SLOT(dev, pool2d, op) || !LT_NEED_SLOT(dev, pool2d_bwd, op)) return NULL;
    int64_t shape[4] = {g->n, g->c, g->oh, g->ow};
    lt_tensor_t *y = lt__tensor_new(x->arena, LT_F32, 4, shape);
    lt_tensor_t *idx = y && mode == LT_POOL_MAX ? lt__tensor_new(x->arena, LT_I64, 4, shape) : NULL;
    if (!y || (mode == LT_POOL_MAX && !idx)) return NULL;
    double window = mode == LT_POOL_ADAPTIVE_AVG ? (double)(g->h * g->w) / (double)(g->oh * g->ow)
                                                 : (double)(g->kh * g->kw);
    LT_KCALL(dev, pool_names[mode], window * (double)y->numel,
             LT_F32B(x->numel + y->numel) + (idx ? 8.0 * (double)y->numel : 0.0), pool2d, mode, g,
             lt__f32(x), lt__f32(y), idx ? (int64_t *)lt__data(idx) : NULL);
    lt_node *n = lt__record(y, pool_bw, x, NULL, NULL);
    if (n) {
        n->saved = idx;
        save_window(n, g, mode);
    }
    return y;
}

static bool is_nchw(const lt_tensor_t *x, const char *op) {
    if (!lt__check_f32(x, op)) return false;
    if (x->ndim == 4 && x->shape[2] > 0 && x->shape[3] > 0) return true;
    char sx[96];
    lt_set_error(LT_ERR_SHAPE, "%s: expected an input (N, C, H, W), got %s", op,
                 lt__shape_str(x, sx, sizeof sx));
    return false;
}

/* torch's pooling_output_shape: floor or ceil, and a last window that would start in the
 * right padding is dropped. */
static int64_t pool_out(int64_t in, int64_t k, int64_t s, int64_t p, int64_t d, bool ceil_mode) {
    int64_t num = in + 2 * p - d * (k - 1) - 1 + (ceil_mode ? s - 1 : 0);
    if (num < 0) return 0;
    int64_t out = num / s + 1;
    if (ceil_mode && (out - 1) * s >= in + p) out--;
    return out;
}

static const char *pool_opts_problem(const lt_pool2d_opts *o) {
    if (!o || o->struct_size < sizeof *o)
        return "options missing or too small (make them with LT_POOL2D_OPTS(.kernel = {kh, kw}))";
    if (o->kernel[0] <= 0 || o->kernel[1] <= 0) return "kernel sizes must be positive";
    if (o->stride[0] < 0 || o->stride[1] < 0 || o->dilation[0] < 0 || o->dilation[1] < 0)
        return "stride and dilation must be positive (0: the default)";
    if (o->padding[0] < 0 || o->padding[1] < 0 || 2 * o->padding[0] > o->kernel[0] ||
        2 * o->padding[1] > o->kernel[1])
        return "padding must be >= 0 and at most half the kernel size, as torch requires";
    return NULL;
}

/* The window of a max or avg pool over x, or false with an error. */
static bool pool_window(const lt_tensor_t *x, const lt_pool2d_opts *o, bool dilated, const char *op,
                        lt_window2d *g) {
    const char *why = pool_opts_problem(o);
    if (why) {
        lt_set_error(LT_ERR_INVALID_ARG, "%s: %s", op, why);
        return false;
    }
    *g = (lt_window2d){.n = x->shape[0],
                       .c = x->shape[1],
                       .h = x->shape[2],
                       .w = x->shape[3],
                       .kh = o->kernel[0],
                       .kw = o->kernel[1],
                       .sh = o->stride[0] ? o->stride[0] : o->kernel[0],
                       .sw = o->stride[1] ? o->stride[1] : o->kernel[1],
                       .ph = o->padding[0],
                       .pw = o->padding[1],
                       .dh = dilated && o->dilation[0] ? o->dilation[0] : 1,
                       .dw = dilated && o->dilation[1] ? o->dilation[1] : 1};
    g->oh = pool_out(g->h, g->kh, g->sh, g->ph, g->dh, o->ceil_mode);
    g->ow = pool_out(g->w, g->kw, g->sw, g->pw, g->dw, o->ceil_mode);
    if (g->oh > 0 && g->ow > 0) return true;
    char sx[96];
    lt_set_error(LT_ERR_SHAPE, "%s: the %lldx%lld window does not fit the input %s", op,
                 (long long)g->kh, (long long)g->kw, lt__shape_str(x, sx, sizeof sx));
    return false;
}

lt_tensor_t *lt_max_pool2d(lt_tensor_t *x, const lt_pool2d_opts *o) {
    lt_window2d g;
    if (!is_nchw(x, "lt_max_pool2d") || !pool_window(x, o, true, "lt_max_pool2d", &g)) return NULL;
    return pool(x, LT_POOL_MAX, &g, "lt_max_pool2d");
}

lt_tensor_t *lt_avg_pool2d(lt_tensor_t *x, const lt_pool2d_opts *o) {
    lt_window2d g;
    if (!is_nchw(x, "lt_avg_pool2d") || !pool_window(x, o, false, "lt_avg_pool2d", &g)) return NULL;
    return pool(x, o->exclude_pad ? LT_POOL_AVG_NOPAD : LT_POOL_AVG, &g, "lt_avg_pool2d");
}

lt_tensor_t *lt_adaptive_avg_pool2d(lt_tensor_t *x, int64_t oh, int64_t ow) {
    if (!is_nchw(x, "lt_adaptive_avg_pool2d")) return NULL;
    if (oh <= 0 || ow <= 0) {
        lt_set_error(LT_ERR_INVALID_ARG,
                     "lt_adaptive_avg_pool2d: output size %lldx%lld must be "
                     "positive",
                     (long long)oh, (long long)ow);
        return NULL;
    }
    /* kh, kw: the largest window, for the FLOP count only. */
    lt_window2d g = {.n = x->shape[0],
                     .c = x->shape[1],
                     .h = x->shape[2],
                     .w = x->shape[3],
                     .kh = (x->shape[2] + oh - 1) / oh + 1,
                     .kw = (x->shape[3] + ow - 1) / ow + 1,
                     .sh = 1,
                     .sw = 1,
                     .dh = 1,
                     .dw = 1,
                     .oh = oh,
                     .ow = ow};
    return pool(x, LT_POOL_ADAPTIVE_AVG, &g, "lt_adaptive_avg_pool2d");
}
