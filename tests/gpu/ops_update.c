/* ops_update.c — the optimizers (every SGD and Adam variant) and GEMM at every precision
 * setting (transposes, padded leading dimensions, alpha/beta, k = 0; with a bias
 * epilogue; a strided batch). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops_check.h"

/* ---- optimizers ----------------------------------------------------------------------- */

static void check_sgd(check_ctx *c, int64_t n, const lt_sgd_hyper *h) {
    buf p = buf_floats(c, n, -1, 1), g = buf_floats(c, n, -1, 1), m = buf_floats(c, n, -1, 1);
    ON_BOTH(c, sgd_step, n, D(p), D(g), D(m), h);
    char name[160];
    snprintf(name, sizeof name,
             "sgd_step n=%lld lr %g momentum %g dampening %g wd %g nesterov %d first %d",
             (long long)n, h->lr, h->momentum, h->dampening, h->weight_decay, h->nesterov,
             h->first_step);
    buf_check(c, name, &p, TOL_OPTIM);
    if (h->momentum != 0) buf_check(c, "  its momentum buffer", &m, TOL_OPTIM);
    buf_free(c, &p);
    buf_free(c, &g);
    buf_free(c, &m);
}

static void check_adam(check_ctx *c, int64_t n, const lt_adam_hyper *h) {
    buf p = buf_floats(c, n, -1, 1), g = buf_floats(c, n, -1, 1);
    buf m = buf_floats(c, n, -0.1f, 0.1f), v = buf_floats(c, n, 0, 0.01f);
    ON_BOTH(c, adam_step, n, D(p), D(g), D(m), D(v), h);
    char name[160];
    snprintf(name, sizeof name, "adam_step n=%lld %s lr %g betas (%g, %g) wd %g step %lld",
             (long long)n, h->decoupled ? "AdamW" : "Adam", h->lr, h->beta1, h->beta2,
             h->weight_decay, (long long)h->step);
    buf_check(c, name, &p, TOL_OPTIM);
    buf_check(c, "  its first moment", &m, TOL_OPTIM);
    buf_check(c, "  its second moment", &v, TOL_OPTIM);
    buf_free(c, &p);
    buf_free(c, &g);
    buf_free(c, &m);
    buf_free(c, &v);
}

/* Every SGD variant: weight decay, momentum (first step or later), nesterov. */
static void check_sgd_variants(check_ctx *c, int64_t n) {
    for (int v = 0; v < 16; v++) {
        const double momentum = v & 2 ? 0.9 : 0;
        if ((v & 8) && momentum == 0) continue; /* nesterov needs momentum */
        const lt_sgd_hyper h = {.lr = 0.05,
                                .momentum = momentum,
                                .dampening = (v & 8) ? 0 : 0.1,
                                .weight_decay = v & 1 ? 1e-2 : 0,
                                .nesterov = (v & 8) != 0,
                                .first_step = (v & 4) != 0};
        check_sgd(c, n, &h);
    }
}

/* Every Adam variant: decoupled or not, weight decay, beta1 on both sides of torch.lerp's
 * switch (|1 - beta1| < 0.5), first and a later step. */
static void check_adam_variants(check_ctx *c, int64_t n) {
    for (int v = 0; v < 16; v++) {
        const lt_adam_hyper h = {.lr = 1e-3,
                                 .beta1 = v & 4 ? 0.3 : 0.9,
                                 .beta2 = 0.999,
                                 .eps = 1e-8,
                                 .weight_decay = v & 2 ? 1e-2 : 0,
                                 .decoupled = v & 1,
                                 .step = v & 8 ? 10 : 1};
        check_adam(c, n, &h);
    }
}

void check_optim(check_ctx *c) {
    static const int64_t sizes[] = {1, 1000, (1 << 20) + 5};
    for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) {
        check_sgd_variants(c, sizes[s]);
        check_adam_variants(c, sizes[s]);
    }
}

/* ---- GEMM -------------------------------------------------------------------------------- */

typedef struct gemm_case {
    int ta, tb;
    int64_t m, n, k, pad; /* pad: extra elements per row of A, B and C */
    float alpha, beta;
    int nan_c; /* C starts as NaN (beta must be 0: BLAS then overwrites) */
} gemm_case;

