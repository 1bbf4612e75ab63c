/* The DataLoader: batch counts, every sample once per epoch, shuffling from (seed, epoch),
 * identical batches with and without worker threads, limits, restarts, fill errors. */
#include <pthread.h>
#include <sched.h>
#include <string.h>
#include <unistd.h>

#include <lt/runtime.h>

#include "test_util.h"

/* Sample i has x = (i, -i) and label i; fill fails on sample `poison` if >= 0, and
 * counts its calls in *fills when set. */
typedef struct synth {
    int64_t poison;
    long *fills;
} synth;

static lt_status synth_fill(void *user, const int64_t *idx, int64_t n, float *x, void *y) {
    const synth *s = user;
    int64_t *labels = y;
    for (int64_t i = 0; i < n; i++) {
        if (idx[i] == s->poison)
            return lt_set_error(LT_ERR_FORMAT, "sample %lld is poisoned", (long long)idx[i]);
        x[2 * i] = (float)idx[i];
        x[2 * i + 1] = -(float)idx[i];
        labels[i] = idx[i];
    }
    if (s->fills) __atomic_fetch_add(s->fills, 1, __ATOMIC_SEQ_CST);
    return LT_OK;
}

static lt_loader_t *make(synth *s, int64_t len, int64_t bs, bool shuffle, bool drop_last,
                         int workers) {
    lt_dataset ds = {.struct_size = sizeof ds,
                     .length = len,
                     .x_ndim = 1,
                     .x_shape = {2},
                     .y_dtype = LT_I64,
                     .fill = synth_fill,
                     .user = s};
    lt_loader_opts o = {.struct_size = sizeof o,
                        .batch_size = bs,
                        .shuffle = shuffle,
                        .drop_last = drop_last,
                        .num_workers = workers};
    lt_loader_t *l = NULL;
    ck_assert_msg(lt_loader_new(&ds, &o, 1234, &l) == LT_OK, "%s", lt_last_error());
    return l;
}

/* The labels of epoch `epoch` from batch `first` on, in delivery order, announcing `next`
 * (>= 0) right after the start as the trainer does; returns how many samples were seen. */
static int64_t epoch_labels_announcing(lt_loader_t *l, int64_t epoch, int64_t first,
                                       int64_t max_batches, int64_t next, int64_t *out) {
    ck_assert_int_eq(lt_loader_start_at(l, epoch, first, max_batches), LT_OK);
    if (next >= 0) ck_assert_int_eq(lt_loader_set_next(l, next, max_batches), LT_OK);
    int64_t n = 0, b = first;
    const lt_host_batch *hb;
    while (lt_loader_next(l, &hb) == LT_OK && hb) {
        ck_assert_int_eq(hb->index, b++);
        const int64_t *y = hb->y;
        for (int64_t i = 0; i < hb->n; i++) {
            ck_assert_float_eq(hb->x[2 * i], (float)y[i]);
            ck_assert_float_eq(hb->x[2 * i + 1], -(float)y[i]);
            out[n++] = y[i];
        }
    }
    return n;
}

/* The labels of one epoch in delivery order; returns how many samples were seen. */
static int64_t epoch_labels(lt_loader_t *l, int64_t epoch, int64_t max_batches, int64_t *out) {
    return epoch_labels_announcing(l, epoch, 0, max_batches, -1, out);
}

START_TEST(batch_counts) {
    synth s = {.poison = -1};
    lt_loader_t *l = make(&s, 10, 3, false, false, 0);
    ck_assert_int_eq(lt_loader_num_batches(l), 4);
    lt_loader_free(l);
    l = make(&s, 10, 3, false, true, 2);
    ck_assert_int_eq(lt_loader_num_batches(l), 3);
    int64_t y[10];
    ck_assert_int_eq(epoch_labels(l, 0, -1, y), 9);
    lt_loader_free(l);
    l = make(&s, 0, 3, true, false, 1);
    ck_assert_int_eq(lt_loader_num_batches(l), 0);
    ck_assert_int_eq(epoch_labels(l, 0, -1, y), 0);
    lt_loader_free(l);
}
END_TEST

