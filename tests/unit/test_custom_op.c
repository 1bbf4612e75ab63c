/* Custom ops (lt/custom_op.h) through the tape: the worked example's swish_beta against the
 * same expression built of lt_* ops (whose gradients the built-in tape computes) and
 * against finite differences, round_ste's own kernel and straight-through gradient, and
 * the errors: wrong number of inputs or gradients, a gradient of the wrong shape, a bad
 * descriptor. */
#include <math.h>
#include <string.h>

#include <lt/accelerator.h>

#include "../e2e/plugins/custom_ops_example.h"
#include "test_util.h"

static lt_tensor_t *host_tensor(int ndim, const int64_t *shape, const float *v) {
    return lt_from_host(test_arena, LT_F32, ndim, shape, v);
}

/* y = x * sigmoid(beta x) with the built-in ops: the reference gradient. */
static lt_tensor_t *swish_builtin(lt_tensor_t *x, lt_tensor_t *beta) {
    return lt_mul(x, lt_sigmoid(lt_mul(x, beta)));
}

static void expect_close(const char *what, const lt_tensor_t *a, const lt_tensor_t *b, double tol) {
    ck_assert_int_eq(lt_numel(a), lt_numel(b));
    float *va = test_host(a), *vb = test_host(b);
    for (int64_t i = 0; i < lt_numel(a); i++)
        ck_assert_msg(fabs((double)va[i] - vb[i]) <= tol * (1.0 + fabs(vb[i])),
                      "%s[%lld]: custom %.9g, built-in %.9g", what, (long long)i, va[i], vb[i]);
    free(va);
    free(vb);
}

/* sum(op(x, beta) * w) and, with grads, both gradients. */
static double weighted_loss(bool custom, const float *xv, float beta_v, const float *w,
                            lt_tensor_t **grads) {
    const int64_t xs[2] = {3, 4}, one = 1;
    lt_tensor_t *x = host_tensor(2, xs, xv), *beta = host_tensor(1, &one, &beta_v);
    lt_set_requires_grad(x, grads != NULL);
    lt_set_requires_grad(beta, grads != NULL);
    lt_tensor_t *y = custom ? swish_beta(x, beta) : swish_builtin(x, beta);
    lt_tensor_t *loss = lt_sum(lt_mul(y, host_tensor(2, xs, w)));
    if (grads) {
        ck_assert_msg(lt_backward(loss) == LT_OK, "%s", lt_last_error());
        grads[0] = lt_grad(x);
        grads[1] = lt_grad(beta);
    }
    return lt_item(loss);
}

START_TEST(custom_op_gradient_matches_autograd_and_finite_differences) {
    float x[12], w[12], beta = 0.8f, h = 1e-2f;
    test_fill(x, 12, 11, -2.0f, 2.0f, 0.0f);
    test_fill(w, 12, 12, -1.0f, 1.0f, 0.0f);
    lt_tensor_t *gc[2], *gb[2];
    double lc = weighted_loss(true, x, beta, w, gc);
    double lb = weighted_loss(false, x, beta, w, gb);
    ck_assert_msg(fabs(lc - lb) <= 1e-6 * (1 + fabs(lb)), "loss %.9g vs %.9g", lc, lb);
    expect_close("d/dx", gc[0], gb[0], 1e-6);
    expect_close("d/dbeta", gc[1], gb[1], 1e-6);
    float *g = test_host(gc[0]), *gbeta = test_host(gc[1]);
    for (int i = 0; i < 12; i++) {
        float v = x[i];
        x[i] = v + h;
        double up = weighted_loss(true, x, beta, w, NULL);
        x[i] = v - h;
        double down = weighted_loss(true, x, beta, w, NULL);
        x[i] = v;
        double num = (up - down) / (2.0 * h);
        ck_assert_msg(fabs(num - g[i]) <= 1e-2 * fabs(num) + 2e-3, "d/dx[%d]: %.6g vs fd %.6g", i,
                      g[i], num);
    }
    double num =
        (weighted_loss(true, x, beta + h, w, NULL) - weighted_loss(true, x, beta - h, w, NULL)) /
        (2.0 * h);
    ck_assert_msg(fabs(num - gbeta[0]) <= 1e-2 * fabs(num) + 2e-3, "d/dbeta: %.6g vs fd %.6g",
                  gbeta[0], num);
    free(g);
    free(gbeta);
}
END_TEST

