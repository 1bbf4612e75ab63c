/* safetensors reading: map the file, parse the JSON header with jansson, check every
 * tensor's byte range and the checksum (when the writer left one) before anyone looks
 * at the data. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include "lt_impl.h"

/* The JSON header is bounded like the reference implementation's (100 MB). */
#define ST_MAX_HEADER (100u << 20)

struct lt_st_file {
    char *path;
    const uint8_t *map;
    size_t size;
    json_t *header;
    json_t *meta;          /* borrowed from header; NULL if absent */
    lt_st_tensor *tensors; /* sorted by data offset */
    int64_t count;
};

static const struct {
    const char *name;
    size_t size;
} dtypes[LT_ST_DTYPE_COUNT] = {
    [LT_ST_F32] = {"F32", 4},   [LT_ST_F64] = {"F64", 8},   [LT_ST_F16] = {"F16", 2},
    [LT_ST_BF16] = {"BF16", 2}, [LT_ST_I64] = {"I64", 8},   [LT_ST_I32] = {"I32", 4},
    [LT_ST_U8] = {"U8", 1},     [LT_ST_BOOL] = {"BOOL", 1},
};

const char *lt_st_dtype_name(lt_st_dtype dt) {
    return (unsigned)dt < LT_ST_DTYPE_COUNT ? dtypes[dt].name : "?";
}

/* detail comes from the file (or is a constant): it is made printable. */
static lt_status corrupt(const lt_st_file_t *f, const char *fmt, const char *detail) {
    char why[512], safe[256];
    snprintf(why, sizeof why, fmt, lt_escape_text(detail, safe, sizeof safe));
    return lt_set_error(LT_ERR_FORMAT, "%s: not a valid safetensors file: %s", f->path, why);
}

static lt_status parse_shape(const lt_st_file_t *f, const char *name, json_t *shape,
                             lt_st_tensor *t) {
    if (!json_is_array(shape) || json_array_size(shape) > LT_MAX_DIMS)
        return corrupt(f, "tensor '%s' has no shape array of at most 8 sizes", name);
    t->ndim = (int)json_array_size(shape);
    t->numel = 1;
    for (int i = 0; i < t->ndim; i++) {
        json_t *d = json_array_get(shape, (size_t)i);
        if (!json_is_integer(d) || json_integer_value(d) < 0 ||
            (json_integer_value(d) > 0 && t->numel > (INT64_MAX / 8) / json_integer_value(d)))
            return corrupt(f, "tensor '%s' has an invalid size in its shape", name);
        t->shape[i] = json_integer_value(d);
        t->numel *= t->shape[i];
    }
    return LT_OK;
}

static lt_status parse_tensor(lt_st_file_t *f, const char *name, json_t *v, const uint8_t *data,
                              size_t data_size, lt_st_tensor *t) {
    if (!json_is_object(v)) return corrupt(f, "entry '%s' is not an object", name);
    const char *dt = json_string_value(json_object_get(v, "dtype"));
    t->dtype = LT_ST_DTYPE_COUNT;
    for (int i = 0; dt && i < LT_ST_DTYPE_COUNT; i++)
        if (!strcmp(dt, dtypes[i].name)) t->dtype = (lt_st_dtype)i;
    if (t->dtype == LT_ST_DTYPE_COUNT)
        return corrupt(f, "tensor '%s' has a missing or unsupported dtype", name);
    lt_status s = parse_shape(f, name, json_object_get(v, "shape"), t);
    if (s != LT_OK) return s;
    json_t *off = json_object_get(v, "data_offsets");
    json_t *b = json_array_get(off, 0), *e = json_array_get(off, 1);
    if (!json_is_array(off) || json_array_size(off) != 2 || !json_is_integer(b) ||
        !json_is_integer(e))
        return corrupt(f, "tensor '%s' has no [begin, end] data_offsets", name);
    json_int_t begin = json_integer_value(b), end = json_integer_value(e);
    if (begin < 0 || end < begin || (uint64_t)end > data_size)
        return corrupt(f, "the bytes of tensor '%s' lie outside the file (truncated?)", name);
    t->nbytes = (size_t)(end - begin);
    if (t->nbytes != (size_t)t->numel * dtypes[t->dtype].size)
        return corrupt(f, "tensor '%s': its byte range does not match its dtype and shape", name);
    t->name = name;
    t->data = data + begin;
    return LT_OK;
}

