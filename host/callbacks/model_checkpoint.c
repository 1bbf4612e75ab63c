/* ModelCheckpoint, as Lightning's: save every N epochs or N training steps, keep the
 * save_top_k best by `monitor` (or the latest), optionally last.ckpt; names from a
 * template like "{epoch}-{val_loss:.2f}". Its hooks decide and keep the books exactly
 * when Lightning's do; the host writes the files once the batch or epoch is complete
 * (model_checkpoint_flush), so every checkpoint resumes from a consistent point. */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../trainer/trainer.h"

#define MC_PATH 4096
#define MC_DIR 2048 /* room for dirpath/name-vN.ckpt in MC_PATH */

typedef struct scored_path {
    char *path;
    double score;
} scored_path;

typedef struct model_checkpoint {
    char dirpath[MC_DIR];
    scored_path *best_k; /* Lightning's best_k_models */
    int nbest, capbest;
    char best_model_path[MC_PATH], kth_best_model_path[MC_PATH], last_model_path[MC_PATH];
    double best_model_score, kth_value, current_score;
    int64_t every_n_epochs, every_n_train_steps, last_global_step_saved;
    bool on_train_epoch_end; /* save there (true) or after validation */
    /* What the hooks decided, written by model_checkpoint_flush. */
    char write[2][MC_PATH];
    int nwrite;
    char remove[2][MC_PATH];
    int nremove;
} model_checkpoint;

static const lt_hparam_desc mc_hparams[] = {
    LT_HPARAM_STR("dirpath", "", "folder for the files (default: <version dir>/checkpoints)"),
    LT_HPARAM_STR("filename", "",
                  "name template, e.g. {epoch}-{val_loss:.2f} (default {epoch}-{step})"),
    LT_HPARAM_STR("monitor", "", "metric that ranks checkpoints (default: none, keep the latest)"),
    LT_HPARAM_CHOICE("mode", "min", "min|max", "whether a lower or higher monitor is better"),
    LT_HPARAM_INT("save_top_k", 1, "how many to keep (-1: all, 0: none)"),
    LT_HPARAM_BOOL("save_last", false, "also write last.ckpt at every save"),
    LT_HPARAM_INT("every_n_epochs", -1,
                  "save every N epochs (default 1 unless every_n_train_steps)"),
    LT_HPARAM_INT("every_n_train_steps", -1, "save every N optimizer steps (default off)"),
    LT_HPARAM_CHOICE(
        "save_on_train_epoch_end", "auto", "auto|true|false",
        "save at train epoch end (auto: when validation runs once per epoch or never)"),
    LT_HPARAM_BOOL("auto_insert_metric_name", true, "{epoch} becomes epoch=3"),
    LT_HPARAM_BOOL("enable_version_counter", true, "add -v1, -v2 to a name that exists"),
    LT_HPARAM_BOOL("verbose", false, "print each save"),
    LT_HPARAM_END,
};

static session *sess(lt_ctx_t *ctx) { return lt_trainer(ctx)->host; }

/* Lightning's __init_triggers and _should_save_on_train_epoch_end. */
static lt_status mc_setup(lt_ctx_t *ctx, void *self) {
    model_checkpoint *mc = self;
    const host_config *c = sess(ctx)->cfg;
    int64_t epochs = lt_hparam_int(ctx, "every_n_epochs"),
            steps = lt_hparam_int(ctx, "every_n_train_steps");
    mc->every_n_epochs = epochs < 0 && steps < 0 ? 1 : epochs < 0 ? 0 : epochs;
    mc->every_n_train_steps = steps < 0 ? 0 : steps;
    mc->last_global_step_saved = -1;
    mc->best_model_score = mc->current_score = mc->kth_value = NAN;
    const char *when = lt_hparam_str(ctx, "save_on_train_epoch_end");
    bool no_val = c->limit_val.is_fraction ? c->limit_val.fraction == 0 : c->limit_val.count == 0;
    mc->on_train_epoch_end = strcmp(when, "auto") ? !strcmp(when, "true")
                             : c->check_val_every_n_epoch != 1
                                 ? false
                                 : no_val || (c->val_check_interval.is_fraction &&
                                              c->val_check_interval.fraction == 1.0);
    if (lt_hparam_int(ctx, "save_top_k") < -1)
        return lt_set_error(LT_ERR_INVALID_ARG,
                            "ModelCheckpoint: save_top_k must be >= -1 (got %lld)",
                            (long long)lt_hparam_int(ctx, "save_top_k"));
    return LT_OK;
}

