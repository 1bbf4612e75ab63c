/* idx — any IDX image/label pair as a DataModule (MNIST digits, KMNIST, EMNIST,
 * Fashion-MNIST: the format MNIST made common), read by liblt's lt_idx_read as
 * fashion_mnist reads its files, gzip-compressed or not. Images (N, H, W) become float32
 * (1, H, W) normalised as ToTensor + Normalize(mean, std); labels are int64 classes.
 * The training files are split into train/val by --data.split_seed; the test files
 * give test (and predict reads them in order). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/datamodule.h"

static const lt_hparam_desc idx_hparams[] = {
    LT_HPARAM_STR("root", ".", "folder holding the four IDX files"),
    LT_HPARAM_STR("train_images", "train-images-idx3-ubyte.gz", "training images, in root"),
    LT_HPARAM_STR("train_labels", "train-labels-idx1-ubyte.gz", "training labels, in root"),
    LT_HPARAM_STR("test_images", "t10k-images-idx3-ubyte.gz", "test images, in root"),
    LT_HPARAM_STR("test_labels", "t10k-labels-idx1-ubyte.gz", "test labels, in root"),
    LT_HPARAM_FLOAT("mean", 0.0, "Normalize mean, on pixels scaled to [0, 1] (MNIST: 0.1307)"),
    LT_HPARAM_FLOAT("std", 1.0, "Normalize std (MNIST: 0.3081)"),
    LT_HPARAM_BOOL("transpose", false,
                   "swap each image's rows and columns (EMNIST stores them transposed)"),
    LT_HPARAM_FLOAT("val_fraction", 0.1,
                    "share of the training images held out for validation (seeded)"),
    LT_HPARAM_INT("split_seed", 42, "seed of the fixed train/val split"),
    DM_LOADER_HPARAMS,
    LT_HPARAM_END,
};

/* One file pair: images (N, H, W) or (N, D), and N labels. */
typedef struct idx_pair {
    lt_idx_t images, labels;
    int64_t pixels; /* per image */
    const struct idx_data *d;
} idx_pair;

typedef struct idx_data {
    idx_pair train, test;
    int64_t rows, cols; /* of an image: (rows, cols), or (1, D) for vectors */
    bool transpose;
    float lut[256]; /* pixel -> normalised float */
    dm_splits splits;
    bool loaded;
} idx_data;

/* Called from loader threads: reads only the immutable pairs. */
static lt_status idx_fill(void *user, const int64_t *idx, int64_t n, float *x, void *y) {
    const dm_part *p = user;
    const idx_pair *pair = p->source;
    const idx_data *d = pair->d;
    for (int64_t i = 0; i < n; i++) {
        int64_t row = dm_row(p, idx[i]);
        const uint8_t *img = pair->images.data + row * pair->pixels;
        float *dst = x + i * pair->pixels;
        for (int64_t r = 0; r < d->rows; r++)
            for (int64_t c = 0; c < d->cols; c++)
                dst[r * d->cols + c] =
                    d->lut[d->transpose ? img[c * d->rows + r] : img[r * d->cols + c]];
        ((int64_t *)y)[i] = pair->labels.data[row];
    }
    return LT_OK;
}

static lt_status read_file(const char *root, const char *name, const char *flag, lt_idx_t *out) {
    char path[4096];
    if (snprintf(path, sizeof path, "%s/%s", root, name) >= (int)sizeof path)
        return lt_set_error(LT_ERR_INVALID_ARG, "--data.root/%s: the path is too long", flag);
    lt_status s = lt_idx_read(path, out);
    if (s != LT_OK)
        return lt_set_error(s, "%s (check --data.root and --data.%s)", lt_last_error(), flag);
    return LT_OK;
}

/* Images of one pair share their shape with the training images; labels match them. */
static lt_status check_pair(const idx_data *d, const idx_pair *p, const char *which) {
    const lt_idx_t *im = &p->images, *lb = &p->labels;
    if (im->ndim < 2 || im->ndim > 3)
        return lt_set_error(LT_ERR_FORMAT,
                            "--data.%s_images: %d dimensions; IDX images must be (N, H, W) or "
                            "(N, D)",
                            which, im->ndim);
    int64_t rows = im->ndim == 3 ? im->dims[1] : 1, cols = im->dims[im->ndim - 1];
    if (d->rows && (rows != d->rows || cols != d->cols))
        return lt_set_error(LT_ERR_FORMAT,
                            "--data.%s_images: images of %lld x %lld, the training images are "
                            "%lld x %lld",
                            which, (long long)rows, (long long)cols, (long long)d->rows,
                            (long long)d->cols);
    if (lb->ndim != 1 || lb->dims[0] != im->dims[0])
        return lt_set_error(LT_ERR_FORMAT,
                            "--data.%s_labels: %lld labels in %d dimension(s) for %lld images; "
                            "the image and label files do not match",
                            which, (long long)lb->count, lb->ndim, (long long)im->dims[0]);
    return LT_OK;
}

