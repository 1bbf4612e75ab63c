/* Data-parallel training over the strategy's process group (PyTorch's DDP): the same
 * start on every rank (rank 0's weights, a check that every rank loaded the same
 * plugin files), gradients averaged in buckets that start reducing while backward is
 * still running, sync_dist metrics, and one decision to stop for all ranks. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "trainer.h"

static bool strategy_failed(session *s, const char *what) {
    host_error("--strategy %s: %s: %s", s->group.desc->name, what,
               *lt_last_error() ? lt_last_error() : "the collective failed");
    return false;
}

/* xxh64 of a file's bytes, 0 when unreadable. */
static uint64_t file_hash(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    XXH64_state_t *h = XXH64_createState();
    XXH64_reset(h, 0);
    char buf[1 << 16];
    for (size_t n; (n = fread(buf, 1, sizeof buf, f)) > 0;) XXH64_update(h, buf, n);
    uint64_t v = XXH64_digest(h);
    XXH64_freeState(h);
    fclose(f);
    return v;
}

/* Rank 0 sends its text (DDP_TEXT bytes) into root, each rank compares its own, and all
 * learn whether anyone differs: false when the collectives failed (already reported). */
#define DDP_TEXT 2048
static bool compare_with_rank0(session *s, const char *mine, char *root, const char *what,
                               bool *anyone_differs) {
    process_group *g = &s->group;
    memcpy(root, mine, DDP_TEXT);
    if (g->desc->broadcast(g->state, root, DDP_TEXT, 0) != LT_OK) return strategy_failed(s, what);
    float differs = strcmp(root, mine) != 0;
    if (g->desc->all_reduce_sum(g->state, &differs, 1) != LT_OK) return strategy_failed(s, what);
    *anyone_differs = differs != 0;
    return true;
}

/* Every rank must run the same lthost and plugin files: rank 0 sends its list (one
 * "what (xxh64)" line each), each rank compares, and all learn whether anyone differs. */
bool ddp_check_versions(session *s, const lt_plugin_t *const *plugins, int n) {
    process_group *g = &s->group;
    if (g->world < 2) return true;
    char mine[DDP_TEXT] = {0}, root[DDP_TEXT];
    size_t len = (size_t)snprintf(mine, sizeof mine, "lthost %s (plugin ABI %d.%d)", lt_version(),
                                  LT_ABI_MAJOR, LT_ABI_MINOR);
    for (int i = 0; i < n && len < sizeof mine; i++)
        len += (size_t)snprintf(mine + len, sizeof mine - len, "\n%s (xxh64 %016llx)",
                                lt_plugin_path(plugins[i]),
                                (unsigned long long)file_hash(lt_plugin_path(plugins[i])));
    bool differs = false;
    if (!compare_with_rank0(s, mine, root, "comparing versions", &differs)) return false;
    if (!differs) return true;
    if (!strcmp(root, mine)) {
        host_error("another rank loaded different files than rank 0 (its error names them)");
        return false;
    }
    char *a = mine, *b = root; /* the first line that differs */
    for (char *na, *nb;; a = na + 1, b = nb + 1) {
        na = strchr(a, '\n'), nb = strchr(b, '\n');
        if (na) *na = '\0';
        if (nb) *nb = '\0';
        if (strcmp(a, b) || !na || !nb) break;
    }
    host_error("rank %d runs different code than rank 0: it loaded %s where rank 0 loaded %s; "
               "every rank must load the same lthost and plugin files",
               g->rank, a, b);
    return false;
}

/* Every rank must build the same parameters (torch's DDP checks their shapes too): a
 * module built with other --model.* flags would otherwise fail in the broadcast or
 * average gradients of different tensors. */