START_TEST(custom_op_own_kernel_and_straight_through_gradient) {
    const float xv[6] = {-1.5f, -0.4f, 0.5f, 1.49f, 2.5f, 3.7f};
    const float want[6] = {-2.0f, -0.0f, 0.0f, 1.0f, 2.0f, 4.0f}; /* half to even */
    const int64_t n = 6;
    lt_tensor_t *x = host_tensor(1, &n, xv);
    lt_set_requires_grad(x, true);
    lt_tensor_t *y = round_ste(lt_scale(x, 1.0f));
    float *got = test_host(y);
    for (int i = 0; i < 6; i++) ck_assert_float_eq(got[i], want[i]);
    free(got);
    ck_assert_int_eq(lt_backward(lt_sum(lt_scale(y, 3.0f))), LT_OK);
    float *g = test_host(lt_grad(x));
    for (int i = 0; i < 6; i++) ck_assert_float_eq(g[i], 3.0f);
    free(g);
    /* without gradients nothing is recorded, and the op still runs */
    lt_tensor_t *plain = round_ste(host_tensor(1, &n, xv));
    ck_assert_ptr_nonnull(plain);
    ck_assert(!lt_requires_grad(plain));
}
END_TEST

/* An op's own kernel through the accelerator's table, which works on any accelerator:
 * y = 2 x + 1 with the affine slot on raw device pointers, gradient 2 g. */
static lt_tensor_t *affine_fwd(lt_custom_fn_ctx_t *fn, lt_tensor_t *const *in, void *user) {
    (void)fn, (void)user;
    lt_tensor_t *x = in[0];
    int64_t shape[LT_MAX_DIMS];
    for (int d = 0; d < lt_ndim(x); d++) shape[d] = lt_dim(x, d);
    lt_tensor_t *y = lt_zeros(lt_tensor_arena(x), LT_F32, lt_ndim(x), shape);
    void *state;
    const lt_accelerator_desc *k = lt_device_kernels(lt_tensor_device(x), &state);
    k->affine(state, lt_numel(x), lt_tensor_data(x), 2.0f, 1.0f, lt_tensor_data(y));
    return y;
}
static int affine_bwd(lt_custom_fn_ctx_t *fn, lt_tensor_t *g, lt_tensor_t **grad_in, void *u) {
    (void)fn, (void)u;
    grad_in[0] = lt_scale(g, 2.0f);
    return 1;
}

START_TEST(custom_op_calls_accelerator_slots) {
    static const lt_custom_op_desc op =
        LT_CUSTOM_OP_DESC(.name = "affine_slot", .num_inputs = 1, .forward = affine_fwd,
                          .backward = affine_bwd);
    const float xv[3] = {1.0f, -2.0f, 0.5f};
    const int64_t n = 3;
    lt_tensor_t *x = host_tensor(1, &n, xv);
    lt_set_requires_grad(x, true);
    lt_tensor_t *y = lt_custom_op_apply(&op, NULL, 1, &x);
    float *v = test_host(y);
    for (int i = 0; i < 3; i++) ck_assert_float_eq(v[i], 2.0f * xv[i] + 1.0f);
    free(v);
    ck_assert_int_eq(lt_backward(lt_sum(y)), LT_OK);
    float *g = test_host(lt_grad(x));
    for (int i = 0; i < 3; i++) ck_assert_float_eq(g[i], 2.0f);
    free(g);
    ck_assert_ptr_null(lt_device_kernels(NULL, NULL));
}
END_TEST

/* ---- errors ------------------------------------------------------------------------ */

static int mode; /* which mistake bad_backward makes */

