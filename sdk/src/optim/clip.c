/* Gradient clipping over an optimizer's parameters, as torch.nn.utils.clip_grad_norm_
 * and clip_grad_value_ do (Lightning's gradient_clip_val / gradient_clip_algorithm). */
#include <math.h>

#include <string.h>

#include "lt_impl.h"

/* The kernels of grad_sq_sum: square into scratch, sum into scratch[numel], read it. */
static void sq_sum_kernels(lt_device_t *dev, lt_tensor_t *g, float *scratch, float *ss) {
    dev->k.unary(dev->state, LT_UN_SQUARE, g->numel, lt__f32(g), scratch);
    dev->k.reduce_sum(dev->state, 1, g->numel, 1, scratch, 1.0f, scratch + g->numel);
    dev->k.memcpy_d2h(dev->state, ss, scratch + g->numel, sizeof *ss);
}

/* Sum of squares of one gradient, on the device; scratch holds numel floats + 1. */
static double grad_sq_sum(lt_tensor_t *g, float *scratch) {
    lt_device_t *dev = lt__dev(g);
    float ss = 0.0f;
    LT_PROF_SPAN(dev, "clip_grad_norm", 2.0 * g->numel, LT_F32B(g->numel + 1),
                 sq_sum_kernels(dev, g, scratch, &ss));
    return (double)ss;
}

lt_status lt_clip_grad_norm(lt_optimizer_t *opt, double max_norm, double *total_norm) {
    const lt_param_list_t *l = opt ? lt__optimizer_params(opt) : NULL;
    if (!l || !(max_norm >= 0.0))
        return lt_set_error(LT_ERR_INVALID_ARG,
                            "lt_clip_grad_norm: needs an optimizer and max_norm >= 0");
    /* 16-mixed: clip what the update will see (Lightning unscales before clipping) */
    lt_grad_scaler_t *sc = l->items[0]->arena->scaler;
    if (sc && lt_grad_scaler_unscale(sc, opt) != LT_OK) return lt_last_status();
    int64_t most = 0;
    for (int64_t i = 0; i < l->len; i++)
        if (l->items[i]->numel > most) most = l->items[i]->numel;
    lt_device_t *dev = lt__dev(l->items[0]);
    lt_storage *scratch = lt__storage_new(dev, (size_t)(most + 1) * sizeof(float));
    if (!scratch) return lt_last_status();
    /* torch: the 2-norm of the per-parameter 2-norms. */
    double sum = 0.0;
    for (int64_t i = 0; i < l->len; i++) {
        lt__grad_settle(l->items[i]);
        lt_tensor_t *g = l->items[i]->grad;
        if (!g) continue;
        double n = sqrt(grad_sq_sum(g, scratch->data));
        sum += n * n;
    }
    lt__storage_release(scratch);
    double norm = sqrt(sum), coef = max_norm / (norm + 1e-6);
    if (total_norm) *total_norm = norm;
    /* an inf or NaN gradient under a GradScaler: the scaler skips this step */
    if (!isfinite(norm) && sc) return LT_OK;
    if (!isfinite(norm))
        return lt_set_error(LT_ERR_NUMERIC,
                            "lt_clip_grad_norm: the total gradient norm is %g; "
                            "the loss or a gradient is not finite",
                            norm);
    if (coef >= 1.0) return LT_OK;
    for (int64_t i = 0; i < l->len; i++) {
        lt__grad_settle(l->items[i]);
        lt_tensor_t *g = l->items[i]->grad;
        if (!g) continue;
        LT_KCALL(dev, "clip_grad_norm", g->numel, LT_F32B(2 * g->numel), affine, g->numel,
                 lt__f32(g), (float)coef, 0.0f, lt__f32(g));
    }
    return LT_OK;
}

lt_status lt_clip_grad_value(lt_optimizer_t *opt, double clip_value) {
    const lt_param_list_t *l = opt ? lt__optimizer_params(opt) : NULL;
    if (!l || !(clip_value >= 0.0))
        return lt_set_error(LT_ERR_INVALID_ARG,
                            "lt_clip_grad_value: needs an optimizer and a value >= 0");
    lt_device_t *dev = lt__dev(l->items[0]);
    if (!dev->k.clamp)
        return lt_set_error(LT_ERR_UNSUPPORTED,
                            "accelerator '%s' has no clamp kernel, so it cannot "
                            "clip gradients by value; clip by norm instead",
                            dev->k.name);
    lt_grad_scaler_t *sc = l->items[0]->arena->scaler;
    if (sc && lt_grad_scaler_unscale(sc, opt) != LT_OK) return lt_last_status();
    for (int64_t i = 0; i < l->len; i++) {
        lt__grad_settle(l->items[i]);
        lt_tensor_t *g = l->items[i]->grad;
        if (!g) continue;
        LT_KCALL(dev, "clip_grad_value", 2.0 * g->numel, LT_F32B(2 * g->numel), clamp, g->numel,
                 lt__f32(g), (float)-clip_value, (float)clip_value, lt__f32(g));
    }
    return LT_OK;
}

/* -- #23 -- */
lt_status lt_clip_gradients(lt_optimizer_t *opt, double clip_val, const char *algorithm) {
    if (!opt) return lt_set_error(LT_ERR_INVALID_ARG, "lt_clip_gradients: optimizer is NULL");
    if (!(clip_val > 0.0)) return LT_OK;
    if (!algorithm || !strcmp(algorithm, "norm")) return lt_clip_grad_norm(opt, clip_val, NULL);
    if (!strcmp(algorithm, "value")) return lt_clip_grad_value(opt, clip_val);
    return lt_set_error(LT_ERR_INVALID_ARG,
                        "lt_clip_gradients: gradient_clip_algorithm '%s' is not one of norm, "
                        "value",
                        algorithm);
}
