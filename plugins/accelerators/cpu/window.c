/* window.c — 2-D sliding-window kernels: im2col / col2im (convolution through the GEMM)
 * and pooling with its backward (lt_window2d in lt/accelerator.h says the geometry).
 *
 * Every loop writes disjoint outputs per span (rows of the column matrix, or whole
 * (n, c) planes), and sums in a fixed order, so results do not depend on the threads. */
#include <limits.h>
#include <math.h>
#include <string.h>

#include "cpu_impl.h"

typedef struct {
    const lt_window2d *g;
    lt_pool_mode mode;
    const float *in;
    float *out;
    const int64_t *idx_in;
    int64_t *idx_out;
    bool avx512; /* max_row_2x2_avx512 runs (the CPU has it, and plane offsets fit int32) */
} win_args;

/* ---- im2col / col2im ------------------------------------------------------------- */

/* One output row of the column matrix: window offset (i, j) of channel c, for every
 * image and output pixel. */
static void im2col_row(const lt_window2d *g, const float *x, int64_t r, float *out) {
    const int64_t j = r % g->kw, i = (r / g->kw) % g->kh, c = r / (g->kw * g->kh);
    const int64_t x0 = j * g->dw - g->pw;
    for (int64_t n = 0; n < g->n; n++) {
        const float *plane = x + (n * g->c + c) * g->h * g->w;
        for (int64_t oy = 0; oy < g->oh; oy++, out += g->ow) {
            const int64_t y = oy * g->sh - g->ph + i * g->dh;
            if (y < 0 || y >= g->h) {
                memset(out, 0, (size_t)g->ow * sizeof *out);
                continue;
            }
            const float *row = plane + y * g->w;
            for (int64_t ox = 0; ox < g->ow; ox++) {
                const int64_t xx = ox * g->sw + x0;
                out[ox] = (xx >= 0 && xx < g->w) ? row[xx] : 0.0f;
            }
        }
    }
}

static void im2col_span(const void *p, int64_t lo, int64_t hi) {
    const win_args *a = p;
    const int64_t cols = a->g->n * a->g->oh * a->g->ow;
    for (int64_t r = lo; r < hi; r++) im2col_row(a->g, a->in, r, a->out + r * cols);
}

void cpu_im2col(void *st, const lt_window2d *g, const float *d_x, float *d_col) {
    const win_args a = {.g = g, .in = d_x, .out = d_col};
    cpu_parallel_for(st, g->c * g->kh * g->kw, g->n * g->oh * g->ow, im2col_span, &a);
}

/* Adds the column entries of window offset (i, j) for one image into its plane. */
static void col2im_offset(const lt_window2d *g, const float *src, int64_t i, int64_t j,
                          float *plane) {
    for (int64_t oy = 0; oy < g->oh; oy++, src += g->ow) {
        const int64_t y = oy * g->sh - g->ph + i * g->dh;
        if (y < 0 || y >= g->h) continue;
        float *row = plane + y * g->w;
        for (int64_t ox = 0; ox < g->ow; ox++) {
            const int64_t xx = ox * g->sw - g->pw + j * g->dw;
            if (xx >= 0 && xx < g->w) row[xx] += src[ox];
        }
    }
}

/* Plane (n, c) of the input gathers every column entry read from it. */
static void col2im_plane(const lt_window2d *g, const float *col, int64_t n, int64_t c,
                         float *plane) {
    const int64_t cols = g->n * g->oh * g->ow;
    memset(plane, 0, (size_t)(g->h * g->w) * sizeof *plane);
    for (int64_t i = 0; i < g->kh; i++)
        for (int64_t j = 0; j < g->kw; j++)
            col2im_offset(g, col + ((c * g->kh + i) * g->kw + j) * cols + n * g->oh * g->ow, i, j,
                          plane);
}

static void col2im_span(const void *p, int64_t lo, int64_t hi) {
    const win_args *a = p;
    const lt_window2d *g = a->g;
    for (int64_t pl = lo; pl < hi; pl++)
        col2im_plane(g, a->in, pl / g->c, pl % g->c, a->out + pl * g->h * g->w);
}

void cpu_col2im(void *st, const lt_window2d *g, const float *d_col, float *d_x) {
    const win_args a = {.g = g, .in = d_col, .out = d_x};
    cpu_parallel_for(st, g->n * g->c, g->kh * g->kw * g->oh * g->ow, col2im_span, &a);
}

/* ---- pooling ------------------------------------------------------------------------ */

/* The input rows [*y0, *y1) and columns [*x0, *x1) of output pixel (oy, ox) of an average
 * pool, and its divisor, as ATen's avg_pool2d / adaptive_avg_pool2d compute them. */
