/* Checkpoints of a run: what lthost adds to liblt's module state (loop position,
 * callback states, callback_metrics, the seed), resolving --ckpt_path last|best,
 * resuming fit exactly where a checkpoint was taken, and saving on SIGTERM / SIGINT. */
#include <dirent.h>
#include <limits.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "trainer.h"

/* The host's top level owns the one piece of global state: the signal fit must act on. */
static volatile sig_atomic_t caught_signal;

static void on_signal(int sig) { caught_signal = sig; }

void signals_install(void) {
    struct sigaction sa = {.sa_handler = on_signal, .sa_flags = SA_RESTART | SA_RESETHAND};
    sigemptyset(&sa.sa_mask);
    caught_signal = 0;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL); /* SA_RESETHAND: a second Ctrl-C ends the process at once */
}

void signals_restore(void) {
    signal(SIGTERM, SIG_DFL);
    signal(SIGINT, SIG_DFL);
}

/* ---- folders -------------------------------------------------------------------------- */

bool checkpoint_dir(session *s, const char *dirpath, char *out, size_t n) {
    if (dirpath && *dirpath)
        snprintf(out, n, "%s", dirpath);
    else if (*s->log.version_dir)
        snprintf(out, n, "%s/checkpoints", s->log.version_dir);
    else
        snprintf(out, n, "%s/checkpoints", s->cfg->default_root_dir);
    char abs[PATH_MAX], err[600] = "";
    if (s->group.rank != 0) return true;
    if (logs_make_dirs(out, err, sizeof err) &&
        realpath(out, abs)) { /* absolute: recorded paths work from any cwd */
        snprintf(out, n, "%s", abs);
        checkpoint_folder_clean_temps(abs);
        return true;
    }
    host_error("checkpoint folder %s: %s; set --callbacks.dirpath or --default_root_dir to a "
               "writable folder",
               out, *err ? err : strerror(errno));
    return false;
}

/* ---- saving ---------------------------------------------------------------------------- */

/* The options that tell two built-in callbacks of a kind apart in their state_key (NULL
 * terminated), or NULL for the module and the callbacks keyed by name alone. */
static const char *const *state_key_options(const participant *p) {
    static const char *const keyed[][6] = {
        {"ModelCheckpoint", "monitor", "mode", "every_n_train_steps", "every_n_epochs", NULL},
        {"EarlyStopping", "monitor", "mode", NULL},
    };
    if (p->is_module) return NULL;
    for (size_t k = 0; k < sizeof keyed / sizeof *keyed; k++)
        if (strcmp(p->name, keyed[k][0]) == 0) return keyed[k] + 1;
    return NULL;
}

/* Appends "<sep>option=value" to out (len of n used) for the hyper-parameter named option;
 * returns the new length, which is >= n when out is full. */
static size_t append_option(const lt_ctx_t *ctx, const char *option, const char *sep, char *out,
                            size_t len, size_t n) {
    for (int h = 0; h < lt_ctx_hparam_count(ctx); h++) {
        char text[128];
        if (strcmp(lt_ctx_hparam_desc(ctx, h)->name, option) != 0) continue;
        len += (size_t)snprintf(out + len, n - len, "%s%s=%s", sep, option,
                                lt_ctx_hparam_text(ctx, h, text, sizeof text));
    }
    return len;
}

/* How many of the participants before i have the state_key key. */
static int earlier_same_keys(const session *s, int i, const char *key) {
    int same = 0;
    char other[256];
    for (int j = 0; j < i; j++) {
        callback_state_key(s, j, other, sizeof other);
        same += !strcmp(other, key);
    }
    return same;
}

/* Lightning's state_key: the callback's name, with the options that tell two of a kind
 * apart for the built-ins ("ModelCheckpoint{monitor=val_loss,mode=min,...}"), and "#2"
 * on for a second with the same key. */
void callback_state_key(const session *s, int i, char *out, size_t n) {
    const participant *p = &s->hooks.parts[i];
    size_t len = (size_t)snprintf(out, n, "%s", p->name);
    const char *const *options = state_key_options(p);
    if (options) {
        for (int j = 0; options[j] && len < n; j++)
            len = append_option(p->ctx, options[j], j == 0 ? "{" : ",", out, len, n);
        if (len < n) len += (size_t)snprintf(out + len, n - len, "}");
    }
    int same = len < n ? earlier_same_keys(s, i, out) : 0;
    if (same) snprintf(out + len, n - len, "#%d", same + 1);
}

