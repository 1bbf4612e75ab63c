/* probe.so: logs the way tests/reference/csv_layout.py's LightningModule does, so the
 * layout of metrics.csv can be compared with Lightning's (tests/fixtures/
 * csv_layout_lightning.csv); also used by the flag tests to count what the loops ran. */
#include <lt/lt.h>

typedef struct {
    lt_linear_t *fc;
} probe_t;

static const lt_hparam_desc probe_hparams[] = {
    LT_HPARAM_FLOAT("lr", 0.1, "SGD learning rate"),
    LT_HPARAM_END,
};

static lt_status setup(lt_ctx_t *ctx, void *self) {
    ((probe_t *)self)->fc = lt_linear(ctx, "fc", 28 * 28, 10);
    return lt_ok(ctx);
}

static lt_tensor_t *loss_of(void *self, const lt_batch_t *b) {
    return lt_cross_entropy(lt_linear_forward(((probe_t *)self)->fc, lt_flatten(b->x)), b->y);
}

static lt_tensor_t *training_step(lt_ctx_t *ctx, void *self, const lt_batch_t *b, int64_t i) {
    (void)i;
    lt_tensor_t *loss = loss_of(self, b);
    lt_log(ctx, "train_loss", loss, LT_LOG_ON_STEP | LT_LOG_ON_EPOCH | LT_LOG_PROG_BAR);
    lt_log_value(ctx, "lr_const", 0.5, 0);
    return loss;
}

static lt_tensor_t *validation_step(lt_ctx_t *ctx, void *self, const lt_batch_t *b, int64_t i) {
    (void)i;
    lt_tensor_t *loss = loss_of(self, b);
    lt_log(ctx, "val_loss", loss, 0);
    return loss;
}

/* Lightning 1.x data flow: step_end sees each step's output, epoch_end all of them. */
static lt_tensor_t *training_step_end(lt_ctx_t *ctx, void *self, lt_tensor_t *out) {
    (void)self;
    lt_log_value(ctx, "step_end_calls", 1.0, LT_LOG_ON_EPOCH | LT_LOG_NO_LOGGER);
    return out;
}

static lt_status training_epoch_end(lt_ctx_t *ctx, void *self, lt_tensor_t *const *outputs,
                                    int64_t n) {
    for (int64_t i = 0; i < n; i++)
        if (lt_numel(outputs[i]) != 1)
            return lt_set_error(LT_ERR_STATE, "probe: output %lld is not a loss", (long long)i);
    /* a histogram for the loggers that take them (TensorBoard), once an epoch */
    lt_status s = lt_log_histogram(ctx, "fc.weight", ((probe_t *)self)->fc->weight);
    if (s != LT_OK) return s;
    return lt_log_value(ctx, "epoch_end_outputs", (double)n, LT_LOG_ON_EPOCH | LT_LOG_NO_LOGGER);
}

static lt_status configure_optimizers(lt_ctx_t *ctx, void *self) {
    (void)self;
    return lt_use_optimizer(ctx, lt_sgd(lt_parameters(ctx), lt_hparam_float(ctx, "lr")));
}

LT_MODULE_EXPORT(probe_t, .name = "probe", .hparams = probe_hparams, .setup = setup,
                 .training_step = training_step, .validation_step = validation_step,
                 .training_step_end = training_step_end, .training_epoch_end = training_epoch_end,
                 .configure_optimizers = configure_optimizers)
