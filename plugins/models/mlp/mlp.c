/* mlp — a 784-256-128-10 multilayer perceptron for Fashion-MNIST, written the way a
 * user writes a LightningModule: declare layers in setup, say what a step computes,
 * pick an optimizer. Everything else (devices, loops, logging) is the host's. */
#include <lt/lt.h>
#include <math.h>
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
    LT_HPARAM_CHOICE("lr_scheduler", "none", "none|step|cosine|plateau|warmup_cosine|onecycle",
                     "per-epoch schedule: StepLR(1, 0.7), CosineAnnealingLR(max_epochs) or "
                     "ReduceLROnPlateau(val_loss, factor 0.5, patience 0); per-step over "
                     "trainer.estimated_stepping_batches: warmup_cosine (LinearLR over the first "
                     "10% then CosineAnnealingLR) or onecycle (OneCycleLR(10 lr))"),
    LT_HPARAM_BOOL("bias_decay", true,
                   "false: the biases get their own param group without weight decay"),
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

/* The per-step schedules, sized by trainer.estimated_stepping_batches (#23). */
static lt_scheduler_t *make_step_scheduler(lt_ctx_t *ctx, lt_optimizer_t *opt, const char *kind) {
    const int64_t total = lt_trainer_estimated_stepping_batches(lt_trainer(ctx));
    if (total < 2) {
        lt_set_error(LT_ERR_INVALID_ARG,
                     "mlp: lr_scheduler %s needs a known number of steps (at least 2; "
                     "estimated_stepping_batches is %lld); set --max_epochs or --max_steps",
                     kind, (long long)total);
        return NULL;
    }
    if (!strcmp(kind, "onecycle")) {
        lt_onecycle_opts o = LT_ONECYCLE_DEFAULTS(10 * lt_optimizer_lr(opt), total);
        return lt_onecycle_lr(opt, &o);
    }
    const int64_t warmup = total / 10 > 0 ? total / 10 : 1;
    return lt_sequential_lr(opt,
                            (lt_scheduler_t *[]){lt_linear_lr(opt, 0.01, 1.0, warmup),
                                                 lt_cosine_annealing_lr(opt, total - warmup, 0.0)},
                            2, (int64_t[]){warmup});
}

static lt_status mlp_configure_optimizers(lt_ctx_t *ctx, void *self) {
    (void)self;
    double lr = lt_hparam_float(ctx, "lr");
    const bool groups = !lt_hparam_bool(ctx, "bias_decay");
    lt_param_list_t *params =
        groups ? lt_parameters_where(ctx, "*.bias", false) : lt_parameters(ctx);
    lt_optimizer_t *opt = strcmp(lt_hparam_str(ctx, "optimizer"), "sgd") == 0
                              ? lt_sgd_ex(params, lr, 0.9, 0.0, 0.0, false)
                              : lt_optimizer_by_name(params, lt_hparam_str(ctx, "optimizer"), lr);
    lt_status st = lt_use_optimizer(ctx, opt); /* ctx owns opt from here */
    if (st == LT_OK && groups)                 /* the usual "no decay on biases" split */
        st = lt_optimizer_add_param_group(opt, lt_parameters_where(ctx, "*.bias", true), NAN, 0.0);
    const char *kind = lt_hparam_str(ctx, "lr_scheduler");
    if (st != LT_OK || !strcmp(kind, "none")) return st;
    if (!strcmp(kind, "warmup_cosine") || !strcmp(kind, "onecycle")) {
        lt_scheduler_config per_step = LT_SCHEDULER_CONFIG(.interval = LT_INTERVAL_STEP);
        return lt_use_scheduler(ctx, make_step_scheduler(ctx, opt, kind), &per_step);
    }
    lt_scheduler_config cfg =
        LT_SCHEDULER_CONFIG(.interval = LT_INTERVAL_EPOCH, .monitor = "val_loss");
    return lt_use_scheduler(ctx, make_scheduler(ctx, opt, kind), &cfg);
}

LT_MODULE_EXPORT(mlp_t, .name = "mlp", .hparams = mlp_hparams, .setup = mlp_setup,
                 .forward = mlp_forward, .training_step = mlp_training_step,
                 .validation_step = mlp_validation_step, .test_step = mlp_test_step,
                 .configure_optimizers = mlp_configure_optimizers)
