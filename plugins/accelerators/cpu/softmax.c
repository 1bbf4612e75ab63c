/* softmax.c — row-wise softmax, log-softmax, their backwards, and cross-entropy fused
 * with softmax. Every kernel works on (rows, cols), one row at a time; rows are split
 * across threads. Max-subtraction keeps exp() in range; sums accumulate in double, in
 * eight lanes the source fixes (so they vectorise to the same bits on every ISA), and
 * exp is vmath.h's vectorisable one. Each row reads input element i before writing
 * output element i, so in place works. */
#include <math.h>

#include "cpu_impl.h"
#include "vmath.h"

/* Inlined into each CPU_WIDEST clone of the spans, so they get its vectors. */
#define ROW_INLINE static inline __attribute__((always_inline))

/* ---- per-row helpers ------------------------------------------------------------- */

#define MAX_LANES 16
#define SUM_LANES 8

/* In MAX_LANES lanes, so the loop is vector maxes rather than one chain of dependent
 * scalar ones (4 cycles each: most of a 128-wide row's softmax); the maximum is the same
 * whatever the order. NaN in the row propagates to the result through exp() later, as
 * in torch. */
ROW_INLINE float row_max(const float *x, int64_t n) {
    float mx = x[0];
    int64_t i = 1;
    if (n >= 2 * MAX_LANES) {
        float lane[MAX_LANES];
        for (int j = 0; j < MAX_LANES; j++) lane[j] = x[j];
        for (i = MAX_LANES; i + MAX_LANES <= n; i += MAX_LANES)
            for (int j = 0; j < MAX_LANES; j++) lane[j] = x[i + j] > lane[j] ? x[i + j] : lane[j];
        for (int j = 0; j < MAX_LANES; j++) mx = lane[j] > mx ? lane[j] : mx;
    }
    for (; i < n; i++) mx = x[i] > mx ? x[i] : mx;
    return mx;
}

/* Sums in double in SUM_LANES lanes (lane j takes elements j, j + 8, ...), then the lanes
 * in order: the loops vectorise, and the order is the source's on every ISA. */
ROW_INLINE double lanes_total(const double lane[SUM_LANES]) {
    double s = 0;
    for (int j = 0; j < SUM_LANES; j++) s += lane[j];
    return s;
}

ROW_INLINE double sum_f64(const float *x, int64_t n) {
    double lane[SUM_LANES] = {0};
    int64_t i = 0;
    for (; i + SUM_LANES <= n; i += SUM_LANES)
        for (int j = 0; j < SUM_LANES; j++) lane[j] += x[i + j];
    for (int j = 0; i < n; i++, j++) lane[j] += x[i];
    return lanes_total(lane);
}

/* y[i] = exp(x[i] - mx); returns the sum of the y. */
ROW_INLINE double exp_shifted(const float *x, float mx, float *y, int64_t n) {
#pragma omp simd
    for (int64_t i = 0; i < n; i++) y[i] = cpu_expf_v(x[i] - mx);
    return sum_f64(y, n);
}

/* max + log(sum exp(x - max)), in double, the exps summed as exp_shifted's are. */
ROW_INLINE double row_logsumexp(const float *x, int64_t n) {
    const float mx = row_max(x, n);
    double lane[SUM_LANES] = {0};
    int64_t i = 0;
    for (; i + SUM_LANES <= n; i += SUM_LANES)
        for (int j = 0; j < SUM_LANES; j++) lane[j] += cpu_expf_v(x[i + j] - mx);
    for (int j = 0; i < n; i++, j++) lane[j] += cpu_expf_v(x[i] - mx);
    return (double)mx + log(lanes_total(lane));
}

ROW_INLINE void softmax_row(const float *x, float *y, int64_t n) {
    const double s = exp_shifted(x, row_max(x, n), y, n);
    const float inv = (float)(1.0 / s);
#pragma omp simd
    for (int64_t i = 0; i < n; i++) y[i] *= inv;
}

ROW_INLINE void log_softmax_row(const float *x, float *y, int64_t n) {
    const float lse = (float)row_logsumexp(x, n);
#pragma omp simd
    for (int64_t i = 0; i < n; i++) y[i] = x[i] - lse;
}

/* In SUM_LANES lanes, as sum_f64. */
ROW_INLINE double dot_f64(const float *a, const float *b, int64_t n) {
    double lane[SUM_LANES] = {0};
    int64_t i = 0;
    for (; i + SUM_LANES <= n; i += SUM_LANES)
        for (int j = 0; j < SUM_LANES; j++) lane[j] += (double)a[i + j] * b[i + j];
    for (int j = 0; i < n; i++, j++) lane[j] += (double)a[i] * b[i];
    return lanes_total(lane);
}

/* dx = y * (dy - sum(dy * y)) */
ROW_INLINE void softmax_bwd_row(const float *y, const float *dy, float *dx, int64_t n) {
    const float dot = (float)dot_f64(dy, y, n);
#pragma omp simd
    for (int64_t i = 0; i < n; i++) dx[i] = y[i] * (dy[i] - dot);
}

/* dx = dy - exp(y) * sum(dy) */
ROW_INLINE void log_softmax_bwd_row(const float *y, const float *dy, float *dx, int64_t n) {
    const float sum = (float)sum_f64(dy, n);
#pragma omp simd
    for (int64_t i = 0; i < n; i++) dx[i] = dy[i] - cpu_expf_v(y[i]) * sum;
}

/* ---- row kernels over (rows, cols) ----------------------------------------------- */

