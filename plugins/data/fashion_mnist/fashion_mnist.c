/* fashion_mnist — the Fashion-MNIST DataModule: the 60,000 training images split into
 * train/val by a fixed permutation (as torch.random_split with a seeded generator), the
 * 10,000 test images for test and predict. Images are normalised as torchvision's
 * ToTensor + Normalize((0.2860,), (0.3530,)). */
#include <lt/lt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FM_MEAN 0.2860f
#define FM_STD 0.3530f
#define FM_PIXELS (28 * 28)

/* One split: the source file's images and labels, and which samples belong here. */
typedef struct fm_split {
    const uint8_t *images; /* (N, 28, 28) */
    const uint8_t *labels; /* (N) */
    int64_t *index;        /* sample i of the split is source sample index[i]; NULL: i */
    const float *lut;      /* pixel value -> normalised float */
} fm_split;

typedef struct {
    lt_idx_t train_images, train_labels, test_images, test_labels;
    int64_t *perm;         /* the fixed train/val permutation of the training file */
    fm_split train, val, test;
    float lut[256];
} fm_t;

static const lt_hparam_desc fm_hparams[] = {
    LT_HPARAM_STR("root", "/usr/share/datasets/fashion-mnist", "folder with the four *-ubyte.gz files"),
    LT_HPARAM_INT("batch_size", 64, "samples per batch"),
    LT_HPARAM_INT("num_workers", 1, "background threads filling batches (0: none)"),
    LT_HPARAM_INT("val_size", 5000, "training images held out for validation"),
    LT_HPARAM_INT("split_seed", 42, "seed of the fixed train/val split"),
    LT_HPARAM_END,
};

/* Called from loader threads: reads only shared, immutable state. */
static lt_status fm_fill(void *user, const int64_t *idx, int64_t n, float *x, void *y) {
    const fm_split *s = user;
    int64_t *labels = y;
    for (int64_t i = 0; i < n; i++) {
        int64_t src = s->index ? s->index[idx[i]] : idx[i];
        const uint8_t *img = s->images + src * FM_PIXELS;
        float *dst = x + i * FM_PIXELS;
        for (int p = 0; p < FM_PIXELS; p++) dst[p] = s->lut[img[p]];
        labels[i] = s->labels[src];
    }
    return LT_OK;
}

/* Read an image file and its label file, and check they describe the same samples. */
static lt_status load_pair(const char *root, const char *prefix, lt_idx_t *images, lt_idx_t *labels) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s-images-idx3-ubyte.gz", root, prefix);
    lt_status s = lt_idx_read(path, images);
    if (s != LT_OK) return s;
    if (images->ndim != 3 || images->dims[1] != 28 || images->dims[2] != 28)
        return lt_set_error(LT_ERR_FORMAT, "%s: expected (N, 28, 28) images, got %d dimensions "
                            "(is --data.root the Fashion-MNIST folder?)", path, images->ndim);
    snprintf(path, sizeof path, "%s/%s-labels-idx1-ubyte.gz", root, prefix);
    if ((s = lt_idx_read(path, labels)) != LT_OK) return s;
    if (labels->ndim != 1 || labels->dims[0] != images->dims[0])
        return lt_set_error(LT_ERR_FORMAT, "%s: %lld labels for %lld images", path,
                            (long long)labels->count, (long long)images->dims[0]);
    for (int64_t i = 0; i < labels->count; i++)
        if (labels->data[i] > 9)
            return lt_set_error(LT_ERR_FORMAT, "%s: label %u of sample %lld is not a class 0-9",
                                path, labels->data[i], (long long)i);
    return LT_OK;
}

static lt_status add_split(lt_ctx_t *ctx, lt_split which, fm_split *s, int64_t length, bool shuffle) {
    lt_dataset ds = {.struct_size = sizeof ds, .length = length, .x_ndim = 3,
                     .x_shape = {1, 28, 28}, .y_dtype = LT_I64, .y_ndim = 0,
                     .fill = fm_fill, .user = s};
    lt_loader_opts o = {.struct_size = sizeof o, .batch_size = lt_hparam_int(ctx, "batch_size"),
                        .shuffle = shuffle, .drop_last = false,
                        .num_workers = (int)lt_hparam_int(ctx, "num_workers")};
    return lt_data_add_split(ctx, which, &ds, &o);
}

/* train and val: a permutation of the training file from split_seed, cut at val_size. */
static lt_status setup_fit(lt_ctx_t *ctx, fm_t *fm, const char *root) {
    if (fm->perm) return LT_OK;
    lt_status s = load_pair(root, "train", &fm->train_images, &fm->train_labels);
    if (s != LT_OK) return s;
    int64_t n = fm->train_images.dims[0], val = lt_hparam_int(ctx, "val_size");
    if (val < 0 || val >= n)
        return lt_set_error(LT_ERR_INVALID_ARG, "--data.val_size %lld must be in [0, %lld)",
                            (long long)val, (long long)n);
    if (!(fm->perm = malloc((size_t)n * sizeof *fm->perm)))
        return lt_set_error(LT_ERR_OOM, "out of memory");
    lt_rng_t r = lt_rng_make((uint64_t)lt_hparam_int(ctx, "split_seed"), 0);
    lt_randperm(&r, n, fm->perm);
    fm->train = (fm_split){fm->train_images.data, fm->train_labels.data, fm->perm, fm->lut};
    fm->val = (fm_split){fm->train_images.data, fm->train_labels.data, fm->perm + (n - val), fm->lut};
    s = add_split(ctx, LT_SPLIT_TRAIN, &fm->train, n - val, true);
    return s == LT_OK && val > 0 ? add_split(ctx, LT_SPLIT_VAL, &fm->val, val, false) : s;
}

static lt_status setup_test(lt_ctx_t *ctx, fm_t *fm, const char *root) {
    if (!fm->test.images) {
        lt_status s = load_pair(root, "t10k", &fm->test_images, &fm->test_labels);
        if (s != LT_OK) return s;
        fm->test = (fm_split){fm->test_images.data, fm->test_labels.data, NULL, fm->lut};
    }
    lt_status s = add_split(ctx, LT_SPLIT_TEST, &fm->test, fm->test_images.dims[0], false);
    return s == LT_OK ? add_split(ctx, LT_SPLIT_PREDICT, &fm->test, fm->test_images.dims[0], false) : s;
}

static lt_status fm_setup(lt_ctx_t *ctx, void *self, const char *stage) {
    fm_t *fm = self;
    for (int v = 0; v < 256; v++) fm->lut[v] = ((float)v / 255.0f - FM_MEAN) / FM_STD;
    const char *root = lt_hparam_str(ctx, "root");
    if (!strcmp(stage, "fit")) return setup_fit(ctx, fm, root);
    if (!strcmp(stage, "validate")) return setup_fit(ctx, fm, root);
    if (!strcmp(stage, "test") || !strcmp(stage, "predict")) return setup_test(ctx, fm, root);
    return lt_set_error(LT_ERR_INVALID_ARG, "fashion_mnist: unknown stage '%s'", stage);
}

static void fm_teardown(lt_ctx_t *ctx, void *self) {
    (void)ctx;
    fm_t *fm = self;
    lt_idx_free(&fm->train_images);
    lt_idx_free(&fm->train_labels);
    lt_idx_free(&fm->test_images);
    lt_idx_free(&fm->test_labels);
    free(fm->perm);
}

LT_DATAMODULE_EXPORT(fm_t, .name = "fashion_mnist", .hparams = fm_hparams, .setup = fm_setup,
                     .teardown = fm_teardown)
