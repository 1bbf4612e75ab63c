/* Profiling: liblt's per-op spans (names, FLOP and byte counts, off with NULL), the
 * DataLoader's batch-fill spans per worker, and the advanced profiler plugin's report. */
#include <lt/profiler.h>
#include <pthread.h>
#include <string.h>

#include "test_util.h"

/* ---- a span collector -------------------------------------------------------------- */

#define MAX_SPANS 256

typedef struct rec {
    char name[48], kind[8];
    double flops, bytes;
    uint64_t start_ns, end_ns;
    int tid;
} rec;

/* Spans come from worker threads too: the collector locks. */
typedef struct collector {
    pthread_mutex_t mu;
    rec spans[MAX_SPANS];
    int n;
} collector;

static void collect(void *user, const lt_prof_span *sp) {
    collector *c = user;
    pthread_mutex_lock(&c->mu);
    if (c->n < MAX_SPANS) {
        rec *r = &c->spans[c->n];
        snprintf(r->name, sizeof r->name, "%s", sp->name);
        snprintf(r->kind, sizeof r->kind, "%s", sp->kind);
        r->flops = sp->flops;
        r->bytes = sp->bytes;
        r->start_ns = sp->start_ns;
        r->end_ns = sp->end_ns;
        r->tid = sp->tid;
    }
    c->n++;
    pthread_mutex_unlock(&c->mu);
}

static int count_named(const collector *c, const char *name) {
    int k = 0;
    for (int i = 0; i < c->n && i < MAX_SPANS; i++) k += strcmp(c->spans[i].name, name) == 0;
    return k;
}

static lt_tensor_t *filled(int64_t rows, int64_t cols, uint64_t seed) {
    int64_t shape[2] = {rows, cols};
    float *v = malloc((size_t)(rows * cols) * sizeof *v);
    test_fill(v, rows * cols, seed, -1.0f, 1.0f, 0.0f);
    lt_tensor_t *t = lt_from_host(test_arena, LT_F32, 2, shape, v);
    free(v);
    ck_assert_ptr_nonnull(t);
    return t;
}

/* ---- per-op spans ------------------------------------------------------------------- */

START_TEST(matmul_reports_one_span) {
    static collector c = {.mu = PTHREAD_MUTEX_INITIALIZER};
    c.n = 0;
    lt_tensor_t *a = filled(8, 16, 1), *b = filled(16, 4, 2);
    lt_device_set_profiler(test_dev, collect, &c);
    uint64_t before = lt_prof_now_ns();
    ck_assert_ptr_nonnull(lt_matmul(a, b));
    ck_assert_int_eq(c.n, 1);
    const rec *r = &c.spans[0];
    ck_assert_str_eq(r->name, "matmul");
    ck_assert_str_eq(r->kind, "op");
    ck_assert_int_eq(r->tid, 0);
    ck_assert_double_eq(r->flops, 2.0 * 8 * 16 * 4);
    ck_assert_double_eq(r->bytes, 4.0 * (8 * 16 + 16 * 4 + 8 * 4));
    ck_assert_uint_ge(r->start_ns, before);
    ck_assert_uint_ge(r->end_ns, r->start_ns);
    ck_assert_uint_le(r->end_ns, lt_prof_now_ns());
    lt_device_set_profiler(test_dev, NULL, NULL);
}
END_TEST

START_TEST(null_profiler_gets_nothing) {
    static collector c = {.mu = PTHREAD_MUTEX_INITIALIZER};
    c.n = 0;
    lt_device_set_profiler(test_dev, collect, &c);
    lt_tensor_t *a = filled(8, 16, 1), *b = filled(16, 4, 2);
    ck_assert_int_eq(count_named(&c, "memcpy_h2d"), 2);
    lt_device_set_profiler(test_dev, NULL, NULL);
    int seen = c.n;
    lt_tensor_t *y = lt_relu(lt_add_scalar(lt_matmul(a, b), 0.5f));
    ck_assert_ptr_nonnull(lt_mean(y));
    lt_device_set_profiler(NULL, collect, &c); /* a NULL device is ignored */
    ck_assert_int_eq(c.n, seen);
}
END_TEST

