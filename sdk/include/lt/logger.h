/* lt/logger.h — the table a logger plugin fills (--logger NAME|path.so), Lightning's Logger.
 *
 * lthost hands every logger of the run (--logger csv,tensorboard,my.so, in that order) the
 * same calls Lightning's trainer makes on its loggers: log_hyperparams once when logging
 * starts, log_metrics for each row (the on_step values every log_every_n_steps, the epoch
 * means at the end of each loop), save when the trainer flushes (each epoch end, before a
 * checkpoint is written), finalize with how the run ended, then teardown. Only rank 0 logs;
 * all calls come from the thread that runs the loops. Strings handed to a call are valid
 * during that call only. The built-in csv, tensorboard and mlflow loggers are tables of
 * this kind too (docs/custom-logger.md). */
#ifndef LT_LOGGER_H
#define LT_LOGGER_H

#include <stdint.h>

#include "module.h"
#include "status.h"

/* Where the run logs and what the user set for this logger. */
typedef struct lt_logger_opts {
    uint32_t struct_size; /* sizeof(lt_logger_opts) of the host: fields may be appended */
    int rank, world_size;
    const char *save_dir; /* Lightning's Logger.save_dir: --logger.save_dir, else the root dir */
    const char *name;     /* Logger.name: "lightning_logs" unless --logger.name */
    const char *version;  /* Logger.version: "version_N" unless --logger.version */
    const char *log_dir;  /* save_dir/name/version, already created; checkpoints go below */
    /* The --logger.KEY VALUE options whose KEY this logger declares in .hparams, as typed
     * (the host has checked the types); a declared option not given is absent: use its
     * default. */
    int n_options;
    const char *const *option_names;
    const char *const *option_values;
} lt_logger_opts;

/* One hyper-parameter of the module, as text ("0.001", "true", "relu"). */
typedef struct lt_logger_hparam {
    const char *name;
    const char *value;
    lt_hparam_type type;
} lt_logger_hparam;

/* One value of a row: a float32 metric widened to double, or the integer "epoch". */
typedef struct lt_logger_metric {
    const char *name;
    double value;
} lt_logger_metric;

typedef struct lt_logger_desc {
    LT_DESC_HEADER_FIELDS
    /* (optional) its --logger.KEY options, ended by LT_HPARAM_END. A key no logger of the
     * run declares is refused before the run starts. */
    const lt_hparam_desc *hparams;
    /* Open what the logger writes to. *state is handed to every other call. */
    lt_status (*init)(const lt_logger_opts *opts, void **state);
    /* (optional) The module's hyper-parameters, once, before the first row. */
    lt_status (*log_hyperparams)(void *st, const lt_logger_hparam *hp, int n);
    /* One row: n values at the global step. */
    lt_status (*log_metrics)(void *st, const lt_logger_metric *m, int n, int64_t step);
    /* (optional) Write what is buffered. */
    lt_status (*save)(void *st);
    /* (optional) The run ended: status is "success", "failed" or "interrupted". */
    lt_status (*finalize)(void *st, const char *status);
    /* (optional) Free state; called once after init succeeded, also after a failure. */
    void (*teardown)(void *st);
    /* (optional) lt_log_histogram: n float values of one tensor at step (Lightning's
     * logger.experiment.add_histogram). Loggers without it skip histograms. */
    lt_status (*log_histogram)(void *st, const char *name, const float *values, int64_t n,
                               int64_t step);
    /* (optional) lt_log_image: an 8-bit RGB PNG (png, nbytes) of height x width pixels at
     * step (Lightning's logger.experiment.add_image). The host has already written it to
     * <log dir>/images/<name>/; loggers without this skip images. */
    lt_status (*log_image)(void *st, const char *name, int64_t height, int64_t width,
                           const uint8_t *png, size_t nbytes, int64_t step);
} lt_logger_desc;

#define LT_LOGGER_EXPORT(...) LT_PLUGIN_EXPORT_(lt_logger_desc, lt_logger_entry, __VA_ARGS__)

#endif
