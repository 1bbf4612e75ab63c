/* batch_dump — a module that trains nothing and writes every batch it is given to
 * --model.out, one line per sample: "<split> <batch_idx> <x values> | <y values>", or
 * for a batch of named fields each field's values in order, separated by " |"
 * (float32 as %.9g, int64 and uint8 as integers, float16 and bfloat16 as %.9g of their
 * value; with --model.to_f32 D those three first become float32 / D on the device by
 * lt_to_f32). The data plugins' round-trip tests compare
 * these lines with the values they generated (tests/e2e/test_data_*.sh). */
#include <lt/lt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const lt_hparam_desc dump_hparams[] = {
    LT_HPARAM_STR("out", "batches.txt", "file the batches are appended to ('': none, a bench)"),
    LT_HPARAM_STR("require", "", "a field every batch must have (lt_batch_get)"),
    LT_HPARAM_STR("x_dtype", "", "when set: fail unless field x has this dtype (lt_dtype_name)"),
    LT_HPARAM_FLOAT("to_f32", 0,
                    "when not 0: fields of other dtypes are first converted on the "
                    "device by lt_to_f32(field, to_f32)"),
    LT_HPARAM_END,
};

/* A tensor's values on the host, as text after a separator. */
static void write_values(FILE *f, const lt_tensor_t *t, int64_t row, int64_t per_row,
                         const void *buf) {
    for (int64_t j = 0; j < per_row; j++) {
        int64_t k = row * per_row + j;
        switch (lt_dtype_of(t)) {
        case LT_F32: fprintf(f, " %.9g", (double)((const float *)buf)[k]); break;
        case LT_U8: fprintf(f, " %u", (unsigned)((const uint8_t *)buf)[k]); break;
        case LT_F16: fprintf(f, " %.9g", (double)lt_f16_to_f32(((const uint16_t *)buf)[k])); break;
        case LT_BF16:
            fprintf(f, " %.9g", (double)lt_bf16_to_f32(((const uint16_t *)buf)[k]));
            break;
        default: fprintf(f, " %lld", (long long)((const int64_t *)buf)[k]);
        }
    }
}

static size_t elem_size(lt_dtype dt) {
    return dt == LT_I64 ? 8 : dt == LT_U8 ? 1 : dt == LT_F16 || dt == LT_BF16 ? 2 : 4;
}

static void *host_copy(const lt_tensor_t *t) {
    size_t bytes = (size_t)lt_numel(t) * elem_size(lt_dtype_of(t));
    void *buf = malloc(bytes + 1);
    if (buf && lt_to_host(t, buf, bytes) != LT_OK) {
        free(buf);
        return NULL;
    }
    return buf;
}

/* The batch's fields in order (lt_batch_get by name: x and y for an x/y batch). */
static int field_list(const lt_batch_t *b, lt_tensor_t *out[LT_MAX_FIELDS]) {
    if (b->nfields == 0) {
        out[0] = lt_batch_get(b, "x"), out[1] = lt_batch_get(b, "y");
        return 2;
    }
    for (int k = 0; k < b->nfields; k++) out[k] = lt_batch_get(b, b->names[k]);
    return b->nfields;
}

/* --model.x_dtype's check of x, then --model.to_f32's conversion of the storage dtypes. */
static bool check_and_convert(lt_ctx_t *ctx, lt_tensor_t **t, int n) {
    const char *want = lt_hparam_str(ctx, "x_dtype");
    if (*want && t[0] && strcmp(lt_dtype_name(lt_dtype_of(t[0])), want)) {
        lt_set_error(LT_ERR_DTYPE, "batch_dump: x is %s, not %s", lt_dtype_name(lt_dtype_of(t[0])),
                     want);
        return false;
    }
    float divisor = (float)lt_hparam_float(ctx, "to_f32");
    for (int k = 0; k < n && divisor != 0; k++)
        if (t[k] && lt_dtype_of(t[k]) != LT_F32 && lt_dtype_of(t[k]) != LT_I64)
            t[k] = lt_to_f32(t[k], divisor);
    return true;
}

static lt_tensor_t *dump(lt_ctx_t *ctx, const char *split, const lt_batch_t *b, int64_t idx) {
    lt_tensor_t *t[LT_MAX_FIELDS];
    void *host[LT_MAX_FIELDS] = {0};
    const char *require = lt_hparam_str(ctx, "require");
    if (!*lt_hparam_str(ctx, "out")) return NULL; /* --model.out '': read batches only (bench) */
    if (*require && !lt_batch_get(b, require)) return NULL; /* its error stops the run */
    int n = field_list(b, t);
    if (!check_and_convert(ctx, t, n)) return NULL;
    bool ok = true;
    for (int k = 0; k < n; k++) ok = ok && t[k] && (host[k] = host_copy(t[k]));
    FILE *f = ok ? fopen(lt_hparam_str(ctx, "out"), "a") : NULL;
    if (!f) lt_set_error(LT_ERR_IO, "batch_dump: cannot write %s", lt_hparam_str(ctx, "out"));
    for (int64_t i = 0; f && i < b->size; i++) {
        fprintf(f, "%s %lld", split, (long long)idx);
        for (int k = 0; k < n; k++) {
            if (k) fputs(" |", f);
            write_values(f, t[k], i, lt_numel(t[k]) / b->size, host[k]);
        }
        fputc('\n', f);
    }
    if (f) fclose(f);
    for (int k = 0; k < n; k++) free(host[k]);
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
