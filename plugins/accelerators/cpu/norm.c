/* norm.c — batch norm in training mode and layer norm, forward and backward.
 *
 * Batch norm views x as (n, c, l), one channel per item. Per channel the sums run in
 * double in a fixed order (image by image), so the statistics are exact to float rounding
 * and independent of the threads; the output uses torch's form y = x * a + b' (a = w *
 * invstd, b' = b - mean * a). Layer norm views x as (rows, d), one row per item, with the
 * same double sums; its weight and bias gradients sum over rows in row order, a block of
 * columns per item, so they too are independent of the threads. */
#include <math.h>
#include <string.h>

#include "cpu_impl.h"

typedef struct {
    int64_t n, c, l;
    const float *x, *dy, *w, *b, *mean, *var;
    double eps;
    float *y, *out_mean, *out_var, *dx, *dw, *db;
} bn_args;

/* Eight double partial sums in a fixed lane order (k mod 8), added pairwise at the end: one
 * serial chain of double adds was latency bound (~4 cycles an element, bench/RESULTS.md);
 * eight independent chains vectorize. The order depends only on the shape, never on the
 * ISA or the threads, so results stay bit-identical across runs and machines. */
#define LANES 8

/* The eight lanes as one vector: GCC's -O3 unrolls an 8-step lane loop whole and then
 * leaves it scalar; written as vectors, each lane does the same adds in the same order. */
typedef double v8d __attribute__((vector_size(64)));
typedef float v8f __attribute__((vector_size(32)));

/* Vectors go by pointer: passed by value they would change the calling convention
 * between the multi-versioned builds (GCC's -Wpsabi). */
static double lanes_total(const v8d *v) {
    const v8d acc = *v;
    return ((acc[0] + acc[4]) + (acc[2] + acc[6])) + ((acc[1] + acc[5]) + (acc[3] + acc[7]));
}

/* 8 floats from p (unaligned: channels start anywhere), widened to double. */
static inline void load8(v8d *out, const float *p) {
    v8f v;
    memcpy(&v, p, sizeof v);
    *out = __builtin_convertvector(v, v8d);
}

/* Adds (x - shift) (square = 0) or (x - shift)^2 (square = 1) of x[0 .. l) into acc's
 * lanes, element k into lane k mod 8. */
static inline __attribute__((always_inline)) void add_lanes(v8d *acc, const float *x, int64_t l,
                                                            double shift, int square) {
    int64_t k = 0;
    for (; k + LANES <= l; k += LANES) {
        v8d d;
        load8(&d, x + k);
        d -= shift;
        *acc += square ? d * d : d;
    }
    for (; k < l; k++) {
        const double d = (double)x[k] - shift;
        (*acc)[k % LANES] += square ? d * d : d;
    }
}

/* Sum over channel ch of (x - shift) (square = 0) or (x - shift)^2 (square = 1), in double. */
CPU_WIDEST static double channel_sum(const bn_args *a, int64_t ch, double shift, int square) {
    v8d acc = {0};
    for (int64_t i = 0; i < a->n; i++)
        add_lanes(&acc, a->x + (i * a->c + ch) * a->l, a->l, shift, square);
    return lanes_total(&acc);
}

CPU_WIDEST static void bn_fwd_span(const void *p, int64_t lo, int64_t hi) {
    const bn_args *a = p;
    const double m = (double)(a->n * a->l);
    for (int64_t ch = lo; ch < hi; ch++) {
        const double mean = channel_sum(a, ch, 0.0, 0) / m;
        const double var = channel_sum(a, ch, mean, 1) / m;
        const float invstd = (float)(1.0 / sqrt(var + a->eps));
        const float alpha = a->w ? a->w[ch] * invstd : invstd;
        const float beta = (a->b ? a->b[ch] : 0.0f) - (float)mean * alpha;
        a->out_mean[ch] = (float)mean;
        a->out_var[ch] = (float)var;
        for (int64_t i = 0; i < a->n; i++) {
            const float *x = a->x + (i * a->c + ch) * a->l;
            float *y = a->y + (i * a->c + ch) * a->l;
#pragma omp simd
            for (int64_t k = 0; k < a->l; k++) y[k] = x[k] * alpha + beta;
        }
    }
}

void cpu_batch_norm(void *st, int64_t n, int64_t c, int64_t l, const float *d_x, const float *d_w,
                    const float *d_b, double eps, float *d_y, float *d_mean, float *d_var) {
    const bn_args a = {.n = n,
                       .c = c,
                       .l = l,
                       .x = d_x,
                       .w = d_w,
                       .b = d_b,
                       .eps = eps,
                       .y = d_y,
                       .out_mean = d_mean,
                       .out_var = d_var};
    cpu_parallel_for(st, c, 3 * n * l, bn_fwd_span, &a);
}

