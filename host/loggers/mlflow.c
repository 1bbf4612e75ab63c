/* Lightning's MLFlowLogger writing MLflow's local file store (mlflow/store/tracking/
 * file_store.py) directly, so `mlflow ui --backend-store-uri <save_dir>` shows lthost runs:
 *
 *   <save_dir>/0/meta.yaml                       the Default experiment, as MLflow creates it
 *   <save_dir>/<exp id>/meta.yaml                experiment_name ("lightning_logs")
 *   <save_dir>/<exp id>/<run id>/meta.yaml       run info (status, start/end time, ...)
 *                                params/<name>   one hyper-parameter: str(value), no newline
 *                                metrics/<name>  "<ms timestamp> <value> <step>" lines
 *                                tags/<name>     mlflow.runName, mlflow.user, mlflow.source.*
 *                                artifacts/
 *
 * A new experiment takes the next integer id, as MLflow 1.x's store did. Metric names lose
 * the characters MLflow refuses, as Lightning's logger drops them; a name that would leave
 * its folder ("..", "a//b") is refused. */
#define LOGGERS_IMPL
#include "loggers.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

enum { META_MAX = 1 << 16 }; /* bytes of an existing meta.yaml we read */

typedef struct mlflow_state {
    char root[PATH_MAX]; /* absolute save_dir */
    char run_dir[PATH_MAX];
    char exp_id[24], run_id[33], run_name[256], user[64];
    long long start_ms;
} mlflow_state;

static const lt_hparam_desc mlflow_options[] = {
    LT_HPARAM_STR("experiment_name", "lightning_logs", "the MLflow experiment of the run"),
    LT_HPARAM_STR("run_name", "", "the run's name (default: the version, version_N)"),
    LT_HPARAM_STR("save_dir", "", "the file store (default: <default_root_dir>/mlruns)"),
    LT_HPARAM_STR("tracking_uri", "", "file:PATH, another way to name the file store"),
    LT_HPARAM_END};

/* snprintf for paths; false when the result did not fit. */
static bool join(char *out, size_t n, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int len = vsnprintf(out, n, fmt, ap);
    va_end(ap);
    return len >= 0 && (size_t)len < n;
}

static long long now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const char *option(const lt_logger_opts *o, const char *key, const char *def) {
    for (int i = 0; i < o->n_options; i++)
        if (!strcmp(o->option_names[i], key)) return o->option_values[i];
    return def;
}

/* Write text to path through a temporary file and a rename, so a reader never sees half. */
static lt_status write_file(const char *path, const char *text) {
    char tmp[PATH_MAX + 8];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp)
        return lt_set_error(LT_ERR_IO, "mlflow: path too long: %s", path);
    FILE *f = fopen(tmp, "w");
    bool ok = f && fputs(text, f) >= 0;
    ok = f && fclose(f) == 0 && ok;
    if (ok && rename(tmp, path) == 0) return LT_OK;
    int e = errno;
    if (f) unlink(tmp);
    return lt_set_error(LT_ERR_IO, "mlflow: cannot write %s: %s", path, strerror(e));
}

static bool make_dir(const char *path) { return mkdir(path, 0777) == 0 || errno == EEXIST; }

/* YAML single-quoted scalar: quotes doubled. Names are bounded, so out has room. */
static void yaml_quote(char *out, size_t n, const char *s) {
    size_t o = 0;
    out[o++] = '\'';
    for (; *s && o + 3 < n; s++) {
        if (*s == '\'') out[o++] = '\'';
        out[o++] = *s;
    }
    out[o++] = '\'';
    out[o] = '\0';
}

static lt_status write_experiment(const mlflow_state *m, const char *id, const char *name) {
    char dir[PATH_MAX], path[PATH_MAX + 16], qname[600], text[PATH_MAX + 1024];
    if (!join(dir, sizeof dir, "%s/%s", m->root, id) || !make_dir(dir))
        return lt_set_error(LT_ERR_IO, "mlflow: cannot create %s: %s", dir, strerror(errno));
    yaml_quote(qname, sizeof qname, name);
    long long t = now_ms();
    snprintf(text, sizeof text,
             "artifact_location: file://%s\ncreation_time: %lld\nexperiment_id: '%s'\n"
             "last_update_time: %lld\nlifecycle_stage: active\nname: %s\n",
             dir, t, id, t, qname);
    join(path, sizeof path, "%s/meta.yaml", dir);
    return write_file(path, text);
}

