/* fit: sanity check, then epochs of training batches with validation every
 * val_check_interval, stopping on max_epochs / max_steps / should_stop (min_epochs
 * permitting), in Lightning 2.x's hook order (tests/fixtures/hook_order_fit.txt). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "trainer.h"

typedef struct fit_state {
    split_loader train;
    eval_loaders val; /* each val dataloader (the train split's batches when overfitting) */
    bool has_val;
    int64_t val_check_batch; /* validate when (iteration + 1) % this == 0 */
    int64_t total_batch_idx; /* over all epochs */
    int64_t samples;         /* trained on, for the samples/s of the epoch line */
    double val_seconds;      /* spent validating, left out of samples/s */
    outputs_list outputs;    /* for training_epoch_end */
    /* --reload_dataloaders_every_n_epochs: the epoch each loader was (re)built in */
    int64_t train_loaded_epoch, val_loaded_epoch;
    bool told_min_not_met; /* Lightning says once that min_epochs/min_steps overrule a stop */
} fit_state;

static bool overfitting(const host_config *c) {
    return c->overfit_batches.is_fraction ? c->overfit_batches.fraction > 0
                                          : c->overfit_batches.count > 0;
}

static bool open_train(session *s, fit_state *f) {
    f->train_loaded_epoch = s->tr.current_epoch;
    bool ok = open_split(s, LT_SPLIT_TRAIN, &s->cfg->limit_train, overfitting(s->cfg), &f->train);
    if (ok && s->cfg->probe) s->cfg->probe->train_len = f->train.ds.length;
    return ok && ddp_same_count(s, f->train.batches, "training batches per epoch");
}

static bool open_val(session *s, fit_state *f) {
    bool overfit = overfitting(s->cfg);
    f->val_loaded_epoch = s->tr.current_epoch;
    return open_eval_loaders(s, overfit ? LT_SPLIT_TRAIN : LT_SPLIT_VAL, &s->cfg->limit_val,
                             overfit, &f->val);
}

static bool open_loaders(session *s, fit_state *f) {
    const host_config *c = s->cfg;
    bool overfit = overfitting(c);
    if (!open_train(s, f)) return false;
    if (overfit)
        rank0_printf(s,
                     "Overfitting on %lld training batches: no shuffling, and "
                     "validation reads the same batches\n",
                     (long long)f->train.batches);
    bool val_data = overfit || lt_ctx_has_split(s->data.ctx, LT_SPLIT_VAL);
    bool limited_away =
        !c->limit_val.is_fraction ? c->limit_val.count == 0 : c->limit_val.fraction == 0;
    const lt_module_desc *m = s->module.desc;
    f->has_val = m->validation_step && val_data && !limited_away;
    if (m->validation_step && !val_data && s->group.rank == 0) /* Lightning warns too */
        fprintf(stderr,
                "lthost: warning: %s has a validation_step but data plugin %s has no "
                "validation split, so validation is skipped; give the data plugin a val split "
                "(lt_data_add_split(ctx, LT_SPLIT_VAL, ...))\n",
                m->name, s->data.desc->name);
    return !f->has_val || open_val(s, f);
}

/* Lightning's val_check_batch, with its error for an interval past the epoch. */
static bool resolve_val_check(session *s, fit_state *f) {
    const batch_limit *v = &s->cfg->val_check_interval;
    int64_t n = f->train.batches;
    if (v->is_fraction) {
        f->val_check_batch = (int64_t)((double)n * v->fraction);
        if (f->val_check_batch < 1) f->val_check_batch = 1;
        return true;
    }
    f->val_check_batch = v->count;
    if (v->count >= 1 && (v->count <= n || s->cfg->check_val_every_n_epoch == 0)) return true;
    host_error("--val_check_interval %lld must be between 1 and the number of training batches "
               "(%lld); to validate by the total count of batches across epochs set "
               "--check_val_every_n_epoch null, to disable validation set --limit_val_batches 0",
               (long long)v->count, (long long)n);
    return false;
}

