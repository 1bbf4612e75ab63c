/* ops_pointwise.c — fill, affine, clamp, unary, eq_i64, binary with broadcasting, and
 * the mixed-precision slots (unscale_grads, round_half) against host references. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops_check.h"

/* Beyond one launch of 65535 blocks of 256 threads: the grid-stride loops must cover it. */
#define BIG_N ((int64_t)65535 * 256 + 7)

static const char *const unary_names[LT_UN_COUNT] = {"neg", "relu", "gelu", "tanh",  "sigmoid",
                                                     "exp", "log",  "sqrt", "square"};
static const char *const binary_names[LT_BIN_COUNT] = {
    "add", "sub", "mul", "div", "relu_bwd", "gelu_bwd", "tanh_bwd", "sigmoid_bwd"};

/* ---- fill, affine, clamp, eq ----------------------------------------------------------- */

static void check_simple(check_ctx *c, int64_t n) {
    char name[96];
    buf x = buf_floats(c, n, -3, 3), y = buf_out(c, n, sizeof(float));
    HF(x)[0] = NAN; /* clamp passes NaN through */
    buf_sync_in(c, &x);
    ON_BOTH(c, fill, n, 3.25f, D(y));
    snprintf(name, sizeof name, "fill n=%lld", (long long)n);
    buf_check(c, name, &y, TOL_EXACT);
    ON_BOTH(c, affine, n, D(x), 1.5f, -0.25f, D(y));
    snprintf(name, sizeof name, "affine n=%lld", (long long)n);
    buf_check(c, name, &y, TOL_F32);
    ON_BOTH(c, affine, n, D(y), -2.0f, 0.5f, D(y));
    snprintf(name, sizeof name, "affine in place n=%lld", (long long)n);
    buf_check(c, name, &y, TOL_F32);
    if (c->acc[REF].k->clamp && c->acc[DUT].k->clamp) {
        ON_BOTH(c, clamp, n, D(x), -0.5f, 0.75f, D(y));
        snprintf(name, sizeof name, "clamp n=%lld", (long long)n);
        buf_check(c, name, &y, TOL_EXACT);
    }
    buf_free(c, &x);
    buf_free(c, &y);
    buf a = buf_labels(c, n, 3), b = buf_labels(c, n, 3), e = buf_out(c, n, sizeof(float));
    ON_BOTH(c, eq_i64, n, D(a), D(b), D(e));
    snprintf(name, sizeof name, "eq_i64 n=%lld", (long long)n);
    buf_check(c, name, &e, TOL_EXACT);
    buf_free(c, &a);
    buf_free(c, &b);
    buf_free(c, &e);
}

/* Inputs where each op is interesting; log and sqrt also get negatives (NaN both sides). */
static void unary_range(lt_unary_op op, float *lo, float *hi) {
    *lo = -5;
    *hi = 5;
    if (op == LT_UN_EXP) *lo = -20, *hi = 20;
    if (op == LT_UN_LOG || op == LT_UN_SQRT) *lo = -1, *hi = 50;
}

static void check_unary(check_ctx *c, lt_unary_op op, int64_t n) {
    float lo, hi;
    unary_range(op, &lo, &hi);
    buf x = buf_floats(c, n, lo, hi), y = buf_out(c, n, sizeof(float));
    char name[96];
    ON_BOTH(c, unary, op, n, D(x), D(y));
    snprintf(name, sizeof name, "unary %s n=%lld", unary_names[op], (long long)n);
    buf_check(c, name, &y, TOL_F32);
    ON_BOTH(c, unary, op, n, D(x), D(x)); /* in place */
    snprintf(name, sizeof name, "unary %s in place n=%lld", unary_names[op], (long long)n);
    buf_check(c, name, &x, TOL_F32);
    buf_free(c, &x);
    buf_free(c, &y);
}

void check_elementwise(check_ctx *c) {
    static const int64_t sizes[] = {1, 7, 1000, 4099};
    for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) {
        check_simple(c, sizes[s]);
        for (int op = 0; op < LT_UN_COUNT; op++) check_unary(c, (lt_unary_op)op, sizes[s]);
    }
    check_simple(c, BIG_N);
    check_unary(c, LT_UN_RELU, BIG_N);
    check_unary(c, LT_UN_GELU, BIG_N);
}

/* ---- binary ----------------------------------------------------------------------------- */

typedef struct bcast_case {
    int ndim;
    int64_t out[4], a[4], b[4]; /* a and b: 1 where broadcast */
} bcast_case;

