/* ops_rows.c — reduce_sum over (outer, mid, inner), the softmax family, cross-entropy
 * and its backward, argmax: shapes on both sides of each kernel's warp/block and split
 * thresholds, and more rows than one launch of 65535 blocks covers. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops_check.h"

/* ---- reduce_sum -------------------------------------------------------------------------- */

/* The device under test's result twice: it must not change from run to run. */
static int same_twice(check_ctx *c, int64_t outer, int64_t mid, int64_t inner, const buf *x,
                      float scale, const buf *y) {
    accel *a = &c->acc[DUT];
    float *first = buf_download(c, y, DUT);
    a->k->reduce_sum(a->st, outer, mid, inner, x->d[DUT], scale, y->d[DUT]);
    float *again = buf_download(c, y, DUT);
    int same = memcmp(first, again, (size_t)y->n * sizeof(float)) == 0;
    free(first);
    free(again);
    return same;
}

static void check_reduce_case(check_ctx *c, int64_t outer, int64_t mid, int64_t inner,
                              float scale) {
    buf x = buf_floats(c, outer * mid * inner, -1, 1), y = buf_out(c, outer * inner, sizeof(float));
    ON_BOTH(c, reduce_sum, outer, mid, inner, D(x), scale, D(y));
    char name[128];
    snprintf(name, sizeof name, "reduce_sum (%lld, %lld, %lld) scale %g", (long long)outer,
             (long long)mid, (long long)inner, scale);
    if (buf_check(c, name, &y, TOL_F32))
        report(c, same_twice(c, outer, mid, inner, &x, scale, &y), "  the same bits run again");
    buf_free(c, &x);
    buf_free(c, &y);
}

void check_reduce(check_ctx *c) {
    static const int64_t shapes[][3] = {
        {1, 1, 1},       {3, 10, 1},     {1, 513, 1},      {5, 1000, 1},    /* warp, block rows */
        {1, 5000000, 1}, {3, 100003, 1}, {1500, 20000, 1}, {70001, 5, 1},   /* split, many rows */
        {1, 64, 10},     {1, 100000, 7}, {2, 3, 70000},    {5, 1, 9},       /* columns */
        {4, 0, 3},       {4, 0, 1},      {7, 33, 129},     {1, 1000, 1000}, /* empty, odd */
    };
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++)
        check_reduce_case(c, shapes[s][0], shapes[s][1], shapes[s][2], s % 2 ? 0.5f : 1.0f);
}

/* ---- softmax family ------------------------------------------------------------------------ */

static void name_of(char *name, size_t n, const char *what, int64_t rows, int64_t cols) {
    snprintf(name, n, "%s (%lld, %lld)", what, (long long)rows, (long long)cols);
}

static void check_softmax_family(check_ctx *c, int64_t rows, int64_t cols) {
    const int64_t n = rows * cols;
    char name[96];
    buf x = buf_floats(c, n, -8, 8), dy = buf_floats(c, n, -1, 1);
    if (rows >= 3) { /* a NaN row, a row with +inf: NaN out, as on the cpu */
        HF(x)[cols / 2] = NAN;
        HF(x)[2 * cols] = INFINITY;
        buf_sync_in(c, &x);
    }
    buf y = buf_out(c, n, sizeof(float)), ly = buf_out(c, n, sizeof(float));
    buf dx = buf_out(c, n, sizeof(float));
    ON_BOTH(c, softmax, rows, cols, D(x), D(y));
    name_of(name, sizeof name, "softmax", rows, cols);
    buf_check(c, name, &y, TOL_F32);
    ON_BOTH(c, log_softmax, rows, cols, D(x), D(ly));
    name_of(name, sizeof name, "log_softmax", rows, cols);
    buf_check(c, name, &ly, TOL_LOGSPACE);
    ON_BOTH(c, softmax_bwd, rows, cols, D(y), D(dy), D(dx));
    name_of(name, sizeof name, "softmax_bwd", rows, cols);
    buf_check(c, name, &dx, TOL_F32);
    ON_BOTH(c, log_softmax_bwd, rows, cols, D(ly), D(dy), D(dx));
    name_of(name, sizeof name, "log_softmax_bwd", rows, cols);
    buf_check(c, name, &dx, TOL_F32);
    ON_BOTH(c, softmax, rows, cols, D(x), D(x)); /* in place */
    name_of(name, sizeof name, "softmax in place", rows, cols);
    buf_check(c, name, &x, TOL_F32);
    buf_free(c, &x);
    buf_free(c, &dy);
    buf_free(c, &y);
    buf_free(c, &ly);
    buf_free(c, &dx);
}

