/* safetensors writing: tensors are copied into one growing buffer in the order added;
 * save builds the JSON header, checksums header and data with XXH64, and replaces the
 * target file atomically so a crash or a full disk never leaves half a checkpoint.
 *
 * File layout (as the safetensors spec and the Python library write it):
 *   [8]  header length n, little-endian
 *   [n]  JSON header, padded with spaces so the data starts 8-byte aligned
 *   [..] tensor bytes, back to back (no gaps: Python refuses files with gaps) */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include "lt_impl.h"

#define ST_CHECKSUM_KEY "checksum"
/* What the header holds while it is hashed; the 16 zeros become the digest. */
#define ST_PLACEHOLDER "\"xxh64:0000000000000000\""
#define ST_DIGITS_AT 7 /* offset of the digits in ST_PLACEHOLDER */

/* Bytes per element, indexed like the reader's table (lt_st_dtype). */
static const size_t dtype_size[LT_ST_DTYPE_COUNT] = {
    [LT_ST_F32] = 4, [LT_ST_F64] = 8, [LT_ST_F16] = 2, [LT_ST_BF16] = 2,
    [LT_ST_I64] = 8, [LT_ST_I32] = 4, [LT_ST_U8] = 1,  [LT_ST_BOOL] = 1,
};

typedef struct st_entry {
    char *name;
    lt_st_dtype dtype;
    int ndim;
    int64_t shape[LT_MAX_DIMS];
    size_t begin, end; /* byte range in data */
} st_entry;

struct lt_st_writer {
    json_t *meta;  /* __metadata__ strings, in the order first set */
    json_t *names; /* name -> index into entries, to refuse duplicates quickly */
    st_entry *entries;
    size_t count, cap;
    uint8_t *data; /* every tensor's bytes, back to back */
    size_t data_len, data_cap;
};

/* ---- building ------------------------------------------------------------------- */

lt_st_writer_t *lt_st_writer_new(void) {
    lt_st_writer_t *w = calloc(1, sizeof *w);
    if (w && (w->meta = json_object()) && (w->names = json_object())) return w;
    lt_st_writer_free(w);
    lt_set_error(LT_ERR_OOM, "out of host memory creating a safetensors writer");
    return NULL;
}

void lt_st_writer_free(lt_st_writer_t *w) {
    if (!w) return;
    for (size_t i = 0; i < w->count; i++) free(w->entries[i].name);
    free(w->entries);
    free(w->data);
    json_decref(w->meta);
    json_decref(w->names);
    free(w);
}

/* Grow *buf (of *cap elements of size elem) to hold need elements, doubling. */
static bool grow(void **buf, size_t *cap, size_t need, size_t elem) {
    if (need <= *cap) return true;
    size_t n = *cap ? *cap : 16;
    while (n < need) n = n > SIZE_MAX / 2 ? need : n * 2;
    if (n > SIZE_MAX / elem) return false;
    void *p = realloc(*buf, n * elem);
    if (!p) return false;
    *buf = p;
    *cap = n;
    return true;
}

/* numel * dtype size of a shape, or an error naming the tensor. */
static lt_status shape_bytes(const char *name, lt_st_dtype dt, int ndim, const int64_t *shape,
                             size_t *out) {
    if (ndim < 0 || ndim > LT_MAX_DIMS || (ndim > 0 && !shape))
        return lt_set_error(LT_ERR_INVALID_ARG,
                            "lt_st_writer_add: tensor '%s' has %d dimensions; "
                            "give 0 to %d sizes",
                            name, ndim, LT_MAX_DIMS);
    uint64_t numel = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0 || (shape[i] > 0 && numel > (INT64_MAX / 8) / (uint64_t)shape[i]))
            return lt_set_error(LT_ERR_INVALID_ARG,
                                "lt_st_writer_add: tensor '%s' has an invalid "
                                "size %lld in dimension %d",
                                name, (long long)shape[i], i);
        numel *= (uint64_t)shape[i];
    }
    *out = (size_t)numel * dtype_size[dt];
    return LT_OK;
}