/* Forward and backward of a tiny MLP step report the documented names, and the GEMMs'
 * FLOPs add up: forward 2MNK, backward twice that (dx and dW). */
START_TEST(training_step_names_and_flops) {
    static collector c = {.mu = PTHREAD_MUTEX_INITIALIZER};
    c.n = 0;
    lt_tensor_t *x = filled(8, 16, 1), *w = filled(4, 16, 2);
    int64_t n8 = 8;
    int64_t labels[8] = {0, 1, 2, 3, 0, 1, 2, 3};
    lt_tensor_t *y = lt_from_host(test_arena, LT_I64, 1, &n8, labels);
    ck_assert_int_eq(lt_set_requires_grad(x, true), LT_OK);
    ck_assert_int_eq(lt_set_requires_grad(w, true), LT_OK);
    lt_device_set_profiler(test_dev, collect, &c);
    lt_tensor_t *loss = lt_cross_entropy(lt_linear_op(x, w, NULL), y);
    ck_assert_int_eq(lt_backward(loss), LT_OK);
    lt_device_set_profiler(test_dev, NULL, NULL);
    double fwd = 0.0, bwd = 0.0;
    for (int i = 0; i < c.n; i++) {
        ck_assert_str_eq(c.spans[i].kind, "op");
        if (!strcmp(c.spans[i].name, "linear")) fwd += c.spans[i].flops;
        if (!strcmp(c.spans[i].name, "linear_backward")) bwd += c.spans[i].flops;
    }
    ck_assert_double_eq(fwd, 2.0 * 8 * 4 * 16);
    ck_assert_double_eq(bwd, 2.0 * 2.0 * 8 * 4 * 16);
    ck_assert_int_eq(count_named(&c, "cross_entropy"), 1);
    ck_assert_int_eq(count_named(&c, "cross_entropy_backward"), 1);
    ck_assert_int_eq(count_named(&c, "mean"), 1);
    ck_assert_int_eq(count_named(&c, "mean_backward"), 1);
}
END_TEST

/* ---- every span of liblt, as documented in core/prof.c ------------------------------- */

typedef struct span_want {
    const char *name;
    double flops, bytes;
} span_want;

/* The spans collected from *at on are want[0..n), in order; *at moves past them. */
static void expect_spans(const collector *c, int *at, const span_want *want, int n) {
    for (int i = 0; i < n; i++, (*at)++) {
        ck_assert_msg(*at < c->n, "span %d: missing, want %s", *at, want[i].name);
        const rec *r = &c->spans[*at];
        ck_assert_msg(!strcmp(r->name, want[i].name) && r->flops == want[i].flops &&
                          r->bytes == want[i].bytes,
                      "span %d: got %s %g flops %g bytes, want %s %g %g", *at, r->name, r->flops,
                      r->bytes, want[i].name, want[i].flops, want[i].bytes);
    }
}
#define EXPECT_SPANS(...)                                                                          \
    expect_spans(&c, &at, (const span_want[]){__VA_ARGS__},                                        \
                 (int)(sizeof((const span_want[]){__VA_ARGS__}) / sizeof(span_want)))

static lt_tensor_t *vector_f32(int64_t n, uint64_t seed) {
    float v[16];
    ck_assert_int_le(n, 16);
    test_fill(v, n, seed, -1.0f, 1.0f, 0.0f);
    lt_tensor_t *t = lt_from_host(test_arena, LT_F32, 1, &n, v);
    ck_assert_ptr_nonnull(t);
    return t;
}

static lt_tensor_t *labels_i64(int64_t n, const int64_t *v) {
    lt_tensor_t *t = lt_from_host(test_arena, LT_I64, 1, &n, v);
    ck_assert_ptr_nonnull(t);
    return t;
}

/* A parameter: persistent (lt_keep), so its gradient accumulates in place. */
static lt_tensor_t *param(lt_tensor_t *t) {
    lt_tensor_t *p = lt_keep(t);
    ck_assert_ptr_nonnull(p);
    ck_assert_int_eq(lt_set_requires_grad(p, true), LT_OK);
    return p;
}

