/* ops_layers.c — the layer slots: im2col / col2im, pool2d and its backward in every mode,
 * dropout_mask, batch_norm and its backward, and describe. Geometries cover stride,
 * padding, dilation, stride larger than the kernel (inputs no window reads), asymmetric
 * "same" padding of an even kernel, windows wholly in the padding, 1x1 kernels, the many
 * channels of a grouped or depthwise convolution (grouping itself is the GEMM's, in
 * liblt), and sizes larger than one launch's grid covers. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lt/rng.h>

#include "ops_check.h"

/* n c h w, kh kw, sh sw, ph pw, dh dw; oh, ow follow (torch's formula) unless given. */
typedef struct geom_case {
    int64_t v[12];
    int64_t oh, ow; /* 0: computed */
    const char *what;
} geom_case;

static const geom_case geoms[] = {
    {{2, 3, 7, 9, 3, 3, 1, 1, 1, 1, 1, 1}, 0, 0, "3x3 same"},
    {{1, 4, 8, 8, 2, 2, 2, 2, 0, 0, 1, 1}, 0, 0, "2x2 stride 2"},
    {{3, 5, 11, 13, 3, 5, 2, 3, 1, 2, 2, 1}, 0, 0, "strides, pads, dilation mixed"},
    {{2, 2, 5, 5, 1, 1, 1, 1, 0, 0, 1, 1}, 0, 0, "1x1"},
    {{1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 1, 1}, 0, 0, "one pixel"},
    {{2, 6, 9, 7, 4, 4, 1, 1, 1, 1, 1, 1}, 9, 7, "4x4 same, asymmetric padding"},
    {{1, 2, 10, 10, 2, 2, 3, 3, 0, 0, 1, 1}, 0, 0, "stride over kernel: unread inputs"},
    {{2, 3, 6, 6, 3, 3, 2, 2, 1, 1, 3, 3}, 0, 0, "dilation 3, stride 2"},
    {{2, 32, 9, 9, 3, 3, 1, 1, 1, 1, 1, 1}, 0, 0, "32 channels (grouped/depthwise conv)"},
    {{4, 32, 56, 56, 3, 3, 1, 1, 1, 1, 1, 1}, 0, 0, "large: more than one grid"},
};

static lt_window2d geom_of(const geom_case *gc) {
    const int64_t *v = gc->v;
    lt_window2d g = {.n = v[0],
                     .c = v[1],
                     .h = v[2],
                     .w = v[3],
                     .kh = v[4],
                     .kw = v[5],
                     .sh = v[6],
                     .sw = v[7],
                     .ph = v[8],
                     .pw = v[9],
                     .dh = v[10],
                     .dw = v[11]};
    g.oh = gc->oh ? gc->oh : (g.h + 2 * g.ph - g.dh * (g.kh - 1) - 1) / g.sh + 1;
    g.ow = gc->ow ? gc->ow : (g.w + 2 * g.pw - g.dw * (g.kw - 1) - 1) / g.sw + 1;
    return g;
}

static void name_geom(char *name, size_t size, const char *slot, const lt_window2d *g,
                      const char *what) {
    snprintf(name, size,
             "%s %s (n %lld c %lld %lldx%lld, k %lldx%lld s %lld,%lld p %lld,%lld d %lld,%lld "
             "-> %lldx%lld)",
             slot, what, (long long)g->n, (long long)g->c, (long long)g->h, (long long)g->w,
             (long long)g->kh, (long long)g->kw, (long long)g->sh, (long long)g->sw,
             (long long)g->ph, (long long)g->pw, (long long)g->dh, (long long)g->dw,
             (long long)g->oh, (long long)g->ow);
}

/* ---- im2col / col2im ------------------------------------------------------------------- */

