/* lt_log_image's host side (issue 23): each image becomes
 * <version dir>/images/<name>/step_<global_step>.png and, with the TensorBoard logger, an
 * image summary of the same PNG bytes. Only rank 0 logs, and only when logging is on
 * (the loggers are open), as for metrics. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trainer.h"

/* liblt checked the name; the host writes the folder, so it checks again. */
static bool safe_name(const char *name) {
    size_t n = strnlen(name, 65);
    if (n == 0 || n > 64 || name[0] == '.') return false;
    for (size_t i = 0; i < n; i++)
        if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.", name[i]))
            return false;
    return true;
}

/* <version dir>/images/<name>/step_<step>.png, its folder created; false with err. */
static bool image_path(const session *s, const char *name, int64_t step, char *path, size_t n,
                       char *err, size_t errn) {
    int len = snprintf(path, n, "%s/images/%s", s->log.version_dir, name);
    if (len < 0 || (size_t)len >= n - 32) {
        snprintf(err, errn, "the image folder for '%s' under the log folder is too long a path",
                 name);
        return false;
    }
    if (!logs_make_dirs(path, err, errn)) return false;
    snprintf(path + len, n - (size_t)len, "/step_%lld.png", (long long)step);
    return true;
}

static bool write_image(session *s, const char *name, int64_t h, int64_t w, const uint8_t *png,
                        size_t n, char *err, size_t errn) {
    char path[4096 + 128];
    int64_t step = s->tr.global_step;
    if (!image_path(s, name, step, path, sizeof path, err, errn) ||
        !logs_write_file(path, png, n, err, errn))
        return false;
    if (logger_set_image(&s->log.set, name, h, w, png, n, step)) return true;
    snprintf(err, errn, "a logger failed to take the image");
    return false;
}

lt_status trainer_log_image(lt_trainer_t *tr, const char *name, int64_t height, int64_t width,
                            const uint8_t *rgb) {
    session *s = tr->host;
    if (!name || !rgb || !safe_name(name))
        return lt_set_error(LT_ERR_INVALID_ARG,
                            "lt_log_image: the image name must be 1 to 64 of [A-Za-z0-9._-], "
                            "not starting with '.'");
    if (!s->log.open) return LT_OK; /* --logger false, fast_dev_run, or a rank other than 0 */
    char err[600];
    uint8_t *png = NULL;
    size_t n = 0;
    bool ok = logs_png_encode(rgb, height, width, &png, &n, err, sizeof err) &&
              write_image(s, name, height, width, png, n, err, sizeof err);
    free(png);
    if (!ok)
        return lt_set_error(
            LT_ERR_IO, "lt_log_image('%s'): %s; check that the log folder is writable", name, err);
    return LT_OK;
}
