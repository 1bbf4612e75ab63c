/* lt_log: values accumulate on the device (sum of value x batch size, and the latest
 * value) and are read back only when the host asks, so logging never synchronises a
 * step. Metrics are keyed by (scope, name): each loop has its own, as in Lightning. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "ctx_impl.h"

enum { ACC_SUM, ACC_SCRATCH, ACC_LAST, ACC_FLOATS };

static unsigned with_defaults(const lt_ctx_t *ctx, unsigned flags) {
    if (!(flags & (LT_LOG_ON_STEP | LT_LOG_ON_EPOCH)))
        flags |= ctx->log_defaults & (LT_LOG_ON_STEP | LT_LOG_ON_EPOCH);
    return flags;
}

static metric *find_or_add(lt_ctx_t *ctx, const char *name, unsigned flags) {
    for (int i = 0; i < ctx->nmetrics; i++) {
        metric *m = &ctx->metrics[i];
        if (m->scope != ctx->log_scope || m->dataloader_idx != ctx->dataloader_idx ||
            strcmp(m->name, name) != 0)
            continue;
        m->flags = flags;
        return m;
    }
    if (ctx->nmetrics == LT_MAX_METRICS) {
        lt_set_error(LT_ERR_INVALID_ARG, "lt_log: more than %d metric names", LT_MAX_METRICS);
        return NULL;
    }
    /* room for "_epoch", and for "/dataloader_idx_K" in a callback metric's 80 bytes */
    size_t max = ctx->dataloader_idx >= 0 ? LT_METRIC_NAME - 8 : LT_METRIC_NAME - 7;
    if (strlen(name) > max || !*name) {
        lt_set_error(LT_ERR_INVALID_ARG, "lt_log: metric name '%s' must have 1 to %zu characters",
                     name, max);
        return NULL;
    }
    metric *m = &ctx->metrics[ctx->nmetrics];
    if (!m->acc && ctx->dev && !(m->acc = lt__storage_new(ctx->dev, ACC_FLOATS * sizeof(float))))
        return NULL;
    snprintf(m->name, sizeof m->name, "%s", name);
    m->scope = ctx->log_scope;
    m->dataloader_idx = ctx->dataloader_idx;
    m->flags = flags;
    m->host_sum = m->weight = 0.0;
    m->dev_count = m->host_count = 0;
    if (m->acc) ctx->dev->k.fill(ctx->dev->state, ACC_FLOATS, 0.0f, m->acc->data);
    ctx->nmetrics++;
    return m;
}

/* The reduce_fx bits of flags (0: mean). */
static unsigned reduce_of(unsigned flags) { return flags & LT_LOG_REDUCE_MASK; }

/* rank_zero_only: Lightning's sync becomes a no-op (only rank 0 logs, so no collective). */
static unsigned effective(const lt_ctx_t *ctx, unsigned flags) {
    flags = with_defaults(ctx, flags);
    return flags & LT_LOG_RANK_ZERO_ONLY ? flags & ~LT_LOG_SYNC_DIST : flags;
}

/* The metric name logs into, refusing a second reduce_fx within one epoch (Lightning
 * refuses one key logged with different arguments). */
static metric *metric_for(lt_ctx_t *ctx, const char *name, unsigned flags) {
    for (int i = 0; i < ctx->nmetrics; i++) {
        const metric *m = &ctx->metrics[i];
        if (m->scope == ctx->log_scope && !strcmp(m->name, name) && m->weight > 0 &&
            reduce_of(m->flags) != reduce_of(flags)) {
            lt_set_error(LT_ERR_INVALID_ARG,
                         "lt_log('%s'): logged with another reduce_fx earlier in this epoch; "
                         "log each name with one reduce_fx",
                         name);
            return NULL;
        }
    }
    return find_or_add(ctx, name, flags);
}

/* acc[0] = reduce(acc[0], v) on the device, for sum, max and min (max(a, v) is
 * a + relu(v - a), min(a, v) is a - relu(a - v): existing kernel slots only). */