static void check_im2col_case(check_ctx *c, const lt_window2d *g, const char *what) {
    const int64_t nx = g->n * g->c * g->h * g->w;
    const int64_t ncol = g->c * g->kh * g->kw * g->n * g->oh * g->ow;
    char name[256];
    buf x = buf_floats(c, nx, -1, 1), col = buf_out(c, ncol, sizeof(float));
    ON_BOTH(c, im2col, g, D(x), D(col));
    name_geom(name, sizeof name, "im2col", g, what);
    buf_check(c, name, &col, TOL_EXACT);
    buf dcol = buf_floats(c, ncol, -1, 1), dx = buf_out(c, nx, sizeof(float));
    ON_BOTH(c, col2im, g, D(dcol), D(dx));
    name_geom(name, sizeof name, "col2im", g, what);
    buf_check(c, name, &dx, TOL_F32);
    buf_free(c, &x);
    buf_free(c, &col);
    buf_free(c, &dcol);
    buf_free(c, &dx);
}

/* ---- pooling --------------------------------------------------------------------------- */

static const char *const pool_names[] = {"max", "avg", "avg (count_include_pad=False)",
                                         "adaptive avg"};

/* pool2d and pool2d_bwd in one mode. Max pooling gets small integers (ties: the first
 * maximum wins) and a few NaN (NaN wins); its indices must match exactly. */
static void check_pool_case(check_ctx *c, lt_pool_mode mode, const lt_window2d *g,
                            const char *what) {
    const int64_t nx = g->n * g->c * g->h * g->w, ny = g->n * g->c * g->oh * g->ow;
    char name[256], slot[64];
    buf x = buf_floats(c, nx, -4, 4);
    if (mode == LT_POOL_MAX) {
        for (int64_t i = 0; i < nx; i++) HF(x)[i] = floorf(HF(x)[i]);
        for (int64_t i = 0; i < nx; i += 97) HF(x)[i] = NAN;
        buf_sync_in(c, &x);
    }
    buf y = buf_out(c, ny, sizeof(float));
    buf idx = buf_out(c, mode == LT_POOL_MAX ? ny : 1, sizeof(int64_t));
    ON_BOTH(c, pool2d, mode, g, D(x), D(y), mode == LT_POOL_MAX ? D(idx) : NULL);
    snprintf(slot, sizeof slot, "pool2d %s", pool_names[mode]);
    name_geom(name, sizeof name, slot, g, what);
    if (mode == LT_POOL_MAX)
        buf_check(c, name, &y, TOL_EXACT);
    else
        buf_check(c, name, &y, TOL_F32);
    if (mode == LT_POOL_MAX) {
        snprintf(slot, sizeof slot, "pool2d max indices");
        name_geom(name, sizeof name, slot, g, what);
        buf_check(c, name, &idx, TOL_EXACT);
    }
    buf dy = buf_floats(c, ny, -1, 1), dx = buf_out(c, nx, sizeof(float));
    ON_BOTH(c, pool2d_bwd, mode, g, D(dy), mode == LT_POOL_MAX ? D(idx) : NULL, D(dx));
    snprintf(slot, sizeof slot, "pool2d_bwd %s", pool_names[mode]);
    name_geom(name, sizeof name, slot, g, what);
    buf_check(c, name, &dx, TOL_F32);
    buf_free(c, &x);
    buf_free(c, &y);
    buf_free(c, &idx);
    buf_free(c, &dy);
    buf_free(c, &dx);
}

/* Torch's pooling takes padding up to half the kernel and no dilation for the averages;
 * adaptive pooling has only an output size (smaller, equal or larger than the input). */
static void check_pools(check_ctx *c, const lt_window2d *g, const char *what) {
    if (g->ph * 2 <= g->kh && g->pw * 2 <= g->kw) {
        check_pool_case(c, LT_POOL_MAX, g, what);
        if (g->dh == 1 && g->dw == 1) {
            check_pool_case(c, LT_POOL_AVG, g, what);
            check_pool_case(c, LT_POOL_AVG_NOPAD, g, what);
        }
    }
    static const int64_t adaptive[][2] = {{1, 1}, {3, 2}, {7, 9}};
    for (size_t a = 0; a < sizeof adaptive / sizeof *adaptive; a++) {
        lt_window2d ag = *g;
        ag.oh = adaptive[a][0];
        ag.ow = adaptive[a][1];
        check_pool_case(c, LT_POOL_ADAPTIVE_AVG, &ag, what);
    }
}

