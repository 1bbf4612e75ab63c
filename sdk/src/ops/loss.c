/* Softmax family, losses and metrics (last dimension = classes). */
#include "lt_impl.h"

/* FLOPs per element, for the profiler: max, subtract, exp, sum, divide (or log and
 * subtract), and for the backward multiply, sum, subtract, multiply. */
#define SOFTMAX_FLOPS 5.0
#define SOFTMAX_BWD_FLOPS 4.0

static bool rows_cols(const lt_tensor_t *x, const char *name, int64_t *rows, int64_t *cols) {
    if (!lt__check_f32(x, name)) return false;
    if (x->ndim < 1 || x->shape[x->ndim - 1] == 0) {
        lt_set_error(LT_ERR_SHAPE, "%s: needs a tensor with a non-empty last dimension", name);
        return false;
    }
    *cols = x->shape[x->ndim - 1];
    *rows = x->numel / *cols;
    return true;
}

static void softmax_bw(lt_node *n, lt_tensor_t *g) {
    lt_tensor_t *x = n->in[0], *dx = lt__tensor_new(g->arena, LT_F32, x->ndim, x->shape);
    if (!dx) return;
    int64_t cols = x->shape[x->ndim - 1], rows = x->numel / cols;
    lt_device_t *dev = lt__dev(g);
    const float *y = lt__f32(n->out), *dy = lt__f32(g);
    /* the two slots share a signature: pick one, call it */
    LT_PROF_SPAN(dev, n->i ? "log_softmax_backward" : "softmax_backward",
                 SOFTMAX_BWD_FLOPS * x->numel, LT_F32B(3 * x->numel),
                 (n->i ? dev->k.log_softmax_bwd : dev->k.softmax_bwd)(dev->state, rows, cols, y, dy,
                                                                      lt__f32(dx)));
    lt__accum_grad(x, dx);
}

static lt_tensor_t *softmax_op(lt_tensor_t *x, bool log, const char *name) {
    int64_t rows, cols;
    if (!rows_cols(x, name, &rows, &cols)) return NULL;
    lt_tensor_t *y = lt__tensor_new(x->arena, LT_F32, x->ndim, x->shape);
    if (!y) return NULL;
    lt_device_t *dev = lt__dev(x);
    LT_PROF_SPAN(dev, log ? "log_softmax" : "softmax", SOFTMAX_FLOPS * x->numel,
                 LT_F32B(2 * x->numel),
                 (log ? dev->k.log_softmax : dev->k.softmax)(dev->state, rows, cols, lt__f32(x),
                                                             lt__f32(y)));
    lt_node *n = lt__record(y, softmax_bw, x, NULL, NULL);
    if (n) n->i = log;
    return y;
}

lt_tensor_t *lt_softmax(lt_tensor_t *x) { return softmax_op(x, false, "lt_softmax"); }
lt_tensor_t *lt_log_softmax(lt_tensor_t *x) { return softmax_op(x, true, "lt_log_softmax"); }

/* logits (N, C) and labels (N) int64, checked; false with an error set otherwise. */
static bool check_labels(const lt_tensor_t *logits, const lt_tensor_t *labels, const char *name) {
    if (!logits || !lt__check_live(labels, name) || !lt__check_f32(logits, name)) return false;
    char sl[96], sy[96];
    if (labels->dtype != LT_I64) {
        lt_set_error(LT_ERR_DTYPE, "%s: labels must be int64 class indices, got %s", name,
                     lt_dtype_name(labels->dtype));
        return false;
    }
    if (logits->ndim != 2 || labels->ndim != 1 || labels->shape[0] != logits->shape[0]) {
        lt_set_error(LT_ERR_SHAPE, "%s: expected logits (N, C) and labels (N), got %s and %s", name,
                     lt__shape_str(logits, sl, sizeof sl), lt__shape_str(labels, sy, sizeof sy));
        return false;
    }
    return true;
}

static void cross_entropy_bw(lt_node *n, lt_tensor_t *g) {
    lt_tensor_t *x = n->in[0], *dx = lt__tensor_new(g->arena, LT_F32, x->ndim, x->shape);
    if (!dx) return;
    lt_device_t *dev = lt__dev(g);
    /* prob - onehot, times the row's gradient; reads prob, labels, dloss, writes dx */
    LT_KCALL(dev, "cross_entropy_backward", 2.0 * x->numel,
             LT_F32B(2 * x->numel + x->shape[0]) + 8.0 * x->shape[0], cross_entropy_bwd,
             x->shape[0], x->shape[1], lt__f32(n->saved), (const int64_t *)lt__data(n->in[1]),
             lt__f32(g), lt__f32(dx));
    lt__accum_grad(x, dx);
}