/* Lightning's estimated_stepping_batches, for configure_optimizers (#23). */
static bool estimate_stepping_batches(session *s, const fit_state *f) {
    const host_config *c = s->cfg;
    int64_t est = -1;
    if (c->max_epochs != -1) {
        const int64_t acc = c->accumulate_grad_batches > 0 ? c->accumulate_grad_batches : 1;
        const int64_t per_epoch = (f->train.batches + acc - 1) / acc;
        const int64_t epochs = c->max_epochs > 1 ? c->max_epochs : 1;
        est = per_epoch > INT64_MAX / epochs ? INT64_MAX : per_epoch * epochs;
        if (c->max_steps != -1 && c->max_steps < est) est = c->max_steps;
    } else if (c->max_steps != -1) {
        est = c->max_steps;
    }
    s->tr.estimated_stepping_batches = est;
    return true;
}

static bool configure_optimizers(session *s) {
    const lt_module_desc *m = s->module.desc;
    if (!module_hook(s, "configure_optimizers", m->configure_optimizers)) return false;
    int n = lt_ctx_num_optimizers(s->module.ctx);
    if (n == 0) {
        host_error("%s.configure_optimizers registered no optimizer; call lt_use_optimizer(ctx, "
                   "lt_adam(lt_parameters(ctx), lr))",
                   m->name);
        return false;
    }
    if (n > 1 && !m->manual_optimization) {
        host_error("%s registers %d optimizers: training with several optimizers needs manual "
                   "optimization; set .manual_optimization = true and step them in training_step "
                   "(lt_optimizers, lt_manual_backward, lt_optimizer_step)",
                   m->name, n);
        return false;
    }
    if (m->manual_optimization &&
        (s->cfg->accumulate_grad_batches > 1 || s->cfg->gradient_clip_val > 0)) {
        host_error(
            "--accumulate_grad_batches and --gradient_clip_val are for automatic optimization; "
            "%s uses manual optimization, so accumulate or clip in its training_step",
            m->name);
        return false;
    }
    return true;
}

/* Lightning's lr_scheduler_step(scheduler, metric): the module's override (#23) or the
 * default step. */
static lt_status scheduler_step(session *s, lt_scheduler_t *sch, const double *metric) {
    const lt_module_desc *m = s->module.desc;
    if (!LT_MODULE_HAS(m, lr_scheduler_step) || !m->lr_scheduler_step)
        return metric ? lt_scheduler_step_metric(sch, *metric) : lt_scheduler_step(sch);
    lt_clear_error();
    lt_status st = m->lr_scheduler_step(s->module.ctx, lt_ctx_self(s->module.ctx), sch, metric);
    return st == LT_OK ? lt_last_status() : st; /* an error recorded, then dropped, counts */
}

/* Step the schedulers of interval whose frequency divides idx + 1; plateau ones read
 * their monitor from callback_metrics. */
static bool step_module_schedulers(session *s, lt_interval interval, int64_t idx, bool plateau) {
    for (int i = 0; i < lt_ctx_num_schedulers(s->module.ctx); i++) {
        lt_scheduler_config c;
        lt_scheduler_t *sch = lt_ctx_scheduler(s->module.ctx, i, &c);
        if (c.interval != interval || lt_scheduler_needs_metric(sch) != plateau ||
            (idx + 1) % c.frequency != 0)
            continue;
        lt_status st;
        if (plateau) {
            double v;
            if (!lt_trainer_metric(&s->tr, c.monitor, &v)) {
                host_error("ReduceLROnPlateau conditioned on metric %s which is not available; "
                           "log it with lt_log or set .monitor in LT_SCHEDULER_CONFIG to a logged "
                           "metric",
                           c.monitor);
                return false;
            }
            st = scheduler_step(s, sch, &v);
        } else {
            st = scheduler_step(s, sch, NULL);
        }
        if (st != LT_OK) {
            const lt_module_desc *m = s->module.desc;
            if (LT_MODULE_HAS(m, lr_scheduler_step) && m->lr_scheduler_step)
                host_error("%s.lr_scheduler_step(%s) failed: %s", m->name, lt_scheduler_name(sch),
                           *lt_last_error() ? lt_last_error() : lt_status_name(st));
            else
                host_error("%s.step: %s", lt_scheduler_name(sch), lt_last_error());
            return false;
        }
    }
    return true;
}

