/* The evaluation loops: validation (inside fit, and `lthost validate`), test and
 * predict, in Lightning 2.x's hook order (tests/fixtures/hook_order_*.txt). */
#include <stdlib.h>
#include <string.h>

#include "predict_writer.h"
#include "trainer.h"

/* What differs between the evaluation loops. */
typedef struct eval_kind {
    lt_split split;
    log_scope scope;
    const char *step_name, *step_end_name, *epoch_end_name;
    hook_id start, end, epoch_start, epoch_end, batch_start, batch_end;
} eval_kind;

static const eval_kind kinds[] = {
    [LT_SPLIT_VAL] = {LT_SPLIT_VAL, SCOPE_VAL, "validation_step", "validation_step_end",
                      "validation_epoch_end", HOOK_on_validation_start, HOOK_on_validation_end,
                      HOOK_on_validation_epoch_start, HOOK_on_validation_epoch_end,
                      HOOK_on_validation_batch_start, HOOK_on_validation_batch_end},
    [LT_SPLIT_TEST] = {LT_SPLIT_TEST, SCOPE_TEST, "test_step", "test_step_end", "test_epoch_end",
                       HOOK_on_test_start, HOOK_on_test_end, HOOK_on_test_epoch_start,
                       HOOK_on_test_epoch_end, HOOK_on_test_batch_start, HOOK_on_test_batch_end},
    [LT_SPLIT_PREDICT] = {LT_SPLIT_PREDICT, SCOPE_PREDICT, "predict_step", NULL, NULL,
                          HOOK_on_predict_start, HOOK_on_predict_end, HOOK_on_predict_epoch_start,
                          HOOK_on_predict_epoch_end, HOOK_on_predict_batch_start,
                          HOOK_on_predict_batch_end},
};

typedef struct eval_run {
    const eval_kind *k;
    lt_step_fn step;
    lt_step_end_fn step_end;
    lt_epoch_end_fn epoch_end;
    outputs_list outputs;
    predict_writer *writer;
    int64_t batches;                       /* over all dataloaders */
    const char *step_action, *next_action; /* profiler names */
    bool bar; /* its own progress bar (not inside fit, whose bar is the epoch's) */
    int ndataloaders;
} eval_run;

static lt_tensor_t *default_predict(session *s, const lt_batch_t *b) {
    return s->module.forward(s->module.ctx, lt_ctx_self(s->module.ctx), b->x);
}

static bool eval_batch(session *s, eval_run *r, split_loader *sl, const lt_host_batch *hb) {
    lt_batch_t b;
    int64_t idx = hb->index;
    lt_arena_reset(lt_ctx_arena(s->module.ctx));
    lt_ctx_set_batch_size(s->module.ctx, hb->n);
    lt_ctx_set_log_scope(s->module.ctx, r->k->scope, LT_LOG_ON_EPOCH);
    lt_ctx_set_dataloader_idx(s->module.ctx, r->ndataloaders > 1 ? sl->dataloader_idx : -1);
    lt_ctx_metrics_new_step_of(s->module.ctx, r->k->scope);
    if (!make_batch(s, sl, hb, &b)) return false;
    hook_args a = {.batch = &b, .batch_idx = idx};
    if (!hooks_run(s, r->k->batch_start, &a)) return false;
    lt_clear_error();
    prof_start(s, r->step_action);
    lt_ctx_t *ctx = s->module.ctx;
    lt_tensor_t *out = r->step ? r->step(ctx, lt_ctx_self(ctx), &b, idx) : default_predict(s, &b);
    prof_stop(s, r->step_action);
    /* an error recorded in the step fails it even when the step returned an output */
    if (lt_last_status() != LT_OK) return step_failed(s, r->k->step_name, idx);
    if (out && r->step_end) {
        out = r->step_end(s->module.ctx, lt_ctx_self(s->module.ctx), out);
        if (lt_last_status() != LT_OK) return step_failed(s, r->k->step_end_name, idx);
    }
    if (r->epoch_end && !outputs_push(&r->outputs, out)) return false;
    if (r->writer && !predict_writer_add(r->writer, out, idx)) return false;
    if (r->k->split == LT_SPLIT_PREDICT && !prediction_writers_batch(s, out, &b, idx)) return false;
    a.tensor = out;
    if (!hooks_run(s, r->k->batch_end, &a)) return false;
    if (r->k->split != LT_SPLIT_PREDICT && !log_eval_step(s, r->k->scope, sl->dataloader_idx))
        return false;
    if (r->bar) bar_update(s, idx + 1);
    return true;
}

