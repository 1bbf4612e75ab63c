/* The module context: parameters (declared in setup, then laid out in one buffer),
 * optimizers, loop position, data splits. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctx_impl.h"

lt_ctx_t *lt_ctx_new(lt_device_t *dev, const char *plugin_name, const lt_hparam_desc *hparams,
                     size_t self_size, uint64_t seed) {
    lt_ctx_t *ctx = calloc(1, sizeof *ctx);
    if (!ctx) goto oom;
    ctx->dev = dev;
    ctx->seed = seed;
    ctx->batch_size = 1;
    ctx->training = true;
    ctx->dataloader_idx = -1;
    if (!(ctx->plugin_name = strdup(plugin_name ? plugin_name : "?"))) goto oom;
    if (!(ctx->self = calloc(1, self_size ? self_size : 1))) goto oom;
    if (dev && !(ctx->arena = lt_arena_new(dev))) goto fail;
    if (lt__hparams_init(ctx, hparams) != LT_OK) goto fail;
    return ctx;
oom:
    lt_set_error(LT_ERR_OOM, "out of host memory creating the context of %s", plugin_name);
fail:
    lt_ctx_free(ctx);
    return NULL;
}

void lt_ctx_free(lt_ctx_t *ctx) {
    if (!ctx) return;
    free(ctx->toggle_saved);
    for (int i = 0; i < ctx->nscheds; i++) lt_scheduler_free(ctx->scheds[i]);
    free(ctx->scheds);
    free(ctx->sched_cfgs);
    for (int i = 0; i < ctx->nopts; i++) lt_optimizer_free(ctx->opts[i]);
    free(ctx->opts);
    lt__metrics_free(ctx);
    lt_arena_free(ctx->arena);
    for (int i = 0; i < ctx->nparams; i++) {
        free(ctx->params[i].name);
        lt__tensor_free(ctx->params[i].t);
    }
    free(ctx->params);
    lt__buffers_free(ctx);
    if (ctx->values) lt__storage_release(ctx->values);
    if (ctx->grads) lt__storage_release(ctx->grads);
    for (owned_block *b = ctx->owned, *next; b; b = next) {
        next = b->next;
        free(b);
    }
    lt__hparams_free(ctx);
    free(ctx->self);
    free(ctx->plugin_name);
    free(ctx);
}

void *lt__ctx_alloc(lt_ctx_t *ctx, size_t n) {
    owned_block *b = calloc(1, sizeof *b + n);
    if (!b) return NULL;
    b->next = ctx->owned;
    ctx->owned = b;
    return b + 1;
}

void *lt_ctx_self(lt_ctx_t *ctx) { return ctx->self; }
lt_arena_t *lt_ctx_arena(lt_ctx_t *ctx) { return ctx ? ctx->arena : NULL; }
lt_status lt_ok(lt_ctx_t *ctx) {
    (void)ctx;
    return lt_last_status();
}

void lt_ctx_set_progress(lt_ctx_t *ctx, int64_t epoch, int64_t global_step) {
    ctx->epoch = epoch;
    ctx->global_step = global_step;
}

void lt_ctx_set_batch_size(lt_ctx_t *ctx, int64_t n) { ctx->batch_size = n; }

/* ---- parameters ------------------------------------------------------------------ */

static lt_status param_error(lt_ctx_t *ctx, const char *name, const char *why) {
    return lt_set_error(LT_ERR_INVALID_ARG, "%s: parameter '%s': %s", ctx->plugin_name,
                        name ? name : "(null)", why);
}

/* A module's parameters hold at most 2^48 floats in all (1 PiB, past any device): then
 * no element count, byte count or offset computed from them can overflow, whatever sizes
 * a --model.* flag or a checkpoint's hyper_parameters gave. */
#define MAX_MODULE_FLOATS ((int64_t)1 << 48)

