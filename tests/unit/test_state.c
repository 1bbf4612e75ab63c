/* Checkpoint state objects: values of each type, nested children, key order, JSON text
 * that reads back bit for bit (non-finite floats included), and errors, never crashes,
 * for bad text and NULL arguments. */
#include <check.h>
#include <lt/lt.h>
#include <lt/runtime.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool same_bits(double a, double b) { return memcmp(&a, &b, sizeof a) == 0; }

START_TEST(set_and_get_each_type) {
    lt_state_t *st = lt_state_new();
    ck_assert_ptr_nonnull(st);
    ck_assert_int_eq(lt_state_set_int(st, "step", INT64_MIN), LT_OK);
    ck_assert_int_eq(lt_state_set_float(st, "lr", 0.1), LT_OK);
    ck_assert_int_eq(lt_state_set_str(st, "mode", "min"), LT_OK);
    int64_t i = 0;
    double d = 0;
    ck_assert(lt_state_get_int(st, "step", &i));
    ck_assert(i == INT64_MIN);
    ck_assert(lt_state_get_float(st, "lr", &d));
    ck_assert(same_bits(d, 0.1));
    ck_assert(lt_state_get_float(st, "step", &d)); /* an int reads as a float too */
    ck_assert(d == (double)INT64_MIN);
    ck_assert_str_eq(lt_state_get_str(st, "mode"), "min");
    ck_assert_int_eq(lt_state_set_int(st, "step", 7), LT_OK); /* replaced, not added */
    ck_assert(lt_state_get_int(st, "step", &i) && i == 7);
    ck_assert_int_eq(lt_state_count(st), 3);
    lt_state_free(st);
}
END_TEST

START_TEST(type_mismatch_and_absence_are_false) {
    lt_state_t *st = lt_state_new();
    lt_state_set_float(st, "f", 1.5);
    lt_state_set_str(st, "s", "x");
    lt_state_set_int(st, "i", 3);
    int64_t i = 42;
    double d = 42;
    ck_assert(!lt_state_get_int(st, "f", &i)); /* a float never reads as an int */
    ck_assert(!lt_state_get_int(st, "s", &i));
    ck_assert(!lt_state_get_int(st, "missing", &i));
    ck_assert(i == 42);
    ck_assert(!lt_state_get_float(st, "s", &d));
    ck_assert(d == 42);
    ck_assert_ptr_null(lt_state_get_str(st, "i"));
    ck_assert_ptr_null(lt_state_get_child(st, "i"));
    ck_assert_ptr_null(lt_state_get_child(st, "missing"));
    ck_assert_ptr_null(lt_state_child(st, "s")); /* holds a value: not replaced */
    ck_assert_int_eq(lt_last_status(), LT_ERR_INVALID_ARG);
    ck_assert_str_eq(lt_state_get_str(st, "s"), "x");
    lt_state_free(st);
}
END_TEST

START_TEST(children_nest_and_keep_key_order) {
    lt_state_t *root = lt_state_new();
    const char *keys[] = {"zeta", "alpha", "callbacks", "mid"};
    lt_state_set_int(root, keys[0], 1);
    lt_state_set_int(root, keys[1], 2);
    lt_state_t *cb = lt_state_child(root, keys[2]);
    ck_assert_ptr_nonnull(cb);
    ck_assert_ptr_eq(lt_state_child(root, keys[2]), cb); /* found, not made again */
    lt_state_t *es = lt_state_child(cb, "EarlyStopping{monitor=val_loss}");
    ck_assert_int_eq(lt_state_set_float(es, "best_score", 0.25), LT_OK);
    lt_state_set_int(root, keys[3], 3);
    ck_assert_int_eq(lt_state_count(root), 4);
    for (int k = 0; k < 4; k++) ck_assert_str_eq(lt_state_key(root, k), keys[k]);
    ck_assert_ptr_null(lt_state_key(root, 4));
    ck_assert_ptr_null(lt_state_key(root, -1));
    const lt_state_t *got = lt_state_get_child(lt_state_get_child(root, "callbacks"),
                                               "EarlyStopping{monitor=val_loss}");
    double d;
    ck_assert(got && lt_state_get_float(got, "best_score", &d) && d == 0.25);
    ck_assert_int_eq(lt_state_count(lt_state_child(root, "empty")), 0);
    lt_state_free(root); /* frees the children with it */
}
END_TEST

/* Doubles that need all 17 digits, extremes, and signed zero: same bits after a trip
 * through text; non-finite values come back as the same kind. */