/* Creation, copies and forward ops without autograd, one span each (the sums are
 * formulas of the table in core/prof.c, n = 6 elements of a (2, 3) x). */
START_TEST(every_forward_op_keeps_its_span) {
    static collector c = {.mu = PTHREAD_MUTEX_INITIALIZER};
    c.n = 0;
    int at = 0;
    int64_t s23[2] = {2, 3};
    lt_device_set_profiler(test_dev, collect, &c);
    lt_tensor_t *x = filled(2, 3, 1);
    ck_assert_ptr_nonnull(lt_zeros(test_arena, LT_F32, 2, s23));
    ck_assert_ptr_nonnull(lt_zeros(test_arena, LT_I64, 2, s23));
    ck_assert_ptr_nonnull(lt_full(test_arena, 2, s23, 1.5f));
    float host[6];
    ck_assert_int_eq(lt_to_host(x, host, sizeof host), LT_OK);
    lt_tensor_t *kept = lt_keep(x);
    ck_assert_ptr_nonnull(kept);
    lt_tensor_free(kept);
    EXPECT_SPANS({"memcpy_h2d", 0, 24}, {"fill", 0, 24}, {"fill", 0, 48}, {"fill", 0, 24},
                 {"memcpy_d2h", 0, 24}, {"copy", 0, 48});
    ck_assert_ptr_nonnull(lt_add(x, x));
    ck_assert_ptr_nonnull(lt_relu(x));
    ck_assert_ptr_nonnull(lt_scale(x, 2.0f));
    EXPECT_SPANS({"add", 6, 4 * (6 + 6 + 6)}, {"relu", 6, 8 * 6}, {"scale", 2 * 6, 8 * 6});
    ck_assert_ptr_nonnull(lt_sum(x));
    ck_assert_ptr_nonnull(lt_mean(x));
    ck_assert_ptr_nonnull(lt_softmax(x));
    ck_assert_ptr_nonnull(lt_log_softmax(x));
    EXPECT_SPANS({"sum", 6, 4 * (6 + 1)}, {"mean", 6, 4 * (6 + 1)}, {"softmax", 5 * 6, 8 * 6},
                 {"log_softmax", 5 * 6, 8 * 6});
    lt_tensor_t *y = labels_i64(2, (const int64_t[]){0, 2});
    ck_assert_ptr_nonnull(lt_accuracy(x, y));
    /* argmax N C; 4 N C + 8 N, eq n; 20 n, then the mean of the 2 hits */
    EXPECT_SPANS({"memcpy_h2d", 0, 16}, {"argmax", 6, 4 * 6 + 8 * 2}, {"eq", 2, 20 * 2},
                 {"mean", 2, 4 * (2 + 1)});
    lt_device_set_profiler(test_dev, NULL, NULL);
    ck_assert_int_eq(at, c.n);
}
END_TEST

/* A linear layer's step: forward, cross-entropy, backward into a persistent weight and
 * bias and a plain input (rows 4, in 3, out 2). */