static void reduce_on_device(lt_device_t *dev, unsigned fx, float *acc, const float *v,
                             bool first) {
    float *scratch = acc + ACC_SCRATCH;
    if (first) {
        dev->k.affine(dev->state, 1, v, 1.0f, 0.0f, acc);
    } else if (fx == LT_LOG_REDUCE_SUM) {
        dev->k.binary(dev->state, LT_BIN_ADD, 1, acc, v, acc, NULL);
    } else {
        bool max = fx == LT_LOG_REDUCE_MAX;
        dev->k.binary(dev->state, LT_BIN_SUB, 1, max ? v : acc, max ? acc : v, scratch, NULL);
        dev->k.unary(dev->state, LT_UN_RELU, 1, scratch, scratch);
        dev->k.binary(dev->state, max ? LT_BIN_ADD : LT_BIN_SUB, 1, acc, scratch, acc, NULL);
    }
}

static double reduce_host(unsigned fx, double a, double v) {
    if (fx == LT_LOG_REDUCE_SUM) return a + v;
    if (fx == LT_LOG_REDUCE_MAX) return v > a || isnan(v) ? v : a;
    return v < a || isnan(v) ? v : a;
}

lt_status lt__log_tensor(lt_ctx_t *ctx, const char *name, lt_tensor_t *value, unsigned flags,
                         int64_t batch_size) {
    if (!value) return lt_last_status() ? lt_last_status() : LT_ERR_INVALID_ARG;
    if (!ctx || !name) return lt_set_error(LT_ERR_INVALID_ARG, "lt_log: NULL argument");
    if (!lt__check_live(value, "lt_log")) return lt_last_status();
    if (value->dtype != LT_F32 || value->numel != 1) {
        char shape[96];
        return lt_set_error(LT_ERR_INVALID_ARG,
                            "lt_log('%s'): expected a one-element float32 "
                            "tensor, got a %s tensor of shape %s (reduce it with lt_mean first)",
                            name, lt_dtype_name(value->dtype),
                            lt__shape_str(value, shape, sizeof shape));
    }
    if (!ctx->dev || lt__dev(value) != ctx->dev)
        return lt_set_error(LT_ERR_INVALID_ARG,
                            "lt_log('%s'): the value is not on this "
                            "context's device; log from the module's hooks",
                            name);
    metric *m = metric_for(ctx, name, effective(ctx, flags));
    if (!m) return lt_last_status();
    float *acc = m->acc->data;
    lt_device_t *dev = ctx->dev;
    double bs = (double)(batch_size > 0 ? batch_size : ctx->batch_size);
    unsigned fx = reduce_of(m->flags);
    dev->k.affine(dev->state, 1, lt__f32(value), 1.0f, 0.0f, acc + ACC_LAST);
    if (fx) {
        reduce_on_device(dev, fx, acc, lt__f32(value), m->dev_count++ == 0);
    } else {
        dev->k.affine(dev->state, 1, lt__f32(value), (float)bs, 0.0f, acc + ACC_SCRATCH);
        dev->k.binary(dev->state, LT_BIN_ADD, 1, acc, acc + ACC_SCRATCH, acc, NULL);
    }
    m->weight += bs;
    m->last_on_host = false;
    m->this_step = true;
    return LT_OK;
}

lt_status lt__log_host(lt_ctx_t *ctx, const char *name, double value, unsigned flags,
                       int64_t batch_size) {
    if (!ctx || !name) return lt_set_error(LT_ERR_INVALID_ARG, "lt_log_value: NULL argument");
    metric *m = metric_for(ctx, name, effective(ctx, flags));
    if (!m) return lt_last_status();
    double bs = (double)(batch_size > 0 ? batch_size : ctx->batch_size);
    unsigned fx = reduce_of(m->flags);
    if (fx)
        m->host_sum = m->host_count++ == 0 ? value : reduce_host(fx, m->host_sum, value);
    else
        m->host_sum += value * bs;
    m->host_last = value;
    m->weight += bs;
    m->last_on_host = true;
    m->this_step = true;
    return LT_OK;
}