static lt_status loops_state(const session *s, lt_state_t *st) {
    lt_status r = lt_state_set_int(st, "epoch", s->tr.current_epoch);
    if (r == LT_OK) r = lt_state_set_int(st, "batches_done", s->pos.batches_done);
    if (r == LT_OK) r = lt_state_set_int(st, "epoch_done", s->pos.epoch_done);
    if (r == LT_OK) r = lt_state_set_int(st, "total_batch_idx", s->pos.total_batch_idx);
    if (r == LT_OK) r = lt_state_set_int(st, "global_step", s->tr.global_step);
    if (r == LT_OK) r = lt_state_set_int(st, "batches_that_stepped", s->pos.batches_that_stepped);
    lt_state_t *m = r == LT_OK ? lt_state_child(st, "callback_metrics") : NULL;
    for (int i = 0; m && r == LT_OK && i < s->tr.n_callback_metrics; i++) {
        lt_state_t *e = lt_state_child(m, s->tr.callback_metrics[i].name);
        r = e ? lt_state_set_float(e, "value", s->tr.callback_metrics[i].value) : lt_last_status();
        if (r == LT_OK) r = lt_state_set_int(e, "flags", s->log.callback_flags[i]);
        if (r == LT_OK) r = lt_state_set_int(e, "scope", s->log.callback_scope[i]);
    }
    return m ? r : lt_last_status();
}

/* Each participant's on_save_checkpoint: callbacks under "callbacks", the module's as
 * "module_state". */
static bool participant_states(session *s, lt_state_t *callbacks, lt_state_t *module) {
    char key[256];
    for (int i = 0; i < s->hooks.n; i++) {
        participant *p = &s->hooks.parts[i];
        if (!p->fn[HOOK_on_save_checkpoint]) continue;
        callback_state_key(s, i, key, sizeof key);
        hook_args a = {.state = p->is_module ? module : lt_state_child(callbacks, key)};
        if (!a.state || !participant_hook(s, p, HOOK_on_save_checkpoint, &a)) return false;
    }
    return true;
}

static bool set_json(lt_ckpt_t *c, const char *key, const lt_state_t *st) {
    char *text = lt_state_to_json(st);
    bool ok = text && lt_ckpt_set(c, key, text) == LT_OK;
    free(text);
    return ok;
}

/* 16-mixed: the GradScaler's state_dict under Lightning's key, the precision plugin's
 * class name (checkpoint[type(precision_plugin).__qualname__]). */
#define SCALER_KEY "MixedPrecision"

static bool add_scaler_state(session *s, lt_ckpt_t *c) {
    if (!s->scaler) return true;
    lt_state_t *st = lt_state_new();
    bool ok = st && lt_grad_scaler_save(s->scaler, st) == LT_OK && set_json(c, SCALER_KEY, st);
    lt_state_free(st);
    return ok;
}

static bool add_run_state(session *s, lt_ckpt_t *c) {
    char num[32];
    lt_state_t *loops = lt_state_new(), *cbs = lt_state_new(), *mod = lt_state_new(),
               *rng = lt_state_new();
    bool ok = loops && cbs && mod && rng && loops_state(s, loops) == LT_OK &&
              lt_state_set_str(rng, "generator", "philox4x32-10") == LT_OK &&
              lt_state_set_int(rng, "seed", (int64_t)s->seed) == LT_OK;
    ok = ok && participant_states(s, cbs, mod) && add_scaler_state(s, c) &&
         datamodule_state_save(s, c);
    snprintf(num, sizeof num, "%lld", (long long)s->tr.current_epoch);
    ok = ok && lt_ckpt_set(c, "epoch", num) == LT_OK;
    snprintf(num, sizeof num, "%lld", (long long)s->tr.global_step);
    ok = ok && lt_ckpt_set(c, "global_step", num) == LT_OK && set_json(c, "loops", loops) &&
         lt_ckpt_set_state(c, "callbacks", cbs) == LT_OK && set_json(c, "rng", rng) &&
         (lt_state_count(mod) == 0 || lt_ckpt_set_state(c, "module_state", mod) == LT_OK);
    lt_state_free(loops);
    lt_state_free(cbs);
    lt_state_free(mod);
    lt_state_free(rng);
    return ok;
}