static void mc_teardown(lt_ctx_t *ctx, void *self) {
    (void)ctx;
    model_checkpoint *mc = self;
    for (int i = 0; i < mc->nbest; i++) free(mc->best_k[i].path);
    free(mc->best_k);
    mc->best_k = NULL;
    mc->nbest = mc->capbest = 0;
}

/* ---- names ------------------------------------------------------------------------- */

/* A metric for a {name:spec} field: epoch and step from the trainer, else callback_metrics
 * (0 when missing, as Lightning). */
static double field_value(lt_trainer_t *tr, const char *name, bool *integer) {
    double v = 0;
    *integer = !strcmp(name, "epoch") || !strcmp(name, "step");
    if (!strcmp(name, "epoch")) return (double)tr->current_epoch;
    if (!strcmp(name, "step")) return (double)tr->global_step;
    lt_trainer_metric(tr, name, &v);
    return v;
}

/* Python's format(value, spec) for the specs a filename uses (".2f", ".3e", "d", ""). */
static void format_number(char *out, size_t n, double v, bool integer, const char *spec) {
    if (!*spec) {
        if (integer) {
            snprintf(out, n, "%lld", (long long)v);
            return;
        }
        for (int digits = 1; digits <= 17; digits++) { /* Python's shortest repr */
            snprintf(out, n, "%.*g", digits, v);
            if (strtod(out, NULL) == v) break;
        }
        return;
    }
    char fmt[32];
    bool ok = strspn(spec, "0123456789.+-") == strlen(spec) - 1 &&
              strchr("dfFeEgG", spec[strlen(spec) - 1]);
    if (ok && spec[strlen(spec) - 1] == 'd')
        snprintf(out, n, "%lld", (long long)v);
    else if (ok && snprintf(fmt, sizeof fmt, "%%%s", spec) < (int)sizeof fmt)
        snprintf(out, n, fmt, v);
    else
        snprintf(out, n, "%g", v);
}

/* Lightning's _format_checkpoint_name: {name} or {name:spec}, with name= inserted. */
static void format_name(lt_ctx_t *ctx, const char *tmpl, char *out, size_t n) {
    lt_trainer_t *tr = lt_trainer(ctx);
    bool insert = lt_hparam_bool(ctx, "auto_insert_metric_name");
    size_t len = 0;
    if (!*tmpl) tmpl = "{epoch}-{step}";
    while (*tmpl && len + 1 < n) {
        const char *close = *tmpl == '{' ? strchr(tmpl, '}') : NULL;
        if (!close) {
            out[len++] = *tmpl++;
            continue;
        }
        char field[128] = "", num[64];
        snprintf(field, sizeof field, "%.*s", (int)(close - tmpl - 1), tmpl + 1);
        char *colon = strchr(field, ':');
        const char *spec = colon ? colon + 1 : "";
        if (colon) *colon = '\0';
        bool integer = false;
        double value = field_value(tr, field, &integer);
        format_number(num, sizeof num, value, integer, spec);
        len += (size_t)snprintf(out + len, n - len, "%s%s%s", insert ? field : "",
                                insert ? "=" : "", num);
        tmpl = close + 1;
    }
    out[len < n ? len : n - 1] = '\0';
}