bool ddp_check_model(session *s) {
    process_group *g = &s->group;
    if (g->world < 2) return true;
    XXH64_state_t *h = XXH64_createState();
    if (!h) {
        host_error("out of host memory comparing models");
        return false;
    }
    XXH64_reset(h, 0);
    int tensors = lt_ctx_num_params(s->module.ctx);
    for (int i = 0; i < tensors; i++) {
        const char *name = NULL;
        lt_tensor_t *p = lt_ctx_param(s->module.ctx, i, &name);
        int ndim = lt_ndim(p);
        XXH64_update(h, name ? name : "", name ? strlen(name) + 1 : 1);
        XXH64_update(h, &ndim, sizeof ndim);
        for (int d = 0; d < ndim; d++) {
            int64_t size = lt_dim(p, d);
            XXH64_update(h, &size, sizeof size);
        }
    }
    char mine[DDP_TEXT] = {0}, root[DDP_TEXT];
    snprintf(mine, sizeof mine,
             "%d parameter tensors, %lld parameters (names and shapes: xxh64 "
             "%016llx)",
             tensors, (long long)lt_num_parameters(s->module.ctx),
             (unsigned long long)XXH64_digest(h));
    XXH64_freeState(h);
    bool differs = false;
    if (!compare_with_rank0(s, mine, root, "comparing models", &differs)) return false;
    if (!differs) return true;
    if (!strcmp(root, mine))
        host_error("another rank built a different model than rank 0 (its error says how)");
    else
        host_error("rank %d built a different model than rank 0: %s where rank 0 has %s; every "
                   "rank must build the same model (the same --model.* flags)",
                   g->rank, mine, root);
    return false;
}

/* Floats in the flat parameter (and gradient) buffer: where the last parameter ends. */
static int64_t flat_len(session *s) {
    lt_ctx_t *ctx = s->module.ctx;
    int last = lt_ctx_num_params(ctx) - 1;
    return last < 0 ? 0 : lt_ctx_param_offset(ctx, last) + lt_numel(lt_ctx_param(ctx, last, NULL));
}

/* In place when the device's memory is host memory; else the strategy's device
 * collectives (bound to this rank's device) when it has them, else host copies. */
static bool pick_path(session *s, ddp_path *path) {
    process_group *g = &s->group;
    *path = DDP_IN_HOST;
    if (lt_ctx_values_host(s->module.ctx, NULL) || !lt_num_parameters(s->module.ctx)) return true;
    const lt_strategy_desc *t = g->desc;
    *path = DDP_STAGED;
    if (!t->device_bind || !t->device_all_reduce_mean_start || !t->device_broadcast || !t->wait)
        return true;
    lt_clear_error();
    lt_status st = t->device_bind(g->state, lt_device_name(s->dev), s->device_index);
    if (st == LT_OK) return *path = DDP_ON_DEVICE, true;
    if (st != LT_ERR_UNSUPPORTED) return strategy_failed(s, "reaching this rank's device memory");
    if (g->rank == 0)
        fprintf(stderr,
                "lthost: warning: --strategy %s cannot reduce %s memory in place (%s); "
                "gradients go through host copies, one blocking reduction per step\n",
                t->name, lt_device_name(s->dev), lt_last_error());
    return true;
}

bool ddp_choose_path(session *s) {
    process_group *g = &s->group;
    ddp_state *d = &g->ddp;
    if (g->world < 2 || d->path != DDP_UNDECIDED) return true;
    if (!pick_path(s, &d->path)) return false;
    /* Summed over ranks, gradients divided by the world size first make the mean: the
     * division rides on backward's seed instead of a pass over the summed buffer (which
     * is out of cache by then). The device path's strategy averages by itself. */
    if (d->path != DDP_ON_DEVICE) lt_ctx_set_backward_scale(s->module.ctx, 1.0f / (float)g->world);
    return true;
}