static lt_status check_add(const lt_st_writer_t *w, const char *name, lt_st_dtype dt, int ndim,
                           const int64_t *shape, const void *data, size_t nbytes) {
    if (!w || !name || (!data && nbytes))
        return lt_set_error(LT_ERR_INVALID_ARG,
                            "lt_st_writer_add: the writer, name or data is NULL");
    if (!strcmp(name, "__metadata__"))
        return lt_set_error(LT_ERR_INVALID_ARG, "lt_st_writer_add: '__metadata__' is reserved by "
                                                "the format; rename the tensor");
    if ((unsigned)dt >= LT_ST_DTYPE_COUNT)
        return lt_set_error(LT_ERR_DTYPE, "lt_st_writer_add: tensor '%s' has unknown dtype %d",
                            name, (int)dt);
    if (json_object_get(w->names, name))
        return lt_set_error(LT_ERR_INVALID_ARG,
                            "lt_st_writer_add: tensor '%s' was already added; "
                            "tensor names must be unique",
                            name);
    size_t want = 0;
    lt_status s = shape_bytes(name, dt, ndim, shape, &want);
    if (s == LT_OK && want != nbytes)
        return lt_set_error(LT_ERR_SHAPE,
                            "lt_st_writer_add: tensor '%s' is %zu bytes but its "
                            "%s shape needs %zu",
                            name, nbytes, lt_st_dtype_name(dt), want);
    return s;
}

lt_status lt_st_writer_add(lt_st_writer_t *w, const char *name, lt_st_dtype dt, int ndim,
                           const int64_t *shape, const void *data, size_t nbytes) {
    lt_status s = check_add(w, name, dt, ndim, shape, data, nbytes);
    if (s != LT_OK) return s;
    if (nbytes > SIZE_MAX - w->data_len ||
        !grow((void **)&w->entries, &w->cap, w->count + 1, sizeof *w->entries) ||
        !grow((void **)&w->data, &w->data_cap, w->data_len + nbytes, 1))
        return lt_set_error(LT_ERR_OOM,
                            "lt_st_writer_add: out of host memory for tensor '%s' "
                            "(%zu bytes)",
                            name, nbytes);
    st_entry *e = &w->entries[w->count];
    *e = (st_entry){.dtype = dt, .ndim = ndim, .begin = w->data_len, .end = w->data_len + nbytes};
    if (ndim) memcpy(e->shape, shape, (size_t)ndim * sizeof *shape);
    /* json_object_set_new fails on a name that is not UTF-8, which JSON cannot hold. */
    if (!(e->name = strdup(name)) ||
        json_object_set_new(w->names, name, json_integer((json_int_t)w->count)) != 0) {
        free(e->name);
        return lt_set_error(LT_ERR_INVALID_ARG,
                            "lt_st_writer_add: tensor name '%s' is not "
                            "valid UTF-8 (or out of memory)",
                            name);
    }
    if (nbytes) memcpy(w->data + w->data_len, data, nbytes);
    w->data_len += nbytes;
    w->count++;
    return LT_OK;
}

lt_status lt_st_writer_meta(lt_st_writer_t *w, const char *key, const char *value) {
    if (!w || !key || !value)
        return lt_set_error(LT_ERR_INVALID_ARG,
                            "lt_st_writer_meta: the writer, key or value is NULL");
    if (!strcmp(key, ST_CHECKSUM_KEY))
        return lt_set_error(LT_ERR_INVALID_ARG,
                            "lt_st_writer_meta: '%s' is set by the writer "
                            "itself; use another key",
                            key);
    json_t *v = json_string(value);
    if (!v || json_object_set_new(w->meta, key, v) != 0)
        return lt_set_error(LT_ERR_INVALID_ARG,
                            "lt_st_writer_meta: key '%s' or its value is "
                            "not valid UTF-8 (or out of memory)",
                            key);
    return LT_OK;
}

/* ---- serializing ------------------------------------------------------------------ */