/* dirpath/name.ckpt, with -vN while a file of that name exists (other than keep). */
static void checkpoint_path(lt_ctx_t *ctx, model_checkpoint *mc, const char *name, const char *keep,
                            char *out, size_t n) {
    snprintf(out, n, "%s/%s.ckpt", mc->dirpath, name);
    if (!lt_hparam_bool(ctx, "enable_version_counter")) return;
    for (int v = 1; access(out, F_OK) == 0 && strcmp(out, keep); v++)
        snprintf(out, n, "%s/%s-v%d.ckpt", mc->dirpath, name, v);
}

/* ---- the books (Lightning's _update_best_and_save and friends) ---------------------- */

static void plan_write(model_checkpoint *mc, const char *path) {
    if (mc->nwrite < 2) snprintf(mc->write[mc->nwrite++], MC_PATH, "%s", path);
}

static void plan_remove(model_checkpoint *mc, const char *old, const char *now) {
    if (*old && strcmp(old, now) && mc->nremove < 2)
        snprintf(mc->remove[mc->nremove++], MC_PATH, "%s", old);
}

static bool better(lt_ctx_t *ctx, double a, double b) {
    return !strcmp(lt_hparam_str(ctx, "mode"), "max") ? a > b : a < b;
}

static int best_index(lt_ctx_t *ctx, model_checkpoint *mc, bool want_best) {
    int k = 0;
    for (int i = 1; i < mc->nbest; i++)
        if (better(ctx, mc->best_k[i].score, mc->best_k[k].score) == want_best) k = i;
    return k;
}

static lt_status update_best_and_save(lt_ctx_t *ctx, model_checkpoint *mc, double current) {
    int64_t top_k = lt_hparam_int(ctx, "save_top_k");
    int64_t k = top_k == -1 ? mc->nbest + 1 : top_k;
    char removed[MC_PATH] = "", path[MC_PATH], name[1024];
    if (mc->nbest == k && k > 0) { /* drop the kth best */
        for (int i = 0; i < mc->nbest; i++)
            if (!strcmp(mc->best_k[i].path, mc->kth_best_model_path)) {
                snprintf(removed, sizeof removed, "%s", mc->best_k[i].path);
                free(mc->best_k[i].path);
                mc->best_k[i] = mc->best_k[--mc->nbest];
                break;
            }
    }
    if (isnan(current)) current = strcmp(lt_hparam_str(ctx, "mode"), "max") ? INFINITY : -INFINITY;
    format_name(ctx, lt_hparam_str(ctx, "filename"), name, sizeof name);
    checkpoint_path(ctx, mc, name, removed, path, sizeof path);
    if (mc->nbest == mc->capbest) {
        int cap = mc->capbest ? 2 * mc->capbest : 4;
        scored_path *p = realloc(mc->best_k, (size_t)cap * sizeof *p);
        if (!p) return lt_set_error(LT_ERR_OOM, "ModelCheckpoint: out of host memory");
        mc->best_k = p;
        mc->capbest = cap;
    }
    char *copy = strdup(path);
    if (!copy) return lt_set_error(LT_ERR_OOM, "ModelCheckpoint: out of host memory");
    mc->current_score = current;
    mc->best_k[mc->nbest++] = (scored_path){copy, current};
    if (mc->nbest == k) {
        int w = best_index(ctx, mc, false);
        snprintf(mc->kth_best_model_path, MC_PATH, "%s", mc->best_k[w].path);
        mc->kth_value = mc->best_k[w].score;
    }
    int b = best_index(ctx, mc, true);
    snprintf(mc->best_model_path, MC_PATH, "%s", mc->best_k[b].path);
    mc->best_model_score = mc->best_k[b].score;
    plan_write(mc, path);
    plan_remove(mc, removed, path);
    return LT_OK;
}

