/* cuda_ops_check [--accel NAME] [--plugins DIR] [--only conv] — every slot of the cuda accelerator
 * against the cpu accelerator at random shapes (odd sizes, 1, grids larger than one
 * launch covers, broadcasts, transposes, every precision), plus its copies, caching
 * allocator and init errors. Prints "ok: ..." / "FAIL: ..." lines and "N passed, N
 * failed"; exits 0, 1 on a failure, or 77 ("skip: ...") without a GPU.
 *
 * --accel cpu runs the same checks cpu against cpu: the harness itself, on any machine
 * (slots the cpu leaves NULL are skipped). DIR is the build's plugins folder. */
#include <cuda_runtime.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lt/status.h>

#include "ops_check.h"

#ifndef LT_BUILD_PLUGINS
#define LT_BUILD_PLUGINS "build/plugins"
#endif

/* ---- reporting, random numbers ---------------------------------------------------- */

void report(check_ctx *c, int ok, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    printf("%s: ", ok ? "ok" : "FAIL");
    vprintf(fmt, ap);
    printf("\n");
    fflush(stdout);
    va_end(ap);
    if (ok)
        c->passed++;
    else
        c->failed++;
}

static uint64_t rnd_next(check_ctx *c) { /* xorshift64* */
    c->rng ^= c->rng >> 12;
    c->rng ^= c->rng << 25;
    c->rng ^= c->rng >> 27;
    return c->rng * 0x2545F4914F6CDD1Dull;
}

float rnd_uniform(check_ctx *c, float lo, float hi) {
    return lo + (hi - lo) * (float)((double)(rnd_next(c) >> 11) / 9007199254740992.0);
}

int64_t rnd_int(check_ctx *c, int64_t n) { return (int64_t)(rnd_next(c) % (uint64_t)n); }

/* ---- accelerators ------------------------------------------------------------------- */

int accel_open(check_ctx *c, const char *name, const lt_accel_opts *opts, accel *a) {
    memset(a, 0, sizeof *a);
    if (lt_plugin_open(LT_PLUGIN_ACCELERATOR, name, c->roots, &a->plugin) != LT_OK) {
        report(c, 0, "open %s: %s", name, lt_last_error());
        return 0;
    }
    a->k = lt_plugin_desc(a->plugin);
    if (a->k->init(opts, &a->st) != LT_OK) {
        report(c, 0, "init %s: %s", name, lt_last_error());
        lt_plugin_close(a->plugin);
        memset(a, 0, sizeof *a);
        return 0;
    }
    return 1;
}

void accel_close(accel *a) {
    if (a->k && a->k->shutdown) a->k->shutdown(a->st);
    if (a->plugin) lt_plugin_close(a->plugin);
    memset(a, 0, sizeof *a);
}

void for_each_precision(check_ctx *c, const char *what, const precision_setting *settings, size_t n,
                        void (*check)(check_ctx *c, const char *setting, double tol)) {
    const accel keep = c->acc[DUT];
    for (size_t s = 0; s < n; s++) {
        const lt_accel_opts opts = {.struct_size = sizeof opts,
                                    .precision = settings[s].precision,
                                    .matmul_precision = settings[s].matmul};
        if (strcmp(c->dut_name, "cuda") && settings[s].precision != LT_PRECISION_32_TRUE) {
            printf("skip: %s %s: only cuda is checked beyond 32-true (not %s)\n", what,
                   settings[s].name, c->dut_name); /* --accel cpu: the harness's own check */
            continue;
        }
        if (!accel_open(c, c->dut_name, &opts, &c->acc[DUT])) continue;
        check(c, settings[s].name, settings[s].tol);
        accel_close(&c->acc[DUT]);
    }
    c->acc[DUT] = keep;
}

/* ---- buffers ------------------------------------------------------------------------ */

static buf buf_alloc(check_ctx *c, int64_t n, size_t esz) {
    buf b = {.n = n, .esz = esz};
    size_t bytes = (size_t)n * esz;
    b.h = malloc(bytes ? bytes : 1);
    for (int i = 0; i < 2; i++) b.d[i] = c->acc[i].k->alloc(c->acc[i].st, bytes);
    if (!b.h || !b.d[0] || !b.d[1]) {
        fprintf(stderr, "FAIL: out of memory for %lld elements\n", (long long)n);
        exit(1);
    }
    return b;
}

void buf_sync_in(check_ctx *c, buf *b) {
    for (int i = 0; i < 2; i++)
        c->acc[i].k->memcpy_h2d(c->acc[i].st, b->d[i], b->h, (size_t)b->n * b->esz);
}