START_TEST(linear_step_keeps_its_spans) {
    static collector c = {.mu = PTHREAD_MUTEX_INITIALIZER};
    c.n = 0;
    int at = 0;
    lt_device_set_profiler(test_dev, collect, &c);
    lt_tensor_t *w = param(filled(2, 3, 2)), *b = param(vector_f32(2, 3));
    lt_tensor_t *x = filled(4, 3, 4);
    ck_assert_int_eq(lt_set_requires_grad(x, true), LT_OK);
    lt_tensor_t *y = labels_i64(4, (const int64_t[]){0, 1, 1, 0});
    EXPECT_SPANS({"memcpy_h2d", 0, 24}, {"copy", 0, 48}, {"memcpy_h2d", 0, 8}, {"copy", 0, 16},
                 {"memcpy_h2d", 0, 48}, {"memcpy_h2d", 0, 32});
    lt_tensor_t *loss = lt_cross_entropy(lt_linear_op(x, w, b), y);
    ck_assert_ptr_nonnull(loss);
    /* linear 2MNK + MN; 4(MK + NK + MN + N); cross_entropy 5NC + N; 4(2NC + N) + 8N */
    EXPECT_SPANS({"linear", 2 * 4 * 2 * 3 + 8, 4 * (12 + 6 + 8 + 2)},
                 {"cross_entropy", 5 * 8 + 4, 4 * (16 + 4) + 8 * 4}, {"mean", 4, 4 * (4 + 1)});
    ck_assert_int_eq(lt_backward(loss), LT_OK);
    EXPECT_SPANS({"fill", 0, 4}, {"mean_backward", 2 * 4, 4 * (1 + 4)},
                 {"cross_entropy_backward", 2 * 8, 4 * (16 + 4) + 8 * 4},
                 /* dx = g W: (4, 2) x (2, 3) */
                 {"linear_backward", 2 * 4 * 3 * 2, 4 * (8 + 6 + 12)},
                 /* dW = g^T x written (beta 0) into the weight's new grad: (2, 4) x (4, 3) */
                 {"linear_backward", 2 * 2 * 3 * 4, 4 * (8 + 12 + 6)},
                 /* db: g summed over rows straight into the bias's new grad */
                 {"linear_backward", 8, 4 * (8 + 2)});
    /* a second backward accumulates: dW with beta 1, db through a temporary */
    loss = lt_cross_entropy(lt_linear_op(x, w, b), y);
    ck_assert_int_eq(lt_backward(loss), LT_OK);
    at += 8; /* as above up to dx's GEMM, and dx added to x's first gradient */
    EXPECT_SPANS({"linear_backward", 2 * 2 * 3 * 4, 4 * (8 + 12 + 6 + 6)},
                 {"linear_backward", 8, 4 * (8 + 2)}, {"accumulate_grad", 2, 12 * 2});
    lt_device_set_profiler(test_dev, NULL, NULL);
    ck_assert_int_eq(at, c.n);
    lt_tensor_free(w);
    lt_tensor_free(b);
}
END_TEST

/* The backward of a broadcast add, sum and mean, softmax and log_softmax (n = 6). */
START_TEST(reduction_backward_keeps_its_spans) {
    static collector c = {.mu = PTHREAD_MUTEX_INITIALIZER};
    c.n = 0;
    int at = 0;
    lt_tensor_t *a = filled(2, 3, 5), *r = vector_f32(3, 6), *a2 = filled(2, 3, 7);
    ck_assert_int_eq(lt_set_requires_grad(a, true), LT_OK);
    ck_assert_int_eq(lt_set_requires_grad(r, true), LT_OK);
    ck_assert_int_eq(lt_set_requires_grad(a2, true), LT_OK);
    lt_device_set_profiler(test_dev, collect, &c);
    lt_tensor_t *s = lt_sum(lt_log_softmax(lt_add(a, r)));
    ck_assert_int_eq(lt_backward(s), LT_OK);
    EXPECT_SPANS({"add", 6, 4 * (6 + 3 + 6)}, {"log_softmax", 30, 48}, {"sum", 6, 28},
                 {"fill", 0, 4}, {"sum_backward", 6, 4 * (1 + 6)},
                 {"log_softmax_backward", 4 * 6, 12 * 6},
                 /* r's gradient: the (2, 3) one summed down to (3) */
                 {"sum_to_size", 6, 4 * (6 + 3)});
    lt_tensor_t *m = lt_mean(lt_softmax(a2));
    ck_assert_int_eq(lt_backward(m), LT_OK);
    EXPECT_SPANS({"softmax", 30, 48}, {"mean", 6, 28}, {"fill", 0, 4},
                 {"mean_backward", 2 * 6, 4 * (1 + 6)}, {"softmax_backward", 4 * 6, 12 * 6});
    lt_device_set_profiler(test_dev, NULL, NULL);
    ck_assert_int_eq(at, c.n);
}
END_TEST