static float avg_window(lt_pool_mode mode, const lt_window2d *g, int64_t oy, int64_t ox,
                        int64_t *y0, int64_t *y1, int64_t *x0, int64_t *x1) {
    if (mode == LT_POOL_ADAPTIVE_AVG) {
        *y0 = oy * g->h / g->oh;
        *y1 = ((oy + 1) * g->h + g->oh - 1) / g->oh;
        *x0 = ox * g->w / g->ow;
        *x1 = ((ox + 1) * g->w + g->ow - 1) / g->ow;
        return (float)((*y1 - *y0) * (*x1 - *x0));
    }
    int64_t ys = oy * g->sh - g->ph, xs = ox * g->sw - g->pw;
    int64_t ye = ys + g->kh < g->h + g->ph ? ys + g->kh : g->h + g->ph;
    int64_t xe = xs + g->kw < g->w + g->pw ? xs + g->kw : g->w + g->pw;
    const int64_t padded = (ye - ys) * (xe - xs);
    *y0 = ys < 0 ? 0 : ys;
    *x0 = xs < 0 ? 0 : xs;
    *y1 = ye > g->h ? g->h : ye;
    *x1 = xe > g->w ? g->w : xe;
    return (float)(mode == LT_POOL_AVG ? padded : (*y1 - *y0) * (*x1 - *x0));
}

/* Max over the window of (oy, ox), NaN winning, the first maximum's index kept. */
static float max_window(const lt_window2d *g, const float *plane, int64_t oy, int64_t ox,
                        int64_t *at) {
    float best = -INFINITY;
    int64_t best_i = -1;
    for (int64_t i = 0; i < g->kh; i++) {
        const int64_t y = oy * g->sh - g->ph + i * g->dh;
        if (y < 0 || y >= g->h) continue;
        for (int64_t j = 0; j < g->kw; j++) {
            const int64_t x = ox * g->sw - g->pw + j * g->dw;
            if (x < 0 || x >= g->w) continue;
            const float v = plane[y * g->w + x];
            if (best_i < 0 || v > best || isnan(v)) {
                best = v;
                best_i = y * g->w + x;
                if (isnan(v)) {
                    *at = best_i;
                    return v;
                }
            }
        }
    }
    *at = best_i;
    return best;
}

/* 2x2 windows at stride 2 that lie inside the plane (no padding or dilation): the cnn's
 * pool. max_window's comparisons in its order, without its per-element bounds checks,
 * which made the generic loop 5x slower here (bench/RESULTS.md). */
static bool is_max_2x2(const lt_window2d *g) {
    return g->kh == 2 && g->kw == 2 && g->sh == 2 && g->sw == 2 && g->ph == 0 && g->pw == 0 &&
           g->dh == 1 && g->dw == 1 && 2 * g->oh <= g->h && 2 * g->ow <= g->w;
}

/* One candidate k in max_window's rule: a larger value wins, and the first NaN wins for
 * good. Selects instead of branches: whether v > best is a coin flip on real activations,
 * and the mispredictions cost more than the loads (bench/RESULTS.md). */
static inline void max_take(float v, int32_t k, float *best, int32_t *best_k) {
    const int take = (v > *best) | ((v != v) & (*best == *best));
    *best = take ? v : *best;
    *best_k = take ? k : *best_k;
}

/* Window offsets k (0..3, row-major in the window) of a run of at most MAX_RUN outputs. */
#define MAX_RUN 64

typedef float v4f __attribute__((vector_size(16)));
typedef int32_t v4i __attribute__((vector_size(16)));

