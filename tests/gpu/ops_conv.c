/* ops_conv.c — the direct convolution slots (conv2d, conv2d_bwd_data,
 * conv2d_bwd_weights: cuDNN on cuda, oneDNN on cpu where it takes the direction) on both
 * accelerators, each against a direct convolution in double on the host, at fixed and
 * random geometries (groups, depthwise, stride, padding, dilation, 1x1, a larger layer)
 * and in every precision. A slot that declines is a FAIL on cuda when cuDNN is open
 * (describe names it) and a skip line otherwise: liblt runs im2col then, which the
 * unit tests' parity fixtures check. Also: the same call twice gives the same bits (the
 * deterministic algorithms), and a shape cuDNN cannot express (asymmetric padding)
 * declines. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conv_ref.h"
#include "ops_check.h"

/* |got - want| <= tol * (sum |terms| + |bias|), by precision. Half precisions also
 * round the result to fp16/bf16 (2^-11, 2^-8 of it) before widening. */
#define TOL_CONV_F32 1e-5
#define TOL_CONV_TF32 TOL_GEMM_TF32
#define TOL_CONV_FP16 (TOL_GEMM_FP16 + 1e-3)
#define TOL_CONV_BF16 (TOL_GEMM_BF16 + 8e-3)

/* ---- one geometry on one accelerator -------------------------------------------------- */

typedef struct conv_bufs {
    buf x, w, b, dy, y, dx, dw, db;
} conv_bufs;

/* out on accelerator i against want within tol of the magnitude; the worst ratio. */
static int close_enough(check_ctx *c, const buf *out, int i, const double *want, const double *mag,
                        double tol, double *worst) {
    float *got = buf_download(c, out, i);
    int ok = 1;
    *worst = 0;
    for (int64_t j = 0; j < out->n; j++) {
        const double err = fabs(got[j] - want[j]) / (mag[j] + 1e-30);
        if (!(err <= tol) && !(fabs(got[j] - want[j]) <= 1e-30)) ok = 0;
        if (err > *worst || err != err) *worst = err;
    }
    free(got);
    return ok;
}

/* Which accelerators must take the slots: cuda with cuDNN open. */
static int must_take(const check_ctx *c, int i) {
    const accel *a = &c->acc[i];
    const char *line = a->k->describe ? a->k->describe(a->st) : "";
    return i == DUT && !strcmp(c->dut_name, "cuda") && strstr(line, ", cuDNN ") != NULL;
}

static void judge(check_ctx *c, int i, const char *slot, const char *name, int rc, const buf *out,
                  const double *want, const double *mag, double tol) {
    const char *who = i == DUT ? c->dut_name : "cpu";
    if (rc != 0) {
        if (must_take(c, i))
            report(c, 0, "%s %s %s: declined with cuDNN open", who, slot, name);
        else
            printf("skip: %s %s %s: declined (liblt runs im2col)\n", who, slot, name);
        return;
    }
    double worst;
    const int ok =
        close_enough(c, out, i, want, mag, tol, &worst) && c->acc[i].k->sync(c->acc[i].st) == LT_OK;
    report(c, ok, "%s %s %s: worst error %.3g of the magnitude (tolerance %g)", who, slot, name,
           worst, tol);
}

static int has_conv_slots(const lt_accelerator_desc *d) {
    return d->conv2d && d->conv2d_bwd_data && d->conv2d_bwd_weights;
}

