/* The CSV and TensorBoard loggers as tables of the logger plugin kind (lt/logger.h), so the
 * trainer drives built-in and plugin loggers alike. Each keeps the log folder it was given
 * and writes hparams.yaml there, as Lightning's CSVLogger and TensorBoardLogger both do. */
#define LOGGERS_IMPL
#include "loggers.h"

#include <stdlib.h>
#include <unistd.h>
#include <string.h>
#include <strings.h>

typedef struct builtin_state {
    logger *lg;
    char *dir;
} builtin_state;

/* Lightning's Logger options these two take; the host reads them to name the log folder. */
static const lt_hparam_desc folder_options[] = {
    LT_HPARAM_STR("save_dir", "", "the folder above name/version (default: --default_root_dir)"),
    LT_HPARAM_STR("name", "lightning_logs", "the experiment folder under save_dir"),
    LT_HPARAM_INT("version", -1, "version_N to write (-1: one past the largest existing)"),
    LT_HPARAM_END};

/* CSVLogger's also: flush_logs_every_n_steps. */
static const lt_hparam_desc csv_options[] = {
    LT_HPARAM_STR("save_dir", "", "the folder above name/version (default: --default_root_dir)"),
    LT_HPARAM_STR("name", "lightning_logs", "the experiment folder under save_dir"),
    LT_HPARAM_INT("version", -1, "version_N to write (-1: one past the largest existing)"),
    LT_HPARAM_INT("flush_logs_every_n_steps", 100, "write metrics.csv when (step + 1) % N == 0"),
    LT_HPARAM_END};

static lt_status open_with(logger *(*open)(const char *, char *, size_t), const lt_logger_opts *o,
                           void **state) {
    char err[600];
    builtin_state *b = calloc(1, sizeof *b);
    if (!b || !(b->dir = strdup(o->log_dir))) {
        free(b);
        return lt_set_error(LT_ERR_OOM, "logger for %s: out of memory", o->log_dir);
    }
    if (!(b->lg = open(o->log_dir, err, sizeof err))) {
        free(b->dir);
        free(b);
        return lt_set_error(LT_ERR_IO, "%s", err);
    }
    *state = b;
    return LT_OK;
}

static lt_status csv_init(const lt_logger_opts *o, void **state) {
    const char *every = NULL; /* the last given wins; its type was checked: an integer */
    for (int i = 0; i < o->n_options; i++)
        if (!strcmp(o->option_names[i], "flush_logs_every_n_steps")) every = o->option_values[i];
    if (every && strtoll(every, NULL, 10) < 1)
        return lt_set_error(LT_ERR_INVALID_ARG,
                            "flush_logs_every_n_steps %s: expected a number of steps >= 1", every);
    lt_status st = open_with(csv_logger_open, o, state);
    if (st == LT_OK && every)
        csv_logger_set_flush_every(((builtin_state *)*state)->lg, strtoll(every, NULL, 10));
    return st;
}

static lt_status tb_init(const lt_logger_opts *o, void **state) {
    return open_with(tb_logger_open, o, state);
}

static lt_status builtin_hparams(void *st, const lt_logger_hparam *hp, int n) {
    builtin_state *b = st;
    static const hp_text_type types[] = {HP_TEXT_INT, HP_TEXT_FLOAT, HP_TEXT_STR, HP_TEXT_BOOL};
    hparam_kv *kv = calloc(n > 0 ? (size_t)n : 1, sizeof *kv);
    if (!kv) return lt_set_error(LT_ERR_OOM, "%s/hparams.yaml: out of memory", b->dir);
    for (int i = 0; i < n; i++)
        kv[i] = (hparam_kv){hp[i].name, hp[i].value,
                            (unsigned)hp[i].type <= LT_HP_BOOL ? types[hp[i].type] : HP_TEXT_STR};
    char err[600];
    bool ok = write_hparams_yaml(b->dir, kv, n, err, sizeof err);
    free(kv);
    return ok ? LT_OK : lt_set_error(LT_ERR_IO, "%s", err);
}

static lt_status builtin_metrics(void *st, const lt_logger_metric *m, int n, int64_t step) {
    char err[600];
    builtin_state *b = st;
    return logger_log_metrics(b->lg, m, n, step, err, sizeof err)
               ? LT_OK
               : lt_set_error(LT_ERR_IO, "%s", err);
}

