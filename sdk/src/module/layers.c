/* Layers beyond nn.Linear — Conv2d, BatchNorm, LayerNorm, dropout — and the buffers some
 * of them keep (torch's register_buffer: saved, loaded and exported, never trained).
 * Parameters are declared with torch's default initialisation, so a torch state dict
 * and ours line up name for name and value for value. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctx_impl.h"

/* ---- buffers ------------------------------------------------------------------------ */

static lt_status buffer_error(lt_ctx_t *ctx, const char *name, const char *why) {
    return lt_set_error(LT_ERR_INVALID_ARG, "%s: buffer '%s': %s", ctx->plugin_name,
                        name ? name : "(null)", why);
}

/* Why name cannot name a new buffer of ctx, or NULL. */
static const char *buffer_name_problem(const lt_ctx_t *ctx, const char *name) {
    if (!name || !*name) return "a buffer needs a non-empty name";
    for (int k = 0; lt__state_entry(ctx, k); k++)
        if (!strcmp(lt__state_entry(ctx, k)->name, name))
            return "the name is taken by a parameter or buffer; state dict keys must be unique";
    return NULL;
}

static bool buffer_shape_ok(int ndim, const int64_t *shape) {
    if (ndim < 0 || ndim > LT_MAX_DIMS || (ndim && !shape)) return false;
    for (int i = 0; i < ndim; i++)
        if (shape[i] <= 0 || shape[i] > ((int64_t)1 << 40)) return false;
    return true;
}

/* Every element of t = value, written from the host once (buffers are declared in setup). */
static lt_status buffer_fill(lt_tensor_t *t, double value) {
    size_t es = lt__dtype_size(t->dtype), bytes = (size_t)t->numel * es;
    void *host = malloc(bytes ? bytes : 1);
    if (!host) return lt_set_error(LT_ERR_OOM, "out of host memory initialising a buffer");
    for (int64_t i = 0; i < t->numel; i++) {
        if (t->dtype == LT_I64)
            ((int64_t *)host)[i] = (int64_t)value;
        else
            ((float *)host)[i] = (float)value;
    }
    lt_status s = lt_from_host_into(t, host, bytes);
    free(host);
    return s;
}

static bool buffers_grow(lt_ctx_t *ctx) {
    if (ctx->nbuffers < ctx->cap_buffers) return true;
    int cap = ctx->cap_buffers ? 2 * ctx->cap_buffers : 8;
    param_entry *b = realloc(ctx->buffers, (size_t)cap * sizeof *b);
    if (!b) return false;
    ctx->buffers = b;
    ctx->cap_buffers = cap;
    return true;
}

lt_tensor_t *lt_buffer(lt_ctx_t *ctx, const char *name, lt_dtype dt, int ndim, const int64_t *shape,
                       double value) {
    if (!ctx || !ctx->arena) {
        lt_set_error(LT_ERR_STATE, "lt_buffer: this context has no device (a data plugin?)");
        return NULL;
    }
    if (lt_last_status() != LT_OK) return NULL;
    const char *why = ctx->materialized ? "declared after setup(); declare buffers in setup()"
                      : dt != LT_F32 && dt != LT_I64 ? "dtype must be LT_F32 or LT_I64"
                      : !buffer_shape_ok(ndim, shape)
                          ? "shape must have 0 to 8 positive sizes (at most 2^40 each)"
                          : buffer_name_problem(ctx, name);
    if (why) {
        buffer_error(ctx, name, why);
        return NULL;
    }
    char *copy = strdup(name);
    lt_tensor_t *t =
        copy && buffers_grow(ctx) ? lt__tensor_new_persistent(ctx->arena, dt, ndim, shape) : NULL;
    if (!t || buffer_fill(t, value) != LT_OK) {
        free(copy);
        lt__tensor_free(t);
        if (lt_last_status() == LT_OK)
            lt_set_error(LT_ERR_OOM, "out of host memory declaring buffer %s", name);
        return NULL;
    }
    ctx->buffers[ctx->nbuffers++] = (param_entry){copy, t, LT_INIT_ZEROS, NULL, NULL, 0};
    return t;
}

void lt__buffers_free(lt_ctx_t *ctx) {
    for (int i = 0; i < ctx->nbuffers; i++) {
        free(ctx->buffers[i].name);
        lt__tensor_free(ctx->buffers[i].t);
    }
    free(ctx->buffers);
}

param_entry *lt__state_entry(const lt_ctx_t *ctx, int k) {
    if (k < 0) return NULL;
    if (k < ctx->nparams) return &ctx->params[k];
    return k - ctx->nparams < ctx->nbuffers ? &ctx->buffers[k - ctx->nparams] : NULL;
}

