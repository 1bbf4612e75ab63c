/* Weight averaging, as Lightning 2.6's StochasticWeightAveraging
 * (callbacks/stochastic_weight_avg.py) and EMAWeightAveraging (callbacks/weight_averaging.py).
 * Both keep a copy of the module's flat parameter buffer on the host and fold the
 * current weights into it; at train end the average replaces the module's weights.
 * Their state (n_averaged, the averaged weights: a float32 tensor of the file) goes into
 * checkpoints, so a resumed run averages on exactly as the uninterrupted one. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../trainer/trainer.h"

/* The average of the module's parameters: torch's AveragedModel without the module. */
typedef struct averager {
    float *avg, *cur; /* host copies of the flat parameter buffer */
    int64_t numel;
    int64_t n_averaged;
} averager;

static session *session_of(lt_ctx_t *ctx) { return lt_trainer(ctx)->host; }

static lt_status avg_alloc(lt_ctx_t *ctx, averager *a) {
    if (a->avg) return LT_OK;
    int64_t n = 0;
    if (!lt_ctx_values_device(session_of(ctx)->module.ctx, &n) || n <= 0)
        return lt_set_error(LT_ERR_STATE, "weight averaging: the module has no parameters");
    a->avg = calloc((size_t)n, sizeof(float));
    a->cur = calloc((size_t)n, sizeof(float));
    if (!a->avg || !a->cur) return lt_set_error(LT_ERR_OOM, "weight averaging: out of memory");
    a->numel = n;
    return LT_OK;
}

static void avg_free(averager *a) {
    free(a->avg), free(a->cur);
    a->avg = a->cur = NULL;
}

static lt_status copy_params(lt_ctx_t *ctx, averager *a, float *buf, bool to_host) {
    return lt_ctx_copy_flat(session_of(ctx)->module.ctx, true, to_host, 0, a->numel, buf);
}

/* AveragedModel.update_parameters: the first update copies, later ones apply avg_fn
 * (decay < 0: the running mean, SWA's default; else EMA's decay * avg + (1 - decay) * cur). */
static lt_status avg_update(lt_ctx_t *ctx, averager *a, double decay) {
    lt_status r = avg_alloc(ctx, a);
    if (r == LT_OK) r = copy_params(ctx, a, a->cur, true);
    if (r != LT_OK) return r;
    if (a->n_averaged == 0) {
        memcpy(a->avg, a->cur, (size_t)a->numel * sizeof(float));
    } else if (decay < 0) {
        float k = (float)(a->n_averaged + 1);
        for (int64_t i = 0; i < a->numel; i++) a->avg[i] += (a->cur[i] - a->avg[i]) / k;
    } else {
        for (int64_t i = 0; i < a->numel; i++)
            a->avg[i] = (float)(decay * a->avg[i] + (1 - decay) * a->cur[i]);
    }
    a->n_averaged++;
    return LT_OK;
}

/* WeightAveraging._swap_models: the module gets the average and the average the module's. */
static lt_status avg_swap(lt_ctx_t *ctx, averager *a) {
    lt_status r = copy_params(ctx, a, a->cur, true);
    if (r == LT_OK) r = copy_params(ctx, a, a->avg, false);
    if (r != LT_OK) return r;
    float *t = a->avg;
    a->avg = a->cur, a->cur = t;
    return LT_OK;
}

/* ---- checkpoint state: the averaged weights as a float32 array (a tensor of the file) -- */

static lt_status avg_save(const averager *a, lt_state_t *st, const char *key) {
    lt_status r = lt_state_set_int(st, "n_averaged", a->n_averaged);
    return r != LT_OK || !a->avg ? r : lt_state_set_f32(st, key, a->avg, a->numel);
}