static lt_status save_topk(lt_ctx_t *ctx, model_checkpoint *mc) {
    int64_t top_k = lt_hparam_int(ctx, "save_top_k");
    const char *monitor = lt_hparam_str(ctx, "monitor");
    char path[MC_PATH], name[1024];
    if (top_k == 0) return LT_OK;
    if (!*monitor) { /* keep the latest */
        format_name(ctx, lt_hparam_str(ctx, "filename"), name, sizeof name);
        checkpoint_path(ctx, mc, name, mc->best_model_path, path, sizeof path);
        if (top_k == 1) plan_remove(mc, mc->best_model_path, path);
        snprintf(mc->best_model_path, MC_PATH, "%s", path);
        plan_write(mc, path);
        return LT_OK;
    }
    double current;
    if (!lt_trainer_metric(lt_trainer(ctx), monitor, &current))
        return lt_set_error(LT_ERR_STATE,
                            "ModelCheckpoint(monitor='%s') could not find the "
                            "monitored key in the logged metrics; log it with lt_log(ctx, \"%s\", "
                            "...) or set --callbacks.monitor to a logged metric",
                            monitor, monitor);
    bool top = top_k == -1 || mc->nbest < top_k;
    for (int i = 0; !top && i < mc->nbest; i++)
        if (!strcmp(mc->best_k[i].path, mc->kth_best_model_path))
            top = better(ctx, current, mc->best_k[i].score);
    return top ? update_best_and_save(ctx, mc, current) : LT_OK;
}

static void save_last(lt_ctx_t *ctx, model_checkpoint *mc) {
    if (!lt_hparam_bool(ctx, "save_last")) return;
    char path[MC_PATH];
    checkpoint_path(ctx, mc, "last", mc->last_model_path, path, sizeof path);
    plan_remove(mc, mc->last_model_path, path);
    snprintf(mc->last_model_path, MC_PATH, "%s", path);
    plan_write(mc, path);
}

static lt_status save(lt_ctx_t *ctx, model_checkpoint *mc, bool topk) {
    if (!*mc->dirpath &&
        !checkpoint_dir(sess(ctx), lt_hparam_str(ctx, "dirpath"), mc->dirpath, MC_DIR))
        return lt_set_error(LT_ERR_IO, "ModelCheckpoint: cannot create the checkpoint folder");
    lt_status st = topk ? save_topk(ctx, mc) : LT_OK;
    if (st == LT_OK) save_last(ctx, mc);
    mc->last_global_step_saved = lt_trainer_global_step(lt_trainer(ctx));
    return st;
}

/* Lightning's _should_skip_saving_checkpoint. */
static bool skip(lt_ctx_t *ctx, model_checkpoint *mc) {
    lt_trainer_t *tr = lt_trainer(ctx);
    return sess(ctx)->cfg->fast_dev_run > 0 || strcmp(lt_trainer_stage(tr), "fit") != 0 ||
           lt_trainer_sanity_checking(tr) ||
           mc->last_global_step_saved == lt_trainer_global_step(tr);
}

static lt_status mc_on_train_batch_end(lt_ctx_t *ctx, void *self, lt_tensor_t *out,
                                       const lt_batch_t *b, int64_t idx) {
    (void)out, (void)b, (void)idx;
    model_checkpoint *mc = self;
    int64_t n = mc->every_n_train_steps;
    if (skip(ctx, mc) || n < 1 || lt_trainer_global_step(lt_trainer(ctx)) % n != 0) return LT_OK;
    return save(ctx, mc, true);
}

static lt_status epoch_save(lt_ctx_t *ctx, model_checkpoint *mc) {
    int64_t n = mc->every_n_epochs;
    bool due = n >= 1 && (lt_trainer_current_epoch(lt_trainer(ctx)) + 1) % n == 0;
    return save(ctx, mc, due);
}

static lt_status mc_on_train_epoch_end(lt_ctx_t *ctx, void *self) {
    model_checkpoint *mc = self;
    return skip(ctx, mc) || !mc->on_train_epoch_end ? LT_OK : epoch_save(ctx, mc);
}

static lt_status mc_on_validation_end(lt_ctx_t *ctx, void *self) {
    model_checkpoint *mc = self;
    return skip(ctx, mc) || mc->on_train_epoch_end ? LT_OK : epoch_save(ctx, mc);
}

/* ---- writing, and the state a resumed run gets back ---------------------------------- */

