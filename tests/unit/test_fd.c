/* Finite differences of sum(op(in) * w), as test_fd.h says. */
#include <math.h>

#include "test_fd.h"

#define FD_MAX_OUT 4096

static int64_t numel_of(const fd_shape *s) {
    int64_t n = 1;
    for (int d = 0; d < s->ndim; d++) n *= s->shape[d];
    return n;
}

/* sum(op(in) * w) for host inputs x; with keep, also backward, and the inputs in keep. */
static double fd_loss(fd_fn op, int nin, const fd_shape *s, float **x, const float *w,
                      lt_tensor_t **keep) {
    lt_tensor_t *in[FD_MAX_IN + 1] = {NULL};
    for (int i = 0; i < nin; i++) {
        in[i] = lt_from_host(test_arena, LT_F32, s[i].ndim, s[i].shape, x[i]);
        if (keep) lt_set_requires_grad(in[i], true);
    }
    lt_tensor_t *out = op(in);
    ck_assert_msg(out != NULL, "%s", lt_last_error());
    ck_assert_int_le(lt_numel(out), FD_MAX_OUT);
    int64_t os[LT_MAX_DIMS];
    for (int d = 0; d < lt_ndim(out); d++) os[d] = lt_dim(out, d);
    lt_tensor_t *loss = lt_sum(lt_mul(out, lt_from_host(test_arena, LT_F32, lt_ndim(out), os, w)));
    if (keep) {
        ck_assert_msg(lt_backward(loss) == LT_OK, "%s", lt_last_error());
        for (int i = 0; i < nin; i++) keep[i] = in[i];
    }
    return lt_item(loss);
}

void fd_check(const char *what, fd_fn op, int nin, const fd_shape *s, float lo, float hi) {
    float *x[FD_MAX_IN], h = 1e-2f;
    static float w[FD_MAX_OUT];
    ck_assert_int_le(nin, FD_MAX_IN);
    for (int i = 0; i < nin; i++) {
        int64_t n = numel_of(&s[i]);
        x[i] = malloc((size_t)n * sizeof *x[i]);
        test_fill(x[i], n, 11 + (uint64_t)i, lo, hi, 0.0f);
    }
    test_fill(w, FD_MAX_OUT, 5, -1.0f, 1.0f, 0.0f);
    lt_tensor_t *in[FD_MAX_IN];
    fd_loss(op, nin, s, x, w, in);
    for (int i = 0; i < nin; i++) {
        float *g = test_host(lt_grad(in[i]));
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
        free(g);
    }
    for (int i = 0; i < nin; i++) free(x[i]);
    lt_arena_reset(test_arena);
}
