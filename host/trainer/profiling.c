/* --profiler: load the profiler plugin, name every hook and loop stage as Lightning's
 * profilers do ("[LightningModule]mlp.training_step", "run_training_epoch", ...), and
 * write its report at the end of each stage. Names are built once per run, so a timed
 * hook costs two clock reads and two calls; with no profiler, one branch. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trainer.h"

/* A run-long copy of the formatted name; the same text always gives the same pointer. */
const char *prof_intern(session *s, const char *fmt, ...) {
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    profiling *p = &s->prof;
    for (int i = 0; i < p->nnames; i++)
        if (!strcmp(p->names[i], buf)) return p->names[i];
    if (p->nnames == p->capnames) {
        int cap = p->capnames ? 2 * p->capnames : 64;
        char **n = realloc(p->names, (size_t)cap * sizeof *n);
        if (!n) return "(out of memory)";
        p->names = n;
        p->capnames = cap;
    }
    char *copy = strdup(buf);
    if (!copy) return "(out of memory)";
    return p->names[p->nnames++] = copy;
}

const char *prof_module_action(session *s, const char *hook) {
    return prof_intern(s, "[LightningModule]%s.%s", s->module.desc->name, hook);
}

const char *prof_strategy_action(session *s, const char *what) {
    const char *cls = s->group.desc->class_name ? s->group.desc->class_name : s->group.desc->name;
    return prof_intern(s, "[Strategy]%s.%s", cls, what);
}

#define HOOK_NAME_(type, name) #name,
static const char *const hook_names[HOOK_COUNT] = {LT_HOOK_TABLE(HOOK_NAME_)};
#undef HOOK_NAME_

static void name_actions(session *s) {
    char key[256];
    for (int i = 0; i < s->hooks.n; i++) {
        participant *p = &s->hooks.parts[i];
        callback_state_key(s, i, key, sizeof key);
        for (int h = 0; h < HOOK_COUNT; h++)
            p->action[h] = p->is_module ? prof_module_action(s, hook_names[h])
                                        : prof_intern(s, "[Callback]%s.%s", key, hook_names[h]);
    }
    profiling *p = &s->prof;
    p->training_step = prof_strategy_action(s, "training_step");
    p->validation_step = prof_strategy_action(s, "validation_step");
    p->test_step = prof_strategy_action(s, "test_step");
    p->predict_step = prof_strategy_action(s, "predict_step");
    p->backward = prof_strategy_action(s, "backward");
    p->batch_to_device = prof_strategy_action(s, "batch_to_device");
    p->optimizer_step = prof_module_action(s, "optimizer_step");
    if (s->group.world > 1) p->reduce_gradients = prof_strategy_action(s, "reduce_gradients");
    p->optimizer_zero_grad = prof_module_action(s, "optimizer_zero_grad");
    p->configure_gradient_clipping = prof_module_action(s, "configure_gradient_clipping");
    p->on_before_batch_transfer = prof_module_action(s, "on_before_batch_transfer");
    p->transfer_batch_to_device = prof_module_action(s, "transfer_batch_to_device");
    p->on_after_batch_transfer = prof_module_action(s, "on_after_batch_transfer");
    p->data_setup = prof_intern(s, "[LightningDataModule]%s.setup", s->data.desc->name);
    p->data_teardown = prof_intern(s, "[LightningDataModule]%s.teardown", s->data.desc->name);
}

void prof_span(void *user, const lt_prof_span *span) {
    profiling *p = user;
    p->d->span(p->st, span);
}