buf buf_floats(check_ctx *c, int64_t n, float lo, float hi) {
    buf b = buf_alloc(c, n, sizeof(float));
    for (int64_t i = 0; i < n; i++) HF(b)[i] = rnd_uniform(c, lo, hi);
    buf_sync_in(c, &b);
    return b;
}

buf buf_labels(check_ctx *c, int64_t n, int64_t classes) {
    buf b = buf_alloc(c, n, sizeof(int64_t));
    for (int64_t i = 0; i < n; i++) HI(b)[i] = rnd_int(c, classes);
    buf_sync_in(c, &b);
    return b;
}

buf buf_out(check_ctx *c, int64_t n, size_t esz) {
    buf b = buf_alloc(c, n, esz);
    memset(b.h, 0x7f, (size_t)n * esz);
    buf_sync_in(c, &b);
    return b;
}

void buf_free(check_ctx *c, buf *b) {
    for (int i = 0; i < 2; i++) c->acc[i].k->free(c->acc[i].st, b->d[i]);
    free(b->h);
    memset(b, 0, sizeof *b);
}

void *buf_download(check_ctx *c, const buf *b, int i) {
    size_t bytes = (size_t)b->n * b->esz;
    void *h = malloc(bytes ? bytes : 1);
    if (!h) {
        fprintf(stderr, "FAIL: out of host memory\n");
        exit(1);
    }
    c->acc[i].k->memcpy_d2h(c->acc[i].st, h, b->d[i], bytes);
    return h;
}

static int close_enough(double got, double want, double rtol, double atol) {
    if (want != want) return got != got; /* NaN where the reference has NaN */
    if (want == HUGE_VAL || want == -HUGE_VAL) return got == want;
    double d = got > want ? got - want : want - got;
    return d <= atol + rtol * (want < 0 ? -want : want);
}

/* Element i of both results as doubles; whether they agree (int64: exactly). */
static int elem_agrees(const buf *b, const void *got, const void *want, int64_t i, double rtol,
                       double atol, double *g, double *w) {
    if (b->esz == 8) {
        const int64_t gi = ((const int64_t *)got)[i], wi = ((const int64_t *)want)[i];
        *g = (double)gi;
        *w = (double)wi;
        return gi == wi;
    }
    *g = ((const float *)got)[i];
    *w = ((const float *)want)[i];
    return close_enough(*g, *w, rtol, atol);
}

int buf_check(check_ctx *c, const char *name, const buf *b, double rtol, double atol) {
    void *want = buf_download(c, b, REF), *got = buf_download(c, b, DUT);
    int64_t bad = -1, exact = 0;
    double worst = 0, gw = 0, ww = 0;
    for (int64_t i = 0; i < b->n; i++) {
        double g, w;
        if (!elem_agrees(b, got, want, i, rtol, atol, &g, &w)) {
            if (bad < 0) bad = i, gw = g, ww = w;
            continue;
        }
        const double d = fabs(g - w) / (atol + rtol * fabs(w) + 1e-300);
        exact += g == w || (g != g && w != w);
        if (d > worst) worst = d; /* NaN - NaN compares false: skipped */
    }
    int ok = bad < 0 && c->acc[DUT].k->sync(c->acc[DUT].st) == LT_OK;
    if (ok)
        report(c, 1, "%s (%lld elements, %lld bit-exact, worst error %.2f of tolerance)", name,
               (long long)b->n, (long long)exact, worst);
    else if (bad >= 0)
        report(c, 0, "%s: element %lld is %.9g, the reference has %.9g (rtol %g, atol %g)", name,
               (long long)bad, gw, ww, rtol, atol);
    else
        report(c, 0, "%s: sync: %s", name, lt_last_error());
    free(want);
    free(got);
    return ok;
}

/* ---- copies --------------------------------------------------------------------------- */

/* Round trips of odd sizes, both staging paths (small and larger than half the ring). */
static void check_roundtrip(check_ctx *c) {
    static const int64_t sizes[] = {1, 63, 4096, (1 << 18) + 3, (5 << 20) + 1};
    for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) {
        buf b = buf_floats(c, sizes[s], -1e6f, 1e6f);
        char name[64];
        snprintf(name, sizeof name, "memcpy h2d/d2h %lld floats", (long long)sizes[s]);
        buf_check(c, name, &b, TOL_EXACT);
        buf_free(c, &b);
    }
}

/* A host buffer reused right after each h2d (the caller may): every copy must have taken
 * its own bytes, also when the pinned ring wraps around several times. */
