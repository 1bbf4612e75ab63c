/* npy — numpy arrays as a DataModule: x and y from two .npy files or one .npz archive,
 * memory-mapped, so a dataset larger than RAM streams from the page cache as batches
 * touch it. x (N, ...) of any supported dtype becomes float32 (or keeps uint8, float16,
 * int64 with --data.x_dtype keep); y (N) class indices
 * become int64, or y (N, ...) regression targets float32. val and test are a seeded
 * split of the N samples. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/datamodule.h"
#include "npy_format.h"

#define NPY_MAX_CLASS ((int64_t)1 << 24)

static const lt_hparam_desc npy_hparams[] = {
    LT_HPARAM_STR("x", "", "the inputs: a .npy file of shape (N, ...)"),
    LT_HPARAM_STR("y", "", "the targets: a .npy file of shape (N) or (N, ...)"),
    LT_HPARAM_STR("npz", "", "instead of x and y: an .npz archive (numpy.savez[_compressed])"),
    LT_HPARAM_STR("x_key", "x", "the inputs' name in the .npz"),
    LT_HPARAM_STR("y_key", "y", "the targets' name in the .npz"),
    LT_HPARAM_CHOICE("x_dtype", "float32", "float32|keep",
                     "float32: x becomes float32 batches; keep: x's own dtype (uint8, float16, "
                     "float32 or int64), for the module to convert on its device (lt_to_f32)"),
    LT_HPARAM_CHOICE("task", "classification", "classification|regression",
                     "classification: y holds integer class indices (int64 batches); "
                     "regression: y holds values (float32 batches)"),
    DM_LOADER_HPARAMS,
    DM_SPLIT_HPARAMS,
    LT_HPARAM_END,
};

typedef struct {
    dm_map x_file, y_file; /* the .npy files, or the .npz in x_file */
    npy_array x, y;
    int64_t x_per, y_per; /* elements per sample */
    bool classify, loaded;
    lt_dtype x_dtype; /* of the batches: LT_F32, or the file's own (--data.x_dtype keep) */
    dm_splits splits;
} npy_t;

/* Called from loader threads: converts the rows straight from the mapping. */
static lt_status npy_fill(void *user, const int64_t *idx, int64_t n, float *x, void *y) {
    const dm_part *p = user;
    const npy_t *d = p->source;
    for (int64_t i = 0; i < n; i++) {
        int64_t row = dm_row(p, idx[i]);
        if (d->x_dtype == LT_F32 && !(d->x.kind == 'f' && d->x.itemsize == 4))
            npy_to_f32(&d->x, row * d->x_per, d->x_per, x + i * d->x_per);
        else /* the file's own bytes (float32 too: no conversion to do) */
            memcpy((uint8_t *)x + (size_t)(i * d->x_per) * (size_t)d->x.itemsize,
                   d->x.data + (size_t)(row * d->x_per) * (size_t)d->x.itemsize,
                   (size_t)d->x_per * (size_t)d->x.itemsize);
        if (d->classify)
            npy_to_i64(&d->y, row, 1, (int64_t *)y + i);
        else
            npy_to_f32(&d->y, row * d->y_per, d->y_per, (float *)y + i * d->y_per);
    }
    return LT_OK;
}

static lt_status open_arrays(lt_ctx_t *ctx, npy_t *d) {
    const char *npz = lt_hparam_str(ctx, "npz");
    lt_status s;
    if (*npz) {
        s = dm_map_open(npz, "--data.npz", &d->x_file);
        if (s == LT_OK)
            s = npz_open_member(d->x_file.data, d->x_file.size, npz, lt_hparam_str(ctx, "x_key"),
                                &d->x);
        if (s == LT_OK)
            s = npz_open_member(d->x_file.data, d->x_file.size, npz, lt_hparam_str(ctx, "y_key"),
                                &d->y);
        return s;
    }
    if (!*lt_hparam_str(ctx, "x") && !*lt_hparam_str(ctx, "y"))
        return lt_set_error(LT_ERR_INVALID_ARG,
                            "give the data: --data.x X.npy --data.y Y.npy, or --data.npz D.npz");
    s = dm_map_open(lt_hparam_str(ctx, "x"), "--data.x", &d->x_file);
    if (s == LT_OK) s = dm_map_open(lt_hparam_str(ctx, "y"), "--data.y", &d->y_file);
    if (s == LT_OK) s = npy_parse(d->x_file.data, d->x_file.size, d->x_file.path, &d->x);
    if (s == LT_OK) s = npy_parse(d->y_file.data, d->y_file.size, d->y_file.path, &d->y);
    return s;
}

/* Class indices: integers in [0, 2^24), one per sample; checked once, here. */
static lt_status check_classes(const npy_array *y) {
    if (y->kind == 'f' || y->ndim != 1)
        return lt_set_error(LT_ERR_FORMAT,
                            "%s: classification needs y of shape (N) holding integer class "
                            "indices (it has %d dimensions, dtype kind '%c'); for values use "
                            "--data.task regression",
                            y->where, y->ndim, y->kind);
    for (int64_t i = 0; i < y->count; i++) {
        int64_t c;
        npy_to_i64(y, i, 1, &c);
        if (c < 0 || c >= NPY_MAX_CLASS)
            return lt_set_error(LT_ERR_FORMAT,
                                "%s: y[%lld] = %lld is no class index (an integer in [0, %lld))",
                                y->where, (long long)i, (long long)c, (long long)NPY_MAX_CLASS);
    }
    return LT_OK;
}