/* [a, b], for an optimizer to own. */
static lt_param_list_t *param_list(lt_tensor_t *a, lt_tensor_t *b) {
    lt_param_list_t *l = lt_param_list_new();
    ck_assert_ptr_nonnull(l);
    ck_assert_int_eq(lt_param_list_add(l, a), LT_OK);
    ck_assert_int_eq(lt_param_list_add(l, b), LT_OK);
    return l;
}

/* Optimizer steps, clipping and zero_grad over a (2, 3) weight and a (2) bias, one span
 * per parameter (they are not contiguous): sgd with momentum and adam allocate their
 * zeroed state first. */
START_TEST(optimizer_keeps_its_spans) {
    static collector c = {.mu = PTHREAD_MUTEX_INITIALIZER};
    c.n = 0;
    int at = 0;
    lt_tensor_t *w = param(filled(2, 3, 2)), *b = param(vector_f32(2, 3));
    lt_tensor_t *loss = lt_sum(lt_linear_op(filled(4, 3, 4), w, b));
    ck_assert_int_eq(lt_backward(loss), LT_OK);
    lt_optimizer_t *sgd = lt_sgd_ex(param_list(w, b), 0.1, 0.9, 0.0, 0.0, false);
    lt_optimizer_t *adam = lt_adam(param_list(w, b), 1e-3);
    ck_assert(sgd && adam);
    lt_device_set_profiler(test_dev, collect, &c);
    ck_assert_int_eq(lt_optimizer_step(sgd), LT_OK);
    /* sgd with momentum: (2 + 3) n; 4n(3 + 2 slots); adam: 12 n; 28 n */
    EXPECT_SPANS({"fill", 0, 4 * 8}, {"sgd_step", 5 * 6, 4 * 6 * 5},
                 {"sgd_step", 5 * 2, 4 * 2 * 5});
    ck_assert_int_eq(lt_optimizer_step(adam), LT_OK);
    EXPECT_SPANS({"fill", 0, 4 * 16}, {"adam_step", 12 * 6, 28 * 6}, {"adam_step", 12 * 2, 28 * 2});
    ck_assert_int_eq(lt_clip_grad_value(adam, 1e-2), LT_OK);
    EXPECT_SPANS({"clip_grad_value", 2 * 6, 8 * 6}, {"clip_grad_value", 2 * 2, 8 * 2});
    double norm = 0.0;
    ck_assert_int_eq(lt_clip_grad_norm(adam, 1e-3, &norm), LT_OK);
    ck_assert_double_gt(norm, 1e-3); /* so the gradients are rescaled */
    EXPECT_SPANS({"clip_grad_norm", 2 * 6, 4 * (6 + 1)}, {"clip_grad_norm", 2 * 2, 4 * (2 + 1)},
                 {"clip_grad_norm", 6, 8 * 6}, {"clip_grad_norm", 2, 8 * 2});
    ck_assert_int_eq(lt_optimizer_zero_grad(adam), LT_OK);
    ck_assert_int_eq(at, c.n);         /* deferred: the next backward overwrites */
    ck_assert_ptr_nonnull(lt_grad(w)); /* a reader before any backward gets zeros */
    EXPECT_SPANS({"zero_grad", 0, 24});
    lt_device_set_profiler(test_dev, NULL, NULL);
    ck_assert_int_eq(at, c.n);
    lt_optimizer_free(sgd);
    lt_optimizer_free(adam);
    lt_tensor_free(w);
    lt_tensor_free(b);
}
END_TEST

/* ---- loader spans ------------------------------------------------------------------- */

static lt_status seq_fill(void *user, const int64_t *idx, int64_t n, float *x, void *y) {
    (void)user;
    for (int64_t i = 0; i < n; i++) {
        x[2 * i] = x[2 * i + 1] = (float)idx[i];
        ((int64_t *)y)[i] = idx[i];
    }
    return LT_OK;
}

