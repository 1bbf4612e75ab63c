/* The batches the loops read: a split's loader with the batches the limits allow, each
 * batch copied into the module's arena (Lightning's batch_to_device), and the step
 * outputs kept for an x_epoch_end hook. Fit and the evaluation loops share them. */
#include <stdlib.h>
#include <string.h>

#include "trainer.h"

static const char *const split_names[] = {"train", "val", "test", "predict"};

const char *split_name(lt_split split) { return split_names[split]; }

/* A split with no samples, for a loop that is to run, is an error, the same one for every
 * command that runs that loop (fit's test after training and `lthost test` alike): a loop
 * over nothing would report metrics of nothing and exit 0. A limit of 0 batches asks for
 * no loop, so it is not an error. */
static bool check_not_empty(const session *s, const split_loader *sl, const batch_limit *lim,
                            int64_t length) {
    lt_split split = sl->split;
    static const char *const verbs[] = {"train on", "validate on", "test on", "predict on"};
    static const char *const skips[] = {"", "; or skip validation with --limit_val_batches 0",
                                        "; or skip testing (in fit, with --test_after_fit false)",
                                        ""};
    bool no_batches = lim->is_fraction ? lim->fraction == 0 : lim->count == 0;
    if (length > 0 || no_batches) return true;
    char which[48] = "";
    if (sl->dataloader_idx > 0)
        snprintf(which, sizeof which, " (dataloader %d)", sl->dataloader_idx);
    host_error("data plugin %s: the %s split%s has 0 samples, so there is nothing to %s; give it "
               "data (check the --data.* flags, such as --data.root)%s",
               s->data.desc->name, split_names[split], which, verbs[split], skips[split]);
    return false;
}

static void *pinned_alloc(void *user, size_t nbytes) {
    const pinned_buffers *p = user;
    return p->k->host_alloc(p->st, nbytes);
}

static void pinned_free(void *user, void *ptr) {
    const pinned_buffers *p = user;
    p->k->host_free(p->st, ptr);
}

static void pinned_wait(void *user, void *ptr) {
    const pinned_buffers *p = user;
    p->k->host_wait(p->st, ptr);
}

/* Batch buffers in the accelerator's pinned host memory when it has some (cuda): the
 * batch's copy to the device is then asynchronous (Lightning's pin_memory), and the
 * loader waits on it before refilling a buffer. NULL: malloc (cpu). */
static const lt_host_alloc *batch_buffers(session *s) {
    pinned_buffers *p = &s->pinned;
    if (!p->k) p->k = lt_device_kernels(s->dev, &p->st);
    if (!p->k || !p->k->host_alloc || !p->k->host_free) return NULL;
    p->ha = (lt_host_alloc){.alloc = pinned_alloc,
                            .free = pinned_free,
                            .wait = p->k->host_wait ? pinned_wait : NULL,
                            .user = p};
    return &p->ha;
}

static bool open_loader(session *s, lt_split split, const batch_limit *lim, bool in_order,
                        split_loader *sl) {
    lt_loader_opts opts;
    if (lt_ctx_loader(s->data.ctx, split, sl->dataloader_idx, &sl->ds, &opts) != LT_OK) {
        host_error("%s", lt_last_error());
        return false;
    }
    if (!check_not_empty(s, sl, lim, sl->ds.length)) return false;
    if (in_order) opts.shuffle = false;
    /* DistributedSampler: each rank its own shard (predict writes one file: all of it) */
    bool shard = s->cfg->use_distributed_sampler && s->group.world > 1 && split != LT_SPLIT_PREDICT;
    if (lt_loader_new_with(&sl->ds, &opts, s->seed, batch_buffers(s), &sl->loader) != LT_OK ||
        (shard && lt_loader_set_shard(sl->loader, s->group.rank, s->group.world) != LT_OK)) {
        host_error("%s", lt_last_error());
        return false;
    }
    int64_t total = lt_loader_num_batches(sl->loader);
    sl->batches = lim->is_fraction ? (int64_t)((double)total * lim->fraction)
                                   : (lim->count < total ? lim->count : total);
    if (lim->is_fraction && lim->fraction > 0.0 && sl->batches == 0) {
        host_error("a batch limit of %g of the %lld %s batches is less than one batch; use a "
                   "larger fraction or an integer count",
                   lim->fraction, (long long)total, split_names[split]);
        return false;
    }
    return true;
}