/* Empty tensors first among those starting at one offset, so that an empty tensor
 * next to a full one is not taken for an overlap, whatever the header's order. */
static int by_offset(const void *a, const void *b) {
    const lt_st_tensor *s = a, *t = b;
    const uint8_t *x = s->data, *y = t->data;
    if (x != y) return x < y ? -1 : 1;
    return s->nbytes < t->nbytes ? -1 : s->nbytes > t->nbytes;
}

static lt_status parse_header(lt_st_file_t *f, size_t header_len) {
    json_error_t err;
    f->header = json_loadb((const char *)f->map + 8, header_len, JSON_REJECT_DUPLICATES, &err);
    if (!f->header || !json_is_object(f->header))
        return corrupt(f, "its JSON header does not parse (%s)",
                       f->header ? "not an object" : err.text);
    size_t data_size = f->size - 8 - header_len, n = json_object_size(f->header);
    if (!(f->tensors = calloc(n + 1, sizeof *f->tensors)))
        return lt_set_error(LT_ERR_OOM, "%s: out of memory", f->path);
    const char *key;
    json_t *v;
    json_object_foreach(f->header, key, v) {
        if (!strcmp(key, "__metadata__")) {
            f->meta = v;
            continue;
        }
        lt_status s =
            parse_tensor(f, key, v, f->map + 8 + header_len, data_size, &f->tensors[f->count]);
        if (s != LT_OK) return s;
        f->count++;
    }
    qsort(f->tensors, (size_t)f->count, sizeof *f->tensors, by_offset);
    for (int64_t i = 1; i < f->count; i++)
        if ((const uint8_t *)f->tensors[i].data <
            (const uint8_t *)f->tensors[i - 1].data + f->tensors[i - 1].nbytes)
            return corrupt(f, "the bytes of tensor '%s' overlap another tensor's",
                           f->tensors[i].name);
    return LT_OK;
}

/* ---- checksum ------------------------------------------------------------------- */

#define ST_CHECKSUM_KEY "checksum"
#define ST_CHECKSUM_LEN 22 /* "xxh64:" and 16 digits */

/* Exactly the writer's spelling, lowercase digits only: a bit flip that turns a digit
 * into its uppercase twin must not read as the same number. */
static bool is_checksum(const char *v) {
    if (!v || strncmp(v, "xxh64:", 6) != 0 || strlen(v) != ST_CHECKSUM_LEN) return false;
    for (int i = 6; i < ST_CHECKSUM_LEN; i++)
        if (!((v[i] >= '0' && v[i] <= '9') || (v[i] >= 'a' && v[i] <= 'f'))) return false;
    return true;
}

/* A metadata key one byte away from "checksum" holding a checksum is a damaged file,
 * not one without a checksum: without this, a flipped key would skip verification. */
static lt_status check_no_stray_checksum(const lt_st_file_t *f) {
    const char *key;
    json_t *v;
    json_object_foreach(f->meta, key, v) {
        int diff = 0;
        for (int i = 0; strlen(key) == strlen(ST_CHECKSUM_KEY) && key[i]; i++)
            diff += key[i] != ST_CHECKSUM_KEY[i];
        if (diff == 1 && is_checksum(json_string_value(v)))
            return corrupt(f, "its metadata key '%s' holds a checksum (a damaged 'checksum'?)",
                           key);
    }
    return LT_OK;
}

/* XXH64 of the whole map with the 16 digits at `digits` read as '0'. */
static uint64_t file_hash(const lt_st_file_t *f, size_t digits) {
    XXH64_state_t *h = XXH64_createState();
    if (!h) return 0; /* out of memory: reads as a mismatch, never as a pass */
    XXH64_reset(h, 0);
    XXH64_update(h, f->map, digits);
    XXH64_update(h, "0000000000000000", 16);
    XXH64_update(h, f->map + digits + 16, f->size - digits - 16);
    uint64_t sum = XXH64_digest(h);
    XXH64_freeState(h);
    return sum;
}

