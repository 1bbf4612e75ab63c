/* The DataLoader: an epoch's index order (shuffled from (seed, epoch)), cut into batches
 * that worker threads fill ahead of the trainer into a ring of buffers allocated once.
 * Batches are delivered strictly in order; the trainer waits only for one not yet filled.
 * Told the epoch that comes next (lt_loader_set_next), idle workers fill its first batches
 * once every batch of the current one is claimed, so the next epoch does not start by
 * waiting for a fill (a GPU would sit idle meanwhile). */
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fields.h"
#include "lt_impl.h"

typedef enum { SLOT_EMPTY, SLOT_FILLING, SLOT_READY } slot_state;

typedef struct lt_prof_hook {
    lt_prof_span_fn fn; /* NULL: no spans */
    void *user;
} lt_prof_hook;

typedef struct slot {
    slot_state state;
    bool ahead;    /* filled for next_epoch, not the current one */
    int64_t batch; /* the batch claimed into it, set under mu */
    lt_host_batch hb;
    lt_status status; /* the fill's result */
    char err[512];    /* its message: errors are thread-local, so carried over by hand */
} slot;

struct lt_loader {
    lt_dataset ds;
    lt_loader_opts o;
    uint64_t seed;
    lt_field_desc fields[LT_MAX_FIELDS]; /* "x" and "y", or the dataset's named fields */
    int nfields;
    int64_t field_bytes[LT_MAX_FIELDS]; /* per sample */
    int64_t nbatches;                   /* per full epoch */
    int rank, world;                    /* the shard this loader reads (lt_loader_set_shard) */
    int64_t samples;                    /* per epoch: the dataset's length, or the shard's */
    int64_t *order;                     /* this shard's sample indices of the current epoch */
    int64_t *full;                      /* with world > 1: the whole epoch's order, then sharded */
    slot *slots;
    int nslots, nthreads;
    /* Sleepers on work / ready: wake-ups (a futex call and a context switch, most of a
     * small step's time) are sent only to someone waiting, and workers are woken only
     * once half the ring is free, so they fill several batches per wake-up. */
    int idle_workers, ready_waiters;
    pthread_t *threads;
    pthread_mutex_t mu;
    pthread_cond_t work, ready;
    int64_t limit;        /* batches in the current epoch */
    int64_t epoch;        /* the current epoch (fill_fields_at is told it) */
    int64_t next_claim;   /* next batch a worker fills */
    int64_t next_deliver; /* next batch the trainer gets */
    /* The epoch after this one (lt_loader_set_next; -1: not told), its order, its batch
     * limit and the next of its batches a worker fills ahead. */
    int64_t next_epoch, next_limit, next_ahead;
    int64_t *order_next;
    int held; /* slot the trainer holds, or -1 */
    bool stop;
    int workers_named; /* workers that took their span tid (1, 2, ...) */
    lt_prof_hook prof; /* batch-fill spans; read under mu by whoever claims a batch */
    lt_host_alloc ha;  /* where the slots' buffers come from (malloc by default) */
};

static void *malloc_buf(void *user, size_t nbytes) {
    (void)user;
    return malloc(nbytes);
}

static void free_buf(void *user, void *p) {
    (void)user;
    free(p);
}

lt_status lt__dataset_copy(const lt_dataset *in, lt_dataset *out, const char *who) {
    if (in->struct_size < LT_DATASET_SIZE_1_0)
        return lt_set_error(LT_ERR_ABI,
                            "%s: the dataset's struct_size is %u, below %zu (lt_dataset "
                            "of SDK 1.0): set struct_size = sizeof(lt_dataset)",
                            who, in->struct_size, LT_DATASET_SIZE_1_0);
    *out = (lt_dataset){0};
    memcpy(out, in, in->struct_size < sizeof *out ? in->struct_size : sizeof *out);
    return LT_OK;
}

static lt_status check_dataset(const lt_dataset *ds) {
    if ((unsigned)ds->split >= LT_SPLIT_COUNT)
        return lt_set_error(LT_ERR_INVALID_ARG, "DataLoader: the dataset's split is %d",
                            (int)ds->split);
    if (ds->length < 0)
        return lt_set_error(LT_ERR_INVALID_ARG,
                            "DataLoader: the dataset's length is %lld; it must "
                            "be >= 0",
                            (long long)ds->length);
    return LT_OK;
}