bool open_split(session *s, lt_split split, const batch_limit *lim, bool in_order,
                split_loader *sl) {
    /* Lightning's "[LightningDataModule]X.train_dataloader", ... */
    const char *action = s->prof.d ? prof_intern(s, "[LightningDataModule]%s.%s_dataloader",
                                                 s->data.desc->name, split_names[split])
                                   : NULL;
    sl->split = split;
    prof_start(s, action);
    bool ok = open_loader(s, split, lim, in_order, sl);
    prof_stop(s, action);
    if (ok && s->prof.d && s->prof.d->span) lt_loader_set_profiler(sl->loader, prof_span, &s->prof);
    return ok;
}

bool open_eval_loaders(session *s, lt_split split, const batch_limit *lim, bool in_order,
                       eval_loaders *el) {
    int n = split == LT_SPLIT_TRAIN || split == LT_SPLIT_PREDICT
                ? 1
                : lt_ctx_num_loaders(s->data.ctx, split);
    if (n < 1) n = 1; /* open_split names the missing split */
    *el = (eval_loaders){.n = 0};
    for (int i = 0; i < n; i++) {
        el->sl[i].dataloader_idx = i;
        el->n = i + 1; /* freed by eval_loaders_free even if opening it fails */
        if (!open_split(s, split, lim, in_order, &el->sl[i])) return false;
    }
    return true;
}

void eval_loaders_free(eval_loaders *el) {
    for (int i = 0; i < el->n; i++) lt_loader_free(el->sl[i].loader);
    el->n = 0;
}

/* The host batch as tensors in the module's arena: each field (N, shape); x and y are
 * the fields so named. */
static bool copy_batch(session *s, const split_loader *sl, const lt_host_batch *hb, lt_batch_t *b) {
    lt_arena_t *a = lt_ctx_arena(s->module.ctx);
    *b = (lt_batch_t){.size = hb->n, .nfields = hb->nfields, .dataloader_idx = sl->dataloader_idx};
    for (int k = 0; k < hb->nfields; k++) {
        const lt_field_desc *f = &hb->fields[k];
        int64_t shape[LT_MAX_DIMS + 1] = {hb->n};
        for (int i = 0; i < f->ndim; i++) shape[i + 1] = f->shape[i];
        b->names[k] = f->name;
        if (!(b->fields[k] = lt_from_host(a, f->dtype, f->ndim + 1, shape, hb->bufs[k]))) {
            host_error("copying field '%s' of a batch to the device: %s", f->name, lt_last_error());
            return false;
        }
        if (!strcmp(f->name, "x")) b->x = b->fields[k];
        if (!strcmp(f->name, "y")) b->y = b->fields[k];
    }
    return true;
}

/* Lightning's batch_to_device with its module hooks around the copy (the host has no
 * batch transfer hooks to call, so those two spans are empty). */
bool make_batch(session *s, const split_loader *sl, const lt_host_batch *hb, lt_batch_t *b) {
    const profiling *p = &s->prof;
    prof_start(s, p->batch_to_device);
    prof_start(s, p->on_before_batch_transfer);
    prof_stop(s, p->on_before_batch_transfer);
    prof_start(s, p->transfer_batch_to_device);
    bool ok = copy_batch(s, sl, hb, b);
    prof_stop(s, p->transfer_batch_to_device);
    prof_start(s, p->on_after_batch_transfer);
    prof_stop(s, p->on_after_batch_transfer);
    prof_stop(s, p->batch_to_device);
    return ok;
}

bool outputs_push(outputs_list *l, lt_tensor_t *t) {
    if (!t) return true; /* a skipped step has no output */
    if (l->n == l->cap) {
        int64_t cap = l->cap ? 2 * l->cap : 64;
        lt_tensor_t **items = realloc(l->items, (size_t)cap * sizeof *items);
        if (!items) {
            host_error("out of host memory keeping step outputs for an x_epoch_end hook");
            return false;
        }
        l->items = items;
        l->cap = cap;
    }
    if (!(l->items[l->n] = lt_keep(t))) {
        host_error("keeping a step output: %s", lt_last_error());
        return false;
    }
    l->n++;
    return true;
}

void outputs_clear(outputs_list *l) {
    for (int64_t i = 0; i < l->n; i++) lt_tensor_free(l->items[i]);
    l->n = 0;
}
