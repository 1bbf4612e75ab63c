/* host_conv.c — cuda_host_check's part for the conv2d slots (cudnn.c), on the fake
 * runtime and the fake libcudnn (fake_cudnn.c, a module of its own, opened by the plugin
 * as it opens the real one): results against conv_ref.c's direct convolution in double;
 * the shapes cuDNN cannot express declining; the deterministic algorithm and the math
 * mode per precision; the descriptor cache's hits, its LRU bound and no cudaMalloc in the
 * steady state; teardown destroying every descriptor; and the declining paths: no
 * library, LT_CUDA_CUDNN=0, cudnnCreate failing, no deterministic algorithm. */
#include <dlfcn.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cudnn.h>

#include "conv_ref.h"
#include "cuda_impl.h"
#include "fake_cudart.h"
#include "host_check.h"

/* The fake library's counters and switches, found with dlsym. */
typedef struct fake_dnn {
    long *live, *heuristics;
    int *create_fails, *nondeterministic, *last_math, *last_algo;
} fake_dnn;

static int fake_dnn_open(fake_dnn *f) {
    void *lib = dlopen(FAKE_CUDNN, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
    if (!lib) return 0;
    f->live = dlsym(lib, "fake_cudnn_live");
    f->heuristics = dlsym(lib, "fake_cudnn_heuristics");
    f->create_fails = dlsym(lib, "fake_cudnn_create_fails");
    f->nondeterministic = dlsym(lib, "fake_cudnn_nondeterministic");
    f->last_math = dlsym(lib, "fake_cudnn_last_math");
    f->last_algo = dlsym(lib, "fake_cudnn_last_algo");
    fake_flush_fn *flush = dlsym(lib, "fake_cudnn_flush");
    if (flush) *flush = fake_run_pending;
    return flush && f->live && f->heuristics && f->create_fails && f->nondeterministic &&
           f->last_math && f->last_algo;
}

/* ---- one shape through the three slots ----------------------------------------------- */

typedef struct conv_case {
    conv_geom k;
    const char *what;
} conv_case;

/* The first index where got is off want by more than 1e-5 of the magnitude, or -1. */
static int64_t first_bad(const float *got, const double *want, const double *mag, int64_t n) {
    for (int64_t i = 0; i < n; i++)
        if (!(fabs(got[i] - want[i]) <= 1e-5 * (mag[i] + 1e-6))) return i;
    return -1;
}

/* Downloads n floats of d and checks them against want; one report line. */
static void expect(host_check *h, const char *what, const char *shape, const float *d,
                   const double *want, const double *mag, int64_t n) {
    float *got = malloc((size_t)n * sizeof *got);
    h->k->memcpy_d2h(h->st, got, d, (size_t)n * sizeof *got);
    char name[160];
    snprintf(name, sizeof name, "cuDNN %s, %s (first bad element)", what, shape);
    const int64_t bad = first_bad(got, want, mag, n);
    const lt_status synced = h->k->sync(h->st);
    report(h, bad < 0 && synced == LT_OK, name, (long long)bad);
    if (bad >= 0)
        printf("  got %.9g, want %.9g; sync: %s\n", got[bad], want[bad],
               synced == LT_OK ? "ok" : lt_last_error());
    free(got);
}

typedef struct conv_run {
    float *hx, *hw, *hb, *hdy;
    float *x, *w, *b, *dy, *y, *dx, *dw, *db;
    conv_ref r;
} conv_run;

static void run_free(host_check *h, conv_run *c) {
    float *dev[] = {c->x, c->w, c->b, c->dy, c->y, c->dx, c->dw, c->db};
    for (size_t i = 0; i < sizeof dev / sizeof *dev; i++) h->k->free(h->st, dev[i]);
    float *host[] = {c->hx, c->hw, c->hb, c->hdy};
    for (size_t i = 0; i < sizeof host / sizeof *host; i++) free(host[i]);
    conv_ref_free(&c->r);
}

/* Random x, w, b and dy on both sides, and the reference without bias. */
static void run_setup(host_check *h, const conv_geom *k, conv_run *c) {
    const int64_t nx = conv_nx(k), ny = conv_ny(k), nw = conv_nw(k);
    c->hx = host_random_floats(nx), c->hw = host_random_floats(nw),
    c->hb = host_random_floats(k->o);
    c->hdy = host_random_floats(ny);
    c->x = host_upload(h, c->hx, nx), c->w = host_upload(h, c->hw, nw),
    c->b = host_upload(h, c->hb, k->o);
    c->dy = host_upload(h, c->hdy, ny);
    c->y = h->k->alloc(h->st, (size_t)ny * 4), c->dx = h->k->alloc(h->st, (size_t)nx * 4);
    c->dw = h->k->alloc(h->st, (size_t)nw * 4), c->db = h->k->alloc(h->st, (size_t)k->o * 4);
    c->r = conv_ref_make(k, c->hx, c->hw, NULL, c->hdy);
}

/* y = conv(x, w) (+ b), dx, dw and db against the reference. */
static void check_conv_case(host_check *h, const conv_case *cc) {
    const conv_geom *k = &cc->k;
    const lt_window2d *g = &k->g;
    conv_run c;
    run_setup(h, k, &c);
    const int64_t ny = conv_ny(k), p = g->oh * g->ow;
    int rc = h->k->conv2d(h->st, g, k->groups, k->o, c.x, c.w, NULL, c.y);
    report(h, rc == 0, "cuDNN takes conv2d", rc);
    expect(h, "conv2d", cc->what, c.y, c.r.y, c.r.my, ny);
    rc = h->k->conv2d(h->st, g, k->groups, k->o, c.x, c.w, c.b, c.y);
    for (int64_t i = 0; i < ny; i++)
        c.r.y[i] += c.hb[i / p % k->o], c.r.my[i] += fabs(c.hb[i / p % k->o]);
    expect(h, "conv2d with bias", cc->what, c.y, c.r.y, c.r.my, ny);
    rc |= h->k->conv2d_bwd_data(h->st, g, k->groups, k->o, c.dy, c.w, c.dx);
    expect(h, "conv2d_bwd_data", cc->what, c.dx, c.r.dx, c.r.mdx, conv_nx(k));
    rc |= h->k->conv2d_bwd_weights(h->st, g, k->groups, k->o, c.x, c.dy, c.dw, c.db);
    expect(h, "conv2d_bwd_weights", cc->what, c.dw, c.r.dw, c.r.mdw, conv_nw(k));
    expect(h, "bias gradient", cc->what, c.db, c.r.db, c.r.mdb, k->o);
    report(h, rc == 0, "cuDNN takes bias, bwd_data and bwd_weights", rc);
    run_free(h, &c);
}

static void check_results(host_check *h) {
    conv_case cases[] = {
        {{conv_window(2, 4, 7, 9, 3, 3, 1, 1, 1), 1, 6}, "3x3 same, 4 -> 6"},
        {{conv_window(1, 6, 11, 13, 3, 5, 2, 1, 2), 3, 9}, "groups 3, stride 2, dilation 2"},
        {{conv_window(2, 4, 6, 6, 3, 3, 2, 1, 3), 4, 8}, "depthwise x2, dilation 3"},
        {{conv_window(3, 2, 5, 5, 1, 1, 1, 0, 1), 1, 3}, "1x1"},
    };
    /* Mixed strides and pads per axis. */
    cases[1].k.g.sw = 3, cases[1].k.g.pw = 2, cases[1].k.g.dw = 1;
    cases[1].k.g.ow = (13 + 4 - 5) / 3 + 1;
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) check_conv_case(h, &cases[i]);
    /* torch's "same" for an even kernel pads bottom/right one less: not cuDNN's form. */
    lt_window2d same4 = conv_window(2, 3, 9, 7, 4, 4, 1, 1, 1);
    same4.oh = 9, same4.ow = 7;
    float *x = h->k->alloc(h->st, 2 * 3 * 9 * 7 * 4), *w = h->k->alloc(h->st, 2 * 3 * 16 * 4);
    float *y = h->k->alloc(h->st, 2 * 2 * 9 * 7 * 4);
    report(h,
           h->k->conv2d(h->st, &same4, 1, 2, x, w, NULL, y) == 1 &&
               h->k->conv2d_bwd_data(h->st, &same4, 1, 2, y, w, x) == 1 &&
               h->k->conv2d_bwd_weights(h->st, &same4, 1, 2, x, y, w, NULL) == 1,
           "asymmetric padding (4x4 same) declines: im2col runs it", 0);
    h->k->free(h->st, x), h->k->free(h->st, w), h->k->free(h->st, y);
}

