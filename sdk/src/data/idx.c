/* IDX files (the MNIST format): magic 0x0000 <type> <ndim>, big-endian uint32 sizes,
 * then the data. A whole gzip file is inflated by libdeflate (twice zlib's speed: most of
 * lthost's start-up is this); anything that path does not read cleanly goes through
 * zlib's stream reader, which handles gzip and plain files alike and names every
 * problem. Every failure is one line: the path, what is wrong, and how to fix it. */
#include <errno.h>
#include <libdeflate.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "lt_impl.h"

#define IDX_HINT "(re-download it, or reinstall the dataset-fashion-mnist package)"
#define IDX_MAX_BYTES ((int64_t)1 << 40) /* no real IDX file is near 1 TiB */

/* zlib's reason, without the "<path>: " prefix gzerror puts in front of it. */
static const char *zlib_reason(gzFile f, const char *path, int *zerr) {
    const char *msg = gzerror(f, zerr);
    size_t n = strlen(path);
    return strncmp(msg, path, n) == 0 && strncmp(msg + n, ": ", 2) == 0 ? msg + n + 2 : msg;
}

/* Why the stream stopped: an OS error (LT_ERR_IO) or bad compressed data (LT_ERR_FORMAT). */
static lt_status stream_error(gzFile f, const char *path, const char *what, int os_errno) {
    int zerr;
    const char *msg = zlib_reason(f, path, &zerr);
    if (zerr == Z_ERRNO)
        return lt_set_error(LT_ERR_IO, "%s: read error in the %s: %s (check the file and its disk)",
                            path, what, strerror(os_errno));
    return lt_set_error(LT_ERR_FORMAT, "%s: corrupt compressed data in the %s: %s %s", path,
                        what, msg, IDX_HINT);
}

/* The stream ended after `got` of `n` bytes. A gzip stream cut short reads as a short
 * count with Z_BUF_ERROR: that is still truncation, reported with zlib's reason. */
static lt_status truncated(gzFile f, const char *path, const char *what, size_t n, size_t got,
                           int os_errno) {
    int zerr;
    const char *msg = zlib_reason(f, path, &zerr);
    if (zerr == Z_ERRNO) return stream_error(f, path, what, os_errno);
    return lt_set_error(LT_ERR_FORMAT, "%s: truncated IDX file: expected %zu %s bytes, got %zu%s%s %s",
                        path, n, what, got, zerr ? ": " : "", zerr ? msg : "", IDX_HINT);
}

/* Read up to cap - *got more bytes into buf + *got; LT_OK with *eof at the end of the stream. */
static lt_status read_some(gzFile f, const char *path, const char *what, uint8_t *buf, size_t cap,
                           size_t *got, bool *eof, int *os_errno) {
    *eof = false;
    while (*got < cap && !*eof) {
        unsigned chunk = cap - *got > (1u << 30) ? (1u << 30) : (unsigned)(cap - *got);
        errno = 0;
        int r = gzread(f, buf + *got, chunk);
        *os_errno = errno;
        if (r < 0) return stream_error(f, path, what, *os_errno);
        *eof = r == 0;
        *got += (size_t)r;
    }
    return LT_OK;
}

/* Read exactly n bytes into buf. */
static lt_status read_exact(gzFile f, const char *path, void *buf, size_t n, const char *what) {
    size_t got = 0;
    bool eof;
    int os_errno = 0;
    lt_status s = read_some(f, path, what, buf, n, &got, &eof, &os_errno);
    if (s != LT_OK || got == n) return s;
    return truncated(f, path, what, n, got, os_errno);
}

/* The data, into a buffer that grows as bytes arrive: a damaged header that claims
 * a terabyte costs a "truncated" error, not a terabyte allocation. */
static lt_status read_data(gzFile f, const char *path, lt_idx_t *out) {
    size_t want = (size_t)out->count, cap = 0, got = 0;
    bool eof = false;
    int os_errno = 0;
    while (!out->data || (got < want && !eof)) {
        size_t next = cap < (1u << 20) ? (1u << 20) : 2 * cap;
        cap = next < want ? next : want;
        uint8_t *grown = realloc(out->data, cap ? cap : 1);
        if (!grown)
            return lt_set_error(LT_ERR_OOM, "%s: out of memory for %zu bytes of IDX data", path, cap);
        out->data = grown;
        lt_status s = read_some(f, path, "data", out->data, cap, &got, &eof, &os_errno);
        if (s != LT_OK) return s;
    }
    return got == want ? LT_OK : truncated(f, path, "data", want, got, os_errno);
}

/* Dimension i from its big-endian bytes; the product must stay below IDX_MAX_BYTES. */
static lt_status decode_dim(const char *path, int i, const uint8_t be[4], lt_idx_t *out) {
    out->dims[i] = (int64_t)be[0] << 24 | (int64_t)be[1] << 16 | (int64_t)be[2] << 8 | be[3];
    if (out->dims[i] > 0 && out->count > IDX_MAX_BYTES / out->dims[i])
        return lt_set_error(LT_ERR_FORMAT, "%s: IDX dimension %d is %lld, which makes the data "
                            "implausibly large (over 1 TiB) %s", path, i,
                            (long long)out->dims[i], IDX_HINT);
    out->count *= out->dims[i];
    return LT_OK;
}