/* sum dy and sum dy * xh over channel ch, in double, in channel_sum's lane order. */
CPU_WIDEST static void grad_sums(const bn_args *a, int64_t ch, float mean, float invstd,
                                 double *sdy, double *sdyxh) {
    v8d s0 = {0}, s1 = {0};
    for (int64_t i = 0; i < a->n; i++) {
        const int64_t off = (i * a->c + ch) * a->l;
        const float *dy = a->dy + off, *x = a->x + off;
        int64_t k = 0;
        for (; k + LANES <= a->l; k += LANES) {
            v8f xv;
            memcpy(&xv, x + k, sizeof xv);
            v8d g;
            load8(&g, dy + k);
            s0 += g;
            s1 += g * __builtin_convertvector((xv - mean) * invstd, v8d);
        }
        for (; k < a->l; k++) {
            s0[k % LANES] += (double)dy[k];
            s1[k % LANES] += (double)dy[k] * (double)((x[k] - mean) * invstd);
        }
    }
    *sdy = lanes_total(&s0);
    *sdyxh = lanes_total(&s1);
}

CPU_WIDEST static void bn_bwd_span(const void *p, int64_t lo, int64_t hi) {
    const bn_args *a = p;
    const double m = (double)(a->n * a->l);
    for (int64_t ch = lo; ch < hi; ch++) {
        const float mean = a->mean[ch];
        const float invstd = (float)(1.0 / sqrt((double)a->var[ch] + a->eps));
        double sdy, sdyxh;
        grad_sums(a, ch, mean, invstd, &sdy, &sdyxh);
        if (a->dw) a->dw[ch] = (float)sdyxh;
        if (a->db) a->db[ch] = (float)sdy;
        if (!a->dx) continue;
        const float scale = (a->w ? a->w[ch] : 1.0f) * invstd;
        const float gmean = (float)(sdy / m), xhmean = (float)(sdyxh / m);
        for (int64_t i = 0; i < a->n; i++) {
            const int64_t off = (i * a->c + ch) * a->l;
            const float *x = a->x + off, *dy = a->dy + off;
            float *dx = a->dx + off;
#pragma omp simd
            for (int64_t k = 0; k < a->l; k++)
                dx[k] = scale * (dy[k] - gmean - (x[k] - mean) * invstd * xhmean);
        }
    }
}

void cpu_batch_norm_bwd(void *st, int64_t n, int64_t c, int64_t l, const float *d_x,
                        const float *d_dy, const float *d_mean, const float *d_var,
                        const float *d_w, double eps, float *d_dx, float *d_dw, float *d_db) {
    const bn_args a = {.n = n,
                       .c = c,
                       .l = l,
                       .x = d_x,
                       .dy = d_dy,
                       .mean = d_mean,
                       .var = d_var,
                       .w = d_w,
                       .eps = eps,
                       .dx = d_dx,
                       .dw = d_dw,
                       .db = d_db};
    cpu_parallel_for(st, c, 3 * n * l, bn_bwd_span, &a);
}

/* ---- layer norm ----------------------------------------------------------------------- */

typedef struct {
    int64_t rows, d;
    const float *x, *dy, *w, *b, *mean, *rstd;
    double eps;
    float *y, *out_mean, *out_rstd, *dx, *dw, *db;
} ln_args;

CPU_WIDEST static void ln_fwd_span(const void *p, int64_t lo, int64_t hi) {
    const ln_args *a = p;
    const int64_t d = a->d;
    for (int64_t r = lo; r < hi; r++) {
        const float *x = a->x + r * d;
        float *y = a->y + r * d;
        v8d acc = {0};
        add_lanes(&acc, x, d, 0.0, 0);
        const double mean = lanes_total(&acc) / (double)d;
        acc = (v8d){0};
        add_lanes(&acc, x, d, mean, 1);
        const float m = (float)mean,
                    rstd = (float)(1.0 / sqrt(lanes_total(&acc) / (double)d + a->eps));
        a->out_mean[r] = m;
        a->out_rstd[r] = rstd;
#pragma omp simd
        for (int64_t k = 0; k < d; k++) y[k] = (x[k] - m) * rstd;
        if (a->w)
#pragma omp simd
            for (int64_t k = 0; k < d; k++) y[k] *= a->w[k];
        if (a->b)
#pragma omp simd
            for (int64_t k = 0; k < d; k++) y[k] += a->b[k];
    }
}

