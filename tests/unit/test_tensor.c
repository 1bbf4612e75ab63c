/* Tensors and op forward values: creation, transfers, shapes, errors, known results. */
#include <math.h>
#include <string.h>

#include "test_util.h"

START_TEST(create_and_read_back) {
    float data[6] = {1, 2, 3, 4, 5, 6};
    lt_tensor_t *t = lt_from_host(test_arena, LT_F32, 2, (int64_t[]){2, 3}, data);
    ck_assert_int_eq(lt_ndim(t), 2);
    ck_assert_int_eq(lt_dim(t, 0), 2);
    ck_assert_int_eq(lt_dim(t, -1), 3);
    ck_assert_int_eq(lt_numel(t), 6);
    float *v = test_host(t);
    ck_assert_mem_eq(v, data, sizeof data);
    free(v);
    lt_tensor_t *z = lt_zeros(test_arena, LT_I64, 1, (int64_t[]){4});
    int64_t zi[4] = {7, 7, 7, 7};
    ck_assert_int_eq(lt_to_host(z, zi, sizeof zi), LT_OK);
    for (int i = 0; i < 4; i++) ck_assert_int_eq(zi[i], 0);
    ck_assert_double_eq(lt_item(lt_full(test_arena, 0, NULL, 2.5f)), 2.5);
}
END_TEST

START_TEST(shape_errors_are_reported) {
    lt_tensor_t *a = lt_zeros(test_arena, LT_F32, 2, (int64_t[]){2, 3});
    lt_tensor_t *b = lt_zeros(test_arena, LT_F32, 2, (int64_t[]){4, 3});
    lt_clear_error();
    ck_assert_ptr_null(lt_add(a, b));
    ck_assert_int_eq(lt_last_status(), LT_ERR_SHAPE);
    ck_assert_ptr_nonnull(strstr(lt_last_error(), "(2, 3) and (4, 3)"));
    /* A NULL input passes through without replacing the first error. */
    ck_assert_ptr_null(lt_relu(lt_add(a, b)));
    ck_assert_ptr_nonnull(strstr(lt_last_error(), "lt_add"));
    ck_assert_ptr_null(lt_matmul(a, a));
    ck_assert_int_eq(lt_last_status(), LT_ERR_SHAPE);
    ck_assert_ptr_null(lt_reshape(a, 2, (int64_t[]){4, 2}));
    ck_assert_double_nan(lt_item(a));
}
END_TEST

START_TEST(broadcast_add_values) {
    float a[6] = {1, 2, 3, 4, 5, 6}, row[3] = {10, 20, 30}, col[2] = {100, 200};
    lt_tensor_t *ta = lt_from_host(test_arena, LT_F32, 2, (int64_t[]){2, 3}, a);
    lt_tensor_t *tr = lt_from_host(test_arena, LT_F32, 1, (int64_t[]){3}, row);
    lt_tensor_t *tc = lt_from_host(test_arena, LT_F32, 2, (int64_t[]){2, 1}, col);
    float *v = test_host(lt_add(lt_add(ta, tr), tc));
    const float want[6] = {111, 122, 133, 214, 225, 236};
    for (int i = 0; i < 6; i++) ck_assert_float_eq(v[i], want[i]);
    free(v);
}
END_TEST

START_TEST(known_op_values) {
    float x[4] = {-1.0f, 0.0f, 0.5f, 2.0f};
    lt_tensor_t *t = lt_from_host(test_arena, LT_F32, 1, (int64_t[]){4}, x);
    float *g = test_host(lt_gelu(t)), *s = test_host(lt_sigmoid(t)), *r = test_host(lt_relu(t));
    const float gelu_ref[4] = {-0.15865526f, 0.0f, 0.34573123f, 1.95449972f};
    for (int i = 0; i < 4; i++) {
        ck_assert_float_eq_tol(g[i], gelu_ref[i], 1e-6f);
        ck_assert_float_eq_tol(s[i], 1.0f / (1.0f + expf(-x[i])), 1e-6f);
        ck_assert_float_eq(r[i], x[i] > 0 ? x[i] : 0.0f);
    }
    free(g), free(s), free(r);
    ck_assert_double_eq_tol(lt_item(lt_sum(t)), 1.5, 1e-6);
    ck_assert_double_eq_tol(lt_item(lt_mean(t)), 0.375, 1e-6);
}
END_TEST

START_TEST(matmul_and_linear_values) {
    float a[6] = {1, 2, 3, 4, 5, 6}, b[6] = {1, 0, 0, 1, 1, 1}, bias[2] = {0.5f, -0.5f};
    lt_tensor_t *ta = lt_from_host(test_arena, LT_F32, 2, (int64_t[]){2, 3}, a);
    lt_tensor_t *tb = lt_from_host(test_arena, LT_F32, 2, (int64_t[]){3, 2}, b);
    float *c = test_host(lt_matmul(ta, tb));
    const float want[4] = {4, 5, 10, 11};
    for (int i = 0; i < 4; i++) ck_assert_float_eq(c[i], want[i]);
    free(c);
    /* linear: x (2,3) @ w(2,3)^T + bias; w = b^T */
    float w[6] = {1, 0, 1, 0, 1, 1};
    lt_tensor_t *tw = lt_from_host(test_arena, LT_F32, 2, (int64_t[]){2, 3}, w);
    lt_tensor_t *tbias = lt_from_host(test_arena, LT_F32, 1, (int64_t[]){2}, bias);
    float *y = test_host(lt_linear_op(ta, tw, tbias));
    for (int i = 0; i < 4; i++) ck_assert_float_eq(y[i], want[i] + bias[i % 2]);
    free(y);
}
END_TEST