bool checkpoint_write(session *s, const char *const *paths, int n) {
    if (s->group.rank != 0) return true;
    lt_clear_error();
    lt_ckpt_t *c = lt_ckpt_capture(s->module.ctx);
    bool ok = c && add_run_state(s, c);
    if (!ok)
        host_error("saving a checkpoint at epoch %lld, global step %lld: %s",
                   (long long)s->tr.current_epoch, (long long)s->tr.global_step,
                   *lt_last_error() ? lt_last_error() : "a state hook failed");
    for (int i = 0; ok && i < n; i++)
        if (lt_ckpt_save(c, paths[i]) != LT_OK) {
            host_error("%s (the folder comes from --default_root_dir or --callbacks.dirpath)",
                       lt_last_error());
            ok = false;
        }
    lt_ckpt_free(c);
    return ok;
}

bool checkpoints_flush(session *s) {
    for (int i = 0; i < s->hooks.n; i++) {
        participant *p = &s->hooks.parts[i];
        if (p->is_checkpoint && !model_checkpoint_flush(s, p)) return false;
    }
    return true;
}

bool stop_if_signalled(session *s) {
    int sig = caught_signal;
    bool any;
    if (s->group.world > 1) { /* every rank stops after the same batch (mpirun signals them all) */
        if (!ddp_any(s, sig != 0, &any)) return false;
        if (any && !sig) sig = SIGTERM;
    }
    if (!sig) return true;
    const char *dirpath = NULL;
    for (int i = 0; i < s->hooks.n; i++) {
        const participant *p = &s->hooks.parts[i];
        if (p->is_checkpoint) dirpath = lt_hparam_str(p->ctx, "dirpath");
    }
    char dir[4096], path[4200];
    const char *paths[1] = {path};
    s->exit_code = 128 + sig;
    if (!checkpoint_dir(s, dirpath, dir, sizeof dir)) return false;
    snprintf(path, sizeof path, "%s/last.ckpt", dir);
    if (!checkpoint_write(s, paths, 1)) return false;
    if (s->group.rank == 0)
        fprintf(stderr,
                "lthost: received %s at epoch %lld after batch %lld (global step %lld): "
                "saved %s; run the same command with --ckpt_path last to continue\n",
                sig == SIGTERM ? "SIGTERM" : "SIGINT", (long long)s->tr.current_epoch,
                (long long)s->pos.batches_done, (long long)s->tr.global_step, path);
    return false;
}

/* ---- finding and opening --------------------------------------------------------------- */

typedef struct newest {
    char path[4096];
    struct timespec mtime;
} newest;

/* best[0]: the newest last*.ckpt, best[1]: the newest of any name. */
static void consider_dir(const char *dir, newest best[2]) {
    DIR *d = opendir(dir);
    for (struct dirent *e; d && (e = readdir(d));) {
        size_t len = strlen(e->d_name);
        char path[4096];
        struct stat st;
        if (len < 6 || strcmp(e->d_name + len - 5, ".ckpt") != 0 || e->d_name[0] == '.') continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) continue;
        for (int k = !!strncmp(e->d_name, "last", 4); k < 2; k++) {
            newest *b = &best[k];
            bool newer =
                st.st_mtim.tv_sec > b->mtime.tv_sec ||
                (st.st_mtim.tv_sec == b->mtime.tv_sec && st.st_mtim.tv_nsec > b->mtime.tv_nsec);
            if (*b->path && !newer) continue;
            snprintf(b->path, sizeof b->path, "%s", path);
            b->mtime = st.st_mtim;
        }
    }
    if (d) closedir(d);
}

/* --ckpt_path last: the newest last*.ckpt (else the newest .ckpt) in the ModelCheckpoint
 * dirpath given, or in every <root>/lightning_logs/version_*\/checkpoints and
 * <root>/checkpoints. */