static lt_status check_args(const lt_dataset *ds, const lt_loader_opts *o) {
    /* The options struct is still version 1, so its v1 size is its size. */
    if (o->struct_size < sizeof *o)
        return lt_set_error(LT_ERR_ABI,
                            "lt_loader_new: options struct_size too small (%u; "
                            "expected %zu): set struct_size = sizeof(lt_loader_opts)",
                            o->struct_size, sizeof *o);
    if (o->batch_size < 1)
        return lt_set_error(LT_ERR_INVALID_ARG, "DataLoader: batch_size must be >= 1 (got %lld)",
                            (long long)o->batch_size);
    if (o->num_workers < LT_LOADER_WORKERS_AUTO || o->num_workers > 64)
        return lt_set_error(LT_ERR_INVALID_ARG,
                            "DataLoader: num_workers must be in [0, 64], or "
                            "LT_LOADER_WORKERS_AUTO (got %d)",
                            o->num_workers);
    return check_dataset(ds);
}

/* The span of one batch fill: bytes are what the dataset wrote into the buffers. */
static void report_fill(const lt_loader_t *l, lt_prof_hook hook, int tid, uint64_t t0, int64_t n) {
    double bytes = 0;
    for (int k = 0; k < l->nfields; k++) bytes += (double)n * (double)l->field_bytes[k];
    lt_prof_span sp = {.name = "[_DataLoader].fill_batch",
                       .kind = "data",
                       .start_ns = t0,
                       .end_ns = lt_prof_now_ns(),
                       .flops = 0.0,
                       .bytes = bytes,
                       .tid = tid};
    hook.fn(hook.user, &sp);
}

/* Fill slot s with batch b of the epoch whose order is given (called without the lock
 * held, with order, epoch and hook read under it); tid names the thread in its span: 0
 * the caller's, 1 + i worker i. */
static void fill_slot(lt_loader_t *l, slot *s, const int64_t *order, int64_t epoch, int64_t b,
                      int tid, lt_prof_hook hook) {
    int64_t first = b * l->o.batch_size, n = l->samples - first;
    if (n > l->o.batch_size) n = l->o.batch_size;
    s->hb.n = n;
    s->hb.index = b;
    /* An asynchronous copy of the slot's previous batch may still be reading it. */
    for (int k = 0; l->ha.wait && k < l->nfields; k++) l->ha.wait(l->ha.user, s->hb.bufs[k]);
    uint64_t t0 = hook.fn ? lt_prof_now_ns() : 0;
    lt_clear_error();
    const int64_t *idx = order + first;
    if (l->ds.nfields && l->ds.fill_fields_at)
        s->status =
            l->ds.fill_fields_at(l->ds.user, l->ds.split, l->seed, epoch, idx, n, s->hb.bufs);
    else if (l->ds.nfields)
        s->status = l->ds.fill_fields(l->ds.user, l->ds.split, idx, n, s->hb.bufs);
    else if (l->ds.fill_split)
        s->status = l->ds.fill_split(l->ds.user, l->ds.split, idx, n, s->hb.x, s->hb.y);
    else
        s->status = l->ds.fill(l->ds.user, idx, n, s->hb.x, s->hb.y);
    if (s->status != LT_OK)
        snprintf(s->err, sizeof s->err, "%s",
                 *lt_last_error() ? lt_last_error() : lt_status_str(s->status));
    if (hook.fn) report_fill(l, hook, tid, t0, n);
}

/* The batch a worker may fill now (holding mu): the current epoch's next one, else, once
 * all of those are claimed, the next epoch's next one; its slot and order. -1: none. */
static int64_t claim(lt_loader_t *l, slot **s, const int64_t **order, int64_t *epoch) {
    int64_t b = l->next_claim;
    *s = &l->slots[b % l->nslots];
    if (b < l->limit && b < l->next_deliver + l->nslots && (*s)->state == SLOT_EMPTY) {
        l->next_claim++;
        (*s)->ahead = false, (*s)->batch = b;
        *order = l->order, *epoch = l->epoch;
        return b;
    }
    /* Every current batch claimed, so an empty slot is not needed before the epoch ends;
     * batch a of the next epoch takes slot a, where the ring puts it once that starts. */
    b = l->next_ahead;
    if (l->next_epoch < 0 || l->next_claim < l->limit || b >= l->next_limit || b >= l->nslots ||
        l->slots[b].state != SLOT_EMPTY)
        return -1;
    l->next_ahead++;
    *s = &l->slots[b];
    (*s)->ahead = true, (*s)->batch = b;
    *order = l->order_next, *epoch = l->next_epoch;
    return b;
}

