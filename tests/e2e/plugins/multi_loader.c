/* Test plugin for tests/e2e/test_multi_dataloader.sh: the module of
 * tests/reference/multi_dataloader.py in C. A linear layer (3 -> 2) that appends its
 * evaluation hooks, with the dataloader_idx and batch_idx each got, to --model.log;
 * validation_step logs val_loss (on_epoch) and val_acc (on_step and on_epoch),
 * on_validation_epoch_end logs val_seen, test_step logs test_loss. */
#include <lt/lt.h>
#include <stdio.h>

typedef struct {
    lt_linear_t *fc;
} multi_t;

static const lt_hparam_desc multi_hparams[] = {
    LT_HPARAM_STR("log", "hooks.txt", "file the hook lines are appended to"),
    LT_HPARAM_END,
};

/* "hook" or, for a batch hook, "hook DATALOADER_IDX BATCH_IDX" (b may be NULL). */
static lt_status rec(lt_ctx_t *ctx, const char *hook, const lt_batch_t *b, int64_t i) {
    FILE *f = fopen(lt_hparam_str(ctx, "log"), "a");
    if (!f) return lt_set_error(LT_ERR_IO, "multi_loader: cannot append to the --model.log file");
    if (b)
        fprintf(f, "%s %lld %lld\n", hook, (long long)b->dataloader_idx, (long long)i);
    else
        fprintf(f, "%s\n", hook);
    return fclose(f) == 0 ? LT_OK : lt_set_error(LT_ERR_IO, "multi_loader: write failed");
}

static lt_status multi_setup(lt_ctx_t *ctx, void *self) {
    multi_t *m = self;
    m->fc = lt_linear(ctx, "fc", 3, 2);
    return lt_ok(ctx);
}

static lt_tensor_t *multi_training_step(lt_ctx_t *ctx, void *self, const lt_batch_t *b, int64_t i) {
    (void)ctx, (void)i;
    const multi_t *m = self;
    return lt_cross_entropy(lt_linear_forward(m->fc, b->x), b->y);
}

static lt_tensor_t *multi_validation_step(lt_ctx_t *ctx, void *self, const lt_batch_t *b,
                                          int64_t i) {
    const multi_t *m = self;
    if (rec(ctx, "validation_step", b, i) != LT_OK) return NULL;
    lt_tensor_t *logits = lt_linear_forward(m->fc, b->x);
    lt_log(ctx, "val_loss", lt_cross_entropy(logits, b->y), 0);
    lt_log(ctx, "val_acc", lt_accuracy(logits, b->y), LT_LOG_ON_STEP | LT_LOG_ON_EPOCH);
    return NULL;
}

static lt_tensor_t *multi_test_step(lt_ctx_t *ctx, void *self, const lt_batch_t *b, int64_t i) {
    const multi_t *m = self;
    if (rec(ctx, "test_step", b, i) != LT_OK) return NULL;
    lt_log(ctx, "test_loss", lt_cross_entropy(lt_linear_forward(m->fc, b->x), b->y), 0);
    return NULL;
}

static lt_status multi_configure_optimizers(lt_ctx_t *ctx, void *self) {
    (void)self;
    return lt_use_optimizer(ctx, lt_sgd(lt_parameters(ctx), 0.1));
}

#define HOOK(name)                                                                                 \
    static lt_status multi_##name(lt_ctx_t *ctx, void *self) {                                     \
        (void)self;                                                                                \
        return rec(ctx, #name, NULL, 0);                                                           \
    }
#define BATCH_START(name)                                                                          \
    static lt_status multi_##name(lt_ctx_t *ctx, void *self, const lt_batch_t *b, int64_t i) {     \
        (void)self;                                                                                \
        return rec(ctx, #name, b, i);                                                              \
    }
HOOK(on_validation_start)
HOOK(on_validation_epoch_start)
HOOK(on_validation_end)
HOOK(on_test_start)
HOOK(on_test_epoch_end)
HOOK(on_test_end)
BATCH_START(on_validation_batch_start)
BATCH_START(on_test_batch_start)

static lt_status multi_on_validation_batch_end(lt_ctx_t *ctx, void *self, lt_tensor_t *out,
                                               const lt_batch_t *b, int64_t i) {
    (void)self, (void)out;
    return rec(ctx, "on_validation_batch_end", b, i);
}

static lt_status multi_on_validation_epoch_end(lt_ctx_t *ctx, void *self) {
    (void)self;
    lt_status s = rec(ctx, "on_validation_epoch_end", NULL, 0);
    return s == LT_OK ? lt_log_value(ctx, "val_seen", 1.0, 0) : s;
}

LT_MODULE_EXPORT(multi_t, .name = "multi_loader", .hparams = multi_hparams, .setup = multi_setup,
                 .training_step = multi_training_step, .validation_step = multi_validation_step,
                 .test_step = multi_test_step, .configure_optimizers = multi_configure_optimizers,
                 .on_validation_start = multi_on_validation_start,
                 .on_validation_epoch_start = multi_on_validation_epoch_start,
                 .on_validation_batch_start = multi_on_validation_batch_start,
                 .on_validation_batch_end = multi_on_validation_batch_end,
                 .on_validation_epoch_end = multi_on_validation_epoch_end,
                 .on_validation_end = multi_on_validation_end, .on_test_start = multi_on_test_start,
                 .on_test_batch_start = multi_on_test_batch_start,
                 .on_test_epoch_end = multi_on_test_epoch_end, .on_test_end = multi_on_test_end)
