/* Finite-difference gradient checks (see test_fd.h). */
#include "test_fd.h"

#include <math.h>

#define FD_MAX_OUT 4096

static int64_t numel_of(const test_fd_input *s) {
    int64_t n = 1;
    for (int d = 0; d < s->ndim; d++) n *= s->shape[d];
    return n;
}

/* sum(op(in) * w) for host inputs x; with keep, also backward, the inputs into keep. */
static double fd_loss(test_fd_fn op, int nin, const test_fd_input *s, float **x, const float *w,
                      lt_tensor_t **keep) {
    lt_tensor_t *in[TEST_FD_MAX_IN];
    for (int i = 0; i < nin; i++)
        in[i] = lt_from_host(test_arena, LT_F32, s[i].ndim, s[i].shape, x[i]);
    for (int i = 0; keep && i < nin; i++) lt_set_requires_grad(in[i], true);
    lt_tensor_t *out = op(in);
    ck_assert_msg(out != NULL, "%s", lt_last_error());
    int64_t os[LT_MAX_DIMS];
    for (int d = 0; d < lt_ndim(out); d++) os[d] = lt_dim(out, d);
    ck_assert_int_le(lt_numel(out), FD_MAX_OUT);
    lt_tensor_t *loss = lt_sum(lt_mul(out, lt_from_host(test_arena, LT_F32, lt_ndim(out), os, w)));
    if (keep) {
        ck_assert_int_eq(lt_backward(loss), LT_OK);
        for (int i = 0; i < nin; i++) keep[i] = in[i];
    }
    return lt_item(loss);
}

static void check_input(const char *what, test_fd_fn op, int nin, const test_fd_input *s, float **x,
                        const float *w, int i, const float *g, float h) {
    for (int64_t k = 0; k < numel_of(&s[i]); k++) {
        float v = x[i][k];
        x[i][k] = v + h;
        double up = fd_loss(op, nin, s, x, w, NULL);
        x[i][k] = v - h;
        double down = fd_loss(op, nin, s, x, w, NULL);
        x[i][k] = v;
        double num = (up - down) / (2.0 * h);
        ck_assert_msg(fabs(num - g[k]) <= 2e-2 * fabs(num) + 5e-3,
                      "%s: d/d in%d[%lld]: autograd %.6g, finite differences %.6g", what, i,
                      (long long)k, g[k], num);
    }
}

static void fd_check(const char *what, test_fd_fn op, int nin, const test_fd_input *s, float h,
                     bool spaced) {
    ck_assert_int_le(nin, TEST_FD_MAX_IN);
    float *x[TEST_FD_MAX_IN];
    for (int i = 0; i < nin; i++) {
        int64_t n = numel_of(&s[i]);
        bool ranged = s[i].lo != s[i].hi;
        x[i] = malloc((size_t)n * sizeof *x[i]);
        test_fill(x[i], n, 7 + (uint64_t)i, ranged ? s[i].lo : -2.0f, ranged ? s[i].hi : 2.0f,
                  0.0f);
        for (int64_t k = 0; spaced && k < n; k++) x[i][k] = 0.05f * (float)((k * 37) % n) - 1.0f;
    }
    lt_tensor_t *in[TEST_FD_MAX_IN];
    float w[FD_MAX_OUT];
    test_fill(w, FD_MAX_OUT, 5, -1.0f, 1.0f, 0.0f);
    fd_loss(op, nin, s, x, w, in);
    for (int i = 0; i < nin; i++) {
        float *g = test_host(lt_grad(in[i]));
        check_input(what, op, nin, s, x, w, i, g, h);
        free(g);
    }
    for (int i = 0; i < nin; i++) free(x[i]);
    lt_arena_reset(test_arena);
}

void test_fd_check(const char *what, test_fd_fn op, int nin, const test_fd_input *s, float h) {
    fd_check(what, op, nin, s, h, false);
}

void test_fd_check_spaced(const char *what, test_fd_fn op, int nin, const test_fd_input *s,
                          float h) {
    fd_check(what, op, nin, s, h, true);
}
