/* IDX files (the MNIST format): magic 0x0000 <type> <ndim>, big-endian uint32 sizes,
 * then exactly the data those sizes declare, raw or as one gzip member. The file must be
 * a regular file (a FIFO or a device named like a data file would block or never end)
 * and is read whole. A single-member gzip file is inflated by libdeflate (twice zlib's
 * speed: most of lthost's start-up is this); anything that path does not take cleanly
 * goes through zlib's inflate, which names every problem. Bytes past the declared data,
 * a second gzip member and junk after the gzip stream are refused: a tool that reads
 * such a file differently would see other data. Every failure is one line: the path,
 * what is wrong, and how to fix it. */
#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <libdeflate.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "lt_impl.h"

#define IDX_HINT "(re-download it)"
#define IDX_INVALID "the file is not a valid IDX file " IDX_HINT
#define IDX_OPEN_HINT "(check the path)"
#define IDX_MAX_BYTES ((int64_t)1 << 40) /* no real IDX file is near 1 TiB */
#define IDX_CHUNK ((size_t)1 << 30)      /* zlib counts in 32 bits: feed it at most this */
#define PLURAL(n) ((n) == 1 ? "" : "s")

/* ---- the file -------------------------------------------------------------------------- */

#define IDX_HUGE_PAGE ((size_t)2 << 20)

/* n bytes for a whole file or its inflated data (free() releases them). From a few MB up,
 * on 2 MB transparent huge pages where the kernel has them: first touching Fashion-MNIST's
 * 26 + 47 MB in 4 KB pages was ~15 ms of page faults in a ~105 ms start-up. */
static uint8_t *file_alloc(size_t n) {
    if (n < 2 * IDX_HUGE_PAGE || n > SIZE_MAX - IDX_HUGE_PAGE) return malloc(n ? n : 1);
    size_t size = (n + IDX_HUGE_PAGE - 1) / IDX_HUGE_PAGE * IDX_HUGE_PAGE;
    uint8_t *p = aligned_alloc(IDX_HUGE_PAGE, size);
    if (p) madvise(p, size, MADV_HUGEPAGE); /* a hint: without THP, plain pages */
    return p;
}

/* The kernel clears each new page when it is first written: ~15 ms for those 73 MB, which
 * a second thread can take off the reading or inflating one by prefaulting the buffer
 * ahead of it (MADV_POPULATE_WRITE maps the pages and writes nothing, so the two never
 * disagree about the contents). */
typedef struct prefault {
    pthread_t thread;
    uint8_t *p;
    size_t n;
    bool running;
} prefault;

static void *prefault_main(void *arg) {
    const prefault *f = arg;
#ifdef MADV_POPULATE_WRITE
    madvise(f->p, f->n, MADV_POPULATE_WRITE); /* best effort: older kernels say EINVAL */
#else
    (void)f;
#endif
    return NULL;
}

static void prefault_start(prefault *f, uint8_t *p, size_t n) {
    *f = (prefault){.p = p, .n = n};
    f->running =
        p && n >= 2 * IDX_HUGE_PAGE && pthread_create(&f->thread, NULL, prefault_main, f) == 0;
}

static void prefault_wait(prefault *f) {
    if (f->running) pthread_join(f->thread, NULL);
    f->running = false;
}

static const char *file_kind(mode_t m) {
    return S_ISDIR(m)    ? "a directory"
           : S_ISFIFO(m) ? "a FIFO (named pipe)"
           : S_ISCHR(m)  ? "a character device"
           : S_ISBLK(m)  ? "a block device"
           : S_ISSOCK(m) ? "a socket"
                         : "a special file";
}

/* A descriptor of path, a regular file, and its size. O_NONBLOCK keeps open() of a FIFO
 * with no writer from blocking; the type is checked on the descriptor that is then read,
 * so nothing can be swapped in between. */
static lt_status open_regular(const char *path, int *fd_out, size_t *size) {
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return lt_set_error(LT_ERR_IO, "%s: cannot open: %s " IDX_OPEN_HINT, path, strerror(errno));
    struct stat st;
    lt_status s = LT_OK;
    if (fstat(fd, &st) != 0)
        s = lt_set_error(LT_ERR_IO, "%s: cannot stat: %s (check the file and its disk)", path,
                         strerror(errno));
    else if (!S_ISREG(st.st_mode))
        s = lt_set_error(LT_ERR_IO,
                         "%s: cannot read it: it is %s, not a regular file; an IDX "
                         "file must be a regular file " IDX_OPEN_HINT,
                         path, file_kind(st.st_mode));
    else if (st.st_size > IDX_MAX_BYTES)
        s = lt_set_error(LT_ERR_FORMAT,
                         "%s: %lld bytes, implausibly large for an IDX file (over "
                         "1 TiB) %s",
                         path, (long long)st.st_size, IDX_HINT);
    else if (fcntl(fd, F_SETFL, 0) != 0) /* plain blocking reads from here on */
        s = lt_set_error(LT_ERR_IO, "%s: fcntl: %s", path, strerror(errno));
    if (s != LT_OK) {
        close(fd);
        return s;
    }
    *fd_out = fd;
    *size = (size_t)st.st_size;
    return LT_OK;
}