bool profiler_open(session *s) {
    const host_config *c = s->cfg;
    profiling *p = &s->prof;
    if (!c->profiler) return true;
    if (!host_open_plugin(c, LT_PLUGIN_PROFILER, c->profiler, &p->plugin)) return false;
    const lt_profiler_desc *d = lt_plugin_desc(p->plugin);
    const char *missing = !d->init      ? "init"
                          : !d->start   ? "start"
                          : !d->stop    ? "stop"
                          : !d->summary ? "summary"
                                        : NULL;
    if (missing) {
        host_error("%s: profiler '%s' has no %s function; set .%s in LT_PROFILER_EXPORT",
                   lt_plugin_path(p->plugin), d->name, missing, missing);
        return false;
    }
    snprintf(p->dirpath, sizeof p->dirpath, "%s",
             c->profiler_dirpath   ? c->profiler_dirpath
             : *s->log.version_dir ? s->log.version_dir
                                   : c->default_root_dir);
    lt_profiler_opts o = {.struct_size = sizeof o,
                          .rank = s->group.rank,
                          .world_size = s->group.world,
                          .dirpath = p->dirpath,
                          .filename = c->profiler_filename};
    lt_clear_error();
    if (d->init(&o, &p->st) != LT_OK) {
        host_error("--profiler %s: init failed: %s", d->name,
                   *lt_last_error() ? lt_last_error() : "it returned an error");
        return false;
    }
    p->d = d;
    p->ranges = lt_device_has_ranges(s->dev);
    p->stage = c->command; /* setup hooks belong to the first stage's report */
    name_actions(s);
    if (d->span) lt_device_set_profiler(s->dev, prof_span, p);
    return true;
}

/* Lightning's file: <dirpath>/<stage>-<filename>[-<rank>].txt; else stdout on rank 0
 * (one report on the terminal) and nowhere on the others. */
static FILE *report_stream(session *s, const char *stage, char *path, size_t n) {
    const host_config *c = s->cfg;
    if (!c->profiler_filename)
        snprintf(path, n, "%s", s->group.rank == 0 ? "" : "/dev/null");
    else if (s->group.world > 1)
        snprintf(path, n, "%s/%s-%s-%d.txt", s->prof.dirpath, stage, c->profiler_filename,
                 s->group.rank);
    else
        snprintf(path, n, "%s/%s-%s.txt", s->prof.dirpath, stage, c->profiler_filename);
    if (!*path) return stdout;
    char err[600] = "";
    if (c->profiler_filename && !logs_make_dirs(s->prof.dirpath, err, sizeof err)) {
        host_error("--profiler.dirpath: %s", err);
        return NULL;
    }
    FILE *f = fopen(path, "w");
    if (!f) host_error("--profiler.filename: cannot write %s: %s", path, strerror(errno));
    return f;
}

bool profiler_report(session *s) {
    profiling *p = &s->prof;
    const char *stage = p->stage;
    p->stage = NULL;
    if (!p->d || !stage) return true;
    char path[4200];
    /* Ops timed by the device's marks still wait for their times: read them first. */
    lt_clear_error();
    if (s->dev && lt_device_flush_profiler(s->dev) != LT_OK) {
        host_error("--profiler %s: %s", p->d->name, lt_last_error());
        return false;
    }
    FILE *out = report_stream(s, stage, path, sizeof path);
    if (!out) return false;
    lt_clear_error();
    lt_status st = p->d->summary(p->st, stage, out);
    bool ok = (out == stdout ? fflush(out) : fclose(out)) == 0 && st == LT_OK;
    if (!ok)
        host_error("--profiler %s: writing the %s report: %s", p->d->name, stage,
                   *lt_last_error() ? lt_last_error() : strerror(errno));
    else if (s->cfg->profiler_filename)
        rank0_printf(s, "Profiler report written to %s\n", path);
    return ok;
}

void profiler_close(session *s) {
    profiling *p = &s->prof;
    if (p->d) {
        lt_device_set_profiler(s->dev, NULL, NULL);
        if (p->d->teardown) p->d->teardown(p->st);
    }
    lt_plugin_close(p->plugin);
    for (int i = 0; i < p->nnames; i++) free(p->names[i]);
    free(p->names);
    *p = (profiling){0};
}
