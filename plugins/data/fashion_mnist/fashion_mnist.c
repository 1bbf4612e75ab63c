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
} fm_split;

typedef struct {
    lt_idx_t train_images, train_labels, test_images, test_labels;
    int64_t *perm;          /* the fixed train/val permutation of the training file */
    int64_t n_train, n_val; /* train = perm[0, n_train), val = perm[n_train, n_train + n_val) */
    fm_split train, val, test;
} fm_t;

static const lt_hparam_desc fm_hparams[] = {
    LT_HPARAM_STR("root", "/usr/share/datasets/fashion-mnist",
                  "folder with the four *-ubyte.gz files"),
    LT_HPARAM_INT("batch_size", 64, "samples per batch"),
    LT_HPARAM_INT("num_workers", LT_LOADER_WORKERS_AUTO,
                  "background threads filling batches (0: none; -1: one unless bound to one core)"),
    LT_HPARAM_INT("val_size", 5000, "training images held out for validation"),
    LT_HPARAM_INT("split_seed", 42, "seed of the fixed train/val split"),
    LT_HPARAM_END,
};

/* ToTensor + Normalize of one image: per pixel the same three float operations in the same
 * order as torchvision, so the same floats, which the compiler runs 8 or 16 pixels at a
 * time. A 256-entry table took one load per pixel: 75 us of a loader thread per batch of
 * 64; 50-56 us this way on a loaded 2-core Xeon (bench/RESULTS.md, #20). */
__attribute__((target_clones("avx512f", "avx2", "default"))) static void normalize_image(
    const uint8_t *restrict img, float *restrict dst) {
    for (int p = 0; p < FM_PIXELS; p++) dst[p] = ((float)img[p] / 255.0f - FM_MEAN) / FM_STD;
}

/* Called from loader threads: reads only shared, immutable state. */
static lt_status fm_fill(void *user, const int64_t *idx, int64_t n, float *x, void *y) {
    const fm_split *s = user;
    int64_t *labels = y;
    for (int64_t i = 0; i < n; i++) {
        int64_t src = s->index ? s->index[idx[i]] : idx[i];
        const uint8_t *img = s->images + src * FM_PIXELS;
        normalize_image(img, x + i * FM_PIXELS);
        labels[i] = s->labels[src];
    }
    return LT_OK;
}

#define FM_FIX "(is --data.root the Fashion-MNIST folder? reinstall dataset-fashion-mnist)"

static lt_status check_images(const char *path, const lt_idx_t *images) {
    if (images->ndim == 3 && images->dims[1] == 28 && images->dims[2] == 28) return LT_OK;
    return lt_set_error(LT_ERR_FORMAT,
                        "%s: expected (N, 28, 28) images, got %d dimensions "
                        "(%lld, %lld, ...) %s",
                        path, images->ndim, (long long)images->dims[0], (long long)images->dims[1],
                        FM_FIX);
}

static lt_status check_labels(const char *path, const lt_idx_t *labels, int64_t n_images) {
    if (labels->ndim != 1 || labels->dims[0] != n_images)
        return lt_set_error(LT_ERR_FORMAT,
                            "%s: %lld labels in %d dimension(s) for %lld images; "
                            "the image and label files do not match %s",
                            path, (long long)labels->count, labels->ndim, (long long)n_images,
                            FM_FIX);
    for (int64_t i = 0; i < labels->count; i++)
        if (labels->data[i] > 9)
            return lt_set_error(LT_ERR_FORMAT, "%s: label %u of sample %lld is not a class 0-9 %s",
                                path, labels->data[i], (long long)i, FM_FIX);
    return LT_OK;
}

/* lt_idx_read names the file and what is wrong with it; this plugin knows where the
 * file came from. */
static lt_status read_idx(const char *path, lt_idx_t *out) {
    lt_status s = lt_idx_read(path, out);
    if (s == LT_OK) return s;
    return lt_set_error(s,
                        "%s; is --data.root the Fashion-MNIST folder? (Debian: apt-get install "
                        "dataset-fashion-mnist)",
                        lt_last_error());
}

/* Read an image file and its label file, and check they describe the same samples; on
 * failure neither stays allocated. */
static lt_status load_pair(const char *root, const char *prefix, lt_idx_t *images,
                           lt_idx_t *labels) {
    char ipath[4096], lpath[4096];
    snprintf(ipath, sizeof ipath, "%s/%s-images-idx3-ubyte.gz", root, prefix);
    snprintf(lpath, sizeof lpath, "%s/%s-labels-idx1-ubyte.gz", root, prefix);
    lt_status s = read_idx(ipath, images);
    if (s == LT_OK) s = check_images(ipath, images);
    if (s == LT_OK) s = read_idx(lpath, labels);
    if (s == LT_OK) s = check_labels(lpath, labels, images->dims[0]);
    if (s != LT_OK) {
        lt_idx_free(images);
        lt_idx_free(labels);
    }
    return s;
}

