/* libFuzzer harness: the IDX reader (sdk/src/data/idx.c). The input is a whole file,
 * read as it is (plain, or gzip when it starts like one) and, when it is not gzip
 * already, also gzip-compressed by the harness: mutations of the IDX structure then
 * reach the gzip paths (libdeflate's whole-file inflate and zlib's stream) with a valid
 * CRC, which a mutated .gz almost never has. A file and its gzip must read the same:
 * both refused, or the same dims and bytes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include <lt/data.h>
#include <lt/status.h>

#include "fuzz_util.h"

static void require(int cond, const char *what) {
    if (!cond) {
        fprintf(stderr, "IDX reader invariant broken: %s\n", what);
        abort();
    }
}

/* lt_idx_read, with the invariants of lt/data.h checked on success. */
static lt_status read_idx(const uint8_t *data, size_t size, lt_idx_t *out) {
    lt_clear_error();
    lt_status s = lt_idx_read(fuzz_file(data, size), out);
    fuzz_require_message(s, "lt_idx_read");
    if (s != LT_OK) return s;
    require(out->ndim >= 1 && out->ndim <= LT_MAX_DIMS && out->type == 0x08, "ndim and type");
    int64_t count = 1;
    for (int i = 0; i < out->ndim; i++) {
        require(out->dims[i] >= 0, "non-negative dims");
        count *= out->dims[i];
    }
    require(count == out->count, "count is the product of dims");
    volatile uint8_t sink = 0;
    for (int64_t i = 0; i < out->count; i++) sink ^= out->data[i]; /* ASan checks the size */
    (void)sink;
    return s;
}

/* data as one gzip member (caller frees), or NULL. */
static uint8_t *gzip(const uint8_t *data, size_t size, size_t *out_size) {
    z_stream z = {0};
    if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return NULL;
    size_t cap = deflateBound(&z, (uLong)size);
    uint8_t *out = malloc(cap);
    z.next_in = (Bytef *)data;
    z.avail_in = (uInt)size;
    z.next_out = out;
    z.avail_out = (uInt)cap;
    bool ok = out && deflate(&z, Z_FINISH) == Z_STREAM_END;
    *out_size = z.total_out;
    deflateEnd(&z);
    if (!ok) {
        free(out);
        return NULL;
    }
    return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    lt_idx_t plain, packed;
    lt_status s = read_idx(data, size, &plain);
    bool already_gzip = size >= 2 && data[0] == 0x1f && data[1] == 0x8b;
    size_t gz_size;
    uint8_t *gz = already_gzip ? NULL : gzip(data, size, &gz_size);
    if (gz) {
        lt_status t = read_idx(gz, gz_size, &packed);
        require((s == LT_OK) == (t == LT_OK), "a file and its gzip are both read or both refused");
        if (s == LT_OK)
            require(plain.ndim == packed.ndim && plain.count == packed.count &&
                        !memcmp(plain.dims, packed.dims, sizeof plain.dims) &&
                        (plain.count == 0 || !memcmp(plain.data, packed.data, (size_t)plain.count)),
                    "a file and its gzip read the same");
        if (t == LT_OK) lt_idx_free(&packed);
        free(gz);
    }
    if (s == LT_OK) lt_idx_free(&plain);
    return 0;
}