/* "784 x 9223372036854775807" */
static void shape_product_text(int ndim, const int64_t *shape, char *buf, size_t n) {
    size_t len = 0;
    for (int i = 0; i < ndim && len < n; i++)
        len += (size_t)snprintf(buf + len, n - len, "%s%lld", i ? " x " : "", (long long)shape[i]);
}

/* The element count of a shape of positive sizes, or a recorded error naming the
 * parameter when it has a size <= 0 or the module's floats would pass MAX_MODULE_FLOATS. */
static bool param_numel(lt_ctx_t *ctx, const char *name, int ndim, const int64_t *shape,
                        int64_t *numel) {
    int64_t n = 1, room = MAX_MODULE_FLOATS - lt_num_parameters(ctx);
    bool overflow = false;
    if (ndim < 1 || ndim > LT_MAX_DIMS) {
        param_error(ctx, name, "shape must have 1 to 8 positive sizes");
        return false;
    }
    for (int i = 0; i < ndim; i++) {
        if (shape[i] <= 0) {
            param_error(ctx, name, "shape must have 1 to 8 positive sizes");
            return false;
        }
        overflow = overflow || __builtin_mul_overflow(n, shape[i], &n);
    }
    if (!overflow && n <= room) {
        *numel = n;
        return true;
    }
    char dims[8 * 24];
    shape_product_text(ndim, shape, dims, sizeof dims);
    lt_set_error(LT_ERR_INVALID_ARG,
                 "%s: parameter '%s' would have %s elements, more than a "
                 "module's parameters may have (2^48 floats in all, %lld declared before it); "
                 "check the hyper-parameters (or the checkpoint's hyper_parameters) that shape it",
                 ctx->plugin_name, name, dims, (long long)(MAX_MODULE_FLOATS - room));
    return false;
}

lt_tensor_t *lt_param(lt_ctx_t *ctx, const char *name, int ndim, const int64_t *shape,
                      lt_init init) {
    if (!ctx || !ctx->arena) {
        lt_set_error(LT_ERR_STATE, "lt_param: this context has no device (a data plugin?)");
        return NULL;
    }
    /* Like an op given NULL: after a failed declaration in this hook, report that one. */
    if (lt_last_status() != LT_OK) return NULL;
    if (ctx->materialized) {
        param_error(ctx, name, "declared after setup(); declare every parameter in setup()");
        return NULL;
    }
    if (!name || !*name) {
        param_error(ctx, name, "a parameter needs a non-empty name");
        return NULL;
    }
    for (int i = 0; lt__state_entry(ctx, i); i++)
        if (strcmp(lt__state_entry(ctx, i)->name, name) == 0) {
            param_error(ctx, name, "declared twice; parameter and buffer names must be unique");
            return NULL;
        }
    int64_t numel;
    if (!shape || !param_numel(ctx, name, ndim, shape, &numel)) {
        if (!shape) param_error(ctx, name, "shape is NULL");
        return NULL;
    }
    if (ctx->nparams == ctx->cap_params) {
        int cap = ctx->cap_params ? 2 * ctx->cap_params : 16;
        param_entry *p = realloc(ctx->params, (size_t)cap * sizeof *p);
        if (!p) {
            lt_set_error(LT_ERR_OOM, "out of host memory declaring parameter %s", name);
            return NULL;
        }
        ctx->params = p;
        ctx->cap_params = cap;
    }
    lt_tensor_t *t = calloc(1, sizeof *t);
    char *copy = strdup(name);
    if (!t || !copy) {
        free(t);
        free(copy);
        lt_set_error(LT_ERR_OOM, "out of host memory declaring parameter %s", name);
        return NULL;
    }
    t->dtype = LT_F32;
    t->ndim = ndim;
    memcpy(t->shape, shape, (size_t)ndim * sizeof *shape);
    t->numel = numel;
    t->arena = ctx->arena;
    t->requires_grad = true;
    t->persistent = true;
    t->param_id = ctx->nparams + 1;
    ctx->params[ctx->nparams++] = (param_entry){copy, t, init, NULL, NULL, 0};
    return t;
}

