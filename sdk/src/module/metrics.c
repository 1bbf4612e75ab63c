/* lt_log: values accumulate on the device (sum of value x batch size) and are read back
 * only when the host asks, so logging never synchronises a step. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "ctx_impl.h"

static metric *find_or_add(lt_ctx_t *ctx, const char *name, unsigned flags) {
    for (int i = 0; i < ctx->nmetrics; i++)
        if (strcmp(ctx->metrics[i].name, name) == 0) return &ctx->metrics[i];
    if (ctx->nmetrics == LT_MAX_METRICS) {
        lt_set_error(LT_ERR_INVALID_ARG, "lt_log: more than %d metric names", LT_MAX_METRICS);
        return NULL;
    }
    if (strlen(name) >= LT_METRIC_NAME || !*name) {
        lt_set_error(LT_ERR_INVALID_ARG, "lt_log: metric name '%s' must have 1 to %d characters",
                     name, LT_METRIC_NAME - 1);
        return NULL;
    }
    metric *m = &ctx->metrics[ctx->nmetrics];
    if (!m->acc && ctx->dev && !(m->acc = lt__storage_new(ctx->dev, 2 * sizeof(float))))
        return NULL;
    snprintf(m->name, sizeof m->name, "%s", name);
    m->flags = flags;
    m->host_sum = m->weight = 0.0;
    if (m->acc) ctx->dev->k.fill(ctx->dev->state, 2, 0.0f, m->acc->data);
    ctx->nmetrics++;
    return m;
}

lt_status lt_log(lt_ctx_t *ctx, const char *name, lt_tensor_t *value, unsigned flags) {
    if (!value) return lt_last_status() ? lt_last_status() : LT_ERR_INVALID_ARG;
    if (!ctx || !name) return lt_set_error(LT_ERR_INVALID_ARG, "lt_log: NULL argument");
    if (value->dtype != LT_F32 || value->numel != 1)
        return lt_set_error(LT_ERR_INVALID_ARG, "lt_log('%s'): expected a one-element float32 "
                            "tensor (reduce it with lt_mean first)", name);
    metric *m = find_or_add(ctx, name, flags);
    if (!m) return lt_last_status();
    float *acc = m->acc->data;
    lt_device_t *dev = ctx->dev;
    dev->k.affine(dev->state, 1, lt__f32(value), (float)ctx->batch_size, 0.0f, acc + 1);
    dev->k.binary(dev->state, LT_BIN_ADD, 1, acc, acc + 1, acc, NULL);
    m->weight += (double)ctx->batch_size;
    return LT_OK;
}

lt_status lt_log_value(lt_ctx_t *ctx, const char *name, double value, unsigned flags) {
    if (!ctx || !name) return lt_set_error(LT_ERR_INVALID_ARG, "lt_log_value: NULL argument");
    metric *m = find_or_add(ctx, name, flags);
    if (!m) return lt_last_status();
    m->host_sum += value * (double)ctx->batch_size;
    m->weight += (double)ctx->batch_size;
    return LT_OK;
}

int lt_ctx_metric_count(const lt_ctx_t *ctx) { return ctx->nmetrics; }

const char *lt_ctx_metric(lt_ctx_t *ctx, int i, unsigned *flags, double *mean) {
    if (i < 0 || i >= ctx->nmetrics) return NULL;
    metric *m = &ctx->metrics[i];
    float dev_sum = 0.0f;
    if (m->acc) ctx->dev->k.memcpy_d2h(ctx->dev->state, &dev_sum, m->acc->data, sizeof dev_sum);
    if (flags) *flags = m->flags;
    if (mean) *mean = m->weight > 0 ? ((double)dev_sum + m->host_sum) / m->weight : NAN;
    return m->name;
}

/* Accumulators are kept for reuse: resetting allocates nothing. */
void lt_ctx_metrics_reset(lt_ctx_t *ctx) { ctx->nmetrics = 0; }

void lt__metrics_free(lt_ctx_t *ctx) {
    for (int i = 0; i < LT_MAX_METRICS; i++) {
        if (ctx->metrics[i].acc) lt__storage_release(ctx->metrics[i].acc);
        ctx->metrics[i].acc = NULL;
    }
}
