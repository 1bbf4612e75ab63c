/* host_blas.c — cuda_host_check's part for the gemm and gemm_batched slots (gemm.c) on the
 * fake runtime and the fake libcublas (fake_cublas.c, opened by the plugin in place of the
 * real one), in every precision: the operand type and compute mode each asks cuBLAS for
 * (gemm.c's table); results bit for bit against the double sum of the operands as that
 * precision rounds them (fake_cublas.c decodes the plugin's half copies exactly), for every
 * transposition, padded leading dimensions, shared and spaced batch operands; one cuBLAS
 * call per batch; what gemm_batched declines (a gapped batch in half precision, k = 0, a
 * refused call) leaving C untouched; no libcublas failing init with one line; teardown
 * destroying every handle. */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lt/tensor.h>

#include "cuda_impl.h"
#include "fake_cudart.h"
#include "host_check.h"

/* The fake library's counters and switches, found with dlsym. */
typedef struct fake_blas {
    long *live, *gemms, *batched;
    int *refuse;
    cudaDataType *type;
    cublasComputeType_t *compute;
} fake_blas;

static int fake_blas_open(fake_blas *f) {
    void *lib = dlopen(FAKE_CUBLAS, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
    if (!lib) return 0;
    f->live = dlsym(lib, "fake_cublas_live");
    f->gemms = dlsym(lib, "fake_cublas_gemms");
    f->batched = dlsym(lib, "fake_cublas_batched");
    f->refuse = dlsym(lib, "fake_cublas_refuse");
    f->type = dlsym(lib, "fake_cublas_last_type");
    f->compute = dlsym(lib, "fake_cublas_last_compute");
    fake_flush_fn *flush = dlsym(lib, "fake_cublas_flush");
    if (flush) *flush = fake_run_pending;
    return flush && f->live && f->gemms && f->batched && f->refuse && f->type && f->compute;
}

/* One precision setting: a state opened with it, and what gemm.c must ask cuBLAS for. */
typedef struct blas_setting {
    const char *name;
    lt_precision precision;
    lt_matmul_precision matmul;
    cudaDataType type;
    cublasComputeType_t compute;
} blas_setting;

/* A batch of products (batch 0: the gemm slot, one product). shared: 1 A, 2 B read by
 * every product; gap_a / gap_c: elements between one matrix of A / C and the next. */
typedef struct blas_case {
    int ta, tb;
    int64_t m, n, k, pad;
    float alpha, beta;
    int64_t batch;
    int shared;
    int64_t gap_a, gap_c;
} blas_case;

/* x as the setting's matmuls read it. */
static double rounded(const blas_setting *s, float x) {
    if (s->type == CUDA_R_16BF) return lt_bf16_to_f32(lt_f32_to_bf16(x));
    if (s->type == CUDA_R_16F) return lt_f16_to_f32(lt_f32_to_f16(x));
    return x;
}

/* The case's operands on the host and the device; C holds its starting values. */
typedef struct blas_run {
    int64_t ra, ca, rb, cb, lda, ldb, ldc, sa, sb, sc, count;
    float *ha, *hb, *hc, *a, *b, *c;
} blas_run;

static void run_setup(host_check *h, const blas_case *t, blas_run *r) {
    r->count = t->batch ? t->batch : 1;
    r->ra = t->ta ? t->k : t->m, r->ca = t->ta ? t->m : t->k;
    r->rb = t->tb ? t->n : t->k, r->cb = t->tb ? t->k : t->n;
    r->lda = r->ca + t->pad, r->ldb = r->cb + t->pad, r->ldc = t->n + t->pad;
    r->sa = t->shared == 1 ? 0 : r->ra * r->lda + t->gap_a;
    r->sb = t->shared == 2 ? 0 : r->rb * r->ldb;
    r->sc = t->m * r->ldc + t->gap_c;
    const int64_t na = t->shared == 1 ? r->ra * r->lda : r->count * r->sa;
    const int64_t nb = t->shared == 2 ? r->rb * r->ldb : r->count * r->sb;
    r->ha = host_random_floats(na), r->hb = host_random_floats(nb);
    r->hc = host_random_floats(r->count * r->sc);
    r->a = host_upload(h, r->ha, na), r->b = host_upload(h, r->hb, nb);
    r->c = host_upload(h, r->hc, r->count * r->sc);
}

static void run_free(host_check *h, blas_run *r) {
    float *dev[] = {r->a, r->b, r->c}, *host[] = {r->ha, r->hb, r->hc};
    for (int i = 0; i < 3; i++) h->k->free(h->st, dev[i]), free(host[i]);
}

/* Element (i, j) of product b: the double sum of the rounded operands, rounded, times
 * alpha, plus beta times C's starting value. */
static float expected(const blas_setting *s, const blas_case *t, const blas_run *r, int64_t b,
                      int64_t i, int64_t j) {
    const float *a = r->ha + b * r->sa, *bm = r->hb + b * r->sb;
    double acc = 0;
    for (int64_t p = 0; p < t->k; p++)
        acc += rounded(s, t->ta ? a[p * r->lda + i] : a[i * r->lda + p]) *
               rounded(s, t->tb ? bm[j * r->ldb + p] : bm[p * r->ldb + j]);
    float want = (float)(t->alpha * acc);
    if (t->beta != 0.0f) want += t->beta * r->hc[b * r->sc + i * r->ldc + j];
    return want;
}

/* The first element of got (the device's C, read back) off the reference, or -1; padding
 * and gaps between the matrices must keep their values. */
static int64_t first_mismatch(const blas_setting *s, const blas_case *t, const blas_run *r,
                              const float *got) {
    for (int64_t o = 0; o < r->count * r->sc; o++) {
        const int64_t b = o / r->sc, i = o % r->sc / r->ldc, j = o % r->sc % r->ldc;
        const float want = i < t->m && j < t->n ? expected(s, t, r, b, i, j) : r->hc[o];
        if (memcmp(&got[o], &want, sizeof want)) return o;
    }
    return -1;
}

/* Runs the case on h's state. Returns the slot's answer (gemm: 0); *bad is the first
 * element off the reference (-1: none), *untouched whether C kept every value. */
static int run_case(host_check *h, const blas_setting *s, const blas_case *t, int64_t *bad,
                    int *untouched) {
    blas_run r;
    run_setup(h, t, &r);
    int rc = 0;
    if (t->batch)
        rc = h->k->gemm_batched(h->st, t->ta, t->tb, t->m, t->n, t->k, t->alpha, r.a, r.lda, r.sa,
                                r.b, r.ldb, r.sb, t->beta, r.c, r.ldc, r.sc, t->batch);
    else
        h->k->gemm(h->st, t->ta, t->tb, t->m, t->n, t->k, t->alpha, r.a, r.lda, r.b, r.ldb, t->beta,
                   r.c, r.ldc);
    const size_t cbytes = (size_t)(r.count * r.sc) * sizeof(float);
    float *got = malloc(cbytes);
    h->k->memcpy_d2h(h->st, got, r.c, cbytes);
    *untouched = !memcmp(got, r.hc, cbytes);
    *bad = first_mismatch(s, t, &r, got);
    free(got);
    run_free(h, &r);
    return rc;
}

static void case_name(char *name, size_t n, const blas_setting *s, const blas_case *t) {
    snprintf(name, n,
             "cuBLAS %s %s ta %d tb %d (%lld x %lld x %lld) x %lld pad %lld shared %d gaps %lld "
             "%lld alpha %g beta %g",
             t->batch ? "gemm_batched" : "gemm", s->name, t->ta, t->tb, (long long)t->m,
             (long long)t->n, (long long)t->k, (long long)t->batch, (long long)t->pad, t->shared,
             (long long)t->gap_a, (long long)t->gap_c, (double)t->alpha, (double)t->beta);
}

/* Products the slots take in every precision: right to the bit, one cuBLAS call each, with
 * the setting's types. */
static void check_taken(host_check *h, const fake_blas *f, const blas_setting *s) {
    static const blas_case cases[] = {
        {0, 1, 16, 10, 24, 0, 1, 0, 0, 0, 0, 0}, /* a linear layer: x W^T */
        {0, 0, 5, 7, 3, 2, 1, 0, 0, 0, 0, 0},
        {1, 0, 5, 7, 3, 1, 0.5f, 1, 0, 0, 0, 0},
        {1, 1, 6, 4, 9, 3, -1, 0.25f, 0, 0, 0, 0},
        {0, 1, 16, 16, 8, 0, 1, 0, 4, 0, 0, 0},     /* attention's q k^T */
        {0, 0, 16, 8, 16, 0, 1, 0, 4, 0, 0, 0},     /* its weights times v */
        {1, 0, 7, 9, 5, 3, 0.5f, 1, 5, 2, 0, 0},    /* B shared, padded, accumulating */
        {1, 1, 6, 11, 4, 2, -1, 0.25f, 3, 1, 0, 0}, /* A shared, both transposed */
        {0, 1, 5, 6, 7, 1, 1, 0, 3, 0, 0, 5},       /* C matrices spaced wider than C */
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const blas_case *t = &cases[i];
        const long gemms = *f->gemms, batched = *f->batched;
        int64_t bad;
        int untouched;
        const int rc = run_case(h, s, t, &bad, &untouched);
        const int one_call = t->batch ? *f->batched == batched + 1 && *f->gemms == gemms
                                      : *f->gemms == gemms + 1 && *f->batched == batched;
        char name[256];
        case_name(name, sizeof name, s, t);
        strncat(name, ": bit for bit, one call, the setting's types (first bad element)",
                sizeof name - strlen(name) - 1);
        report(h,
               rc == 0 && bad == -1 && one_call && *f->type == s->type &&
                   *f->compute == s->compute && h->k->sync(h->st) == LT_OK,
               name, (long long)bad);
    }
}

/* What gemm_batched declines, C untouched, and k = 0 through the gemm slot. */
static void check_declines(host_check *h, const fake_blas *f, const blas_setting *s) {
    const int half = s->type != CUDA_R_32F;
    int64_t bad;
    int untouched;
    char name[256];
    /* A batch of A with gaps: one cuBLAS call in float32; half copies need it contiguous. */
    const blas_case gapped = {0, 0, 4, 5, 6, 1, 1, 0, 3, 0, 3, 0};
    int rc = run_case(h, s, &gapped, &bad, &untouched);
    snprintf(name, sizeof name, "gemm_batched %s, A's matrices 3 elements apart: %s", s->name,
             half ? "declines, C untouched" : "taken, bit for bit");
    report(h, half ? rc != 0 && untouched : rc == 0 && bad == -1, name, rc);
    const blas_case empty_k = {0, 0, 4, 5, 0, 0, 1, 0, 2, 0, 0, 0};
    rc = run_case(h, s, &empty_k, &bad, &untouched);
    snprintf(name, sizeof name, "gemm_batched %s, k = 0: declines, C untouched", s->name);
    report(h, rc != 0 && untouched, name, rc);
    *f->refuse = 1;
    const blas_case refused = {0, 1, 4, 4, 4, 0, 1, 0, 2, 0, 0, 0};
    rc = run_case(h, s, &refused, &bad, &untouched);
    snprintf(name, sizeof name,
             "gemm_batched %s, cuBLAS refuses: declines, C untouched, the device usable", s->name);
    report(h, rc != 0 && untouched && h->k->sync(h->st) == LT_OK, name, rc);
    /* gemm with k = 0: C = beta C, beta 0 writing zeros. */
    const blas_case scale[] = {{0, 0, 3, 4, 0, 1, 1, 0, 0, 0, 0, 0},
                               {1, 1, 3, 4, 0, 2, 1, 2, 0, 0, 0, 0}};
    for (int i = 0; i < 2; i++) {
        run_case(h, s, &scale[i], &bad, &untouched);
        snprintf(name, sizeof name, "gemm %s, k = 0, beta %g: C = beta C", s->name,
                 (double)scale[i].beta);
        report(h, bad == -1, name, (long long)bad);
    }
}

/* No libcublas: init fails with one line naming cuBLAS. */
static void check_no_library(host_check *h) {
    const char *keep = cuda_blas_soname;
    cuda_blas_soname = "libcublas_not_here.so.13";
    lt_accel_opts opts = {.struct_size = sizeof opts};
    void *st = NULL;
    const lt_status s = h->k->init(&opts, &st);
    cuda_blas_soname = keep;
    const int said = s == LT_ERR_PLUGIN && !st && strstr(lt_last_error(), "cannot load cuBLAS") &&
                     !strchr(lt_last_error(), '\n');
    report(h, said, "no libcublas: init fails with one line saying cuBLAS is missing", s);
    if (!said) printf("  said \"%s\"\n", lt_last_error());
    if (st) h->k->shutdown(st);
}

void check_blas(host_check *h) {
    fake_blas f;
    if (!fake_blas_open(&f)) {
        report(h, 0, "open the fake libcublas " FAKE_CUBLAS, 0);
        return;
    }
    static const blas_setting settings[] = {
        {"32-true/highest", LT_PRECISION_32_TRUE, LT_MATMUL_HIGHEST, CUDA_R_32F,
         CUBLAS_COMPUTE_32F},
        {"32-true/high", LT_PRECISION_32_TRUE, LT_MATMUL_HIGH, CUDA_R_32F,
         CUBLAS_COMPUTE_32F_FAST_TF32},
        {"32-true/medium", LT_PRECISION_32_TRUE, LT_MATMUL_MEDIUM, CUDA_R_32F,
         CUBLAS_COMPUTE_32F_FAST_16BF},
        {"16-mixed", LT_PRECISION_16_MIXED, LT_MATMUL_HIGHEST, CUDA_R_16F, CUBLAS_COMPUTE_32F},
        {"bf16-mixed", LT_PRECISION_BF16_MIXED, LT_MATMUL_HIGHEST, CUDA_R_16BF, CUBLAS_COMPUTE_32F},
        {"bf16-true", LT_PRECISION_BF16_TRUE, LT_MATMUL_HIGHEST, CUDA_R_16BF, CUBLAS_COMPUTE_32F},
    };
    for (size_t i = 0; i < sizeof settings / sizeof *settings; i++) {
        const blas_setting *s = &settings[i];
        lt_accel_opts opts = {
            .struct_size = sizeof opts, .precision = s->precision, .matmul_precision = s->matmul};
        host_check o = {.k = h->k};
        if (h->k->init(&opts, &o.st) != LT_OK) {
            report(h, 0, "init the plugin in a precision setting on the fake runtime",
                   (long long)i);
            printf("  %s: %s\n", s->name, lt_last_error());
            continue;
        }
        check_taken(&o, &f, s);
        check_declines(&o, &f, s);
        h->k->shutdown(o.st);
        h->passed += o.passed, h->failed += o.failed;
    }
    check_no_library(h);
}

void check_blas_teardown(host_check *h) {
    fake_blas f;
    report(h, fake_blas_open(&f) && *f.live == 0, "shutdown destroys every cuBLAS handle (left)",
           fake_blas_open(&f) ? *f.live : -1);
}