/* Fill host memory v (numel floats) as torch.nn.init would, from the parameter's stream. */
static void init_values(const param_entry *p, lt_rng_t *rng, float *v) {
    const lt_tensor_t *t = p->t;
    double a = p->init.a, b = p->init.b;
    if (p->init.kind == LT_INIT_KAIMING_UNIFORM) {
        int64_t fan_in = t->ndim > 1 ? t->numel / t->shape[0] : t->numel;
        double gain = sqrt(2.0 / (1.0 + a * a));
        b = gain * sqrt(3.0 / (double)fan_in);
        a = -b;
    }
    for (int64_t i = 0; i < t->numel; i++) {
        switch (p->init.kind) {
        case LT_INIT_CONST: v[i] = (float)a; break;
        case LT_INIT_NORMAL: v[i] = (float)(a + b * lt_rng_normal(rng)); break;
        default: v[i] = (float)(a + (b - a) * lt_rng_uniform(rng)); break;
        }
    }
    if (p->zero_row > 0 && t->ndim >= 1 && p->zero_row <= t->shape[0]) {
        int64_t row = t->numel / t->shape[0];
        memset(v + (p->zero_row - 1) * row, 0, (size_t)row * sizeof *v);
    }
}

/* Each parameter draws from its own stream, so adding a layer leaves the others' initial
 * values unchanged. Streams below 2^32 belong to the data loader (one per epoch). */
static lt_status init_params(lt_ctx_t *ctx, int64_t total) {
    float *host = malloc((size_t)total * sizeof *host);
    if (!host) return lt_set_error(LT_ERR_OOM, "out of host memory initialising parameters");
    int64_t off = 0;
    for (int i = 0; i < ctx->nparams; i++) {
        lt_rng_t rng = lt_rng_make(ctx->seed, (1ull << 32) + (uint64_t)i);
        init_values(&ctx->params[i], &rng, host + off);
        off += ctx->params[i].t->numel;
    }
    ctx->dev->k.memcpy_h2d(ctx->dev->state, ctx->values->data, host, (size_t)total * sizeof *host);
    free(host);
    return LT_OK;
}

lt_status lt_ctx_materialize(lt_ctx_t *ctx) {
    if (ctx->materialized) return LT_OK;
    int64_t total = 0;
    for (int i = 0; i < ctx->nparams; i++) total += ctx->params[i].t->numel;
    ctx->materialized = true;
    if (total == 0) return LT_OK;
    size_t bytes = (size_t)total * sizeof(float);
    if (!(ctx->values = lt__storage_new(ctx->dev, bytes))) return lt_last_status();
    if (!(ctx->grads = lt__storage_new(ctx->dev, bytes))) return lt_last_status();
    ctx->dev->k.fill(ctx->dev->state, total, 0.0f, ctx->grads->data);
    size_t off = 0;
    for (int i = 0; i < ctx->nparams; i++) {
        lt_tensor_t *t = ctx->params[i].t;
        t->st = ctx->values;
        t->offset = off;
        lt__storage_retain(ctx->values);
        t->grad = lt__tensor_view_persistent(ctx->arena, ctx->grads, off, t->ndim, t->shape);
        if (!t->grad) return lt_last_status();
        off += (size_t)t->numel * sizeof(float);
    }
    lt_status st = init_params(ctx, total);
    return st == LT_OK ? lt_ctx_apply_precision(ctx) : st;
}

lt_status lt_ctx_apply_precision(lt_ctx_t *ctx) {
    if (!ctx || !ctx->dev || !ctx->values) return LT_OK;
    lt__round_params(ctx->dev, ctx->values->data, lt_num_parameters(ctx));
    return LT_OK;
}

int lt_ctx_num_params(const lt_ctx_t *ctx) { return ctx->nparams; }

lt_tensor_t *lt_ctx_param(const lt_ctx_t *ctx, int i, const char **name) {
    if (i < 0 || i >= ctx->nparams) return NULL;
    if (name) *name = ctx->params[i].name;
    return ctx->params[i].t;
}