/* The three slots on accelerator i; each result judged against the reference. */
static void run_on(check_ctx *c, int i, const conv_geom *k, conv_bufs *b, const conv_ref *r,
                   const char *name, double tol) {
    const lt_accelerator_desc *d = c->acc[i].k;
    void *st = c->acc[i].st;
    const lt_window2d *g = &k->g;
    if (!has_conv_slots(d)) return; /* a cpu built without oneDNN: check_conv said so */
    int rc = d->conv2d(st, g, k->groups, k->o, b->x.d[i], b->w.d[i], b->b.d[i], b->y.d[i]);
    judge(c, i, "conv2d+bias", name, rc, &b->y, r->y, r->my, tol);
    rc = d->conv2d_bwd_data(st, g, k->groups, k->o, b->dy.d[i], b->w.d[i], b->dx.d[i]);
    judge(c, i, "conv2d_bwd_data", name, rc, &b->dx, r->dx, r->mdx, tol);
    rc = d->conv2d_bwd_weights(st, g, k->groups, k->o, b->x.d[i], b->dy.d[i], b->dw.d[i],
                               b->db.d[i]);
    judge(c, i, "conv2d_bwd_weights", name, rc, &b->dw, r->dw, r->mdw, tol);
    if (rc == 0) judge(c, i, "  its bias gradient", name, rc, &b->db, r->db, r->mdb, TOL_CONV_F32);
}

/* The weight gradient (atomics would show here first) twice: the same bits. */
static void same_twice(check_ctx *c, const conv_geom *k, conv_bufs *b, const char *name) {
    accel *a = &c->acc[DUT];
    if (a->k->conv2d_bwd_weights(a->st, &k->g, k->groups, k->o, b->x.d[DUT], b->dy.d[DUT],
                                 b->dw.d[DUT], NULL))
        return;
    float *first = buf_download(c, &b->dw, DUT);
    a->k->conv2d_bwd_weights(a->st, &k->g, k->groups, k->o, b->x.d[DUT], b->dy.d[DUT], b->dw.d[DUT],
                             NULL);
    float *again = buf_download(c, &b->dw, DUT);
    report(c, !memcmp(first, again, (size_t)b->dw.n * 4),
           "  %s conv2d_bwd_weights %s: the same bits run again", c->dut_name, name);
    free(first);
    free(again);
}

static void check_geom(check_ctx *c, const conv_geom *k, const char *setting, double tol) {
    const lt_window2d *g = &k->g;
    char name[200];
    snprintf(name, sizeof name,
             "%s (n %lld c %lld %lldx%lld, o %lld g %lld, k %lldx%lld s %lld,%lld p %lld,%lld d "
             "%lld,%lld)",
             setting, (long long)g->n, (long long)g->c, (long long)g->h, (long long)g->w,
             (long long)k->o, (long long)k->groups, (long long)g->kh, (long long)g->kw,
             (long long)g->sh, (long long)g->sw, (long long)g->ph, (long long)g->pw,
             (long long)g->dh, (long long)g->dw);
    conv_bufs b = {buf_floats(c, conv_nx(k), -1, 1), buf_floats(c, conv_nw(k), -1, 1),
                   buf_floats(c, k->o, -1, 1),       buf_floats(c, conv_ny(k), -1, 1),
                   buf_out(c, conv_ny(k), 4),        buf_out(c, conv_nx(k), 4),
                   buf_out(c, conv_nw(k), 4),        buf_out(c, k->o, 4)};
    conv_ref r = conv_ref_make(k, HF(b.x), HF(b.w), HF(b.b), HF(b.dy));
    for (int i = 0; i < 2; i++) run_on(c, i, k, &b, &r, name, i == REF ? TOL_CONV_F32 : tol);
    same_twice(c, k, &b, name);
    conv_ref_free(&r);
    buf *all[] = {&b.x, &b.w, &b.b, &b.dy, &b.y, &b.dx, &b.dw, &b.db};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) buf_free(c, all[i]);
}

/* ---- geometries ------------------------------------------------------------------------ */

static conv_geom geom(int64_t n, int64_t c, int64_t h, int64_t w, int64_t o, int64_t groups,
                      int64_t k, int64_t s, int64_t p, int64_t d) {
    return (conv_geom){conv_window(n, c, h, w, k, k, s, p, d), groups, o};
}