/* Rank 0's weights everywhere (torch DDP's broadcast of the module's parameters). */
bool ddp_broadcast_params(session *s) {
    process_group *g = &s->group;
    if (g->world < 2) return true;
    int64_t n = 0;
    if (g->ddp.path == DDP_ON_DEVICE) {
        float *values = lt_ctx_values_device(s->module.ctx, &n);
        lt_status st = g->desc->device_broadcast(g->state, values, (size_t)n * sizeof *values, 0);
        return st == LT_OK || strategy_failed(s, "broadcasting rank 0's parameters");
    }
    float *values = lt_ctx_values_host(s->module.ctx, &n);
    float *staged = NULL;
    if (!values) {
        n = flat_len(s);
        if (n && !(values = staged = malloc((size_t)n * sizeof *values))) {
            host_error("out of host memory staging %lld parameters", (long long)n);
            return false;
        }
        if (n && lt_ctx_copy_flat(s->module.ctx, true, true, 0, n, staged) != LT_OK)
            return free(staged), false;
    }
    bool ok = g->desc->broadcast(g->state, values, (size_t)n * sizeof *values, 0) == LT_OK;
    if (ok && staged) ok = lt_ctx_copy_flat(s->module.ctx, true, false, 0, n, staged) == LT_OK;
    free(staged);
    return ok || strategy_failed(s, "broadcasting rank 0's parameters");
}

/* ---- gradient buckets ----------------------------------------------------------------- */

/* Parameters in reverse order (backward finishes the last layers first) grouped into
 * buckets of about bucket_cap_mb; parameters are contiguous in the flat gradient
 * buffer, so a bucket is one range of it. */
bool ddp_plan_buckets(session *s) {
    process_group *g = &s->group;
    ddp_state *d = &g->ddp;
    int np = lt_ctx_num_params(s->module.ctx);
    if (g->world < 2 || np == 0) return true;
    d->bucket_of = calloc((size_t)np, sizeof *d->bucket_of);
    d->buckets = calloc((size_t)np, sizeof *d->buckets);
    if (!d->bucket_of || !d->buckets) {
        host_error("out of host memory planning gradient buckets");
        return false;
    }
    int64_t cap = (int64_t)(s->cfg->bucket_cap_mb * 1024 * 1024 / sizeof(float));
    grad_bucket *b = NULL;
    for (int i = np - 1; i >= 0; i--) {
        int64_t n = lt_numel(lt_ctx_param(s->module.ctx, i, NULL));
        if (!b || b->n >= cap) b = &d->buckets[d->nbuckets++];
        b->first = lt_ctx_param_offset(s->module.ctx, i); /* going backwards through the buffer */
        b->n += n;
        b->params++;
        d->bucket_of[i] = (int)(b - d->buckets);
    }
    return true;
}

/* In the background while backward goes on, or (blocking) once nothing is left to
 * overlap with: MPI's blocking reduction is about twice as fast as its non-blocking one. */
static void start_bucket(session *s, grad_bucket *b, bool background) {
    process_group *g = &s->group;
    ddp_state *d = &g->ddp;
    if (b->started || d->failed) return;
    b->started = true;
    float *grads = d->grads + b->first;
    const lt_strategy_desc *t = g->desc;
    lt_status st = d->path == DDP_ON_DEVICE
                       ? t->device_all_reduce_mean_start(g->state, grads, b->n, &b->req)
                   : background && t->all_reduce_sum_start
                       ? t->all_reduce_sum_start(g->state, grads, b->n, &b->req)
                       : t->all_reduce_sum(g->state, grads, b->n);
    if (st != LT_OK) d->failed = true;
}

static void on_grad_ready(void *user, int param) {
    session *s = user;
    ddp_state *d = &s->group.ddp;
    int i = d->bucket_of[param];
    /* the last bucket holds the first layer, whose gradient backward finishes last */
    if (--d->buckets[i].pending == 0 && i != d->nbuckets - 1) start_bucket(s, &d->buckets[i], true);
    if (s->group.desc->progress) s->group.desc->progress(s->group.state);
}

/* Before a backward whose gradients the optimizer will use: arm the buckets. */
bool ddp_before_backward(session *s) {
    process_group *g = &s->group;
    ddp_state *d = &g->ddp;
    if (g->world < 2 || !d->nbuckets) return true;
    d->grads = d->path == DDP_ON_DEVICE ? lt_ctx_grads_device(s->module.ctx, NULL)
               : d->path == DDP_IN_HOST ? lt_ctx_grads_host(s->module.ctx, NULL)
                                        : NULL;
    if (!d->grads) return true; /* staged: reduced in one piece after backward */
    for (int i = 0; i < d->nbuckets; i++)
        d->buckets[i].pending = d->buckets[i].params, d->buckets[i].started = false,
        d->buckets[i].req = NULL;
    d->failed = false;
    lt_ctx_set_grad_ready(s->module.ctx, on_grad_ready, s);
    return true;
}

