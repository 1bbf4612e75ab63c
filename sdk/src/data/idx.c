/* IDX files (the MNIST format): magic 0x0000 <type> <ndim>, big-endian uint32 sizes,
 * then the data. Read through zlib, which handles gzip and plain files alike. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "lt_impl.h"

#define IDX_HINT "(re-download it, or reinstall the dataset-fashion-mnist package)"

/* Read exactly n bytes; false with an error naming path when the stream ends or fails. */
static bool read_exact(gzFile f, const char *path, void *buf, size_t n, const char *what) {
    size_t got = 0;
    while (got < n) {
        unsigned chunk = n - got > (1u << 30) ? (1u << 30) : (unsigned)(n - got);
        int r = gzread(f, (char *)buf + got, chunk);
        if (r < 0) {
            int zerr;
            const char *msg = gzerror(f, &zerr);
            lt_set_error(LT_ERR_FORMAT, "%s: corrupt compressed data while reading the %s: %s %s",
                         path, what, msg, IDX_HINT);
            return false;
        }
        if (r == 0) break;
        got += (size_t)r;
    }
    if (got == n) return true;
    int zerr;
    const char *msg = gzerror(f, &zerr);
    lt_set_error(LT_ERR_FORMAT, "%s: truncated IDX file: expected %zu %s bytes, got %zu%s%s %s",
                 path, n, what, got, zerr ? ": " : "", zerr ? msg : "", IDX_HINT);
    return false;
}

static lt_status read_header(gzFile f, const char *path, lt_idx_t *out) {
    uint8_t magic[4];
    if (!read_exact(f, path, magic, 4, "header")) return LT_ERR_FORMAT;
    if (magic[0] || magic[1] || magic[3] < 1 || magic[3] > LT_MAX_DIMS)
        return lt_set_error(LT_ERR_FORMAT, "%s: not an IDX file (magic %02x %02x %02x %02x) %s",
                            path, magic[0], magic[1], magic[2], magic[3], IDX_HINT);
    if (magic[2] != 0x08)
        return lt_set_error(LT_ERR_FORMAT, "%s: IDX element type 0x%02x is not supported (only "
                            "0x08, unsigned bytes, as MNIST uses)", path, magic[2]);
    out->type = magic[2];
    out->ndim = magic[3];
    out->count = 1;
    for (int i = 0; i < out->ndim; i++) {
        uint8_t be[4];
        if (!read_exact(f, path, be, 4, "header")) return LT_ERR_FORMAT;
        out->dims[i] = (int64_t)be[0] << 24 | (int64_t)be[1] << 16 | (int64_t)be[2] << 8 | be[3];
        if (out->dims[i] > 0 && out->count > ((int64_t)1 << 40) / out->dims[i])
            return lt_set_error(LT_ERR_FORMAT, "%s: IDX sizes are implausibly large %s", path, IDX_HINT);
        out->count *= out->dims[i];
    }
    return LT_OK;
}

lt_status lt_idx_read(const char *path, lt_idx_t *out) {
    memset(out, 0, sizeof *out);
    if (!path) return lt_set_error(LT_ERR_INVALID_ARG, "lt_idx_read: path is NULL");
    errno = 0;
    gzFile f = gzopen(path, "rb");
    if (!f)
        return lt_set_error(LT_ERR_IO, "%s: cannot open: %s (check --data.root)", path,
                            errno ? strerror(errno) : "out of memory");
    lt_status s = read_header(f, path, out);
    if (s == LT_OK && !(out->data = malloc(out->count ? (size_t)out->count : 1)))
        s = lt_set_error(LT_ERR_OOM, "%s: out of memory for %lld bytes", path, (long long)out->count);
    if (s == LT_OK && !read_exact(f, path, out->data, (size_t)out->count, "data"))
        s = LT_ERR_FORMAT;
    gzclose(f);
    if (s != LT_OK) lt_idx_free(out);
    return s;
}

void lt_idx_free(lt_idx_t *idx) {
    if (!idx) return;
    free(idx->data);
    memset(idx, 0, sizeof *idx);
}