/* Lightning's _should_remove_checkpoint, made strict (checkpoint_file_removable). */
static void remove_old(const model_checkpoint *mc, const char *old, const char *resumed) {
    char why[PATH_MAX + 100];
    removal r = checkpoint_file_removable(old, mc->dirpath, resumed, why, sizeof why);
    if (r == KEEP_AND_SAY)
        fprintf(stderr,
                "lthost: warning: ModelCheckpoint: not removing the old checkpoint %s: %s\n", old,
                why);
    else if (r == REMOVE && unlink(old) != 0 && errno != ENOENT)
        fprintf(stderr, "lthost: warning: removing old checkpoint %s: %s\n", old, strerror(errno));
}

bool model_checkpoint_flush(session *s, participant *p) {
    model_checkpoint *mc = lt_ctx_self(p->ctx);
    if (mc->nwrite == 0) return true;
    if (s->group.rank != 0) { /* rank 0 alone writes and removes files */
        mc->nwrite = mc->nremove = 0;
        return true;
    }
    const char *paths[2] = {mc->write[0], mc->write[1]};
    bool ok = checkpoint_write(s, paths, mc->nwrite);
    for (int i = 0; ok && i < mc->nwrite; i++)
        if (lt_hparam_bool(p->ctx, "verbose"))
            rank0_printf(s, "Epoch %lld, global step %lld: saved %s\n",
                         (long long)s->tr.current_epoch, (long long)s->tr.global_step,
                         mc->write[i]);
    for (int i = 0; ok && i < mc->nremove; i++) /* only once the new files are safe */
        remove_old(mc, mc->remove[i], s->resume.file);
    mc->nwrite = mc->nremove = 0;
    return ok;
}

static lt_status mc_on_save_checkpoint(lt_ctx_t *ctx, void *self, lt_state_t *st) {
    model_checkpoint *mc = self;
    lt_status r = lt_state_set_str(st, "monitor", lt_hparam_str(ctx, "monitor"));
    if (r == LT_OK) r = lt_state_set_str(st, "dirpath", mc->dirpath);
    if (r == LT_OK) r = lt_state_set_str(st, "best_model_path", mc->best_model_path);
    if (r == LT_OK) r = lt_state_set_float(st, "best_model_score", mc->best_model_score);
    if (r == LT_OK) r = lt_state_set_float(st, "current_score", mc->current_score);
    if (r == LT_OK) r = lt_state_set_str(st, "kth_best_model_path", mc->kth_best_model_path);
    if (r == LT_OK) r = lt_state_set_float(st, "kth_value", mc->kth_value);
    if (r == LT_OK) r = lt_state_set_str(st, "last_model_path", mc->last_model_path);
    lt_state_t *best = r == LT_OK ? lt_state_child(st, "best_k_models") : NULL;
    for (int i = 0; best && r == LT_OK && i < mc->nbest; i++)
        r = lt_state_set_float(best, mc->best_k[i].path, mc->best_k[i].score);
    return best ? r : lt_last_status();
}

/* "<dir>/<plain name>" with no "." or ".." anywhere: how a book names its own files. */
static bool named_in(const char *path, const char *dir) {
    size_t n = strlen(dir);
    if (strncmp(path, dir, n) || path[n] != '/' || !path[n + 1] || strchr(path + n + 1, '/'))
        return false;
    for (const char *p = path; (p = strchr(p, '/')); p++)
        if (p[1] == '.' && (p[2] == '/' || !p[2] || (p[2] == '.' && (p[3] == '/' || !p[3]))))
            return false;
    return true;
}

/* Whether a path the checkpoint's books name may be kept: a checkpoint file in this run's
 * folder (so it may be removed one day), or, for the best path of a book from another
 * folder (other_dir), a file of that folder, which no removal here ever touches. The
 * file is untrusted: anything else is dropped, and rank 0 says why. */
