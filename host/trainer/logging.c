/* Lightning's logger connector: turns what hooks lt_log into callback_metrics, progress
 * bar values and logger rows. on_step values go out every log_every_n_steps (as NAME, or
 * NAME_step when also on_epoch); epoch means at the end of each loop (NAME or NAME_epoch),
 * each row with the epoch and Lightning's step. Values are read from the device only
 * here, so logging costs no synchronisation between those points. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trainer.h"

static bool logging_on(const session *s) {
    const host_config *c = s->cfg;
    return c->fast_dev_run == 0 && loggers_enabled(c) && s->group.rank == 0;
}

/* Lightning's Logger.save_dir / name / version (--logger.save_dir, .name, .version). */
static const char *log_save_dir(const logger_set *ls, const host_config *c) {
    const char *v = logger_option(ls, c, "save_dir");
    return v && *v ? v : c->default_root_dir;
}

static const char *log_name(const logger_set *ls, const host_config *c) {
    const char *v = logger_option(ls, c, "name");
    return v ? v : "lightning_logs";
}

bool logging_plan(session *s) {
    const host_config *c = s->cfg;
    log_state *l = &s->log;
    char err[600];
    if (!logging_on(s) || *l->version_dir) return true;
    if (!logger_set_load(&l->set, c)) return false;
    const char *v = logger_option(&l->set, c, "version");
    int version = v ? (int)strtol(v, NULL, 10) : -1;
    if (version < -1 || (v && strtol(v, NULL, 10) > 1000000000)) {
        host_error("--logger.version %s: expected -1 (the next free version) or a version "
                   "number >= 0",
                   v);
        return false;
    }
    if (logs_version_dir_path(log_save_dir(&l->set, c), log_name(&l->set, c), version,
                              l->version_dir, sizeof l->version_dir, err, sizeof err))
        return true;
    host_error("%s; set --default_root_dir to a shorter path or --logger false", err);
    return false;
}

/* The module's hyper-parameters as text, for log_hyperparams. */
static bool log_hparams(session *s) {
    lt_logger_hparam hp[LTHOST_MAX_OVERRIDES];
    char text[LTHOST_MAX_OVERRIDES][256];
    int n = lt_ctx_hparam_count(s->module.ctx);
    if (n > LTHOST_MAX_OVERRIDES) n = LTHOST_MAX_OVERRIDES;
    for (int i = 0; i < n; i++) {
        const lt_hparam_desc *d = lt_ctx_hparam_desc(s->module.ctx, i);
        const char *value = lt_ctx_hparam_text(s->module.ctx, i, text[i], sizeof text[i]);
        hp[i] = (lt_logger_hparam){d->name, value, d->type};
    }
    return logger_set_hparams(&s->log.set, hp, n);
}

bool logging_open(session *s) {
    log_state *l = &s->log;
    const host_config *c = s->cfg;
    char err[600];
    if (l->open || !logging_on(s)) return true;
    if (!logging_plan(s)) return false;
    if (!logs_make_dirs(l->version_dir, err, sizeof err)) {
        host_error("%s; set --default_root_dir to a writable folder or --logger false", err);
        return false;
    }
    l->open = true;
    const char *slash = strrchr(l->version_dir, '/');
    const char *version = slash ? slash + 1 : l->version_dir;
    /* config.yaml first: a refusal must leave the folder's old logs untouched */
    if (!save_config_file(s) ||
        !logger_set_init(&l->set, c, log_save_dir(&l->set, c), log_name(&l->set, c), version,
                         l->version_dir) ||
        (c->enable_autolog_hparams && !log_hparams(s)))
        return false;
    rank0_printf(s, "Logging to %s\n", l->version_dir);
    return true;
}

void logging_close(session *s) {
    logger_set_close(&s->log.set, s->log.end_status ? s->log.end_status : "failed");
}

