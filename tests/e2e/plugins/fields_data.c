/* fields_data — a data plugin whose batches are named fields (tests/e2e/test_data_fields.sh):
 * sample i has image (2, 2) float32 = (i, i + 0.5, -i, i / 4), label int64 = i % 3,
 * weight float32 = 1 / (i + 1) and tokens (3) int64 = (i, 7 * i, -i). --data.mode breaks
 * the descriptors one way each, for the loader's refusals. */
#include <lt/lt.h>
#include <stddef.h>
#include <string.h>

static const lt_hparam_desc fd_hparams[] = {
    LT_HPARAM_INT("length", 50, "samples"),
    LT_HPARAM_CHOICE("mode", "good", "good|dup_name|no_name|bad_dtype|too_many|no_fill|bad_shape",
                     "good, or which descriptor mistake to make"),
    LT_HPARAM_END,
};

static const lt_field_desc good_fields[] = {
    {.name = "image", .dtype = LT_F32, .ndim = 2, .shape = {2, 2}},
    {.name = "label", .dtype = LT_I64, .ndim = 0},
    {.name = "weight", .dtype = LT_F32, .ndim = 0},
    {.name = "tokens", .dtype = LT_I64, .ndim = 1, .shape = {3}},
};

typedef struct {
    lt_field_desc fields[4]; /* good_fields, or broken by --data.mode */
} fd_t;

static lt_status fd_fill(void *user, lt_split split, const int64_t *idx, int64_t n,
                         void *const *bufs) {
    (void)user, (void)split;
    float *image = bufs[0], *weight = bufs[2];
    int64_t *label = bufs[1], *tokens = bufs[3];
    for (int64_t k = 0; k < n; k++) {
        float i = (float)idx[k];
        image[4 * k] = i, image[4 * k + 1] = i + 0.5f, image[4 * k + 2] = -i;
        image[4 * k + 3] = i / 4;
        label[k] = idx[k] % 3;
        weight[k] = 1.0f / (i + 1);
        tokens[3 * k] = idx[k], tokens[3 * k + 1] = 7 * idx[k], tokens[3 * k + 2] = -idx[k];
    }
    return LT_OK;
}

static lt_status fd_setup(lt_ctx_t *ctx, void *self, const char *stage) {
    fd_t *d = self;
    const char *mode = lt_hparam_str(ctx, "mode");
    memcpy(d->fields, good_fields, sizeof good_fields);
    lt_dataset ds = {.struct_size = sizeof ds,
                     .length = lt_hparam_int(ctx, "length"),
                     .nfields = 4,
                     .fields = d->fields,
                     .fill_fields = fd_fill};
    if (!strcmp(mode, "dup_name")) d->fields[2].name = "label";
    if (!strcmp(mode, "no_name")) d->fields[1].name = NULL;
    if (!strcmp(mode, "bad_dtype")) d->fields[3].dtype = (lt_dtype)7;
    if (!strcmp(mode, "too_many")) ds.nfields = LT_MAX_FIELDS + 1;
    if (!strcmp(mode, "no_fill")) ds.fill_fields = NULL;
    if (!strcmp(mode, "bad_shape")) d->fields[0].shape[1] = 0;
    lt_loader_opts o = {.struct_size = sizeof o, .batch_size = 8, .shuffle = true};
    if (!strcmp(stage, "fit")) return lt_data_add_split(ctx, LT_SPLIT_TRAIN, &ds, &o);
    o.shuffle = false;
    return lt_data_add_split(ctx, LT_SPLIT_PREDICT, &ds, &o);
}

#ifdef FD_ABI10
/* Built as abi10_data: what a data plugin of ABI 1.0 hands over, a descriptor without
 * state_dict / load_state_dict and an x/y dataset ending at `user`; sample i is
 * x = i / 2 (float32), y = i % 3. It must load and read as before. */
static lt_status old_fill(void *user, const int64_t *idx, int64_t n, float *x, void *y) {
    (void)user;
    for (int64_t k = 0; k < n; k++) x[k] = (float)idx[k] / 2, ((int64_t *)y)[k] = idx[k] % 3;
    return LT_OK;
}

static lt_status old_setup(lt_ctx_t *ctx, void *self, const char *stage) {
    (void)self;
    lt_dataset ds = {.struct_size = (uint32_t)LT_DATASET_SIZE_1_0,
                     .length = lt_hparam_int(ctx, "length"),
                     .y_dtype = LT_I64,
                     .fill = old_fill};
    lt_loader_opts o = {.struct_size = sizeof o, .batch_size = 8, .shuffle = false};
    return lt_data_add_split(ctx, !strcmp(stage, "fit") ? LT_SPLIT_TRAIN : LT_SPLIT_PREDICT, &ds,
                             &o);
}

LT_DATAMODULE_EXPORT(fd_t, .name = "abi10_data", .abi_minor = 0,
                     .struct_size = offsetof(lt_datamodule_desc, state_dict), .hparams = fd_hparams,
                     .setup = old_setup)
#else
LT_DATAMODULE_EXPORT(fd_t, .name = "fields_data", .hparams = fd_hparams, .setup = fd_setup)
#endif