static void *worker_main(void *arg) {
    lt_loader_t *l = arg;
    pthread_mutex_lock(&l->mu);
    int tid = ++l->workers_named;
    while (!l->stop) {
        slot *s;
        const int64_t *order;
        int64_t epoch;
        const int64_t b = claim(l, &s, &order, &epoch);
        if (b < 0) {
            l->idle_workers++;
            pthread_cond_wait(&l->work, &l->mu);
            l->idle_workers--;
            continue;
        }
        s->state = SLOT_FILLING;
        lt_prof_hook hook = l->prof;
        pthread_mutex_unlock(&l->mu);
        fill_slot(l, s, order, epoch, b, tid, hook);
        pthread_mutex_lock(&l->mu);
        s->state = SLOT_READY;
        if (l->ready_waiters) pthread_cond_broadcast(&l->ready);
    }
    pthread_mutex_unlock(&l->mu);
    return NULL;
}

/* Per-sample sizes, and the bytes of one slot's buffer of each field; LT_ERR_INVALID_ARG
 * when they overflow. A slot holds at most `length` rows: a batch_size beyond the dataset
 * (legal, as in torch) must not reserve memory no batch will use. */
static lt_status size_buffers(lt_loader_t *l, size_t bytes[LT_MAX_FIELDS]) {
    int64_t rows = l->o.batch_size < l->ds.length ? l->o.batch_size : l->ds.length;
    bool over = false;
    for (int k = 0; k < l->nfields; k++) {
        const lt_field_desc *f = &l->fields[k];
        int64_t *b = &l->field_bytes[k], total;
        *b = (int64_t)lt__dtype_size(f->dtype);
        for (int i = 0; i < f->ndim; i++) over |= __builtin_mul_overflow(*b, f->shape[i], b);
        over |= __builtin_mul_overflow(*b, rows, &total);
        bytes[k] = over ? 0 : (size_t)total + 1; /* + 1: malloc(0) may return NULL */
    }
    if (over)
        return lt_set_error(LT_ERR_INVALID_ARG,
                            "DataLoader: a batch of %lld samples of this dataset "
                            "is too large to address; check its shapes and batch_size",
                            (long long)rows);
    return LT_OK;
}

/* Slot i's host batch: a buffer per field, x and y pointing at the fields so named. */
static bool alloc_slot(lt_loader_t *l, lt_host_batch *hb, const size_t bytes[LT_MAX_FIELDS]) {
    hb->nfields = l->nfields;
    hb->fields = l->fields;
    for (int k = 0; k < l->nfields; k++) {
        if (!(hb->bufs[k] = l->ha.alloc(l->ha.user, bytes[k]))) return false;
        if (!strcmp(l->fields[k].name, "x")) hb->x = hb->bufs[k];
        if (!strcmp(l->fields[k].name, "y")) hb->y = hb->bufs[k];
    }
    return true;
}

/* The ring: 4 slots per worker, so each fills ahead by several batches per wake-up. */
static lt_status alloc_slots(lt_loader_t *l) {
    size_t bytes[LT_MAX_FIELDS] = {0}, total = 0;
    lt_status s = size_buffers(l, bytes);
    if (s != LT_OK) return s;
    for (int k = 0; k < l->nfields; k++) total += bytes[k];
    l->nslots = l->nthreads ? 4 * l->nthreads : 1;
    if (!(l->slots = calloc((size_t)l->nslots, sizeof *l->slots))) goto oom;
    for (int i = 0; i < l->nslots; i++)
        if (!alloc_slot(l, &l->slots[i].hb, bytes)) goto oom;
    return LT_OK;
oom:
    return lt_set_error(LT_ERR_OOM,
                        "DataLoader: out of memory for %d batch buffers of %zu bytes "
                        "(lower batch_size or num_workers)",
                        l->nslots ? l->nslots : 1, total);
}

static lt_status start_workers(lt_loader_t *l) {
    if (!(l->threads = calloc((size_t)l->nthreads + 1, sizeof *l->threads)))
        return lt_set_error(LT_ERR_OOM, "DataLoader: out of memory");
    int want = l->nthreads;
    for (int i = 0; i < want; i++) {
        if (pthread_create(&l->threads[i], NULL, worker_main, l) != 0) {
            l->nthreads = i; /* lt_loader_free joins the ones that started */
            return lt_set_error(LT_ERR_STATE,
                                "DataLoader: cannot start worker thread %d of %d "
                                "(lower num_workers)",
                                i + 1, want);
        }
    }
    return LT_OK;
}

