/* batch_dump — a module that trains nothing and writes every batch it is given to
 * --model.out, one line per sample: "<split> <batch_idx> <x values> | <y values>"
 * (float32 as %.9g, int64 as integers). The data plugins' round-trip tests compare
 * these lines with the values they generated (tests/e2e/test_data_*.sh). */
#include <lt/lt.h>
#include <stdio.h>
#include <stdlib.h>

static const lt_hparam_desc dump_hparams[] = {
    LT_HPARAM_STR("out", "batches.txt", "file the batches are appended to"),
    LT_HPARAM_END,
};

/* A tensor's values on the host, as text after a separator. */
static void write_values(FILE *f, const lt_tensor_t *t, int64_t row, int64_t per_row,
                         const void *buf) {
    for (int64_t j = 0; j < per_row; j++) {
        int64_t k = row * per_row + j;
        if (lt_dtype_of(t) == LT_F32)
            fprintf(f, " %.9g", (double)((const float *)buf)[k]);
        else
            fprintf(f, " %lld", (long long)((const int64_t *)buf)[k]);
    }
}

static void *host_copy(const lt_tensor_t *t) {
    size_t bytes = (size_t)lt_numel(t) * (lt_dtype_of(t) == LT_F32 ? 4 : 8);
    void *buf = malloc(bytes + 1);
    if (buf && lt_to_host(t, buf, bytes) != LT_OK) {
        free(buf);
        return NULL;
    }
    return buf;
}

static lt_tensor_t *dump(lt_ctx_t *ctx, const char *split, const lt_batch_t *b, int64_t idx) {
    FILE *f = fopen(lt_hparam_str(ctx, "out"), "a");
    void *x = host_copy(b->x), *y = host_copy(b->y);
    if (!f || !x || !y) {
        lt_set_error(LT_ERR_IO, "batch_dump: cannot write %s", lt_hparam_str(ctx, "out"));
    } else {
        int64_t xr = lt_numel(b->x) / b->size, yr = lt_numel(b->y) / b->size;
        for (int64_t i = 0; i < b->size; i++) {
            fprintf(f, "%s %lld", split, (long long)idx);
            write_values(f, b->x, i, xr, x);
            fputs(" |", f);
            write_values(f, b->y, i, yr, y);
            fputc('\n', f);
        }
    }
    if (f) fclose(f);
    free(x);
    free(y);
    return NULL; /* nothing to train: the step is skipped */
}

static lt_status dump_setup(lt_ctx_t *ctx, void *self) {
    (void)self;
    lt_linear(ctx, "unused", 1, 1); /* an optimizer needs a parameter */
    return lt_ok(ctx);
}

#define DUMP_STEP(split)                                                                           \
    static lt_tensor_t *split##_step(lt_ctx_t *ctx, void *self, const lt_batch_t *b, int64_t i) {  \
        (void)self;                                                                                \
        return dump(ctx, #split, b, i);                                                            \
    }
DUMP_STEP(train)
DUMP_STEP(val)
DUMP_STEP(test)
DUMP_STEP(predict)

static lt_status dump_configure_optimizers(lt_ctx_t *ctx, void *self) {
    (void)self;
    return lt_use_optimizer(ctx, lt_sgd(lt_parameters(ctx), 0.1));
}

LT_MODULE_EXPORT(char, .name = "batch_dump", .hparams = dump_hparams, .setup = dump_setup,
                 .training_step = train_step, .validation_step = val_step, .test_step = test_step,
                 .predict_step = predict_step, .configure_optimizers = dump_configure_optimizers)
