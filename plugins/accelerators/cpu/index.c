/* index.c — tensor manipulation kernels: strided copies (transpose, permute, slices,
 * concatenation), row gathers and their scatter-add adjoint (embedding, index_select,
 * gather, one_hot) and masked_fill (attention masks).
 *
 * Every span writes disjoint outputs: copies and masked_fill split their output rows,
 * scatter_add splits the (outer, inner) columns of the destination, each of which one
 * thread walks over every k in order, so sums do not depend on the threads. */
#include <string.h>

#include "cpu_impl.h"

/* ---- copy_strided ----------------------------------------------------------------- */

typedef struct {
    const lt_strided *g;
    const float *src;
    float *dst;
} copy_args;

/* Offsets of the first element of row r (rows: every dimension but the last). */
static void strided_seek(const lt_strided *g, int64_t r, int64_t *os, int64_t *od) {
    *os = *od = 0;
    for (int d = g->ndim - 2; d >= 0; d--) {
        const int64_t i = r % g->shape[d];
        r /= g->shape[d];
        *os += i * g->src_stride[d];
        *od += i * g->dst_stride[d];
    }
}

static void copy_span(const void *p, int64_t lo, int64_t hi) {
    const copy_args *a = p;
    const lt_strided *g = a->g;
    const int last = g->ndim - 1;
    const int64_t cols = g->shape[last], ss = g->src_stride[last], ds = g->dst_stride[last];
    for (int64_t r = lo; r < hi; r++) {
        int64_t os, od;
        strided_seek(g, r, &os, &od);
        const float *s = a->src + os;
        float *d = a->dst + od;
        if (ss == 1 && ds == 1) {
            memcpy(d, s, (size_t)cols * sizeof *d);
            continue;
        }
        for (int64_t j = 0; j < cols; j++) d[j * ds] = s[j * ss];
    }
}

void cpu_copy_strided(void *st, const lt_strided *g, const float *d_src, float *d_dst) {
    if (g->ndim == 0) {
        d_dst[0] = d_src[0];
        return;
    }
    int64_t rows = 1;
    for (int d = 0; d < g->ndim; d++)
        if (g->shape[d] == 0) return;
    for (int d = 0; d < g->ndim - 1; d++) rows *= g->shape[d];
    const copy_args a = {.g = g, .src = d_src, .dst = d_dst};
    cpu_parallel_for(st, rows, g->shape[g->ndim - 1], copy_span, &a);
}

/* ---- gather / scatter_add --------------------------------------------------------- */

typedef struct {
    const lt_gather_geom *g;
    const float *x;
    const int64_t *idx;
    float *out;
    int64_t skip;
} gather_args;

/* Items are the outer rows o: out(o, k, i) for every k, i; a bad index reads as 0. */
static void gather_span(const void *p, int64_t lo, int64_t hi) {
    const gather_args *a = p;
    const lt_gather_geom *g = a->g;
    for (int64_t o = lo; o < hi; o++) {
        const float *x = a->x + o * g->n * g->inner;
        for (int64_t k = 0; k < g->m; k++) {
            const int64_t *ix = a->idx + o * g->idx_stride[0] + k * g->idx_stride[1];
            float *out = a->out + (o * g->m + k) * g->inner;
            for (int64_t i = 0; i < g->inner; i++) {
                const int64_t r = ix[i * g->idx_stride[2]];
                out[i] = r >= 0 && r < g->n ? x[r * g->inner + i] : 0.0f;
            }
        }
    }
}

/* The first position whose index is outside [0, n), or -1. */
static int64_t gather_first_bad(const lt_gather_geom *g, const int64_t *idx) {
    for (int64_t o = 0; o < g->outer; o++)
        for (int64_t k = 0; k < g->m; k++)
            for (int64_t i = 0; i < g->inner; i++) {
                const int64_t r =
                    idx[o * g->idx_stride[0] + k * g->idx_stride[1] + i * g->idx_stride[2]];
                if (r < 0 || r >= g->n) return (o * g->m + k) * g->inner + i;
            }
    return -1;
}