/* Host A (rows ra, ld la) element (i, p) of op(A). */
static double op_at(const float *x, int64_t ld, int trans, int64_t i, int64_t p) {
    return trans ? x[p * ld + i] : x[i * ld + p];
}

/* The first C element whose error exceeds tol * its magnitude, or -1; *worst gets the
 * largest error / magnitude seen. */
static int64_t gemm_compare(const gemm_case *g, const float *a, int64_t lda, const float *b,
                            int64_t ldb, const float *c0, int64_t ldc, const float *want,
                            const float *got, double tol, double *worst) {
    *worst = 0;
    for (int64_t i = 0; i < g->m; i++) {
        for (int64_t j = 0; j < g->n; j++) {
            double mag = g->beta == 0 ? 0 : fabs((double)g->beta * c0[i * ldc + j]);
            for (int64_t p = 0; p < g->k; p++)
                mag += fabs(g->alpha * op_at(a, lda, g->ta, i, p) * op_at(b, ldb, g->tb, p, j));
            const double w = want[i * ldc + j], d = fabs(got[i * ldc + j] - w);
            if (!(d <= tol * mag)) return i * ldc + j; /* NaN fails too */
            if (mag > 0 && d / mag > *worst) *worst = d / mag;
        }
    }
    return -1;
}

static void check_gemm_case(check_ctx *c, const gemm_case *g, const char *setting, double tol) {
    const int64_t ra = g->ta ? g->k : g->m, ca = g->ta ? g->m : g->k;
    const int64_t rb = g->tb ? g->n : g->k, cb = g->tb ? g->k : g->n;
    const int64_t lda = ca + g->pad, ldb = cb + g->pad, ldc = g->n + g->pad;
    buf a = buf_floats(c, ra * lda, -1, 1), b = buf_floats(c, rb * ldb, -1, 1);
    buf cm = buf_floats(c, g->m * ldc, -1, 1);
    if (g->nan_c) {
        for (int64_t i = 0; i < cm.n; i++) HF(cm)[i] = NAN;
        buf_sync_in(c, &cm);
    }
    ON_BOTH(c, gemm, g->ta, g->tb, g->m, g->n, g->k, g->alpha, D(a), lda, D(b), ldb, g->beta, D(cm),
            ldc);
    float *want = buf_download(c, &cm, REF), *got = buf_download(c, &cm, DUT);
    double worst;
    const int64_t bad =
        gemm_compare(g, HF(a), lda, HF(b), ldb, HF(cm), ldc, want, got, tol, &worst);
    report(c, bad < 0 && c->acc[DUT].k->sync(c->acc[DUT].st) == LT_OK,
           "gemm %s ta %d tb %d (%lld x %lld x %lld) pad %lld alpha %g beta %g%s: worst error "
           "%.3g of the magnitude (tolerance %g)%s",
           setting, g->ta, g->tb, (long long)g->m, (long long)g->n, (long long)g->k,
           (long long)g->pad, g->alpha, g->beta, g->nan_c ? " over NaN" : "", worst, tol,
           bad < 0 ? "" : ", first bad element beyond it");
    free(want);
    free(got);
    buf_free(c, &a);
    buf_free(c, &b);
    buf_free(c, &cm);
}

static void check_gemm_setting(check_ctx *c, const char *setting, double tol) {
    static const int64_t shapes[][3] = {{1, 1, 1}, {17, 33, 65}, {64, 10, 128}, {300, 257, 129}};
    for (int t = 0; t < 4; t++)
        for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++) {
            const gemm_case g = {t & 1, t >> 1, shapes[s][0], shapes[s][1], shapes[s][2], 0, 1,
                                 0,     0};
            check_gemm_case(c, &g, setting, tol);
        }
    static const gemm_case more[] = {
        {0, 0, 128, 96, 200, 3, 0.5f, 0.75f, 0}, /* padded, accumulating */
        {1, 1, 45, 77, 31, 5, -1.0f, 1.0f, 0},   /* both transposed, padded */
        {0, 1, 20, 30, 40, 0, 1.0f, 0.0f, 1},    /* beta 0 overwrites NaN */
        {0, 0, 9, 11, 0, 0, 1.0f, 0.5f, 0},      /* k = 0: C = beta C */
        {1, 0, 9, 11, 0, 2, 1.0f, 0.0f, 1},      /* k = 0, beta 0 over NaN */
        {0, 0, 512, 384, 640, 0, 1.0f, 0.0f, 0}, /* larger */
    };
    for (size_t s = 0; s < sizeof more / sizeof *more; s++)
        check_gemm_case(c, &more[s], setting, tol);
}