static lt_status builtin_save(void *st) {
    char err[600];
    builtin_state *b = st;
    return logger_flush(b->lg, err, sizeof err) ? LT_OK : lt_set_error(LT_ERR_IO, "%s", err);
}

/* TensorBoardLogger.save also writes hparams.yaml ({}) when no log_hyperparams did, as
 * with --enable_autolog_hparams false. */
static lt_status tb_save(void *st) {
    builtin_state *b = st;
    char path[4200], err[600];
    lt_status r = builtin_save(st);
    snprintf(path, sizeof path, "%s/hparams.yaml", b->dir);
    if (r != LT_OK || access(path, F_OK) == 0) return r;
    return write_hparams_yaml(b->dir, NULL, 0, err, sizeof err)
               ? LT_OK
               : lt_set_error(LT_ERR_IO, "%s", err);
}

static lt_status tb_finalize(void *st, const char *status) {
    (void)status;
    return tb_save(st);
}

static lt_status builtin_finalize(void *st, const char *status) {
    (void)status; /* both flush whatever the outcome, as Lightning's finalize does */
    return builtin_save(st);
}

static void builtin_teardown(void *st) {
    builtin_state *b = st;
    char err[600];
    if (!b) return;
    logger_close(b->lg, err, sizeof err); /* finalize already reported a failed flush */
    free(b->dir);
    free(b);
}

static lt_status tb_histogram(void *st, const char *name, const float *v, int64_t n, int64_t step) {
    char err[600];
    builtin_state *b = st;
    return tb_log_histogram(b->lg, name, v, n, step, err, sizeof err)
               ? LT_OK
               : lt_set_error(LT_ERR_IO, "%s", err);
}

static lt_status tb_image(void *st, const char *name, int64_t height, int64_t width,
                          const uint8_t *png, size_t nbytes, int64_t step) {
    char err[600];
    builtin_state *b = st;
    return logger_log_image(b->lg, name, step, height, width, png, nbytes, err, sizeof err)
               ? LT_OK
               : lt_set_error(LT_ERR_IO, "%s", err);
}

#define BUILTIN_HEADER(n)                                                                          \
    .abi_major = LT_ABI_MAJOR, .abi_minor = LT_ABI_MINOR, .struct_size = sizeof(lt_logger_desc),   \
    .name = (n)

static const lt_logger_desc csv_desc = {
    BUILTIN_HEADER("csv"),
    .hparams = csv_options,
    .init = csv_init,
    .log_hyperparams = builtin_hparams,
    .log_metrics = builtin_metrics,
    .save = builtin_save,
    .finalize = builtin_finalize,
    .teardown = builtin_teardown,
};

static const lt_logger_desc tb_desc = {
    BUILTIN_HEADER("tensorboard"),
    .hparams = folder_options,
    .init = tb_init,
    .log_hyperparams = builtin_hparams,
    .log_metrics = builtin_metrics,
    .save = tb_save,
    .finalize = tb_finalize,
    .teardown = builtin_teardown,
    .log_histogram = tb_histogram,
    .log_image = tb_image,
};

static const struct {
    const char *name, *class_name;
    const lt_logger_desc *desc;
} builtins[] = {
    {"csv", "CSVLogger", &csv_desc},
    {"tensorboard", "TensorBoardLogger", &tb_desc},
    {"mlflow", "MLFlowLogger", &mlflow_logger_desc},
};

/* "lightning.pytorch.loggers.CSVLogger" -> "CSVLogger": the modules Lightning exports them from. */
static const char *strip_module(const char *name) {
    static const char *const prefixes[] = {
        "lightning.pytorch.loggers.", "pytorch_lightning.loggers.", "lightning.fabric.loggers."};
    for (size_t i = 0; i < sizeof prefixes / sizeof *prefixes; i++) {
        size_t n = strlen(prefixes[i]);
        if (!strncmp(name, prefixes[i], n)) return name + n;
    }
    return name;
}

const lt_logger_desc *builtin_logger(const char *name) {
    const char *bare = strip_module(name);
    for (size_t i = 0; i < sizeof builtins / sizeof *builtins; i++)
        if (!strcasecmp(name, builtins[i].name) || !strcmp(bare, builtins[i].class_name))
            return builtins[i].desc;
    return NULL;
}

const char *builtin_logger_name(int i) {
    return i >= 0 && (size_t)i < sizeof builtins / sizeof *builtins ? builtins[i].name : NULL;
}