/* Once StochasticWeightAveraging's SWALR has replaced them, the module's schedulers rest
 * (Lightning swaps the scheduler config). */
static bool step_schedulers(session *s, lt_interval interval, int64_t idx, bool plateau) {
    return s->lr_by_callback || step_module_schedulers(s, interval, idx, plateau);
}

static bool max_steps_reached(const session *s) {
    return s->cfg->max_steps >= 0 && s->tr.global_step >= s->cfg->max_steps;
}

/* Lightning's fit_loop.min_epochs: None is 0, or 1 when min_steps is set. */
static int64_t min_epochs_of(const session *s) {
    if (s->cfg->min_epochs >= 0) return s->cfg->min_epochs;
    return s->cfg->min_steps >= 0 ? 1 : 0;
}

/* Lightning's _FitLoop._can_stop_early with `processed` epochs finished: min_epochs and
 * min_steps met (min_steps alone implies min_epochs 1, as its _parse_loop_limits). */
static bool can_stop_early(const session *s, int64_t processed) {
    int64_t min_epochs = min_epochs_of(s), min_steps = s->cfg->min_steps;
    return (min_epochs <= 0 || processed >= min_epochs) &&
           (min_steps <= 0 || s->tr.global_step >= min_steps);
}

/* A stop was asked for: whether to honour it now; if not, Lightning's notice (once). The
 * request stays until the minimums are met, as in Lightning 2.x. */
static bool stop_now(session *s, fit_state *f, int64_t processed) {
    if (!s->tr.should_stop) return false;
    if (can_stop_early(s, processed)) return true;
    if (!f->told_min_not_met) {
        char steps[32] = "None";
        if (s->cfg->min_steps >= 0)
            snprintf(steps, sizeof steps, "%lld", (long long)s->cfg->min_steps);
        rank0_printf(s,
                     "Trainer was signaled to stop but the required `min_epochs=%lld` or "
                     "`min_steps=%s` has not been met. Training will continue...\n",
                     (long long)min_epochs_of(s), steps);
        f->told_min_not_met = true;
    }
    return false;
}

/* stop_now, saying why fit stops when it does. */
static bool stop_with_reason(session *s, fit_state *f, int64_t processed) {
    if (!stop_now(s, f, processed)) return false;
    if (*s->tr.stop_reason) rank0_printf(s, "%s\n", s->tr.stop_reason);
    return true;
}

/* Lightning's _should_reload_train_dl / _should_reload_val_dl. */
static bool reload_due(const session *s, int64_t loaded_epoch) {
    int64_t n = s->cfg->reload_dataloaders_every_n_epochs;
    return n > 0 && s->tr.current_epoch - loaded_epoch >= n;
}

static bool reload_val(session *s, fit_state *f) {
    if (!reload_due(s, f->val_loaded_epoch)) return true;
    eval_loaders_free(&f->val);
    return open_val(s, f);
}

/* At an epoch's start: a new train loader (and so a new epoch length) when one is due. */
static bool reload_train(session *s, fit_state *f) {
    if (!reload_due(s, f->train_loaded_epoch)) return true;
    lt_loader_free(f->train.loader);
    f->train.loader = NULL;
    return open_train(s, f) && resolve_val_check(s, f);
}

static bool should_validate(const session *s, const fit_state *f, int64_t batch_idx) {
    if (!f->has_val) return false;
    int64_t every = s->cfg->check_val_every_n_epoch;
    if (every > 0 && (s->tr.current_epoch + 1) % every != 0) return false;
    int64_t it = every > 0 ? batch_idx : f->total_batch_idx;
    return (it + 1) % f->val_check_batch == 0;
}

