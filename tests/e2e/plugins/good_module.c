/* Test plugin: the smallest valid module, one parameter w (4) and loss = sum(w * w).
 * It links liblt, as every real model does. */
#include <lt/lt.h>

typedef struct good {
    lt_tensor_t *w; /* (4) */
} good_t;

static lt_status good_setup(lt_ctx_t *ctx, void *self) {
    good_t *g = self;
    const int64_t shape[1] = {4};
    g->w = lt_param(ctx, "w", 1, shape, LT_INIT_ONES);
    return lt_ok(ctx);
}

static lt_status good_configure_optimizers(lt_ctx_t *ctx, void *self) {
    (void)self;
    return lt_use_optimizer(ctx, lt_sgd(lt_parameters(ctx), 0.1));
}

static lt_tensor_t *good_training_step(lt_ctx_t *ctx, void *self, const lt_batch_t *batch,
                                       int64_t batch_idx) {
    (void)ctx;
    (void)batch;
    (void)batch_idx;
    good_t *g = self;
    return lt_sum(lt_mul(g->w, g->w));
}

LT_MODULE_EXPORT(good_t, .name = "good_module", .setup = good_setup,
                 .configure_optimizers = good_configure_optimizers,
                 .training_step = good_training_step);
