/* LearningRateFinder under `lthost tune --lr_find`, as Lightning's Tuner.lr_find
 * (lightning/pytorch/tuner/lr_finder.py): a fit of num_training steps in which the learning
 * rate of every optimizer grows from min_lr to max_lr (exponential: min * (max/min)^(k/N),
 * linear: min + k/N (max - min), k the steps taken), each step's loss smoothed as
 * _LRCallback does (beta 0.98, bias-corrected with the global step), the sweep stopped
 * once the smoothed loss passes early_stop_threshold x the best; then _LRFinder.suggestion:
 * the steepest descent (torch.gradient of loss w.r.t. lr, argmin) over the points after
 * the first 10 and before the last. Prints it, writes lr_find.csv and lr_find.png in the
 * log folder (or --default_root_dir without a logger). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../trainer/trainer.h"
#include "lr_plot.h"
#include "tune.h"

enum { SWEEP_MAX = 100000 };

typedef struct lr_finder {
    double *lr, *loss; /* one per step */
    int n, cap;
    double avg_loss, best_loss;
    bool mode_linear;
} lr_finder;

static const lt_hparam_desc lrf_hparams[] = {
    LT_HPARAM_FLOAT("min_lr", 1e-8, "the learning rate of the first step"),
    LT_HPARAM_FLOAT("max_lr", 1.0, "the learning rate the sweep ends at"),
    LT_HPARAM_INT("num_training", 100, "steps of the sweep"),
    LT_HPARAM_CHOICE("mode", "exponential", "exponential|linear", "how the rate grows"),
    LT_HPARAM_FLOAT("early_stop_threshold", 4.0,
                    "stop once the smoothed loss exceeds this x the best (0: never)"),
    LT_HPARAM_END,
};

/* ---- the suggestion -------------------------------------------------------------- */

/* torch.gradient(f, spacing=[x]) at i (edge_order 1), in float32 as torch computes it. */
static float gradient_at(const float *x, const float *f, int n, int i) {
    if (i == 0) return (f[1] - f[0]) / (x[1] - x[0]);
    if (i == n - 1) return (f[n - 1] - f[n - 2]) / (x[n - 1] - x[n - 2]);
    float hl = x[i] - x[i - 1], hr = x[i + 1] - x[i];
    return (hl * hl * f[i + 1] - hr * hr * f[i - 1] + (hr * hr - hl * hl) * f[i]) /
           (hl * hr * (hl + hr));
}

int lr_find_suggestion(const double *lr, const double *loss, int n) {
    enum { SKIP_BEGIN = 10, SKIP_END = 1 };
    if (n - SKIP_BEGIN - SKIP_END < 2) return -1;
    float *x = malloc(sizeof *x * (size_t)n), *f = malloc(sizeof *f * (size_t)n);
    int *idx = malloc(sizeof *idx * (size_t)n), m = 0, best = -1;
    for (int i = SKIP_BEGIN; x && f && idx && i < n - SKIP_END; i++)
        if (isfinite((float)loss[i])) {
            x[m] = (float)lr[i], f[m] = (float)loss[i];
            idx[m++] = i;
        }
    if (m >= 2) {
        float min_g = INFINITY;
        for (int i = 0; i < m; i++) {
            float g = gradient_at(x, f, m, i);
            if (g < min_g || best < 0) min_g = g, best = idx[i]; /* first minimum, as argmin */
        }
    }
    free(x), free(f), free(idx);
    return best;
}

/* ---- the callback ------------------------------------------------------------------- */

static session *session_of(lt_ctx_t *ctx) { return lt_trainer(ctx)->host; }

static lt_status lrf_on_fit_start(lt_ctx_t *ctx, void *self) {
    lr_finder *f = self;
    const session *s = session_of(ctx);
    double lo = lt_hparam_float(ctx, "min_lr"), hi = lt_hparam_float(ctx, "max_lr");
    int64_t n = lt_hparam_int(ctx, "num_training");
    if (!s->cfg->tune_lr_find)
        return lt_set_error(LT_ERR_STATE, "LearningRateFinder runs under `lthost tune --module M "
                                          "--lr_find`, not as a --callbacks of a fit");
    if (!(lo > 0) || !(hi > lo) || !isfinite(hi))
        return lt_set_error(LT_ERR_INVALID_ARG,
                            "lr_find: needs 0 < min_lr < max_lr, got min_lr %g, max_lr %g", lo, hi);
    if (n < 1 || n > SWEEP_MAX)
        return lt_set_error(LT_ERR_INVALID_ARG, "lr_find: num_training must be 1 to %d, got %lld",
                            SWEEP_MAX, (long long)n);
    if (s->cfg->accumulate_grad_batches != 1)
        return lt_set_error(LT_ERR_INVALID_ARG,
                            "lr_find: sweeps one learning rate per batch; drop "
                            "--accumulate_grad_batches %lld",
                            (long long)s->cfg->accumulate_grad_batches);
    f->cap = (int)n;
    f->lr = calloc((size_t)n, sizeof *f->lr);
    f->loss = calloc((size_t)n, sizeof *f->loss);
    f->mode_linear = !strcmp(lt_hparam_str(ctx, "mode"), "linear");
    if (!f->lr || !f->loss) return lt_set_error(LT_ERR_OOM, "lr_find: out of memory");
    return LT_OK;
}

