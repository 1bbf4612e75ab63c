/* reduce.c — sums over one axis, row argmax, int64 equality.
 *
 * Sums accumulate in double over a partition fixed by the shape alone, never by the
 * thread count: a sum is bit-identical whatever --threads says, and exact to ~1e-16
 * relative before the final rounding to float. */
#include <math.h>

#include "cpu_impl.h"

#define SUM_PART_MIN 4096 /* elements; a shorter part is not worth a thread */
#define SUM_PARTS_MAX 64  /* a long row is cut into at most this many parts */
#define SUM_SCRATCH 1024  /* partial sums the split path keeps on the stack */
#define SUM_TILE 256      /* columns accumulated at once when inner > 1 (2 KiB) */

/* ---- row sums (inner == 1) --------------------------------------------------------- */

/* Sum of n floats in double. Eight independent accumulators let the compiler vectorise
 * without -ffast-math, and fix the order of additions. */
static double sum_f64(const float *x, int64_t n) {
    double acc[8] = {0};
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; k++) acc[k] += x[i + k];
    double tail = 0;
    for (; i < n; i++) tail += x[i];
    return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7])) + tail;
}

/* How many parts a row of n elements is cut into: a function of n only. */
static int64_t row_parts(int64_t n) {
    const int64_t p = n / SUM_PART_MIN;
    return p < 1 ? 1 : p > SUM_PARTS_MAX ? SUM_PARTS_MAX : p;
}

/* Part k of `parts` of a row of n elements: elements [*lo, *lo + return value). */
static int64_t part_of(int64_t n, int64_t parts, int64_t k, int64_t *lo) {
    *lo = n * k / parts;
    return n * (k + 1) / parts - *lo;
}

/* The row sum every path computes: parts summed with sum_f64, added in order. */
static double row_sum(const float *x, int64_t n) {
    const int64_t parts = row_parts(n);
    double s = 0;
    for (int64_t k = 0, lo; k < parts; k++) {
        const int64_t len = part_of(n, parts, k, &lo);
        s += sum_f64(x + lo, len);
    }
    return s;
}

typedef struct {
    const float *in; /* (outer, mid) */
    float *out;      /* (outer) */
    double *partial; /* (outer, parts), split path only */
    int64_t mid, parts;
    double scale;
} rows_args;

/* Many rows: one thread per block of rows. */
static void rows_span(const void *p, int64_t lo, int64_t hi) {
    const rows_args *g = p;
    for (int64_t o = lo; o < hi; o++)
        g->out[o] = (float)(g->scale * row_sum(g->in + o * g->mid, g->mid));
}

/* Few long rows: items are (row, part) pairs, so the parts of one row run in parallel. */
static void parts_span(const void *p, int64_t lo, int64_t hi) {
    const rows_args *g = p;
    for (int64_t it = lo; it < hi; it++) {
        const int64_t o = it / g->parts, k = it % g->parts;
        int64_t off;
        const int64_t len = part_of(g->mid, g->parts, k, &off);
        g->partial[it] = sum_f64(g->in + o * g->mid + off, len);
    }
}

static void reduce_rows(const cpu_state *st, int64_t outer, int64_t mid, const float *in,
                        double scale, float *out) {
    double partial[SUM_SCRATCH];
    rows_args g = {.in = in,
                   .out = out,
                   .partial = partial,
                   .mid = mid,
                   .parts = row_parts(mid),
                   .scale = scale};
    const int64_t items = outer * g.parts;
    if (outer >= st->threads || g.parts == 1 || items > SUM_SCRATCH) {
        cpu_parallel_for(st, outer, mid, rows_span, &g);
        return;
    }
    cpu_parallel_for(st, items, mid / g.parts, parts_span, &g);
    for (int64_t o = 0; o < outer; o++) { /* same additions, same order as row_sum */
        double s = 0;
        for (int64_t k = 0; k < g.parts; k++) s += partial[o * g.parts + k];
        out[o] = (float)(scale * s);
    }
}