static void check_staging(check_ctx *c) {
    enum { COPIES = 40 };
    const int64_t n = 3 << 18; /* 3 MiB of floats: 40 copies wrap a 32 MiB ring ~4 times */
    accel *a = &c->acc[DUT];
    float *host = malloc((size_t)n * sizeof *host), *back = malloc((size_t)n * sizeof *back);
    void *dev[COPIES];
    int ok = host && back;
    for (int i = 0; ok && i < COPIES; i++) {
        for (int64_t j = 0; j < n; j++) host[j] = (float)(i * 1000003 + j);
        ok = (dev[i] = a->k->alloc(a->st, (size_t)n * sizeof *host)) != NULL;
        if (ok) a->k->memcpy_h2d(a->st, dev[i], host, (size_t)n * sizeof *host);
    }
    int64_t bad_copy = -1, bad_at = -1;
    for (int i = 0; ok && i < COPIES; i++) {
        a->k->memcpy_d2h(a->st, back, dev[i], (size_t)n * sizeof *back);
        for (int64_t j = 0; j < n && bad_copy < 0; j++)
            if (back[j] != (float)(i * 1000003 + j)) bad_copy = i, bad_at = j;
        a->k->free(a->st, dev[i]);
    }
    report(c, ok && bad_copy < 0 && a->k->sync(a->st) == LT_OK,
           "memcpy_h2d from a reused pageable buffer, %d x %lld floats (first wrong: copy %lld "
           "element %lld)",
           COPIES, (long long)n, (long long)bad_copy, (long long)bad_at);
    free(host);
    free(back);
}

/* memcpy_d2d between overlapping views, both directions (memmove on the cpu). */
static void check_d2d(check_ctx *c) {
    const int64_t n = 100003;
    for (int dir = 0; dir < 2; dir++) {
        buf b = buf_floats(c, n, -1, 1);
        const int64_t shift = 4097;
        ON_BOTH(c, memcpy_d2d, (float *)D(b) + (dir ? 0 : shift), (float *)D(b) + (dir ? shift : 0),
                (size_t)(n - shift) * sizeof(float));
        buf_check(c, dir ? "memcpy_d2d overlapping, down" : "memcpy_d2d overlapping, up", &b,
                  TOL_EXACT);
        buf_free(c, &b);
    }
    buf a = buf_floats(c, 12345, -1, 1), b = buf_out(c, 12345, sizeof(float));
    ON_BOTH(c, memcpy_d2d, D(b), D(a), 12345 * sizeof(float));
    buf_check(c, "memcpy_d2d", &b, TOL_EXACT);
    buf_free(c, &a);
    buf_free(c, &b);
}

/* ---- the caching allocator (cuda only) ------------------------------------------------- */

/* The pattern a training step makes: tensors of assorted sizes, freed in another order. */
static void alloc_pattern(accel *a, int repeats) {
    static const size_t sizes[] = {100,     512,           513,      4000,    70000,
                                   1 << 20, (1 << 20) + 1, 3u << 20, 5000000, 0};
    enum { N = sizeof sizes / sizeof *sizes };
    for (int r = 0; r < repeats; r++) {
        void *p[N];
        for (int i = 0; i < N; i++) p[i] = a->k->alloc(a->st, sizes[i]);
        for (int i = 0; i < N; i++) a->k->free(a->st, p[(i * 7) % N]);
    }
}

/* cudaMalloc calls of a fresh device running the pattern `repeats` times, from the line
 * LT_CUDA_STATS=1 makes shutdown print on stderr; -1 when there is none. */
static long long device_mallocs(check_ctx *c, int repeats) {
    accel a;
    lt_accel_opts opts = {.struct_size = sizeof opts};
    if (!accel_open(c, "cuda", &opts, &a)) return -1;
    alloc_pattern(&a, repeats);
    FILE *tmp = tmpfile();
    int saved = dup(2);
    if (!tmp || saved < 0) return -1;
    fflush(stderr);
    dup2(fileno(tmp), 2);
    setenv("LT_CUDA_STATS", "1", 1);
    accel_close(&a);
    unsetenv("LT_CUDA_STATS");
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    char line[256] = "";
    long long n = -1;
    rewind(tmp);
    while (fgets(line, sizeof line, tmp))
        if (sscanf(line, "cuda: %lld device allocations", &n) == 1) break;
    fclose(tmp);
    return n;
}

static void check_allocator(check_ctx *c) {
    long long once = device_mallocs(c, 1), many = device_mallocs(c, 20);
    report(c, once > 0 && many == once,
           "caching allocator: the pattern once makes %lld cudaMalloc calls, 20 times %lld "
           "(steady state: 0 more)",
           once, many);
    accel *a = &c->acc[DUT];
    void *p = a->k->alloc(a->st, 1000);
    a->k->free(a->st, p);
    void *q = a->k->alloc(a->st, 900); /* the same 1024-byte class */
    void *z = a->k->alloc(a->st, 0);
    report(c, p && q == p && z && z != q,
           "caching allocator: a freed 1000-byte block serves 900 bytes; 0 bytes get a block");
    a->k->free(a->st, q);
    a->k->free(a->st, z);
}