START_TEST(every_sample_once_and_shuffled_by_epoch) {
    enum { N = 1000 };
    static int64_t a[N], b[N], c[N];
    synth s = {.poison = -1};
    lt_loader_t *l = make(&s, N, 32, true, false, 3);
    ck_assert_int_eq(epoch_labels(l, 0, -1, a), N);
    ck_assert_int_eq(epoch_labels(l, 1, -1, b), N);
    ck_assert_int_eq(epoch_labels(l, 0, -1, c), N);
    char seen[N] = {0};
    int moved = 0;
    for (int i = 0; i < N; i++) {
        ck_assert(!seen[a[i]]);
        seen[a[i]] = 1;
        moved += a[i] != i;
    }
    ck_assert_int_gt(moved, N / 2);
    ck_assert(memcmp(a, b, sizeof a) != 0); /* a new order each epoch */
    ck_assert(memcmp(a, c, sizeof a) == 0); /* the same order for the same (seed, epoch) */
    lt_loader_free(l);
}
END_TEST

START_TEST(workers_change_nothing) {
    enum { N = 517 };
    static int64_t ref[N], got[N];
    synth s = {.poison = -1};
    lt_loader_t *l = make(&s, N, 16, true, false, 0);
    ck_assert_int_eq(epoch_labels(l, 3, -1, ref), N);
    lt_loader_free(l);
    for (int w = 1; w <= 4; w++) {
        l = make(&s, N, 16, true, false, w);
        ck_assert_int_eq(epoch_labels(l, 3, -1, got), N);
        ck_assert(memcmp(ref, got, sizeof ref) == 0);
        lt_loader_free(l);
    }
}
END_TEST

START_TEST(limits_and_restarts) {
    enum { N = 200 };
    static int64_t y[N];
    synth s = {.poison = -1};
    lt_loader_t *l = make(&s, N, 10, false, false, 2);
    ck_assert_int_eq(epoch_labels(l, 0, 3, y), 30);
    for (int i = 0; i < 30; i++) ck_assert_int_eq(y[i], i);
    /* Abandon an epoch after one batch, while workers are filling ahead: restart cleanly. */
    for (int rep = 0; rep < 20; rep++) {
        const lt_host_batch *hb;
        ck_assert_int_eq(lt_loader_start(l, rep, -1), LT_OK);
        ck_assert_int_eq(lt_loader_next(l, &hb), LT_OK);
        ck_assert_ptr_nonnull(hb);
    }
    ck_assert_int_eq(epoch_labels(l, 0, -1, y), N);
    for (int i = 0; i < N; i++) ck_assert_int_eq(y[i], i); /* no stale batch of an old epoch */
    /* Free in the middle of an epoch. */
    const lt_host_batch *hb;
    ck_assert_int_eq(lt_loader_start(l, 1, -1), LT_OK);
    ck_assert_int_eq(lt_loader_next(l, &hb), LT_OK);
    lt_loader_free(l);
}
END_TEST

START_TEST(fill_errors_surface) {
    for (int w = 0; w <= 2; w++) {
        synth s = {.poison = 25};
        lt_loader_t *l = make(&s, 100, 10, false, false, w);
        ck_assert_int_eq(lt_loader_start(l, 0, -1), LT_OK);
        const lt_host_batch *hb;
        lt_status st = LT_OK;
        for (int b = 0; b < 3 && st == LT_OK; b++) st = lt_loader_next(l, &hb);
        ck_assert_int_eq(st, LT_ERR_FORMAT);
        ck_assert_str_eq(lt_last_error(), "sample 25 is poisoned");
        lt_loader_free(l);
    }
}
END_TEST

/* lt_loader_new refuses `ds`/`o` with `status` and a message containing `why`. */
static void expect_refused(const lt_dataset *ds, const lt_loader_opts *o, lt_status status,
                           const char *why) {
    lt_loader_t *l = (lt_loader_t *)1;
    lt_clear_error();
    ck_assert_int_eq(lt_loader_new(ds, o, 1, &l), status);
    ck_assert_ptr_null(l);
    ck_assert_msg(strstr(lt_last_error(), why) != NULL, "message lacks '%s': %s", why,
                  lt_last_error());
}

