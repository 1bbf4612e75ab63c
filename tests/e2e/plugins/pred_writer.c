/* pred_writer.so: a BasePredictionWriter (write_interval batch_and_epoch) that writes each
 * batch's predictions as CSV rows ("%.9g", as --predict.output x.csv does) to
 * --callbacks.path, and at the end a line "epoch: N batches, R rows" from the predictions
 * write_on_epoch_end received (tests/e2e/test_builtin_callbacks.sh). Built a second time
 * with -DPRED_WRITER_BAD as pred_writer_bad.so, whose write_interval the loader refuses. */
#include <lt/lt.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct {
    int unused;
} writer_t;

static const lt_hparam_desc hparams[] = {
    LT_HPARAM_STR("path", "written.csv", "file the predictions go to"),
    LT_HPARAM_END,
};

static lt_status write_on_batch_end(lt_ctx_t *ctx, void *self, lt_tensor_t *pred,
                                    const lt_batch_t *batch, int64_t batch_idx) {
    (void)self, (void)batch_idx;
    int64_t n = lt_numel(pred), rows = lt_dim(pred, 0), cols = rows ? n / rows : 0;
    if (rows != batch->size)
        return lt_set_error(LT_ERR_STATE, "pred_writer: %lld rows for a batch of %lld",
                            (long long)rows, (long long)batch->size);
    float *v = malloc((size_t)n * sizeof *v);
    FILE *f = fopen(lt_hparam_str(ctx, "path"), "a");
    lt_status st = v && f ? lt_to_host(pred, v, (size_t)n * sizeof *v) : LT_ERR_IO;
    for (int64_t r = 0; st == LT_OK && r < rows; r++)
        for (int64_t c = 0; c < cols; c++)
            fprintf(f, c + 1 < cols ? "%.9g," : "%.9g\n", v[r * cols + c]);
    if (f) fclose(f);
    free(v);
    return st == LT_OK
               ? LT_OK
               : lt_set_error(st, "pred_writer: cannot write %s", lt_hparam_str(ctx, "path"));
}

static lt_status write_on_epoch_end(lt_ctx_t *ctx, void *self, lt_tensor_t *const *preds,
                                    int64_t n) {
    (void)self;
    int64_t rows = 0;
    for (int64_t i = 0; i < n; i++) rows += lt_dim(preds[i], 0);
    FILE *f = fopen(lt_hparam_str(ctx, "path"), "a");
    if (!f) return lt_set_error(LT_ERR_IO, "pred_writer: cannot open the file");
    fprintf(f, "epoch: %lld batches, %lld rows\n", (long long)n, (long long)rows);
    fclose(f);
    return LT_OK;
}

#ifdef PRED_WRITER_BAD /* pred_writer_bad.so: an interval Lightning does not have */
#define INTERVAL "sometimes"
#else
#define INTERVAL "batch_and_epoch"
#endif

LT_CALLBACK_EXPORT(writer_t, .name = "pred_writer", .hparams = hparams, .write_interval = INTERVAL,
                   .write_on_batch_end = write_on_batch_end,
                   .write_on_epoch_end = write_on_epoch_end);