/* Device memory the strategy cannot reach: one blocking reduction of a host copy. */
static bool reduce_staged(session *s) {
    process_group *g = &s->group;
    int64_t n = flat_len(s);
    float *host = malloc((size_t)n * sizeof *host);
    bool ok = host && lt_ctx_copy_flat(s->module.ctx, false, true, 0, n, host) == LT_OK &&
              g->desc->all_reduce_sum(g->state, host, n) == LT_OK &&
              lt_ctx_copy_flat(s->module.ctx, false, false, 0, n, host) == LT_OK;
    free(host);
    return ok || strategy_failed(s, "averaging gradients");
}

static bool finish_buckets(session *s);

/* After it: wait for the reductions and average (timed as "[Strategy]X.reduce_gradients"). */
bool ddp_after_backward(session *s) {
    process_group *g = &s->group;
    ddp_state *d = &g->ddp;
    if (g->world < 2 || !d->nbuckets) return true;
    prof_start(s, s->prof.reduce_gradients);
    bool ok = d->grads ? finish_buckets(s) : reduce_staged(s);
    prof_stop(s, s->prof.reduce_gradients);
    return ok;
}

/* The buckets backward did not start (unused parameters), then wait for all. */
static bool finish_buckets(session *s) {
    process_group *g = &s->group;
    ddp_state *d = &g->ddp;
    lt_ctx_set_grad_ready(s->module.ctx, NULL, NULL);
    for (int i = 0; i < d->nbuckets; i++) start_bucket(s, &d->buckets[i], false);
    bool ok = !d->failed;
    for (int i = 0; i < d->nbuckets; i++) {
        grad_bucket *b = &d->buckets[i];
        if (b->req && g->desc->wait(g->state, b->req) != LT_OK) ok = false;
        b->req = NULL;
    }
    return ok || strategy_failed(s, "averaging gradients");
}

void ddp_free(session *s) {
    process_group *g = &s->group;
    free(g->ddp.buckets);
    free(g->ddp.bucket_of);
    g->ddp = (ddp_state){0};
}

/* ---- what all ranks must agree on -------------------------------------------------- */

/* The max (or min) of metric i over the ranks' rows of all (world rows of n). */
static double extreme(const float *all, int n, int world, int i, bool max) {
    double v = all[i];
    for (int r = 1; r < world; r++) {
        double x = all[(size_t)r * (size_t)n + (size_t)i];
        v = max ? (x > v ? x : v) : (x < v ? x : v);
    }
    return v;
}

/* reduce_fx max / min over ranks: every rank's values gathered, then the extreme of each
 * (a collective only when some metric needs it: every rank logs the same names). */
static bool sync_extrema(session *s, lt_metric_reading *m, int n) {
    bool any = false;
    for (int i = 0; i < n; i++) any |= (m[i].flags & LT_LOG_REDUCE_MASK) >= LT_LOG_REDUCE_MAX;
    if (!any) return true;
    int world = s->group.world;
    float *mine = calloc((size_t)n * (1 + (size_t)world), sizeof *mine);
    if (!mine) {
        host_error("out of host memory syncing metrics");
        return false;
    }
    float *all = mine + n;
    for (int i = 0; i < n; i++) mine[i] = (float)m[i].epoch_mean;
    bool ok = lt_trainer_all_gather(&s->tr, mine, n, all) == LT_OK;
    for (int i = 0; ok && i < n; i++) {
        unsigned fx = m[i].flags & LT_LOG_REDUCE_MASK;
        if (fx >= LT_LOG_REDUCE_MAX)
            m[i].epoch_mean = extreme(all, n, world, i, fx == LT_LOG_REDUCE_MAX);
    }
    free(mine);
    return ok || strategy_failed(s, "syncing sync_dist metrics");
}

/* sync_dist metrics as Lightning's strategy.reduce with each one's reduce_fx: the
 * batch-size-weighted mean over every rank's batches, the sum, the max or the min. */
