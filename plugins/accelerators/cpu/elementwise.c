/* elementwise.c — unary and binary float kernels, binary ones with PyTorch broadcasting.
 *
 * Each op's formula is written once, in un_loop / bin_loop. bin_loop is force-inlined
 * into a few stride specialisations so the compiler sees constant strides and
 * vectorises. Arithmetic loops carry `omp simd` rather than restrict pointers: element i
 * reads only x[i] (a[i*sa], b[i*sb]) and writes out[i], so there is no loop-carried
 * dependence even in place (out == x, out == a or out == b), where restrict would be a
 * lie. Loops that call libm (tanhf, expf, ...) stay plain: without -ffast-math there is no
 * vector variant to call, and clang warns when a requested simd loop fails. The spans are
 * cloned for the CPU's widest vectors (CPU_WIDEST): the same arithmetic in each.
 * Formulas follow ATen's CPU kernels, operand order included. */
#include <math.h>

#include "../shared/lt_formulas.h"
#include "cpu_impl.h"
#include "vmath.h"

#define ALWAYS_INLINE static inline __attribute__((always_inline))

/* The scalar formulas (relu, sigmoid and the backwards) are the cuda kernels' too:
 * ../shared/lt_formulas.h. GELU and its backward use vmath.h's vectorisable erf and exp
 * instead of libm's scalar calls (within 4e-7 of the exact GELU). */

/* ---- unary ----------------------------------------------------------------------- */

/* _Pragma in these case macros confuses clang-format 14. */
/* clang-format off */
#define UN_LOOP(EXPR)                                                                  \
    for (int64_t i = 0; i < n; i++) {                                                  \
        const float v = x[i];                                                          \
        out[i] = (EXPR);                                                               \
    }
#define UN_SIMD(OP, EXPR) case OP: _Pragma("omp simd") UN_LOOP(EXPR) break;
#define UN_CALL(OP, EXPR) case OP: UN_LOOP(EXPR) break;

ALWAYS_INLINE void un_loop(lt_unary_op op, int64_t n, const float *x, float *out) {
    switch (op) {
        UN_SIMD(LT_UN_NEG, -v)
        UN_SIMD(LT_UN_RELU, lt_relu_f(v))
        UN_SIMD(LT_UN_GELU, cpu_gelu_v(v))
        UN_CALL(LT_UN_TANH, tanhf(v))
        UN_CALL(LT_UN_SIGMOID, lt_sigmoid_f(v))
        UN_CALL(LT_UN_EXP, expf(v))
        UN_CALL(LT_UN_LOG, logf(v))
        UN_CALL(LT_UN_SQRT, sqrtf(v)) /* sqrtf keeps an errno branch without -fno-math-errno */
        UN_SIMD(LT_UN_SQUARE, v * v)
    case LT_UN_COUNT:
        break;
    }
}
#undef UN_SIMD
#undef UN_CALL
#undef UN_LOOP
/* clang-format on */

typedef struct {
    lt_unary_op op;
    const float *x;
    float *out;
} un_args;

CPU_WIDEST static void un_span(const void *p, int64_t lo, int64_t hi) {
    const un_args *g = p;
    un_loop(g->op, hi - lo, g->x + lo, g->out + lo);
}

void cpu_unary(void *st, lt_unary_op op, int64_t n, const float *d_x, float *d_out) {
    const un_args g = {.op = op, .x = d_x, .out = d_out};
    cpu_parallel_for(st, n, 1, un_span, &g);
}

/* ---- binary: the per-op loop ------------------------------------------------------ */

/* out[i] = op(a[i*sa], b[i*sb]) for i < n. */
/* clang-format off */
#define BIN_LOOP(EXPR)                                                                 \
    for (int64_t i = 0; i < n; i++) {                                                  \
        const float x = a[i * sa], y = b[i * sb];                                      \
        out[i] = (EXPR);                                                               \
    }
#define BIN_SIMD(OP, EXPR) case OP: _Pragma("omp simd") BIN_LOOP(EXPR) break;

ALWAYS_INLINE void bin_loop(lt_binary_op op, int64_t n, const float *a, int64_t sa,
                            const float *b, int64_t sb, float *out) {
    switch (op) {
        BIN_SIMD(LT_BIN_ADD, x + y)
        BIN_SIMD(LT_BIN_SUB, x - y)
        BIN_SIMD(LT_BIN_MUL, x * y)
        BIN_SIMD(LT_BIN_DIV, x / y)
        BIN_SIMD(LT_BIN_RELU_BWD, lt_relu_bwd_f(x, y))
        BIN_SIMD(LT_BIN_GELU_BWD, cpu_gelu_bwd_v(x, y))
        BIN_SIMD(LT_BIN_TANH_BWD, lt_tanh_bwd_f(x, y))
        BIN_SIMD(LT_BIN_SIGMOID_BWD, lt_sigmoid_bwd_f(x, y))
    case LT_BIN_COUNT:
        break;
    }
}
#undef BIN_SIMD
#undef BIN_LOOP
/* clang-format on */

/* The stride pairs broadcasting produces, each compiled with constant strides:
 * same size (1,1), b scalar or row-broadcast (1,0), a scalar (0,1); anything else
 * (both broadcast along the last dimension) takes the generic strided loop. */