/* Lightning's logged name: NAME, its forked NAME_step / NAME_epoch, then with several
 * dataloaders the one the value came from: NAME/dataloader_idx_K (dataloader -1: none). */
static void metric_name(char *out, size_t n, const char *name, const char *suffix, int dataloader) {
    if (dataloader >= 0)
        snprintf(out, n, "%s%s/dataloader_idx_%d", name, suffix, dataloader);
    else
        snprintf(out, n, "%s%s", name, suffix);
}

static void set_callback_metric(session *s, const char *name, const char *suffix, int dataloader,
                                double v, unsigned flags, int scope) {
    lt_trainer_t *tr = &s->tr;
    char full[sizeof tr->callback_metrics[0].name];
    metric_name(full, sizeof full, name, suffix, dataloader);
    int i = 0;
    while (i < tr->n_callback_metrics && strcmp(tr->callback_metrics[i].name, full)) i++;
    if (i == tr->n_callback_metrics) {
        if (i == 2 * LT_MAX_LOGGED) return;
        tr->callback_metrics = s->log.callback_metrics;
        snprintf(tr->callback_metrics[i].name, sizeof full, "%s", full);
        tr->n_callback_metrics++;
    }
    tr->callback_metrics[i].value = v;
    s->log.callback_flags[i] = flags;
    s->log.callback_scope[i] = scope;
}

/* A row being assembled for the loggers. */
typedef struct row {
    metric_kv kv[LT_MAX_LOGGED + 1];
    char names[LT_MAX_LOGGED][80];
    int n;
} row;

static void row_add(row *r, const char *name, const char *suffix, int dataloader, double v) {
    if (r->n == LT_MAX_LOGGED) return;
    metric_name(r->names[r->n], sizeof r->names[0], name, suffix, dataloader);
    r->kv[r->n] = (metric_kv){r->names[r->n], v};
    r->n++;
}

static bool write_row(session *s, row *r, int64_t step, bool with_epoch) {
    if (r->n == 0 || s->log.set.n == 0) return true;
    int n = r->n;
    if (with_epoch) r->kv[n++] = (metric_kv){"epoch", (double)s->tr.current_epoch};
    return logger_set_metrics(&s->log.set, r->kv, n, step);
}

/* This step's on_step values of the training loop into callback_metrics (and row). With
 * sync (a point every rank reaches together), the sync_dist ones become their mean over
 * ranks, as Lightning syncs a step value when it is read; between those points the
 * progress bar shows rank 0's own. */
static bool collect_step(session *s, row *r, bool sync) {
    lt_metric_reading step[LT_MAX_LOGGED], synced[LT_MAX_LOGGED];
    int n = 0, nsync = 0, where[LT_MAX_LOGGED];
    for (int i = 0; i < lt_ctx_metric_count(s->module.ctx) && n < LT_MAX_LOGGED; i++) {
        lt_metric_reading m;
        if (lt_ctx_metric_read(s->module.ctx, i, &m) != LT_OK || m.scope != SCOPE_TRAIN ||
            !m.this_step || !(m.flags & LT_LOG_ON_STEP))
            continue;
        if (sync && (m.flags & LT_LOG_SYNC_DIST)) /* an unweighted mean, as sync_dist's */
            where[nsync] = n, synced[nsync] = m, synced[nsync].epoch_mean = m.last,
            synced[nsync++].weight = 1;
        step[n++] = m;
    }
    if (!ddp_sync_metrics(s, synced, nsync)) return false;
    for (int i = 0; i < nsync; i++) step[where[i]].last = synced[i].epoch_mean;
    for (int i = 0; i < n; i++) {
        const lt_metric_reading *m = &step[i];
        const char *suffix = m->flags & LT_LOG_ON_EPOCH ? "_step" : "";
        set_callback_metric(s, m->name, suffix, -1, m->last, m->flags, SCOPE_TRAIN);
        if (r && !(m->flags & LT_LOG_NO_LOGGER)) row_add(r, m->name, suffix, -1, m->last);
    }
    return true;
}