static lt_status check_arrays(npy_t *d) {
    if (d->x.shape[0] != d->y.shape[0])
        return lt_set_error(LT_ERR_FORMAT,
                            "%s has %lld samples but %s has %lld; x and y must match", d->x.where,
                            (long long)d->x.shape[0], d->y.where, (long long)d->y.shape[0]);
    if (d->x.ndim > LT_MAX_DIMS - 1 || d->y.ndim > LT_MAX_DIMS - 1)
        return lt_set_error(LT_ERR_FORMAT, "%s: at most %d dimensions (N and the sample's)",
                            d->x.ndim > LT_MAX_DIMS - 1 ? d->x.where : d->y.where, LT_MAX_DIMS - 1);
    int64_t n = d->x.shape[0];
    d->x_per = n ? d->x.count / n : 1;
    d->y_per = n ? d->y.count / n : 1;
    for (int i = 1; i < d->x.ndim; i++)
        if (d->x.shape[i] == 0)
            return lt_set_error(LT_ERR_FORMAT, "%s: a sample of 0 elements (shape[%d] is 0)",
                                d->x.where, i);
    return d->classify ? check_classes(&d->y) : LT_OK;
}

static void npy_teardown(lt_ctx_t *ctx, void *self) {
    (void)ctx;
    npy_t *d = self;
    npy_array_free(&d->x);
    npy_array_free(&d->y);
    dm_map_close(&d->x_file);
    dm_map_close(&d->y_file);
    free(d->splits.perm);
    memset(d, 0, sizeof *d);
}

/* --data.x_dtype keep: the file's dtype, if a batch can hold it as it is. */
static lt_status choose_x_dtype(lt_ctx_t *ctx, npy_t *d) {
    d->x_dtype = LT_F32;
    if (strcmp(lt_hparam_str(ctx, "x_dtype"), "keep")) return LT_OK;
    d->x_dtype = npy_dtype(&d->x);
    if (d->x_dtype != LT_DTYPE_COUNT) return LT_OK;
    return lt_set_error(LT_ERR_FORMAT,
                        "%s: --data.x_dtype keep passes uint8, float16, float32 or int64 as "
                        "they are, not %s%d; save one of those or use --data.x_dtype float32",
                        d->x.where, d->x.kind == 'f' ? "float" : "int", 8 * d->x.itemsize);
}

static lt_status load(lt_ctx_t *ctx, npy_t *d) {
    d->classify = !strcmp(lt_hparam_str(ctx, "task"), "classification");
    lt_status s = open_arrays(ctx, d);
    if (s == LT_OK) s = check_arrays(d);
    if (s == LT_OK) s = choose_x_dtype(ctx, d);
    if (s == LT_OK) dm_map_random(&d->x_file); /* y is small and read once by the checks */
    if (s == LT_OK) s = dm_split_seeded(ctx, d, d->x.shape[0], true, true, &d->splits);
    if (s != LT_OK) npy_teardown(ctx, d); /* a later setup starts over from nothing */
    return s;
}

static lt_status npy_setup(lt_ctx_t *ctx, void *self, const char *stage) {
    npy_t *d = self;
    lt_status s = dm_check_loader(ctx);
    if (s == LT_OK && !d->loaded && (s = load(ctx, d)) == LT_OK) d->loaded = true;
    if (s != LT_OK) return s;
    lt_dataset proto = {.x_ndim = d->x.ndim - 1,
                        .x_dtype = d->x_dtype,
                        .y_dtype = d->classify ? LT_I64 : LT_F32,
                        .y_ndim = d->y.ndim - 1,
                        .fill = npy_fill};
    memcpy(proto.x_shape, d->x.shape + 1, (size_t)proto.x_ndim * sizeof(int64_t));
    memcpy(proto.y_shape, d->y.shape + 1, (size_t)proto.y_ndim * sizeof(int64_t));
    return dm_register(ctx, stage, &d->splits, &proto);
}

/* The split in checkpoints: a resume on other data or another split is refused. */
static lt_status npy_state_dict(lt_ctx_t *ctx, void *self, lt_state_t *st) {
    const npy_t *d = self;
    return dm_state_dict(ctx, &d->splits, st);
}

static lt_status npy_load_state_dict(lt_ctx_t *ctx, void *self, lt_state_t *st) {
    const npy_t *d = self;
    return dm_load_state_dict(ctx, &d->splits, st);
}

LT_DATAMODULE_EXPORT(npy_t, .name = "npy", .hparams = npy_hparams, .setup = npy_setup,
                     .teardown = npy_teardown, .state_dict = npy_state_dict,
                     .load_state_dict = npy_load_state_dict)