static bool train_one_batch(session *s, fit_state *f, const lt_host_batch *hb, bool last) {
    lt_batch_t b;
    int64_t idx = hb->index;
    lt_arena_reset(lt_ctx_arena(s->module.ctx));
    lt_ctx_metrics_new_step(s->module.ctx);
    lt_ctx_set_batch_size(s->module.ctx, hb->n);
    lt_ctx_set_log_scope(s->module.ctx, SCOPE_TRAIN, LT_LOG_ON_STEP);
    if (!make_batch(s, &f->train, hb, &b)) return false;
    hook_args a = {.batch = &b, .batch_idx = idx};
    lt_tensor_t *loss = NULL;
    int64_t steps_before = s->tr.global_step;
    if (!hooks_run(s, HOOK_on_train_batch_start, &a)) return false;
    prof_start(s, "run_training_batch");
    bool trained = training_batch(s, &b, idx, last, &loss);
    prof_stop(s, "run_training_batch");
    if (!trained) return false;
    if (s->module.desc->training_epoch_end && !outputs_push(&f->outputs, loss)) return false;
    a.tensor = loss;
    if (!hooks_run(s, HOOK_on_train_batch_end, &a)) return false;
    bool stepped = s->tr.global_step > steps_before;
    if (stepped && !step_schedulers(s, LT_INTERVAL_STEP, idx, false)) return false;
    if (last && !step_schedulers(s, LT_INTERVAL_EPOCH, s->tr.current_epoch, false)) return false;
    if (!log_train_step(s)) return false;
    bar_update(s, idx + 1);
    if (should_validate(s, f, idx)) {
        double t0 = now_seconds();
        if (!reload_val(s, f) || !run_validation(s, &f->val) ||
            !ddp_any(s, s->tr.should_stop, &s->tr.should_stop))
            return false;
        f->val_seconds += now_seconds() - t0;
    }
    if (stepped || s->module.desc->manual_optimization) s->pos.batches_that_stepped++;
    f->total_batch_idx++;
    f->samples += hb->n;
    s->pos.batches_done = idx + 1;
    s->pos.total_batch_idx = f->total_batch_idx;
    /* A signal waits for the end of an accumulation window: gradients are not saved. */
    bool between_steps =
        stepped || s->module.desc->manual_optimization || s->accumulate_grad_batches == 1;
    return checkpoints_flush(s) && (!between_steps || stop_if_signalled(s));
}

/* The batch a resumed epoch starts at, checked against this run's epoch length. */
static bool first_batch(session *s, const split_loader *sl, int64_t *first) {
    *first = 0;
    if (!s->resume.active) return true;
    s->resume.active = false;
    *first = s->pos.batches_done;
    if (*first <= sl->batches) return true;
    host_error("--ckpt_path %s was saved after batch %lld of epoch %lld, but an epoch of this run "
               "has %lld batches; resume with the --limit_train_batches / --overfit_batches of "
               "the run that saved it",
               s->resume.file, (long long)*first, (long long)s->tr.current_epoch,
               (long long)sl->batches);
    return false;
}

/* The next train batch into *hb (NULL when the loader has no more); false after an error. */
static bool next_train_batch(session *s, split_loader *sl, int64_t seen, const lt_host_batch **hb) {
    prof_start(s, "[_TrainingEpochLoop].train_dataloader_next");
    lt_status st = lt_loader_next(sl->loader, hb);
    prof_stop(s, "[_TrainingEpochLoop].train_dataloader_next");
    if (st == LT_OK) return true;
    host_error("loading train batch %lld: %s", (long long)seen, lt_last_error());
    return false;
}

/* The epoch's batches from batch `seen` on, until the last one, the loader running dry,
 * max_steps, or a stop request that min_epochs/min_steps allow. */
static bool train_batches(session *s, fit_state *f, int64_t seen) {
    split_loader *sl = &f->train;
    if (lt_loader_start_at(sl->loader, s->tr.current_epoch, seen, sl->batches) != LT_OK) {
        host_error("starting epoch %lld's training batches at batch %lld: %s",
                   (long long)s->tr.current_epoch, (long long)seen, lt_last_error());
        return false;
    }
    /* The next epoch's first batches fill while this one's last steps run. */
    const int64_t next = s->tr.current_epoch + 1;
    if ((s->cfg->max_epochs < 0 || next < s->cfg->max_epochs + s->extra_epochs) &&
        lt_loader_set_next(sl->loader, next, sl->batches) != LT_OK) {
        host_error("announcing epoch %lld to the train dataloader: %s", (long long)next,
                   lt_last_error());
        return false;
    }
    while (seen < sl->batches) {
        const lt_host_batch *hb = NULL;
        if (!next_train_batch(s, sl, seen, &hb)) return false;
        if (!hb) break;
        if (!train_one_batch(s, f, hb, ++seen == sl->batches)) return false;
        if (max_steps_reached(s) || stop_now(s, f, s->tr.current_epoch)) break;
    }
    return true;
}