/* The whole file into a new buffer (caller frees). */
static lt_status read_file(const char *path, uint8_t **buf_out, size_t *len) {
    int fd = -1;
    size_t size = 0, got = 0;
    lt_status s = open_regular(path, &fd, &size);
    if (s != LT_OK) return s;
    uint8_t *buf = file_alloc(size);
    if (!buf)
        s = lt_set_error(LT_ERR_OOM, "%s: out of memory for the file's %zu bytes", path, size);
    prefault pf;
    prefault_start(&pf, buf, size);
    while (s == LT_OK && got < size) {
        ssize_t r = read(fd, buf + got, size - got < IDX_CHUNK ? size - got : IDX_CHUNK);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0)
            s = lt_set_error(LT_ERR_IO, "%s: read error: %s (check the file and its disk)", path,
                             strerror(errno));
        if (r <= 0) break; /* 0: the file shrank while being read; parse what is there */
        got += (size_t)r;
    }
    prefault_wait(&pf);
    close(fd);
    if (s != LT_OK) {
        free(buf);
        return s;
    }
    *buf_out = buf;
    *len = got;
    return LT_OK;
}

/* ---- the careful path: a decompressed byte stream over the file's bytes ------------------ */

typedef struct idx_src {
    const char *path;
    const uint8_t *in;
    size_t len, pos; /* raw: the next byte; gzip: the next byte not yet handed to zlib */
    bool gz, ended;  /* ended: zlib reached the end of the (first) gzip member */
    z_stream z;
} idx_src;

static lt_status corrupt(const idx_src *s, const char *what, int zret) {
    if (zret == Z_MEM_ERROR)
        return lt_set_error(LT_ERR_OOM, "%s: out of memory inflating it", s->path);
    return lt_set_error(LT_ERR_FORMAT, "%s: corrupt compressed data in the %s: %s %s", s->path,
                        what, s->z.msg ? s->z.msg : "invalid gzip data", IDX_HINT);
}

/* Up to n more bytes of the data into buf; *got < n only at the end of the stream. */
static lt_status src_read(idx_src *s, const char *what, uint8_t *buf, size_t n, size_t *got) {
    *got = 0;
    if (!s->gz) {
        *got = n < s->len - s->pos ? n : s->len - s->pos;
        memcpy(buf, s->in + s->pos, *got);
        s->pos += *got;
        return LT_OK;
    }
    while (*got < n && !s->ended) {
        if (s->z.avail_in == 0 && s->pos < s->len) {
            size_t k = s->len - s->pos < IDX_CHUNK ? s->len - s->pos : IDX_CHUNK;
            s->z.next_in = (Bytef *)(s->in + s->pos);
            s->z.avail_in = (uInt)k;
            s->pos += k;
        }
        size_t room = n - *got < IDX_CHUNK ? n - *got : IDX_CHUNK;
        s->z.next_out = buf + *got;
        s->z.avail_out = (uInt)room;
        int r = inflate(&s->z, Z_NO_FLUSH);
        *got += room - s->z.avail_out;
        if (r == Z_STREAM_END)
            s->ended = true;
        else if (r == Z_BUF_ERROR && s->z.avail_in == 0 && s->pos == s->len)
            break; /* cut short */
        else if (r != Z_OK)
            return corrupt(s, what, r);
    }
    return LT_OK;
}

/* The data stopped after `got` of `n` bytes. */
static lt_status truncated(const idx_src *s, const char *what, size_t n, size_t got) {
    return lt_set_error(
        LT_ERR_FORMAT, "%s: truncated IDX file: expected %zu %s bytes, got %zu%s %s", s->path, n,
        what, got,
        s->gz && !s->ended ? " (the gzip stream stops short: unexpected end of file)" : "",
        IDX_HINT);
}

static lt_status read_exact(idx_src *s, void *buf, size_t n, const char *what) {
    size_t got;
    lt_status st = src_read(s, what, buf, n, &got);
    return st != LT_OK || got == n ? st : truncated(s, what, n, got);
}