static bool trusted_path(const session *s, const model_checkpoint *mc, const char *what,
                         const char *path, const char *other_dir) {
    char why[PATH_MAX + 100];
    bool ok = false;
    if (strlen(path) >= MC_PATH)
        snprintf(why, sizeof why, "it is longer than %d bytes", MC_PATH - 1);
    else if (other_dir && !(ok = named_in(path, other_dir)))
        snprintf(why, sizeof why, "it is not a file of the checkpoint's folder %s", other_dir);
    else if (!other_dir) { /* in the folder, and not a link or a special file */
        removal r = checkpoint_file_removable(path, mc->dirpath, "", why, sizeof why);
        ok = r == REMOVE || r == KEEP_QUIETLY;
    }
    char shown[301];
    if (!ok && s->group.rank == 0) /* the path comes from the file: one line, bounded */
        fprintf(stderr,
                "lthost: warning: ModelCheckpoint: ignoring %s '%s' in %s: %s; it will not "
                "be tracked or removed\n",
                what, lt_escape_text(path, shown, sizeof shown), s->resume.file, why);
    return ok;
}

static void restore_path(const session *s, const model_checkpoint *mc, const lt_state_t *st,
                         const char *key, const char *other_dir, char *out) {
    const char *v = lt_state_get_str(st, key);
    if (v && *v && trusted_path(s, mc, key, v, other_dir)) snprintf(out, MC_PATH, "%s", v);
}

/* As Lightning: the whole book when the folder is the same, else only the best path. */
static lt_status mc_on_load_checkpoint(lt_ctx_t *ctx, void *self, lt_state_t *st) {
    model_checkpoint *mc = self;
    const session *s = sess(ctx);
    if (!*mc->dirpath &&
        !checkpoint_dir(sess(ctx), lt_hparam_str(ctx, "dirpath"), mc->dirpath, MC_DIR))
        return lt_set_error(LT_ERR_IO, "ModelCheckpoint: cannot create the checkpoint folder");
    const char *dir = lt_state_get_str(st, "dirpath");
    bool same = dir && !strcmp(dir, mc->dirpath);
    restore_path(s, mc, st, "best_model_path", same ? NULL : dir ? dir : "", mc->best_model_path);
    lt_state_get_float(st, "best_model_score", &mc->best_model_score);
    if (!same) return LT_OK;
    restore_path(s, mc, st, "kth_best_model_path", NULL, mc->kth_best_model_path);
    restore_path(s, mc, st, "last_model_path", NULL, mc->last_model_path);
    lt_state_get_float(st, "kth_value", &mc->kth_value);
    lt_state_get_float(st, "current_score", &mc->current_score);
    const lt_state_t *best = lt_state_get_child(st, "best_k_models");
    mc_teardown(ctx, mc);
    int n = best ? lt_state_count(best) : 0;
    if (n > 0 && !(mc->best_k = calloc((size_t)n, sizeof *mc->best_k)))
        return lt_set_error(LT_ERR_OOM, "ModelCheckpoint: out of host memory");
    mc->capbest = n;
    for (int i = 0; i < n; i++) {
        const char *path = lt_state_key(best, i);
        if (!trusted_path(s, mc, "best_k_models entry", path, NULL)) continue;
        scored_path *e = &mc->best_k[mc->nbest];
        if (!(e->path = strdup(path)))
            return lt_set_error(LT_ERR_OOM, "ModelCheckpoint: out of host memory");
        lt_state_get_float(best, path, &e->score);
        mc->nbest++;
    }
    return LT_OK;
}

const lt_callback_desc model_checkpoint_callback = {
    .abi_major = LT_ABI_MAJOR,
    .abi_minor = LT_ABI_MINOR,
    .struct_size = sizeof(lt_callback_desc),
    .name = "ModelCheckpoint",
    .self_size = sizeof(model_checkpoint),
    .hparams = mc_hparams,
    .setup = mc_setup,
    .teardown = mc_teardown,
    .on_train_batch_end = mc_on_train_batch_end,
    .on_train_epoch_end = mc_on_train_epoch_end,
    .on_validation_end = mc_on_validation_end,
    .on_save_checkpoint = mc_on_save_checkpoint,
    .on_load_checkpoint = mc_on_load_checkpoint,
};