/* The batches of one dataloader (its own progress bar when the loop shows one, named
 * "Validation DataLoader K" when there are several, as Lightning's TQDM bar). */
static bool eval_batches(session *s, eval_run *r, split_loader *sl, const char *bar_desc) {
    lt_arena_t *arena = lt_ctx_arena(s->module.ctx);
    bool prev = lt_arena_set_grad(arena, false);
    char desc[64];
    if (r->bar) {
        if (r->ndataloaders > 1)
            snprintf(desc, sizeof desc, "%s DataLoader %d", bar_desc, sl->dataloader_idx);
        bar_start(s, r->ndataloaders > 1 ? desc : bar_desc, sl->batches);
    }
    bool ok = lt_loader_start(sl->loader, 0, sl->batches) == LT_OK;
    /* Inside fit the same batches come again at the next validation: fill them ahead. */
    if (ok && sl->split == LT_SPLIT_VAL && !strcmp(s->tr.stage, "fit"))
        ok = lt_loader_set_next(sl->loader, 0, sl->batches) == LT_OK;
    for (int64_t seen = 0; ok && seen < sl->batches; seen++) {
        const lt_host_batch *hb = NULL;
        prof_start(s, r->next_action);
        lt_status st = lt_loader_next(sl->loader, &hb);
        prof_stop(s, r->next_action);
        if (st != LT_OK) {
            host_error("loading %s batch %lld%s: %s", split_name(sl->split), (long long)seen,
                       r->ndataloaders > 1 ? " of a dataloader" : "", lt_last_error());
            ok = false;
        }
        if (!ok || !hb) break;
        ok = eval_batch(s, r, sl, hb);
        r->batches++;
    }
    if (r->bar) bar_finish(s);
    lt_arena_reset(arena);
    lt_arena_set_grad(arena, prev);
    lt_ctx_set_dataloader_idx(s->module.ctx, -1); /* epoch-end hooks log plain names */
    return ok;
}

/* Lightning's evaluation epoch: each dataloader's batches in turn. */
static bool eval_dataloaders(session *s, eval_run *r, eval_loaders *el, const char *bar_desc) {
    r->ndataloaders = el->n;
    for (int i = 0; i < el->n; i++)
        if (!eval_batches(s, r, &el->sl[i], bar_desc)) return false;
    return true;
}

static bool run_epoch_end(session *s, eval_run *r) {
    if (!r->epoch_end) return true;
    lt_clear_error();
    lt_ctx_set_log_scope(s->module.ctx, r->k->scope, LT_LOG_ON_EPOCH);
    lt_ctx_t *ctx = s->module.ctx;
    lt_status st = r->epoch_end(ctx, lt_ctx_self(ctx), r->outputs.items, r->outputs.n);
    return (st == LT_OK && lt_last_status() == LT_OK) || step_failed(s, r->k->epoch_end_name, -1);
}

/* start hooks, batches, x_epoch_end, epoch-end hooks, metrics, end hooks. */
static bool eval_loop(session *s, eval_run *r, eval_loaders *el, const char *bar_desc) {
    const eval_kind *k = r->k;
    lt_ctx_set_training(s->module.ctx, false);
    lt_ctx_metrics_reset_scope(s->module.ctx, k->scope);
    r->bar = bar_desc != NULL;
    bool ok = hooks_run(s, k->start, NULL) && hooks_run(s, k->epoch_start, NULL) &&
              eval_dataloaders(s, r, el, bar_desc) && run_epoch_end(s, r);
    lt_ctx_set_dataloader_idx(s->module.ctx, -1);
    outputs_clear(&r->outputs);
    free(r->outputs.items);
    lt_ctx_set_log_scope(s->module.ctx, k->scope, LT_LOG_ON_EPOCH);
    /* As Lightning 2.x (epoch_end_reached): the epoch-end hooks see this epoch's means in
     * callback_metrics, and the row goes out after them, with what they logged too. */
    bool logs = k->split != LT_SPLIT_PREDICT;
    ok = ok && (!logs || log_epoch_end(s, k->scope, false)) &&
         (logs || prediction_writers_epoch(s)) && hooks_run(s, k->epoch_end, NULL) &&
         (!logs || log_epoch_end(s, k->scope, true)) && hooks_run(s, k->end, NULL);
    lt_ctx_set_training(s->module.ctx, true);
    return ok;
}