/* The value of "key: value" in a small YAML file, unquoted, into out; false if absent. */
static bool yaml_value(const char *path, const char *key, char *out, size_t n) {
    FILE *f = fopen(path, "r");
    if (!f) return false;
    char line[1024];
    size_t klen = strlen(key), read = 0;
    bool found = false;
    while (!found && read < META_MAX && fgets(line, sizeof line, f)) {
        read += strlen(line);
        if (strncmp(line, key, klen) || line[klen] != ':') continue;
        char *v = line + klen + 1;
        v += strspn(v, " ");
        v[strcspn(v, "\r\n")] = '\0';
        size_t len = strlen(v);
        if (len >= 2 && (v[0] == '\'' || v[0] == '"') && v[len - 1] == v[0]) {
            v[len - 1] = '\0';
            v++;
        }
        found = snprintf(out, n, "%s", v) < (int)n;
    }
    fclose(f);
    return found;
}

/* The id of the experiment called name, or a new one (one past the largest id). */
static lt_status find_experiment(mlflow_state *m, const char *name) {
    DIR *d = opendir(m->root);
    if (!d) return lt_set_error(LT_ERR_IO, "mlflow: cannot read %s: %s", m->root, strerror(errno));
    long long max_id = -1;
    bool found = false;
    for (struct dirent *e; !found && (e = readdir(d));) {
        char *end;
        long long id = strtoll(e->d_name, &end, 10);
        if (*end || !e->d_name[0] || id < 0 || id > (1LL << 62)) continue;
        if (id > max_id) max_id = id;
        char path[PATH_MAX + 300], got[600];
        found = join(path, sizeof path, "%s/%s/meta.yaml", m->root, e->d_name) &&
                yaml_value(path, "name", got, sizeof got) && !strcmp(got, name);
        if (found) snprintf(m->exp_id, sizeof m->exp_id, "%lld", id);
    }
    closedir(d);
    if (found) return LT_OK;
    snprintf(m->exp_id, sizeof m->exp_id, "%lld", max_id + 1);
    return write_experiment(m, m->exp_id, name);
}

static lt_status random_run_id(mlflow_state *m) {
    unsigned char b[16];
    if (getrandom(b, sizeof b, 0) != (ssize_t)sizeof b)
        return lt_set_error(LT_ERR_IO, "mlflow: no random bytes for a run id: %s", strerror(errno));
    for (int i = 0; i < 16; i++) snprintf(m->run_id + 2 * i, 3, "%02x", b[i]);
    return LT_OK;
}

/* RunStatus: RUNNING 1, FINISHED 3, FAILED 4, KILLED 5. */
static lt_status write_run_meta(const mlflow_state *m, int status, long long end_ms) {
    char text[2 * PATH_MAX], path[PATH_MAX + 16], qname[600], quser[200], end[32] = "null";
    if (end_ms) snprintf(end, sizeof end, "%lld", end_ms);
    yaml_quote(qname, sizeof qname, m->run_name);
    yaml_quote(quser, sizeof quser, m->user);
    snprintf(text, sizeof text,
             "artifact_uri: file://%s/artifacts\nend_time: %s\nentry_point_name: ''\n"
             "experiment_id: '%s'\nlifecycle_stage: active\nrun_id: %s\nrun_name: %s\n"
             "run_uuid: %s\nsource_name: ''\nsource_type: 4\nsource_version: ''\n"
             "start_time: %lld\nstatus: %d\ntags: []\nuser_id: %s\n",
             m->run_dir, end, m->exp_id, m->run_id, qname, m->run_id, m->start_ms, status, quser);
    join(path, sizeof path, "%s/meta.yaml", m->run_dir);
    return write_file(path, text);
}

static lt_status write_item(const mlflow_state *m, const char *kind, const char *name,
                            const char *value) {
    char path[PATH_MAX + 300];
    if (!join(path, sizeof path, "%s/%s/%s", m->run_dir, kind, name))
        return lt_set_error(LT_ERR_IO, "mlflow: path too long for %s '%s'", kind, name);
    return write_file(path, value);
}