bool refresh_step_metrics(session *s) { return collect_step(s, NULL, true); }

/* Under --barebones, LightningModule.log raises: here the step that logged fails. */
static bool barebones_logged(const session *s) {
    lt_metric_reading m;
    if (!s->cfg->barebones || lt_ctx_metric_count(s->module.ctx) == 0 ||
        lt_ctx_metric_read(s->module.ctx, 0, &m) != LT_OK)
        return false;
    host_error("%s logged '%s' with lt_log, but --barebones true is set: logging can impact raw "
               "speed so it is disabled in barebones mode (Lightning: \"You are trying to "
               "`self.log()` but `Trainer(barebones=True)` is configured.\"); drop --barebones or "
               "the lt_log calls",
               s->module.desc->name, m.name);
    return true;
}

bool log_train_step(session *s) {
    if (barebones_logged(s)) return false;
    /* every: the same step on every rank, so the ranks can sync there */
    bool every = (s->pos.batches_that_stepped + 1) % s->cfg->log_every_n_steps == 0;
    bool due = every || s->tr.should_stop;
    /* read the device only when something shows it; the bar alone reads it only where
     * that costs no synchronisation (host memory): on a GPU it shows the logged values */
    if (!due && !(bar_due(s) && lt_device_host_memory(s->dev))) return true;
    row r = {.n = 0};
    return collect_step(s, &r, every) &&
           (!due || write_row(s, &r, s->pos.batches_that_stepped, true));
}

/* The epoch values of scope, sync_dist ones averaged over all ranks. Every rank reads
 * the same metrics in the same order (the module logs the same names everywhere). */
static int epoch_readings(session *s, log_scope scope, lt_metric_reading *out, int *dataloader) {
    int n = 0, nsync = 0;
    lt_metric_reading synced[LT_MAX_LOGGED];
    int where[LT_MAX_LOGGED];
    for (int i = 0; i < lt_ctx_metric_count(s->module.ctx) && n < LT_MAX_LOGGED; i++) {
        lt_metric_reading m;
        if (lt_ctx_metric_read(s->module.ctx, i, &m) != LT_OK || (int)m.scope != (int)scope ||
            !m.logged || !(m.flags & LT_LOG_ON_EPOCH))
            continue;
        if (m.flags & LT_LOG_SYNC_DIST) where[nsync] = n, synced[nsync++] = m;
        dataloader[n] = lt_ctx_metric_dataloader_idx(s->module.ctx, i);
        out[n++] = m;
    }
    if (!ddp_sync_metrics(s, synced, nsync)) return -1;
    for (int i = 0; i < nsync; i++) out[where[i]] = synced[i];
    return n;
}

bool log_epoch_end(session *s, log_scope scope, bool write) {
    row r = {.n = 0};
    lt_metric_reading all[LT_MAX_LOGGED];
    int dl[LT_MAX_LOGGED];
    int n = epoch_readings(s, scope, all, dl);
    if (n < 0) return false;
    for (int i = 0; i < n; i++) {
        const lt_metric_reading m = all[i];
        const char *suffix = m.flags & LT_LOG_ON_STEP ? "_epoch" : "";
        set_callback_metric(s, m.name, suffix, dl[i], m.epoch_mean, m.flags, scope);
        if (suffix[0]) set_callback_metric(s, m.name, "", dl[i], m.epoch_mean, m.flags, scope);
        if (!(m.flags & LT_LOG_NO_LOGGER)) row_add(&r, m.name, suffix, dl[i], m.epoch_mean);
    }
    if (s->tr.sanity_checking || !write) return true;
    /* Lightning logs train epoch metrics at the step of the epoch's last batch. */
    int64_t stepped = s->pos.batches_that_stepped;
    int64_t step = stepped - (scope == SCOPE_TRAIN && stepped > 0);
    return write_row(s, &r, step, true) && logger_set_save(&s->log.set);
}