bool ddp_sync_metrics(session *s, lt_metric_reading *m, int n) {
    process_group *g = &s->group;
    if (g->world < 2 || n == 0) return true;
    float *buf = calloc(2 * (size_t)n, sizeof *buf);
    if (!buf) {
        host_error("out of host memory syncing metrics");
        return false;
    }
    for (int i = 0; i < n; i++) {
        bool sum = (m[i].flags & LT_LOG_REDUCE_MASK) == LT_LOG_REDUCE_SUM;
        buf[2 * i] = (float)(sum ? m[i].epoch_mean : m[i].epoch_mean * m[i].weight);
        buf[2 * i + 1] = sum ? 0.0f : (float)m[i].weight;
    }
    bool ok = g->desc->all_reduce_sum(g->state, buf, 2 * n) == LT_OK;
    for (int i = 0; ok && i < n; i++) {
        unsigned fx = m[i].flags & LT_LOG_REDUCE_MASK;
        if (fx == LT_LOG_REDUCE_SUM)
            m[i].epoch_mean = buf[2 * i];
        else if (!fx && buf[2 * i + 1] > 0)
            m[i].epoch_mean = buf[2 * i] / buf[2 * i + 1];
    }
    free(buf);
    if (!ok) return strategy_failed(s, "syncing sync_dist metrics");
    return sync_extrema(s, m, n);
}

/* true on every rank when any rank says true (Lightning's reduce_boolean_decision). */
bool ddp_any(session *s, bool mine, bool *any) {
    process_group *g = &s->group;
    *any = mine;
    if (g->world < 2) return true;
    float v = mine;
    if (g->desc->all_reduce_sum(g->state, &v, 1) != LT_OK)
        return strategy_failed(s, "agreeing to stop");
    *any = v > 0;
    return true;
}

bool ddp_same_count(session *s, int64_t n, const char *what) {
    process_group *g = &s->group;
    if (g->world < 2) return true;
    float *counts = malloc((size_t)g->world * sizeof *counts); /* rank r's in slot r */
    if (!counts) {
        host_error("out of host memory comparing %s", what);
        return false;
    }
    float mine = (float)n;
    bool ok = lt_trainer_all_gather(&s->tr, &mine, 1, counts) == LT_OK;
    if (!ok) strategy_failed(s, "comparing ranks' batch counts");
    int other = 0;
    while (ok && other < g->world && counts[other] == mine) other++;
    if (ok && other < g->world) {
        ok = false;
        host_error("rank %d has %lld %s but rank %d has %.0f: every rank must step the same "
                   "number of times (with --use_distributed_sampler false the data module must "
                   "give every rank as many batches)",
                   g->rank, (long long)n, what, other, (double)counts[other]);
    }
    free(counts);
    return ok;
}

/* A hook's collectives: an error fails that hook, which stops this rank and, through the
 * strategy's abort, the others that wait for it. */
static lt_status hook_all_reduce_sum(lt_trainer_t *tr, float *values, int64_t n) {
    session *s = tr->host;
    return s->group.desc->all_reduce_sum(s->group.state, values, n);
}

static lt_status hook_barrier(lt_trainer_t *tr) {
    session *s = tr->host;
    return s->group.desc->barrier(s->group.state);
}

static lt_status hook_all_gather(lt_trainer_t *tr, const float *values, int64_t n, float *out) {
    session *s = tr->host;
    return s->group.desc->all_gather(s->group.state, values, n, out);
}

void ddp_serve_trainer(session *s) {
    process_group *g = &s->group;
    s->tr.global_rank = g->rank;
    s->tr.world_size = g->world;
    s->tr.local_rank = g->local_rank;
    if (g->world > 1) {
        s->tr.all_reduce_sum = hook_all_reduce_sum;
        if (g->desc->barrier) s->tr.barrier = hook_barrier;
        if (g->desc->all_gather) s->tr.all_gather = hook_all_gather;
        s->tr.sync_batchnorm = s->cfg->sync_batchnorm; /* Lightning: only under DDP */
    }
}