/* The data, into a buffer that grows as bytes arrive: a damaged header that claims
 * a terabyte costs a "truncated" error, not a terabyte allocation. */
static lt_status read_data(idx_src *s, lt_idx_t *out) {
    size_t want = (size_t)out->count, cap = 0, got = 0;
    bool more = true;
    while (!out->data || (got < want && more)) {
        size_t next = cap < (1u << 20) ? (1u << 20) : 2 * cap, k;
        cap = next < want ? next : want;
        uint8_t *grown = realloc(out->data, cap ? cap : 1);
        if (!grown)
            return lt_set_error(LT_ERR_OOM, "%s: out of memory for %zu bytes of IDX data", s->path,
                                cap);
        out->data = grown;
        lt_status st = src_read(s, "data", out->data + got, cap - got, &k);
        if (st != LT_OK) return st;
        more = k == cap - got;
        got += k;
    }
    return got == want ? LT_OK : truncated(s, "data", want, got);
}

/* After the declared data: nothing, in the data and in the file. A gzip bomb's tail is
 * counted only up to a point. */
static lt_status check_end(idx_src *s) {
    static const size_t count_cap = (size_t)1 << 30;
    uint8_t scratch[1 << 16];
    size_t extra = 0, k;
    do {
        lt_status st = src_read(s, "end of the stream", scratch, sizeof scratch, &k);
        if (st != LT_OK) return st;
        extra += k;
    } while (k == sizeof scratch && extra < count_cap);
    if (extra)
        return lt_set_error(LT_ERR_FORMAT,
                            "%s: %s%zu byte%s after the data the header declares; " IDX_INVALID,
                            s->path, extra >= count_cap ? "over " : "", extra, PLURAL(extra));
    if (!s->gz) return LT_OK;
    if (!s->ended)
        return lt_set_error(LT_ERR_FORMAT,
                            "%s: truncated gzip stream: the IDX data is whole but "
                            "the gzip trailer is missing or cut; " IDX_INVALID,
                            s->path);
    size_t end = s->pos - s->z.avail_in, rest = s->len - end; /* the first member's end */
    if (rest >= 2 && s->in[end] == 0x1f && s->in[end + 1] == 0x8b)
        return lt_set_error(LT_ERR_FORMAT,
                            "%s: a second gzip member (%zu bytes) follows the "
                            "first; " IDX_INVALID,
                            s->path, rest);
    if (rest)
        return lt_set_error(LT_ERR_FORMAT,
                            "%s: %zu byte%s of junk after the gzip stream; " IDX_INVALID, s->path,
                            rest, PLURAL(rest));
    return LT_OK;
}

/* ---- the header ------------------------------------------------------------------------ */

/* Dimension i from its big-endian bytes; the product must stay below IDX_MAX_BYTES. */
static lt_status decode_dim(const char *path, int i, const uint8_t be[4], lt_idx_t *out) {
    out->dims[i] = (int64_t)be[0] << 24 | (int64_t)be[1] << 16 | (int64_t)be[2] << 8 | be[3];
    if (out->dims[i] > 0 && out->count > IDX_MAX_BYTES / out->dims[i])
        return lt_set_error(LT_ERR_FORMAT,
                            "%s: IDX dimension %d is %lld, which makes the data "
                            "implausibly large (over 1 TiB) %s",
                            path, i, (long long)out->dims[i], IDX_HINT);
    out->count *= out->dims[i];
    return LT_OK;
}

static lt_status decode_magic(const char *path, const uint8_t magic[4], lt_idx_t *out) {
    if (magic[0] || magic[1] || magic[3] < 1 || magic[3] > LT_MAX_DIMS)
        return lt_set_error(LT_ERR_FORMAT,
                            "%s: not an IDX file (magic %02x %02x %02x %02x; "
                            "expected 00 00 <type> <1..%d>) %s",
                            path, magic[0], magic[1], magic[2], magic[3], LT_MAX_DIMS, IDX_HINT);
    if (magic[2] != 0x08)
        return lt_set_error(LT_ERR_FORMAT,
                            "%s: IDX element type 0x%02x is not supported (only "
                            "0x08, unsigned bytes, as MNIST uses; convert the file)",
                            path, magic[2]);
    out->type = magic[2];
    out->ndim = magic[3];
    out->count = 1;
    return LT_OK;
}