bool log_eval_step(session *s, log_scope scope, int dataloader) {
    if (barebones_logged(s)) return false;
    if (s->tr.sanity_checking || s->log.set.n == 0) return true;
    row r = {.n = 0};
    for (int i = 0; i < lt_ctx_metric_count(s->module.ctx) && r.n < LT_MAX_LOGGED; i++) {
        lt_metric_reading m;
        if (lt_ctx_metric_read(s->module.ctx, i, &m) != LT_OK || (int)m.scope != (int)scope ||
            !m.this_step || !(m.flags & LT_LOG_ON_STEP) || (m.flags & LT_LOG_NO_LOGGER))
            continue;
        const char *suffix = m.flags & LT_LOG_ON_EPOCH ? "_step" : "";
        row_add(&r, m.name, suffix, lt_ctx_metric_dataloader_idx(s->module.ctx, i), m.last);
    }
    int k = dataloader >= 0 && dataloader < LT_MAX_DATALOADERS ? dataloader : 0;
    return write_row(s, &r, s->log.eval_step[k]++, false);
}

lt_status trainer_log(lt_trainer_t *tr, const char *name, double value) {
    session *s = tr->host;
    row r = {.n = 0};
    row_add(&r, name, "", -1, value);
    if (!write_row(s, &r, s->pos.batches_that_stepped, false))
        return lt_set_error(LT_ERR_IO, "lt_trainer_log('%s') could not write to the loggers", name);
    return LT_OK;
}

/* ---- trainer flags (issue 23: wt-flags) ---- */
bool trainer_log_row(session *s, const char *const *names, const double *values, int n) {
    row r = {.n = 0};
    for (int i = 0; i < n && i < LT_MAX_LOGGED; i++) row_add(&r, names[i], "", -1, values[i]);
    return write_row(s, &r, s->pos.batches_that_stepped, false);
}

/* lt_log_histogram's host side: to the loggers that take histograms, at Lightning's step. */
lt_status trainer_log_histogram(lt_trainer_t *tr, const char *name, const float *v, int64_t n) {
    session *s = tr->host;
    if (!logger_set_histogram(&s->log.set, name, v, n, s->pos.batches_that_stepped))
        return lt_set_error(LT_ERR_IO, "lt_log_histogram('%s') could not write to the loggers",
                            name);
    return LT_OK;
}

void print_metric_line(session *s) {
    const lt_trainer_t *tr = &s->tr;
    for (int scope = SCOPE_TRAIN; scope <= SCOPE_PREDICT; scope++)
        for (int i = 0; i < tr->n_callback_metrics; i++) {
            const char *name = tr->callback_metrics[i].name;
            const char *dl = strstr(name, "/dataloader_idx_"); /* NAME_step/dataloader_idx_K */
            size_t n = dl ? (size_t)(dl - name) : strlen(name);
            unsigned f = s->log.callback_flags[i];
            bool both = (f & LT_LOG_ON_STEP) && (f & LT_LOG_ON_EPOCH); /* NAME is shown instead */
            bool step_value = (n > 5 && !strncmp(name + n - 5, "_step", 5)) ||
                              (both && n > 6 && !strncmp(name + n - 6, "_epoch", 6));
            if (s->log.callback_scope[i] == scope && !step_value)
                rank0_printf(s, "  %s=%.4f", name, tr->callback_metrics[i].value);
        }
}

void print_results(session *s, const char *title, int64_t batches, double seconds) {
    rank0_printf(s, "%s:", title);
    int scope = !strcmp(title, "Test") ? SCOPE_TEST : SCOPE_VAL;
    for (int i = 0; i < s->tr.n_callback_metrics; i++)
        if (s->log.callback_scope[i] == scope)
            rank0_printf(s, "  %s=%.4f", s->tr.callback_metrics[i].name,
                         s->tr.callback_metrics[i].value);
    rank0_printf(s, "  [%lld batches, %.2f s]\n", (long long)batches, seconds);
}