/* LT_LOADER_WORKERS_AUTO: a thread only pays when it gets a core of its own. */
static int auto_workers(void) {
    cpu_set_t cpus;
    if (sched_getaffinity(0, sizeof cpus, &cpus) != 0) return 1;
    return CPU_COUNT(&cpus) > 1;
}

/* The batches an epoch asked for at most max_batches (< 0: all) delivers. */
static int64_t limit_of(const lt_loader_t *l, int64_t max_batches) {
    return max_batches < 0 || max_batches > l->nbatches ? l->nbatches : max_batches;
}

/* Batches in an epoch of l->samples samples (after drop_last). */
static int64_t count_batches(const lt_loader_t *l) {
    int64_t bs = l->o.batch_size;
    return l->o.drop_last ? l->samples / bs : l->samples / bs + (l->samples % bs != 0);
}

lt_status lt_loader_new(const lt_dataset *ds, const lt_loader_opts *opts, uint64_t seed,
                        lt_loader_t **out) {
    return lt_loader_new_with(ds, opts, seed, NULL, out);
}

lt_status lt_loader_new_with(const lt_dataset *ds, const lt_loader_opts *opts, uint64_t seed,
                             const lt_host_alloc *ha, lt_loader_t **out) {
    if (!out) return lt_set_error(LT_ERR_INVALID_ARG, "lt_loader_new: out is NULL");
    *out = NULL;
    if (!ds || !opts) return lt_set_error(LT_ERR_INVALID_ARG, "lt_loader_new: NULL argument");
    if (ha && (!ha->alloc || !ha->free))
        return lt_set_error(LT_ERR_INVALID_ARG, "lt_loader_new_with: alloc and free are required");
    lt_dataset copy;
    lt_field_desc fields[LT_MAX_FIELDS];
    int nfields = 0;
    lt_status s = lt__dataset_copy(ds, &copy, "lt_loader_new");
    if (s == LT_OK) s = check_args(&copy, opts);
    if (s == LT_OK) s = lt__dataset_fields(&copy, fields, &nfields);
    if (s != LT_OK) return s;
    lt_loader_t *l = calloc(1, sizeof *l);
    if (!l) return lt_set_error(LT_ERR_OOM, "out of memory creating a DataLoader");
    l->ds = copy;
    l->ha = ha ? *ha : (lt_host_alloc){.alloc = malloc_buf, .free = free_buf};
    memcpy(l->fields, fields, sizeof fields);
    l->nfields = nfields;
    l->o = *opts;
    l->seed = seed;
    l->held = -1;
    l->world = 1;
    l->next_epoch = -1;
    l->samples = ds->length;
    l->nbatches = count_batches(l);
    l->nthreads = opts->num_workers == LT_LOADER_WORKERS_AUTO ? auto_workers() : opts->num_workers;
    pthread_mutex_init(&l->mu, NULL);
    pthread_cond_init(&l->work, NULL);
    pthread_cond_init(&l->ready, NULL);
    l->order = malloc((size_t)(ds->length ? ds->length : 1) * sizeof *l->order);
    s = l->order ? alloc_slots(l)
                 : lt_set_error(LT_ERR_OOM, "DataLoader: out of memory for %lld indices",
                                (long long)ds->length);
    if (s == LT_OK) s = start_workers(l);
    if (s != LT_OK) {
        lt_loader_free(l);
        return s;
    }
    *out = l;
    return LT_OK;
}

int64_t lt_loader_num_batches(const lt_loader_t *l) { return l ? l->nbatches : 0; }

lt_status lt_loader_start(lt_loader_t *l, int64_t epoch, int64_t max_batches) {
    return lt_loader_start_at(l, epoch, 0, max_batches);
}

/* This rank's indices of `epoch`: the epoch's order (shuffled from (seed, epoch), else
 * 0..N-1), padded by repeating it from its start up to a multiple of world
 * (torch's `indices += indices[:padding_size]`), then every world-th from rank on. */
static void make_order(lt_loader_t *l, int64_t epoch, int64_t *out) {
    int64_t n = l->ds.length;
    int64_t *all = l->world > 1 ? l->full : out;
    if (l->o.shuffle) {
        lt_rng_t r = lt_rng_make(l->seed, (uint64_t)epoch);
        lt_randperm(&r, n, all);
    } else {
        for (int64_t i = 0; i < n; i++) all[i] = i;
    }
    for (int64_t k = 0; all != out && k < l->samples; k++)
        out[k] = all[(l->rank + k * l->world) % n];
}