static bool find_last(const session *s, char *out, size_t n, char *searched, size_t sn) {
    const host_config *c = s->cfg;
    newest best[2] = {0};
    char dir[4096];
    for (int i = 0; i < c->n_callbacks; i++)
        for (int j = 0; j < c->callbacks[i].n_hp; j++)
            if (!strcmp(c->callbacks[i].hp[j].name, "dirpath"))
                consider_dir(c->callbacks[i].hp[j].value, best);
    snprintf(dir, sizeof dir, "%s/lightning_logs", c->default_root_dir);
    DIR *d = opendir(dir);
    for (struct dirent *e; d && (e = readdir(d));) {
        char sub[4400];
        snprintf(sub, sizeof sub, "%s/%s/checkpoints", dir, e->d_name);
        if (!strncmp(e->d_name, "version_", 8)) consider_dir(sub, best);
    }
    if (d) closedir(d);
    snprintf(dir, sizeof dir, "%s/checkpoints", c->default_root_dir);
    consider_dir(dir, best);
    snprintf(searched, sn, "%s/lightning_logs/version_*/checkpoints and %s", c->default_root_dir,
             dir);
    snprintf(out, n, "%s", *best[0].path ? best[0].path : best[1].path);
    return *out != '\0';
}

/* --ckpt_path best: the best_model_path a ModelCheckpoint recorded in the last checkpoint. */
static bool find_best(const char *last, char *out, size_t n) {
    lt_ckpt_t *c = NULL;
    if (lt_ckpt_open(last, &c) != LT_OK) {
        host_error("--ckpt_path best: reading %s", lt_last_error());
        return false;
    }
    const char *text = lt_ckpt_get(c, "callbacks");
    lt_state_t *cbs = text ? lt_state_from_json(text) : NULL;
    *out = '\0';
    for (int i = 0; cbs && i < lt_state_count(cbs) && !*out; i++) {
        const lt_state_t *st = lt_state_get_child(cbs, lt_state_key(cbs, i));
        const char *best = st ? lt_state_get_str(st, "best_model_path") : NULL;
        if (!strncmp(lt_state_key(cbs, i), "ModelCheckpoint", 15) && best && *best)
            snprintf(out, n, "%s", best);
    }
    lt_state_free(cbs);
    lt_ckpt_free(c);
    if (*out) return true;
    host_error("--ckpt_path best: %s records no best checkpoint (no ModelCheckpoint saved one); "
               "pass a checkpoint path",
               last);
    return false;
}

static bool resolve(session *s, char *out, size_t n) {
    const char *spec = s->cfg->ckpt_path;
    bool fit = !strcmp(s->cfg->command, "fit");
    if (strcmp(spec, "last") && strcmp(spec, "best")) {
        snprintf(out, n, "%s", spec);
        return true;
    }
    char last[4096], searched[8400];
    if (!find_last(s, last, sizeof last, searched, sizeof searched)) {
        if (fit && !strcmp(spec, "last")) { /* a first run of a requeued job */
            rank0_printf(s, "--ckpt_path last: no checkpoint in %s yet; training from scratch\n",
                         searched);
            *out = '\0';
            return true;
        }
        host_error("--ckpt_path %s: no checkpoint found in %s; train first or pass a path", spec,
                   searched);
        return false;
    }
    if (!strcmp(spec, "last")) {
        snprintf(out, n, "%s", last);
        return true;
    }
    return find_best(last, out, n);
}

/* A readable safetensors file without a checkpoint's format_version: plain weights. */
static bool plain_weights(const char *path) {
    lt_st_file_t *f = NULL;
    bool plain = lt_st_open(path, &f) == LT_OK && !lt_st_meta(f, "format_version");
    lt_st_close(f);
    return plain;
}

bool ckpt_open(session *s) {
    const host_config *c = s->cfg;
    if (!c->ckpt_path) return true;
    if (c->init_weights) {
        host_error("--init_weights and --ckpt_path both set weights; give one of them");
        return false;
    }
    if (!resolve(s, s->resume.file, sizeof s->resume.file)) return false;
    if (!*s->resume.file) return true;
    if (lt_ckpt_open(s->resume.file, &s->resume.ckpt) != LT_OK) {
        char why[2048];
        snprintf(why, sizeof why, "%s", lt_last_error());
        host_error("--ckpt_path: %s%s", why,
                   plain_weights(s->resume.file) ? " (pass it with --init_weights)" : "");
        return false;
    }
    s->resume.active = !strcmp(c->command, "fit");
    const char *rng = lt_ckpt_get(s->resume.ckpt, "rng");
    lt_state_t *st = rng ? lt_state_from_json(rng) : NULL;
    int64_t seed;
    if (s->resume.active && !c->seed_given && st && lt_state_get_int(st, "seed", &seed))
        s->seed = (uint64_t)seed;
    lt_state_free(st);
    if (!c->print_config) /* its stdout is the YAML alone */
        rank0_printf(s, "Restoring states from the checkpoint path at %s\n", s->resume.file);
    return true;
}