/* ---- the cache ------------------------------------------------------------------------ */

static cuda_dnn_stats stats(host_check *h) {
    cuda_dnn_stats s = {0};
    cuda_dnn_stats_of(h->st, &s);
    return s;
}

/* A 1x1 convolution of batch n, forward only (its own cache key per n). */
static void conv_n(host_check *h, int64_t n, float *x, float *w, float *y) {
    lt_window2d g = conv_window(n, 2, 3, 3, 1, 1, 1, 0, 1);
    h->k->conv2d(h->st, &g, 1, 2, x, w, NULL, y);
}

static void check_cache(host_check *h, const fake_dnn *f) {
    enum { SHAPES = 40 };
    float *x = h->k->alloc(h->st, SHAPES * 18 * 4), *w = h->k->alloc(h->st, 16);
    float *y = h->k->alloc(h->st, SHAPES * 18 * 4);
    conv_n(h, 1, x, w, y);
    const cuda_dnn_stats a = stats(h);
    const long q = *f->heuristics;
    const long long mallocs = fake_mallocs();
    for (int r = 0; r < 10; r++) conv_n(h, 1, x, w, y);
    const cuda_dnn_stats b = stats(h);
    report(h,
           b.builds == a.builds && *f->heuristics == q && fake_mallocs() == mallocs &&
               b.calls == a.calls + 10,
           "the same shape again: a cache hit, no heuristics, no cudaMalloc (calls)",
           (long long)(b.calls - a.calls));
    for (int64_t n = 1; n <= SHAPES; n++) conv_n(h, n, x, w, y);
    const cuda_dnn_stats c = stats(h);
    report(h, c.live == 32 && c.evictions >= SHAPES - 32 && h->k->sync(h->st) == LT_OK,
           "40 more shapes: the cache stays at 32 entries, least recently used evicted (live)",
           (long long)c.live);
    h->k->free(h->st, x), h->k->free(h->st, w), h->k->free(h->st, y);
}