static inline v4f v4_load(const float *p) {
    v4f v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* max_take on four windows at once: the same comparisons, as lane masks. */
static inline void v4_take(v4f v, int32_t k, v4f *best, v4i *best_k) {
    const v4i take = (v > *best) | ((v != v) & (*best == *best));
    *best = (v4f)((take & (v4i)v) | (~take & (v4i)*best));
    *best_k = (take & k) | (~take & *best_k);
}

/* GCC 12 leaves max_take's loop scalar (strided loads and mixed compares), so four
 * windows go through vector extensions: deinterleave each row pair into even and odd
 * columns, then max_take's order. */
#define EVEN(a, b) __builtin_shufflevector(a, b, 0, 2, 4, 6)
#define ODD(a, b) __builtin_shufflevector(a, b, 1, 3, 5, 7)

static void max_run_2x2(const float *r0, const float *r1, int64_t n, float *y, int32_t *ks) {
    int64_t ox = 0;
    for (; ox + 4 <= n; ox += 4) {
        const v4f a0 = v4_load(r0 + 2 * ox), a1 = v4_load(r0 + 2 * ox + 4);
        const v4f b0 = v4_load(r1 + 2 * ox), b1 = v4_load(r1 + 2 * ox + 4);
        v4f best = EVEN(a0, a1);
        v4i k = {0, 0, 0, 0};
        v4_take(ODD(a0, a1), 1, &best, &k);
        v4_take(EVEN(b0, b1), 2, &best, &k);
        v4_take(ODD(b0, b1), 3, &best, &k);
        memcpy(y + ox, &best, sizeof best);
        memcpy(ks + ox, &k, sizeof k);
    }
    for (; ox < n; ox++) {
        float best = r0[2 * ox];
        int32_t k = 0;
        max_take(r0[2 * ox + 1], 1, &best, &k);
        max_take(r1[2 * ox], 2, &best, &k);
        max_take(r1[2 * ox + 1], 3, &best, &k);
        y[ox] = best;
        ks[ox] = k;
    }
}

static void max_row_2x2(const float *r0, const float *r1, int64_t w, int64_t ow, int64_t i0,
                        float *y, int64_t *idx) {
    int32_t ks[MAX_RUN];
    for (int64_t o0 = 0; o0 < ow; o0 += MAX_RUN) {
        const int64_t n = ow - o0 < MAX_RUN ? ow - o0 : MAX_RUN;
        max_run_2x2(r0 + 2 * o0, r1 + 2 * o0, n, y + o0, ks);
        for (int64_t j = 0; j < n; j++)
            idx[o0 + j] = i0 + 2 * (o0 + j) + (ks[j] & 1) + (ks[j] >> 1) * w;
    }
}

#if CPU_AVX512_BUILT
#include <immintrin.h>

/* max_take on 16 windows: the lanes where v wins take it and its offset k. */
CPU_AVX512 static inline void take16(__m512 v, int32_t k, __m512 *best, __m512i *best_k) {
    const __mmask16 take =
        _mm512_cmp_ps_mask(v, *best, _CMP_GT_OQ) |
        (_mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q) & _mm512_cmp_ps_mask(*best, *best, _CMP_ORD_Q));
    *best = _mm512_mask_mov_ps(*best, take, v);
    *best_k = _mm512_mask_mov_epi32(*best_k, take, _mm512_set1_epi32(k));
}

/* max_row_2x2 sixteen windows at a time, the row's end masked: on rows of 14 outputs (the
 * cnn's 28-wide planes) the 4-wide loop left a scalar tail and a scalar index loop on every
 * row. The same comparisons in the same order, so the same results. */
CPU_AVX512 static void max_row_2x2_avx512(const float *r0, const float *r1, int64_t w, int64_t ow,
                                          int64_t i0, float *y, int64_t *idx) {
    const __m512i even =
        _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
    const __m512i odd = _mm512_add_epi32(even, _mm512_set1_epi32(1));
    for (int64_t o0 = 0; o0 < ow; o0 += 16) {
        const int64_t n = ow - o0 < 16 ? ow - o0 : 16, in = 2 * n;
        const __mmask16 out = (__mmask16)((1u << n) - 1);
        const __mmask16 m0 = (__mmask16)(in >= 16 ? 0xffffu : (1u << in) - 1);
        const __mmask16 m1 = (__mmask16)(in > 16 ? (1u << (in - 16)) - 1 : 0u);
        const float *a = r0 + 2 * o0, *b = r1 + 2 * o0;
        const __m512 a0 = _mm512_maskz_loadu_ps(m0, a), a1 = _mm512_maskz_loadu_ps(m1, a + 16);
        const __m512 b0 = _mm512_maskz_loadu_ps(m0, b), b1 = _mm512_maskz_loadu_ps(m1, b + 16);
        __m512 best = _mm512_permutex2var_ps(a0, even, a1);
        __m512i k = _mm512_setzero_si512();
        take16(_mm512_permutex2var_ps(a0, odd, a1), 1, &best, &k);
        take16(_mm512_permutex2var_ps(b0, even, b1), 2, &best, &k);
        take16(_mm512_permutex2var_ps(b0, odd, b1), 3, &best, &k);
        _mm512_mask_storeu_ps(y + o0, out, best);
        /* i0 + 2 (o0 + j) + (k & 1) + (k >> 1) w */
        __m512i pos = _mm512_add_epi32(_mm512_set1_epi32((int32_t)(i0 + 2 * o0)), even);
        pos = _mm512_add_epi32(pos, _mm512_and_si512(k, _mm512_set1_epi32(1)));
        pos = _mm512_mask_add_epi32(pos, _mm512_cmpge_epi32_mask(k, _mm512_set1_epi32(2)), pos,
                                    _mm512_set1_epi32((int32_t)w));
        _mm512_mask_storeu_epi64(idx + o0, (__mmask8)(out & 0xff),
                                 _mm512_cvtepi32_epi64(_mm512_castsi512_si256(pos)));
        _mm512_mask_storeu_epi64(idx + o0 + 8, (__mmask8)(out >> 8),
                                 _mm512_cvtepi32_epi64(_mm512_extracti64x4_epi64(pos, 1)));
    }
}
#endif