/* The module's training_epoch_end with the epoch's training_step outputs, if it has one. */
static bool run_training_epoch_end(session *s, fit_state *f) {
    if (!s->module.desc->training_epoch_end) return true;
    lt_clear_error();
    lt_status st = s->module.desc->training_epoch_end(s->module.ctx, lt_ctx_self(s->module.ctx),
                                                      f->outputs.items, f->outputs.n);
    if (st != LT_OK || lt_last_status() != LT_OK) return step_failed(s, "training_epoch_end", -1);
    return true;
}

/* After the last batch: epoch-level logging, on_train_epoch_end, epoch schedulers, and the
 * checkpoints and signal checks due at the end of an epoch. */
static bool end_train_epoch(session *s, fit_state *f) {
    lt_ctx_set_log_scope(s->module.ctx, SCOPE_TRAIN, LT_LOG_ON_EPOCH);
    if (!run_training_epoch_end(s, f) || !refresh_step_metrics(s)) return false;
    /* Callbacks see this epoch's means (Lightning: epoch_end_reached), then what the
     * module's on_train_epoch_end logged too; the row goes out once, after both. */
    if (!log_epoch_end(s, SCOPE_TRAIN, false) || !hooks_run_train_epoch_end(s) ||
        !ddp_any(s, s->tr.should_stop, &s->tr.should_stop) ||
        !log_epoch_end(s, SCOPE_TRAIN, true) ||
        !step_schedulers(s, LT_INTERVAL_EPOCH, s->tr.current_epoch, true))
        return false;
    s->pos.epoch_done = true;
    return checkpoints_flush(s) && stop_if_signalled(s);
}

static bool train_epoch(session *s, fit_state *f) {
    lt_ctx_metrics_reset_scope(s->module.ctx, SCOPE_TRAIN);
    outputs_clear(&f->outputs);
    if (!hooks_run(s, HOOK_on_train_epoch_start, NULL)) return false;
    char desc[64];
    snprintf(desc, sizeof desc, "Epoch %lld", (long long)s->tr.current_epoch);
    int64_t seen = 0;
    if (!first_batch(s, &f->train, &seen)) return false;
    s->pos.batches_done = seen;
    s->pos.epoch_done = false;
    bar_start(s, desc, f->train.batches);
    bool trained = train_batches(s, f, seen);
    lt_arena_reset(lt_ctx_arena(s->module.ctx));
    bar_finish(s);
    return trained && end_train_epoch(s, f);
}

static void print_epoch_line(session *s, double seconds, double train_seconds, int64_t samples,
                             int64_t batches) {
    if (s->bar.enabled && stdout_is_terminal(s)) return; /* the bar showed it */
    /* with SWA's batch-norm epoch, one more than max_epochs */
    if (s->cfg->max_epochs >= 0)
        rank0_printf(s, "Epoch %lld/%lld", (long long)s->tr.current_epoch + 1,
                     (long long)(s->cfg->max_epochs + s->extra_epochs));
    else
        rank0_printf(s, "Epoch %lld", (long long)s->tr.current_epoch + 1);
    print_metric_line(s);
    rank0_printf(s, "  [%lld steps, %.2f s, %.0f samples/s]\n", (long long)batches, seconds,
                 train_seconds > 0 ? (double)(samples * s->group.world) / train_seconds : 0.0);
}

