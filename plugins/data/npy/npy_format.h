/* The .npy array format and .npz archives (zip, stored or deflated), read from memory
 * the caller owns (a mapped file): headers are parsed with every length and product
 * checked, so a hostile file is one error naming it and the offset of the problem. */
#ifndef LT_PLUGINS_DATA_NPY_FORMAT_H
#define LT_PLUGINS_DATA_NPY_FORMAT_H

#include <lt/lt.h>

/* One array: its elements, little-endian, C order. */
typedef struct npy_array {
    const uint8_t *data; /* in the caller's mapping, or in owned */
    uint8_t *owned;      /* an inflated .npz member (free with npy_array_free) */
    char kind;           /* 'f' float, 'i' signed, 'u' unsigned integer */
    int itemsize;        /* f: 2, 4 or 8; i: 4 or 8; u: 1 */
    int ndim;
    int64_t shape[LT_MAX_DIMS];
    int64_t count;   /* prod(shape) */
    char where[300]; /* "file.npy" or "file.npz[x.npy]", for messages */
} npy_array;

/* Parses the .npy file in bytes[0, len) (named `where` in errors) into a. */
lt_status npy_parse(const uint8_t *bytes, size_t len, const char *where, npy_array *a);

/* Finds member `name`.npy of the .npz archive in bytes[0, len) and parses it: a stored
 * member is used in place, a deflated one is inflated into a->owned. */
lt_status npz_open_member(const uint8_t *bytes, size_t len, const char *path, const char *name,
                          npy_array *a);

void npy_array_free(npy_array *a);

/* Elements [first, first + n) as float32 / int64. */
void npy_to_f32(const npy_array *a, int64_t first, int64_t n, float *out);
void npy_to_i64(const npy_array *a, int64_t first, int64_t n, int64_t *out);
/* The lt_dtype that holds a's elements as they are (uint8, float16, float32, int64), or
 * LT_DTYPE_COUNT when none does (float64, int32). */
lt_dtype npy_dtype(const npy_array *a);

#endif