/* The lt_bcast of a case, and the element counts of out, a and b. */
static lt_bcast make_bcast(const bcast_case *k, int64_t *n, int64_t *na, int64_t *nb) {
    lt_bcast bc = {.ndim = k->ndim};
    int64_t sa = 1, sb = 1;
    *n = 1;
    for (int d = k->ndim - 1; d >= 0; d--) {
        bc.shape[d] = k->out[d];
        bc.a_stride[d] = k->a[d] == 1 ? 0 : sa;
        bc.b_stride[d] = k->b[d] == 1 ? 0 : sb;
        sa *= k->a[d];
        sb *= k->b[d];
        *n *= k->out[d];
    }
    *na = sa;
    *nb = sb;
    return bc;
}

/* b's range keeps division away from 0. */
static buf binary_operand(check_ctx *c, lt_binary_op op, int64_t n, int second) {
    if (second && op == LT_BIN_DIV) {
        buf b = buf_floats(c, n, 0.5f, 2.0f);
        for (int64_t i = 0; i < n; i += 2) HF(b)[i] = -HF(b)[i];
        buf_sync_in(c, &b);
        return b;
    }
    return buf_floats(c, n, -3, 3);
}

static void check_binary_case(check_ctx *c, lt_binary_op op, const bcast_case *k) {
    int64_t n, na, nb;
    const lt_bcast bc = make_bcast(k, &n, &na, &nb);
    buf a = binary_operand(c, op, na, 0), b = binary_operand(c, op, nb, 1);
    buf y = buf_out(c, n, sizeof(float));
    ON_BOTH(c, binary, op, n, D(a), D(b), D(y), &bc);
    char name[160];
    int len = snprintf(name, sizeof name, "binary %s out (", binary_names[op]);
    for (int d = 0; d < k->ndim; d++)
        len += snprintf(name + len, sizeof name - (size_t)len, "%s%lld", d ? "," : "",
                        (long long)k->out[d]);
    snprintf(name + len, sizeof name - (size_t)len, ") a %lld b %lld elements", (long long)na,
             (long long)nb);
    buf_check(c, name, &y, TOL_F32);
    if (na == n) { /* in place over a */
        ON_BOTH(c, binary, op, n, D(a), D(b), D(a), &bc);
        buf_check(c, "  the same in place", &a, TOL_F32);
    }
    buf_free(c, &a);
    buf_free(c, &b);
    buf_free(c, &y);
}

static void check_binary_flat(check_ctx *c, lt_binary_op op, int64_t n) {
    buf a = binary_operand(c, op, n, 0), b = binary_operand(c, op, n, 1);
    buf y = buf_out(c, n, sizeof(float));
    ON_BOTH(c, binary, op, n, D(a), D(b), D(y), NULL);
    char name[96];
    snprintf(name, sizeof name, "binary %s n=%lld, no broadcast", binary_names[op], (long long)n);
    buf_check(c, name, &y, TOL_F32);
    buf_free(c, &a);
    buf_free(c, &b);
    buf_free(c, &y);
}

void check_binary(check_ctx *c) {
    static const bcast_case cases[] = {
        {2, {64, 10}, {64, 10}, {1, 10}},              /* a bias row */
        {3, {4, 5, 6}, {4, 1, 6}, {1, 5, 1}},          /* both broadcast, different dims */
        {4, {3, 4, 5, 2}, {3, 1, 5, 1}, {1, 4, 1, 2}}, /* both broadcast the last dim too */
        {2, {7, 1}, {7, 1}, {1, 1}},                   /* a column and a scalar */
        {1, {1}, {1}, {1}},                            /* one element */
        {3, {2, 3, 4}, {1, 1, 1}, {2, 3, 4}},          /* a scalar first operand */
        {2, {33, 17}, {33, 1}, {33, 17}},              /* a column broadcast over rows */
    };
    for (int op = 0; op < LT_BIN_COUNT; op++) {
        check_binary_flat(c, (lt_binary_op)op, 1001);
        for (size_t k = 0; k < sizeof cases / sizeof *cases; k++)
            check_binary_case(c, (lt_binary_op)op, &cases[k]);
    }
    const bcast_case big = {2, {BIG_N / 3, 3}, {BIG_N / 3, 3}, {1, 3}};
    check_binary_case(c, LT_BIN_ADD, &big);
    check_binary_flat(c, LT_BIN_MUL, BIG_N);
}

/* ---- mixed precision: host references ----------------------------------------------------- */

/* Nearest bf16, ties to even (NaN stays NaN). */
static float bf16_round(float x) {
    if (x != x) return x;
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    u += 0x7fffu + ((u >> 16) & 1u);
    u &= 0xffff0000u;
    memcpy(&x, &u, sizeof x);
    return x;
}

