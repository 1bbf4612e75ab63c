/* log_reduce.so: the LightningModule of tests/reference/log_reduce.py in C, logging one
 * number per batch with every reduce_fx, an explicit batch_size and lt_log_dict, so that
 * lthost's metrics.csv can be compared with tests/fixtures/log_reduce_lightning.csv.
 * Built a second time with -DLOG_REDUCE_DATA as log_reduce_data.so: its 10 samples of
 * zeros, in batches of 4 (4, 4, 2), as the script's DataLoader. */
#include <lt/lt.h>

#if defined(LOG_REDUCE_DATA)

typedef struct {
    int unused;
} data_t;

static lt_status fill(void *user, const int64_t *idx, int64_t n, float *x, void *y) {
    (void)user, (void)idx;
    for (int64_t i = 0; i < n; i++) x[2 * i] = x[2 * i + 1] = ((float *)y)[i] = 0.0f;
    return LT_OK;
}

static lt_status data_setup(lt_ctx_t *ctx, void *self, const char *stage) {
    (void)self, (void)stage;
    lt_dataset ds = {.struct_size = sizeof ds,
                     .length = 10,
                     .x_ndim = 1,
                     .x_shape = {2},
                     .y_dtype = LT_F32,
                     .y_ndim = 1,
                     .y_shape = {1},
                     .fill = fill};
    lt_loader_opts opts = {.struct_size = sizeof opts, .batch_size = 4};
    return lt_data_add_split(ctx, LT_SPLIT_TRAIN, &ds, &opts);
}

LT_DATAMODULE_EXPORT(data_t, .name = "log_reduce_data", .setup = data_setup);

#else

typedef struct {
    lt_linear_t *layer;
} model_t;

/* --model.sync true: every value is logged with sync_dist and offset by 100 x the rank,
 * so that the ranks' sum, max and min differ from any one rank's (test_log_options.sh). */
static const lt_hparam_desc model_hparams[] = {
    LT_HPARAM_BOOL("sync", false, "log with LT_LOG_SYNC_DIST, values offset by 100 x rank"),
    LT_HPARAM_END,
};

static lt_status setup(lt_ctx_t *ctx, void *self) {
    ((model_t *)self)->layer = lt_linear(ctx, "layer", 2, 1);
    return lt_ok(ctx);
}

static lt_tensor_t *training_step(lt_ctx_t *ctx, void *self, const lt_batch_t *b, int64_t i) {
    model_t *m = self;
    int64_t one[1] = {1};
    bool sync = lt_hparam_bool(ctx, "sync");
    double v = 10.0 * (double)lt_current_epoch(ctx) + (double)i + 1 +
               (sync ? 100.0 * lt_trainer_global_rank(lt_trainer(ctx)) : 0.0);
    lt_tensor_t *t = lt_full(lt_ctx_arena(ctx), 1, one, (float)v);
    const unsigned epoch = LT_LOG_ON_EPOCH | (sync ? LT_LOG_SYNC_DIST : 0u);
    lt_log(ctx, "v_mean", t, epoch);
    lt_log(ctx, "v_sum", t, epoch | LT_LOG_REDUCE_SUM);
    lt_log(ctx, "v_max", t, epoch | LT_LOG_REDUCE_MAX);
    lt_log_value(ctx, "v_min", v, epoch | LT_LOG_REDUCE_MIN); /* a host number, reduced alike */
    lt_log_with(ctx, "v_bs1", t, &LT_LOG_OPTS(.flags = epoch, .batch_size = 1));
    lt_log_item items[] = {{"d_twice", lt_scale(t, 2.0f), 0}, {"d_const", NULL, 1.5}};
    lt_log_dict(ctx, items, 2, &LT_LOG_OPTS(.flags = epoch));
    if (i == 0 && lt_current_epoch(ctx) == 0) lt_print(ctx, "log_reduce: printed once");
    return lt_mse_loss(lt_linear_forward(m->layer, b->x), b->y);
}

static lt_status configure_optimizers(lt_ctx_t *ctx, void *self) {
    (void)self;
    return lt_use_optimizer(ctx, lt_sgd(lt_parameters(ctx), 0.01));
}

LT_MODULE_EXPORT(model_t, .name = "log_reduce", .hparams = model_hparams, .setup = setup,
                 .training_step = training_step, .configure_optimizers = configure_optimizers);

#endif
