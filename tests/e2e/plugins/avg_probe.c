/* avg_probe.so: the LightningModule of tests/reference/weight_averaging.py in C. One
 * parameter w (4 zeros) and the loss sum(w * c): plain SGD moves w by -lr * c per step,
 * so the weights depend only on the lr schedule, and lthost's SWALR lrs and averaged
 * weights can be compared with what Lightning's StochasticWeightAveraging and
 * EMAWeightAveraging produce (tests/fixtures/weight_averaging_lightning.txt). Trained on
 * log_reduce_data.so (3 batches an epoch). --model.groups 2 adds v (2 zeros, lr 0.2) in a
 * second param group, for swa_lrs as a list. Prints "epoch E lr X" at each epoch start and
 * "final w0 w1 w2 w3" at fit end, after the averaging callbacks' on_train_end.
 * --model.callbacks "A k=v;B" is what its configure_callbacks returns. */
#define _POSIX_C_SOURCE 200809L
#include <lt/lt.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

typedef struct {
    lt_tensor_t *w, *v; /* v: only with --model.groups 2 */
    char text[512];
    const char *callbacks[3]; /* configure_callbacks' answer, NULL-terminated */
} model_t;

/* --model.callbacks "A k=v;B k=v": what configure_callbacks returns (test_configure_callbacks.sh). */
static const lt_hparam_desc hparams[] = {
    LT_HPARAM_STR("callbacks", "", "configure_callbacks: up to 2 entries separated by ';'"),
    LT_HPARAM_INT("groups", 1,
                  "2: a second parameter v (2 zeros, loss + sum(v * d)) in its own "
                  "param group, lr 0.2"),
    LT_HPARAM_END,
};

static const float coef[4] = {1.0f, -2.0f, 0.5f, 3.0f};

static const float coef_v[2] = {-1.0f, 4.0f};

static lt_status setup(lt_ctx_t *ctx, void *self) {
    model_t *m = self;
    int64_t shape[1] = {4}, vshape[1] = {2};
    m->w = lt_param(ctx, "w", 1, shape, LT_INIT_ZEROS);
    if (lt_hparam_int(ctx, "groups") == 2) m->v = lt_param(ctx, "v", 1, vshape, LT_INIT_ZEROS);
    return lt_ok(ctx);
}

static lt_tensor_t *training_step(lt_ctx_t *ctx, void *self, const lt_batch_t *b, int64_t i) {
    (void)b, (void)i;
    int64_t shape[1] = {4};
    model_t *m = self;
    lt_tensor_t *c = lt_from_host(lt_ctx_arena(ctx), LT_F32, 1, shape, coef);
    lt_tensor_t *loss = lt_sum(lt_mul(m->w, c));
    if (!m->v) return loss;
    shape[0] = 2;
    c = lt_from_host(lt_ctx_arena(ctx), LT_F32, 1, shape, coef_v);
    return lt_add(loss, lt_sum(lt_mul(m->v, c)));
}

static lt_status configure_optimizers(lt_ctx_t *ctx, void *self) {
    if (!((model_t *)self)->v) return lt_use_optimizer(ctx, lt_sgd(lt_parameters(ctx), 0.1));
    lt_optimizer_t *opt = lt_sgd(lt_parameters_where(ctx, "w", true), 0.1);
    lt_status r =
        opt ? lt_optimizer_add_param_group(opt, lt_parameters_where(ctx, "v", true), 0.2, NAN)
            : lt_last_status();
    return r == LT_OK ? lt_use_optimizer(ctx, opt) : r;
}

static lt_status on_train_epoch_start(lt_ctx_t *ctx, void *self) {
    (void)self;
    lt_optimizer_t *opt = lt_optimizers(ctx, 0);
    if (lt_optimizer_num_groups(opt) == 1)
        lt_print(ctx, "epoch %lld lr %.9g", (long long)lt_current_epoch(ctx), lt_optimizer_lr(opt));
    else
        lt_print(ctx, "epoch %lld lr %.9g %.9g", (long long)lt_current_epoch(ctx),
                 lt_optimizer_group_lr(opt, 0), lt_optimizer_group_lr(opt, 1));
    return LT_OK;
}

static lt_status on_fit_end(lt_ctx_t *ctx, void *self) {
    model_t *m = self;
    float w[4], v[2];
    lt_status r = lt_to_host(m->w, w, sizeof w);
    if (r == LT_OK && m->v) r = lt_to_host(m->v, v, sizeof v);
    if (r == LT_OK && !m->v) lt_print(ctx, "final %.9g %.9g %.9g %.9g", w[0], w[1], w[2], w[3]);
    if (r == LT_OK && m->v)
        lt_print(ctx, "final %.9g %.9g %.9g %.9g %.9g %.9g", w[0], w[1], w[2], w[3], v[0], v[1]);
    return r;
}

static const char *const *configure_callbacks(lt_ctx_t *ctx, void *self) {
    model_t *m = self;
    snprintf(m->text, sizeof m->text, "%s", lt_hparam_str(ctx, "callbacks"));
    int n = 0;
    for (char *save = NULL, *e = strtok_r(m->text, ";", &save); e && n < 2;
         e = strtok_r(NULL, ";", &save))
        m->callbacks[n++] = e;
    m->callbacks[n] = NULL;
    return m->callbacks;
}

LT_MODULE_EXPORT(model_t, .name = "avg_probe", .hparams = hparams,
                 .configure_callbacks = configure_callbacks, .setup = setup,
                 .training_step = training_step, .configure_optimizers = configure_optimizers,
                 .on_train_epoch_start = on_train_epoch_start, .on_fit_end = on_fit_end);
