/* host_gemm.c — cuda_host_check's part for the gemm_bias slot (gemm_lt.c), on the fake
 * runtime and the fake libcublasLt (fake_cublaslt.c, opened by the plugin in place of the
 * real one): results against a direct product for every transposition, padded leading
 * dimensions and odd sizes, bit for bit (both round the double sum, then add the bias in
 * float); the plan cache (the same call again asks no heuristic, 20 shapes keep 16
 * plans); a shape without an algorithm declining with C untouched, and not asked again;
 * no library declining; teardown destroying every object. */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cuda_impl.h"
#include "fake_cudart.h"
#include "host_check.h"

/* The fake library's counters and switches, found with dlsym. */
typedef struct fake_lt {
    long *live, *heuristics, *matmuls;
    int *no_algo;
} fake_lt;

static int fake_lt_open(fake_lt *f) {
    void *lib = dlopen(FAKE_CUBLASLT, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
    if (!lib) return 0;
    f->live = dlsym(lib, "fake_cublaslt_live");
    f->heuristics = dlsym(lib, "fake_cublaslt_heuristics");
    f->matmuls = dlsym(lib, "fake_cublaslt_matmuls");
    f->no_algo = dlsym(lib, "fake_cublaslt_no_algo");
    fake_flush_fn *flush = dlsym(lib, "fake_cublaslt_flush");
    if (flush) *flush = fake_run_pending;
    return flush && f->live && f->heuristics && f->matmuls && f->no_algo;
}

typedef struct bias_case {
    int ta, tb;
    int64_t m, n, k, pad; /* pad: extra elements per row of A, B and C */
} bias_case;

/* The first element of got (row-major, m x ldc) that is not the reference's bits, or -1:
 * the double sum in order, rounded, plus the bias in float. */
static int64_t first_mismatch(const bias_case *c, const float *ha, int64_t lda, const float *hb,
                              int64_t ldb, const float *hbias, const float *got, int64_t ldc) {
    for (int64_t i = 0; i < c->m; i++)
        for (int64_t j = 0; j < c->n; j++) {
            double acc = 0;
            for (int64_t p = 0; p < c->k; p++)
                acc += (double)(c->ta ? ha[p * lda + i] : ha[i * lda + p]) *
                       (c->tb ? hb[j * ldb + p] : hb[p * ldb + j]);
            const float want = (float)(1.0f * acc) + hbias[j];
            if (memcmp(&got[i * ldc + j], &want, sizeof want)) return i * ldc + j;
        }
    return -1;
}

/* Runs the case; returns the first element of C off the reference, -1 when all match, or
 * -2 when the slot declined (then *untouched says whether C kept its contents). */
static int64_t run_case(host_check *h, const bias_case *c, int *untouched) {
    const int64_t ra = c->ta ? c->k : c->m, ca = c->ta ? c->m : c->k;
    const int64_t rb = c->tb ? c->n : c->k, cb = c->tb ? c->k : c->n;
    const int64_t lda = ca + c->pad, ldb = cb + c->pad, ldc = c->n + c->pad;
    float *ha = host_random_floats(ra * lda), *hb = host_random_floats(rb * ldb);
    float *hbias = host_random_floats(c->n), *hc = host_random_floats(c->m * ldc);
    float *a = host_upload(h, ha, ra * lda), *b = host_upload(h, hb, rb * ldb);
    float *bias = host_upload(h, hbias, c->n), *dc = host_upload(h, hc, c->m * ldc);
    const int rc =
        h->k->gemm_bias(h->st, c->ta, c->tb, c->m, c->n, c->k, a, lda, b, ldb, bias, dc, ldc);
    const size_t cbytes = (size_t)(c->m * ldc) * sizeof(float);
    float *got = malloc(cbytes);
    h->k->memcpy_d2h(h->st, got, dc, cbytes);
    *untouched = !memcmp(got, hc, cbytes);
    const int64_t bad = rc != 0 ? -2 : first_mismatch(c, ha, lda, hb, ldb, hbias, got, ldc);
    float *dev[] = {a, b, bias, dc};
    for (size_t i = 0; i < sizeof dev / sizeof *dev; i++) h->k->free(h->st, dev[i]);
    float *host[] = {ha, hb, hbias, hc, got};
    for (size_t i = 0; i < sizeof host / sizeof *host; i++) free(host[i]);
    return bad;
}

static void check_results(host_check *h) {
    static const bias_case cases[] = {
        {0, 1, 64, 10, 128, 0}, /* the linear layer's call: x W^T */
        {0, 0, 5, 7, 3, 0},     {1, 0, 5, 7, 3, 2},    {1, 1, 6, 4, 9, 1},
        {0, 1, 1, 1, 1, 0},     {0, 1, 33, 17, 65, 3},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const bias_case *c = &cases[i];
        int untouched = 0;
        char name[128];
        snprintf(name, sizeof name,
                 "cuBLASLt gemm_bias ta %d tb %d (%lld x %lld x %lld) pad %lld: bit for bit "
                 "(first bad element)",
                 c->ta, c->tb, (long long)c->m, (long long)c->n, (long long)c->k,
                 (long long)c->pad);
        const int64_t bad = run_case(h, c, &untouched);
        report(h, bad == -1 && h->k->sync(h->st) == LT_OK, name, (long long)bad);
    }
}

static void check_plans(host_check *h, const fake_lt *f) {
    const bias_case one = {0, 1, 8, 6, 4, 0};
    int untouched;
    run_case(h, &one, &untouched);
    const long q = *f->heuristics, mm = *f->matmuls;
    const long long mallocs = fake_mallocs();
    for (int r = 0; r < 5; r++) run_case(h, &one, &untouched);
    report(h, *f->heuristics == q && *f->matmuls == mm + 5 && fake_mallocs() == mallocs,
           "the same call again: a cached plan, no heuristic, no cudaMalloc (matmuls)",
           *f->matmuls - mm);
    for (int64_t m = 1; m <= 20; m++) run_case(h, &(bias_case){0, 1, m, 3, 2, 0}, &untouched);
    /* the handle, and 16 plans of a descriptor and three layouts each */
    report(h, *f->live == 1 + 16 * 4 && h->k->sync(h->st) == LT_OK,
           "20 more shapes: 16 plans held, least recently used evicted (objects live)", *f->live);
    *f->no_algo = 1;
    const bias_case none = {0, 1, 9, 9, 9, 0};
    const int64_t rc = run_case(h, &none, &untouched);
    const long asked = *f->heuristics;
    run_case(h, &none, &untouched);
    *f->no_algo = 0;
    report(h, rc == -2 && untouched && *f->heuristics == asked,
           "no algorithm: declines with C untouched, and is not asked again (heuristics)",
           *f->heuristics - asked);
}

/* A second state whose library is missing: its gemm_bias declines. */
static void check_no_library(host_check *h) {
    host_check o = {.k = h->k};
    lt_accel_opts opts = {.struct_size = sizeof opts};
    if (h->k->init(&opts, &o.st) != LT_OK) {
        report(h, 0, "init a second state", 0);
        return;
    }
    const char *keep = cuda_blaslt_soname;
    cuda_blaslt_soname = "libcublasLt_not_here.so.13";
    int untouched = 0;
    const int64_t rc = run_case(&o, &(bias_case){0, 1, 4, 4, 4, 0}, &untouched);
    cuda_blaslt_soname = keep;
    h->k->shutdown(o.st);
    report(h, rc == -2 && untouched, "no libcublasLt: gemm_bias declines, C untouched", rc);
}

void check_gemm_bias(host_check *h) {
    fake_lt f;
    if (!fake_lt_open(&f)) {
        report(h, 0, "open the fake libcublasLt " FAKE_CUBLASLT, 0);
        return;
    }
    check_results(h);
    check_plans(h, &f);
    check_no_library(h);
}

void check_gemm_bias_teardown(host_check *h) {
    fake_lt f;
    report(h, fake_lt_open(&f) && *f.live == 0,
           "shutdown destroys every cuBLASLt handle, descriptor and layout (left)",
           fake_lt_open(&f) ? *f.live : -1);
}
