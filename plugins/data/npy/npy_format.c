/* .npy and .npz parsing: see npy_format.h. Layouts (numpy's format.py, PKWARE's
 * APPNOTE): .npy = "\x93NUMPY", version, header length (u16 in 1.0, u32 in 2.0/3.0),
 * a Python dict literal {'descr', 'fortran_order', 'shape'}, then the data. An .npz is
 * a zip of .npy members; numpy writes them with zip64 extra fields. */
#include "npy_format.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define NPY_MAX_HEADER 65536
#define NPY_FIX "(write it with numpy.save / numpy.savez)"

static uint32_t rd16(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8; }
static uint32_t rd32(const uint8_t *p) { return rd16(p) | rd16(p + 2) << 16; }
static uint64_t rd64(const uint8_t *p) { return rd32(p) | (uint64_t)rd32(p + 4) << 32; }

static lt_status bad(const char *where, size_t off, const char *what) {
    return lt_set_error(LT_ERR_FORMAT, "%s: at offset %zu: %s %s", where, off, what, NPY_FIX);
}

/* ---- the .npy header ------------------------------------------------------------------ */

/* The value after 'key': in the dict text, or NULL. */
static const char *dict_value(const char *dict, const char *key) {
    char pat[32];
    snprintf(pat, sizeof pat, "'%s':", key);
    const char *p = strstr(dict, pat);
    if (!p) return NULL;
    for (p += strlen(pat); *p == ' '; p++) {}
    return p;
}

static lt_status parse_descr(const char *v, const char *where, npy_array *a) {
    static const struct {
        const char *descr;
        char kind;
        int size;
    } known[] = {{"'<f4'", 'f', 4}, {"'<f8'", 'f', 8}, {"'<i8'", 'i', 8}, {"'<i4'", 'i', 4},
                 {"'|u1'", 'u', 1}, {"'<u1'", 'u', 1}, {"'<f2'", 'f', 2}};
    for (size_t i = 0; v && i < sizeof known / sizeof *known; i++)
        if (!strncmp(v, known[i].descr, strlen(known[i].descr))) {
            a->kind = known[i].kind, a->itemsize = known[i].size;
            return LT_OK;
        }
    const char *q = v && *v == '\'' ? strchr(v + 1, '\'') : NULL;
    int n = q && q - v < 40 ? (int)(q - v) + 1 : 6; /* the quoted descr, or its start */
    return lt_set_error(LT_ERR_FORMAT,
                        "%s: dtype %.*s is not supported; save float32, float64, float16, int64, "
                        "int32 or uint8, little-endian (a.astype('<f4'))",
                        where, n, v ? v : "(none)");
}

/* 'shape': (d0, d1, ...) with every product checked. */
static lt_status parse_shape(const char *v, const char *where, npy_array *a) {
    if (!v || *v != '(')
        return lt_set_error(LT_ERR_FORMAT, "%s: no shape in the header %s", where, NPY_FIX);
    a->ndim = 0;
    a->count = 1;
    for (v++;;) {
        while (*v == ' ' || *v == ',') v++;
        if (*v == ')') break;
        char *end;
        long long d = strtoll(v, &end, 10);
        if (end == v || d < 0 || a->ndim == LT_MAX_DIMS)
            return lt_set_error(LT_ERR_FORMAT,
                                "%s: the shape in the header is not a tuple of at most %d sizes "
                                ">= 0 %s",
                                where, LT_MAX_DIMS, NPY_FIX);
        if (__builtin_mul_overflow(a->count, (int64_t)d, &a->count))
            return lt_set_error(LT_ERR_FORMAT, "%s: the shape's element count overflows", where);
        a->shape[a->ndim++] = d;
        v = end;
    }
    if (a->ndim == 0)
        return lt_set_error(LT_ERR_FORMAT,
                            "%s: a 0-d array; the first dimension must count the samples", where);
    return LT_OK;
}