int lt_ctx_num_buffers(const lt_ctx_t *ctx) { return ctx ? ctx->nbuffers : 0; }

lt_tensor_t *lt_ctx_buffer(const lt_ctx_t *ctx, int i, const char **name) {
    if (!ctx || i < 0 || i >= ctx->nbuffers) return NULL;
    if (name) *name = ctx->buffers[i].name;
    return ctx->buffers[i].t;
}

/* ---- layers ----------------------------------------------------------------------- */

/* "name.suffix" into buf. */
static const char *key(char *buf, size_t n, const char *name, const char *suffix) {
    snprintf(buf, n, "%s.%s", name ? name : "", suffix);
    return buf;
}

/* The layer struct, owned by ctx, or NULL with an error. */
static void *layer_alloc(lt_ctx_t *ctx, const char *name, size_t size) {
    void *l = ctx ? lt__ctx_alloc(ctx, size) : NULL;
    if (!l && ctx) lt_set_error(LT_ERR_OOM, "out of host memory for layer %s", name);
    if (!ctx) lt_set_error(LT_ERR_INVALID_ARG, "declaring layer %s: NULL context", name);
    return l;
}

/* Label the last n parameters with the layer kind the model summary shows. */
static void label_params(lt_ctx_t *ctx, int n, const char *kind) {
    for (int i = ctx->nparams - n; i < ctx->nparams; i++) ctx->params[i].layer_type = kind;
}

lt_conv2d_t *lt_conv2d(lt_ctx_t *ctx, const char *name, int64_t in, int64_t out, int64_t kh,
                       int64_t kw, const lt_conv2d_opts *o) {
    if (o && o->struct_size < sizeof *o) {
        lt_set_error(LT_ERR_ABI,
                     "lt_conv2d %s: opts.struct_size is %u, expected %zu; make the "
                     "options with LT_CONV2D_OPTS(...)",
                     name, o->struct_size, sizeof *o);
        return NULL;
    }
    lt_conv2d_t *l = layer_alloc(ctx, name, sizeof *l);
    if (!l) return NULL;
    l->opts = o ? *o : LT_CONV2D_OPTS();
    int64_t groups = l->opts.groups > 0 ? l->opts.groups : 1;
    if (in % groups || out % groups) {
        lt_set_error(LT_ERR_INVALID_ARG,
                     "lt_conv2d %s: in (%lld) and out (%lld) channels must be "
                     "multiples of groups (%lld)",
                     name, (long long)in, (long long)out, (long long)groups);
        return NULL;
    }
    /* nn.Conv2d.reset_parameters: fan_in = in/groups * kh * kw for both. */
    double fan_in = (double)(in / groups) * (double)kh * (double)kw;
    double bound = fan_in > 0 ? 1.0 / sqrt(fan_in) : 0.0;
    char buf[256];
    l->weight = lt_param(ctx, key(buf, sizeof buf, name, "weight"), 4,
                         (int64_t[]){out, in / groups, kh, kw},
                         (lt_init){LT_INIT_KAIMING_UNIFORM, sqrt(5.0), 0.0});
    if (!l->opts.no_bias)
        l->bias = lt_param(ctx, key(buf, sizeof buf, name, "bias"), 1, &out,
                           (lt_init){LT_INIT_UNIFORM, -bound, bound});
    if (!l->weight || (!l->opts.no_bias && !l->bias)) return NULL;
    label_params(ctx, l->opts.no_bias ? 1 : 2, "Conv2d");
    return l;
}

lt_tensor_t *lt_conv2d_forward(const lt_conv2d_t *l, lt_tensor_t *x) {
    if (!l) return NULL;
    return lt_conv2d_op(x, l->weight, l->bias, &l->opts);
}

/* The layer and the link that lets the ctx reach every batch norm it owns. */
struct bn_entry {
    lt_batchnorm_t bn; /* first: the public pointer is the entry's */
    struct bn_entry *next;
};