/* ---- restoring ------------------------------------------------------------------------- */

static lt_state_t *meta(session *s, const char *key, bool required) {
    const char *text = lt_ckpt_get(s->resume.ckpt, key);
    lt_state_t *st = text ? lt_ckpt_get_state(s->resume.ckpt, key) : NULL;
    if (!st && text) host_error("--ckpt_path %s: %s", s->resume.file, lt_last_error());
    if (!st && !text && required)
        host_error("--ckpt_path %s: metadata '%s' is missing (was it saved by lthost fit?)",
                   s->resume.file, key);
    return st;
}

bool ckpt_same_module(session *s) {
    lt_state_t *m = meta(s, "module", false);
    const char *saved = m ? lt_state_get_str(m, "name") : NULL;
    bool same = !saved || !strcmp(saved, s->module.desc->name);
    if (!same)
        fprintf(stderr,
                "lthost: warning: %s was saved by module '%s', not '%s': its "
                "hyper-parameters are not applied\n",
                s->resume.file, saved, s->module.desc->name);
    lt_state_free(m);
    return same;
}

void ckpt_warn_undeclared_hparams(session *s) {
    lt_state_t *saved = meta(s, "hyper_parameters", false);
    for (int i = 0; saved && i < lt_state_count(saved); i++) {
        const char *name = lt_state_key(saved, i);
        bool declared = false;
        for (int j = 0; j < lt_ctx_hparam_count(s->module.ctx) && !declared; j++)
            declared = !strcmp(lt_ctx_hparam_desc(s->module.ctx, j)->name, name);
        char shown[101];
        if (!declared && s->group.rank == 0)
            fprintf(stderr,
                    "lthost: warning: %s: saved hyper-parameter '%s' is not declared by %s; "
                    "ignored\n",
                    s->resume.file, lt_escape_text(name, shown, sizeof shown),
                    s->module.desc->name);
    }
    lt_state_free(saved);
}

bool ckpt_restore_weights(session *s) {
    const host_config *c = s->cfg;
    lt_status st = LT_OK;
    if (s->resume.ckpt)
        st = lt_ckpt_restore_weights(s->resume.ckpt, s->module.ctx, c->strict);
    else if (c->init_weights)
        st = lt_load_weights_file(s->module.ctx, c->init_weights, c->strict);
    else
        return true;
    if (st != LT_OK) {
        host_error("%s: %s%s", s->resume.ckpt ? "--ckpt_path" : "--init_weights", lt_last_error(),
                   st == LT_ERR_STATE && c->strict ? " (--strict false)" : "");
        return false;
    }
    lt_ctx_apply_precision(s->module.ctx); /* bf16-true: the loaded weights rounded too */
    if (!datamodule_state_load(s)) return false;
    participant *mod = &s->hooks.parts[s->hooks.n - 1];
    if (!s->resume.ckpt || s->resume.active || !mod->fn[HOOK_on_load_checkpoint]) return true;
    /* validate/test/predict: the module's own state too (callbacks' only when fitting) */
    lt_state_t *state = meta(s, "module_state", false);
    hook_args a = {.state = state ? state : lt_state_new()};
    bool ok = a.state && participant_hook(s, mod, HOOK_on_load_checkpoint, &a);
    lt_state_free(a.state);
    return ok;
}

static bool load_participant_states(session *s, const lt_state_t *cbs, lt_state_t *mod) {
    char key[256];
    for (int i = 0; i < s->hooks.n; i++) {
        participant *p = &s->hooks.parts[i];
        callback_state_key(s, i, key, sizeof key);
        hook_args a = {.state = p->is_module ? mod : (lt_state_t *)lt_state_get_child(cbs, key)};
        if (p->fn[HOOK_on_load_checkpoint] && a.state &&
            !participant_hook(s, p, HOOK_on_load_checkpoint, &a))
            return false;
    }
    return true;
}

/* loops.<key>: an integer in [0, max], or false after one error naming the key. */
static bool loop_counter(const session *s, const lt_state_t *loops, const char *key, int64_t max,
                         const char *max_is, int64_t *v) {
    if (!lt_state_get_int(loops, key, v)) {
        host_error("--ckpt_path %s: the loop state is incomplete: loops.%s is missing or not an "
                   "integer",
                   s->resume.file, key);
        return false;
    }
    if (*v >= 0 && *v <= max) return true;
    host_error("--ckpt_path %s: loops.%s is %lld; it must be in [0, %lld%s]; the checkpoint is "
               "damaged or was edited",
               s->resume.file, key, (long long)*v, (long long)max, max_is);
    return false;
}