START_TEST(json_round_trip_is_exact) {
    static const double v[] = {0.1,       1e-300, 3.4028234663852886e38,
                               -0.0,      5e-324, 1.7976931348623157e308,
                               2.0 / 3.0, 1e16,   -123456789.125};
    lt_state_t *st = lt_state_new();
    char key[16];
    for (int k = 0; k < (int)(sizeof v / sizeof *v); k++) {
        snprintf(key, sizeof key, "v%d", k);
        ck_assert_int_eq(lt_state_set_float(st, key, v[k]), LT_OK);
    }
    lt_state_set_float(st, "pinf", INFINITY);
    lt_state_set_float(st, "ninf", -INFINITY);
    lt_state_set_float(st, "nan", NAN);
    lt_state_set_int(st, "big", INT64_MAX);
    lt_state_set_str(st, "text", "quote \" backslash \\ newline \n unicode \xc3\xa9");
    lt_state_set_int(lt_state_child(lt_state_child(st, "a"), "b"), "c", -1);
    char *text = lt_state_to_json(st);
    ck_assert_ptr_nonnull(text);
    ck_assert_ptr_null(strchr(text, '\n')); /* compact: one line */
    lt_state_t *back = lt_state_from_json(text);
    ck_assert_ptr_nonnull(back);
    double d;
    for (int k = 0; k < (int)(sizeof v / sizeof *v); k++) {
        snprintf(key, sizeof key, "v%d", k);
        ck_assert_msg(lt_state_get_float(back, key, &d) && same_bits(d, v[k]), "%s: %.17g", key,
                      v[k]);
    }
    ck_assert(lt_state_get_float(back, "pinf", &d) && d == INFINITY);
    ck_assert(lt_state_get_float(back, "ninf", &d) && d == -INFINITY);
    ck_assert(lt_state_get_float(back, "nan", &d) && isnan(d));
    int64_t i;
    ck_assert(lt_state_get_int(back, "big", &i) && i == INT64_MAX);
    ck_assert_str_eq(lt_state_get_str(back, "text"), lt_state_get_str(st, "text"));
    const lt_state_t *b = lt_state_get_child(lt_state_get_child(back, "a"), "b");
    ck_assert(b && lt_state_get_int(b, "c", &i) && i == -1);
    char *again = lt_state_to_json(back); /* same text: order and spelling kept */
    ck_assert_str_eq(again, text);
    free(again);
    free(text);
    lt_state_free(back);
    lt_state_free(st);
}
END_TEST

static void expect_bad_json(const char *text, const char *where) {
    lt_clear_error();
    ck_assert_ptr_null(lt_state_from_json(text));
    ck_assert_int_eq(lt_last_status(), LT_ERR_FORMAT);
    ck_assert_msg(strstr(lt_last_error(), where) != NULL, "expected '%s' in: %s", where,
                  lt_last_error());
}

START_TEST(bad_json_is_an_error_with_position) {
    expect_bad_json("{\"a\": 1,\n \"b\": }", "line 2, column");
    expect_bad_json("{\"a\": 1", "line 1, column");
    expect_bad_json("", "line");
    expect_bad_json("{\"a\": 1, \"a\": 2}", "line 1");
    expect_bad_json("\n  [1, 2]", "line 2, column 3 is not an object");
}
END_TEST

START_TEST(null_arguments_are_errors) {
    int64_t i;
    double d;
    lt_clear_error();
    ck_assert_int_eq(lt_state_set_int(NULL, "k", 1), LT_ERR_INVALID_ARG);
    lt_state_t *st = lt_state_new();
    ck_assert_int_eq(lt_state_set_int(st, NULL, 1), LT_ERR_INVALID_ARG);
    ck_assert_int_eq(lt_state_set_float(NULL, "k", 1), LT_ERR_INVALID_ARG);
    ck_assert_int_eq(lt_state_set_str(st, "k", NULL), LT_ERR_INVALID_ARG);
    ck_assert_int_eq(lt_state_set_str(NULL, NULL, NULL), LT_ERR_INVALID_ARG);
    ck_assert_int_eq(lt_state_set_str(st, "k", "\xff"), LT_ERR_INVALID_ARG); /* not UTF-8 */
    ck_assert_ptr_null(lt_state_child(NULL, "k"));
    ck_assert_ptr_null(lt_state_child(st, NULL));
    ck_assert(!lt_state_get_int(NULL, "k", &i));
    ck_assert(!lt_state_get_float(st, NULL, &d));
    ck_assert_ptr_null(lt_state_get_str(NULL, "k"));
    ck_assert_ptr_null(lt_state_get_child(NULL, "k"));
    ck_assert_int_eq(lt_state_count(NULL), 0);
    ck_assert_ptr_null(lt_state_key(NULL, 0));
    ck_assert_ptr_null(lt_state_to_json(NULL));
    ck_assert_ptr_null(lt_state_from_json(NULL));
    ck_assert_int_eq(lt_last_status(), LT_ERR_INVALID_ARG);
    ck_assert_int_eq(lt_state_count(st), 0); /* nothing was stored */
    lt_state_free(st);
    lt_state_free(NULL);
}
END_TEST

Suite *suite_state(void) {
    Suite *s = suite_create("state");
    TCase *tc = tcase_create("state");
    tcase_add_test(tc, set_and_get_each_type);
    tcase_add_test(tc, type_mismatch_and_absence_are_false);
    tcase_add_test(tc, children_nest_and_keep_key_order);
    tcase_add_test(tc, json_round_trip_is_exact);
    tcase_add_test(tc, bad_json_is_an_error_with_position);
    tcase_add_test(tc, null_arguments_are_errors);
    suite_add_tcase(s, tc);
    return s;
}