static lt_tensor_t *identity_fwd(lt_custom_fn_ctx_t *fn, lt_tensor_t *const *in, void *user) {
    (void)fn, (void)user;
    return in[0]; /* the input itself: apply makes it a new tensor */
}

static int bad_backward(lt_custom_fn_ctx_t *fn, lt_tensor_t *g, lt_tensor_t **grad_in, void *u) {
    (void)fn, (void)u;
    if (mode == 0) return 2; /* one input, two gradients */
    if (mode == 1) {
        grad_in[0] = lt_sum(g); /* () for an input (2, 3) */
        return 1;
    }
    return -1; /* failed without saying why */
}

static const lt_custom_op_desc bad_op =
    LT_CUSTOM_OP_DESC(.name = "bad_op", .num_inputs = 1, .forward = identity_fwd,
                      .backward = bad_backward);

static void expect_backward_error(int m, const char *words) {
    mode = m;
    lt_tensor_t *x = lt_full(test_arena, 2, (int64_t[]){2, 3}, 1.0f);
    lt_set_requires_grad(x, true);
    lt_tensor_t *y = lt_custom_op_apply(&bad_op, NULL, 1, &x);
    ck_assert_ptr_nonnull(y);
    ck_assert_ptr_ne(y, x);
    ck_assert_int_ne(lt_backward(lt_sum(y)), LT_OK);
    ck_assert_msg(strstr(lt_last_error(), words) != NULL, "error '%s' lacks '%s'", lt_last_error(),
                  words);
    lt_clear_error();
    lt_arena_reset(test_arena);
}

START_TEST(custom_op_errors_are_clear) {
    expect_backward_error(0, "custom op 'bad_op': backward returned 2 gradients, but the op has 1");
    expect_backward_error(1, "backward returned a float32 () gradient for input 0, which is "
                             "float32 (2, 3)");
    expect_backward_error(2, "backward returned -1 without recording why");
    lt_tensor_t *x = lt_full(test_arena, 1, (int64_t[]){3}, 1.0f);
    lt_tensor_t *two[2] = {x, x};
    ck_assert_ptr_null(lt_custom_op_apply(&bad_op, NULL, 2, two));
    ck_assert_msg(strstr(lt_last_error(), "custom op 'bad_op' takes 1 inputs, it was given 2"),
                  "%s", lt_last_error());
    lt_clear_error();
    lt_custom_op_desc no_bwd =
        LT_CUSTOM_OP_DESC(.name = "half", .num_inputs = 1, .forward = identity_fwd);
    ck_assert_ptr_null(lt_custom_op_apply(&no_bwd, NULL, 1, &x));
    ck_assert_msg(
        strstr(lt_last_error(), "custom op 'half': forward and backward must both be set"), "%s",
        lt_last_error());
    lt_clear_error();
    lt_custom_op_desc old = {.struct_size = 8, .name = "old"};
    ck_assert_ptr_null(lt_custom_op_apply(&old, NULL, 1, &x));
    ck_assert_msg(strstr(lt_last_error(), "LT_CUSTOM_OP_DESC"), "%s", lt_last_error());
    lt_clear_error();
    lt_tensor_t *none = NULL; /* an earlier failure passes through */
    ck_assert_ptr_null(lt_custom_op_apply(&bad_op, NULL, 1, &none));
    ck_assert_int_eq(lt_last_status(), LT_OK);
}
END_TEST

Suite *suite_custom_op(void) {
    Suite *s = suite_create("custom_op");
    TCase *tc = tcase_create("tape");
    tcase_add_checked_fixture(tc, test_open, test_close);
    tcase_add_test(tc, custom_op_gradient_matches_autograd_and_finite_differences);
    tcase_add_test(tc, custom_op_own_kernel_and_straight_through_gradient);
    tcase_add_test(tc, custom_op_errors_are_clear);
    tcase_add_test(tc, custom_op_calls_accelerator_slots);
    suite_add_tcase(s, tc);
    return s;
}