/* ---- GEMM with a bias epilogue (gemm_bias) ------------------------------------------ */

/* A declined gemm_bias must leave C's 0x7f bytes alone; on cuda it must not decline the
 * linear layer's call (ta 0, tb 1), which cuBLASLt takes in every type torch's addmm uses
 * it for (not proven for medium's bf16-inside compute: a decline there is a skip). */
static void judge_decline(check_ctx *c, const gemm_case *g, const char *setting, const char *name,
                          const float *got, int64_t n) {
    const unsigned char *bytes = (const unsigned char *)got;
    int untouched = 1;
    for (int64_t i = 0; i < n * 4; i++) untouched &= bytes[i] == 0x7f;
    if (!untouched)
        report(c, 0, "%s: declined after writing C", name);
    else if (!strcmp(c->dut_name, "cuda") && !g->ta && g->tb && !strstr(setting, "medium"))
        report(c, 0, "%s: declined the linear layer's call", name);
    else
        printf("skip: %s: declined (liblt runs gemm and add)\n", name);
}

/* The first C element off want by more than tol (sum |a b| + |bias|), or -1; *worst the
 * largest error / magnitude. */
static int64_t bias_compare(const gemm_case *g, const float *a, int64_t lda, const float *b,
                            int64_t ldb, const float *bias, const float *want, const float *got,
                            int64_t ldc, double tol, double *worst) {
    *worst = 0;
    for (int64_t i = 0; i < g->m; i++)
        for (int64_t j = 0; j < g->n; j++) {
            double mag = fabs(bias[j]);
            for (int64_t p = 0; p < g->k; p++)
                mag += fabs(op_at(a, lda, g->ta, i, p) * op_at(b, ldb, g->tb, p, j));
            const double d = fabs((double)got[i * ldc + j] - want[i * ldc + j]);
            if (!(d <= tol * mag)) return i * ldc + j; /* NaN fails too */
            if (mag > 0 && d / mag > *worst) *worst = d / mag;
        }
    return -1;
}

/* gemm_bias on the accelerator under test against the reference's gemm, the bias then
 * added on the host in float (as binary's add). */
static void check_gemm_bias_case(check_ctx *c, const gemm_case *g, const char *setting,
                                 double tol) {
    const int64_t ra = g->ta ? g->k : g->m, ca = g->ta ? g->m : g->k;
    const int64_t rb = g->tb ? g->n : g->k, cb = g->tb ? g->k : g->n;
    const int64_t lda = ca + g->pad, ldb = cb + g->pad, ldc = g->n + g->pad;
    buf a = buf_floats(c, ra * lda, -1, 1), b = buf_floats(c, rb * ldb, -1, 1);
    buf bias = buf_floats(c, g->n, -1, 1), cm = buf_out(c, g->m * ldc, 4);
    const accel *ref = &c->acc[REF], *dut = &c->acc[DUT];
    ref->k->gemm(ref->st, g->ta, g->tb, g->m, g->n, g->k, 1.0f, a.d[REF], lda, b.d[REF], ldb, 0.0f,
                 cm.d[REF], ldc);
    const int rc = dut->k->gemm_bias(dut->st, g->ta, g->tb, g->m, g->n, g->k, a.d[DUT], lda,
                                     b.d[DUT], ldb, bias.d[DUT], cm.d[DUT], ldc);
    float *want = buf_download(c, &cm, REF), *got = buf_download(c, &cm, DUT);
    for (int64_t i = 0; i < g->m; i++)
        for (int64_t j = 0; j < g->n; j++) want[i * ldc + j] += HF(bias)[j];
    char name[160];
    snprintf(name, sizeof name, "gemm_bias %s ta %d tb %d (%lld x %lld x %lld) pad %lld", setting,
             g->ta, g->tb, (long long)g->m, (long long)g->n, (long long)g->k, (long long)g->pad);
    if (rc != 0) {
        judge_decline(c, g, setting, name, got, cm.n);
    } else {
        double worst;
        const int64_t bad =
            bias_compare(g, HF(a), lda, HF(b), ldb, HF(bias), want, got, ldc, tol, &worst);
        report(c, bad < 0 && dut->k->sync(dut->st) == LT_OK,
               "%s: worst error %.3g of the magnitude (tolerance %g)%s", name, worst, tol,
               bad < 0 ? "" : ", first bad element beyond it");
    }
    free(want);
    free(got);
    buf *all[] = {&a, &b, &bias, &cm};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) buf_free(c, all[i]);
}