const char *lt_ctx_param_layer_type(const lt_ctx_t *ctx, int i) {
    return i >= 0 && i < ctx->nparams ? ctx->params[i].layer_type : NULL;
}

int64_t lt_num_parameters(lt_ctx_t *ctx) {
    int64_t n = 0;
    for (int i = 0; ctx && i < ctx->nparams; i++) n += ctx->params[i].t->numel;
    return n;
}

lt_param_list_t *lt_parameters_with_prefix(lt_ctx_t *ctx, const char *prefix) {
    lt_param_list_t *l = lt_param_list_new();
    size_t plen = prefix ? strlen(prefix) : 0;
    for (int i = 0; l && i < ctx->nparams; i++) {
        if (plen && strncmp(ctx->params[i].name, prefix, plen) != 0) continue;
        if (lt_param_list_add(l, ctx->params[i].t) != LT_OK) {
            lt_param_list_free(l);
            return NULL;
        }
    }
    return l;
}

lt_param_list_t *lt_parameters(lt_ctx_t *ctx) { return lt_parameters_with_prefix(ctx, NULL); }

/* ---- data parallel training: the flat buffers a host's DDP reduces -------------------- */

void lt_ctx_set_grad_ready(lt_ctx_t *ctx, lt_grad_ready_fn fn, void *user) {
    if (!ctx || !ctx->arena) return; /* a data plugin's ctx: no tape, nothing to report */
    ctx->arena->grad_ready = fn;
    ctx->arena->grad_ready_user = fn ? user : NULL;
}

lt_status lt_ctx_set_grad_scaler(lt_ctx_t *ctx, lt_grad_scaler_t *sc) {
    if (!ctx || !ctx->arena)
        return lt_set_error(LT_ERR_INVALID_ARG, "lt_ctx_set_grad_scaler: ctx has no device");
    if (sc && lt__grad_scaler_device(sc) != ctx->dev)
        return lt_set_error(LT_ERR_INVALID_ARG,
                            "lt_ctx_set_grad_scaler: the scaler is on another device than ctx");
    ctx->arena->scaler = sc;
    return LT_OK;
}

void lt_ctx_set_backward_scale(lt_ctx_t *ctx, float scale) {
    if (ctx && ctx->arena) ctx->arena->backward_scale = scale;
}

/* The flat buffer's storage, or NULL when there is none yet (or no parameter). */
static lt_storage *flat_storage(const lt_ctx_t *ctx, bool values) {
    if (!ctx || !ctx->materialized) return NULL;
    return values ? ctx->values : ctx->grads;
}

/* The gradient buffer as a reader sees it: deferred zero_grads filled (a DDP bucket
 * reduces the grads of parameters backward did not reach too). */
static void settle_grads(lt_ctx_t *ctx) {
    for (int i = 0; i < ctx->nparams; i++) lt__grad_settle(ctx->params[i].t);
}

/* host_only: lend it only when the CPU may dereference the device's pointers. */
static float *flat_lend(lt_ctx_t *ctx, bool values, bool host_only, int64_t *n) {
    lt_storage *st = flat_storage(ctx, values);
    if (st && !values) settle_grads(ctx);
    bool lend = st && (!host_only || ctx->dev->k.host_memory);
    if (n) *n = lend ? lt_num_parameters(ctx) : 0;
    return lend ? st->data : NULL;
}

float *lt_ctx_values_host(lt_ctx_t *ctx, int64_t *n) { return flat_lend(ctx, true, true, n); }
float *lt_ctx_grads_host(lt_ctx_t *ctx, int64_t *n) { return flat_lend(ctx, false, true, n); }
float *lt_ctx_values_device(lt_ctx_t *ctx, int64_t *n) { return flat_lend(ctx, true, false, n); }
float *lt_ctx_grads_device(lt_ctx_t *ctx, int64_t *n) { return flat_lend(ctx, false, false, n); }