static lt_status read_header(idx_src *s, lt_idx_t *out) {
    uint8_t magic[4];
    lt_status st = read_exact(s, magic, 4, "header");
    if (st == LT_OK) st = decode_magic(s->path, magic, out);
    for (int i = 0; st == LT_OK && i < out->ndim; i++) {
        uint8_t be[4];
        st = read_exact(s, be, 4, "header");
        if (st == LT_OK) st = decode_dim(s->path, i, be, out);
    }
    return st;
}

static lt_status read_stream(const char *path, const uint8_t *in, size_t len, bool gz,
                             lt_idx_t *out) {
    idx_src s = {.path = path, .in = in, .len = len, .gz = gz};
    if (gz && inflateInit2(&s.z, 16 + MAX_WBITS) != Z_OK) /* 16: gzip only */
        return lt_set_error(LT_ERR_OOM, "%s: out of memory starting zlib", path);
    lt_status st = read_header(&s, out);
    if (st == LT_OK) st = read_data(&s, out);
    if (st == LT_OK) st = check_end(&s);
    if (gz) inflateEnd(&s.z);
    return st;
}

/* ---- the fast path --------------------------------------------------------------------- */

/* A file that is exactly one gzip member, inflated whole; NULL otherwise. */
static uint8_t *inflate_whole(const uint8_t *in, size_t in_len, size_t *len) {
    uint8_t *out = NULL;
    if (in_len < 18) return NULL;
    /* ISIZE, the trailer's uncompressed size mod 2^32: exact for every IDX file. */
    size_t isize = (size_t)in[in_len - 4] | (size_t)in[in_len - 3] << 8 |
                   (size_t)in[in_len - 2] << 16 | (size_t)in[in_len - 1] << 24;
    struct libdeflate_decompressor *d = libdeflate_alloc_decompressor();
    size_t used = 0, got = 0;
    /* Deflate expands at most ~1032:1; a larger claim is a damaged trailer. */
    if (d && isize >= 8 && isize / 1032 <= in_len && (out = file_alloc(isize))) {
        prefault pf;
        prefault_start(&pf, out, isize);
        const bool whole = libdeflate_gzip_decompress_ex(d, in, in_len, out, isize, &used, &got) ==
                               LIBDEFLATE_SUCCESS &&
                           used == in_len && got == isize;
        prefault_wait(&pf);
        if (!whole) {
            free(out);
            out = NULL;
        }
    }
    libdeflate_free_decompressor(d);
    *len = out ? isize : 0;
    return out;
}

/* Parse a whole decompressed file; false (no error recorded) when it is not exactly one
 * valid IDX file, so that the careful path can say what is wrong with it. On success
 * mem is out->data. */
static bool parse_whole(const char *path, uint8_t *mem, size_t len, lt_idx_t *out) {
    lt_idx_t idx = {0};
    bool ok = len >= 4 && decode_magic(path, mem, &idx) == LT_OK && len >= 4 + 4 * (size_t)idx.ndim;
    for (int i = 0; ok && i < idx.ndim; i++)
        ok = decode_dim(path, i, mem + 4 + 4 * i, &idx) == LT_OK;
    size_t header = 4 + 4 * (size_t)idx.ndim;
    lt_clear_error();
    if (!ok || len - header != (size_t)idx.count) return false;
    memmove(mem, mem + header,
            len - header); /* the data is the allocation, as lt_idx_free expects */
    idx.data = mem;
    *out = idx;
    return true;
}

lt_status lt_idx_read(const char *path, lt_idx_t *out) {
    if (!out) return lt_set_error(LT_ERR_INVALID_ARG, "lt_idx_read: out is NULL");
    memset(out, 0, sizeof *out);
    if (!path) return lt_set_error(LT_ERR_INVALID_ARG, "lt_idx_read: path is NULL");
    uint8_t *in;
    size_t in_len, len;
    lt_status s = read_file(path, &in, &in_len);
    if (s != LT_OK) return s;
    bool gz = in_len >= 2 && in[0] == 0x1f && in[1] == 0x8b;
    if (!gz && parse_whole(path, in, in_len, out)) return LT_OK; /* in is out->data now */
    uint8_t *mem = gz ? inflate_whole(in, in_len, &len) : NULL;
    if (mem && parse_whole(path, mem, len, out)) {
        free(in);
        return LT_OK;
    }
    free(mem);
    s = read_stream(path, in, in_len, gz, out);
    free(in);
    if (s != LT_OK) lt_idx_free(out);
    return s;
}

void lt_idx_free(lt_idx_t *idx) {
    if (!idx) return;
    free(idx->data);
    memset(idx, 0, sizeof *idx);
}