static lt_status lrf_on_train_batch_start(lt_ctx_t *ctx, void *self, const lt_batch_t *b,
                                          int64_t i) {
    (void)b, (void)i;
    lr_finder *f = self;
    if (f->n >= f->cap) return LT_OK; /* max_steps ends the fit at cap */
    double lo = lt_hparam_float(ctx, "min_lr"), hi = lt_hparam_float(ctx, "max_lr");
    double r = (double)f->n / (double)f->cap;
    double lr = f->mode_linear ? lo + r * (hi - lo) : lo * pow(hi / lo, r);
    lt_trainer_t *tr = lt_trainer(ctx);
    for (int k = 0; k < lt_trainer_num_optimizers(tr); k++)
        lt_optimizer_set_lr(lt_trainer_optimizer(tr, k), lr);
    f->lr[f->n] = lr;
    f->loss[f->n] = NAN; /* a step that returns nothing stays NaN, as in Lightning */
    return LT_OK;
}

static double loss_value(lt_tensor_t *out) {
    float v;
    if (!out || lt_dtype_of(out) != LT_F32 || lt_numel(out) != 1 ||
        lt_to_host(out, &v, sizeof v) != LT_OK) {
        lt_clear_error();
        return NAN;
    }
    return v;
}

static lt_status lrf_on_train_batch_end(lt_ctx_t *ctx, void *self, lt_tensor_t *out,
                                        const lt_batch_t *b, int64_t i) {
    (void)b, (void)i;
    lr_finder *f = self;
    if (f->n >= f->cap) return LT_OK;
    int64_t step = f->n + 1; /* trainer.global_step after this batch's optimizer step */
    double loss = loss_value(out), beta = 0.98;
    f->n++;
    if (isnan(loss)) return LT_OK;
    f->avg_loss = beta * f->avg_loss + (1 - beta) * loss;
    double smoothed = f->avg_loss / (1 - pow(beta, (double)step + 1));
    double threshold = lt_hparam_float(ctx, "early_stop_threshold");
    if (threshold > 0 && step > 1 && smoothed > threshold * f->best_loss)
        lt_trainer_request_stop(lt_trainer(ctx), "lr_find: the loss diverged");
    if (smoothed < f->best_loss || step == 1) f->best_loss = smoothed;
    f->loss[f->n - 1] = smoothed;
    return LT_OK;
}

/* The log folder, or --default_root_dir when no logger made one. */
static const char *out_dir(const session *s) {
    return s->log.open ? s->log.version_dir : s->cfg->default_root_dir;
}

static lt_status write_csv(const char *path, const lr_finder *f) {
    FILE *o = fopen(path, "w");
    if (!o) return lt_set_error(LT_ERR_IO, "lr_find: cannot create %s", path);
    fprintf(o, "lr,loss\n");
    for (int i = 0; i < f->n; i++) fprintf(o, "%.17g,%.17g\n", f->lr[i], f->loss[i]);
    return fclose(o) == 0 ? LT_OK : lt_set_error(LT_ERR_IO, "lr_find: cannot write %s", path);
}

static lt_status lrf_on_fit_end(lt_ctx_t *ctx, void *self) {
    lr_finder *f = self;
    session *s = session_of(ctx);
    char csv[4200], png[4200], err[600];
    snprintf(csv, sizeof csv, "%s/lr_find.csv", out_dir(s));
    snprintf(png, sizeof png, "%s/lr_find.png", out_dir(s));
    int best = lr_find_suggestion(f->lr, f->loss, f->n);
    lt_status st = write_csv(csv, f);
    if (st != LT_OK) return st;
    if (!lr_plot_write(png, f->lr, f->loss, f->n, best, err, sizeof err))
        return lt_set_error(LT_ERR_IO, "lr_find: %s", err);
    if (best < 0)
        return lt_set_error(LT_ERR_STATE,
                            "lr_find: failed to compute a suggestion: %d steps ran, the "
                            "suggestion needs at least 13; raise --lr_find.num_training or "
                            "--limit_train_batches, or --lr_find.early_stop_threshold 0",
                            f->n);
    rank0_printf(s, "Learning rate finder: suggested lr %.6g (step %d of %d); sweep in %s and %s\n",
                 f->lr[best], best, f->n, csv, png);
    return LT_OK;
}

static void lrf_teardown(lt_ctx_t *ctx, void *self) {
    (void)ctx;
    lr_finder *f = self;
    free(f->lr), free(f->loss);
    f->lr = f->loss = NULL;
}

const lt_callback_desc lr_finder_callback = {
    .abi_major = LT_ABI_MAJOR,
    .abi_minor = LT_ABI_MINOR,
    .struct_size = sizeof(lt_callback_desc),
    .name = "LearningRateFinder",
    .self_size = sizeof(lr_finder),
    .hparams = lrf_hparams,
    .on_fit_start = lrf_on_fit_start,
    .on_train_batch_start = lrf_on_train_batch_start,
    .on_train_batch_end = lrf_on_train_batch_end,
    .on_fit_end = lrf_on_fit_end,
    .teardown = lrf_teardown,
};