/* ---- init, ranges, errors (cuda only) ------------------------------------------------ */

static void check_init_errors(check_ctx *c, int gpus) {
    lt_accel_opts opts = {.struct_size = sizeof opts, .device_index = gpus};
    const accel *a = &c->acc[DUT];
    void *st = NULL;
    char want[64];
    snprintf(want, sizeof want, "has %d GPU(s)", gpus);
    lt_status s = a->k->init(&opts, &st);
    report(c, s == LT_ERR_INVALID_ARG && !st && strstr(lt_last_error(), want),
           "init with device_index %d: %s", gpus, lt_last_error());
    opts.device_index = 0;
    opts.precision = (lt_precision)99;
    s = a->k->init(&opts, &st);
    report(c, s == LT_ERR_INVALID_ARG && !st, "init with an unknown precision: %s",
           lt_last_error());
}

static void check_ranges(check_ctx *c) {
    accel *a = &c->acc[DUT];
    a->k->range_push(a->st, "outer");
    a->k->range_push(a->st, "inner");
    a->k->range_pop(a->st);
    a->k->range_pop(a->st);
    report(c, a->k->sync(a->st) == LT_OK, "range_push/range_pop nest");
}

/* Last: a failed copy must surface at sync as one line (the device may stay unusable). */
static void check_error_path(check_ctx *c) {
    accel *a = &c->acc[DUT];
    float host[4];
    a->k->memcpy_d2h(a->st, host, (const void *)(uintptr_t)0x10, sizeof host);
    lt_status s = a->k->sync(a->st);
    const char *msg = lt_last_error();
    report(c, s == LT_ERR_DEVICE && strstr(msg, "cuda accelerator") && !strchr(msg, '\n'),
           "a device error reaches sync: %s", msg);
}

/* ---- main -------------------------------------------------------------------------------- */

/* The number of GPUs, or exits 77 when the device under test is cuda and there is none. */
static int gpus_or_skip(const check_ctx *c) {
    if (strcmp(c->dut_name, "cuda")) return 0;
    int n = 0;
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess || n == 0) {
        printf("skip: no GPU (cudaGetDeviceCount: %s); run tests/gpu/run.sh on a GPU machine\n",
               e != cudaSuccess ? cudaGetErrorString(e) : "0 devices");
        exit(77);
    }
    return n;
}

static void parse_args(int argc, char **argv, const char **dut, const char **plugins,
                       const char **only) {
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--accel")) {
            *dut = argv[i + 1];
        } else if (!strcmp(argv[i], "--plugins")) {
            *plugins = argv[i + 1];
        } else if (!strcmp(argv[i], "--only") && !strcmp(argv[i + 1], "conv")) {
            *only = argv[i + 1];
        } else {
            fprintf(stderr, "usage: %s [--accel NAME] [--plugins DIR] [--only conv]\n", argv[0]);
            exit(2);
        }
    }
}

/* Every check but the convolutions (check_conv, which --only conv runs alone). */
static void check_all_but_conv(check_ctx *c, int gpus) {
    check_roundtrip(c);
    check_staging(c);
    check_d2d(c);
    check_elementwise(c);
    check_binary(c);
    check_reduce(c);
    check_rows(c);
    check_optim(c);
    check_mixed(c);
    check_gemm(c);
    check_layers(c);
    check_cast(c);
    check_index(c);
    if (!strcmp(c->dut_name, "cuda")) {
        check_allocator(c);
        check_init_errors(c, gpus);
        check_ranges(c);
        check_error_path(c);
    }
}

int main(int argc, char **argv) {
    const char *plugins = LT_BUILD_PLUGINS;
    check_ctx c = {.dut_name = "cuda", .rng = 0x9E3779B97F4A7C15ull};
    const char *only = NULL;
    parse_args(argc, argv, &c.dut_name, &plugins, &only);
    const char *roots[] = {plugins, NULL};
    c.roots = roots;
    const int gpus = gpus_or_skip(&c);
    lt_accel_opts opts = {.struct_size = sizeof opts};
    if (!accel_open(&c, "cpu", &opts, &c.acc[REF]) ||
        !accel_open(&c, c.dut_name, &opts, &c.acc[DUT]))
        return 1;
    check_conv(&c);
    if (!only) check_all_but_conv(&c, gpus); /* the error path last: it may break the device */
    accel_close(&c.acc[DUT]);
    accel_close(&c.acc[REF]);
    printf("%d passed, %d failed\n", c.passed, c.failed);
    return c.failed ? 1 : 0;
}