/* Every counter below 2^53 (so the loops' increments cannot overflow), epoch_done 0 or 1,
 * and no count of this epoch's or of stepping batches above the count of all batches. */
static bool read_loops(const session *s, const lt_state_t *loops, int64_t v[6]) {
    static const char *const keys[6] = {"epoch",           "epoch_done",   "global_step",
                                        "total_batch_idx", "batches_done", "batches_that_stepped"};
    for (int i = 0; i < 6; i++) {
        int64_t max = i == 1 ? 1 : i < 4 ? LT_CKPT_MAX_COUNT - 1 : v[3];
        if (!loop_counter(s, loops, keys[i], max, i < 4 ? "" : " = loops.total_batch_idx", &v[i]))
            return false;
    }
    return true;
}

static bool restore_loops(session *s, lt_state_t *loops) {
    int64_t v[6];
    if (!read_loops(s, loops, v)) return false;
    int64_t epoch = v[0], epoch_done = v[1], step = v[2], done = v[4];
    s->tr.current_epoch = epoch;
    s->tr.global_step = step;
    s->pos.batches_that_stepped = v[5];
    s->pos.batches_done = done;
    s->pos.epoch_done = epoch_done != 0;
    s->pos.total_batch_idx = v[3];
    if (epoch_done)
        rank0_printf(s, "Resuming fit after epoch %lld (global step %lld)\n", (long long)epoch,
                     (long long)step);
    else
        rank0_printf(s, "Resuming fit in epoch %lld after batch %lld (global step %lld)\n",
                     (long long)epoch, (long long)done, (long long)step);
    return true;
}

/* As Lightning: a checkpoint without the key (saved in 32-true) leaves the new scaler
 * at its defaults, and a scaler state is ignored by a run without 16-mixed. */
static bool restore_scaler(session *s) {
    if (!s->scaler || !lt_ckpt_get(s->resume.ckpt, SCALER_KEY)) return true;
    lt_state_t *st = meta(s, SCALER_KEY, true);
    bool ok = st && lt_grad_scaler_load(s->scaler, st, SCALER_KEY) == LT_OK;
    if (st && !ok) host_error("--ckpt_path %s: %s", s->resume.file, lt_last_error());
    lt_state_free(st);
    return ok;
}

bool ckpt_restore_training(session *s) {
    if (!s->resume.active) return true;
    if (lt_ckpt_restore_training(s->resume.ckpt, s->module.ctx) != LT_OK) {
        host_error("--ckpt_path: %s", lt_last_error());
        return false;
    }
    if (!restore_scaler(s)) return false;
    lt_state_t *cbs = meta(s, "callbacks", true), *mod = meta(s, "module_state", false);
    s->resume.loops = cbs ? meta(s, "loops", true) : NULL;
    bool ok = s->resume.loops && load_participant_states(s, cbs, mod) &&
              restore_loops(s, s->resume.loops);
    lt_state_free(cbs);
    lt_state_free(mod);
    return ok;
}

void ckpt_restore_metrics(session *s) {
    const lt_state_t *loops = s->resume.loops;
    const lt_state_t *m = loops ? lt_state_get_child(loops, "callback_metrics") : NULL;
    lt_trainer_t *tr = &s->tr;
    tr->n_callback_metrics = 0;
    for (int i = 0; m && i < lt_state_count(m) && i < 2 * LT_MAX_LOGGED; i++) {
        const lt_state_t *e = lt_state_get_child(m, lt_state_key(m, i));
        int64_t flags = 0, scope = 0;
        if (!e) continue;
        int k = tr->n_callback_metrics++;
        snprintf(tr->callback_metrics[k].name, sizeof tr->callback_metrics[k].name, "%s",
                 lt_state_key(m, i));
        lt_state_get_float(e, "value", &tr->callback_metrics[k].value);
        lt_state_get_int(e, "flags", &flags);
        lt_state_get_int(e, "scope", &scope);
        s->log.callback_flags[k] = (unsigned)flags;
        s->log.callback_scope[k] = (int)scope;
    }
    lt_state_free(s->resume.loops);
    s->resume.loops = NULL;
}
