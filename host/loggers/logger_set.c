/* The loggers of one run: --logger's comma-separated list resolved into logger tables
 * (built-in first, then a plugin of that name or path), --logger.KEY options checked
 * against what each declares, and Lightning's Logger calls fanned out in list order. */
#include "logger_set.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "loggers.h"

bool loggers_enabled(const host_config *cfg) {
    return cfg->logger && cfg->logger[0] && strcmp(cfg->logger, "false") != 0;
}

/* An option reaches every logger that declares its KEY, or, written "NAME.KEY", only the
 * logger NAME (split at the last dot: NAME may be a class path or a .so path). */
static const char *option_key(const char *opt) {
    const char *dot = strrchr(opt, '.');
    return dot ? dot + 1 : opt;
}

/* Whether option opt is meant for logger r: unscoped, or scoped to r's spec, its table's
 * name or its Lightning class. */
static bool option_targets(const run_logger *r, const char *opt) {
    const char *dot = strrchr(opt, '.');
    if (!dot) return true;
    char scope[512];
    size_t n = (size_t)(dot - opt);
    if (n >= sizeof scope) return false;
    memcpy(scope, opt, n);
    scope[n] = '\0';
    const lt_logger_desc *b = builtin_logger(scope);
    return !strcmp(scope, r->spec) || !strcasecmp(scope, r->d->name) || (b && b == r->d);
}

const char *logger_option(const logger_set *ls, const host_config *cfg, const char *key) {
    const char *v = NULL;
    for (int i = 0; i < cfg->n_logger_hp; i++) /* later flags win */
        if (!strcmp(option_key(cfg->logger_hp[i].name), key) &&
            (!strchr(cfg->logger_hp[i].name, '.') ||
             (ls->n > 0 && option_targets(&ls->l[0], cfg->logger_hp[i].name))))
            v = cfg->logger_hp[i].value;
    return v;
}

static const lt_hparam_desc *declared(const lt_logger_desc *d, const char *key) {
    for (const lt_hparam_desc *h = d->hparams; h && h->name; h++)
        if (!strcmp(h->name, key)) return h;
    return NULL;
}

/* The value typed for an option of type t reads as that type. */
static bool value_fits(lt_hparam_type t, const char *v) {
    char *end;
    errno = 0;
    switch (t) {
    case LT_HP_INT: (void)strtoll(v, &end, 10); return *v && !*end && errno == 0;
    case LT_HP_FLOAT: {
        double f = strtod(v, &end);
        return *v && !*end && isfinite(f);
    }
    case LT_HP_BOOL: return !strcmp(v, "true") || !strcmp(v, "false");
    default: return true;
    }
}

static const char *type_word(lt_hparam_type t) {
    return t == LT_HP_INT ? "an integer" : t == LT_HP_FLOAT ? "a number" : "true or false";
}

/* The loggers that keep <save_dir>/<name>/version_N (csv, tensorboard), as Lightning's. */
static bool keeps_a_folder(const lt_logger_desc *d) {
    return declared(d, "save_dir") && declared(d, "name") && declared(d, "version");
}

/* Option o, given to logger k that declares it as h: its value reads as h's type. */
static bool option_fits(const logger_set *ls, int k, const hparam_override *o,
                        const lt_hparam_desc *h) {
    if (!value_fits(h->type, o->value)) {
        host_error("--logger.%s expects %s (logger %s), got '%s'", o->name, type_word(h->type),
                   ls->l[k].d->name, o->value);
        return false;
    }
    return true;
}

/* Every --logger.KEY is declared by some logger of the run, every --logger.NAME.KEY by the
 * logger NAME, each with a value of its type. */
static bool check_options(const logger_set *ls, const host_config *cfg) {
    for (int i = 0; i < cfg->n_logger_hp; i++) {
        const hparam_override *o = &cfg->logger_hp[i];
        const char *key = option_key(o->name);
        bool targeted = false, found = false;
        for (int k = 0; k < ls->n; k++) {
            if (!option_targets(&ls->l[k], o->name)) continue;
            targeted = true;
            const lt_hparam_desc *h = declared(ls->l[k].d, key);
            if (!h) continue;
            found = true;
            if (!option_fits(ls, k, o, h)) return false;
        }
        if (!targeted) {
            host_error("--logger.%s: this run has no logger '%.*s' (--logger %s); name one of "
                       "its loggers before the option",
                       o->name, (int)(key - 1 - o->name), o->name, cfg->logger);
            return false;
        }
        if (!found && key != o->name) {
            host_error("--logger.%s: that logger takes no option '%s'; see docs/trainer.md for "
                       "each logger's options",
                       o->name, key);
            return false;
        }
        if (!found) {
            host_error("--logger.%s: no logger of this run (--logger %s) takes an option '%s'; "
                       "see docs/trainer.md for each logger's options",
                       o->name, cfg->logger, key);
            return false;
        }
    }
    return true;
}