static void check_gemm_bias_setting(check_ctx *c, const char *setting, double tol) {
    static const gemm_case cases[] = {
        {0, 1, 64, 10, 128, 0, 1, 0, 0}, /* a linear layer: x (64, 128) W^T (128, 10) */
        {0, 1, 1, 1, 1, 0, 1, 0, 0},       {0, 1, 17, 33, 65, 0, 1, 0, 0},
        {0, 1, 300, 257, 129, 3, 1, 0, 0}, /* padded rows */
        {0, 1, 512, 384, 640, 0, 1, 0, 0}, {0, 0, 45, 77, 31, 0, 1, 0, 0},
        {1, 0, 45, 77, 31, 2, 1, 0, 0},    {1, 1, 20, 30, 40, 0, 1, 0, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        check_gemm_bias_case(c, &cases[i], setting, tol);
}

/* ---- a strided batch of GEMMs (gemm_batched) ------------------------------------------ */

/* The batch's results against the reference's (want) per matrix: the first bad matrix,
 * or -1; *worst the largest error / magnitude. */
static int64_t batched_compare(const gemm_case *g, int64_t batch, const buf *a, int64_t lda,
                               int64_t sa, const buf *b, int64_t ldb, int64_t sb, const buf *cm,
                               int64_t ldc, const float *want, const float *got, double tol,
                               double *worst) {
    *worst = 0;
    for (int64_t i = 0; i < batch; i++) {
        const int64_t sc = g->m * ldc;
        double w;
        if (gemm_compare(g, HF(*a) + i * sa, lda, HF(*b) + i * sb, ldb, HF(*cm) + i * sc, ldc,
                         want + i * sc, got + i * sc, tol, &w) >= 0)
            return i;
        *worst = w > *worst ? w : *worst;
    }
    return -1;
}

/* gemm_batched on the accelerator under test against the reference's gemm per matrix:
 * `batch` products of g, A (shared 1) or B (shared 2) read by every product (stride 0). */
static void check_gemm_batched_case(check_ctx *c, const gemm_case *g, int64_t batch, int shared,
                                    const char *setting, double tol) {
    const int64_t ra = g->ta ? g->k : g->m, ca = g->ta ? g->m : g->k;
    const int64_t rb = g->tb ? g->n : g->k, cb = g->tb ? g->k : g->n;
    const int64_t lda = ca + g->pad, ldb = cb + g->pad, ldc = g->n + g->pad;
    const int64_t sa = shared == 1 ? 0 : ra * lda, sb = shared == 2 ? 0 : rb * ldb;
    const int64_t sc = g->m * ldc;
    buf a = buf_floats(c, shared == 1 ? ra * lda : batch * sa, -1, 1);
    buf b = buf_floats(c, shared == 2 ? rb * ldb : batch * sb, -1, 1);
    buf cm = buf_floats(c, batch * sc, -1, 1);
    const accel *ref = &c->acc[REF], *dut = &c->acc[DUT];
    for (int64_t i = 0; i < batch; i++)
        ref->k->gemm(ref->st, g->ta, g->tb, g->m, g->n, g->k, g->alpha, (float *)a.d[REF] + i * sa,
                     lda, (float *)b.d[REF] + i * sb, ldb, g->beta, (float *)cm.d[REF] + i * sc,
                     ldc);
    const int rc =
        dut->k->gemm_batched(dut->st, g->ta, g->tb, g->m, g->n, g->k, g->alpha, a.d[DUT], lda, sa,
                             b.d[DUT], ldb, sb, g->beta, cm.d[DUT], ldc, sc, batch);
    float *want = buf_download(c, &cm, REF), *got = buf_download(c, &cm, DUT);
    char name[160];
    snprintf(name, sizeof name,
             "gemm_batched %s ta %d tb %d (%lld x %lld x %lld) x %lld pad %lld shared %d", setting,
             g->ta, g->tb, (long long)g->m, (long long)g->n, (long long)g->k, (long long)batch,
             (long long)g->pad, shared);
    if (rc != 0) { /* cuda takes every batch here (contiguous or shared inputs) */
        if (memcmp(got, HF(cm), (size_t)cm.n * sizeof *got))
            report(c, 0, "%s: declined after writing C", name);
        else if (!strcmp(c->dut_name, "cuda"))
            report(c, 0, "%s: declined", name);
        else
            printf("skip: %s: declined (liblt loops gemm)\n", name);
    } else {
        double worst;
        const int64_t bad =
            batched_compare(g, batch, &a, lda, sa, &b, ldb, sb, &cm, ldc, want, got, tol, &worst);
        report(c, bad < 0 && dut->k->sync(dut->st) == LT_OK,
               "%s: worst error %.3g of the magnitude (tolerance %g)%s", name, worst, tol,
               bad < 0 ? "" : ", a matrix with an element beyond it");
    }
    free(want);
    free(got);
    buf *all[] = {&a, &b, &cm};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) buf_free(c, all[i]);
}

static void check_gemm_batched_setting(check_ctx *c, const char *setting, double tol) {
    static const struct {
        gemm_case g;
        int64_t batch;
        int shared;
    } cases[] = {
        {{0, 1, 128, 128, 32, 0, 1, 0, 0}, 8, 0},       /* attention's q k^T */
        {{0, 0, 128, 32, 128, 0, 1, 0, 0}, 8, 0},       /* its weights times v */
        {{1, 0, 17, 33, 65, 3, 0.5f, 1.0f, 0}, 5, 2},   /* B shared, padded, accumulating */
        {{1, 1, 45, 77, 31, 2, -1.0f, 0.25f, 0}, 3, 1}, /* A shared, both transposed */
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        check_gemm_batched_case(c, &cases[i].g, cases[i].batch, cases[i].shared, setting, tol);
}

void check_gemm(check_ctx *c) {
    static const precision_setting settings[] = {
        {"32-true/highest", LT_PRECISION_32_TRUE, LT_MATMUL_HIGHEST, TOL_GEMM_F32},
        {"32-true/high", LT_PRECISION_32_TRUE, LT_MATMUL_HIGH, TOL_GEMM_TF32},
        {"32-true/medium", LT_PRECISION_32_TRUE, LT_MATMUL_MEDIUM, TOL_GEMM_BF16X},
        {"16-mixed", LT_PRECISION_16_MIXED, LT_MATMUL_HIGHEST, TOL_GEMM_FP16},
        {"bf16-mixed", LT_PRECISION_BF16_MIXED, LT_MATMUL_HIGHEST, TOL_GEMM_BF16},
        {"bf16-true", LT_PRECISION_BF16_TRUE, LT_MATMUL_HIGHEST, TOL_GEMM_BF16},
    };
    for_each_precision(c, "gemm", settings, sizeof settings / sizeof *settings, check_gemm_setting);
    if (c->acc[DUT].k->gemm_batched)
        for_each_precision(c, "gemm_batched", settings, sizeof settings / sizeof *settings,
                           check_gemm_batched_setting);
    else
        printf("skip: gemm_batched: %s leaves it NULL (liblt loops gemm)\n", c->dut_name);
    if (!c->acc[DUT].k->gemm_bias) {
        printf("skip: gemm_bias: %s leaves it NULL (liblt runs gemm and add)\n", c->dut_name);
        return;
    }
    for_each_precision(c, "gemm_bias", settings, sizeof settings / sizeof *settings,
                       check_gemm_bias_setting);
}