static lt_status start_run(mlflow_state *m) {
    static const char *const subdirs[] = {"metrics", "params", "tags", "artifacts"};
    char path[PATH_MAX + 16];
    if (!join(m->run_dir, sizeof m->run_dir, "%s/%s/%s", m->root, m->exp_id, m->run_id) ||
        !make_dir(m->run_dir))
        return lt_set_error(LT_ERR_IO, "mlflow: cannot create the run folder under %s", m->root);
    for (size_t i = 0; i < sizeof subdirs / sizeof *subdirs; i++) {
        if (!join(path, sizeof path, "%s/%s", m->run_dir, subdirs[i]) || !make_dir(path))
            return lt_set_error(LT_ERR_IO, "mlflow: cannot create %s: %s", path, strerror(errno));
    }
    lt_status s = write_run_meta(m, 1, 0);
    if (s == LT_OK) s = write_item(m, "tags", "mlflow.runName", m->run_name);
    if (s == LT_OK) s = write_item(m, "tags", "mlflow.user", m->user);
    if (s == LT_OK) s = write_item(m, "tags", "mlflow.source.name", "lthost");
    if (s == LT_OK) s = write_item(m, "tags", "mlflow.source.type", "LOCAL");
    return s;
}

/* save_dir, tracking_uri file:PATH, or <root>/mlruns; created, then made absolute. */
static lt_status open_root(mlflow_state *m, const lt_logger_opts *o) {
    const char *dir = option(o, "save_dir", ""), *uri = option(o, "tracking_uri", "");
    char want[PATH_MAX], err[600];
    if (!*dir && *uri) {
        if (strncmp(uri, "file:", 5))
            return lt_set_error(LT_ERR_INVALID_ARG,
                                "mlflow: --logger.tracking_uri %s: only a local file store "
                                "(file:PATH) is supported; start `mlflow ui` on that folder",
                                uri);
        dir = uri + 5 + 2 * !strncmp(uri + 5, "//", 2);
    }
    int n = *dir ? snprintf(want, sizeof want, "%s", dir)
                 : snprintf(want, sizeof want, "%s/mlruns", o->save_dir);
    if (n < 0 || n >= (int)sizeof want)
        return lt_set_error(LT_ERR_IO, "mlflow: the store path is too long");
    if (!logs_make_dirs(want, err, sizeof err)) return lt_set_error(LT_ERR_IO, "mlflow: %s", err);
    if (!realpath(want, m->root))
        return lt_set_error(LT_ERR_IO, "mlflow: %s: %s", want, strerror(errno));
    if (strlen(m->root) > PATH_MAX - 200)
        return lt_set_error(LT_ERR_IO, "mlflow: the store path %s is too long", m->root);
    if (join(want, sizeof want, "%s/.trash", m->root)) make_dir(want);
    join(want, sizeof want, "%s/0/meta.yaml", m->root);
    return access(want, F_OK) == 0 ? LT_OK : write_experiment(m, "0", "Default");
}

static void fill_user(mlflow_state *m) {
    const char *u = getenv("USER");
    struct passwd *pw = u ? NULL : getpwuid(getuid());
    snprintf(m->user, sizeof m->user, "%s", u ? u : pw ? pw->pw_name : "unknown");
}

static lt_status mlflow_init(const lt_logger_opts *o, void **state) {
    mlflow_state *m = calloc(1, sizeof *m);
    if (!m) return lt_set_error(LT_ERR_OOM, "mlflow: out of memory");
    const char *exp = option(o, "experiment_name", "lightning_logs");
    const char *run = option(o, "run_name", "");
    snprintf(m->run_name, sizeof m->run_name, "%s", *run ? run : o->version);
    fill_user(m);
    m->start_ms = now_ms();
    lt_status s = !*exp || strlen(exp) > 500
                      ? lt_set_error(LT_ERR_INVALID_ARG,
                                     "mlflow: --logger.experiment_name must be 1 to 500 bytes")
                      : LT_OK;
    if (s == LT_OK) s = open_root(m, o);
    if (s == LT_OK) s = find_experiment(m, exp);
    if (s == LT_OK) s = random_run_id(m);
    if (s == LT_OK) s = start_run(m);
    if (s != LT_OK) {
        free(m);
        return s;
    }
    *state = m;
    return LT_OK;
}

/* Lightning's re.sub("[^a-zA-Z0-9_/. -]+", "", name); then MLflow's rule that the name
 * is a normalised relative path (no "", "." or ".." component). */
