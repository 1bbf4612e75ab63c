/* A module (built as recorder_module.so) and a callback (recorder_callback.so, with
 * RECORD_CALLBACK) that append the name of every hook they get to the file given by
 * their `log` hparam, for the hook-order e2e test against Lightning's lists
 * (tests/fixtures/hook_order_*.txt). The module sets exactly the hooks a
 * LightningModule has; the callback sets the whole shared table. */
#include <lt/lt.h>
#include <stdio.h>

#ifdef RECORD_CALLBACK
#define WHO "callback"
#else
#define WHO "module"
#endif

typedef struct {
    lt_linear_t *fc;
} recorder_t;

static const lt_hparam_desc recorder_hparams[] = {
    LT_HPARAM_STR("log", "hooks.txt", "file the hook names are appended to"),
    LT_HPARAM_END,
};

static lt_status record(lt_ctx_t *ctx, const char *hook) {
    FILE *f = fopen(lt_hparam_str(ctx, "log"), "a");
    if (!f)
        return lt_set_error(LT_ERR_IO, "recorder: cannot append to %s", lt_hparam_str(ctx, "log"));
    fprintf(f, "%s.%s\n", WHO, hook);
    return fclose(f) == 0 ? LT_OK : lt_set_error(LT_ERR_IO, "recorder: write failed");
}

#define REC_lt_hook_fn(name)                                                                       \
    static lt_status rec_##name(lt_ctx_t *ctx, void *self) {                                       \
        (void)self;                                                                                \
        return record(ctx, #name);                                                                 \
    }
#define REC_lt_teardown_fn(name)                                                                   \
    static void rec_##name(lt_ctx_t *ctx, void *self) {                                            \
        (void)self;                                                                                \
        record(ctx, #name);                                                                        \
    }
#define REC_lt_batch_start_fn(name)                                                                \
    static lt_status rec_##name(lt_ctx_t *ctx, void *self, const lt_batch_t *b, int64_t i) {       \
        (void)self, (void)b, (void)i;                                                              \
        return record(ctx, #name);                                                                 \
    }