ALWAYS_INLINE void bin_inner(lt_binary_op op, int64_t n, const float *a, int64_t sa, const float *b,
                             int64_t sb, float *out) {
    if (sa == 1 && sb == 1)
        bin_loop(op, n, a, 1, b, 1, out);
    else if (sa == 1 && sb == 0)
        bin_loop(op, n, a, 1, b, 0, out);
    else if (sa == 0 && sb == 1)
        bin_loop(op, n, a, 0, b, 1, out);
    else
        bin_loop(op, n, a, sa, b, sb, out);
}

/* ---- binary: broadcast views ------------------------------------------------------ */

/* A broadcast with size-1 dimensions dropped and mergeable neighbours merged, so a
 * row-vector bias over (N, C) is 2-D whatever the tensors' ranks, and same-shape or
 * scalar operands are 1-D. */
typedef struct {
    int ndim;                   /* >= 1 */
    int64_t shape[LT_MAX_DIMS]; /* of out */
    int64_t sa[LT_MAX_DIMS];    /* element strides of a (0: broadcast) */
    int64_t sb[LT_MAX_DIMS];    /* element strides of b (0: broadcast) */
} bin_view;

static void view_push(bin_view *v, int64_t size, int64_t sa, int64_t sb) {
    v->shape[v->ndim] = size;
    v->sa[v->ndim] = sa;
    v->sb[v->ndim] = sb;
    v->ndim++;
}

static void view_from_bcast(const lt_bcast *bc, bin_view *v) {
    v->ndim = 0;
    for (int d = 0; d < bc->ndim; d++) {
        const int64_t size = bc->shape[d], sa = bc->a_stride[d], sb = bc->b_stride[d];
        if (size == 1) continue;
        const int k = v->ndim - 1;
        /* The kept outer dimension k steps over exactly this one: fold it in. */
        if (k >= 0 && v->sa[k] == sa * size && v->sb[k] == sb * size) {
            v->shape[k] *= size;
            v->sa[k] = sa;
            v->sb[k] = sb;
            continue;
        }
        view_push(v, size, sa, sb);
    }
    if (v->ndim == 0) view_push(v, 1, 0, 0); /* every dimension was 1: one element */
}

/* Offsets into a and b of the first element of row r (rows: all but the last dim). */
static void view_seek(const bin_view *v, int64_t r, int64_t *idx, int64_t *oa, int64_t *ob) {
    *oa = *ob = 0;
    for (int d = v->ndim - 2; d >= 0; d--) {
        idx[d] = r % v->shape[d];
        r /= v->shape[d];
        *oa += idx[d] * v->sa[d];
        *ob += idx[d] * v->sb[d];
    }
}

/* Step the row index like an odometer, keeping the offsets in step. */
static void view_next(const bin_view *v, int64_t *idx, int64_t *oa, int64_t *ob) {
    for (int d = v->ndim - 2; d >= 0; d--) {
        *oa += v->sa[d];
        *ob += v->sb[d];
        if (++idx[d] < v->shape[d]) return;
        *oa -= v->sa[d] * v->shape[d];
        *ob -= v->sb[d] * v->shape[d];
        idx[d] = 0;
    }
}

/* ---- binary: spans ---------------------------------------------------------------- */

typedef struct {
    lt_binary_op op;
    const float *a, *b;
    float *out;
    const bin_view *v;
} bin_args;

/* 1-D view: items are elements. */
CPU_WIDEST static void bin_flat_span(const void *p, int64_t lo, int64_t hi) {
    const bin_args *g = p;
    const int64_t sa = g->v->sa[0], sb = g->v->sb[0];
    bin_inner(g->op, hi - lo, g->a + lo * sa, sa, g->b + lo * sb, sb, g->out + lo);
}

/* N-D view: items are rows of the last dimension; out is contiguous. */
CPU_WIDEST static void bin_rows_span(const void *p, int64_t lo, int64_t hi) {
    const bin_args *g = p;
    const bin_view *v = g->v;
    const int last = v->ndim - 1;
    const int64_t cols = v->shape[last];
    int64_t idx[LT_MAX_DIMS], oa, ob;
    view_seek(v, lo, idx, &oa, &ob);
    for (int64_t r = lo; r < hi; r++) {
        bin_inner(g->op, cols, g->a + oa, v->sa[last], g->b + ob, v->sb[last], g->out + r * cols);
        view_next(v, idx, &oa, &ob);
    }
}

void cpu_binary(void *st, lt_binary_op op, int64_t n, const float *d_a, const float *d_b,
                float *d_out, const lt_bcast *bc) {
    if (n <= 0) return;
    bin_view v = {.ndim = 0};
    if (bc)
        view_from_bcast(bc, &v);
    else
        view_push(&v, n, 1, 1);
    const bin_args g = {.op = op, .a = d_a, .b = d_b, .out = d_out, .v = &v};
    if (v.ndim == 1) {
        cpu_parallel_for(st, v.shape[0], 1, bin_flat_span, &g);
        return;
    }
    int64_t rows = 1;
    for (int d = 0; d < v.ndim - 1; d++) rows *= v.shape[d];
    cpu_parallel_for(st, rows, v.shape[v.ndim - 1], bin_rows_span, &g);
}
