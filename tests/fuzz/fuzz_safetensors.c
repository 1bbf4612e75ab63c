/* libFuzzer harness: the safetensors reader (sdk/src/io/safetensors_read.c) and the
 * checkpoint header check on top of it (lt_ckpt_open). The input is a whole file. It is
 * read twice: as it is (so the checksum verification itself is fuzzed) and, when it has
 * a checksum, with the checksum recomputed (so mutations of the header and the tensors
 * get past it). Whatever opens is then read completely: every tensor's bytes, every
 * tensor as an lt tensor, every metadata string and the JSON under the checkpoint's
 * keys. The reader's messages must be one line of printable text. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lt/checkpoint.h>
#include <lt/runtime.h>

#include "fuzz_util.h"

static lt_device_t *dev;
static lt_arena_t *arena;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    fuzz_default_plugin_path();
    if (lt_device_open("cpu", 1, &dev) != LT_OK || !(arena = lt_arena_new(dev))) abort();
    return 0;
}

/* Abort unless cond: a reader invariant the header promises (lt/safetensors.h). */
static void require(int cond, const char *what) {
    if (!cond) {
        fprintf(stderr, "safetensors invariant broken: %s\n", what);
        abort();
    }
}

static size_t dtype_size(lt_st_dtype dt) {
    static const size_t sizes[LT_ST_DTYPE_COUNT] = {
        [LT_ST_F32] = 4, [LT_ST_F64] = 8, [LT_ST_F16] = 2, [LT_ST_BF16] = 2,
        [LT_ST_I64] = 8, [LT_ST_I32] = 4, [LT_ST_U8] = 1,  [LT_ST_BOOL] = 1};
    return (unsigned)dt < LT_ST_DTYPE_COUNT ? sizes[dt] : 0;
}

static void read_tensor(const lt_st_file_t *f, const lt_st_tensor *t, size_t file_size) {
    require(t->name && t->ndim >= 0 && t->ndim <= LT_MAX_DIMS, "name and rank");
    int64_t numel = 1;
    for (int d = 0; d < t->ndim; d++) {
        require(t->shape[d] >= 0, "non-negative sizes");
        numel *= t->shape[d];
    }
    require(numel == t->numel && t->nbytes == (size_t)numel * dtype_size(t->dtype),
            "numel and nbytes match the shape and dtype");
    require(t->nbytes <= file_size, "a tensor fits in the file");
    require(lt_st_find(f, t->name) != NULL, "every tensor is found by its name");
    /* Touch every byte: a range past the mapping faults here. */
    volatile uint8_t sink = 0;
    for (size_t i = 0; i < t->nbytes; i++) sink ^= ((const uint8_t *)t->data)[i];
    (void)sink;
    lt_clear_error();
    lt_tensor_t *x = lt_st_to_tensor(arena, t);
    if (!x) fuzz_require_message(lt_last_status(), "lt_st_to_tensor");
    if (!x) fuzz_require_printable("lt_st_to_tensor");
}

static void read_checkpoint(const char *path) {
    static const char *const keys[] = {"format_version",
                                       "hyper_parameters",
                                       "optimizer_states",
                                       "lr_schedulers",
                                       "loops",
                                       "callbacks",
                                       "epoch",
                                       "global_step",
                                       "module",
                                       NULL};
    lt_ckpt_t *c = NULL;
    lt_clear_error();
    lt_status s = lt_ckpt_open(path, &c);
    fuzz_require_message(s, "lt_ckpt_open");
    for (int i = 0; s == LT_OK && keys[i]; i++) {
        const char *json = lt_ckpt_get(c, keys[i]);
        lt_state_t *st = json ? lt_state_from_json(json) : NULL;
        fuzz_walk_state(st);
        lt_state_free(st);
    }
    lt_ckpt_free(c);
}

static void read_file(const uint8_t *data, size_t size) {
    const char *path = fuzz_file(data, size);
    lt_st_file_t *f = NULL;
    lt_clear_error();
    lt_status s = lt_st_open(path, &f);
    fuzz_require_message(s, "lt_st_open");
    if (s != LT_OK) fuzz_require_printable("lt_st_open");
    if (s != LT_OK) return;
    for (int64_t i = 0; i < lt_st_count(f); i++) read_tensor(f, lt_st_at(f, i), size);
    require(lt_st_at(f, lt_st_count(f)) == NULL && lt_st_at(f, -1) == NULL, "lt_st_at bounds");
    lt_st_meta(f, "checksum");
    lt_st_close(f);
    lt_arena_reset(arena);
    read_checkpoint(path);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    read_file(data, size);
    bool fixed;
    uint8_t *resummed = fuzz_with_checksum(data, size, &fixed);
    if (fixed && memcmp(resummed, data, size) != 0) read_file(resummed, size);
    free(resummed);
    return 0;
}