void cpu_layer_norm(void *st, int64_t rows, int64_t d, const float *d_x, const float *d_w,
                    const float *d_b, double eps, float *d_y, float *d_mean, float *d_rstd) {
    if (rows <= 0 || d <= 0) return;
    const ln_args a = {.rows = rows,
                       .d = d,
                       .x = d_x,
                       .w = d_w,
                       .b = d_b,
                       .eps = eps,
                       .y = d_y,
                       .out_mean = d_mean,
                       .out_rstd = d_rstd};
    cpu_parallel_for(st, rows, 4 * d, ln_fwd_span, &a);
}

/* dx of each row: g = dy * w, xh = (x - mean) * rstd, dx = rstd (g - mean g - xh mean g xh),
 * the two means summed in double lanes. */
CPU_WIDEST static void ln_dx_span(const void *p, int64_t lo, int64_t hi) {
    const ln_args *a = p;
    const int64_t d = a->d;
    for (int64_t r = lo; r < hi; r++) {
        const float *x = a->x + r * d, *dy = a->dy + r * d;
        const float m = a->mean[r], rstd = a->rstd[r];
        v8d sg = {0}, sgx = {0};
        int64_t k = 0;
        for (; k + LANES <= d; k += LANES) {
            v8f xv, gv, wv = {1, 1, 1, 1, 1, 1, 1, 1};
            memcpy(&xv, x + k, sizeof xv);
            memcpy(&gv, dy + k, sizeof gv);
            if (a->w) memcpy(&wv, a->w + k, sizeof wv);
            const v8d g = __builtin_convertvector(gv * wv, v8d);
            sg += g;
            sgx += g * __builtin_convertvector((xv - m) * rstd, v8d);
        }
        for (; k < d; k++) {
            const double g = (double)(dy[k] * (a->w ? a->w[k] : 1.0f));
            sg[k % LANES] += g;
            sgx[k % LANES] += g * (double)((x[k] - m) * rstd);
        }
        const float gmean = (float)(lanes_total(&sg) / (double)d);
        const float gxmean = (float)(lanes_total(&sgx) / (double)d);
        float *dx = a->dx + r * d;
#pragma omp simd
        for (k = 0; k < d; k++) {
            const float g = dy[k] * (a->w ? a->w[k] : 1.0f);
            dx[k] = rstd * (g - gmean - (x[k] - m) * rstd * gxmean);
        }
    }
}

#define LN_BLOCK 16 /* columns per item of the weight gradients: one cache line of a row */

/* dw and db of columns [LN_BLOCK lo, LN_BLOCK hi): each column's sums run over the rows in
 * order, in double. */
CPU_WIDEST static void ln_dw_span(const void *p, int64_t lo, int64_t hi) {
    const ln_args *a = p;
    for (int64_t blk = lo; blk < hi; blk++) {
        const int64_t c0 = blk * LN_BLOCK, n = a->d - c0 < LN_BLOCK ? a->d - c0 : LN_BLOCK;
        double sw[LN_BLOCK] = {0}, sb[LN_BLOCK] = {0};
        for (int64_t r = 0; r < a->rows; r++) {
            const float *x = a->x + r * a->d + c0, *dy = a->dy + r * a->d + c0;
            const float m = a->mean[r], rstd = a->rstd[r];
#pragma omp simd
            for (int64_t k = 0; k < n; k++) {
                sw[k] += (double)dy[k] * (double)((x[k] - m) * rstd);
                sb[k] += (double)dy[k];
            }
        }
        for (int64_t k = 0; k < n; k++) {
            if (a->dw) a->dw[c0 + k] = (float)sw[k];
            if (a->db) a->db[c0 + k] = (float)sb[k];
        }
    }
}

void cpu_layer_norm_bwd(void *st, int64_t rows, int64_t d, const float *d_x, const float *d_dy,
                        const float *d_mean, const float *d_rstd, const float *d_w, float *d_dx,
                        float *d_dw, float *d_db) {
    if (rows <= 0 || d <= 0) return;
    const ln_args a = {.rows = rows,
                       .d = d,
                       .x = d_x,
                       .dy = d_dy,
                       .mean = d_mean,
                       .rstd = d_rstd,
                       .w = d_w,
                       .dx = d_dx,
                       .dw = d_dw,
                       .db = d_db};
    if (d_dx) cpu_parallel_for(st, rows, 6 * d, ln_dx_span, &a);
    if (d_dw || d_db)
        cpu_parallel_for(st, (d + LN_BLOCK - 1) / LN_BLOCK, 4 * LN_BLOCK * rows, ln_dw_span, &a);
}