/* {"__metadata__": {"checksum": placeholder, ...}, tensors...} as compact JSON. The
 * checksum comes first so it is the first "xxh64:..." string in the text, which is
 * where the reader looks for it. */
static char *header_json(const lt_st_writer_t *w) {
    json_t *root = json_object(), *meta = json_object();
    bool ok =
        root && meta &&
        json_object_set_new(meta, ST_CHECKSUM_KEY, json_string("xxh64:0000000000000000")) == 0 &&
        json_object_update(meta, w->meta) == 0 && json_object_set(root, "__metadata__", meta) == 0;
    for (size_t i = 0; ok && i < w->count; i++) {
        const st_entry *e = &w->entries[i];
        json_t *shape = json_array();
        for (int d = 0; shape && d < e->ndim; d++)
            if (json_array_append_new(shape, json_integer(e->shape[d])) != 0) ok = false;
        json_t *t = json_pack("{s:s, s:o, s:[I, I]}", "dtype", lt_st_dtype_name(e->dtype), "shape",
                              shape, "data_offsets", (json_int_t)e->begin, (json_int_t)e->end);
        ok = ok && t && json_object_set_new(root, e->name, t) == 0;
    }
    char *text = ok ? json_dumps(root, JSON_COMPACT) : NULL;
    json_decref(meta);
    json_decref(root);
    return text;
}

/* The file's first bytes: length, header (checksum digits still '0'), padding. */
static uint8_t *file_head(const lt_st_writer_t *w, size_t *len, size_t *digits_at) {
    char *json = header_json(w);
    if (!json) return NULL;
    size_t n = strlen(json), padded = n + (8 - n % 8) % 8;
    const char *ph = strstr(json, ST_PLACEHOLDER);
    size_t at = ph ? (size_t)(ph - json) : 0;
    uint8_t *head = ph ? malloc(8 + padded) : NULL;
    if (head) {
        for (int i = 0; i < 8; i++) head[i] = (uint8_t)((uint64_t)padded >> (8 * i));
        memcpy(head + 8, json, n);
        memset(head + 8 + n, ' ', padded - n);
        *len = 8 + padded;
        *digits_at = 8 + at + ST_DIGITS_AT;
    }
    free(json);
    return head;
}

/* Hash head + data with the digits as '0' (they are, still), then write the digits. */
static bool stamp_checksum(uint8_t *head, size_t head_len, size_t digits_at, const uint8_t *data,
                           size_t data_len) {
    XXH64_state_t *h = XXH64_createState();
    if (!h) return false;
    XXH64_reset(h, 0);
    XXH64_update(h, head, head_len);
    if (data_len) XXH64_update(h, data, data_len);
    char hex[17];
    snprintf(hex, sizeof hex, "%016llx", (unsigned long long)XXH64_digest(h));
    XXH64_freeState(h);
    memcpy(head + digits_at, hex, 16);
    return true;
}

/* ---- atomic replace --------------------------------------------------------------- */

/* Write all n bytes, across short writes and signals. False with errno set. */
static bool write_all(int fd, const uint8_t *p, size_t n) {
    while (n > 0) {
        ssize_t k = write(fd, p, n > (1u << 30) ? (1u << 30) : n);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) {
            if (k == 0) errno = EIO; /* no progress and no reason: do not spin */
            return false;
        }
        p += k;
        n -= (size_t)k;
    }
    return true;
}

/* The advice that goes with a failed write, by errno. */
static const char *write_hint(int err) {
    switch (err) {
    case ENOSPC:
    case EDQUOT: return "free disk space or choose another folder";
    case EFBIG: return "raise the file size limit (ulimit -f) or choose another folder";
    case ENOENT:
    case ENOTDIR: return "create the directory first or choose another folder";
    case EACCES:
    case EPERM:
    case EROFS: return "make the directory writable or choose another folder";
    case EISDIR: return "the path is a directory: remove it or choose another file name";
    default: return "check the disk, or choose another folder";
    }
}