typedef struct {
    const float *x;       /* (rows, cols): x, or y for the backwards */
    const float *dy;      /* (rows, cols), backwards only */
    float *out;           /* (rows, cols) */
    const int64_t *label; /* (rows), cross-entropy only */
    const float *dloss;   /* (rows), cross-entropy backward only */
    float *loss;          /* (rows), cross-entropy only */
    int64_t cols;
} row_args;

CPU_WIDEST static void softmax_span(const void *p, int64_t lo, int64_t hi) {
    const row_args *g = p;
    for (int64_t r = lo; r < hi; r++)
        softmax_row(g->x + r * g->cols, g->out + r * g->cols, g->cols);
}

CPU_WIDEST static void log_softmax_span(const void *p, int64_t lo, int64_t hi) {
    const row_args *g = p;
    for (int64_t r = lo; r < hi; r++)
        log_softmax_row(g->x + r * g->cols, g->out + r * g->cols, g->cols);
}

CPU_WIDEST static void softmax_bwd_span(const void *p, int64_t lo, int64_t hi) {
    const row_args *g = p;
    for (int64_t r = lo; r < hi; r++) {
        const int64_t o = r * g->cols;
        softmax_bwd_row(g->x + o, g->dy + o, g->out + o, g->cols);
    }
}

CPU_WIDEST static void log_softmax_bwd_span(const void *p, int64_t lo, int64_t hi) {
    const row_args *g = p;
    for (int64_t r = lo; r < hi; r++) {
        const int64_t o = r * g->cols;
        log_softmax_bwd_row(g->x + o, g->dy + o, g->out + o, g->cols);
    }
}

void cpu_softmax(void *st, int64_t rows, int64_t cols, const float *d_x, float *d_y) {
    if (cols <= 0) return;
    const row_args g = {.x = d_x, .out = d_y, .cols = cols};
    cpu_parallel_for(st, rows, cols, softmax_span, &g);
}

void cpu_log_softmax(void *st, int64_t rows, int64_t cols, const float *d_x, float *d_y) {
    if (cols <= 0) return;
    const row_args g = {.x = d_x, .out = d_y, .cols = cols};
    cpu_parallel_for(st, rows, cols, log_softmax_span, &g);
}

void cpu_softmax_bwd(void *st, int64_t rows, int64_t cols, const float *d_y, const float *d_dy,
                     float *d_dx) {
    if (cols <= 0) return;
    const row_args g = {.x = d_y, .dy = d_dy, .out = d_dx, .cols = cols};
    cpu_parallel_for(st, rows, cols, softmax_bwd_span, &g);
}

void cpu_log_softmax_bwd(void *st, int64_t rows, int64_t cols, const float *d_y, const float *d_dy,
                         float *d_dx) {
    if (cols <= 0) return;
    const row_args g = {.x = d_y, .dy = d_dy, .out = d_dx, .cols = cols};
    cpu_parallel_for(st, rows, cols, log_softmax_bwd_span, &g);
}

/* ---- cross-entropy ------------------------------------------------------------------ */

static int label_ok(int64_t label, int64_t cols) { return label >= 0 && label < cols; }

/* loss[r] = logsumexp(x[r]) - x[r, label] (NaN for a bad label); prob[r] = softmax. */
CPU_WIDEST static void ce_span(const void *p, int64_t lo, int64_t hi) {
    const row_args *g = p;
    for (int64_t r = lo; r < hi; r++) {
        const float *x = g->x + r * g->cols;
        float *prob = g->out + r * g->cols;
        const int64_t l = g->label[r];
        const double xl = label_ok(l, g->cols) ? x[l] : NAN; /* read before prob is written */
        const float mx = row_max(x, g->cols);
        const double s = exp_shifted(x, mx, prob, g->cols);
        const float inv = (float)(1.0 / s);
#pragma omp simd
        for (int64_t i = 0; i < g->cols; i++) prob[i] *= inv;
        g->loss[r] = (float)((double)mx + log(s) - xl);
    }
}

int64_t cpu_cross_entropy(void *st, int64_t rows, int64_t cols, const float *d_x,
                          const int64_t *d_label, float *d_loss, float *d_prob) {
    /* Checked up front, serially: O(rows), and the first bad row is then well defined. */
    int64_t bad = -1;
    for (int64_t r = 0; r < rows && bad < 0; r++)
        if (!label_ok(d_label[r], cols)) bad = r;
    if (cols <= 0) return bad;
    const row_args g = {.x = d_x, .out = d_prob, .label = d_label, .loss = d_loss, .cols = cols};
    cpu_parallel_for(st, rows, cols, ce_span, &g);
    return bad;
}

/* dx = (prob - onehot(label)) * dloss[row] */
static void ce_bwd_span(const void *p, int64_t lo, int64_t hi) {
    const row_args *g = p;
    for (int64_t r = lo; r < hi; r++) {
        const float *prob = g->x + r * g->cols;
        float *dx = g->out + r * g->cols;
        const float d = g->dloss[r];
        const int64_t l = g->label[r];
        const float pl = label_ok(l, g->cols) ? prob[l] : 0.0f;
#pragma omp simd
        for (int64_t i = 0; i < g->cols; i++) dx[i] = prob[i] * d;
        if (label_ok(l, g->cols)) dx[l] = (pl - 1.0f) * d;
    }
}

void cpu_cross_entropy_bwd(void *st, int64_t rows, int64_t cols, const float *d_prob,
                           const int64_t *d_label, const float *d_dloss, float *d_dx) {
    if (cols <= 0) return;
    const row_args g = {.x = d_prob, .label = d_label, .dloss = d_dloss, .out = d_dx, .cols = cols};
    cpu_parallel_for(st, rows, cols, ce_bwd_span, &g);
}