/* Random but valid: groups divide c and o, the dilated kernel fits the padded input. */
static conv_geom random_geom(check_ctx *c) {
    for (;;) {
        const int64_t groups = 1 + rnd_int(c, 4), k = 1 + rnd_int(c, 5), d = 1 + rnd_int(c, 3);
        conv_geom r = geom(1 + rnd_int(c, 4), groups * (1 + rnd_int(c, 4)), 1 + rnd_int(c, 20),
                           1 + rnd_int(c, 20), groups * (1 + rnd_int(c, 4)), groups, k,
                           1 + rnd_int(c, 3), rnd_int(c, 3), d);
        r.g.kw = 1 + rnd_int(c, 5), r.g.sw = 1 + rnd_int(c, 3), r.g.pw = rnd_int(c, 3);
        r.g.ow = (r.g.w + 2 * r.g.pw - r.g.dw * (r.g.kw - 1) - 1) / r.g.sw + 1;
        if (r.g.h + 2 * r.g.ph >= d * (k - 1) + 1 && r.g.w + 2 * r.g.pw >= d * (r.g.kw - 1) + 1)
            return r;
    }
}

static void check_setting(check_ctx *c, const char *setting, double tol) {
    const conv_geom fixed[] = {
        geom(2, 3, 7, 9, 4, 1, 3, 1, 1, 1),     geom(2, 6, 11, 13, 9, 3, 3, 2, 1, 2),
        geom(2, 8, 9, 9, 16, 8, 3, 1, 1, 1),    geom(3, 5, 6, 6, 7, 1, 1, 1, 0, 1),
        geom(1, 1, 1, 1, 1, 1, 1, 1, 0, 1),     geom(2, 4, 12, 10, 4, 2, 5, 3, 2, 1),
        geom(4, 32, 28, 28, 32, 1, 3, 1, 1, 1), geom(2, 16, 14, 14, 8, 1, 2, 2, 0, 1),
    };
    for (size_t i = 0; i < sizeof fixed / sizeof *fixed; i++)
        check_geom(c, &fixed[i], setting, tol);
    for (int i = 0; i < 12; i++) {
        const conv_geom r = random_geom(c);
        check_geom(c, &r, setting, tol);
    }
}

/* torch's "same" padding of an even kernel: cuDNN's form cannot say it; cuda declines. */
static void check_asymmetric(check_ctx *c) {
    conv_geom k = geom(2, 3, 9, 7, 2, 1, 4, 1, 1, 1);
    k.g.oh = 9, k.g.ow = 7;
    if (!must_take(c, DUT)) return;
    buf x = buf_floats(c, conv_nx(&k), -1, 1), w = buf_floats(c, conv_nw(&k), -1, 1);
    buf y = buf_out(c, conv_ny(&k), 4);
    accel *a = &c->acc[DUT];
    const int rc = a->k->conv2d(a->st, &k.g, 1, 2, x.d[DUT], w.d[DUT], NULL, y.d[DUT]);
    report(c, rc != 0 && a->k->sync(a->st) == LT_OK,
           "cuda conv2d 4x4 same (asymmetric padding) declines");
    buf_free(c, &x), buf_free(c, &w), buf_free(c, &y);
}

void check_conv(check_ctx *c) {
    static const precision_setting settings[] = {
        {"32-true/highest", LT_PRECISION_32_TRUE, LT_MATMUL_HIGHEST, TOL_CONV_F32},
        {"32-true/high", LT_PRECISION_32_TRUE, LT_MATMUL_HIGH, TOL_CONV_TF32},
        {"16-mixed", LT_PRECISION_16_MIXED, LT_MATMUL_HIGHEST, TOL_CONV_FP16},
        {"bf16-mixed", LT_PRECISION_BF16_MIXED, LT_MATMUL_HIGHEST, TOL_CONV_BF16},
    };
    if (!has_conv_slots(c->acc[DUT].k)) {
        printf("skip: conv2d slots: %s leaves them NULL (liblt runs im2col)\n", c->dut_name);
        return;
    }
    if (!has_conv_slots(c->acc[REF].k))
        printf("skip: conv2d slots on cpu: built without oneDNN; %s alone is checked\n",
               c->dut_name);
    check_asymmetric(c);
    for_each_precision(c, "conv2d", settings, sizeof settings / sizeof *settings, check_setting);
}
