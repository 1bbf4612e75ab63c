/* logger_set.h — the loggers of one run (--logger csv,tensorboard,mlflow,my.so): built-in
 * tables and logger plugins alike, called in the order given, as Lightning's trainer calls
 * its list of loggers. Every failure prints one error line (host_error) and returns false. */
#ifndef LTHOST_LOGGER_SET_H
#define LTHOST_LOGGER_SET_H

#include <stdbool.h>
#include <stdint.h>

#include <lt/logger.h>

#include "../host.h"

#define LTHOST_MAX_LOGGERS 8

typedef struct run_logger {
    const char *spec;    /* as named on the command line */
    char own_dir[4096];  /* its folder when its save_dir/name/version are not the run's */
    lt_plugin_t *plugin; /* NULL for a built-in */
    const lt_logger_desc *d;
    void *st;
    bool live; /* init succeeded: teardown is due */
} run_logger;

typedef struct logger_set {
    run_logger l[LTHOST_MAX_LOGGERS];
    int n;
    char list[1024]; /* a writable copy of cfg->logger, split in place */
} logger_set;

/* Whether cfg->logger names any logger ("false" names none). */
bool loggers_enabled(const host_config *cfg);
/* Resolve cfg->logger into tables (opening plugins) and check every --logger.KEY and
 * --logger.NAME.KEY (one logger's option) against them; nothing is started. */
bool logger_set_load(logger_set *ls, const host_config *cfg);
/* The value of option KEY for the first logger of ls (--logger.KEY or --logger.NAME.KEY
 * naming it, the last one given), or NULL. */
const char *logger_option(const logger_set *ls, const host_config *cfg, const char *key);
/* init every logger with the run's folder (created by the caller). */
bool logger_set_init(logger_set *ls, const host_config *cfg, const char *save_dir, const char *name,
                     const char *version, const char *log_dir);
bool logger_set_hparams(logger_set *ls, const lt_logger_hparam *hp, int n);
bool logger_set_metrics(logger_set *ls, const lt_logger_metric *m, int n, int64_t step);
bool logger_set_histogram(logger_set *ls, const char *name, const float *v, int64_t n,
                          int64_t step);
/* lt_log_image: the PNG to the loggers that take images (TensorBoard's add_image). */
bool logger_set_image(logger_set *ls, const char *name, int64_t height, int64_t width,
                      const uint8_t *png, size_t nbytes, int64_t step);
bool logger_set_save(logger_set *ls);
/* finalize(status) and teardown each started logger, close the plugins; safe to call on a
 * set that was only loaded, or twice. false when a finalize failed (reported). */
bool logger_set_close(logger_set *ls, const char *status);
/* For `lthost plugins` and checks: validate cfg->logger by loading and closing it. */
bool logger_set_check(const host_config *cfg);

#endif