/* One epoch of 10 samples in batches of 3 (4 batches, the last of 1) on `workers`. */
static void loader_epoch(collector *c, int workers) {
    lt_dataset ds = {.struct_size = sizeof ds,
                     .length = 10,
                     .x_ndim = 1,
                     .x_shape = {2},
                     .y_dtype = LT_I64,
                     .fill = seq_fill};
    lt_loader_opts o = {.struct_size = sizeof o, .batch_size = 3, .num_workers = workers};
    lt_loader_t *l = NULL;
    ck_assert_int_eq(lt_loader_new(&ds, &o, 1, &l), LT_OK);
    lt_loader_set_profiler(l, collect, c);
    ck_assert_int_eq(lt_loader_start(l, 0, -1), LT_OK);
    const lt_host_batch *hb;
    int batches = 0;
    while (lt_loader_next(l, &hb) == LT_OK && hb) batches++;
    ck_assert_int_eq(batches, 4);
    lt_loader_set_profiler(l, NULL, NULL); /* returns once no fill can call collect */
    ck_assert_int_eq(c->n, 4);
    ck_assert_int_eq(lt_loader_start(l, 1, -1), LT_OK);
    while (lt_loader_next(l, &hb) == LT_OK && hb) batches++;
    lt_loader_free(l);
    ck_assert_int_eq(c->n, 4);
}

START_TEST(loader_reports_each_batch_per_worker) {
    static collector c = {.mu = PTHREAD_MUTEX_INITIALIZER};
    c.n = 0;
    loader_epoch(&c, 2);
    double bytes = 0.0;
    for (int i = 0; i < c.n; i++) {
        const rec *r = &c.spans[i];
        ck_assert_str_eq(r->name, "[_DataLoader].fill_batch");
        ck_assert_str_eq(r->kind, "data");
        ck_assert_msg(r->tid == 1 || r->tid == 2, "tid %d is not a worker's", r->tid);
        ck_assert_double_eq(r->flops, 0.0);
        ck_assert_uint_ge(r->end_ns, r->start_ns);
        bytes += r->bytes;
    }
    ck_assert_double_eq(bytes, 10.0 * (2 * 4 + 8)); /* x: 2 floats, y: one int64 */
}
END_TEST

START_TEST(loader_without_workers_is_tid_0) {
    static collector c = {.mu = PTHREAD_MUTEX_INITIALIZER};
    c.n = 0;
    loader_epoch(&c, 0);
    for (int i = 0; i < c.n; i++) ck_assert_int_eq(c.spans[i].tid, 0);
}
END_TEST

/* ---- the advanced profiler ---------------------------------------------------------- */

static const lt_profiler_desc *open_advanced(lt_plugin_t **p) {
    const char *path = getenv("LT_TEST_ADVANCED_PROFILER");
    ck_assert_msg(path != NULL, "LT_TEST_ADVANCED_PROFILER is not set");
    ck_assert_msg(lt_plugin_open(LT_PLUGIN_PROFILER, path, NULL, p) == LT_OK, "%s",
                  lt_last_error());
    return lt_plugin_desc(*p);
}

/* The report of st for stage into a new string (caller frees). */
static char *report(const lt_profiler_desc *d, void *st, const char *stage) {
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(d->summary(st, stage, f), LT_OK);
    fclose(f);
    return buf;
}

/* Durations 1..100 ms of "step" inside a 1 s "epoch": nearest-rank p50/p90/p99 are 50,
 * 90 and 99 ms; the epoch is 100 % of the wall time. */
static void feed_actions(const lt_profiler_desc *d, void *st, const char *epoch, const char *step) {
    const uint64_t ms = 1000000, t0 = 5000 * ms;
    d->start(st, epoch, t0);
    uint64_t t = t0;
    for (uint64_t k = 100; k >= 1; k--) { /* out of order: the profiler must sort */
        d->start(st, step, t);
        d->stop(st, step, t + k * ms);
        t += k * ms;
    }
    d->stop(st, epoch, t0 + 5050 * ms);
}

