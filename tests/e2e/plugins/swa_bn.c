/* swa_bn.so: the LightningModule of tests/reference/swa_batch_norm.py in C: Linear(3, 4),
 * BatchNorm1d(4), ReLU, Linear(4, 1), MSE loss, SGD lr 0.1. StochasticWeightAveraging
 * recomputes its batch norm statistics for the averaged weights in one more epoch;
 * on_fit_end prints "state NAME v ..." for every parameter and buffer, in torch's
 * state_dict order, for tests/e2e/test_swa_batch_norm.sh to compare with
 * tests/fixtures/swa_bn_lightning.txt. Built a second time with -DSWA_BN_DATA as
 * swa_bn_data.so: the script's 10 samples, in batches of 4 (4, 4, 2), unshuffled. */
#include <lt/lt.h>

#if defined(SWA_BN_DATA)

typedef struct {
    int unused;
} data_t;

/* Exact in float32: x[i, j] = ((7i + 3j) % 11 - 5) / 4, y[i] = ((5i) % 7 - 3) / 2. */
static lt_status fill(void *user, const int64_t *idx, int64_t n, float *x, void *y) {
    (void)user;
    for (int64_t k = 0; k < n; k++) {
        int64_t i = idx[k];
        for (int64_t j = 0; j < 3; j++) x[3 * k + j] = (float)((7 * i + 3 * j) % 11 - 5) / 4.0f;
        ((float *)y)[k] = (float)((5 * i) % 7 - 3) / 2.0f;
    }
    return LT_OK;
}

static lt_status data_setup(lt_ctx_t *ctx, void *self, const char *stage) {
    (void)self, (void)stage;
    lt_dataset ds = {.struct_size = sizeof ds,
                     .length = 10,
                     .x_ndim = 1,
                     .x_shape = {3},
                     .y_dtype = LT_F32,
                     .y_ndim = 1,
                     .y_shape = {1},
                     .fill = fill};
    lt_loader_opts opts = {.struct_size = sizeof opts, .batch_size = 4};
    return lt_data_add_split(ctx, LT_SPLIT_TRAIN, &ds, &opts);
}

LT_DATAMODULE_EXPORT(data_t, .name = "swa_bn_data", .setup = data_setup);

#else

#include <stdio.h>

typedef struct {
    lt_linear_t *fc1, *fc2;
    lt_batchnorm_t *bn;
} model_t;

static lt_status setup(lt_ctx_t *ctx, void *self) {
    model_t *m = self;
    m->fc1 = lt_linear(ctx, "fc1", 3, 4);
    m->bn = lt_batchnorm(ctx, "bn", 4);
    m->fc2 = lt_linear(ctx, "fc2", 4, 1);
    return lt_ok(ctx);
}

static lt_tensor_t *training_step(lt_ctx_t *ctx, void *self, const lt_batch_t *b, int64_t i) {
    (void)ctx, (void)i;
    model_t *m = self;
    lt_tensor_t *h = lt_relu(lt_batchnorm_forward(m->bn, lt_linear_forward(m->fc1, b->x)));
    return lt_mse_loss(lt_linear_forward(m->fc2, h), b->y);
}

static lt_status configure_optimizers(lt_ctx_t *ctx, void *self) {
    (void)self;
    return lt_use_optimizer(ctx, lt_sgd(lt_parameters(ctx), 0.1));
}

/* "state NAME v ..." (at most 16 values; int64 buffers as integers). */
static lt_status print_state(lt_ctx_t *ctx, const char *name, lt_tensor_t *t) {
    int64_t n = lt_numel(t);
    if (n > 16) return lt_set_error(LT_ERR_SHAPE, "swa_bn: %s has %lld values", name, (long long)n);
    char line[512];
    int len = snprintf(line, sizeof line, "state %s", name);
    if (lt_dtype_of(t) == LT_I64) {
        int64_t v = 0;
        lt_status r = lt_to_host(t, &v, sizeof v);
        if (r != LT_OK) return r;
        snprintf(line + len, sizeof line - (size_t)len, " %lld", (long long)v);
    } else {
        float v[16];
        lt_status r = lt_to_host(t, v, (size_t)n * sizeof *v);
        if (r != LT_OK) return r;
        for (int64_t i = 0; i < n && len < (int)sizeof line; i++)
            len += snprintf(line + len, sizeof line - (size_t)len, " %.9g", v[i]);
    }
    lt_print(ctx, "%s", line);
    return LT_OK;
}

static lt_status on_fit_end(lt_ctx_t *ctx, void *self) {
    model_t *m = self;
    struct {
        const char *name;
        lt_tensor_t *t;
    } state[] = {{"fc1.weight", m->fc1->weight},
                 {"fc1.bias", m->fc1->bias},
                 {"bn.weight", m->bn->weight},
                 {"bn.bias", m->bn->bias},
                 {"bn.running_mean", m->bn->running_mean},
                 {"bn.running_var", m->bn->running_var},
                 {"bn.num_batches_tracked", m->bn->num_batches_tracked},
                 {"fc2.weight", m->fc2->weight},
                 {"fc2.bias", m->fc2->bias}};
    for (size_t i = 0; i < sizeof state / sizeof *state; i++) {
        lt_status r = print_state(ctx, state[i].name, state[i].t);
        if (r != LT_OK) return r;
    }
    return LT_OK;
}

LT_MODULE_EXPORT(model_t, .name = "swa_bn", .setup = setup, .training_step = training_step,
                 .configure_optimizers = configure_optimizers, .on_fit_end = on_fit_end)

#endif