static bool add_logger(logger_set *ls, const host_config *cfg, const char *spec) {
    if (ls->n == LTHOST_MAX_LOGGERS) {
        host_error("--logger names more than %d loggers", LTHOST_MAX_LOGGERS);
        return false;
    }
    run_logger *r = &ls->l[ls->n];
    *r = (run_logger){.spec = spec, .d = builtin_logger(spec)};
    if (!r->d) {
        if (!host_open_plugin(cfg, LT_PLUGIN_LOGGER, spec, &r->plugin)) return false;
        r->d = lt_plugin_desc(r->plugin);
    }
    for (int i = 0; i < ls->n; i++)
        if (!strcmp(ls->l[i].d->name, r->d->name)) {
            host_error("--logger names the %s logger twice ('%s' and '%s'); name each once",
                       r->d->name, ls->l[i].spec, spec);
            lt_plugin_close(r->plugin);
            return false;
        }
    ls->n++;
    return true;
}

bool logger_set_load(logger_set *ls, const host_config *cfg) {
    *ls = (logger_set){.n = 0};
    if (!loggers_enabled(cfg)) return true;
    const char *list = strcmp(cfg->logger, "true") ? cfg->logger : "csv,tensorboard";
    if (strlen(list) >= sizeof ls->list) {
        host_error("--logger: the list is longer than %zu bytes", sizeof ls->list - 1);
        return false;
    }
    strcpy(ls->list, list);
    for (char *p = ls->list, *next; p; p = next) {
        next = strchr(p, ',');
        if (next) *next++ = '\0';
        if (!*p || !strcmp(p, "true") || !strcmp(p, "false")) {
            host_error("--logger %s: expected a comma-separated list of csv, tensorboard, "
                       "mlflow or logger plugins (a name or a .so path), or true or false alone",
                       cfg->logger);
            logger_set_close(ls, "failed");
            return false;
        }
        if (!add_logger(ls, cfg, p)) {
            logger_set_close(ls, "failed");
            return false;
        }
    }
    if (check_options(ls, cfg)) return true;
    logger_set_close(ls, "failed");
    return false;
}

bool logger_set_check(const host_config *cfg) {
    logger_set *ls = malloc(sizeof *ls);
    if (!ls) {
        host_error("out of host memory");
        return false;
    }
    bool ok = logger_set_load(ls, cfg);
    logger_set_close(ls, "success");
    free(ls);
    return ok;
}

/* The options of cfg meant for logger r that it declares, under their bare keys. */
static int own_options(const run_logger *r, const host_config *cfg, const char **names,
                       const char **values) {
    int n = 0;
    for (int i = 0; i < cfg->n_logger_hp; i++) {
        const char *key = option_key(cfg->logger_hp[i].name);
        if (option_targets(r, cfg->logger_hp[i].name) && declared(r->d, key)) {
            names[n] = key;
            values[n++] = cfg->logger_hp[i].value;
        }
    }
    return n;
}

/* One error line for a logger call that failed. */
static bool failed(const run_logger *r, const char *call) {
    host_error("logger %s: %s: %s", r->d->name, call,
               lt_last_error()[0] ? lt_last_error() : "failed without a message");
    lt_clear_error();
    return false;
}

/* Logger r's value of key: the last option meant for it (later flags win), or NULL. */
static const char *value_for(const run_logger *r, const host_config *cfg, const char *key) {
    const char *v = NULL;
    for (int i = 0; i < cfg->n_logger_hp; i++)
        if (!strcmp(option_key(cfg->logger_hp[i].name), key) &&
            option_targets(r, cfg->logger_hp[i].name))
            v = cfg->logger_hp[i].value;
    return v;
}

static bool same_text(const char *a, const char *b) { return a == b || (a && b && !strcmp(a, b)); }

/* Where a logger writes: the folder options its init gets. */
typedef struct folder {
    const char *save_dir, *name, *version, *log_dir;
} folder;

/* Like Lightning's loggers, a logger after the first whose own save_dir / name / version
 * differ from the run's folder (the first logger's, *f on entry) keeps its own
 * <save_dir>/<name>/version_N, created in r->own_dir; *f then names it. */
