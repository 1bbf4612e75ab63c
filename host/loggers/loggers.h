/* loggers.h — experiment loggers: <root>/lightning_logs/version_N/{metrics.csv, hparams.yaml, events.out.tfevents.*}
 *
 * What they write matches Lightning 2.x (CSVLogger, TensorBoardLogger, save_hparams_to_yaml)
 * byte for byte where it can, so tools made for Lightning's logs read ours. Every call
 * that can fail returns false and leaves a message naming the file in err (size errn). */
#ifndef LT_HOST_LOGGERS_H
#define LT_HOST_LOGGERS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <lt/logger.h>

typedef lt_logger_metric metric_kv; /* {name, value} */
typedef enum { HP_TEXT_STR, HP_TEXT_INT, HP_TEXT_FLOAT, HP_TEXT_BOOL } hp_text_type;
typedef struct hparam_kv {
    const char *name;
    const char *text;
    hp_text_type type;
} hparam_kv;
typedef struct logger logger; /* opaque */

/* Create <root>/<name>/version_N with N one more than the largest existing version_* (0 if
 * none), like Lightning; version >= 0 forces N. A NULL or empty name puts version_N in root.
 * Writes the path into out (size n). false + message in err on failure. */
/* mkdir -p: each missing component in turn, so a deep path works on a fresh machine. */
bool logs_make_dirs(const char *path, char *err, size_t errn);
bool logs_make_version_dir(const char *root, const char *name, int version, char *out, size_t n,
                           char *err, size_t errn);
/* The path logs_make_version_dir would create, without creating anything. */
bool logs_version_dir_path(const char *root, const char *name, int version, char *out, size_t n,
                           char *err, size_t errn);

/* Lightning's CSVLogger: dir/metrics.csv (an old one there is removed, as Lightning does). */
logger *csv_logger_open(const char *dir, char *err, size_t errn);
/* CSVLogger's flush_logs_every_n_steps (100): a log at step s saves when (s + 1) % n == 0.
 * false for n < 1 or a logger that is not a CSV one. */
bool csv_logger_set_flush_every(logger *lg, int64_t n);

/* TensorBoard event file dir/events.out.tfevents.<unix time>.<hostname>.<pid>.<counter> */
logger *tb_logger_open(const char *dir, char *err, size_t errn);

/* One row/event set: the metrics of one log call at step. Buffered. The CSV logger writes
 * a metric named "epoch" as an integer (Lightning logs the epoch as a Python int) and lets
 * step override a metric named "step"; values should be what Lightning's .item() gives,
 * i.e. a float32 widened to double. */
bool logger_log_metrics(logger *lg, const metric_kv *m, int n, int64_t step, char *err,
                        size_t errn);

/* Write what is buffered (CSV: Lightning rewrites the whole file with the new header when new columns appear). */
bool logger_flush(logger *lg, char *err, size_t errn);

/* Flush and free; NULL is a no-op. */
bool logger_close(logger *lg, char *err, size_t errn);

const char *logger_name(const logger *lg); /* "csv", "tensorboard" */

/* dir/hparams.yaml as Lightning writes it (a YAML mapping of name: value), written via
 * libyaml's emitter so strings are quoted when needed. Keys are sorted (PyYAML's
 * sort_keys); INT/FLOAT/BOOL text is parsed and written as Python would print the value. */
bool write_hparams_yaml(const char *dir, const hparam_kv *hp, int n, char *err, size_t errn);

/* ---- issue 23 (gen): images ---- */

/* rgb (height, width, 3 bytes a pixel) as an 8-bit RGB PNG in a new buffer (*out, *nbytes;
 * the caller frees it). */
bool logs_png_encode(const uint8_t *rgb, int64_t height, int64_t width, uint8_t **out,
                     size_t *nbytes, char *err, size_t errn);
/* path = data, written to path.tmp and renamed, so a reader never sees half a file. */
bool logs_write_file(const char *path, const void *data, size_t n, char *err, size_t errn);
/* An image summary (TensorBoard's add_image: tag, step, the PNG bytes) for loggers that
 * show images (TensorBoard); a no-op for the others. */
bool logger_log_image(logger *lg, const char *tag, int64_t step, int64_t height, int64_t width,
                      const uint8_t *png, size_t n, char *err, size_t errn);
/* ---- the logger plugin kind's built-in instances (builtin_loggers.c, mlflow.c) ---- */

/* The table of built-in logger `name`: csv, tensorboard, mlflow, or Lightning's class name
 * (CSVLogger, lightning.pytorch.loggers.TensorBoardLogger, MLFlowLogger); NULL if none. */
const lt_logger_desc *builtin_logger(const char *name);
/* The name of built-in logger i (0, 1, ...), NULL past the last. */
const char *builtin_logger_name(int i);
extern const lt_logger_desc mlflow_logger_desc;
/* TensorBoard's histogram of n values at step (torch.utils.tensorboard's add_histogram
 * with bins="tensorflow"); the logger must be a tb_logger_open one. */
bool tb_log_histogram(logger *lg, const char *tag, const float *v, int64_t n, int64_t step,
                      char *err, size_t errn);

#ifdef LOGGERS_IMPL
/* ---- For the logger implementations (and their unit test) only. ---- */

/* Each logger kind fills one static table; the handle starts with a pointer to it. */
struct logger_ops {
    const char *name; /* logger_name()'s answer */
    bool (*log)(logger *lg, const metric_kv *m, int n, int64_t step, char *err, size_t errn);
    bool (*flush)(logger *lg, char *err, size_t errn);
    void (*free)(logger *lg); /* after a final flush */
    /* -- issue 23 (gen) -- (optional) an image summary; NULL: the logger shows no images */
    bool (*log_image)(logger *lg, const char *tag, int64_t step, int64_t height, int64_t width,
                      const uint8_t *png, size_t n, char *err, size_t errn);
};
struct logger {
    const struct logger_ops *ops;
};

/* Python's repr(float): the shortest text that reads back as v ("0.1", "1e-05", "inf").
 * buf needs 32 bytes. Returns buf. */
char *logs__float_repr(double v, char *buf);

/* CRC32C (Castagnoli) of n bytes continuing from crc (0 to start). */
uint32_t logs__crc32c(uint32_t crc, const void *data, size_t n);

/* TensorBoard: queue Event{wall_time, step, Summary{value}} where value is an encoded
 * Summary.Value (tb_histogram.c builds them); lg must be a tb_logger_open one. */
bool logs__tb_queue_value(logger *lg, const void *value, size_t n, int64_t step, char *err,
                          size_t errn);

/* snprintf into err, tolerating a NULL or empty err. */
void logs__err(char *err, size_t errn, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
#endif

#endif