START_TEST(cross_entropy_accuracy_argmax) {
    float logits[6] = {2.0f, 1.0f, 0.1f, 0.5f, 2.5f, 0.3f};
    int64_t labels[2] = {0, 2};
    lt_tensor_t *tl = lt_from_host(test_arena, LT_F32, 2, (int64_t[]){2, 3}, logits);
    lt_tensor_t *ty = lt_from_host(test_arena, LT_I64, 1, (int64_t[]){2}, labels);
    double want = 0;
    for (int r = 0; r < 2; r++) {
        double lse = 0;
        for (int c = 0; c < 3; c++) lse += exp(logits[r * 3 + c]);
        want += log(lse) - logits[r * 3 + labels[r]];
    }
    ck_assert_double_eq_tol(lt_item(lt_cross_entropy(tl, ty)), want / 2, 1e-6);
    ck_assert_double_eq_tol(lt_item(lt_accuracy(tl, ty)), 0.5, 1e-7);
    int64_t idx[2];
    ck_assert_int_eq(lt_to_host(lt_argmax(tl), idx, sizeof idx), LT_OK);
    ck_assert_int_eq(idx[0], 0);
    ck_assert_int_eq(idx[1], 1);
    int64_t bad[2] = {0, 3};
    lt_tensor_t *tbad = lt_from_host(test_arena, LT_I64, 1, (int64_t[]){2}, bad);
    ck_assert_ptr_null(lt_cross_entropy(tl, tbad));
    ck_assert_ptr_nonnull(strstr(lt_last_error(), "label 3 of sample 1"));
}
END_TEST

START_TEST(no_grad_records_nothing) {
    float x[2] = {1, 2};
    lt_tensor_t *t = lt_from_host(test_arena, LT_F32, 1, (int64_t[]){2}, x);
    lt_set_requires_grad(t, true);
    ck_assert(lt_requires_grad(lt_relu(t)));
    bool prev = lt_arena_set_grad(test_arena, false);
    lt_tensor_t *y = lt_sum(lt_relu(t));
    ck_assert(!lt_requires_grad(y));
    ck_assert_int_eq(lt_backward(y), LT_ERR_STATE);
    lt_arena_set_grad(test_arena, prev);
}
END_TEST

START_TEST(arena_reset_reuses_memory) {
    /* The same sequence of shapes after a reset must not grow the test_arena: run it many
     * times; ASan/valgrind would flag leaks, and this must stay fast. */
    for (int i = 0; i < 2000; i++) {
        lt_tensor_t *a = lt_full(test_arena, 2, (int64_t[]){64, 128}, 1.0f);
        lt_tensor_t *b = lt_relu(lt_scale(a, 2.0f));
        ck_assert_double_eq_tol(lt_item(lt_mean(b)), 2.0, 1e-6);
        lt_arena_reset(test_arena);
    }
}
END_TEST

/* A tensor kept past its step is refused in the next step, even after that step has
 * made as many tensors as the previous one (its slot is not reused yet). */
START_TEST(tensor_kept_past_reset_is_refused) {
    lt_tensor_t *kept = lt_full(test_arena, 1, (int64_t[]){4}, 3.0f);
    lt_arena_reset(test_arena);
    lt_tensor_t *fresh = lt_full(test_arena, 1, (int64_t[]){4}, 5.0f);
    ck_assert_ptr_nonnull(fresh);
    lt_clear_error();
    ck_assert_ptr_null(lt_add(fresh, kept));
    ck_assert_int_eq(lt_last_status(), LT_ERR_STATE);
    ck_assert_ptr_nonnull(strstr(lt_last_error(), "step that has ended"));
    lt_clear_error();
    ck_assert_double_nan(lt_item(kept));
    ck_assert_ptr_null(lt_keep(kept));
    ck_assert_ptr_null(lt_reshape(kept, 1, (int64_t[]){4}));
    ck_assert_int_eq(lt_last_status(), LT_ERR_STATE);
    ck_assert_double_eq(lt_item(lt_mean(fresh)), 5.0); /* the new step is unharmed */
}
END_TEST

/* lt_tensor_free of an arena's tensor frees nothing and says so. */
START_TEST(tensor_free_of_arena_tensor_is_an_error) {
    lt_tensor_t *t = lt_full(test_arena, 1, (int64_t[]){2}, 1.0f);
    lt_clear_error();
    lt_tensor_free(t);
    ck_assert_int_eq(lt_last_status(), LT_ERR_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(lt_last_error(), "lt_keep"));
    ck_assert_double_eq(lt_item(lt_sum(t)), 2.0); /* still alive */
    lt_clear_error();
    lt_tensor_t *k = lt_keep(t);
    lt_tensor_free(k);
    lt_tensor_free(NULL);
    ck_assert_int_eq(lt_last_status(), LT_OK);
}
END_TEST

Suite *suite_tensor(void) {
    Suite *s = suite_create("tensor");
    TCase *tc = tcase_create("ops");
    tcase_add_checked_fixture(tc, test_open, test_close);
    tcase_add_test(tc, create_and_read_back);
    tcase_add_test(tc, shape_errors_are_reported);
    tcase_add_test(tc, broadcast_add_values);
    tcase_add_test(tc, known_op_values);
    tcase_add_test(tc, matmul_and_linear_values);
    tcase_add_test(tc, cross_entropy_accuracy_argmax);
    tcase_add_test(tc, no_grad_records_nothing);
    tcase_add_test(tc, arena_reset_reuses_memory);
    tcase_add_test(tc, tensor_kept_past_reset_is_refused);
    tcase_add_test(tc, tensor_free_of_arena_tensor_is_an_error);
    suite_add_tcase(s, tc);
    return s;
}