lt_batchnorm_t *lt_batchnorm(lt_ctx_t *ctx, const char *name, int64_t features) {
    struct bn_entry *e = layer_alloc(ctx, name, sizeof *e);
    if (!e) return NULL;
    lt_batchnorm_t *bn = &e->bn;
    e->next = ctx->bns, ctx->bns = e, ctx->nbns++;
    char buf[256];
    bn->ctx = ctx;
    bn->momentum = 0.1;
    bn->eps = 1e-5;
    bn->weight = lt_param(ctx, key(buf, sizeof buf, name, "weight"), 1, &features, LT_INIT_ONES);
    bn->bias = lt_param(ctx, key(buf, sizeof buf, name, "bias"), 1, &features, LT_INIT_ZEROS);
    if (!bn->weight || !bn->bias) return NULL;
    label_params(ctx, 2, "BatchNorm");
    bn->running_mean =
        lt_buffer(ctx, key(buf, sizeof buf, name, "running_mean"), LT_F32, 1, &features, 0.0);
    bn->running_var =
        lt_buffer(ctx, key(buf, sizeof buf, name, "running_var"), LT_F32, 1, &features, 1.0);
    bn->num_batches_tracked =
        lt_buffer(ctx, key(buf, sizeof buf, name, "num_batches_tracked"), LT_I64, 0, NULL, 0.0);
    if (!bn->running_mean || !bn->running_var || !bn->num_batches_tracked) return NULL;
    ctx->buffers[ctx->nbuffers - 1].mirror = &bn->batches; /* a load updates the count */
    return bn;
}

lt_tensor_t *lt_batchnorm_forward(lt_batchnorm_t *bn, lt_tensor_t *x) {
    if (!bn || !x) return NULL;
    /* a frozen submodule's batch norm uses its running statistics (eval mode) */
    const char *name = bn->weight && bn->weight->param_id > 0
                           ? bn->ctx->params[bn->weight->param_id - 1].name
                           : NULL;
    bool training = lt_training(bn->ctx) && !(name && lt__ctx_frozen(bn->ctx, name));
    lt_tensor_t *y = training && lt__sync_batchnorm_applies(bn) /* --sync_batchnorm */
                         ? lt__sync_batchnorm_forward(bn, x)
                         : lt_batch_norm(x, bn->running_mean, bn->running_var, bn->weight, bn->bias,
                                         training, lt__batchnorm_momentum(bn), bn->eps);
    if (y && training) { /* num_batches_tracked += 1, kept on the host to avoid a readback */
        bn->batches++;
        lt_from_host_into(bn->num_batches_tracked, &bn->batches, sizeof bn->batches);
    }
    return y;
}

/* torch's momentum=None makes the running statistics the cumulative average of the
 * batches seen: the factor is 1 / num_batches_tracked after this batch's increment. */
double lt__batchnorm_momentum(const lt_batchnorm_t *bn) {
    return bn->ctx && bn->ctx->bn_cumulative ? 1.0 / (double)(bn->batches + 1) : bn->momentum;
}

int lt_ctx_num_batchnorms(const lt_ctx_t *ctx) { return ctx ? ctx->nbns : 0; }

/* torch.optim.swa_utils.update_bn's reset: mean 0, variance 1, no batches tracked. */
static lt_status batchnorm_reset(lt_batchnorm_t *bn) {
    int64_t c = lt_numel(bn->running_mean);
    float *v = malloc((size_t)(c > 0 ? c : 1) * sizeof *v);
    if (!v) return lt_set_error(LT_ERR_OOM, "resetting batch norm statistics: out of memory");
    for (int64_t i = 0; i < c; i++) v[i] = 0.0f;
    lt_status r = lt_from_host_into(bn->running_mean, v, (size_t)c * sizeof *v);
    for (int64_t i = 0; i < c; i++) v[i] = 1.0f;
    if (r == LT_OK) r = lt_from_host_into(bn->running_var, v, (size_t)c * sizeof *v);
    free(v);
    bn->batches = 0;
    return r == LT_OK ? lt_from_host_into(bn->num_batches_tracked, &bn->batches, sizeof bn->batches)
                      : r;
}

lt_status lt_ctx_batchnorm_cumulative(lt_ctx_t *ctx, bool cumulative) {
    if (!ctx) return lt_set_error(LT_ERR_INVALID_ARG, "lt_ctx_batchnorm_cumulative: NULL context");
    ctx->bn_cumulative = cumulative;
    for (struct bn_entry *e = ctx->bns; e && cumulative; e = e->next) {
        lt_status r = batchnorm_reset(&e->bn);
        if (r != LT_OK) return r;
    }
    return LT_OK;
}

lt_layernorm_t *lt_layernorm(lt_ctx_t *ctx, const char *name, int ndim, const int64_t *shape) {
    if (ndim < 1 || ndim > LT_MAX_DIMS || !shape) {
        lt_set_error(LT_ERR_INVALID_ARG, "lt_layernorm %s: normalized_shape needs 1 to %d sizes",
                     name, LT_MAX_DIMS);
        return NULL;
    }
    lt_layernorm_t *l = layer_alloc(ctx, name, sizeof *l);
    if (!l) return NULL;
    char buf[256];
    l->ndim = ndim;
    memcpy(l->shape, shape, (size_t)ndim * sizeof *shape);
    l->eps = 1e-5;
    l->weight = lt_param(ctx, key(buf, sizeof buf, name, "weight"), ndim, shape, LT_INIT_ONES);
    l->bias = lt_param(ctx, key(buf, sizeof buf, name, "bias"), ndim, shape, LT_INIT_ZEROS);
    if (!l->weight || !l->bias) return NULL;
    label_params(ctx, 2, "LayerNorm");
    return l;
}