START_TEST(advanced_reports_percentiles_ops_and_data) {
    lt_plugin_t *p = NULL;
    const lt_profiler_desc *d = open_advanced(&p);
    ck_assert_ptr_nonnull(d->span);
    lt_profiler_opts o = {.struct_size = sizeof o, .world_size = 1};
    void *st = NULL;
    ck_assert_int_eq(d->init(&o, &st), LT_OK);
    static const char epoch[] = "run_training_epoch";
    static const char step[] = "[Strategy]SingleDevice.training_step";
    feed_actions(d, st, epoch, step);
    lt_prof_span mm = {.name = "matmul",
                       .kind = "op",
                       .start_ns = 0,
                       .end_ns = 2000000000,
                       .flops = 4e9,
                       .bytes = 1e9};
    lt_prof_span fb = {.name = "[_DataLoader].fill_batch",
                       .kind = "data",
                       .start_ns = 0,
                       .end_ns = 1000000,
                       .bytes = 1e6,
                       .tid = 1};
    d->span(st, &mm);
    d->span(st, &mm);
    d->span(st, &fb);
    fb.tid = 2;
    d->span(st, &fb);
    char *r = report(d, st, "fit");
    ck_assert_ptr_nonnull(strstr(r, "FIT Advanced Profiler Report"));
    /* the step: 100 calls, mean 50.5 ms, p50 50, p90 90, p99 99, max 100, total 5.05 s */
    ck_assert_ptr_nonnull(strstr(r, "|         100 |    0.050500 |    0.050000 |    0.090000 | "
                                    "   0.099000 |    0.100000 |    5.050000 |        100.0 |"));
    ck_assert(strstr(r, step) < strstr(r, epoch)); /* a tie: by name, '[' < 'r' */
    /* matmul: 2 calls, 4 s, 8 GFLOP at 2 GFLOP/s, 2 GB at 0.5 GB/s */
    ck_assert_ptr_nonnull(strstr(r, "|           2 |    4.000000 |       8.000 |        2.00 | "
                                    "      2.000 |        0.50 |        100.0 |"));
    ck_assert_ptr_nonnull(strstr(r, "Data loading ([_DataLoader].fill_batch): 2 batches on 2 "
                                    "threads"));
    free(r);
    r = report(d, st, "validate"); /* everything was reset */
    ck_assert_ptr_nonnull(strstr(r, "VALIDATE Advanced Profiler Report"));
    ck_assert_ptr_null(strstr(r, "training_step"));
    ck_assert_ptr_null(strstr(r, "Operations"));
    ck_assert_ptr_null(strstr(r, "Data loading"));
    free(r);
    d->teardown(st);
    lt_plugin_close(p);
}
END_TEST

/* Real spans from several loader threads and the device at once land in the report. */
START_TEST(advanced_takes_live_spans) {
    lt_plugin_t *p = NULL;
    const lt_profiler_desc *d = open_advanced(&p);
    lt_profiler_opts o = {.struct_size = sizeof o, .world_size = 1};
    void *st = NULL;
    ck_assert_int_eq(d->init(&o, &st), LT_OK);
    lt_device_set_profiler(test_dev, d->span, st);
    static const char step[] = "training_step";
    d->start(st, step, lt_prof_now_ns());
    lt_tensor_t *a = filled(8, 16, 1), *b = filled(16, 4, 2);
    ck_assert_ptr_nonnull(lt_matmul(a, b));
    d->stop(st, step, lt_prof_now_ns());
    lt_device_set_profiler(test_dev, NULL, NULL);
    lt_dataset ds = {.struct_size = sizeof ds,
                     .length = 10,
                     .x_ndim = 1,
                     .x_shape = {2},
                     .y_dtype = LT_I64,
                     .fill = seq_fill};
    lt_loader_opts lo = {.struct_size = sizeof lo, .batch_size = 3, .num_workers = 2};
    lt_loader_t *l = NULL;
    ck_assert_int_eq(lt_loader_new(&ds, &lo, 1, &l), LT_OK);
    lt_loader_set_profiler(l, d->span, st);
    ck_assert_int_eq(lt_loader_start(l, 0, -1), LT_OK);
    const lt_host_batch *hb;
    while (lt_loader_next(l, &hb) == LT_OK && hb) continue;
    lt_loader_set_profiler(l, NULL, NULL);
    char *r = report(d, st, "fit");
    ck_assert_ptr_nonnull(strstr(r, "|  matmul "));
    ck_assert_ptr_nonnull(strstr(r, "|  memcpy_h2d "));
    ck_assert_ptr_nonnull(strstr(r, "Data loading ([_DataLoader].fill_batch): 4 batches"));
    free(r);
    lt_loader_free(l);
    d->teardown(st);
    lt_plugin_close(p);
}
END_TEST

