/* ops_index.c — the tensor-manipulation slots (issue 19, text models): copy_strided
 * (permutes, slices, a concatenation's placement), gather and scatter_add in the
 * embedding, index_select and gather layouts (repeated indices, the padding row skipped,
 * out-of-range indices left out), and masked_fill flat and broadcast (a causal mask over
 * heads). Sizes include ones larger than one launch's grid covers. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops_check.h"

/* ---- copy_strided ------------------------------------------------------------------- */

static void contiguous(int nd, const int64_t *shape, int64_t *stride) {
    int64_t s = 1;
    for (int d = nd - 1; d >= 0; d--) stride[d] = s, s *= shape[d];
}

/* x (shape) permuted by perm into a contiguous output. */
static void check_permute(check_ctx *c, int nd, const int64_t *shape, const int *perm) {
    int64_t xs[LT_MAX_DIMS], n = 1;
    contiguous(nd, shape, xs);
    lt_strided g = {.ndim = nd};
    for (int d = 0; d < nd; d++) {
        g.shape[d] = shape[perm[d]];
        g.src_stride[d] = xs[perm[d]];
        n *= shape[d];
    }
    contiguous(nd, g.shape, g.dst_stride);
    buf x = buf_floats(c, n, -2, 2), y = buf_out(c, n, sizeof(float));
    ON_BOTH(c, copy_strided, &g, D(x), D(y));
    char name[160];
    snprintf(name, sizeof name, "copy_strided permute %d-D, %lld elements", nd, (long long)n);
    buf_check(c, name, &y, TOL_EXACT);
    buf_free(c, &x);
    buf_free(c, &y);
}

/* rows [start, start + len) of x (rows, cols) written into the middle of y (rows2, cols)
 * at row at: a slice and a concatenation's placement in one copy. */
static void check_slice(check_ctx *c, int64_t rows, int64_t cols, int64_t start, int64_t len,
                        int64_t rows2, int64_t at) {
    buf x = buf_floats(c, rows * cols, -2, 2), y = buf_floats(c, rows2 * cols, -2, 2);
    lt_strided g = {
        .ndim = 2, .shape = {len, cols}, .src_stride = {cols, 1}, .dst_stride = {cols, 1}};
    for (int i_ = 0; i_ < 2; i_++)
        c->acc[i_].k->copy_strided(c->acc[i_].st, &g, (const float *)D(x) + start * cols,
                                   (float *)D(y) + at * cols);
    char name[160];
    snprintf(name, sizeof name, "copy_strided slice %lld of (%lld, %lld) into row %lld",
             (long long)len, (long long)rows, (long long)cols, (long long)at);
    buf_check(c, name, &y, TOL_EXACT);
    buf_free(c, &x);
    buf_free(c, &y);
}

/* ---- gather / scatter_add ------------------------------------------------------------- */

static void check_gather_case(check_ctx *c, lt_gather_geom g, int64_t nidx, int64_t skip, int bad,
                              const char *what) {
    buf x = buf_floats(c, g.outer * g.n * g.inner, -2, 2);
    buf idx = buf_labels(c, nidx, g.n);
    if (bad) { /* out-of-range entries: gathered as 0, left out of the scatter */
        HI(idx)[nidx / 2] = g.n;
        HI(idx)[nidx - 1] = -1;
        buf_sync_in(c, &idx);
    }
    const int64_t nout = g.outer * g.m * g.inner;
    buf y = buf_out(c, nout, sizeof(float)), dy = buf_floats(c, nout, -1, 1);
    buf dx = buf_floats(c, g.outer * g.n * g.inner, -1, 1); /* accumulated into */
    for (int i_ = 0; i_ < 2; i_++) c->acc[i_].k->gather(c->acc[i_].st, &g, D(x), D(idx), D(y));
    ON_BOTH(c, scatter_add, &g, D(dy), D(idx), skip, D(dx));
    char name[200];
    snprintf(name, sizeof name, "gather %s (outer %lld, n %lld, m %lld, inner %lld)", what,
             (long long)g.outer, (long long)g.n, (long long)g.m, (long long)g.inner);
    buf_check(c, name, &y, TOL_EXACT);
    snprintf(name, sizeof name, "scatter_add %s (skip %lld)", what, (long long)skip);
    buf_check(c, name, &dx, TOL_EXACT); /* same order of additions on both */
    buf_free(c, &x);
    buf_free(c, &idx);
    buf_free(c, &y);
    buf_free(c, &dy);
    buf_free(c, &dx);
}