static bool own_folder(logger_set *ls, const host_config *cfg, int i, folder *f) {
    run_logger *r = &ls->l[i];
    const char *keys[] = {"save_dir", "name", "version"}, *mine[3];
    bool own = false;
    for (int k = 0; k < 3; k++) {
        mine[k] = value_for(r, cfg, keys[k]);
        own |= !same_text(mine[k], logger_option(ls, cfg, keys[k]));
    }
    if (i == 0 || !own || !keeps_a_folder(r->d)) return true;
    char err[600];
    long v = mine[2] ? strtol(mine[2], NULL, 10) : -1; /* an integer: checked at load */
    if (v < -1 || v > 1000000000) {
        host_error("--logger.%s.version %s: expected -1 (the next free version) or a version "
                   "number >= 0",
                   r->spec, mine[2]);
        return false;
    }
    *f = (folder){mine[0] && *mine[0] ? mine[0] : cfg->default_root_dir,
                  mine[1] ? mine[1] : "lightning_logs", NULL, r->own_dir};
    if (logs_version_dir_path(f->save_dir, f->name, (int)v, r->own_dir, sizeof r->own_dir, err,
                              sizeof err) &&
        logs_make_dirs(r->own_dir, err, sizeof err)) {
        const char *slash = strrchr(r->own_dir, '/');
        f->version = slash ? slash + 1 : r->own_dir;
        return true;
    }
    host_error("logger %s: %s; set --logger.%s.save_dir to a writable folder", r->d->name, err,
               r->spec);
    return false;
}

bool logger_set_init(logger_set *ls, const host_config *cfg, const char *save_dir, const char *name,
                     const char *version, const char *log_dir) {
    const char *names[LTHOST_MAX_OVERRIDES], *values[LTHOST_MAX_OVERRIDES];
    for (int i = 0; i < ls->n; i++) {
        run_logger *r = &ls->l[i];
        folder f = {save_dir, name, version, log_dir};
        if (!own_folder(ls, cfg, i, &f)) return false;
        int n = own_options(r, cfg, names, values);
        lt_logger_opts o = {.struct_size = sizeof o,
                            .rank = 0,
                            .world_size = 1,
                            .save_dir = f.save_dir,
                            .name = f.name,
                            .version = f.version,
                            .log_dir = f.log_dir,
                            .n_options = n,
                            .option_names = names,
                            .option_values = values};
        r->st = NULL;
        if (r->d->init(&o, &r->st) != LT_OK) return failed(r, "init");
        r->live = true;
    }
    return true;
}

bool logger_set_hparams(logger_set *ls, const lt_logger_hparam *hp, int n) {
    for (int i = 0; i < ls->n; i++) {
        run_logger *r = &ls->l[i];
        if (r->live && r->d->log_hyperparams && r->d->log_hyperparams(r->st, hp, n) != LT_OK)
            return failed(r, "log_hyperparams");
    }
    return true;
}

bool logger_set_metrics(logger_set *ls, const lt_logger_metric *m, int n, int64_t step) {
    for (int i = 0; i < ls->n; i++) {
        run_logger *r = &ls->l[i];
        if (r->live && r->d->log_metrics(r->st, m, n, step) != LT_OK)
            return failed(r, "log_metrics");
    }
    return true;
}

bool logger_set_histogram(logger_set *ls, const char *name, const float *v, int64_t n,
                          int64_t step) {
    for (int i = 0; i < ls->n; i++) {
        run_logger *r = &ls->l[i];
        if (r->live && r->d->log_histogram && r->d->log_histogram(r->st, name, v, n, step) != LT_OK)
            return failed(r, "log_histogram");
    }
    return true;
}

bool logger_set_image(logger_set *ls, const char *name, int64_t height, int64_t width,
                      const uint8_t *png, size_t nbytes, int64_t step) {
    for (int i = 0; i < ls->n; i++) {
        run_logger *r = &ls->l[i];
        if (r->live && r->d->log_image &&
            r->d->log_image(r->st, name, height, width, png, nbytes, step) != LT_OK)
            return failed(r, "log_image");
    }
    return true;
}

bool logger_set_save(logger_set *ls) {
    for (int i = 0; i < ls->n; i++) {
        run_logger *r = &ls->l[i];
        if (r->live && r->d->save && r->d->save(r->st) != LT_OK) return failed(r, "save");
    }
    return true;
}

bool logger_set_close(logger_set *ls, const char *status) {
    bool ok = true;
    for (int i = 0; i < ls->n; i++) {
        run_logger *r = &ls->l[i];
        if (r->live && r->d->finalize && r->d->finalize(r->st, status) != LT_OK)
            ok = failed(r, "finalize");
        if (r->live && r->d->teardown) r->d->teardown(r->st);
        r->live = false;
        lt_plugin_close(r->plugin);
        r->plugin = NULL;
    }
    ls->n = 0;
    return ok;
}