static lt_status add_split(lt_ctx_t *ctx, lt_split which, fm_split *s, int64_t length,
                           bool shuffle) {
    lt_dataset ds = {.struct_size = sizeof ds,
                     .length = length,
                     .x_ndim = 3,
                     .x_shape = {1, 28, 28},
                     .y_dtype = LT_I64,
                     .y_ndim = 0,
                     .fill = fm_fill,
                     .user = s};
    lt_loader_opts o = {.struct_size = sizeof o,
                        .batch_size = lt_hparam_int(ctx, "batch_size"),
                        .shuffle = shuffle,
                        .drop_last = false,
                        .num_workers = (int)lt_hparam_int(ctx, "num_workers")};
    return lt_data_add_split(ctx, which, &ds, &o);
}

/* The training file, cut into train and val by a permutation from split_seed alone, so
 * the split is the same whatever --seed_everything is. Loaded once per run. */
static lt_status load_train(lt_ctx_t *ctx, fm_t *fm, const char *root) {
    if (fm->perm) return LT_OK;
    lt_status s = load_pair(root, "train", &fm->train_images, &fm->train_labels);
    if (s != LT_OK) return s;
    int64_t n = fm->train_images.dims[0], val = lt_hparam_int(ctx, "val_size");
    if (n == 0) /* before val_size, whose range would name the wrong fix */
        s = lt_set_error(LT_ERR_FORMAT,
                         "%s/train-images-idx3-ubyte.gz holds 0 images, so there is "
                         "nothing to train or validate on %s",
                         root, FM_FIX);
    else if (val < 0 || val >= n)
        s = lt_set_error(LT_ERR_INVALID_ARG,
                         "--data.val_size %lld must be in [0, %lld), the "
                         "number of training images",
                         (long long)val, (long long)n);
    else if (!(fm->perm = malloc((size_t)n * sizeof *fm->perm)))
        s = lt_set_error(LT_ERR_OOM, "fashion_mnist: out of memory");
    if (s != LT_OK) { /* a later setup starts over from nothing */
        lt_idx_free(&fm->train_images);
        lt_idx_free(&fm->train_labels);
        return s;
    }
    lt_rng_t r = lt_rng_make((uint64_t)lt_hparam_int(ctx, "split_seed"), 0);
    lt_randperm(&r, n, fm->perm);
    fm->n_train = n - val;
    fm->n_val = val;
    fm->train = (fm_split){fm->train_images.data, fm->train_labels.data, fm->perm};
    fm->val = (fm_split){fm->train_images.data, fm->train_labels.data, fm->perm + (n - val)};
    return LT_OK;
}

/* The t10k files, shared by the test and predict splits. */
static lt_status load_test(fm_t *fm, const char *root) {
    if (fm->test.images) return LT_OK;
    lt_status s = load_pair(root, "t10k", &fm->test_images, &fm->test_labels);
    if (s == LT_OK) fm->test = (fm_split){fm->test_images.data, fm->test_labels.data, NULL};
    return s;
}

/* Loader options are checked here too, so the message names the flag to change. */
static lt_status check_hparams(lt_ctx_t *ctx) {
    int64_t bs = lt_hparam_int(ctx, "batch_size"), nw = lt_hparam_int(ctx, "num_workers");
    if (bs < 1)
        return lt_set_error(LT_ERR_INVALID_ARG, "--data.batch_size %lld must be >= 1",
                            (long long)bs);
    if (nw < LT_LOADER_WORKERS_AUTO || nw > 64)
        return lt_set_error(LT_ERR_INVALID_ARG,
                            "--data.num_workers %lld must be in [0, 64], or -1 "
                            "(one background thread unless this process is bound to one core)",
                            (long long)nw);
    return LT_OK;
}

static lt_status setup_fit(lt_ctx_t *ctx, fm_t *fm, const char *root) {
    lt_status s = load_train(ctx, fm, root);
    if (s == LT_OK) s = add_split(ctx, LT_SPLIT_TRAIN, &fm->train, fm->n_train, true);
    if (s == LT_OK && fm->n_val > 0) s = add_split(ctx, LT_SPLIT_VAL, &fm->val, fm->n_val, false);
    return s;
}

static lt_status setup_validate(lt_ctx_t *ctx, fm_t *fm, const char *root) {
    lt_status s = load_train(ctx, fm, root);
    if (s == LT_OK && fm->n_val == 0)
        return lt_set_error(LT_ERR_INVALID_ARG, "--data.val_size is 0, so there is no validation "
                                                "split to validate on; set --data.val_size > 0");
    return s == LT_OK ? add_split(ctx, LT_SPLIT_VAL, &fm->val, fm->n_val, false) : s;
}

static lt_status fm_setup(lt_ctx_t *ctx, void *self, const char *stage) {
    fm_t *fm = self;
    const char *root = lt_hparam_str(ctx, "root");
    lt_status s = check_hparams(ctx);
    if (s != LT_OK) return s;
    if (!strcmp(stage, "fit")) return setup_fit(ctx, fm, root);
    if (!strcmp(stage, "validate")) return setup_validate(ctx, fm, root);
    bool test = !strcmp(stage, "test");
    if (!test && strcmp(stage, "predict"))
        return lt_set_error(LT_ERR_INVALID_ARG,
                            "fashion_mnist: unknown stage '%s' (expected fit, "
                            "validate, test or predict)",
                            stage);
    if ((s = load_test(fm, root)) != LT_OK) return s;
    return add_split(ctx, test ? LT_SPLIT_TEST : LT_SPLIT_PREDICT, &fm->test,
                     fm->test_images.dims[0], false);
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
