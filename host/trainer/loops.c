/* The loops: fit (train epochs, each followed by validation), validate and test.
 * Hook order follows Lightning's automatic optimization: training_step, zero_grad,
 * backward, optimizer step. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "trainer.h"

static const char *const split_names[] = {"train", "val", "test", "predict"};

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* A split's loader and the number of batches --limit_*_batches allows. */
typedef struct split_loader {
    lt_split split;
    lt_dataset ds;
    lt_loader_t *loader;
    int64_t batches;
} split_loader;

static const batch_limit *limit_for(const host_config *c, lt_split split) {
    return split == LT_SPLIT_TRAIN ? &c->limit_train
         : split == LT_SPLIT_VAL ? &c->limit_val : &c->limit_test;
}

static bool open_split(session *s, lt_split split, split_loader *sl) {
    lt_loader_opts opts;
    sl->split = split;
    if (lt_ctx_split(s->dctx, split, &sl->ds, &opts) != LT_OK ||
        lt_loader_new(&sl->ds, &opts, s->seed, &sl->loader) != LT_OK) {
        host_error("%s", lt_last_error());
        return false;
    }
    int64_t total = lt_loader_num_batches(sl->loader);
    const batch_limit *lim = limit_for(s->cfg, split);
    sl->batches = lim->is_fraction ? (int64_t)((double)total * lim->fraction)
                                   : (lim->count < total ? lim->count : total);
    if (lim->is_fraction && lim->fraction > 0.0 && sl->batches == 0) {
        host_error("--limit_%s_batches %g of %lld batches is less than one batch; use a larger "
                   "fraction or an integer count", split_names[split], lim->fraction, (long long)total);
        return false;
    }
    return true;
}

/* The host batch as tensors in the module's arena: x (n, x_shape), y (n[, y_shape]). */
static bool make_batch(session *s, const split_loader *sl, const lt_host_batch *hb, lt_batch_t *b) {
    int64_t xs[LT_MAX_DIMS + 1] = {hb->n}, ys[LT_MAX_DIMS + 1] = {hb->n};
    for (int i = 0; i < sl->ds.x_ndim; i++) xs[i + 1] = sl->ds.x_shape[i];
    for (int i = 0; i < sl->ds.y_ndim; i++) ys[i + 1] = sl->ds.y_shape[i];
    lt_arena_t *a = lt_ctx_arena(s->ctx);
    b->x = lt_from_host(a, LT_F32, sl->ds.x_ndim + 1, xs, hb->x);
    b->y = lt_from_host(a, sl->ds.y_dtype, sl->ds.y_ndim + 1, ys, hb->y);
    b->size = hb->n;
    if (b->x && b->y) return true;
    host_error("copying a batch to the device: %s", lt_last_error());
    return false;
}

static bool step_failed(session *s, const char *hook, int64_t batch) {
    host_error("%s.%s failed at epoch %lld, batch %lld: %s", s->mod->name, hook,
               (long long)lt_current_epoch(s->ctx), (long long)batch,
               *lt_last_error() ? lt_last_error() : "it returned an error");
    return false;
}

/* Automatic optimization of one batch; a NULL loss without an error skips the batch,
 * as returning None from training_step does in Lightning. */
static bool train_batch(session *s, const lt_batch_t *b, int64_t idx, int64_t *global_step) {
    lt_clear_error();
    lt_tensor_t *loss = s->mod->training_step(s->ctx, lt_ctx_self(s->ctx), b, idx);
    if (!loss) return lt_last_status() == LT_OK || step_failed(s, "training_step", idx);
    double value = lt_item(loss);
    if (!isfinite(value)) {
        host_error("the training loss is %s at epoch %lld, batch %lld (global step %lld): training "
                   "diverged; lower --model.lr, or check the data for NaN/inf",
                   isnan(value) ? "nan" : value > 0 ? "inf" : "-inf", (long long)lt_current_epoch(s->ctx), (long long)idx, (long long)*global_step);
        return false;
    }
    int nopt = lt_ctx_num_optimizers(s->ctx);
    for (int i = 0; i < nopt; i++) lt_optimizer_zero_grad(lt_ctx_optimizer(s->ctx, i));
    if (lt_backward(loss) != LT_OK) return step_failed(s, "backward", idx);
    for (int i = 0; i < nopt; i++)
        if (lt_optimizer_step(lt_ctx_optimizer(s->ctx, i)) != LT_OK)
            return step_failed(s, "optimizer_step", idx);
    lt_ctx_set_progress(s->ctx, lt_current_epoch(s->ctx), ++*global_step);
    return true;
}

static bool eval_batch(session *s, lt_step_fn step, const char *hook, const lt_batch_t *b,
                       int64_t idx) {
    lt_clear_error();
    lt_tensor_t *out = step(s->ctx, lt_ctx_self(s->ctx), b, idx);
    return out || lt_last_status() == LT_OK || step_failed(s, hook, idx);
}

typedef struct epoch_stats {
    int64_t batches, samples;
    double seconds;
} epoch_stats;

