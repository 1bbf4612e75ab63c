/* Where the logs go — <root>/<name>/version_N, numbered as Lightning numbers them — and the
 * logger handle every kind shares (the kinds fill a struct logger_ops; see loggers.h). */
#define LOGGERS_IMPL
#include "loggers.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

void logs__err(char *err, size_t errn, const char *fmt, ...) {
    if (!err || errn == 0) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errn, fmt, ap);
    va_end(ap);
}

/* ---- the version directory ---- */

static bool is_dir(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

bool logs_make_dirs(const char *path, char *err, size_t errn) {
    char buf[PATH_MAX];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf) {
        logs__err(err, errn, "%s: path too long", path);
        return false;
    }
    for (char *p = buf + 1;; p++) {
        if (*p != '/' && *p != '\0') continue;
        char c = *p;
        *p = '\0';
        if (mkdir(buf, 0777) != 0 && !(errno == EEXIST && is_dir(buf))) {
            logs__err(err, errn, "cannot create directory %s: %s", buf,
                      strerror(errno == EEXIST ? ENOTDIR : errno));
            return false;
        }
        if (c == '\0') return true;
        *p = c;
    }
}

/* N of a "version_N..." directory entry, or -1. Lightning takes name.split("_")[1] and
 * keeps it when it is all digits, so "version_3_old" counts as 3 and "version_x" not at all. */
static long entry_version(int dir_fd, const char *name) {
    if (strncmp(name, "version_", 8) != 0) return -1;
    const char *d = name + 8;
    size_t len = strcspn(d, "_");
    if (len == 0 || strspn(d, "0123456789") < len) return -1;
    errno = 0;
    long v = strtol(d, NULL, 10);
    if (errno == ERANGE || v >= INT_MAX) return -1; /* Python has bignums; we skip such names */
    struct stat st;
    return fstatat(dir_fd, name, &st, 0) == 0 && S_ISDIR(st.st_mode) ? v : -1;
}

/* One more than the largest version_N in versions_root; 0 when there is none (or no root). */
static int next_version(const char *versions_root) {
    DIR *d = opendir(versions_root);
    if (!d) return 0;
    long best = -1;
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        long v = entry_version(dirfd(d), e->d_name);
        if (v > best) best = v;
    }
    closedir(d);
    return (int)(best + 1);
}

bool logs_version_dir_path(const char *root, const char *name, int version, char *out, size_t n,
                           char *err, size_t errn) {
    char versions_root[PATH_MAX];
    bool named = name && name[0];
    if (!root || !root[0]) root = ".";
    int len = snprintf(versions_root, sizeof versions_root, "%s%s%s", root, named ? "/" : "",
                       named ? name : "");
    if (len >= (int)sizeof versions_root) {
        logs__err(err, errn, "%s: log path too long", root);
        return false;
    }
    if (version < 0) version = next_version(versions_root);
    if (snprintf(out, n, "%s/version_%d", versions_root, version) >= (int)n) {
        logs__err(err, errn, "%s/version_%d: path does not fit the %zu-byte buffer", versions_root,
                  version, n);
        return false;
    }
    return true;
}

bool logs_make_version_dir(const char *root, const char *name, int version, char *out, size_t n,
                           char *err, size_t errn) {
    return logs_version_dir_path(root, name, version, out, n, err, errn) &&
           logs_make_dirs(out, err, errn);
}

/* ---- the logger handle: checks, then the kind's table ---- */

bool logger_log_metrics(logger *lg, const metric_kv *m, int n, int64_t step, char *err,
                        size_t errn) {
    if (!lg || n < 0 || (n > 0 && !m)) {
        logs__err(err, errn, "logger_log_metrics: no logger or no metrics");
        return false;
    }
    for (int i = 0; i < n; i++) {
        if (!m[i].name || !m[i].name[0]) {
            logs__err(err, errn, "%s logger: metric %d has no name", lg->ops->name, i);
            return false;
        }
    }
    return lg->ops->log(lg, m, n, step, err, errn);
}

bool logger_flush(logger *lg, char *err, size_t errn) {
    if (!lg) {
        logs__err(err, errn, "logger_flush: no logger");
        return false;
    }
    return lg->ops->flush(lg, err, errn);
}

bool logger_close(logger *lg, char *err, size_t errn) {
    if (!lg) return true;
    bool ok = lg->ops->flush(lg, err, errn);
    lg->ops->free(lg);
    return ok;
}

const char *logger_name(const logger *lg) { return lg ? lg->ops->name : "none"; }