START_TEST(bad_options_are_refused) {
    synth s = {.poison = -1};
    const lt_dataset good = {.struct_size = sizeof good,
                             .length = 5,
                             .x_ndim = 1,
                             .x_shape = {2},
                             .y_dtype = LT_I64,
                             .fill = synth_fill,
                             .user = &s};
    const lt_loader_opts opts = {.struct_size = sizeof opts, .batch_size = 2};
    lt_dataset ds = good;
    lt_loader_opts o = opts;
    o.batch_size = 0;
    expect_refused(&ds, &o, LT_ERR_INVALID_ARG, "batch_size must be >= 1");
    o = opts;
    o.num_workers = -2;
    expect_refused(&ds, &o, LT_ERR_INVALID_ARG, "num_workers");
    o = opts;
    o.struct_size = 4;
    expect_refused(&ds, &o, LT_ERR_ABI, "struct_size");
    o = opts;
    ds.struct_size = 8;
    expect_refused(&ds, &o, LT_ERR_ABI, "struct_size");
    ds = good;
    ds.length = -1;
    expect_refused(&ds, &o, LT_ERR_INVALID_ARG, "length");
    ds = good;
    ds.x_shape[0] = 0;
    expect_refused(&ds, &o, LT_ERR_INVALID_ARG, "x_shape[0]");
    ds = good;
    ds.fill = NULL;
    expect_refused(&ds, &o, LT_ERR_INVALID_ARG, "neither fill nor fill_split");
    ds = good; /* a batch whose byte size overflows int64 */
    ds.x_ndim = 3;
    ds.x_shape[0] = ds.x_shape[1] = ds.x_shape[2] = (int64_t)1 << 30;
    expect_refused(&ds, &o, LT_ERR_INVALID_ARG, "too large");
    ds = good;
    ds.x_dtype = LT_DTYPE_COUNT;
    expect_refused(&ds, &o, LT_ERR_INVALID_ARG, "x_dtype");
}
END_TEST

/* x_dtype LT_I64 (token ids): the fill writes int64 through x, the batch carries them,
 * with workers too (the buffers are sized by the dtype). Sample i is (i, 3i + 2^40). */
static lt_status token_fill(void *user, const int64_t *idx, int64_t n, float *xf, void *y) {
    (void)user;
    int64_t *x = (int64_t *)(void *)xf, *labels = y;
    for (int64_t i = 0; i < n; i++) {
        x[2 * i] = idx[i];
        x[2 * i + 1] = 3 * idx[i] + ((int64_t)1 << 40);
        labels[i] = idx[i];
    }
    return LT_OK;
}

START_TEST(int64_inputs_round_trip) {
    lt_dataset ds = {.struct_size = sizeof ds,
                     .length = 37,
                     .x_ndim = 1,
                     .x_shape = {2},
                     .x_dtype = LT_I64,
                     .y_dtype = LT_I64,
                     .fill = token_fill};
    for (int workers = 0; workers <= 2; workers += 2) {
        lt_loader_opts o = {
            .struct_size = sizeof o, .batch_size = 5, .shuffle = true, .num_workers = workers};
        lt_loader_t *l = NULL;
        ck_assert_msg(lt_loader_new(&ds, &o, 7, &l) == LT_OK, "%s", lt_last_error());
        ck_assert_int_eq(lt_loader_start(l, 0, -1), LT_OK);
        const lt_host_batch *hb;
        int64_t seen = 0;
        while (lt_loader_next(l, &hb) == LT_OK && hb) {
            const int64_t *x = (const int64_t *)(const void *)hb->x, *y = hb->y;
            for (int64_t i = 0; i < hb->n; i++, seen++) {
                ck_assert_int_eq(x[2 * i], y[i]);
                ck_assert_int_eq(x[2 * i + 1], 3 * y[i] + ((int64_t)1 << 40));
            }
        }
        ck_assert_int_eq(seen, 37);
        lt_loader_free(l);
    }
}
END_TEST

/* One user struct for every split: fill_split is told which one it fills, through
 * lt_data_add_split; a dataset struct of SDK 1.0 (ending at user) still works. */
static lt_status split_fill(void *user, lt_split split, const int64_t *idx, int64_t n, float *x,
                            void *y) {
    int *calls = user;
    calls[split]++;
    for (int64_t i = 0; i < n; i++) {
        x[2 * i] = x[2 * i + 1] = (float)split;
        ((int64_t *)y)[i] = idx[i];
    }
    return LT_OK;
}