static lt_status parse_dict(const char *dict, const char *where, npy_array *a) {
    const char *fo = dict_value(dict, "fortran_order");
    if (!fo || (strncmp(fo, "False", 5) && strncmp(fo, "True", 4)))
        return lt_set_error(LT_ERR_FORMAT, "%s: no fortran_order in the header %s", where, NPY_FIX);
    if (!strncmp(fo, "True", 4))
        return lt_set_error(LT_ERR_FORMAT,
                            "%s: fortran_order is True (column-major); save the array in C "
                            "order: numpy.save(path, numpy.ascontiguousarray(a))",
                            where);
    lt_status s = parse_descr(dict_value(dict, "descr"), where, a);
    return s == LT_OK ? parse_shape(dict_value(dict, "shape"), where, a) : s;
}

lt_status npy_parse(const uint8_t *bytes, size_t len, const char *where, npy_array *a) {
    snprintf(a->where, sizeof a->where, "%s", where);
    if (len < 10 || memcmp(bytes, "\x93NUMPY", 6))
        return bad(where, 0, "not a .npy file (no \\x93NUMPY magic)");
    uint8_t major = bytes[6];
    if (major < 1 || major > 3) return bad(where, 6, "unknown .npy format version");
    size_t start = major == 1 ? 10 : 12;
    if (len < start) return bad(where, len, "truncated in the header");
    size_t hlen = major == 1 ? rd16(bytes + 8) : rd32(bytes + 8);
    if (hlen > NPY_MAX_HEADER) return bad(where, 8, "a header longer than 64 KiB");
    if (hlen > len - start) return bad(where, len, "truncated in the header");
    char dict[NPY_MAX_HEADER + 1];
    memcpy(dict, bytes + start, hlen);
    dict[hlen] = '\0';
    if (dict[0] != '{' || strlen(dict) != hlen)
        return bad(where, start, "the header is not a dict");
    lt_status s = parse_dict(dict, where, a);
    if (s != LT_OK) return s;
    size_t data = start + hlen, want;
    if (__builtin_mul_overflow((size_t)a->count, (size_t)a->itemsize, &want))
        return lt_set_error(LT_ERR_FORMAT, "%s: the shape's byte count overflows", where);
    if (want != len - data)
        return lt_set_error(LT_ERR_FORMAT,
                            "%s: the header's shape needs %zu data bytes from offset %zu, the "
                            "file has %zu (%s) %s",
                            where, want, data, len - data,
                            want > len - data ? "truncated" : "trailing bytes", NPY_FIX);
    a->data = bytes + data;
    return LT_OK;
}

/* ---- .npz: the zip's central directory -------------------------------------------- */

typedef struct zip_entry {
    uint64_t csize, usize, offset;
    uint32_t crc;
    uint16_t method, flags;
} zip_entry;

/* The central directory's offset and entry count from the end record (zip64 if needed). */
static lt_status find_directory(const uint8_t *b, size_t len, const char *path, uint64_t *cd,
                                uint64_t *count) {
    if (len < 22) return bad(path, len, "not a zip archive (too short)");
    size_t lo = len - 22 > 65535 ? len - 22 - 65535 : 0; /* the comment is at most 64 KiB */
    for (size_t e = len - 22 + 1; e-- > lo;) {
        if (rd32(b + e) != 0x06054b50) continue;
        *cd = rd32(b + e + 16), *count = rd16(b + e + 10);
        if (*cd != 0xffffffffu && *count != 0xffff) return LT_OK;
        if (e < 20 || rd32(b + e - 20) != 0x07064b50) return bad(path, e, "no zip64 end locator");
        uint64_t z = rd64(b + e - 12);
        if (len < 56 || z > len - 56 || rd32(b + z) != 0x06064b50)
            return bad(path, e - 12, "no zip64 end record");
        *cd = rd64(b + z + 48), *count = rd64(b + z + 32);
        return LT_OK;
    }
    return bad(path, len, "not a zip archive (no end of central directory)");
}

