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
    LT_ST_F32,
    LT_ST_F64,
    LT_ST_F16,
    LT_ST_BF16,
    LT_ST_I64,
    LT_ST_I32,
    LT_ST_U8,
    LT_ST_BOOL,
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

/* ---- writing ---------------------------------------------------------------------- */
/* A file is checksummed: __metadata__["checksum"] = "xxh64:<16 lowercase hex digits>",
 * the xxHash64 (seed 0) of the whole file as written with those 16 digits read as '0'.
 * lt_st_open verifies it when present (files from other writers have none) and refuses
 * a file whose checksum is malformed or does not match. Files are laid out as Python's
 * safetensors writes them (data 8-byte aligned, tensors back to back), so
 * safetensors.safe_open reads them. */

typedef struct lt_st_writer lt_st_writer_t; /* opaque */

/* NULL (LT_ERR_OOM recorded) when out of memory. */
LT_API lt_st_writer_t *lt_st_writer_new(void);
/* Add a tensor; tensors are laid out in the order added. data is copied; nbytes must be
 * numel * dtype size (LT_ERR_SHAPE); ndim is 0 (a scalar) to LT_MAX_DIMS; names are
 * unique, UTF-8 and not "__metadata__" (LT_ERR_INVALID_ARG). A refused call adds
 * nothing. */
LT_API lt_status lt_st_writer_add(lt_st_writer_t *w, const char *name, lt_st_dtype dt, int ndim,
                                  const int64_t *shape, const void *data, size_t nbytes);
/* Set a __metadata__ string (a key set twice keeps the last value; "checksum" is the
 * writer's own and refused). */
LT_API lt_status lt_st_writer_meta(lt_st_writer_t *w, const char *key, const char *value);
/* Write atomically: a temp file "<dir>/.<name>.tmp.<pid>" in path's directory, fsync,
 * rename over path, fsync the directory. On any failure (full disk, file size limit,
 * missing directory) the temp file is removed, path is left as it was, and LT_ERR_IO
 * names path and the system's reason. A file size limit raises SIGXFSZ, which kills
 * the process unless it is ignored: hosts set SIGXFSZ to SIG_IGN so that the save fails
 * with EFBIG instead. The writer is unchanged and may be saved again. */
LT_API lt_status lt_st_writer_save(lt_st_writer_t *w, const char *path);
LT_API void lt_st_writer_free(lt_st_writer_t *w);

#endif