/* ---- dropout ----------------------------------------------------------------------------- */

/* The contract itself, not only the cpu: mask i is from the i-th lt_rng_uniform of
 * lt_rng_make(seed, stream). Returns the first element that differs, or -1. */
static int64_t dropout_vs_rng(check_ctx *c, const buf *m, double p, uint64_t seed,
                              uint64_t stream) {
    float *got = buf_download(c, m, DUT);
    lt_rng_t r = lt_rng_make(seed, stream);
    const float keep = (float)(1.0 - p), scale = keep > 0.0f ? 1.0f / keep : 0.0f;
    int64_t bad = -1;
    for (int64_t i = 0; i < m->n && bad < 0; i++)
        if (got[i] != (lt_rng_uniform(&r) < keep ? scale : 0.0f)) bad = i;
    free(got);
    return bad;
}

static void check_dropout(check_ctx *c) {
    static const struct {
        int64_t n;
        double p;
        uint64_t seed, stream;
    } cases[] = {
        {1, 0.5, 0, 0},
        {3, 0.1, 42, 1},
        {4, 0.5, 0xFFFFFFFFull, 0xFFFFFFFFull},
        {5, 0.0, 7, 3},
        {1000003, 0.5, 0x123456789ABCDEFull, 0xFEDCBA9876543210ull},
        {3000017, 0.25, 1234, 5}, /* more than one grid of threads */
        {1001, 0.999, 99, 0x100000000ull},
        {1001, 1.0, 99, 2},
    };
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        buf m = buf_out(c, cases[k].n, sizeof(float));
        ON_BOTH(c, dropout_mask, cases[k].n, cases[k].p, cases[k].seed, cases[k].stream, D(m));
        char name[160];
        snprintf(name, sizeof name, "dropout_mask n %lld p %g seed %#llx stream %#llx",
                 (long long)cases[k].n, cases[k].p, (unsigned long long)cases[k].seed,
                 (unsigned long long)cases[k].stream);
        buf_check(c, name, &m, TOL_EXACT);
        const int64_t bad = dropout_vs_rng(c, &m, cases[k].p, cases[k].seed, cases[k].stream);
        report(c, bad < 0, "  %s's mask is lt_rng_uniform's stream (first difference: %lld)",
               c->dut_name, (long long)bad);
        buf_free(c, &m);
    }
}

/* ---- batch norm --------------------------------------------------------------------------- */

/* The device under test's forward twice: the statistics must not change from run to run. */
static int bn_same_twice(check_ctx *c, int64_t n, int64_t ch, int64_t l, const buf *x, const buf *y,
                         const buf *mean, const buf *var) {
    accel *a = &c->acc[DUT];
    float *first = buf_download(c, var, DUT);
    a->k->batch_norm(a->st, n, ch, l, x->d[DUT], NULL, NULL, 1e-5, y->d[DUT], mean->d[DUT],
                     var->d[DUT]);
    float *again = buf_download(c, var, DUT);
    const int same = memcmp(first, again, (size_t)var->n * sizeof(float)) == 0;
    free(first);
    free(again);
    return same;
}

