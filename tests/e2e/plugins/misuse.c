/* Test plugin for tests/e2e/test_recorded_errors.sh: a linear model that makes one of a
 * new user's mistakes, chosen by --model.mode. In the "recorded" modes the mistaken SDK
 * call records an error (lt_set_error) that the module ignores, returning its loss or
 * LT_OK anyway; the host must still stop with that error, naming epoch, batch and hook.
 *   log_matrix   lt_log of the (N, 10) logits in training_step
 *   late_param   lt_param in on_train_batch_start (parameters belong in setup)
 *   kept_tensor  the loss of batch 0 kept in self and logged in batch 1
 *   free_arena   lt_tensor_free on the step's logits
 *   matrix_loss  training_step returns the (N, 10) logits as its "loss"
 *   null_step    training_step returns NULL on every batch (no error)
 *   none         no mistake
 * Built a second time with -DMISUSE_CALLBACK as misuse_callback.so: a callback that, at
 * on_validation_epoch_end, prints the epoch's val_loss from callback_metrics (Lightning
 * 2.x computes epoch-end results before that hook) and fails if it is missing.
 * Built a third time with -DMISUSE_DATA as misuse_data.so: a data plugin whose setup
 * registers its train split with zeroed structs (no struct_size), ignores the refusal
 * lt_data_add_split records, and returns LT_OK. */
#include <lt/lt.h>
#include <stdio.h>
#include <string.h>

#if defined(MISUSE_DATA)

typedef struct {
    int unused;
} data_t;

static lt_status data_setup(lt_ctx_t *ctx, void *self, const char *stage) {
    (void)self, (void)stage;
    lt_dataset ds = {0}; /* the mistake: no .struct_size = sizeof ds */
    lt_loader_opts opts = {0};
    lt_data_add_split(ctx, LT_SPLIT_TRAIN, &ds, &opts); /* status ignored */
    return LT_OK;
}

LT_DATAMODULE_EXPORT(data_t, .name = "misuse_data", .setup = data_setup);

#elif defined(MISUSE_CALLBACK)

typedef struct {
    int unused;
} probe_t;

static lt_status on_validation_epoch_end(lt_ctx_t *ctx, void *self) {
    (void)self;
    lt_trainer_t *tr = lt_trainer(ctx);
    double v;
    if (!lt_trainer_metric(tr, "val_loss", &v))
        return lt_set_error(LT_ERR_STATE, "misuse_callback: val_loss is not in callback_metrics "
                                          "at on_validation_epoch_end");
    printf("misuse_callback: %s epoch %lld val_loss=%.4f\n",
           lt_trainer_sanity_checking(tr) ? "sanity" : "fit",
           (long long)lt_trainer_current_epoch(tr), v);
    fflush(stdout);
    return LT_OK;
}

LT_CALLBACK_EXPORT(probe_t, .name = "misuse_callback",
                   .on_validation_epoch_end = on_validation_epoch_end);

#else

typedef struct {
    lt_linear_t *l;
    lt_tensor_t *kept; /* kept_tensor: batch 0's loss, wrongly held into batch 1 */
} misuse_t;

static const lt_hparam_desc hparams[] = {
    LT_HPARAM_CHOICE("mode", "none",
                     "none|log_matrix|late_param|kept_tensor|free_arena|matrix_loss|null_step",
                     "the mistake to make"),
    LT_HPARAM_END,
};

static bool mode_is(lt_ctx_t *ctx, const char *mode) {
    return !strcmp(lt_hparam_str(ctx, "mode"), mode);
}

static lt_status setup(lt_ctx_t *ctx, void *self) {
    ((misuse_t *)self)->l = lt_linear(ctx, "l", 28 * 28, 10);
    return lt_ok(ctx);
}

static lt_status configure_optimizers(lt_ctx_t *ctx, void *self) {
    (void)self;
    return lt_use_optimizer(ctx, lt_sgd(lt_parameters(ctx), 0.01));
}

static lt_status on_train_batch_start(lt_ctx_t *ctx, void *self, const lt_batch_t *b, int64_t i) {
    (void)self, (void)b;
    if (mode_is(ctx, "late_param") && i == 1) {
        int64_t shape[1] = {4};
        lt_param(ctx, "late.bias", 1, shape, LT_INIT_ZEROS); /* status ignored: the mistake */
    }
    return LT_OK;
}

static lt_tensor_t *training_step(lt_ctx_t *ctx, void *self, const lt_batch_t *b, int64_t i) {
    misuse_t *m = self;
    lt_tensor_t *logits = lt_linear_forward(m->l, lt_flatten(b->x));
    lt_tensor_t *loss = lt_cross_entropy(logits, b->y);
    if (mode_is(ctx, "log_matrix") && i == 1) lt_log(ctx, "logits", logits, 0);
    if (mode_is(ctx, "kept_tensor")) {
        if (i == 1) lt_log(ctx, "previous_loss", m->kept, 0);
        m->kept = loss;
    }
    if (mode_is(ctx, "free_arena") && i == 1) lt_tensor_free(logits);
    if (mode_is(ctx, "matrix_loss")) return logits;
    if (mode_is(ctx, "null_step")) return NULL;
    return loss;
}

static lt_tensor_t *validation_step(lt_ctx_t *ctx, void *self, const lt_batch_t *b, int64_t i) {
    (void)i;
    misuse_t *m = self;
    lt_tensor_t *loss = lt_cross_entropy(lt_linear_forward(m->l, lt_flatten(b->x)), b->y);
    lt_log(ctx, "val_loss", loss, LT_LOG_PROG_BAR);
    return loss;
}

LT_MODULE_EXPORT(misuse_t, .name = "misuse", .hparams = hparams, .setup = setup,
                 .configure_optimizers = configure_optimizers, .training_step = training_step,
                 .validation_step = validation_step, .on_train_batch_start = on_train_batch_start);

#endif