/* ---- precision, determinism, the declining paths ------------------------------------- */

/* Opens a second state with opts; runs one 3x3 convolution; returns the slot's answer. */
static int conv_on(const host_check *h, const lt_accel_opts *opts, const char **describe) {
    host_check o = {.k = h->k};
    if (h->k->init(opts, &o.st) != LT_OK) return -1;
    static char line[512];
    snprintf(line, sizeof line, "%s", h->k->describe(o.st));
    *describe = line;
    lt_window2d g = conv_window(1, 2, 5, 5, 3, 3, 1, 1, 1);
    float *x = h->k->alloc(o.st, 200), *w = h->k->alloc(o.st, 200), *y = h->k->alloc(o.st, 200);
    int rc = h->k->conv2d(o.st, &g, 1, 2, x, w, NULL, y);
    h->k->free(o.st, x), h->k->free(o.st, w), h->k->free(o.st, y);
    h->k->shutdown(o.st);
    return rc;
}

/* The heuristics list an atomic algorithm, then a tensor-core one, then one in the
 * descriptor's math (fake_cudnn.c): highest must skip the first two, high the first. */
static void check_precision(host_check *h, const fake_dnn *f) {
    const char *line;
    lt_accel_opts opts = {.struct_size = sizeof opts};
    int rc = conv_on(h, &opts, &line);
    report(h, rc == 0 && *f->last_math == CUDNN_FMA_MATH && *f->last_algo == 1,
           "32-true, highest: FMA math (no TF32), no tensor-core algorithm (algo)", *f->last_algo);
    opts.matmul_precision = LT_MATMUL_HIGH;
    rc = conv_on(h, &opts, &line);
    report(h, rc == 0 && *f->last_math == CUDNN_TENSOR_OP_MATH && *f->last_algo == 2,
           "32-true, high: the first deterministic algorithm, its tensor-op math (TF32) (algo)",
           *f->last_algo);
    *f->nondeterministic = 1;
    opts.matmul_precision = LT_MATMUL_HIGHEST;
    rc = conv_on(h, &opts, &line);
    *f->nondeterministic = 0;
    report(h, rc == 1, "no deterministic algorithm: declines", rc);
}

static void check_declining(host_check *h, const fake_dnn *f) {
    const lt_accel_opts opts = {.struct_size = sizeof opts};
    const char *line;
    *f->create_fails = 1;
    int rc = conv_on(h, &opts, &line);
    *f->create_fails = 0;
    report(h, rc == 1, "cudnnCreate failing: declines (one warning on stderr)", rc);
    setenv("LT_CUDA_CUDNN", "0", 1);
    rc = conv_on(h, &opts, &line);
    unsetenv("LT_CUDA_CUDNN");
    report(h, rc == 1 && strstr(line, ", cuDNN off (LT_CUDA_CUDNN=0)"),
           "LT_CUDA_CUDNN=0: declines, and describe says so", rc);
    const char *keep = cuda_dnn_soname;
    cuda_dnn_soname = "libcudnn_not_here.so.9";
    rc = conv_on(h, &opts, &line);
    cuda_dnn_soname = keep;
    report(h, rc == 1 && strstr(line, ", no cuDNN (libcudnn_not_here.so.9"),
           "no libcudnn: declines, and describe says why", rc);
    if (!strstr(line, "no cuDNN")) printf("  describe: %s\n", line);
}

void check_cudnn(host_check *h) {
    fake_dnn f;
    if (!fake_dnn_open(&f)) {
        report(h, 0, "open the fake libcudnn " FAKE_CUDNN, 0);
        return;
    }
    check_results(h);
    check_cache(h, &f);
    check_precision(h, &f);
    check_declining(h, &f);
}

/* After the main state's shutdown: every handle and descriptor was destroyed. */
void check_cudnn_teardown(host_check *h) {
    fake_dnn f;
    report(h, fake_dnn_open(&f) && *f.live == 0,
           "shutdown destroys every cuDNN handle and descriptor (left)",
           fake_dnn_open(&f) ? *f.live : -1);
}
