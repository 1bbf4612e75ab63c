/* mlp — a 784-256-128-10 multilayer perceptron for Fashion-MNIST, written the way a
 * user writes a LightningModule: declare layers in setup, say what a step computes,
 * pick an optimizer. Everything else (devices, loops, logging) is the host's. */
#include <lt/lt.h>
#include <string.h>

typedef struct {
    lt_linear_t *l1, *l2, *l3;
} mlp_t;

static const lt_hparam_desc mlp_hparams[] = {
    LT_HPARAM_FLOAT("lr", 1e-3, "learning rate"),
    LT_HPARAM_INT("hidden", 256, "width of the first hidden layer"),
    LT_HPARAM_INT("hidden2", 128, "width of the second hidden layer"),
    LT_HPARAM_CHOICE(
        "optimizer", "adam", "sgd|adam|adamw|rmsprop|adagrad|adamax|nadam|radam",
        "optimizer: sgd (momentum 0.9), or another of torch.optim's with its defaults"),
    LT_HPARAM_CHOICE("lr_scheduler", "none", "none|step|cosine|plateau",
                     "per-epoch schedule: StepLR(1, 0.7), CosineAnnealingLR(max_epochs) or "
                     "ReduceLROnPlateau(val_loss, factor 0.5, patience 0)"),
    LT_HPARAM_END,
};

static lt_status mlp_setup(lt_ctx_t *ctx, void *self) {
    mlp_t *m = self;
    int64_t h1 = lt_hparam_int(ctx, "hidden"), h2 = lt_hparam_int(ctx, "hidden2");
    m->l1 = lt_linear(ctx, "l1", 28 * 28, h1);
    m->l2 = lt_linear(ctx, "l2", h1, h2);
    m->l3 = lt_linear(ctx, "l3", h2, 10);
    return lt_ok(ctx);
}

static lt_tensor_t *mlp_forward(lt_ctx_t *ctx, void *self, lt_tensor_t *x) {
    (void)ctx;
    mlp_t *m = self;
    x = lt_flatten(x);                        /* (N, 1, 28, 28) -> (N, 784) */
    x = lt_relu(lt_linear_forward(m->l1, x)); /* (N, hidden) */
    x = lt_relu(lt_linear_forward(m->l2, x)); /* (N, hidden2) */
    return lt_linear_forward(m->l3, x);       /* (N, 10) logits */
}

static lt_tensor_t *mlp_training_step(lt_ctx_t *ctx, void *self, const lt_batch_t *b, int64_t i) {
    (void)i;
    lt_tensor_t *loss = lt_cross_entropy(mlp_forward(ctx, self, b->x), b->y);
    lt_log(ctx, "train_loss", loss, LT_LOG_PROG_BAR | LT_LOG_ON_STEP | LT_LOG_ON_EPOCH);
    return loss;
}

/* Validation and test share the metrics: loss and accuracy. */
static lt_tensor_t *evaluate(lt_ctx_t *ctx, void *self, const lt_batch_t *b, const char *loss_name,
                             const char *acc_name) {
    lt_tensor_t *logits = mlp_forward(ctx, self, b->x);
    lt_tensor_t *loss = lt_cross_entropy(logits, b->y);
    /* sync_dist: under DDP each rank sees a shard; the logged value is over all of them */
    lt_log(ctx, loss_name, loss, LT_LOG_PROG_BAR | LT_LOG_ON_EPOCH | LT_LOG_SYNC_DIST);
    lt_log(ctx, acc_name, lt_accuracy(logits, b->y),
           LT_LOG_PROG_BAR | LT_LOG_ON_EPOCH | LT_LOG_SYNC_DIST);
    return loss;
}

static lt_tensor_t *mlp_validation_step(lt_ctx_t *ctx, void *self, const lt_batch_t *b, int64_t i) {
    (void)i;
    return evaluate(ctx, self, b, "val_loss", "val_acc");
}

static lt_tensor_t *mlp_test_step(lt_ctx_t *ctx, void *self, const lt_batch_t *b, int64_t i) {
    (void)i;
    return evaluate(ctx, self, b, "test_loss", "test_acc");
}

static lt_scheduler_t *make_scheduler(lt_ctx_t *ctx, lt_optimizer_t *opt, const char *kind) {
    if (!strcmp(kind, "step")) return lt_step_lr(opt, 1, 0.7);
    if (!strcmp(kind, "cosine"))
        return lt_cosine_annealing_lr(opt, lt_trainer_max_epochs(lt_trainer(ctx)), 0.0);
    lt_plateau_opts o = LT_PLATEAU_DEFAULTS;
    o.factor = 0.5, o.patience = 0;
    return lt_reduce_lr_on_plateau(opt, &o);
}

static lt_status mlp_configure_optimizers(lt_ctx_t *ctx, void *self) {
    (void)self;
    double lr = lt_hparam_float(ctx, "lr");
    lt_optimizer_t *opt =
        strcmp(lt_hparam_str(ctx, "optimizer"), "sgd") == 0
            ? lt_sgd_ex(lt_parameters(ctx), lr, 0.9, 0.0, 0.0, false)
            : lt_optimizer_by_name(lt_parameters(ctx), lt_hparam_str(ctx, "optimizer"), lr);
    lt_status st = lt_use_optimizer(ctx, opt); /* ctx owns opt from here */
    const char *kind = lt_hparam_str(ctx, "lr_scheduler");
    if (st != LT_OK || !strcmp(kind, "none")) return st;
    lt_scheduler_config cfg =
        LT_SCHEDULER_CONFIG(.interval = LT_INTERVAL_EPOCH, .monitor = "val_loss");
    return lt_use_scheduler(ctx, make_scheduler(ctx, opt, kind), &cfg);
}

LT_MODULE_EXPORT(mlp_t, .name = "mlp", .hparams = mlp_hparams, .setup = mlp_setup,
                 .forward = mlp_forward, .training_step = mlp_training_step,
                 .validation_step = mlp_validation_step, .test_step = mlp_test_step,
                 .configure_optimizers = mlp_configure_optimizers)