static int hexval(char c) {
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Untrusted: the count must be >= 0 and the weights exactly the module's size, as a
 * float32 array or (older checkpoints) little-endian float32 hex. */
static lt_status avg_load(lt_ctx_t *ctx, averager *a, const lt_state_t *st, const char *key,
                          const char *who) {
    int64_t n = 0;
    if (lt_state_get_int(st, "n_averaged", &n) && n < 0)
        return lt_set_error(LT_ERR_FORMAT, "%s state: n_averaged is %lld, expected >= 0", who,
                            (long long)n);
    a->n_averaged = n;
    const char *hex = lt_state_get_str(st, key);
    int64_t len_f32 = lt_state_f32_len(st, key);
    if (!hex && len_f32 < 0) return LT_OK;
    lt_status r = avg_alloc(ctx, a);
    if (r != LT_OK) return r;
    if (len_f32 >= 0)
        return lt_state_get_f32(st, key, a->avg, a->numel)
                   ? LT_OK
                   : lt_set_error(LT_ERR_FORMAT,
                                  "%s state: %s holds %lld values, the module has %lld parameters",
                                  who, key, (long long)len_f32, (long long)a->numel);
    /* the hex text of checkpoints from before the float32 arrays */
    size_t len = strlen(hex);
    if (len != (size_t)a->numel * 8)
        return lt_set_error(LT_ERR_FORMAT,
                            "%s state: %s holds %zu hex digits, the module's %lld parameters "
                            "need %lld",
                            who, key, len, (long long)a->numel, (long long)a->numel * 8);
    unsigned char *b = (unsigned char *)a->avg;
    for (size_t i = 0; i < len / 2; i++) {
        int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return lt_set_error(LT_ERR_FORMAT, "%s state: %s has a non-hex character at %zu", who,
                                key, 2 * i);
        b[i] = (unsigned char)(hi << 4 | lo);
    }
    return LT_OK;
}

/* ==== StochasticWeightAveraging ======================================================= */

/* The most param groups swa_lrs may list. */
#define SWA_MAX_LRS 64

typedef struct swa {
    averager a;
    double swa_lrs[SWA_MAX_LRS]; /* one per param group, or (n_lrs 0) swa_lrs[0] for all */
    int n_lrs;
    double epoch_start; /* a 1-based epoch, or (start_is_float) a fraction */
    int64_t anneal_epochs, start, end, latest_update_epoch, step_count; /* start, end: 0-based */
    int64_t max_epochs;
    bool cos, initialized, start_is_float, has_bn;
} swa;

static const lt_hparam_desc swa_hparams[] = {
    LT_HPARAM_STR("swa_lrs", "0.05",
                  "the learning rate SWALR anneals to: one float for every param group, or a "
                  "list such as [0.05, 0.01] with one per group"),
    LT_HPARAM_STR("swa_epoch_start", "0.8",
                  "averaging starts at this 1-based epoch (an integer >= 1), or after this "
                  "fraction of max_epochs (a float in [0, 1])"),
    LT_HPARAM_INT("annealing_epochs", 10, "epochs SWALR takes to reach swa_lrs"),
    LT_HPARAM_CHOICE("annealing_strategy", "cos", "cos|linear", "SWALR's annealing curve"),
    LT_HPARAM_END,
};

/* Lightning tells int from float by type: "2" is the 1-based epoch 2, "0.5" (any
 * number written with a '.' or an exponent) a fraction of max_epochs. */
static lt_status swa_parse_start(swa *w, const char *text) {
    char *end = NULL;
    w->epoch_start = strtod(text, &end);
    w->start_is_float = strpbrk(text, ".eE") != NULL;
    bool ok = end != text && !*end &&
              (w->start_is_float ? w->epoch_start >= 0 && w->epoch_start <= 1
                                 : w->epoch_start >= 1 && w->epoch_start < 1e15);
    if (!ok)
        return lt_set_error(LT_ERR_INVALID_ARG,
                            "StochasticWeightAveraging: swa_epoch_start should be a >0 integer or "
                            "a float between 0 and 1, got '%s'",
                            text);
    return LT_OK;
}

/* One positive float of swa_lrs at *p, which moves past it. */
static bool swa_parse_lr(const char **p, double *lr) {
    char *end = NULL;
    *lr = strtod(*p, &end);
    bool ok = end != *p && *lr > 0 && isfinite(*lr);
    *p = end;
    return ok;
}

/* Lightning's swa_lrs: a float, or (in brackets) a list of them, one per param group. */
static lt_status swa_parse_lrs(swa *w, const char *text) {
    const char *p = text + strspn(text, " ");
    bool list = *p == '[';
    bool ok = true;
    if (!list) {
        ok = swa_parse_lr(&p, &w->swa_lrs[0]);
    } else {
        for (p++, w->n_lrs = 0; ok && w->n_lrs < SWA_MAX_LRS;) {
            ok = swa_parse_lr(&p, &w->swa_lrs[w->n_lrs++]);
            p += strspn(p, " ");
            if (*p != ',') break;
            p++;
        }
        ok = ok && *p == ']';
        p += ok;
    }
    if (ok && !p[strspn(p, " ")]) return LT_OK;
    return lt_set_error(LT_ERR_INVALID_ARG,
                        "StochasticWeightAveraging: The `swa_lrs` should a positive float, or a "
                        "list of positive floats (at most %d, as [0.05, 0.01]), got '%s'",
                        SWA_MAX_LRS, text);
}

static lt_status swa_setup(lt_ctx_t *ctx, void *self) {
    swa *w = self;
    w->anneal_epochs = lt_hparam_int(ctx, "annealing_epochs");
    w->cos = !strcmp(lt_hparam_str(ctx, "annealing_strategy"), "cos");
    w->latest_update_epoch = -1;
    lt_status r = swa_parse_lrs(w, lt_hparam_str(ctx, "swa_lrs"));
    if (r != LT_OK) return r;
    if (w->anneal_epochs < 0)
        return lt_set_error(LT_ERR_INVALID_ARG,
                            "StochasticWeightAveraging: annealing_epochs must be >= 0, got %lld",
                            (long long)w->anneal_epochs);
    return swa_parse_start(w, lt_hparam_str(ctx, "swa_epoch_start"));
}

/* Lightning finds batch norms by type; running statistics a module keeps in its own
 * buffers for lt_batch_norm are not layers lthost can reset, so it says so. */
static void swa_warn_batch_norm(session *s) {
    if (lt_ctx_num_batchnorms(s->module.ctx) > 0) return;
    for (int i = 0; i < lt_ctx_num_buffers(s->module.ctx); i++) {
        const char *name = NULL;
        lt_ctx_buffer(s->module.ctx, i, &name);
        const char *tail = name ? strrchr(name, '.') : NULL;
        if (tail && !strcmp(tail, ".running_mean")) {
            fprintf(stderr,
                    "lthost: warning: StochasticWeightAveraging: %s is not an lt_batchnorm "
                    "layer's, so its statistics are not recomputed for the averaged weights\n",
                    name);
            return;
        }
    }
}

static lt_status swa_fit_start(lt_ctx_t *ctx, void *self) {
    swa *w = self;
    session *s = session_of(ctx);
    int64_t max_epochs = lt_trainer_max_epochs(lt_trainer(ctx));
    if (lt_ctx_num_optimizers(s->module.ctx) != 1)
        return lt_set_error(LT_ERR_INVALID_ARG, "SWA currently works with 1 `optimizer`.");
    if (lt_ctx_num_schedulers(s->module.ctx) > 1)
        return lt_set_error(LT_ERR_INVALID_ARG,
                            "SWA currently not supported for more than 1 `lr_scheduler`.");
    int groups = lt_optimizer_num_groups(lt_ctx_optimizer(s->module.ctx, 0));
    if (w->n_lrs > 0 && w->n_lrs != groups) /* torch's SWALR */
        return lt_set_error(LT_ERR_INVALID_ARG,
                            "swa_lr must have the same length as optimizer.param_groups. swa_lr "
                            "has %d values, param_groups has %d.",
                            w->n_lrs, groups);
    if (w->start_is_float && max_epochs < 0)
        return lt_set_error(LT_ERR_INVALID_ARG,
                            "SWA with `swa_epoch_start` as a float is not supported when "
                            "`max_epochs=-1`. Please provide `swa_epoch_start` as an integer.");
    int64_t first = w->start_is_float ? (int64_t)((double)max_epochs * w->epoch_start)
                                      : (int64_t)w->epoch_start;
    /* Lightning would average nothing, then copy its pre-fit copy of the module over the
     * trained weights at the end: refused instead of losing the training. */
    if (max_epochs >= 0 && first > max_epochs)
        return lt_set_error(LT_ERR_INVALID_ARG,
                            "StochasticWeightAveraging: swa_epoch_start %lld is past max_epochs "
                            "%lld, so no epoch would be averaged (Lightning would then put back "
                            "the weights fit started from); lower --callbacks.swa_epoch_start or "
                            "raise --max_epochs",
                            (long long)first, (long long)max_epochs);
    w->start = first > 1 ? first - 1 : 0; /* Lightning's swa_start */
    w->end = max_epochs < 0 ? INT64_MAX : max_epochs - 1;
    w->max_epochs = max_epochs;
    swa_warn_batch_norm(s);
    /* One more epoch after the last averaged one recomputes the batch norms' statistics. */
    w->has_bn = lt_ctx_num_batchnorms(s->module.ctx) > 0;
    if (w->has_bn && max_epochs >= 0) s->extra_epochs = 1, s->tr.max_epochs = max_epochs + 1;
    /* A resumed run that had started averaging: SWALR owns the lr again. */
    s->lr_by_callback = w->step_count > 0;
    return LT_OK;
}

static double anneal(const swa *w, double t) { return w->cos ? (1 - cos(M_PI * t)) / 2 : t; }

static double clamp01(double t) { return t < 0 ? 0 : t > 1 ? 1 : t; }

/* torch.optim.swa_utils.SWALR.get_lr for one group (its swa_lr, its lr), at w->step_count. */
static double swalr(const swa *w, double swa_lr, double lr) {
    int64_t step = w->step_count - 1;
    if (w->anneal_epochs == 0) step = step < 1 ? 1 : step;
    double span = (double)(w->anneal_epochs > 1 ? w->anneal_epochs : 1);
    double pa = anneal(w, clamp01((double)(step - 1) / span));
    double prev = pa == 1 ? swa_lr : (lr - pa * swa_lr) / (1 - pa);
    double a = anneal(w, clamp01((double)step / span));
    return swa_lr * a + prev * (1 - a);
}

static void swalr_step(lt_ctx_t *ctx, swa *w) {
    lt_optimizer_t *opt = lt_ctx_optimizer(session_of(ctx)->module.ctx, 0);
    w->step_count++;
    for (int g = 0; g < lt_optimizer_num_groups(opt); g++) {
        double swa_lr = w->swa_lrs[w->n_lrs > 0 ? g : 0];
        lt_optimizer_set_group_lr(opt, g, swalr(w, swa_lr, lt_optimizer_group_lr(opt, g)));
    }
}

static bool averaging(const swa *w, int64_t epoch) { return w->start <= epoch && epoch <= w->end; }

/* The epoch after the last averaged one (there only with batch norms): the module gets
 * the average and its batch norms fresh statistics, accumulated as the plain mean over
 * this epoch's forwards, which run without backward (Lightning's _skip_backward). */
static lt_status swa_batch_norm_epoch(lt_ctx_t *ctx, swa *w) {
    session *s = session_of(ctx);
    lt_status r = w->a.avg ? copy_params(ctx, &w->a, w->a.avg, false) : LT_OK;
    if (r == LT_OK) r = lt_ctx_batchnorm_cumulative(s->module.ctx, true);
    s->forward_only = r == LT_OK;
    return r;
}

/* Lightning's on_train_epoch_start: the first averaged epoch swaps the module's scheduler
 * for SWALR (its first step, as torch's constructor does); each averaged epoch folds in
 * the weights the previous epoch ended with. */
static lt_status swa_epoch_start(lt_ctx_t *ctx, void *self) {
    swa *w = self;
    session *s = session_of(ctx);
    int64_t epoch = lt_trainer_current_epoch(lt_trainer(ctx));
    if (!w->initialized && averaging(w, epoch)) {
        w->initialized = true;
        if (w->step_count == 0) {
            if (lt_ctx_num_schedulers(s->module.ctx) > 0)
                fprintf(stderr, "Swapping scheduler `%s` for `SWALR`\n",
                        lt_scheduler_name(lt_ctx_scheduler(s->module.ctx, 0, NULL)));
            swalr_step(ctx, w);
        }
        s->lr_by_callback = true;
    }
    if (averaging(w, epoch) && epoch > w->latest_update_epoch) {
        lt_status r = avg_update(ctx, &w->a, -1);
        if (r != LT_OK) return r;
        w->latest_update_epoch = epoch;
    }
    return w->max_epochs >= 0 && epoch == w->end + 1 ? swa_batch_norm_epoch(ctx, w) : LT_OK;
}

/* SWALR's epoch-interval step (Lightning steps it after the epoch's last batch). */
static lt_status swa_epoch_end(lt_ctx_t *ctx, void *self) {
    swa *w = self;
    session_of(ctx)->forward_only = false;
    if (w->initialized) swalr_step(ctx, w);
    return LT_OK;
}

/* Training ran to max_epochs: the average becomes the module's weights (with batch
 * norms it already has, and their momenta come back). */
static lt_status swa_train_end(lt_ctx_t *ctx, void *self) {
    swa *w = self;
    session *s = session_of(ctx);
    int64_t epoch = lt_trainer_current_epoch(lt_trainer(ctx));
    s->lr_by_callback = false;
    if (w->has_bn && w->max_epochs >= 0 && epoch - 1 == w->end + 1) {
        s->extra_epochs = 0, s->tr.max_epochs = w->max_epochs;
        return lt_ctx_batchnorm_cumulative(s->module.ctx, false); /* reset_momenta */
    }
    if ((epoch - 1 != w->end && w->end != INT64_MAX) || !w->a.avg) return LT_OK;
    return copy_params(ctx, &w->a, w->a.avg, false);
}

/* Lightning's state_dict keys; scheduler_state is SWALR's _step_count. */
static lt_status swa_save(lt_ctx_t *ctx, void *self, lt_state_t *st) {
    (void)ctx;
    swa *w = self;
    lt_state_t *sch = lt_state_child(st, "scheduler_state");
    lt_status r = sch ? lt_state_set_int(sch, "_step_count", w->step_count) : lt_last_status();
    if (r == LT_OK) r = lt_state_set_int(st, "latest_update_epoch", w->latest_update_epoch);
    return r == LT_OK ? avg_save(&w->a, st, "average_model_state") : r;
}

static lt_status swa_load(lt_ctx_t *ctx, void *self, lt_state_t *st) {
    swa *w = self;
    const lt_state_t *sch = lt_state_get_child(st, "scheduler_state");
    int64_t v = 0;
    if (sch && lt_state_get_int(sch, "_step_count", &v) && v < 0)
        return lt_set_error(LT_ERR_FORMAT, "StochasticWeightAveraging state: _step_count %lld < 0",
                            (long long)v);
    w->step_count = v;
    if (lt_state_get_int(st, "latest_update_epoch", &v)) w->latest_update_epoch = v;
    return avg_load(ctx, &w->a, st, "average_model_state", "StochasticWeightAveraging");
}

static void swa_teardown(lt_ctx_t *ctx, void *self) {
    (void)ctx;
    avg_free(&((swa *)self)->a);
}

const lt_callback_desc swa_callback = {
    .abi_major = LT_ABI_MAJOR,
    .abi_minor = LT_ABI_MINOR,
    .struct_size = sizeof(lt_callback_desc),
    .name = "StochasticWeightAveraging",
    .self_size = sizeof(swa),
    .hparams = swa_hparams,
    .setup = swa_setup,
    .on_fit_start = swa_fit_start,
    .on_train_epoch_start = swa_epoch_start,
    .on_train_epoch_end = swa_epoch_end,
    .on_train_end = swa_train_end,
    .on_save_checkpoint = swa_save,
    .on_load_checkpoint = swa_load,
    .teardown = swa_teardown,
};

/* ==== EMAWeightAveraging ============================================================== */

typedef struct ema {
    averager a;
    double decay;
    int64_t every, start_step, start_epoch; /* start_*: -1 = None */
    int64_t latest_update_step, latest_update_epoch;
    bool swapped;
} ema;

static const lt_hparam_desc ema_hparams[] = {
    LT_HPARAM_FLOAT("decay", 0.999, "EMA decay: avg = decay * avg + (1 - decay) * weights"),
    LT_HPARAM_INT("update_every_n_steps", 1, "update after every Nth optimizer step (0: never)"),
    LT_HPARAM_INT("update_starting_at_step", -1, "first step index to update at (-1: None)"),
    LT_HPARAM_INT("update_starting_at_epoch", -1,
                  "also update at the end of every epoch from this one (-1: None)"),
    LT_HPARAM_END,
};

static lt_status ema_setup(lt_ctx_t *ctx, void *self) {
    ema *e = self;
    e->decay = lt_hparam_float(ctx, "decay");
    e->every = lt_hparam_int(ctx, "update_every_n_steps");
    e->start_step = lt_hparam_int(ctx, "update_starting_at_step");
    e->start_epoch = lt_hparam_int(ctx, "update_starting_at_epoch");
    e->latest_update_epoch = -1;
    if (!(e->decay >= 0 && e->decay <= 1))
        return lt_set_error(LT_ERR_INVALID_ARG,
                            "EMAWeightAveraging: decay must be in [0, 1], got %g", e->decay);
    if (e->every < 0)
        return lt_set_error(LT_ERR_INVALID_ARG,
                            "EMAWeightAveraging: update_every_n_steps must be >= 0, got %lld",
                            (long long)e->every);
    return LT_OK;
}

/* Lightning's WeightAveraging.on_train_batch_end: step_idx is global_step - 1. */
static lt_status ema_batch_end(lt_ctx_t *ctx, void *self, lt_tensor_t *out, const lt_batch_t *b,
                               int64_t i) {
    (void)out, (void)b, (void)i;
    ema *e = self;
    int64_t gs = lt_trainer_global_step(lt_trainer(ctx)), idx = gs - 1;
    bool due = (e->start_step < 0 || idx >= e->start_step) && e->every > 0 && idx % e->every == 0;
    if (gs <= e->latest_update_step || !due) return LT_OK;
    e->latest_update_step = gs;
    return avg_update(ctx, &e->a, e->decay);
}

static lt_status ema_epoch_end(lt_ctx_t *ctx, void *self) {
    ema *e = self;
    int64_t epoch = lt_trainer_current_epoch(lt_trainer(ctx));
    if (epoch <= e->latest_update_epoch || e->start_epoch < 0 || epoch < e->start_epoch)
        return LT_OK;
    e->latest_update_epoch = epoch;
    return avg_update(ctx, &e->a, e->decay);
}

/* Validation (and the sanity check) runs on the average, once there is one. */
static lt_status ema_val_swap(lt_ctx_t *ctx, void *self) {
    ema *e = self;
    bool in = !e->swapped;
    if (!e->a.avg || e->a.n_averaged == 0 || (in && strcmp(lt_stage(ctx), "fit"))) return LT_OK;
    e->swapped = in;
    return avg_swap(ctx, &e->a);
}

static lt_status ema_train_end(lt_ctx_t *ctx, void *self) {
    ema *e = self;
    return e->a.avg && e->a.n_averaged > 0 ? copy_params(ctx, &e->a, e->a.avg, false) : LT_OK;
}

static lt_status ema_save(lt_ctx_t *ctx, void *self, lt_state_t *st) {
    (void)ctx;
    ema *e = self;
    lt_status r = lt_state_set_int(st, "latest_update_step", e->latest_update_step);
    if (r == LT_OK) r = lt_state_set_int(st, "latest_update_epoch", e->latest_update_epoch);
    lt_state_t *avg = r == LT_OK ? lt_state_child(st, "averaging_state") : NULL;
    return avg ? avg_save(&e->a, avg, "average_model_state") : lt_last_status();
}

static lt_status ema_load(lt_ctx_t *ctx, void *self, lt_state_t *st) {
    ema *e = self;
    int64_t v;
    if (lt_state_get_int(st, "latest_update_step", &v)) e->latest_update_step = v;
    if (lt_state_get_int(st, "latest_update_epoch", &v)) e->latest_update_epoch = v;
    const lt_state_t *avg = lt_state_get_child(st, "averaging_state");
    return avg ? avg_load(ctx, &e->a, avg, "average_model_state", "EMAWeightAveraging") : LT_OK;
}

static void ema_teardown(lt_ctx_t *ctx, void *self) {
    (void)ctx;
    avg_free(&((ema *)self)->a);
}

const lt_callback_desc ema_callback = {
    .abi_major = LT_ABI_MAJOR,
    .abi_minor = LT_ABI_MINOR,
    .struct_size = sizeof(lt_callback_desc),
    .name = "EMAWeightAveraging",
    .self_size = sizeof(ema),
    .hparams = ema_hparams,
    .setup = ema_setup,
    .on_train_batch_end = ema_batch_end,
    .on_train_epoch_end = ema_epoch_end,
    .on_validation_epoch_start = ema_val_swap,
    .on_validation_epoch_end = ema_val_swap,
    .on_train_end = ema_train_end,
    .on_save_checkpoint = ema_save,
    .on_load_checkpoint = ema_load,
    .teardown = ema_teardown,
};
