/* jsonl_logger.so — a logger plugin (docs/custom-logger.md): every row becomes one JSON
 * line {"step": S, "metrics": {...}} in <log_dir>/<filename>, the hyper-parameters one
 * {"hparams": {...}} line, and the end of the run {"status": "success"}.
 *
 *   cc -shared -fPIC jsonl_logger.c $(pkg-config --cflags --libs lt) -o jsonl_logger.so
 *   lthost fit --module mlp --logger csv,./jsonl_logger.so --logger.filename m.jsonl */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lt/lt.h>

static const lt_hparam_desc jsonl_options[] = {
    LT_HPARAM_STR("filename", "metrics.jsonl", "the file under the log folder"),
    LT_HPARAM_END,
};

typedef struct {
    FILE *f;
    char path[4096];
} jsonl;

/* A JSON string: quotes, backslashes and control characters escaped. */
static void put_string(FILE *f, const char *s) {
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

/* JSON has no NaN or infinity: those become null. */
static void put_number(FILE *f, double v) {
    if (isfinite(v))
        fprintf(f, "%.17g", v);
    else
        fputs("null", f);
}

static lt_status written(jsonl *j) {
    if (!ferror(j->f)) return LT_OK;
    return lt_set_error(LT_ERR_IO, "jsonl logger: cannot write %s", j->path);
}

static lt_status jsonl_init(const lt_logger_opts *o, void **state) {
    const char *name = "metrics.jsonl";
    for (int i = 0; i < o->n_options; i++)
        if (!strcmp(o->option_names[i], "filename")) name = o->option_values[i];
    if (!*name || strchr(name, '/'))
        return lt_set_error(LT_ERR_INVALID_ARG,
                            "jsonl logger: --logger.filename '%s' must be a plain file name", name);
    jsonl *j = calloc(1, sizeof *j);
    if (!j) return lt_set_error(LT_ERR_OOM, "jsonl logger: out of memory");
    int n = snprintf(j->path, sizeof j->path, "%s/%s", o->log_dir, name);
    if (n < 0 || (size_t)n >= sizeof j->path || !(j->f = fopen(j->path, "w"))) {
        lt_status s = lt_set_error(LT_ERR_IO, "jsonl logger: cannot create %s/%s: %s", o->log_dir,
                                   name, strerror(errno));
        free(j);
        return s;
    }
    *state = j;
    return LT_OK;
}

static lt_status jsonl_hparams(void *st, const lt_logger_hparam *hp, int n) {
    jsonl *j = st;
    fputs("{\"hparams\": {", j->f);
    for (int i = 0; i < n; i++) {
        fputs(i ? ", " : "", j->f);
        put_string(j->f, hp[i].name);
        fputs(": ", j->f);
        put_string(j->f, hp[i].value);
    }
    fputs("}}\n", j->f);
    return written(j);
}

static lt_status jsonl_metrics(void *st, const lt_logger_metric *m, int n, int64_t step) {
    jsonl *j = st;
    fprintf(j->f, "{\"step\": %lld, \"metrics\": {", (long long)step);
    for (int i = 0; i < n; i++) {
        fputs(i ? ", " : "", j->f);
        put_string(j->f, m[i].name);
        fputs(": ", j->f);
        put_number(j->f, m[i].value);
    }
    fputs("}}\n", j->f);
    return written(j);
}

static lt_status jsonl_save(void *st) {
    jsonl *j = st;
    fflush(j->f);
    return written(j);
}

static lt_status jsonl_finalize(void *st, const char *status) {
    jsonl *j = st;
    fputs("{\"status\": ", j->f);
    put_string(j->f, status);
    fputs("}\n", j->f);
    return jsonl_save(j);
}

static void jsonl_teardown(void *st) {
    jsonl *j = st;
    fclose(j->f);
    free(j);
}

LT_LOGGER_EXPORT(.name = "jsonl", .hparams = jsonl_options, .init = jsonl_init,
                 .log_hyperparams = jsonl_hparams, .log_metrics = jsonl_metrics, .save = jsonl_save,
                 .finalize = jsonl_finalize, .teardown = jsonl_teardown)