/* Which fills wait_fills waits for. */
typedef enum { FILLS_ALL, FILLS_CURRENT, FILLS_AHEAD } fill_kind;

/* Wait (holding mu) until no batch of that kind is being filled. */
static void wait_fills(lt_loader_t *l, fill_kind kind) {
    for (;;) {
        bool filling = false;
        for (int i = 0; i < l->nslots; i++) {
            const slot *s = &l->slots[i];
            filling |= s->state == SLOT_FILLING &&
                       (kind == FILLS_ALL || s->ahead == (kind == FILLS_AHEAD));
        }
        if (!filling) return;
        l->ready_waiters++;
        pthread_cond_wait(&l->ready, &l->mu);
        l->ready_waiters--;
    }
}

/* Whether a slot filled (or filling) ahead holds a batch past limit. */
static bool ahead_past(const lt_loader_t *l, int64_t limit) {
    for (int i = 0; i < l->nslots; i++)
        if (l->slots[i].ahead && l->slots[i].batch >= limit) return true;
    return false;
}

/* End the current epoch (holding mu): no claims, no fill of it in flight, every slot free
 * but, when keep_ahead, the next epoch's batches below keep_limit, which become the
 * current epoch's (a fill of one still in flight lands as it would have). */
static void stop_epoch_keeping(lt_loader_t *l, bool keep_ahead, int64_t keep_limit) {
    l->limit = 0;
    l->next_epoch = -1; /* no claims ahead either */
    wait_fills(l, keep_ahead && !ahead_past(l, keep_limit) ? FILLS_CURRENT : FILLS_ALL);
    for (int i = 0; i < l->nslots; i++) {
        slot *s = &l->slots[i];
        if (!(keep_ahead && s->ahead && s->batch < keep_limit)) s->state = SLOT_EMPTY;
        s->ahead = false;
    }
    l->held = -1;
    l->next_claim = l->next_deliver = 0;
}

static void stop_epoch(lt_loader_t *l) { stop_epoch_keeping(l, false, 0); }

/* torch's DistributedSampler (drop_last=False, Lightning's default): each rank reads
 * ceil(N / world) samples, so the ranks take the same number of steps. */
lt_status lt_loader_set_shard(lt_loader_t *l, int rank, int world) {
    if (!l) return lt_set_error(LT_ERR_INVALID_ARG, "lt_loader_set_shard: loader is NULL");
    if (world < 1 || rank < 0 || rank >= world)
        return lt_set_error(LT_ERR_INVALID_ARG,
                            "lt_loader_set_shard: rank %d of world %d; need "
                            "world >= 1 and 0 <= rank < world",
                            rank, world);
    int64_t *full = NULL;
    if (world > 1 && !l->full &&
        !(full = malloc((size_t)(l->ds.length ? l->ds.length : 1) * sizeof *full)))
        return lt_set_error(LT_ERR_OOM, "DataLoader: out of memory for %lld indices",
                            (long long)l->ds.length);
    pthread_mutex_lock(&l->mu);
    stop_epoch(l); /* a started epoch's order belonged to the old shard */
    if (full) l->full = full;
    l->rank = rank;
    l->world = world;
    l->samples = (l->ds.length + world - 1) / world; /* <= length: order still fits */
    l->nbatches = count_batches(l);
    pthread_mutex_unlock(&l->mu);
    return LT_OK;
}

lt_status lt_loader_start_at(lt_loader_t *l, int64_t epoch, int64_t first, int64_t max_batches) {
    if (!l) return lt_set_error(LT_ERR_INVALID_ARG, "lt_loader_start: loader is NULL");
    if (first < 0)
        return lt_set_error(LT_ERR_INVALID_ARG, "lt_loader_start_at: first batch %lld < 0",
                            (long long)first);
    pthread_mutex_lock(&l->mu);
    const int64_t limit = limit_of(l, max_batches);
    /* The epoch set_next announced, from its start: keep what was filled ahead. */
    const bool adopt = l->next_epoch == epoch && first == 0;
    stop_epoch_keeping(l, adopt, limit); /* stop claims, wait for fills in flight */
    if (adopt) {
        int64_t *t = l->order; /* the next epoch's order is this one's */
        l->order = l->order_next, l->order_next = t;
        l->next_claim = l->next_ahead < limit ? l->next_ahead : limit;
    } else {
        make_order(l, epoch, l->order);
        l->next_claim = first < limit ? first : limit;
    }
    l->epoch = epoch;
    l->limit = limit;
    l->next_deliver = adopt ? 0 : l->next_claim;
    pthread_cond_broadcast(&l->work);
    pthread_mutex_unlock(&l->mu);
    return LT_OK;
}