/* ---- column sums (inner > 1) ------------------------------------------------------- */

typedef struct {
    const float *in; /* (outer, mid, inner) */
    float *out;      /* (outer, inner) */
    int64_t mid, inner, tiles;
    double scale;
} cols_args;

/* Items are (outer, tile of SUM_TILE columns); each walks mid rows, accumulating in
 * double. A huge mid with few items runs on few threads: rare (bias gradients have
 * mid = batch) and still deterministic. */
static void cols_span(const void *p, int64_t lo, int64_t hi) {
    const cols_args *g = p;
    double acc[SUM_TILE];
    for (int64_t it = lo; it < hi; it++) {
        const int64_t o = it / g->tiles, j0 = (it % g->tiles) * SUM_TILE;
        const int64_t w = g->inner - j0 < SUM_TILE ? g->inner - j0 : SUM_TILE;
        for (int64_t j = 0; j < w; j++) acc[j] = 0;
        for (int64_t m = 0; m < g->mid; m++) {
            const float *restrict row = g->in + (o * g->mid + m) * g->inner + j0;
            for (int64_t j = 0; j < w; j++) acc[j] += row[j];
        }
        float *restrict dst = g->out + o * g->inner + j0;
        for (int64_t j = 0; j < w; j++) dst[j] = (float)(g->scale * acc[j]);
    }
}

void cpu_reduce_sum(void *vst, int64_t outer, int64_t mid, int64_t inner, const float *d_in,
                    float scale, float *d_out) {
    const cpu_state *st = vst;
    if (outer <= 0 || inner <= 0) return;
    if (inner == 1) {
        reduce_rows(st, outer, mid, d_in, scale, d_out);
        return;
    }
    const cols_args g = {.in = d_in,
                         .out = d_out,
                         .mid = mid,
                         .inner = inner,
                         .tiles = (inner + SUM_TILE - 1) / SUM_TILE,
                         .scale = scale};
    cpu_parallel_for(st, outer * g.tiles, mid * (inner < SUM_TILE ? inner : SUM_TILE), cols_span,
                     &g);
}

/* ---- argmax ------------------------------------------------------------------------ */

typedef struct {
    const float *x; /* (rows, cols) */
    int64_t *idx;   /* (rows) */
    int64_t cols;
} argmax_args;

/* First maximum; a NaN counts as the maximum, as in torch.argmax. */
static int64_t row_argmax(const float *x, int64_t n) {
    int64_t best = 0;
    float bv = x[0];
    if (isnan(bv)) return 0;
    for (int64_t i = 1; i < n; i++) {
        if (isnan(x[i])) return i;
        if (x[i] > bv) {
            bv = x[i];
            best = i;
        }
    }
    return best;
}

static void argmax_span(const void *p, int64_t lo, int64_t hi) {
    const argmax_args *g = p;
    for (int64_t r = lo; r < hi; r++) g->idx[r] = row_argmax(g->x + r * g->cols, g->cols);
}

void cpu_argmax(void *st, int64_t rows, int64_t cols, const float *d_x, int64_t *d_idx) {
    if (cols <= 0) return;
    const argmax_args g = {.x = d_x, .idx = d_idx, .cols = cols};
    cpu_parallel_for(st, rows, cols, argmax_span, &g);
}

/* ---- eq_i64 ------------------------------------------------------------------------ */

typedef struct {
    const int64_t *a, *b;
    float *out;
} eq_args;

static void eq_span(const void *p, int64_t lo, int64_t hi) {
    const eq_args *g = p;
    const int64_t *restrict a = g->a, *restrict b = g->b;
    float *restrict out = g->out;
    for (int64_t i = lo; i < hi; i++) out[i] = a[i] == b[i] ? 1.0f : 0.0f;
}

void cpu_eq_i64(void *st, int64_t n, const int64_t *d_a, const int64_t *d_b, float *d_out) {
    const eq_args g = {.a = d_a, .b = d_b, .out = d_out};
    cpu_parallel_for(st, n, 1, eq_span, &g);
}