static int first_x(lt_loader_t *l) {
    const lt_host_batch *hb = NULL;
    ck_assert_int_eq(lt_loader_start(l, 0, 1), LT_OK);
    ck_assert_int_eq(lt_loader_next(l, &hb), LT_OK);
    ck_assert_ptr_nonnull(hb);
    return (int)hb->x[0];
}

START_TEST(fill_split_is_told_its_split) {
    int calls[LT_SPLIT_COUNT] = {0};
    lt_ctx_t *ctx = lt_ctx_new(NULL, "data", NULL, 0, 1);
    const lt_dataset ds = {.struct_size = sizeof ds,
                           .length = 4,
                           .x_ndim = 1,
                           .x_shape = {2},
                           .y_dtype = LT_I64,
                           .fill_split = split_fill,
                           .user = calls};
    const lt_loader_opts o = {.struct_size = sizeof o, .batch_size = 2};
    ck_assert_int_eq(lt_data_add_split(ctx, LT_SPLIT_VAL, &ds, &o), LT_OK);
    ck_assert_int_eq(lt_data_add_split(ctx, LT_SPLIT_TEST, &ds, &o), LT_OK);
    for (lt_split sp = LT_SPLIT_VAL; sp <= LT_SPLIT_TEST; sp++) {
        lt_dataset got;
        lt_loader_opts go;
        lt_loader_t *l = NULL;
        ck_assert_int_eq(lt_ctx_split(ctx, sp, &got, &go), LT_OK);
        ck_assert_int_eq(lt_loader_new(&got, &go, 1, &l), LT_OK);
        ck_assert_int_eq(first_x(l), (int)sp);
        lt_loader_free(l);
    }
    ck_assert(calls[LT_SPLIT_VAL] == 1 && calls[LT_SPLIT_TEST] == 1 && calls[LT_SPLIT_TRAIN] == 0);
    synth s = {.poison = -1}; /* an SDK 1.0 struct: fill only, struct_size up to user */
    lt_dataset old = {.struct_size = (uint32_t)LT_DATASET_SIZE_1_0,
                      .length = 4,
                      .x_ndim = 1,
                      .x_shape = {2},
                      .y_dtype = LT_I64,
                      .fill = synth_fill,
                      .user = &s,
                      .fill_split = split_fill}; /* past struct_size: must not be read */
    lt_loader_t *l = NULL;
    ck_assert_int_eq(lt_loader_new(&old, &o, 1, &l), LT_OK);
    ck_assert_int_eq(first_x(l), 0);            /* synth_fill's sample 0 */
    ck_assert_int_eq(calls[LT_SPLIT_TRAIN], 0); /* fill_split (split 0) was not called */
    lt_loader_free(l);
    lt_ctx_free(ctx);
}
END_TEST

/* A batch_size far beyond the dataset is legal (one short batch) and reserves only
 * what the dataset can fill. */
/* Counts the fills that ran on a thread other than `caller`. */
typedef struct where {
    pthread_t caller;
    int elsewhere;
} where;

static lt_status where_fill(void *user, const int64_t *idx, int64_t n, float *x, void *y) {
    where *w = user;
    if (!pthread_equal(pthread_self(), w->caller))
        __atomic_add_fetch(&w->elsewhere, 1, __ATOMIC_RELAXED);
    memset(x, 0, (size_t)n * sizeof *x);
    memcpy(y, idx, (size_t)n * sizeof *idx);
    return LT_OK;
}

/* Fills of one 4-batch epoch with LT_LOADER_WORKERS_AUTO that ran off the calling thread. */
static int auto_fills_elsewhere(void) {
    where w = {pthread_self(), 0};
    lt_dataset ds = {.struct_size = sizeof ds,
                     .length = 8,
                     .x_ndim = 0,
                     .y_dtype = LT_I64,
                     .fill = where_fill,
                     .user = &w};
    lt_loader_opts o = {
        .struct_size = sizeof o, .batch_size = 2, .num_workers = LT_LOADER_WORKERS_AUTO};
    lt_loader_t *l = NULL;
    ck_assert_msg(lt_loader_new(&ds, &o, 1, &l) == LT_OK, "%s", lt_last_error());
    ck_assert_int_eq(lt_loader_start(l, 0, -1), LT_OK);
    const lt_host_batch *hb;
    int batches = 0;
    while (lt_loader_next(l, &hb) == LT_OK && hb) batches++;
    lt_loader_free(l);
    ck_assert_int_eq(batches, 4);
    return w.elsewhere;
}