/* One pass over a split: training when step is NULL, else step under no_grad. */
static bool run_epoch(session *s, split_loader *sl, int64_t epoch, lt_step_fn step,
                      const char *hook, int64_t *global_step, epoch_stats *st) {
    lt_arena_t *arena = lt_ctx_arena(s->ctx);
    bool prev = lt_arena_set_grad(arena, step == NULL);
    double t0 = now_seconds();
    *st = (epoch_stats){0};
    bool ok = lt_loader_start(sl->loader, epoch, sl->batches) == LT_OK;
    while (ok) {
        const lt_host_batch *hb = NULL;
        if (lt_loader_next(sl->loader, &hb) != LT_OK) {
            host_error("loading %s batch %lld: %s", split_names[sl->split], (long long)st->batches,
                       lt_last_error());
            ok = false;
            break;
        }
        if (!hb) break;
        lt_arena_reset(arena);
        lt_batch_t b;
        lt_ctx_set_batch_size(s->ctx, hb->n);
        ok = make_batch(s, sl, hb, &b) &&
             (step ? eval_batch(s, step, hook, &b, hb->index) : train_batch(s, &b, hb->index, global_step));
        st->batches++;
        st->samples += hb->n;
    }
    lt_arena_reset(arena);
    lt_arena_set_grad(arena, prev);
    st->seconds = now_seconds() - t0;
    return ok;
}

static void print_metrics(session *s) {
    int n = lt_ctx_metric_count(s->ctx);
    for (int i = 0; i < n; i++) {
        double v;
        const char *name = lt_ctx_metric(s->ctx, i, NULL, &v);
        rank0_printf(s, "  %s=%.4f", name, v);
    }
}

static bool fit_epochs(session *s, split_loader *train, split_loader *val) {
    int64_t global_step = 0;
    for (int64_t epoch = 0; epoch < s->cfg->max_epochs; epoch++) {
        epoch_stats tr, va = {0};
        lt_ctx_set_progress(s->ctx, epoch, global_step);
        lt_ctx_metrics_reset(s->ctx);
        if (!call_hook(s, "on_train_epoch_start", s->mod->on_train_epoch_start) ||
            !run_epoch(s, train, epoch, NULL, "training_step", &global_step, &tr) ||
            !call_hook(s, "on_train_epoch_end", s->mod->on_train_epoch_end))
            return false;
        if (val->loader && (!run_epoch(s, val, 0, s->mod->validation_step, "validation_step", NULL, &va) ||
                            !call_hook(s, "on_validation_epoch_end", s->mod->on_validation_epoch_end)))
            return false;
        rank0_printf(s, "Epoch %lld/%lld", (long long)epoch + 1, (long long)s->cfg->max_epochs);
        print_metrics(s);
        rank0_printf(s, "  [%lld steps, %.2f s, %.0f samples/s]\n", (long long)tr.batches,
                     tr.seconds + va.seconds, tr.seconds > 0 ? (double)tr.samples / tr.seconds : 0.0);
    }
    return true;
}

bool run_fit(session *s) {
    split_loader train = {0}, val = {0};
    bool ok = data_setup(s, "fit") && open_split(s, LT_SPLIT_TRAIN, &train);
    /* Validation runs when both sides have it: a validation_step and a val split. */
    if (ok && s->mod->validation_step && lt_ctx_has_split(s->dctx, LT_SPLIT_VAL))
        ok = open_split(s, LT_SPLIT_VAL, &val);
    ok = ok && call_hook(s, "configure_optimizers", s->mod->configure_optimizers);
    if (ok && lt_ctx_num_optimizers(s->ctx) == 0) {
        host_error("%s.configure_optimizers registered no optimizer; call lt_use_optimizer(ctx, "
                   "lt_adam(lt_parameters(ctx), lr))", s->mod->name);
        ok = false;
    }
    ok = ok && call_hook(s, "on_fit_start", s->mod->on_fit_start) && fit_epochs(s, &train, &val) &&
         call_hook(s, "on_fit_end", s->mod->on_fit_end);
    lt_loader_free(train.loader);
    lt_loader_free(val.loader);
    if (ok && s->cfg->test_after_fit && s->mod->test_step) ok = run_eval(s, LT_SPLIT_TEST, "test");
    return ok;
}

bool run_eval(session *s, lt_split split, const char *stage) {
    split_loader sl = {0};
    lt_step_fn step = split == LT_SPLIT_VAL ? s->mod->validation_step : s->mod->test_step;
    const char *hook = split == LT_SPLIT_VAL ? "validation_step" : "test_step";
    lt_hook_fn end = split == LT_SPLIT_VAL ? s->mod->on_validation_epoch_end : s->mod->on_test_epoch_end;
    epoch_stats st;
    lt_ctx_metrics_reset(s->ctx);
    bool ok = data_setup(s, stage) && open_split(s, split, &sl) &&
              run_epoch(s, &sl, 0, step, hook, NULL, &st) &&
              call_hook(s, split == LT_SPLIT_VAL ? "on_validation_epoch_end" : "on_test_epoch_end", end);
    if (ok) {
        rank0_printf(s, "%s:", split == LT_SPLIT_VAL ? "Validate" : "Test");
        print_metrics(s);
        rank0_printf(s, "  [%lld batches, %.2f s]\n", (long long)st.batches, st.seconds);
    }
    lt_loader_free(sl.loader);
    return ok;
}