static void check_bn_case(check_ctx *c, int64_t n, int64_t ch, int64_t l, int affine) {
    const int64_t total = n * ch * l;
    char name[160];
    buf x = buf_floats(c, total, -3, 5), w = buf_floats(c, ch, 0.5f, 2),
        b = buf_floats(c, ch, -1, 1);
    buf y = buf_out(c, total, sizeof(float)), mean = buf_out(c, ch, sizeof(float));
    buf var = buf_out(c, ch, sizeof(float));
    const double eps = 1e-5;
    ON_BOTH(c, batch_norm, n, ch, l, D(x), affine ? D(w) : NULL, affine ? D(b) : NULL, eps, D(y),
            D(mean), D(var));
    snprintf(name, sizeof name, "batch_norm (%lld, %lld, %lld)%s", (long long)n, (long long)ch,
             (long long)l, affine ? " affine" : "");
    buf_check(c, name, &y, TOL_F32);
    buf_check(c, "  its mean", &mean, TOL_F32);
    if (buf_check(c, "  its variance", &var, TOL_F32))
        report(c, bn_same_twice(c, n, ch, l, &x, &y, &mean, &var), "  the same bits run again");
    buf dy = buf_floats(c, total, -1, 1), dx = buf_out(c, total, sizeof(float));
    buf dw = buf_out(c, ch, sizeof(float)), db = buf_out(c, ch, sizeof(float));
    ON_BOTH(c, batch_norm_bwd, n, ch, l, D(x), D(dy), D(mean), D(var), affine ? D(w) : NULL, eps,
            D(dx), D(dw), D(db));
    snprintf(name, sizeof name, "batch_norm_bwd (%lld, %lld, %lld)%s", (long long)n, (long long)ch,
             (long long)l, affine ? " affine" : "");
    buf_check(c, name, &dx, TOL_F32);
    buf_check(c, "  its weight grad", &dw, TOL_F32);
    buf_check(c, "  its bias grad", &db, TOL_F32);
    /* Outputs are optional: dx alone, then the parameter grads alone. */
    ON_BOTH(c, batch_norm_bwd, n, ch, l, D(x), D(dy), D(mean), D(var), affine ? D(w) : NULL, eps,
            D(y), NULL, NULL);
    buf_check(c, "  dx alone", &y, TOL_F32);
    buf dw2 = buf_out(c, ch, sizeof(float)), db2 = buf_out(c, ch, sizeof(float));
    ON_BOTH(c, batch_norm_bwd, n, ch, l, D(x), D(dy), D(mean), D(var), affine ? D(w) : NULL, eps,
            NULL, D(dw2), D(db2));
    buf_check(c, "  weight grad alone", &dw2, TOL_F32);
    buf_check(c, "  bias grad alone", &db2, TOL_F32);
    buf bufs[] = {x, w, b, y, mean, var, dy, dx, dw, db, dw2, db2};
    for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++) buf_free(c, &bufs[i]);
}

static void check_batch_norm(check_ctx *c) {
    static const int64_t shapes[][3] = {
        {2, 3, 5},      {1, 1, 1},    {64, 16, 1},   {8, 32, 784}, /* 1d, 2d */
        {3, 1, 100003}, {1000, 2, 1}, {5, 70000, 2},               /* one long channel; many */
    };
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++)
        check_bn_case(c, shapes[s][0], shapes[s][1], shapes[s][2], (int)(s % 2));
}

/* ---- describe, and all of it ------------------------------------------------------------- */

static void check_describe(check_ctx *c) {
    const accel *a = &c->acc[DUT];
    const char *line = a->k->describe ? a->k->describe(a->st) : NULL;
    const int cuda = !strcmp(c->dut_name, "cuda");
    report(c,
           line && *line && !strchr(line, '\n') &&
               (!cuda || (!strncmp(line, "CUDA ", 5) && strstr(line, ", cuBLAS "))),
           "describe: %s", line ? line : "(NULL)");
}

void check_layers(check_ctx *c) {
    const lt_accelerator_desc *k = c->acc[DUT].k;
    if (!k->im2col || !k->col2im || !k->pool2d || !k->pool2d_bwd || !k->dropout_mask ||
        !k->batch_norm || !k->batch_norm_bwd) {
        report(c, 0, "layer slots: %s leaves some of im2col ... batch_norm_bwd NULL", c->dut_name);
        return;
    }
    for (size_t s = 0; s < sizeof geoms / sizeof *geoms; s++) {
        const lt_window2d g = geom_of(&geoms[s]);
        check_im2col_case(c, &g, geoms[s].what);
        check_pools(c, &g, geoms[s].what);
    }
    check_dropout(c);
    check_batch_norm(c);
    check_describe(c);
}