lt_status lt_loader_set_next(lt_loader_t *l, int64_t epoch, int64_t max_batches) {
    if (!l) return lt_set_error(LT_ERR_INVALID_ARG, "lt_loader_set_next: loader is NULL");
    pthread_mutex_lock(&l->mu); /* order_next is swapped with order under it */
    if (!l->order_next && !(l->order_next = malloc((size_t)(l->ds.length ? l->ds.length : 1) *
                                                   sizeof *l->order_next))) {
        pthread_mutex_unlock(&l->mu);
        return lt_set_error(LT_ERR_OOM, "DataLoader: out of memory for %lld indices",
                            (long long)l->ds.length);
    }
    /* Batches filled ahead for an epoch announced before belong to no epoch now. */
    l->next_epoch = -1;
    wait_fills(l, FILLS_AHEAD);
    for (int i = 0; i < l->nslots; i++)
        if (l->slots[i].ahead) l->slots[i].state = SLOT_EMPTY, l->slots[i].ahead = false;
    make_order(l, epoch, l->order_next);
    l->next_epoch = epoch;
    l->next_limit = limit_of(l, max_batches);
    l->next_ahead = 0;
    if (l->idle_workers) pthread_cond_broadcast(&l->work);
    pthread_mutex_unlock(&l->mu);
    return LT_OK;
}

lt_status lt_loader_next(lt_loader_t *l, const lt_host_batch **out) {
    if (!l || !out) return lt_set_error(LT_ERR_INVALID_ARG, "lt_loader_next: NULL argument");
    *out = NULL;
    pthread_mutex_lock(&l->mu);
    if (l->held >= 0) { /* the trainer is done with the previous batch */
        l->slots[l->held].state = SLOT_EMPTY;
        l->held = -1;
        if (l->idle_workers && l->next_claim - l->next_deliver <= l->nslots / 2)
            pthread_cond_broadcast(&l->work);
    }
    int64_t b = l->next_deliver;
    if (b >= l->limit) {
        pthread_mutex_unlock(&l->mu);
        return LT_OK;
    }
    int i = (int)(b % l->nslots);
    slot *s = &l->slots[i];
    if (l->nthreads == 0) {
        s->state = SLOT_FILLING;
        lt_prof_hook hook = l->prof;
        pthread_mutex_unlock(&l->mu);
        fill_slot(l, s, l->order, l->epoch, b, 0, hook);
        pthread_mutex_lock(&l->mu);
        s->state = SLOT_READY;
    }
    if (s->state != SLOT_READY && l->idle_workers) pthread_cond_broadcast(&l->work);
    while (s->state != SLOT_READY) {
        l->ready_waiters++;
        pthread_cond_wait(&l->ready, &l->mu);
        l->ready_waiters--;
    }
    l->next_deliver++;
    l->held = i;
    lt_status st = s->status;
    pthread_mutex_unlock(&l->mu);
    if (st != LT_OK) return lt_set_error(st, "%s", s->err);
    *out = &s->hb;
    return LT_OK;
}

void lt_loader_set_profiler(lt_loader_t *l, lt_prof_span_fn fn, void *user) {
    if (!l) return;
    pthread_mutex_lock(&l->mu);
    /* Fills in flight took the old hook: once they land, nothing calls it again, so a
     * caller may free the profiler as soon as this returns. */
    wait_fills(l, FILLS_ALL);
    l->prof = (lt_prof_hook){fn, user};
    pthread_mutex_unlock(&l->mu);
}

void lt_loader_free(lt_loader_t *l) {
    if (!l) return;
    pthread_mutex_lock(&l->mu);
    l->stop = true;
    pthread_cond_broadcast(&l->work);
    pthread_mutex_unlock(&l->mu);
    for (int i = 0; i < l->nthreads; i++) pthread_join(l->threads[i], NULL);
    for (int i = 0; l->slots && i < l->nslots; i++)
        for (int k = 0; k < l->nfields; k++)
            if (l->slots[i].hb.bufs[k]) l->ha.free(l->ha.user, l->slots[i].hb.bufs[k]);
    pthread_mutex_destroy(&l->mu);
    pthread_cond_destroy(&l->work);
    pthread_cond_destroy(&l->ready);
    free(l->slots);
    free(l->threads);
    free(l->order);
    free(l->order_next);
    free(l->full);
    free(l);
}