START_TEST(auto_workers_follow_cpu_affinity) {
    cpu_set_t all, one;
    ck_assert_int_eq(sched_getaffinity(0, sizeof all, &all), 0);
    if (CPU_COUNT(&all) > 1) ck_assert_int_eq(auto_fills_elsewhere(), 4);
    CPU_ZERO(&one);
    for (int c = 0; c < CPU_SETSIZE; c++)
        if (CPU_ISSET(c, &all)) {
            CPU_SET(c, &one);
            break;
        }
    ck_assert_int_eq(sched_setaffinity(0, sizeof one, &one), 0);
    int elsewhere = auto_fills_elsewhere();
    ck_assert_int_eq(sched_setaffinity(0, sizeof all, &all), 0);
    ck_assert_int_eq(elsewhere, 0);
}
END_TEST

START_TEST(huge_batch_size_is_one_batch) {
    synth s = {.poison = -1};
    int64_t y[7];
    lt_loader_t *l = make(&s, 7, (int64_t)1 << 40, true, false, 2);
    ck_assert_int_eq(lt_loader_num_batches(l), 1);
    ck_assert_int_eq(epoch_labels(l, 0, -1, y), 7);
    lt_loader_free(l);
    l = make(&s, 7, (int64_t)1 << 40, true, true, 0);
    ck_assert_int_eq(lt_loader_num_batches(l), 0);
    lt_loader_free(l);
}
END_TEST

/* Next before any start, and after the end, is an empty epoch; NULL handles are refused. */
START_TEST(next_outside_an_epoch_is_empty) {
    synth s = {.poison = -1};
    int64_t y[5];
    lt_loader_t *l = make(&s, 5, 2, false, false, 1);
    const lt_host_batch *hb = (const lt_host_batch *)1;
    ck_assert_int_eq(lt_loader_next(l, &hb), LT_OK);
    ck_assert_ptr_null(hb);
    ck_assert_int_eq(epoch_labels(l, 0, -1, y), 5);
    ck_assert_int_eq(lt_loader_next(l, &hb), LT_OK);
    ck_assert_ptr_null(hb);
    ck_assert_int_eq(lt_loader_start(NULL, 0, -1), LT_ERR_INVALID_ARG);
    ck_assert_int_eq(lt_loader_next(NULL, &hb), LT_ERR_INVALID_ARG);
    ck_assert_int_eq(lt_loader_num_batches(NULL), 0);
    lt_loader_free(NULL);
    lt_loader_free(l);
}
END_TEST

/* A fake pinned allocator: every buffer it hands out, whether it is live, and whether an
 * "asynchronous copy" (marked by the test) still reads it until wait is called. */
typedef struct fake_alloc {
    pthread_mutex_t mu;
    void *ptr[64];
    bool live[64], in_flight[64];
    int n, allocs, frees, waits, refills_in_flight;
} fake_alloc;

static int fake_find(fake_alloc *f, const void *p) {
    for (int i = 0; i < f->n; i++)
        if (f->ptr[i] == p) return i;
    return -1;
}

static void *fake_alloc_fn(void *user, size_t nbytes) {
    fake_alloc *f = user;
    if (f->n == 64) return NULL;
    void *p = malloc(nbytes);
    f->ptr[f->n] = p, f->live[f->n++] = p != NULL;
    f->allocs += p != NULL;
    return p;
}

static void fake_free_fn(void *user, void *p) {
    fake_alloc *f = user;
    int i = fake_find(f, p);
    ck_assert_msg(i >= 0 && f->live[i], "freed a buffer the allocator did not hand out (or twice)");
    f->live[i] = false;
    f->frees++;
    free(p);
}