/* Declaration order, as lt_ctx_materialize lays the parameters out; -1 for a bad i. */
int64_t lt_ctx_param_offset(const lt_ctx_t *ctx, int i) {
    if (!ctx || i < 0 || i >= ctx->nparams) return -1;
    int64_t off = 0;
    for (int k = 0; k < i; k++) off += ctx->params[k].t->numel;
    return off;
}

lt_status lt_ctx_copy_flat(lt_ctx_t *ctx, bool values, bool to_host, int64_t first, int64_t n,
                           float *host) {
    if (!ctx || !ctx->materialized)
        return lt_set_error(LT_ERR_STATE, "lt_ctx_copy_flat: the parameters are not laid out "
                                          "yet (call it after lt_ctx_materialize)");
    lt_storage *st = flat_storage(ctx, values); /* NULL only when there are no floats */
    int64_t total = lt_num_parameters(ctx);
    if (first < 0 || n < 0 || first > total || n > total - first || (n && !host))
        return lt_set_error(LT_ERR_INVALID_ARG,
                            "lt_ctx_copy_flat: floats [%lld, %lld) are outside "
                            "the %lld of the %s buffer (or host is NULL)",
                            (long long)first, (long long)first + (long long)n, (long long)total,
                            values ? "values" : "gradient");
    if (n == 0) return LT_OK;
    if (!values) settle_grads(ctx); /* read, or partly overwritten: no deferred zeros left */
    float *dev_ptr = (float *)st->data + first;
    size_t bytes = (size_t)n * sizeof(float);
    if (to_host)
        ctx->dev->k.memcpy_d2h(ctx->dev->state, host, dev_ptr, bytes);
    else
        ctx->dev->k.memcpy_h2d(ctx->dev->state, dev_ptr, host, bytes);
    return LT_OK;
}

/* ---- layers ---------------------------------------------------------------------- */

lt_linear_t *lt_linear(lt_ctx_t *ctx, const char *name, int64_t in, int64_t out) {
    char wname[256], bname[256];
    snprintf(wname, sizeof wname, "%s.weight", name ? name : "");
    snprintf(bname, sizeof bname, "%s.bias", name ? name : "");
    lt_linear_t *l = ctx ? lt__ctx_alloc(ctx, sizeof *l) : NULL;
    if (!l) {
        if (ctx) lt_set_error(LT_ERR_OOM, "out of host memory for layer %s", name);
        return NULL;
    }
    /* nn.Linear: kaiming_uniform_(a=sqrt(5)) for the weight, U(+-1/sqrt(in)) for the bias. */
    double bound = in > 0 ? 1.0 / sqrt((double)in) : 0.0;
    l->weight = lt_param(ctx, wname, 2, (int64_t[]){out, in},
                         (lt_init){LT_INIT_KAIMING_UNIFORM, sqrt(5.0), 0.0});
    l->bias = lt_param(ctx, bname, 1, &out, (lt_init){LT_INIT_UNIFORM, -bound, bound});
    if (!l->weight || !l->bias) return NULL;
    ctx->params[ctx->nparams - 1].layer_type = ctx->params[ctx->nparams - 2].layer_type = "Linear";
    return l;
}

lt_tensor_t *lt_linear_forward(const lt_linear_t *l, lt_tensor_t *x) {
    if (!l) return NULL;
    return lt_linear_op(x, l->weight, l->bias);
}

/* ---- optimizers and data splits ----------------------------------------------------- */

lt_status lt_use_optimizer(lt_ctx_t *ctx, lt_optimizer_t *opt) {
    if (!opt) return lt_last_status() ? lt_last_status() : LT_ERR_INVALID_ARG;
    lt_optimizer_t **o = realloc(ctx->opts, (size_t)(ctx->nopts + 1) * sizeof *o);
    if (!o) {
        lt_optimizer_free(opt);
        return lt_set_error(LT_ERR_OOM, "out of host memory adding an optimizer");
    }
    ctx->opts = o;
    ctx->opts[ctx->nopts++] = opt;
    return LT_OK;
}