static bool fit_epochs(session *s, fit_state *f) {
    int64_t start = 0;
    if (s->resume.active) { /* continue the saved epoch, or start the one after it */
        start = s->tr.current_epoch + s->pos.epoch_done;
        s->resume.active = !s->pos.epoch_done;
        f->total_batch_idx = s->pos.total_batch_idx;
    }
    bool stopped = false;
    for (int64_t epoch = start;; epoch++) {
        if ((s->cfg->max_epochs >= 0 && epoch >= s->cfg->max_epochs + s->extra_epochs) ||
            max_steps_reached(s))
            break;
        if ((stopped = stop_with_reason(s, f, epoch))) break; /* asked before (a spent Timer) */
        s->tr.current_epoch = epoch;
        if (!reload_train(s, f)) return false;
        double t0 = now_seconds();
        int64_t b0 = f->total_batch_idx, n0 = f->samples;
        double v0 = f->val_seconds;
        prof_start(s, "run_training_epoch");
        bool trained = train_epoch(s, f);
        prof_stop(s, "run_training_epoch");
        if (!trained) return false;
        double spent = now_seconds() - t0;
        print_epoch_line(s, spent, spent - (f->val_seconds - v0), f->samples - n0,
                         f->total_batch_idx - b0);
        if ((stopped = stop_with_reason(s, f, epoch + 1))) break;
    }
    s->tr.current_epoch++; /* Lightning's current_epoch counts finished epochs after fit */
    if (max_steps_reached(s))
        rank0_printf(s, "`Trainer.fit` stopped: `max_steps=%lld` reached (global step %lld).\n",
                     (long long)s->cfg->max_steps, (long long)s->tr.global_step);
    else if (!stopped)
        rank0_printf(s, "`Trainer.fit` stopped: `max_epochs=%lld` reached (global step %lld).\n",
                     (long long)s->cfg->max_epochs, (long long)s->tr.global_step);
    return true;
}

static bool sanity_check(session *s, fit_state *f) {
    int64_t n = s->cfg->num_sanity_val_steps;
    if (!f->has_val || n == 0) return true;
    int64_t keep[LT_MAX_DATALOADERS];
    for (int i = 0; i < f->val.n; i++) { /* num_sanity_val_steps per dataloader, as Lightning */
        keep[i] = f->val.sl[i].batches;
        if (n > 0 && n < keep[i]) f->val.sl[i].batches = n;
    }
    s->tr.sanity_checking = true;
    bool ok = hooks_run(s, HOOK_on_sanity_check_start, NULL) && run_validation(s, &f->val) &&
              hooks_run(s, HOOK_on_sanity_check_end, NULL);
    s->tr.sanity_checking = false;
    for (int i = 0; i < f->val.n; i++) f->val.sl[i].batches = keep[i];
    s->tr.n_callback_metrics = 0; /* Lightning resets the results after the sanity check */
    lt_ctx_metrics_reset_scope(s->module.ctx, SCOPE_VAL);
    return ok;
}

bool run_fit(session *s) {
    fit_state f = {0};
    bool ok = open_loaders(s, &f) && resolve_val_check(s, &f) && estimate_stepping_batches(s, &f) &&
              configure_optimizers(s) && precision_setup_fit(s) && logging_open(s) &&
              ckpt_restore_training(s);
    if (ok && s->cfg->enable_model_summary) print_model_summary(s);
    ok = ok && hooks_run(s, HOOK_on_fit_start, NULL) && sanity_check(s, &f);
    if (ok && s->resume.active) ckpt_restore_metrics(s);
    signals_install();
    bool started = ok;
    ok = ok && hooks_run(s, HOOK_on_train_start, NULL) && fit_epochs(s, &f) &&
         hooks_run(s, HOOK_on_train_end, NULL) && hooks_run(s, HOOK_on_fit_end, NULL);
    if (started && !ok && !s->exit_code) on_exception_save(s); /* not after a signal */
    signals_restore();
    outputs_clear(&f.outputs);
    free(f.outputs.items);
    lt_loader_free(f.train.loader);
    eval_loaders_free(&f.val);
    if (ok && s->cfg->test_after_fit && s->module.desc->test_step)
        ok = profiler_report(s) && run_eval_stage(s, LT_SPLIT_TEST);
    return ok;
}