int64_t cpu_gather(void *st, const lt_gather_geom *g, const float *d_x, const int64_t *d_idx,
                   float *d_out) {
    if (g->outer <= 0 || g->m <= 0 || g->inner <= 0) return -1;
    const gather_args a = {.g = g, .x = d_x, .idx = d_idx, .out = d_out};
    cpu_parallel_for(st, g->outer, g->m * g->inner, gather_span, &a);
    return gather_first_bad(g, d_idx);
}

/* Items are destination columns c = o * inner + i; each walks every k in order. */
static void scatter_span(const void *p, int64_t lo, int64_t hi) {
    const gather_args *a = p;
    const lt_gather_geom *g = a->g;
    for (int64_t c = lo; c < hi; c++) {
        const int64_t o = c / g->inner, i = c % g->inner;
        const int64_t *ix = a->idx + o * g->idx_stride[0] + i * g->idx_stride[2];
        const float *dy = a->x + o * g->m * g->inner + i;
        float *dx = a->out + o * g->n * g->inner + i;
        for (int64_t k = 0; k < g->m; k++) {
            const int64_t r = ix[k * g->idx_stride[1]];
            if (r >= 0 && r < g->n && r != a->skip) dx[r * g->inner] += dy[k * g->inner];
        }
    }
}

void cpu_scatter_add(void *st, const lt_gather_geom *g, const float *d_dy, const int64_t *d_idx,
                     int64_t skip, float *d_dx) {
    if (g->outer <= 0 || g->m <= 0 || g->inner <= 0) return;
    const gather_args a = {.g = g, .x = d_dy, .idx = d_idx, .out = d_dx, .skip = skip};
    cpu_parallel_for(st, g->outer * g->inner, g->m, scatter_span, &a);
}

/* ---- masked_fill ------------------------------------------------------------------ */

typedef struct {
    const lt_bcast *bc; /* NULL: flat */
    const float *x, *mask;
    float value;
    float *out;
} mask_args;

static void mask_flat_span(const void *p, int64_t lo, int64_t hi) {
    const mask_args *a = p;
    for (int64_t j = lo; j < hi; j++) a->out[j] = a->mask[j] != 0.0f ? a->value : a->x[j];
}

/* Items are rows of the last dimension of bc's shape; out is contiguous. */
static void mask_rows_span(const void *p, int64_t lo, int64_t hi) {
    const mask_args *a = p;
    const lt_bcast *bc = a->bc;
    const int last = bc->ndim - 1;
    const int64_t cols = bc->shape[last], sx = bc->a_stride[last], sm = bc->b_stride[last];
    for (int64_t r = lo; r < hi; r++) {
        int64_t ox = 0, om = 0, q = r;
        for (int d = last - 1; d >= 0; d--) {
            const int64_t i = q % bc->shape[d];
            q /= bc->shape[d];
            ox += i * bc->a_stride[d];
            om += i * bc->b_stride[d];
        }
        const float *x = a->x + ox, *m = a->mask + om;
        float *out = a->out + r * cols;
        for (int64_t j = 0; j < cols; j++) out[j] = m[j * sm] != 0.0f ? a->value : x[j * sx];
    }
}

void cpu_masked_fill(void *st, int64_t n, const float *d_x, const float *d_mask, float value,
                     float *d_out, const lt_bcast *bc) {
    if (n <= 0) return;
    const mask_args a = {.bc = bc, .x = d_x, .mask = d_mask, .value = value, .out = d_out};
    if (!bc || bc->ndim == 0) {
        cpu_parallel_for(st, n, 1, mask_flat_span, &a);
        return;
    }
    const int64_t cols = bc->shape[bc->ndim - 1];
    cpu_parallel_for(st, cols ? n / cols : 0, cols, mask_rows_span, &a);
}