static bool metric_file_name(const char *name, char *out, size_t n) {
    size_t o = 0;
    for (const char *p = name; *p && o + 1 < n; p++)
        if (strchr("_/. -", *p) || (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
            (*p >= '0' && *p <= '9'))
            out[o++] = *p;
    out[o] = '\0';
    if (!o) return false;
    for (const char *c = out; c;) {
        size_t len = strcspn(c, "/");
        if (len == 0 || (len == 1 && c[0] == '.') || (len == 2 && !strncmp(c, "..", 2)))
            return false;
        c = c[len] ? c + len + 1 : NULL;
    }
    return true;
}

/* The folders of a metric named "train/loss". */
static bool make_parents(const char *path, size_t keep) {
    char buf[PATH_MAX + 320];
    if (!join(buf, sizeof buf, "%s", path)) return false;
    for (char *p = buf + keep; (p = strchr(p + 1, '/'));) {
        *p = '\0';
        if (!make_dir(buf)) return false;
        *p = '/';
    }
    return true;
}

static lt_status append_metric(const mlflow_state *m, const char *name, double v, int64_t step,
                               long long t) {
    char file[300], path[PATH_MAX + 320], repr[32];
    if (!metric_file_name(name, file, sizeof file))
        return lt_set_error(LT_ERR_INVALID_ARG,
                            "mlflow: metric name '%s' is not a valid MLflow name (letters, "
                            "digits, '_', '-', '.', ' ', '/' forming a relative path); rename it",
                            name);
    bool fits = join(path, sizeof path, "%s/metrics/%s", m->run_dir, file);
    FILE *f = fits && make_parents(path, strlen(m->run_dir) + 8) ? fopen(path, "a") : NULL;
    bool ok = f && fprintf(f, "%lld %s %lld\n", t, logs__float_repr(v, repr), (long long)step) > 0;
    ok = f && fclose(f) == 0 && ok;
    return ok ? LT_OK
              : lt_set_error(LT_ERR_IO, "mlflow: cannot write %s: %s", path, strerror(errno));
}

static lt_status mlflow_metrics(void *st, const lt_logger_metric *mv, int n, int64_t step) {
    long long t = now_ms();
    for (int i = 0; i < n; i++) {
        lt_status s = append_metric(st, mv[i].name, mv[i].value, step, t);
        if (s != LT_OK) return s;
    }
    return LT_OK;
}

/* str(value) as Python prints the hyper-parameter Lightning hands MLflow. */
static void python_str(const lt_logger_hparam *hp, char *out, size_t n) {
    if (hp->type == LT_HP_BOOL) {
        snprintf(out, n, "%s", !strcmp(hp->value, "true") ? "True" : "False");
    } else if (hp->type == LT_HP_FLOAT) {
        char repr[32];
        snprintf(out, n, "%s", logs__float_repr(strtod(hp->value, NULL), repr));
    } else {
        snprintf(out, n, "%s", hp->value);
    }
}

static lt_status mlflow_hparams(void *st, const lt_logger_hparam *hp, int n) {
    for (int i = 0; i < n; i++) {
        char value[256], file[300];
        if (!metric_file_name(hp[i].name, file, sizeof file) || strcmp(file, hp[i].name))
            return lt_set_error(LT_ERR_INVALID_ARG,
                                "mlflow: hyper-parameter name '%s' is not a valid MLflow name",
                                hp[i].name);
        python_str(&hp[i], value, sizeof value);
        lt_status s = write_item(st, "params", file, value);
        if (s != LT_OK) return s;
    }
    return LT_OK;
}

/* Lightning: "success" and "finished" end as FINISHED, "failed" as FAILED, else KILLED. */
static lt_status mlflow_finalize(void *st, const char *status) {
    int code = !strcmp(status, "success") || !strcmp(status, "finished") ? 3
               : !strcmp(status, "failed")                               ? 4
                                                                         : 5;
    return write_run_meta(st, code, now_ms());
}

static void mlflow_teardown(void *st) { free(st); }

const lt_logger_desc mlflow_logger_desc = {
    .abi_major = LT_ABI_MAJOR,
    .abi_minor = LT_ABI_MINOR,
    .struct_size = sizeof(lt_logger_desc),
    .name = "mlflow",
    .hparams = mlflow_options,
    .init = mlflow_init,
    .log_hyperparams = mlflow_hparams,
    .log_metrics = mlflow_metrics,
    .finalize = mlflow_finalize,
    .teardown = mlflow_teardown,
};