/* Why the trainer cannot run a scheduler with config c, or NULL when it can. */
static const char *scheduler_config_problem(const lt_scheduler_config *c) {
    if (c->frequency < 1) return "frequency must be >= 1";
    if (c->interval != LT_INTERVAL_EPOCH && c->interval != LT_INTERVAL_STEP)
        return "interval must be step or epoch";
    return NULL;
}

/* Appends sched with its config c to ctx, which then owns it (freed on failure too). */
static lt_status append_scheduler(lt_ctx_t *ctx, lt_scheduler_t *sched,
                                  const lt_scheduler_config *c) {
    lt_scheduler_t **sv = realloc(ctx->scheds, (size_t)(ctx->nscheds + 1) * sizeof *sv);
    if (sv) ctx->scheds = sv;
    lt_scheduler_config *cv =
        sv ? realloc(ctx->sched_cfgs, (size_t)(ctx->nscheds + 1) * sizeof *cv) : NULL;
    if (cv) ctx->sched_cfgs = cv;
    if (!sv || !cv) {
        lt_scheduler_free(sched);
        return lt_set_error(LT_ERR_OOM, "out of host memory adding a scheduler");
    }
    ctx->scheds[ctx->nscheds] = sched;
    ctx->sched_cfgs[ctx->nscheds++] = *c;
    return LT_OK;
}

lt_status lt_use_scheduler(lt_ctx_t *ctx, lt_scheduler_t *sched, const lt_scheduler_config *cfg) {
    if (!sched) return lt_last_status() ? lt_last_status() : LT_ERR_INVALID_ARG;
    /* struct_size is checked before *cfg is read: a shorter (older) struct is not read whole. */
    const char *why = !ctx ? "NULL context"
                      : cfg && cfg->struct_size < sizeof *cfg
                          ? "config struct_size too small (use LT_SCHEDULER_CONFIG)"
                          : NULL;
    lt_scheduler_config c = cfg && !why ? *cfg : LT_SCHEDULER_CONFIG(.interval = LT_INTERVAL_EPOCH);
    if (!why) why = scheduler_config_problem(&c);
    if (why) {
        lt_scheduler_free(sched);
        return lt_set_error(LT_ERR_INVALID_ARG, "lt_use_scheduler: %s", why);
    }
    if (!c.monitor) c.monitor = "val_loss";
    return append_scheduler(ctx, sched, &c);
}

int lt_ctx_num_schedulers(const lt_ctx_t *ctx) { return ctx->nscheds; }

lt_scheduler_t *lt_ctx_scheduler(const lt_ctx_t *ctx, int i, lt_scheduler_config *cfg) {
    if (i < 0 || i >= ctx->nscheds) return NULL;
    if (cfg) *cfg = ctx->sched_cfgs[i];
    return ctx->scheds[i];
}

int lt_ctx_num_optimizers(const lt_ctx_t *ctx) { return ctx->nopts; }
lt_optimizer_t *lt_ctx_optimizer(const lt_ctx_t *ctx, int i) {
    return i >= 0 && i < ctx->nopts ? ctx->opts[i] : NULL;
}

static lt_status check_loader_opts(const lt_ctx_t *ctx, const char *fn, const lt_loader_opts *o) {
    if (o->struct_size >= sizeof *o) return LT_OK;
    return lt_set_error(LT_ERR_ABI,
                        "%s: %s got loader options smaller than this liblt's (struct_size %u, "
                        "expected %zu); set struct_size = sizeof(lt_loader_opts) and rebuild",
                        ctx->plugin_name, fn, o->struct_size, sizeof *o);
}

/* Dataloader i of split from ds and opts. */
static lt_status set_loader(lt_ctx_t *ctx, lt_split split, int i, const lt_dataset *ds,
                            const lt_loader_opts *opts) {
    lt_status s = lt__dataset_copy(ds, &ctx->splits[split][i], ctx->plugin_name);
    if (s != LT_OK) return s;
    ctx->splits[split][i].split = split;
    ctx->split_opts[split][i] = *opts;
    ctx->nloaders[split] = i + 1;
    return LT_OK;
}