/* zip64 extra field: 64-bit values for the fields that are 0xffffffff, in this order. */
static void read_zip64(const uint8_t *x, size_t n, zip_entry *e) {
    for (size_t i = 0; i + 4 <= n;) {
        uint32_t id = rd16(x + i), sz = rd16(x + i + 2);
        const uint8_t *p = x + i + 4, *end = x + i + 4 + sz;
        if (end > x + n) return;
        if (id == 1) {
            if (e->usize == 0xffffffffu && p + 8 <= end) e->usize = rd64(p), p += 8;
            if (e->csize == 0xffffffffu && p + 8 <= end) e->csize = rd64(p), p += 8;
            if (e->offset == 0xffffffffu && p + 8 <= end) e->offset = rd64(p);
        }
        i += 4 + sz;
    }
}

/* The central directory entry named `want`. */
static lt_status find_entry(const uint8_t *b, size_t len, const char *path, const char *want,
                            zip_entry *out) {
    uint64_t cd = 0, count = 0;
    lt_status s = find_directory(b, len, path, &cd, &count);
    size_t wlen = strlen(want);
    for (uint64_t i = 0, p = cd; s == LT_OK && i < count; i++) {
        if (p > len || len - p < 46 || rd32(b + p) != 0x02014b50)
            return bad(path, p, "a damaged zip central directory");
        size_t n = rd16(b + p + 28), x = rd16(b + p + 30), c = rd16(b + p + 32);
        if (len - p - 46 < n + x + c) return bad(path, p, "a damaged zip central directory");
        if (n == wlen && !memcmp(b + p + 46, want, n)) {
            *out = (zip_entry){.flags = (uint16_t)rd16(b + p + 8),
                               .method = (uint16_t)rd16(b + p + 10),
                               .crc = rd32(b + p + 16),
                               .csize = rd32(b + p + 20),
                               .usize = rd32(b + p + 24),
                               .offset = rd32(b + p + 42)};
            read_zip64(b + p + 46 + n, x, out);
            return LT_OK;
        }
        p += 46 + n + x + c;
    }
    return s == LT_OK ? lt_set_error(LT_ERR_FORMAT,
                                     "%s: no member %s; numpy.savez(path, %.*s=...) names it", path,
                                     want, (int)(wlen - 4), want)
                      : s;
}

/* Inflates a raw deflate stream of exactly e->usize bytes with e->crc. */
static lt_status inflate_member(const uint8_t *src, const zip_entry *e, const char *where,
                                uint8_t **out) {
    uint8_t *dst = malloc(e->usize ? e->usize : 1);
    if (!dst)
        return lt_set_error(LT_ERR_OOM, "%s: out of memory for %llu inflated bytes", where,
                            (unsigned long long)e->usize);
    z_stream z = {0};
    int r = inflateInit2(&z, -15);
    uint64_t in_left = e->csize, out_left = e->usize;
    const uint8_t *in = src;
    uint8_t *o = dst;
    while (r == Z_OK) {
        uInt ci = in_left > (1u << 30) ? 1u << 30 : (uInt)in_left;
        uInt co = out_left > (1u << 30) ? 1u << 30 : (uInt)out_left;
        z.next_in = (Bytef *)in, z.avail_in = ci, z.next_out = o, z.avail_out = co;
        r = inflate(&z, Z_NO_FLUSH);
        in += ci - z.avail_in, in_left -= ci - z.avail_in;
        o += co - z.avail_out, out_left -= co - z.avail_out;
        if (r == Z_OK && ci == z.avail_in && co == z.avail_out) r = Z_BUF_ERROR; /* no progress */
    }
    inflateEnd(&z);
    bool ok = r == Z_STREAM_END && out_left == 0 && crc32_z(0, dst, (size_t)e->usize) == e->crc;
    if (ok) return *out = dst, LT_OK;
    free(dst);
    return lt_set_error(LT_ERR_FORMAT, "%s: the deflated member is damaged (%s) %s", where,
                        r != Z_STREAM_END ? "a corrupt or truncated stream"
                        : out_left        ? "shorter than its size"
                                          : "CRC mismatch",
                        NPY_FIX);
}