static eval_run make_run(const session *s, lt_split split) {
    const lt_module_desc *m = s->module.desc;
    const profiling *p = &s->prof;
    eval_run r = {.k = &kinds[split]};
    r.step_action = split == LT_SPLIT_VAL    ? p->validation_step
                    : split == LT_SPLIT_TEST ? p->test_step
                                             : p->predict_step;
    r.next_action = split == LT_SPLIT_VAL    ? "[_EvaluationLoop].val_next"
                    : split == LT_SPLIT_TEST ? "[_EvaluationLoop].test_next"
                                             : "[_PredictionLoop].predict_next";
    if (split == LT_SPLIT_VAL) {
        r.step = m->validation_step, r.step_end = m->validation_step_end,
        r.epoch_end = m->validation_epoch_end;
    } else if (split == LT_SPLIT_TEST) {
        r.step = m->test_step, r.step_end = m->test_step_end, r.epoch_end = m->test_epoch_end;
    } else {
        r.step = s->cfg->submodule ? NULL : m->predict_step;
    }
    return r;
}

bool run_validation(session *s, eval_loaders *val) {
    const lt_module_desc *m = s->module.desc;
    eval_run r = make_run(s, LT_SPLIT_VAL);
    if (!s->tr.sanity_checking &&
        !module_hook(s, "on_validation_model_zero_grad", m->on_validation_model_zero_grad))
        return false;
    return module_hook(s, "on_validation_model_eval", m->on_validation_model_eval) &&
           eval_loop(s, &r, val, NULL) &&
           module_override(s, "on_validation_model_train", m->on_validation_model_train);
}

static const batch_limit *limit_of(const host_config *c, lt_split split) {
    return split == LT_SPLIT_VAL    ? &c->limit_val
           : split == LT_SPLIT_TEST ? &c->limit_test
                                    : &c->limit_predict;
}

static bool eval_stage(session *s, eval_loaders *sl, lt_split split) {
    const lt_module_desc *m = s->module.desc;
    eval_run r = make_run(s, split);
    if (split == LT_SPLIT_PREDICT) { /* every rank predicts it all; rank 0 writes it */
        bool file = !prediction_writers_present(s) || s->cfg->predict_output; /* issue 23 */
        if (s->group.rank == 0 && file &&
            !(r.writer = predict_writer_open(s->cfg->predict_output, s->cfg->default_root_dir)))
            return false;
        if (!module_hook(s, "on_predict_model_eval", m->on_predict_model_eval) ||
            !eval_loop(s, &r, sl, "Predicting")) {
            if (r.writer) predict_writer_abort(r.writer);
            return false;
        }
        return !r.writer || predict_writer_close(r.writer, s);
    }
    bool test = split == LT_SPLIT_TEST;
    double t0 = now_seconds();
    bool ok = module_hook(s, test ? "on_test_model_eval" : "on_validation_model_eval",
                          test ? m->on_test_model_eval : m->on_validation_model_eval) &&
              eval_loop(s, &r, sl, test ? "Testing" : "Validation") &&
              module_override(s, test ? "on_test_model_train" : "on_validation_model_train",
                              test ? m->on_test_model_train : m->on_validation_model_train);
    if (ok) print_results(s, test ? "Test" : "Validate", r.batches, now_seconds() - t0);
    return ok;
}

bool run_eval_stage(session *s, lt_split split) {
    static const char *const stages[] = {"fit", "validate", "test", "predict"};
    eval_loaders el = {.n = 0};
    const char *prev = s->tr.stage;
    memset(s->log.eval_step, 0, sizeof s->log.eval_step); /* a stage's own evaluation loop */
    s->tr.stage = stages[split];
    if (s->prof.d) s->prof.stage = stages[split];
    /* The run's setup hooks ran for its command; test after fit sets the data up for test. */
    bool ok = (!strcmp(s->cfg->command, stages[split]) || data_setup(s, stages[split])) &&
              open_eval_loaders(s, split, limit_of(s->cfg, split), true, &el) &&
              (split == LT_SPLIT_PREDICT || logging_open(s)) && eval_stage(s, &el, split);
    s->tr.stage = prev;
    eval_loaders_free(&el);
    return ok;
}