/* One error for every way a save fails; the temp file is already gone. */
static lt_status save_error(const char *path, int err) {
    struct stat st;
    const char *kept =
        stat(path, &st) == 0 ? "the previous file is unchanged" : "nothing was created";
    return lt_set_error(LT_ERR_IO, "writing %s: %s (%s); %s", path, strerror(err), kept,
                        write_hint(err));
}

/* "<dir>/.<base>.tmp.<pid>" and "<dir>" for path ("." when path has no '/'): the temp
 * file must be in path's directory for rename to be atomic. False when out of memory. */
static bool temp_names(const char *path, char **tmp, char **dir) {
    const char *slash = strrchr(path, '/');
    size_t prefix = slash ? (size_t)(slash - path) + 1 : 0, n = strlen(path) + 32;
    *dir = slash ? strndup(path, prefix > 1 ? prefix - 1 : 1) : strdup(".");
    *tmp = malloc(n);
    if (!*dir || !*tmp) return false;
    snprintf(*tmp, n, "%.*s.%s.tmp.%ld", (int)prefix, path, path + prefix, (long)getpid());
    return true;
}

/* Create tmp exclusively. A file of that name can only be a leftover of a crashed
 * process that had our pid (pids repeat in containers), so it is replaced once. */
static int open_temp(const char *tmp) {
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0 && errno == EEXIST && unlink(tmp) == 0)
        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    return fd;
}

/* Write head + data to tmp and make them durable; errno is kept on failure. */
static bool write_temp(int fd, const uint8_t *head, size_t head_len, const uint8_t *data,
                       size_t data_len) {
    if (!write_all(fd, head, head_len) || !write_all(fd, data, data_len)) return false;
    while (fsync(fd) != 0)
        if (errno != EINTR) return false;
    return true;
}

/* Make the rename itself durable. Filesystems that cannot sync a directory say EINVAL;
 * there is nothing more to do on those. */
static bool sync_dir(const char *dir) {
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return false;
    bool ok = fsync(fd) == 0 || errno == EINVAL;
    int err = errno;
    close(fd);
    errno = err;
    return ok;
}

static lt_status replace_file(const char *path, const uint8_t *head, size_t head_len,
                              const uint8_t *data, size_t data_len) {
    char *tmp = NULL, *dir = NULL;
    lt_status s = LT_OK;
    if (!temp_names(path, &tmp, &dir)) {
        s = lt_set_error(LT_ERR_OOM, "writing %s: out of host memory", path);
    } else {
        int fd = open_temp(tmp);
        bool ok = fd >= 0 && write_temp(fd, head, head_len, data, data_len);
        int err = errno;
        if (fd >= 0 && close(fd) != 0 && ok) ok = false, err = errno;
        if (ok && rename(tmp, path) != 0) ok = false, err = errno;
        if (!ok) {
            if (fd >= 0) unlink(tmp);
            s = save_error(path, err);
        } else if (!sync_dir(dir)) {
            s = lt_set_error(LT_ERR_IO,
                             "writing %s: the file was written but its directory %s "
                             "could not be synced: %s; check the disk",
                             path, dir, strerror(errno));
        }
    }
    free(tmp);
    free(dir);
    return s;
}

/* A file size limit (ulimit -f) makes write() raise SIGXFSZ, which kills the process by
 * default; liblt changes no signal disposition, so hosts should ignore SIGXFSZ (lthost
 * does): write() then fails with EFBIG, which is reported like a full disk. */
lt_status lt_st_writer_save(lt_st_writer_t *w, const char *path) {
    if (!w || !path || !*path)
        return lt_set_error(LT_ERR_INVALID_ARG,
                            "lt_st_writer_save: the writer or path is NULL or empty");
    size_t head_len = 0, digits_at = 0;
    uint8_t *head = file_head(w, &head_len, &digits_at);
    if (!head || !stamp_checksum(head, head_len, digits_at, w->data, w->data_len)) {
        free(head);
        return lt_set_error(LT_ERR_OOM, "writing %s: out of host memory for the header", path);
    }
    lt_status s = replace_file(path, head, head_len, w->data, w->data_len);
    free(head);
    return s;
}