lt_status lt_log(lt_ctx_t *ctx, const char *name, lt_tensor_t *value, unsigned flags) {
    return lt__log_tensor(ctx, name, value, flags, 0);
}

lt_status lt_log_value(lt_ctx_t *ctx, const char *name, double value, unsigned flags) {
    return lt__log_host(ctx, name, value, flags, 0);
}

void lt_ctx_set_log_scope(lt_ctx_t *ctx, int scope, unsigned default_flags) {
    ctx->log_scope = scope;
    ctx->log_defaults = default_flags;
}

int lt_ctx_metric_count(const lt_ctx_t *ctx) { return ctx->nmetrics; }

/* The epoch value: the batch-size-weighted mean, or the sum / max / min of the device's
 * and the host's values, in float32 as Lightning's (a float32 state, then .item()). */
static double epoch_value(const metric *m, float dev_acc) {
    unsigned fx = reduce_of(m->flags);
    if (m->weight <= 0) return NAN;
    if (!fx) return (double)(float)(((double)dev_acc + m->host_sum) / m->weight);
    if (!m->host_count) return (double)dev_acc;
    if (!m->dev_count) return (double)(float)m->host_sum;
    return (double)(float)reduce_host(fx, (double)dev_acc, m->host_sum);
}

int lt_ctx_metric_dataloader_idx(const lt_ctx_t *ctx, int i) {
    return ctx && i >= 0 && i < ctx->nmetrics ? ctx->metrics[i].dataloader_idx : -1;
}

lt_status lt_ctx_metric_read(lt_ctx_t *ctx, int i, lt_metric_reading *out) {
    if (i < 0 || i >= ctx->nmetrics)
        return lt_set_error(LT_ERR_INVALID_ARG, "lt_ctx_metric_read: no metric %d", i);
    metric *m = &ctx->metrics[i];
    float acc[ACC_FLOATS] = {0};
    if (m->acc && m->weight > 0)
        ctx->dev->k.memcpy_d2h(ctx->dev->state, acc, m->acc->data, sizeof acc);
    *out = (lt_metric_reading){
        .name = m->name,
        .scope = m->scope,
        .flags = m->flags,
        .logged = m->weight > 0,
        .this_step = m->this_step,
        .last = m->weight <= 0    ? NAN
                : m->last_on_host ? m->host_last
                                  : (double)acc[ACC_LAST],
        /* float32, as Lightning's mean of float32 tensors then .item() */
        .epoch_mean = epoch_value(m, acc[ACC_SUM]),
        .weight = m->weight,
    };
    return LT_OK;
}

void lt_ctx_metrics_new_step(lt_ctx_t *ctx) {
    for (int i = 0; i < ctx->nmetrics; i++) ctx->metrics[i].this_step = false;
}

void lt_ctx_metrics_new_step_of(lt_ctx_t *ctx, int scope) {
    for (int i = 0; i < ctx->nmetrics; i++)
        if (ctx->metrics[i].scope == scope) ctx->metrics[i].this_step = false;
}

/* Accumulators are kept for reuse: resetting allocates nothing. */
void lt_ctx_metrics_reset_scope(lt_ctx_t *ctx, int scope) {
    for (int i = 0; i < ctx->nmetrics; i++) {
        metric *m = &ctx->metrics[i];
        if (m->scope != scope || m->weight == 0) continue;
        m->host_sum = m->weight = 0.0;
        m->dev_count = m->host_count = 0;
        m->this_step = false;
        if (m->acc) ctx->dev->k.fill(ctx->dev->state, ACC_FLOATS, 0.0f, m->acc->data);
    }
}

void lt__metrics_free(lt_ctx_t *ctx) {
    for (int i = 0; i < LT_MAX_METRICS; i++) {
        if (ctx->metrics[i].acc) lt__storage_release(ctx->metrics[i].acc);
        ctx->metrics[i].acc = NULL;
    }
}