static void check_gathers(check_ctx *c) {
    /* embedding: (V, D) rows by a (B*T) index, many repeats */
    check_gather_case(c, (lt_gather_geom){1, 65, 4096, 128, {0, 1, 0}}, 4096, -1, 0, "embedding");
    check_gather_case(c, (lt_gather_geom){1, 7, 300, 5, {0, 1, 0}}, 300, 3, 1,
                      "embedding, padding row, bad indices");
    /* index_select along a middle dimension */
    check_gather_case(c, (lt_gather_geom){6, 9, 4, 7, {0, 1, 0}}, 4, -1, 0, "index_select");
    /* torch.gather: an index per output element */
    lt_gather_geom g = {5, 8, 6, 3, {6 * 3, 3, 1}};
    check_gather_case(c, g, 5 * 6 * 3, -1, 0, "gather");
    lt_gather_geom big = {300, 50, 40, 1, {40, 1, 1}};
    check_gather_case(c, big, 300 * 40, -1, 1, "gather, bad indices, many rows");
}

/* ---- masked_fill ---------------------------------------------------------------------- */

static void check_masked_fill(check_ctx *c) {
    const int64_t b = 3, h = 4, t = 65, n = b * h * t * t;
    buf x = buf_floats(c, n, -3, 3), y = buf_out(c, n, sizeof(float));
    buf m = buf_floats(c, t * t, 0, 1);
    for (int64_t i = 0; i < t; i++) /* causal: 1 above the diagonal */
        for (int64_t j = 0; j < t; j++) HF(m)[i * t + j] = j > i ? 1.0f : 0.0f;
    buf_sync_in(c, &m);
    lt_bcast bc = {.ndim = 4,
                   .shape = {b, h, t, t},
                   .a_stride = {h * t * t, t * t, t, 1},
                   .b_stride = {0, 0, t, 1}};
    ON_BOTH(c, masked_fill, n, D(x), D(m), -INFINITY, D(y), &bc);
    buf_check(c, "masked_fill causal mask broadcast over (B, H)", &y, TOL_EXACT);
    buf flat = buf_floats(c, n, -1, 1), y2 = buf_out(c, n, sizeof(float));
    for (int64_t i = 0; i < n; i++) HF(flat)[i] = HF(flat)[i] > 0.3f ? 1.0f : 0.0f;
    buf_sync_in(c, &flat);
    ON_BOTH(c, masked_fill, n, D(x), D(flat), 2.5f, D(y2), NULL);
    buf_check(c, "masked_fill flat", &y2, TOL_EXACT);
    buf_free(c, &x);
    buf_free(c, &y);
    buf_free(c, &m);
    buf_free(c, &flat);
    buf_free(c, &y2);
}

void check_index(check_ctx *c) {
    const lt_accelerator_desc *k = c->acc[DUT].k;
    if (!k->copy_strided || !k->gather || !k->scatter_add || !k->masked_fill) {
        report(c, 0, "index slots: %s leaves some of copy_strided ... masked_fill NULL",
               c->dut_name);
        return;
    }
    check_permute(c, 4, (int64_t[]){2, 3, 5, 7}, (int[]){0, 2, 1, 3});
    check_permute(c, 4, (int64_t[]){64, 4, 65, 32}, (int[]){0, 2, 1, 3}); /* (B,T,H,hs) */
    check_permute(c, 3, (int64_t[]){9, 1, 11}, (int[]){2, 0, 1});
    check_slice(c, 40, 33, 5, 20, 70, 31);
    check_gathers(c);
    check_masked_fill(c);
}