static lt_status decode_magic(const char *path, const uint8_t magic[4], lt_idx_t *out) {
    if (magic[0] || magic[1] || magic[3] < 1 || magic[3] > LT_MAX_DIMS)
        return lt_set_error(LT_ERR_FORMAT, "%s: not an IDX file (magic %02x %02x %02x %02x; "
                            "expected 00 00 <type> <1..%d>) %s", path, magic[0], magic[1],
                            magic[2], magic[3], LT_MAX_DIMS, IDX_HINT);
    if (magic[2] != 0x08)
        return lt_set_error(LT_ERR_FORMAT, "%s: IDX element type 0x%02x is not supported (only "
                            "0x08, unsigned bytes, as MNIST uses; convert the file)", path, magic[2]);
    out->type = magic[2];
    out->ndim = magic[3];
    out->count = 1;
    return LT_OK;
}

static lt_status read_header(gzFile f, const char *path, lt_idx_t *out) {
    uint8_t magic[4];
    lt_status s = read_exact(f, path, magic, 4, "header");
    if (s == LT_OK) s = decode_magic(path, magic, out);
    for (int i = 0; s == LT_OK && i < out->ndim; i++) {
        uint8_t be[4];
        s = read_exact(f, path, be, 4, "header");
        if (s == LT_OK) s = decode_dim(path, i, be, out);
    }
    return s;
}

/* ---- the fast path --------------------------------------------------------------------- */

/* The file's bytes, or NULL. */
static uint8_t *slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    struct stat st;
    uint8_t *buf = NULL;
    if (f && fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode) && st.st_size >= 18 &&
        (buf = malloc((size_t)st.st_size)) && fread(buf, 1, (size_t)st.st_size, f) != (size_t)st.st_size) {
        free(buf);
        buf = NULL;
    }
    if (f) fclose(f);
    *len = buf ? (size_t)st.st_size : 0;
    return buf;
}

/* A file that is exactly one gzip member, inflated whole; NULL otherwise. */
static uint8_t *inflate_whole(const char *path, size_t *len) {
    size_t in_len;
    uint8_t *in = slurp(path, &in_len), *out = NULL;
    if (!in || in[0] != 0x1f || in[1] != 0x8b) {
        free(in);
        return NULL;
    }
    /* ISIZE, the trailer's uncompressed size mod 2^32: exact for every IDX file. */
    size_t isize = (size_t)in[in_len - 4] | (size_t)in[in_len - 3] << 8 |
                   (size_t)in[in_len - 2] << 16 | (size_t)in[in_len - 1] << 24;
    struct libdeflate_decompressor *d = libdeflate_alloc_decompressor();
    size_t used = 0, got = 0;
    /* Deflate expands at most ~1032:1; a larger claim is a damaged trailer. */
    if (d && isize >= 8 && isize / 1032 <= in_len && (out = malloc(isize)) &&
        (libdeflate_gzip_decompress_ex(d, in, in_len, out, isize, &used, &got) != LIBDEFLATE_SUCCESS ||
         used != in_len || got != isize)) {
        free(out);
        out = NULL;
    }
    libdeflate_free_decompressor(d);
    free(in);
    *len = out ? isize : 0;
    return out;
}

/* Parse a whole decompressed file; false (no error recorded) when it is not a complete,
 * valid IDX file, so that the stream reader can say what is wrong with it. */
static bool parse_whole(const char *path, uint8_t *mem, size_t len, lt_idx_t *out) {
    lt_idx_t idx = {0};
    if (len < 4 || decode_magic(path, mem, &idx) != LT_OK || len < 4 + 4 * (size_t)idx.ndim)
        return false;
    for (int i = 0; i < idx.ndim; i++)
        if (decode_dim(path, i, mem + 4 + 4 * i, &idx) != LT_OK) return false;
    size_t header = 4 + 4 * (size_t)idx.ndim;
    if (len - header != (size_t)idx.count) return false;
    memmove(mem, mem + header, len - header); /* the data is the allocation, as lt_idx_free expects */
    idx.data = mem;
    *out = idx;
    return true;
}

lt_status lt_idx_read(const char *path, lt_idx_t *out) {
    if (!out) return lt_set_error(LT_ERR_INVALID_ARG, "lt_idx_read: out is NULL");
    memset(out, 0, sizeof *out);
    if (!path) return lt_set_error(LT_ERR_INVALID_ARG, "lt_idx_read: path is NULL");
    size_t len;
    uint8_t *mem = inflate_whole(path, &len);
    if (mem && parse_whole(path, mem, len, out)) return LT_OK;
    free(mem);
    lt_clear_error();
    errno = 0;
    gzFile f = gzopen(path, "rb");
    if (!f)
        return lt_set_error(LT_ERR_IO, "%s: cannot open: %s (check --data.root, or install the "
                            "dataset-fashion-mnist package)", path,
                            errno ? strerror(errno) : "out of memory");
    lt_status s = read_header(f, path, out);
    if (s == LT_OK) s = read_data(f, path, out);
    gzclose(f);
    if (s != LT_OK) lt_idx_free(out);
    return s;
}

void lt_idx_free(lt_idx_t *idx) {
    if (!idx) return;
    free(idx->data);
    memset(idx, 0, sizeof *idx);
}