#define REC_lt_batch_end_fn(name)                                                                  \
    static lt_status rec_##name(lt_ctx_t *ctx, void *self, lt_tensor_t *out, const lt_batch_t *b,  \
                                int64_t i) {                                                       \
        (void)self, (void)out, (void)b, (void)i;                                                   \
        return record(ctx, #name);                                                                 \
    }
#define REC_lt_loss_hook_fn(name)                                                                  \
    static lt_status rec_##name(lt_ctx_t *ctx, void *self, lt_tensor_t *t) {                       \
        (void)self, (void)t;                                                                       \
        return record(ctx, #name);                                                                 \
    }
#define REC_lt_optimizer_hook_fn(name)                                                             \
    static lt_status rec_##name(lt_ctx_t *ctx, void *self, lt_optimizer_t *o) {                    \
        (void)self, (void)o;                                                                       \
        return record(ctx, #name);                                                                 \
    }
#define REC_lt_state_hook_fn(name)                                                                 \
    static lt_status rec_##name(lt_ctx_t *ctx, void *self, lt_state_t *st) {                       \
        (void)self, (void)st;                                                                      \
        return record(ctx, #name);                                                                 \
    }
/* Not every generated recorder is used by both builds. */
#pragma GCC diagnostic ignored "-Wunused-function"
#define DEFINE_(type, name) REC_##type(name)
LT_HOOK_TABLE(DEFINE_)

#ifdef RECORD_CALLBACK

#define SET_(type, name) .name = rec_##name,
LT_CALLBACK_EXPORT(recorder_t, .name = "recorder", .hparams = recorder_hparams, LT_HOOK_TABLE(SET_))

#else

REC_lt_hook_fn(on_validation_model_eval) REC_lt_hook_fn(on_validation_model_train)
    REC_lt_hook_fn(on_validation_model_zero_grad) REC_lt_hook_fn(on_test_model_eval)
        REC_lt_hook_fn(on_test_model_train) REC_lt_hook_fn(on_predict_model_eval)

            static lt_status mod_setup(lt_ctx_t *ctx, void *self) {
    recorder_t *m = self;
    if (record(ctx, "setup") != LT_OK) return lt_last_status();
    m->fc = lt_linear(ctx, "fc", 28 * 28, 10);
    return lt_ok(ctx);
}

static lt_tensor_t *forward(lt_ctx_t *ctx, void *self, lt_tensor_t *x) {
    (void)ctx;
    return lt_linear_forward(((recorder_t *)self)->fc, lt_flatten(x));
}

static lt_tensor_t *step(lt_ctx_t *ctx, void *self, const lt_batch_t *b, const char *name) {
    if (record(ctx, name) != LT_OK) return NULL;
    return lt_cross_entropy(forward(ctx, self, b->x), b->y);
}

#define STEP_(name)                                                                                \
    static lt_tensor_t *name(lt_ctx_t *ctx, void *self, const lt_batch_t *b, int64_t i) {          \
        (void)i;                                                                                   \
        return step(ctx, self, b, #name);                                                          \
    }
STEP_(training_step)
STEP_(validation_step)
STEP_(test_step)

static lt_tensor_t *predict_step(lt_ctx_t *ctx, void *self, const lt_batch_t *b, int64_t i) {
    (void)i;
    return record(ctx, "predict_step") == LT_OK ? forward(ctx, self, b->x) : NULL;
}

static lt_status configure_optimizers(lt_ctx_t *ctx, void *self) {
    (void)self;
    if (record(ctx, "configure_optimizers") != LT_OK) return lt_last_status();
    return lt_use_optimizer(ctx, lt_sgd(lt_parameters(ctx), 0.01));
}

static lt_status optimizer_step(lt_ctx_t *ctx, void *self, lt_optimizer_t *opt, int i,
                                lt_closure_t *closure) {
    (void)self, (void)i;
    if (record(ctx, "optimizer_step") != LT_OK || lt_closure_run(closure) != LT_OK)
        return lt_last_status();
    return lt_optimizer_step(opt);
}

static lt_status optimizer_zero_grad(lt_ctx_t *ctx, void *self, lt_optimizer_t *opt) {
    (void)self;
    return record(ctx, "optimizer_zero_grad") == LT_OK ? lt_optimizer_zero_grad(opt)
                                                       : lt_last_status();
}

static lt_status backward(lt_ctx_t *ctx, void *self, lt_tensor_t *loss) {
    (void)self;
    return record(ctx, "backward") == LT_OK ? lt_backward(loss) : lt_last_status();
}

#define M_(name) .name = rec_##name,
LT_MODULE_EXPORT(
    recorder_t, .name = "recorder", .hparams = recorder_hparams, .setup = mod_setup,
    .teardown = rec_teardown, .forward = forward, .training_step = training_step,
    .validation_step = validation_step, .test_step = test_step, .predict_step = predict_step,
    .configure_optimizers = configure_optimizers, .optimizer_step = optimizer_step,
    .optimizer_zero_grad = optimizer_zero_grad, .backward = backward,
    M_(on_validation_model_eval) M_(on_validation_model_train) M_(on_validation_model_zero_grad)
        M_(on_test_model_eval) M_(on_test_model_train) M_(on_predict_model_eval) M_(on_fit_start)
            M_(on_fit_end) M_(on_train_start) M_(on_train_end) M_(on_train_epoch_start)
                M_(on_train_epoch_end) M_(on_train_batch_start) M_(on_train_batch_end)
                    M_(on_validation_start) M_(on_validation_end) M_(on_validation_epoch_start)
                        M_(on_validation_epoch_end) M_(on_validation_batch_start)
                            M_(on_validation_batch_end) M_(on_test_start) M_(on_test_end)
                                M_(on_test_epoch_start) M_(on_test_epoch_end)
                                    M_(on_test_batch_start) M_(on_test_batch_end)
                                        M_(on_predict_start) M_(on_predict_end)
                                            M_(on_predict_epoch_start) M_(on_predict_epoch_end)
                                                M_(on_predict_batch_start) M_(on_predict_batch_end)
                                                    M_(on_before_zero_grad) M_(on_before_backward)
                                                        M_(on_after_backward)
                                                            M_(on_before_optimizer_step))

#endif