/* The layer ops' spans (core/prof.c): conv2d of x (1, 1, 4, 4) with w (2, 1, 3, 3), no
 * bias (O 2, K 9, P 4, n 8, |col| 36), a 2x2 max pool, a batch norm, a dropout. */
START_TEST(layer_ops_keep_their_spans) {
    static collector c = {.mu = PTHREAD_MUTEX_INITIALIZER};
    c.n = 0;
    int at = 0;
    float v[18];
    test_fill(v, 18, 3, -1.0f, 1.0f, 0.0f);
    lt_tensor_t *x = lt_from_host(test_arena, LT_F32, 4, (int64_t[]){1, 1, 4, 4}, v);
    lt_tensor_t *w = lt_from_host(test_arena, LT_F32, 4, (int64_t[]){2, 1, 3, 3}, v);
    lt_device_set_profiler(test_dev, collect, &c);
    lt_tensor_t *y = lt_conv2d_op(x, w, NULL, NULL);
    ck_assert_ptr_nonnull(y);
    /* the zero bias of the im2col path (an accelerator's direct conv2d slot needs none, so
     * the cpu plugin with oneDNN skips it); 2 O K N P + n; 4(|x| + 2|col| + |w| + 2n) */
    if (at < c.n && !strcmp(c.spans[at].name, "fill")) EXPECT_SPANS({"fill", 0, 4});
    EXPECT_SPANS({"conv2d", 2 * 2 * 9 * 4 + 8, 4 * (16 + 72 + 18 + 16)});
    ck_assert_ptr_nonnull(lt_max_pool2d(x, &LT_POOL2D_OPTS(.kernel = {2, 2})));
    EXPECT_SPANS({"max_pool2d", 4 * 4, 4 * (16 + 4) + 8 * 4});
    ck_assert_ptr_nonnull(lt_batch_norm(y, NULL, NULL, NULL, NULL, true, 0.1, 1e-5));
    EXPECT_SPANS({"batch_norm", 5 * 8, 4 * (3 * 8 + 4 * 2)});
    ck_assert_ptr_nonnull(lt_dropout_ex(x, 0.5, true, 1, 2));
    EXPECT_SPANS({"dropout_mask", 20 * 16, 4 * 16}, {"mul", 16, 4 * 48});
    lt_device_set_profiler(test_dev, NULL, NULL);
    ck_assert_int_eq(at, c.n);
}
END_TEST

Suite *suite_prof(void) {
    Suite *s = suite_create("prof");
    TCase *tc = tcase_create("spans");
    tcase_add_checked_fixture(tc, test_open, test_close);
    tcase_add_test(tc, matmul_reports_one_span);
    tcase_add_test(tc, null_profiler_gets_nothing);
    tcase_add_test(tc, training_step_names_and_flops);
    tcase_add_test(tc, every_forward_op_keeps_its_span);
    tcase_add_test(tc, linear_step_keeps_its_spans);
    tcase_add_test(tc, layer_ops_keep_their_spans);
    tcase_add_test(tc, reduction_backward_keeps_its_spans);
    tcase_add_test(tc, optimizer_keeps_its_spans);
    tcase_add_test(tc, loader_reports_each_batch_per_worker);
    tcase_add_test(tc, loader_without_workers_is_tid_0);
    tcase_add_test(tc, advanced_reports_percentiles_ops_and_data);
    tcase_add_test(tc, advanced_takes_live_spans);
    suite_add_tcase(s, tc);
    return s;
}