static void fake_wait_fn(void *user, void *p) {
    fake_alloc *f = user;
    pthread_mutex_lock(&f->mu);
    int i = fake_find(f, p);
    if (i >= 0) f->in_flight[i] = false;
    f->waits++;
    pthread_mutex_unlock(&f->mu);
}

/* A fill into a buffer whose copy was not waited for is the race the wait slot prevents. */
static lt_status fake_fill(void *user, const int64_t *idx, int64_t n, float *x, void *y) {
    fake_alloc *f = user;
    pthread_mutex_lock(&f->mu);
    int ix = fake_find(f, x), iy = fake_find(f, y);
    if (ix < 0 || iy < 0 || f->in_flight[ix] || f->in_flight[iy]) f->refills_in_flight++;
    pthread_mutex_unlock(&f->mu);
    for (int64_t i = 0; i < n; i++) {
        x[2 * i] = (float)idx[i], x[2 * i + 1] = -(float)idx[i];
        ((int64_t *)y)[i] = idx[i];
    }
    return LT_OK;
}

static void pinned_epochs(int workers) {
    fake_alloc f = {.n = 0};
    pthread_mutex_init(&f.mu, NULL);
    lt_host_alloc ha = {
        .alloc = fake_alloc_fn, .free = fake_free_fn, .wait = fake_wait_fn, .user = &f};
    lt_dataset ds = {.struct_size = sizeof ds,
                     .length = 50,
                     .x_ndim = 1,
                     .x_shape = {2},
                     .y_dtype = LT_I64,
                     .fill = fake_fill,
                     .user = &f};
    lt_loader_opts o = {.struct_size = sizeof o, .batch_size = 4, .num_workers = workers};
    lt_loader_t *l = NULL;
    ck_assert_msg(lt_loader_new_with(&ds, &o, 7, &ha, &l) == LT_OK, "%s", lt_last_error());
    ck_assert_int_eq(f.allocs, (workers ? 4 * workers : 1) * 2); /* x and y per slot */
    int64_t seen = 0;
    for (int epoch = 0; epoch < 2; epoch++) {
        ck_assert_int_eq(lt_loader_start(l, epoch, -1), LT_OK);
        const lt_host_batch *hb;
        while (lt_loader_next(l, &hb) == LT_OK && hb) {
            pthread_mutex_lock(&f.mu);
            for (int k = 0; k < hb->nfields; k++) {
                int i = fake_find(&f, hb->bufs[k]);
                ck_assert_msg(i >= 0 && f.live[i], "a batch buffer not from the allocator");
                f.in_flight[i] = true; /* as memcpy_h2d from pinned memory leaves it */
            }
            pthread_mutex_unlock(&f.mu);
            seen += hb->n;
        }
    }
    ck_assert_int_eq(seen, 100);
    lt_loader_free(l);
    ck_assert_int_eq(f.refills_in_flight, 0);
    ck_assert_int_gt(f.waits, 0);
    ck_assert_int_eq(f.frees, f.allocs);
    pthread_mutex_destroy(&f.mu);
}

/* lt_loader_new_with: every slot from the given allocator, freed once through it, and
 * never refilled before wait said its previous copy is done. */
START_TEST(pinned_buffers_come_from_host_alloc) {
    pinned_epochs(0);
    pinned_epochs(2);
    lt_host_alloc half = {.alloc = fake_alloc_fn};
    lt_dataset ds = {.struct_size = sizeof ds,
                     .length = 4,
                     .x_ndim = 1,
                     .x_shape = {2},
                     .y_dtype = LT_I64,
                     .fill = synth_fill};
    lt_loader_opts o = {.struct_size = sizeof o, .batch_size = 4};
    lt_loader_t *l = NULL;
    ck_assert_int_eq(lt_loader_new_with(&ds, &o, 7, &half, &l), LT_ERR_INVALID_ARG);
    ck_assert_ptr_null(l);
}
END_TEST

/* ---- the next epoch filled ahead (lt_loader_set_next) ---------------------------------- */

/* Whatever was announced and filled ahead, every epoch delivers what a loader without
 * workers delivers: the announced epoch, a limit that differs from the announced one,
 * an epoch other than the announced one, and a resume from batch 3. */