/* ---- cross-entropy ----------------------------------------------------------------------- */

/* With a label out of range in row 1 (when there is one): the cpu returns 1, an
 * asynchronous device may return -1; both write NaN as that row's loss. */
static void check_cross_entropy(check_ctx *c, int64_t rows, int64_t cols) {
    const int64_t n = rows * cols;
    char name[96];
    buf x = buf_floats(c, n, -8, 8), label = buf_labels(c, rows, cols);
    if (rows >= 2) {
        HI(label)[1] = cols;
        buf_sync_in(c, &label);
    }
    buf loss = buf_out(c, rows, sizeof(float)), prob = buf_out(c, n, sizeof(float));
    int64_t ret[2];
    for (int i = 0; i < 2; i++)
        ret[i] = c->acc[i].k->cross_entropy(c->acc[i].st, rows, cols, x.d[i], label.d[i], loss.d[i],
                                            prob.d[i]);
    const int64_t want = rows >= 2 ? 1 : -1;
    report(c, ret[REF] == want && (ret[DUT] == want || ret[DUT] == -1),
           "cross_entropy (%lld, %lld) returns the bad row: cpu %lld, %s %lld", (long long)rows,
           (long long)cols, (long long)ret[REF], c->dut_name, (long long)ret[DUT]);
    name_of(name, sizeof name, "cross_entropy loss", rows, cols);
    buf_check(c, name, &loss, TOL_LOGSPACE);
    name_of(name, sizeof name, "cross_entropy prob", rows, cols);
    buf_check(c, name, &prob, TOL_F32);
    buf dloss = buf_floats(c, rows, -2, 2), dx = buf_out(c, n, sizeof(float));
    ON_BOTH(c, cross_entropy_bwd, rows, cols, D(prob), D(label), D(dloss), D(dx));
    name_of(name, sizeof name, "cross_entropy_bwd", rows, cols);
    buf_check(c, name, &dx, TOL_F32);
    ON_BOTH(c, cross_entropy_bwd, rows, cols, D(prob), D(label), D(dloss), D(prob));
    name_of(name, sizeof name, "cross_entropy_bwd in place", rows, cols);
    buf_check(c, name, &prob, TOL_F32);
    buf_free(c, &x);
    buf_free(c, &label);
    buf_free(c, &loss);
    buf_free(c, &prob);
    buf_free(c, &dloss);
    buf_free(c, &dx);
}

/* ---- argmax ------------------------------------------------------------------------------ */

/* Small integers, so rows have ties; some rows hold NaN (twice in row 0): the first NaN,
 * else the first maximum. */
static void check_argmax(check_ctx *c, int64_t rows, int64_t cols) {
    buf x = buf_floats(c, rows * cols, 0, 4), idx = buf_out(c, rows, sizeof(int64_t));
    for (int64_t i = 0; i < rows * cols; i++) HF(x)[i] = floorf(HF(x)[i]);
    for (int64_t r = 0; r < rows; r += 7) HF(x)[r * cols + rnd_int(c, cols)] = NAN;
    HF(x)[cols - 1] = NAN;
    buf_sync_in(c, &x);
    ON_BOTH(c, argmax, rows, cols, D(x), D(idx));
    char name[96];
    name_of(name, sizeof name, "argmax", rows, cols);
    buf_check(c, name, &idx, TOL_EXACT);
    buf_free(c, &x);
    buf_free(c, &idx);
}

void check_rows(check_ctx *c) {
    static const int64_t shapes[][2] = {
        {1, 1},    {3, 10},   {64, 10},   {9, 512},                    /* a warp per row */
        {37, 513}, {5, 1000}, {2, 70000}, {(int64_t)65535 * 8 + 3, 3}, /* a block per row; many */
    };
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++) {
        check_softmax_family(c, shapes[s][0], shapes[s][1]);
        check_cross_entropy(c, shapes[s][0], shapes[s][1]);
        check_argmax(c, shapes[s][0], shapes[s][1]);
    }
}