lt_tensor_t *lt_cross_entropy(lt_tensor_t *logits, lt_tensor_t *labels) {
    if (logits && logits->ndim > 2) { /* (N, C, d1..dK): the same loss over its rows */
        lt_tensor_t *rows, *flat;
        if (!lt__class_rows(logits, labels, &rows, &flat, "lt_cross_entropy")) return NULL;
        return lt_cross_entropy(rows, flat);
    }
    if (!check_labels(logits, labels, "lt_cross_entropy")) return NULL;
    int64_t rows = logits->shape[0], cols = logits->shape[1];
    lt_tensor_t *loss = lt__tensor_new(logits->arena, LT_F32, 1, &rows);
    lt_tensor_t *prob = lt__tensor_new(logits->arena, LT_F32, 2, logits->shape);
    if (!loss || !prob) return NULL;
    lt_device_t *dev = lt__dev(logits);
    int64_t bad; /* the first row whose label is out of range, or -1 */
    /* a softmax per row plus picking the label's log; reads logits and labels, writes
     * prob and the per-row loss */
    LT_PROF_SPAN(dev, "cross_entropy", SOFTMAX_FLOPS * logits->numel + rows,
                 LT_F32B(2 * logits->numel + rows) + 8.0 * rows,
                 bad = dev->k.cross_entropy(dev->state, rows, cols, lt__f32(logits),
                                            (const int64_t *)lt__data(labels), lt__f32(loss),
                                            lt__f32(prob)));
    if (bad >= 0) {
        int64_t label = -1;
        LT_K(labels).memcpy_d2h(LT_KST(labels), &label, (const int64_t *)lt__data(labels) + bad,
                                sizeof label);
        lt_set_error(LT_ERR_INVALID_ARG,
                     "lt_cross_entropy: label %lld of sample %lld is outside "
                     "[0, %lld): the data's classes do not match the model's outputs",
                     (long long)label, (long long)bad, (long long)cols);
        return NULL;
    }
    lt_node *n = lt__record(loss, cross_entropy_bw, logits, labels, NULL);
    if (n) n->saved = prob;
    return lt_mean(loss);
}

lt_tensor_t *lt_mse_loss(lt_tensor_t *a, lt_tensor_t *b) {
    if (a && b && !lt__same_shape(a, b)) {
        char sa[96], sb[96];
        lt_set_error(LT_ERR_SHAPE, "lt_mse_loss: input %s and target %s differ in shape",
                     lt__shape_str(a, sa, sizeof sa), lt__shape_str(b, sb, sizeof sb));
        return NULL;
    }
    lt_tensor_t *d = lt_sub(a, b);
    return lt_mean(lt_mul(d, d));
}

lt_tensor_t *lt_argmax(lt_tensor_t *x) {
    int64_t rows, cols;
    if (!rows_cols(x, "lt_argmax", &rows, &cols)) return NULL;
    lt_tensor_t *idx = lt__tensor_new(x->arena, LT_I64, x->ndim - 1, x->shape);
    if (!idx) return NULL;
    lt_device_t *dev = lt__dev(x);
    LT_KCALL(dev, "argmax", x->numel, LT_F32B(x->numel) + 8.0 * rows, argmax, rows, cols,
             lt__f32(x), (int64_t *)lt__data(idx));
    return idx;
}

lt_tensor_t *lt_accuracy(lt_tensor_t *logits, lt_tensor_t *labels) {
    if (!check_labels(logits, labels, "lt_accuracy")) return NULL;
    lt_tensor_t *pred = lt_argmax(logits);
    if (!pred) return NULL;
    lt_tensor_t *hit = lt__tensor_new(logits->arena, LT_F32, 1, labels->shape);
    if (!hit) return NULL;
    lt_device_t *dev = lt__dev(labels);
    LT_KCALL(dev, "eq", hit->numel, 16.0 * hit->numel + LT_F32B(hit->numel), eq_i64, hit->numel,
             (const int64_t *)lt__data(pred), (const int64_t *)lt__data(labels), lt__f32(hit));
    return lt_mean(hit); /* hit needs no grad, so nothing is recorded */
}