lt_tensor_t *lt_layernorm_forward(const lt_layernorm_t *l, lt_tensor_t *x) {
    if (!l) return NULL;
    return lt_layer_norm(x, l->ndim, l->shape, l->weight, l->bias, l->eps);
}

/* ---- dropout's random stream ------------------------------------------------------ */

/* Streams of the run's seed: below 2^32 the data loader's, from 2^32 the parameters'
 * initialisation; dropout takes those with the top bit set: the global step in bits
 * 20..62 and the call's place within the step below. */
#define DROPOUT_STREAM ((uint64_t)1 << 63)
#define DROPOUT_CALL_BITS 20

/* The next dropout call's stream in this step. */
static uint64_t dropout_stream(lt_ctx_t *ctx) {
    int64_t step = lt_global_step(ctx);
    if (step != ctx->dropout_step) ctx->dropout_step = step, ctx->dropout_calls = 0;
    uint64_t call = (uint64_t)ctx->dropout_calls++ & ((1u << DROPOUT_CALL_BITS) - 1);
    return DROPOUT_STREAM | ((uint64_t)step << DROPOUT_CALL_BITS) | call;
}

lt_tensor_t *lt_dropout(lt_ctx_t *ctx, lt_tensor_t *x, double p) {
    if (!x) return NULL;
    if (!ctx) {
        lt_set_error(LT_ERR_INVALID_ARG, "lt_dropout: NULL context");
        return NULL;
    }
    bool training = lt_training(ctx);
    uint64_t stream = training ? dropout_stream(ctx) : 0;
    return lt_dropout_ex(x, p, training, ctx->seed, stream);
}

/* ---- embedding and attention (issue 19, text models) --------------------------------- */

lt_embedding_t *lt_embedding(lt_ctx_t *ctx, const char *name, int64_t num, int64_t dim,
                             int64_t padding_idx) {
    if (num < 1 || dim < 1 ||
        (padding_idx != LT_NO_PADDING_IDX && (padding_idx < -num || padding_idx >= num))) {
        lt_set_error(LT_ERR_INVALID_ARG,
                     "lt_embedding %s: %lld embeddings of size %lld with padding_idx %lld; sizes "
                     "must be positive and padding_idx in [-num, num) or LT_NO_PADDING_IDX",
                     name, (long long)num, (long long)dim, (long long)padding_idx);
        return NULL;
    }
    lt_embedding_t *e = layer_alloc(ctx, name, sizeof *e);
    if (!e) return NULL;
    char buf[256];
    e->padding_idx = padding_idx;
    e->weight = lt_param(ctx, key(buf, sizeof buf, name, "weight"), 2, (int64_t[]){num, dim},
                         (lt_init){LT_INIT_NORMAL, 0.0, 1.0});
    if (!e->weight) return NULL;
    if (padding_idx != LT_NO_PADDING_IDX)
        ctx->params[ctx->nparams - 1].zero_row =
            1 + (padding_idx < 0 ? padding_idx + num : padding_idx);
    label_params(ctx, 1, "Embedding");
    return e;
}

lt_tensor_t *lt_embedding_forward(const lt_embedding_t *e, lt_tensor_t *idx) {
    if (!e) return NULL;
    return lt_embedding_op(idx, e->weight, e->padding_idx);
}

lt_tensor_t *lt_attention(lt_ctx_t *ctx, lt_tensor_t *q, lt_tensor_t *k, lt_tensor_t *v,
                          const lt_sdpa_opts *o) {
    if (!q) return NULL;
    if (!ctx || (o && o->struct_size < sizeof *o)) {
        lt_set_error(ctx ? LT_ERR_ABI : LT_ERR_INVALID_ARG, "lt_attention: %s",
                     ctx ? "make the options with LT_SDPA_OPTS(...)" : "NULL context");
        return NULL;
    }
    lt_sdpa_opts opts = o ? *o : LT_SDPA_OPTS();
    if (!lt_training(ctx)) opts.dropout_p = 0.0;
    if (opts.dropout_p > 0.0) {
        opts.seed = ctx->seed;
        opts.stream = dropout_stream(ctx);
    }
    return lt_scaled_dot_product_attention(q, k, v, &opts);
}