static lt_status verify_checksum(const lt_st_file_t *f, size_t header_len) {
    json_t *v = json_object_get(f->meta, ST_CHECKSUM_KEY);
    if (!v) return f->meta ? check_no_stray_checksum(f) : LT_OK;
    const char *stored = json_string_value(v);
    if (!is_checksum(stored))
        return corrupt(f, "its checksum '%s' is not xxh64:<16 lowercase hex digits>",
                       stored ? stored : "(not a string)");
    /* The writer hashed its own text, so find the digits in the raw bytes. */
    char quoted[ST_CHECKSUM_LEN + 3];
    snprintf(quoted, sizeof quoted, "\"%s\"", stored);
    const uint8_t *at = memmem(f->map + 8, header_len, quoted, ST_CHECKSUM_LEN + 2);
    if (!at) return corrupt(f, "its checksum %s is not written as a plain JSON string", stored);
    uint64_t want = strtoull(stored + 6, NULL, 16);
    uint64_t got = file_hash(f, (size_t)(at - f->map) + 7);
    if (got != want)
        return lt_set_error(LT_ERR_FORMAT,
                            "%s: checksum mismatch (stored %s, computed xxh64:%016llx): "
                            "the file is corrupt or was modified; use another checkpoint",
                            f->path, stored, (unsigned long long)got);
    return LT_OK;
}

/* ---- opening ---------------------------------------------------------------------- */

static lt_status map_file(lt_st_file_t *f) {
    int fd = open(f->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return lt_set_error(LT_ERR_IO, "%s: cannot open: %s", f->path, strerror(errno));
    struct stat st;
    lt_status s = LT_OK;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        s = lt_set_error(LT_ERR_IO, "%s: not a regular file", f->path);
    } else if (st.st_size < 8) {
        s = corrupt(f, "%s", "it is shorter than the 8-byte header length");
    } else {
        f->size = (size_t)st.st_size;
        void *m = mmap(NULL, f->size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (m == MAP_FAILED)
            s = lt_set_error(LT_ERR_IO, "%s: cannot map: %s", f->path, strerror(errno));
        else
            f->map = m;
    }
    close(fd);
    return s;
}

lt_status lt_st_open(const char *path, lt_st_file_t **out) {
    *out = NULL;
    if (!path) return lt_set_error(LT_ERR_INVALID_ARG, "lt_st_open: path is NULL");
    lt_st_file_t *f = calloc(1, sizeof *f);
    if (!f || !(f->path = strdup(path))) {
        free(f);
        return lt_set_error(LT_ERR_OOM, "out of memory opening %s", path);
    }
    lt_status s = map_file(f);
    if (s == LT_OK) {
        uint64_t len = 0;
        for (int i = 7; i >= 0; i--) len = len << 8 | f->map[i];
        if (len > ST_MAX_HEADER || len > f->size - 8) {
            char detail[96];
            snprintf(detail, sizeof detail, "%llu bytes, the file has %zu after it",
                     (unsigned long long)len, f->size - 8);
            s = corrupt(f, "its header length runs past the end of the file (%s)", detail);
        } else {
            s = parse_header(f, (size_t)len);
            if (s == LT_OK) s = verify_checksum(f, (size_t)len);
        }
    }
    if (s != LT_OK) {
        lt_st_close(f);
        return s;
    }
    *out = f;
    return LT_OK;
}

void lt_st_close(lt_st_file_t *f) {
    if (!f) return;
    if (f->map) munmap((void *)f->map, f->size);
    json_decref(f->header);
    free(f->tensors);
    free(f->path);
    free(f);
}

int64_t lt_st_count(const lt_st_file_t *f) { return f ? f->count : 0; }

const lt_st_tensor *lt_st_at(const lt_st_file_t *f, int64_t i) {
    return f && i >= 0 && i < f->count ? &f->tensors[i] : NULL;
}

const lt_st_tensor *lt_st_find(const lt_st_file_t *f, const char *name) {
    for (int64_t i = 0; f && name && i < f->count; i++)
        if (!strcmp(f->tensors[i].name, name)) return &f->tensors[i];
    return NULL;
}

const char *lt_st_meta(const lt_st_file_t *f, const char *key) {
    return f && f->meta && key ? json_string_value(json_object_get(f->meta, key)) : NULL;
}

lt_tensor_t *lt_st_to_tensor(lt_arena_t *a, const lt_st_tensor *t) {
    if (!t) return NULL;
    if (t->dtype != LT_ST_F32 && t->dtype != LT_ST_I64) {
        char name[256];
        lt_set_error(LT_ERR_DTYPE, "tensor '%s' is %s; only F32 and I64 become lt tensors",
                     lt_escape_text(t->name, name, sizeof name), lt_st_dtype_name(t->dtype));
        return NULL;
    }
    return lt_from_host(a, t->dtype == LT_ST_F32 ? LT_F32 : LT_I64, t->ndim, t->shape, t->data);
}