lt_status lt_data_add_split(lt_ctx_t *ctx, lt_split split, const lt_dataset *ds,
                            const lt_loader_opts *opts) {
    if (!ctx || !ds || !opts || (unsigned)split >= LT_SPLIT_COUNT)
        return lt_set_error(LT_ERR_INVALID_ARG, "lt_data_add_split: bad argument");
    lt_status s = check_loader_opts(ctx, "lt_data_add_split", opts);
    if (s != LT_OK) return s;
    ctx->nloaders[split] = 0; /* a setup that runs again registers its loaders anew */
    return set_loader(ctx, split, 0, ds, opts);
}

lt_status lt_data_add_loader(lt_ctx_t *ctx, lt_split split, const lt_dataset *ds,
                             const lt_loader_opts *opts, int *idx) {
    if (!ctx || !ds || !opts)
        return lt_set_error(LT_ERR_INVALID_ARG, "lt_data_add_loader: NULL argument");
    if (split != LT_SPLIT_VAL && split != LT_SPLIT_TEST)
        return lt_set_error(LT_ERR_INVALID_ARG,
                            "%s: lt_data_add_loader is for LT_SPLIT_VAL and LT_SPLIT_TEST (train "
                            "and predict have one dataloader: lt_data_add_split)",
                            ctx->plugin_name);
    int n = ctx->nloaders[split];
    if (n == 0)
        return lt_set_error(LT_ERR_STATE,
                            "%s: lt_data_add_loader before lt_data_add_split; register "
                            "dataloader 0 of the split with lt_data_add_split first",
                            ctx->plugin_name);
    if (n == LT_MAX_DATALOADERS)
        return lt_set_error(LT_ERR_INVALID_ARG, "%s: more than %d dataloaders for one split",
                            ctx->plugin_name, LT_MAX_DATALOADERS);
    lt_status s = check_loader_opts(ctx, "lt_data_add_loader", opts);
    if (s == LT_OK) s = set_loader(ctx, split, n, ds, opts);
    if (s == LT_OK && idx) *idx = n;
    return s;
}

bool lt_ctx_has_split(const lt_ctx_t *ctx, lt_split split) {
    return lt_ctx_num_loaders(ctx, split) > 0;
}

int lt_ctx_num_loaders(const lt_ctx_t *ctx, lt_split split) {
    return ctx && (unsigned)split < LT_SPLIT_COUNT ? ctx->nloaders[split] : 0;
}

lt_status lt_ctx_split(const lt_ctx_t *ctx, lt_split split, lt_dataset *ds, lt_loader_opts *opts) {
    return lt_ctx_loader(ctx, split, 0, ds, opts);
}

lt_status lt_ctx_loader(const lt_ctx_t *ctx, lt_split split, int i, lt_dataset *ds,
                        lt_loader_opts *opts) {
    static const char *const names[] = {"train", "val", "test", "predict"};
    if (i < 0 || i >= lt_ctx_num_loaders(ctx, split)) {
        if (i == 0)
            return lt_set_error(LT_ERR_STATE, "data plugin %s has no %s split for this stage",
                                ctx ? ctx->plugin_name : "?",
                                (unsigned)split < LT_SPLIT_COUNT ? names[split] : "?");
        return lt_set_error(LT_ERR_STATE, "data plugin %s has no %s dataloader %d",
                            ctx ? ctx->plugin_name : "?",
                            (unsigned)split < LT_SPLIT_COUNT ? names[split] : "?", i);
    }
    *ds = ctx->splits[split][i];
    *opts = ctx->split_opts[split][i];
    return LT_OK;
}

void lt_ctx_set_dataloader_idx(lt_ctx_t *ctx, int idx) {
    if (ctx) ctx->dataloader_idx = idx >= 0 && idx < LT_MAX_DATALOADERS ? idx : -1;
}
