/* tiny_step — a module whose step costs almost nothing (a 784-10 linear layer on a
 * batch of 1 with SGD), so bench/trainer_overhead.sh can see the trainer's own cost. */
#include <lt/lt.h>

typedef struct {
    lt_linear_t *fc;
} tiny_t;

static lt_status setup(lt_ctx_t *ctx, void *self) {
    ((tiny_t *)self)->fc = lt_linear(ctx, "fc", 784, 10);
    return lt_ok(ctx);
}

static lt_tensor_t *training_step(lt_ctx_t *ctx, void *self, const lt_batch_t *b, int64_t i) {
    (void)i;
    lt_tensor_t *loss =
        lt_cross_entropy(lt_linear_forward(((tiny_t *)self)->fc, lt_flatten(b->x)), b->y);
    lt_log(ctx, "train_loss", loss, LT_LOG_ON_STEP | LT_LOG_ON_EPOCH | LT_LOG_PROG_BAR);
    return loss;
}

static lt_status configure_optimizers(lt_ctx_t *ctx, void *self) {
    (void)self;
    return lt_use_optimizer(ctx, lt_sgd(lt_parameters(ctx), 0.01));
}

LT_MODULE_EXPORT(tiny_t, .name = "tiny_step", .setup = setup, .training_step = training_step,
                 .configure_optimizers = configure_optimizers)