START_TEST(next_epoch_ahead_changes_nothing) {
    enum { N = 300 };
    static int64_t ref[N], got[N];
    synth s = {.poison = -1};
    lt_loader_t *sync = make(&s, N, 16, true, false, 0);
    for (int w = 1; w <= 3; w++) {
        lt_loader_t *l = make(&s, N, 16, true, false, w);
        /* epoch, first batch, limit, the epoch announced */
        static const int64_t runs[][4] = {{0, 0, -1, 1},  {1, 0, -1, 2},  {2, 0, 5, 3},
                                          {3, 0, -1, 4},  {9, 0, -1, 10}, {10, 3, -1, 11},
                                          {11, 0, 2, -1}, {12, 0, -1, -1}};
        for (size_t r = 0; r < sizeof runs / sizeof *runs; r++) {
            const int64_t *run = runs[r];
            const int64_t want = epoch_labels_announcing(sync, run[0], run[1], run[2], -1, ref);
            ck_assert_int_eq(epoch_labels_announcing(l, run[0], run[1], run[2], run[3], got), want);
            ck_assert_msg(!memcmp(ref, got, (size_t)want * sizeof *ref),
                          "%d workers, epoch %lld: other batches than without workers", w,
                          (long long)run[0]);
        }
        lt_loader_free(l);
    }
    lt_loader_free(sync);
}
END_TEST

/* Once the current epoch's batches are all delivered, the announced epoch's first batches
 * are filled before it starts; an epoch announced and then replaced is not delivered. */
START_TEST(next_epoch_filled_before_it_starts) {
    enum { N = 160, BS = 16 };
    static int64_t got[N], ref[N];
    static long fills_done;
    synth s = {.poison = -1, .fills = &fills_done};
    lt_loader_t *l = make(&s, N, BS, true, false, 2);
    ck_assert_int_eq(epoch_labels_announcing(l, 0, 0, -1, 1, got), N);
    long done = 0;
    for (int i = 0; i < 2000 && done <= N / BS; i++) { /* up to 2 s */
        done = __atomic_load_n(&fills_done, __ATOMIC_SEQ_CST);
        if (done <= N / BS) sched_yield(), usleep(1000);
    }
    ck_assert_msg(done > N / BS, "no batch of epoch 1 filled ahead (%ld fills)", done);
    ck_assert_int_eq(epoch_labels_announcing(l, 1, 0, -1, 2, got), N);
    lt_loader_t *sync = make(&s, N, BS, true, false, 0);
    ck_assert_int_eq(epoch_labels(sync, 1, -1, ref), N);
    ck_assert(!memcmp(ref, got, sizeof ref));
    /* announced 2, replaced by 5 before it started: epoch 5's batches */
    ck_assert_int_eq(lt_loader_set_next(l, 5, -1), LT_OK);
    ck_assert_int_eq(epoch_labels_announcing(l, 5, 0, -1, -1, got), N);
    ck_assert_int_eq(epoch_labels(sync, 5, -1, ref), N);
    ck_assert(!memcmp(ref, got, sizeof ref));
    lt_loader_free(sync);
    lt_loader_free(l);
}
END_TEST

Suite *suite_loader(void) {
    Suite *s = suite_create("loader");
    TCase *tc = tcase_create("batches");
    tcase_add_test(tc, batch_counts);
    tcase_add_test(tc, every_sample_once_and_shuffled_by_epoch);
    tcase_add_test(tc, workers_change_nothing);
    tcase_add_test(tc, limits_and_restarts);
    tcase_add_test(tc, fill_errors_surface);
    tcase_add_test(tc, bad_options_are_refused);
    tcase_add_test(tc, int64_inputs_round_trip);
    tcase_add_test(tc, fill_split_is_told_its_split);
    tcase_add_test(tc, auto_workers_follow_cpu_affinity);
    tcase_add_test(tc, huge_batch_size_is_one_batch);
    tcase_add_test(tc, next_outside_an_epoch_is_empty);
    tcase_add_test(tc, pinned_buffers_come_from_host_alloc);
    tcase_add_test(tc, next_epoch_ahead_changes_nothing);
    tcase_add_test(tc, next_epoch_filled_before_it_starts);
    suite_add_tcase(s, tc);
    return s;
}
