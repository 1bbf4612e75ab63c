/* --detect_anomaly (sdk/src/autograd/anomaly.c): the first op whose output holds NaN/inf
 * fails with its name, as does the first backward whose gradient does; with the mode
 * off the same graphs run through (the values are the caller's business). */
#include <math.h>
#include <string.h>

#include <lt/runtime.h>

#include "test_util.h"

static lt_tensor_t *leaf(const float *v, int64_t n) {
    int64_t shape[1] = {n};
    lt_tensor_t *t = lt_from_host(test_arena, LT_F32, 1, shape, v);
    lt_set_requires_grad(t, true);
    return t;
}

/* log(0) = -inf: the forward op is named, and nothing later overwrites the message. */
START_TEST(forward_nan_names_the_op) {
    const float v[4] = {1, 2, 0, 3};
    lt_device_set_detect_anomaly(test_dev, true);
    lt_clear_error();
    lt_tensor_t *y = lt_sum(lt_mul(lt_ln(leaf(v, 4)), leaf(v, 4)));
    ck_assert_ptr_nonnull(y); /* ops still return: the hook's caller checks lt_last_status */
    ck_assert_int_eq(lt_last_status(), LT_ERR_NUMERIC);
    ck_assert_msg(strstr(lt_last_error(), "op 'log' produced inf") != NULL, "%s", lt_last_error());
    ck_assert_msg(strstr(lt_last_error(), "element 2 of shape (4)") != NULL, "%s", lt_last_error());
    lt_clear_error();
}
END_TEST

/* sqrt at 0 is finite (0), its derivative 1 / (2 sqrt(0)) is not: backward names sqrt. */
START_TEST(backward_inf_names_the_op) {
    const float v[3] = {4, 0, 1};
    lt_device_set_detect_anomaly(test_dev, true);
    lt_clear_error();
    lt_tensor_t *loss = lt_sum(lt_sqrt(leaf(v, 3)));
    ck_assert_int_eq(lt_last_status(), LT_OK);
    ck_assert_int_eq(lt_backward(loss), LT_ERR_NUMERIC);
    ck_assert_msg(strstr(lt_last_error(), "backward of op 'sqrt' returned inf") != NULL, "%s",
                  lt_last_error());
    lt_clear_error();
}
END_TEST

START_TEST(off_lets_non_finite_values_through) {
    const float v[3] = {4, 0, 1};
    lt_device_set_detect_anomaly(test_dev, false);
    lt_clear_error();
    lt_tensor_t *x = leaf(v, 3);
    ck_assert_int_eq(lt_backward(lt_sum(lt_sqrt(x))), LT_OK);
    float *g = test_host(lt_grad(x));
    ck_assert(isinf(g[1]));
    free(g);
    lt_tensor_t *y = lt_ln(leaf(v, 3));
    ck_assert_int_eq(lt_last_status(), LT_OK);
    float *h = test_host(y);
    ck_assert(isinf(h[1]));
    free(h);
}
END_TEST

Suite *suite_anomaly(void) {
    Suite *s = suite_create("anomaly");
    TCase *tc = tcase_create("detect_anomaly");
    tcase_add_checked_fixture(tc, test_open, test_close);
    tcase_add_test(tc, forward_nan_names_the_op);
    tcase_add_test(tc, backward_inf_names_the_op);
    tcase_add_test(tc, off_lets_non_finite_values_through);
    suite_add_tcase(s, tc);
    return s;
}