/* Nearest fp16 value, ties to even, as a float: 11 significant bits, subnormals in steps
 * of 2^-24, and 65520 (halfway to 65536) or more becomes infinity. */
static float fp16_round(float x) {
    if (x != x || isinf(x)) return x;
    const float a = fabsf(x);
    if (a >= 65520.0f) return copysignf(INFINITY, x);
    float q = 5.9604644775390625e-08f; /* 2^-24 */
    if (a >= 6.103515625e-05f) {       /* 2^-14, the least normal */
        int e;
        frexpf(a, &e);
        q = ldexpf(1.0f, e - 11);
    }
    return copysignf(rintf(a / q) * q, x);
}

static void check_round_half(check_ctx *c, int bf16) {
    static const float special[] = {0.0f,           -0.0f,       65504.0f, 65519.0f, 65520.0f,
                                    -70000.f,       1e-8f,       2.98e-8f, 6.1e-5f,  1.0009765625f,
                                    1.00048828125f, 3.0e38f,     NAN,      INFINITY, -INFINITY,
                                    1.001953125f,   33.0078125f, -1e-30f};
    const int64_t n = 4099, ns = (int64_t)(sizeof special / sizeof *special);
    buf x = buf_floats(c, n, -100, 100), y = buf_out(c, n, sizeof(float));
    memcpy(x.h, special, sizeof special);
    for (int64_t i = ns; i < n; i += 3) HF(x)[i] *= 1e-6f; /* small magnitudes too */
    buf_sync_in(c, &x);
    accel *a = &c->acc[DUT];
    a->k->round_half(a->st, n, x.d[DUT], bf16, y.d[DUT]);
    float *got = buf_download(c, &y, DUT);
    int64_t bad = -1;
    for (int64_t i = 0; i < n && bad < 0; i++) {
        const float want = bf16 ? bf16_round(HF(x)[i]) : fp16_round(HF(x)[i]);
        if (!(got[i] == want || (got[i] != got[i] && want != want))) bad = i;
    }
    report(c, bad < 0, "round_half to %s, %lld values (first wrong: %lld: %.9g -> %.9g)",
           bf16 ? "bf16" : "fp16", (long long)n, (long long)bad, bad < 0 ? 0.0 : HF(x)[bad],
           bad < 0 ? 0.0 : got[bad]);
    free(got);
    buf_free(c, &x);
    buf_free(c, &y);
}

/* g *= inv_scale; found (starting at 0.25) becomes 1 only if an input is not finite. */
static void check_unscale(check_ctx *c, int64_t n, int64_t bad_at, float inv_scale) {
    buf g = buf_floats(c, n, -1e4f, 1e4f), found = buf_out(c, 1, sizeof(float));
    if (bad_at >= 0) HF(g)[bad_at] = bad_at % 2 ? INFINITY : NAN;
    buf_sync_in(c, &g);
    *HF(found) = 0.25f;
    buf_sync_in(c, &found);
    accel *a = &c->acc[DUT];
    a->k->unscale_grads(a->st, n, g.d[DUT], inv_scale, found.d[DUT]);
    float *got = buf_download(c, &g, DUT), *flag = buf_download(c, &found, DUT);
    int64_t bad = -1;
    for (int64_t i = 0; i < n && bad < 0; i++) {
        const float v = HF(g)[i], want = inv_scale == 1.0f ? v : v * inv_scale;
        if (!(got[i] == want || (got[i] != got[i] && want != want))) bad = i;
    }
    const float want_flag = bad_at >= 0 ? 1.0f : 0.25f;
    report(c, bad < 0 && *flag == want_flag,
           "unscale_grads n=%lld inv_scale %g, non-finite at %lld: found_inf %g (want %g), first "
           "wrong element %lld",
           (long long)n, inv_scale, (long long)bad_at, *flag, want_flag, (long long)bad);
    free(got);
    free(flag);
    buf_free(c, &g);
    buf_free(c, &found);
}

void check_mixed(check_ctx *c) {
    const lt_accelerator_desc *k = c->acc[DUT].k;
    if (!k->unscale_grads || !k->round_half) {
        printf("skip: unscale_grads/round_half: %s leaves them NULL\n", c->dut_name);
        return;
    }
    check_unscale(c, 1, -1, 1.0f / 65536);
    check_unscale(c, 1000, -1, 0.5f);
    check_unscale(c, BIG_N, BIG_N - 3, 1.0f / 1024); /* a NaN near the end */
    check_unscale(c, 4099, 17, 1.0f);                /* an inf, scale 1 */
    check_round_half(c, 0);
    check_round_half(c, 1);
}