static lt_status load_pair(lt_ctx_t *ctx, idx_data *d, idx_pair *p, const char *which) {
    char fi[32], fl[32];
    snprintf(fi, sizeof fi, "%s_images", which);
    snprintf(fl, sizeof fl, "%s_labels", which);
    const char *root = lt_hparam_str(ctx, "root");
    lt_status s = read_file(root, lt_hparam_str(ctx, fi), fi, &p->images);
    if (s == LT_OK) s = read_file(root, lt_hparam_str(ctx, fl), fl, &p->labels);
    if (s == LT_OK) s = check_pair(d, p, which);
    if (s != LT_OK) return s;
    d->rows = p->images.ndim == 3 ? p->images.dims[1] : 1;
    d->cols = p->images.dims[p->images.ndim - 1];
    p->pixels = d->rows * d->cols;
    p->d = d;
    return LT_OK;
}

static lt_status make_lut(lt_ctx_t *ctx, idx_data *d) {
    double mean = lt_hparam_float(ctx, "mean"), std = lt_hparam_float(ctx, "std");
    if (!(std > 0.0)) return lt_set_error(LT_ERR_INVALID_ARG, "--data.std %g must be > 0", std);
    for (int v = 0; v < 256; v++) d->lut[v] = (float)(((double)v / 255.0 - mean) / std);
    d->transpose = lt_hparam_bool(ctx, "transpose");
    return LT_OK;
}

static void idx_teardown(lt_ctx_t *ctx, void *self) {
    (void)ctx;
    idx_data *d = self;
    lt_idx_free(&d->train.images);
    lt_idx_free(&d->train.labels);
    lt_idx_free(&d->test.images);
    lt_idx_free(&d->test.labels);
    free(d->splits.perm);
    memset(d, 0, sizeof *d);
}

/* Both pairs, read once per run; test and predict read the test files in order. */
static lt_status load(lt_ctx_t *ctx, idx_data *d) {
    lt_status s = make_lut(ctx, d);
    if (s == LT_OK) s = load_pair(ctx, d, &d->train, "train");
    if (s == LT_OK) s = load_pair(ctx, d, &d->test, "test");
    if (s == LT_OK)
        s = dm_split_seeded(ctx, &d->train, d->train.images.dims[0], true, false, &d->splits);
    if (s != LT_OK) return s;
    d->splits.part[DM_TEST] = (dm_part){&d->test, NULL, 0, d->test.images.dims[0]};
    d->splits.all = d->splits.part[DM_TEST];
    return LT_OK;
}

static lt_status idx_setup(lt_ctx_t *ctx, void *self, const char *stage) {
    idx_data *d = self;
    lt_status s = dm_check_loader(ctx);
    if (s == LT_OK && !d->loaded) {
        if ((s = load(ctx, d)) != LT_OK) idx_teardown(ctx, d); /* the next setup starts over */
        d->loaded = s == LT_OK;
    }
    if (s != LT_OK) return s;
    lt_dataset proto = {.x_ndim = d->rows > 1 ? 3 : 1,
                        .x_shape = {1, d->rows, d->cols},
                        .x_dtype = LT_F32,
                        .y_dtype = LT_I64,
                        .fill = idx_fill};
    if (d->rows == 1) proto.x_shape[0] = d->cols;
    return dm_register(ctx, stage, &d->splits, &proto);
}

/* The split in checkpoints: a resume on other data or another split is refused. */
static lt_status idx_state_dict(lt_ctx_t *ctx, void *self, lt_state_t *st) {
    const idx_data *d = self;
    return dm_state_dict(ctx, &d->splits, st);
}

static lt_status idx_load_state_dict(lt_ctx_t *ctx, void *self, lt_state_t *st) {
    const idx_data *d = self;
    return dm_load_state_dict(ctx, &d->splits, st);
}

LT_DATAMODULE_EXPORT(idx_data, .name = "idx", .hparams = idx_hparams, .setup = idx_setup,
                     .teardown = idx_teardown, .state_dict = idx_state_dict,
                     .load_state_dict = idx_load_state_dict)
