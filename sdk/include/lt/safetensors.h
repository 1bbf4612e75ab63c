/* lt/safetensors.h — reading safetensors files (the format of .ckpt checkpoints and of
 * the PyTorch parity fixtures): an 8-byte little-endian header length, a JSON header
 * naming each tensor's dtype, shape and byte range, then the data. Nothing in a file is
 * ever executed; a malformed one is refused with the reason. */
#ifndef LT_SAFETENSORS_H
#define LT_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "tensor.h"

typedef enum {
    LT_ST_F32, LT_ST_F64, LT_ST_F16, LT_ST_BF16, LT_ST_I64, LT_ST_I32, LT_ST_U8, LT_ST_BOOL,
    LT_ST_DTYPE_COUNT
} lt_st_dtype;

typedef struct lt_st_tensor {
    const char *name;
    lt_st_dtype dtype;
    int ndim;
    int64_t shape[LT_MAX_DIMS];
    int64_t numel;
    const void *data; /* nbytes of file data; may be unaligned: copy it out with memcpy */
    size_t nbytes;
} lt_st_tensor;

typedef struct lt_st_file lt_st_file_t; /* opaque */

/* Map and validate a file: header within the file, valid JSON, known dtypes, every byte
 * range inside the data and matching its shape, no overlaps. */
LT_API lt_status lt_st_open(const char *path, lt_st_file_t **out);
LT_API void lt_st_close(lt_st_file_t *f);
/* Number of tensors, and tensor i in file-data order. */
LT_API int64_t lt_st_count(const lt_st_file_t *f);
LT_API const lt_st_tensor *lt_st_at(const lt_st_file_t *f, int64_t i);
/* The tensor called name, or NULL (no error is recorded). */
LT_API const lt_st_tensor *lt_st_find(const lt_st_file_t *f, const char *name);
/* The __metadata__ string under key, or NULL. */
LT_API const char *lt_st_meta(const lt_st_file_t *f, const char *key);
/* "F32", "I64", ... */
LT_API const char *lt_st_dtype_name(lt_st_dtype dt);
/* A new tensor in arena a holding an F32 or I64 file tensor (others: LT_ERR_DTYPE). */
LT_API lt_tensor_t *lt_st_to_tensor(lt_arena_t *a, const lt_st_tensor *t);

#endif