lt_status npz_open_member(const uint8_t *b, size_t len, const char *path, const char *name,
                          npy_array *a) {
    char want[256], where[300];
    snprintf(want, sizeof want, "%s.npy", name);
    snprintf(where, sizeof where, "%s[%s]", path, want);
    zip_entry e = {0};
    lt_status s = find_entry(b, len, path, want, &e);
    if (s != LT_OK) return s;
    if (e.offset > len || len - e.offset < 30 || rd32(b + e.offset) != 0x04034b50)
        return bad(where, (size_t)e.offset, "no local zip header");
    uint64_t data = e.offset + 30 + rd16(b + e.offset + 26) + rd16(b + e.offset + 28);
    if (data > len || e.csize > len - data) return bad(where, (size_t)data, "truncated member");
    if (e.flags & 1)
        return lt_set_error(LT_ERR_FORMAT, "%s: encrypted; save it unencrypted", where);
    if (e.method == 0 && e.csize != e.usize)
        return bad(where, (size_t)data, "a stored member whose two sizes differ");
    if (e.method == 0) return npy_parse(b + data, (size_t)e.csize, where, a);
    if (e.method != 8)
        return lt_set_error(LT_ERR_FORMAT,
                            "%s: zip compression method %u; only stored (numpy.savez) and "
                            "deflated (numpy.savez_compressed) are read",
                            where, e.method);
    if ((s = inflate_member(b + data, &e, where, &a->owned)) != LT_OK) return s;
    if ((s = npy_parse(a->owned, (size_t)e.usize, where, a)) != LT_OK) npy_array_free(a);
    return s;
}

void npy_array_free(npy_array *a) {
    free(a->owned);
    a->owned = NULL;
    a->data = NULL;
}

/* ---- conversion --------------------------------------------------------------------- */

#define NPY_CONVERT(T, a, first, n, out)                                                           \
    do {                                                                                           \
        const uint8_t *src = (a)->data + (size_t)(first) * (size_t)(a)->itemsize;                  \
        switch ((a)->kind * 16 + (a)->itemsize) {                                                  \
        case 'f' * 16 + 4: NPY_LOOP(float, T, src, n, out); break;                                 \
        case 'f' * 16 + 8: NPY_LOOP(double, T, src, n, out); break;                                \
        case 'i' * 16 + 4: NPY_LOOP(int32_t, T, src, n, out); break;                               \
        case 'i' * 16 + 8: NPY_LOOP(int64_t, T, src, n, out); break;                               \
        case 'f' * 16 + 2: NPY_HALF_LOOP(T, src, n, out); break;                                   \
        default: NPY_LOOP(uint8_t, T, src, n, out); break;                                         \
        }                                                                                          \
    } while (0)
/* memcpy: a stored .npz member's data need not be aligned */
#define NPY_LOOP(S, T, src, n, out)                                                                \
    for (int64_t k = 0; k < (n); k++) {                                                            \
        S v;                                                                                       \
        memcpy(&v, (src) + (size_t)k * sizeof v, sizeof v);                                        \
        (out)[k] = (T)v;                                                                           \
    }

#define NPY_HALF_LOOP(T, src, n, out)                                                              \
    for (int64_t k = 0; k < (n); k++) {                                                            \
        uint16_t h;                                                                                \
        memcpy(&h, (src) + (size_t)k * sizeof h, sizeof h);                                        \
        (out)[k] = (T)lt_f16_to_f32(h);                                                            \
    }

void npy_to_f32(const npy_array *a, int64_t first, int64_t n, float *out) {
    NPY_CONVERT(float, a, first, n, out);
}

void npy_to_i64(const npy_array *a, int64_t first, int64_t n, int64_t *out) {
    NPY_CONVERT(int64_t, a, first, n, out);
}

lt_dtype npy_dtype(const npy_array *a) {
    switch (a->kind * 16 + a->itemsize) {
    case 'u' * 16 + 1: return LT_U8;
    case 'f' * 16 + 2: return LT_F16;
    case 'f' * 16 + 4: return LT_F32;
    case 'i' * 16 + 8: return LT_I64;
    default: return LT_DTYPE_COUNT;
    }
}
