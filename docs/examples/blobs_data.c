/* blobs — the data plugin of docs/data.md ("Writing your own data plugin"), built with the
 * project and trained on by tests/e2e/test_data_own_plugin.sh. Two classes of 2-d points
 * around (-1.5, -1.5) and (1.5, 1.5); point g (g counts train, then val, then test) is
 * drawn from (--data.seed, g) alone, so fills need no memory and any worker can make any
 * sample. Build: cc -shared -fPIC blobs_data.c $(pkg-config --cflags --libs lt) -o blobs.so */
#include <lt/lt.h>
#include <string.h>

static const lt_hparam_desc blobs_hparams[] = {
    LT_HPARAM_INT("samples", 1000, "training points (val and test get a tenth as many each)"),
    LT_HPARAM_INT("seed", 0, "seed the points are drawn from"),
    LT_HPARAM_FLOAT("spread", 1.0, "standard deviation of each coordinate around its centre"),
    LT_HPARAM_INT("batch_size", 32, "samples per batch"),
    LT_HPARAM_END,
};

typedef struct blobs_t {
    uint64_t seed;
    float spread;
    int64_t first[LT_SPLIT_COUNT]; /* point number of each split's sample 0 */
} blobs_t;

/* splitmix64: a well-mixed 64-bit value from a counter. */
static uint64_t mix(uint64_t z) {
    z += 0x9e3779b97f4a7c15u;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

/* Called from the loader's worker threads at once: it reads self and writes only x, y. */
static lt_status blobs_fill(void *user, lt_split split, const int64_t *idx, int64_t n, float *x,
                            void *y) {
    const blobs_t *d = user;
    for (int64_t i = 0; i < n; i++) {
        uint64_t g = (uint64_t)(d->first[split] + idx[i]), h = mix(d->seed ^ mix(g));
        int64_t label = (int64_t)(h & 1);
        for (int c = 0; c < 2; c++) {
            /* four uniforms summed: mean 2, variance 1/3, close enough to a normal here */
            float u = 0;
            for (int k = 0; k < 4; k++) u += (float)((h = mix(h)) >> 40) / (float)(1 << 24);
            x[2 * i + c] = (label ? 1.5f : -1.5f) + d->spread * 1.7320508f * (u - 2);
        }
        ((int64_t *)y)[i] = label;
    }
    return LT_OK;
}

static lt_status add(lt_ctx_t *ctx, blobs_t *d, lt_split split, int64_t length, bool shuffle) {
    lt_dataset ds = {.struct_size = sizeof ds,
                     .length = length,
                     .x_ndim = 1,
                     .x_shape = {2},
                     .y_dtype = LT_I64,
                     .fill_split = blobs_fill,
                     .user = d};
    lt_loader_opts o = {.struct_size = sizeof o,
                        .batch_size = lt_hparam_int(ctx, "batch_size"),
                        .shuffle = shuffle,
                        .num_workers = LT_LOADER_WORKERS_AUTO};
    return lt_data_add_split(ctx, split, &ds, &o);
}

/* Runs once per stage (again for the test after fit): registers the splits it needs. */
static lt_status blobs_setup(lt_ctx_t *ctx, void *self, const char *stage) {
    blobs_t *d = self;
    int64_t n = lt_hparam_int(ctx, "samples");
    double spread = lt_hparam_float(ctx, "spread");
    if (n < 10 || n > ((int64_t)1 << 40))
        return lt_set_error(LT_ERR_INVALID_ARG, "--data.samples %lld must be in [10, 2^40]",
                            (long long)n);
    if (!(spread > 0 && spread <= 1e6))
        return lt_set_error(LT_ERR_INVALID_ARG, "--data.spread %g must be in (0, 1e6]", spread);
    if (lt_hparam_int(ctx, "batch_size") < 1)
        return lt_set_error(LT_ERR_INVALID_ARG, "--data.batch_size must be >= 1");
    d->seed = (uint64_t)lt_hparam_int(ctx, "seed");
    d->spread = (float)spread;
    d->first[LT_SPLIT_TRAIN] = 0;
    d->first[LT_SPLIT_VAL] = n;
    d->first[LT_SPLIT_TEST] = d->first[LT_SPLIT_PREDICT] = n + n / 10;
    if (!strcmp(stage, "fit")) {
        lt_status s = add(ctx, d, LT_SPLIT_TRAIN, n, true);
        return s == LT_OK ? add(ctx, d, LT_SPLIT_VAL, n / 10, false) : s;
    }
    if (!strcmp(stage, "validate")) return add(ctx, d, LT_SPLIT_VAL, n / 10, false);
    if (!strcmp(stage, "test")) return add(ctx, d, LT_SPLIT_TEST, n / 10, false);
    return add(ctx, d, LT_SPLIT_PREDICT, n / 10, false); /* predict: the test points */
}

LT_DATAMODULE_EXPORT(blobs_t, .name = "blobs", .hparams = blobs_hparams, .setup = blobs_setup)