static void max_plane_2x2(const win_args *a, const float *plane, float *y, int64_t *idx) {
    const lt_window2d *g = a->g;
    for (int64_t oy = 0; oy < g->oh; oy++) {
        const int64_t i0 = 2 * oy * g->w;
#if CPU_AVX512_BUILT
        if (a->avx512) {
            max_row_2x2_avx512(plane + i0, plane + i0 + g->w, g->w, g->ow, i0, y + oy * g->ow,
                               idx + oy * g->ow);
            continue;
        }
#endif
        max_row_2x2(plane + i0, plane + i0 + g->w, g->w, g->ow, i0, y + oy * g->ow,
                    idx + oy * g->ow);
    }
}

static void pool_plane(const win_args *a, int64_t pl) {
    const lt_window2d *g = a->g;
    const float *plane = a->in + pl * g->h * g->w;
    float *y = a->out + pl * g->oh * g->ow;
    int64_t *idx = a->idx_out ? a->idx_out + pl * g->oh * g->ow : NULL;
    if (a->mode == LT_POOL_MAX && is_max_2x2(g)) {
        max_plane_2x2(a, plane, y, idx);
        return;
    }
    for (int64_t oy = 0; oy < g->oh; oy++)
        for (int64_t ox = 0; ox < g->ow; ox++, y++) {
            if (a->mode == LT_POOL_MAX) {
                *y = max_window(g, plane, oy, ox, idx++);
                continue;
            }
            int64_t y0, y1, x0, x1;
            const float div = avg_window(a->mode, g, oy, ox, &y0, &y1, &x0, &x1);
            float sum = 0.0f;
            for (int64_t r = y0; r < y1; r++)
                for (int64_t c = x0; c < x1; c++) sum += plane[r * g->w + c];
            *y = sum / div;
        }
}

static void pool_span(const void *p, int64_t lo, int64_t hi) {
    for (int64_t pl = lo; pl < hi; pl++) pool_plane(p, pl);
}

void cpu_pool2d(void *st, lt_pool_mode mode, const lt_window2d *g, const float *d_x, float *d_y,
                int64_t *d_idx) {
    const win_args a = {.g = g,
                        .mode = mode,
                        .in = d_x,
                        .out = d_y,
                        .idx_out = d_idx,
                        .avx512 =
                            ((const cpu_state *)st)->blas.isa.avx512f && g->h * g->w <= INT32_MAX};
    cpu_parallel_for(st, g->n * g->c, g->oh * g->ow * g->kh * g->kw, pool_span, &a);
}

static void pool_bwd_plane(const win_args *a, int64_t pl) {
    const lt_window2d *g = a->g;
    const float *dy = a->in + pl * g->oh * g->ow;
    float *dx = a->out + pl * g->h * g->w;
    memset(dx, 0, (size_t)(g->h * g->w) * sizeof *dx);
    if (a->mode == LT_POOL_MAX) {
        const int64_t *idx = a->idx_in + pl * g->oh * g->ow;
        for (int64_t o = 0; o < g->oh * g->ow; o++)
            if (idx[o] >= 0) dx[idx[o]] += dy[o];
        return;
    }
    for (int64_t oy = 0; oy < g->oh; oy++)
        for (int64_t ox = 0; ox < g->ow; ox++) {
            int64_t y0, y1, x0, x1;
            const float share =
                dy[oy * g->ow + ox] / avg_window(a->mode, g, oy, ox, &y0, &y1, &x0, &x1);
            for (int64_t r = y0; r < y1; r++)
                for (int64_t c = x0; c < x1; c++) dx[r * g->w + c] += share;
        }
}

static void pool_bwd_span(const void *p, int64_t lo, int64_t hi) {
    for (int64_t pl = lo; pl < hi; pl++) pool_bwd_plane(p, pl);
}

void cpu_pool2d_bwd(void *st, lt_pool_mode mode, const lt_window2d *g, const float *d_dy,
                    const int64_t *d_idx, float *d_dx) {
    const win_args a = {.g = g, .mode = mode, .in = d_dy, .out = d_dx, .idx_in = d_idx};
    cpu_parallel_for(st, g->n * g->c, g->oh * g->ow * g->kh * g->kw, pool_bwd_span, &a);
}
