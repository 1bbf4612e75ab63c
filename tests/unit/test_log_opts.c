/* lt_log's options (sdk/src/module/log_opts.c, metrics.c): reduce_fx over device and host
 * values, explicit batch sizes, rank_zero_only dropping sync_dist, and the refusals. */
#include <math.h>
#include <string.h>

#include <lt/runtime.h>

#include "test_util.h"

static lt_ctx_t *ctx;

static void open_ctx(void) {
    test_open();
    ctx = lt_ctx_new(test_dev, "t", NULL, 0, 1);
    ck_assert_ptr_nonnull(ctx);
    lt_ctx_set_log_scope(ctx, 0, LT_LOG_ON_EPOCH);
}

static void close_ctx(void) {
    lt_ctx_free(ctx);
    test_close();
}

static lt_metric_reading reading(const char *name) {
    lt_metric_reading m;
    for (int i = 0; i < lt_ctx_metric_count(ctx); i++) {
        ck_assert_int_eq(lt_ctx_metric_read(ctx, i, &m), LT_OK);
        if (!strcmp(m.name, name)) return m;
    }
    ck_abort_msg("no metric %s", name);
    return m;
}

static lt_tensor_t *scalar(float v) {
    int64_t one[1] = {1};
    return lt_full(test_arena, 1, one, v);
}

/* Device and host values of one name combine: max of {3, -1} and {5, 2} is 5; min -1. */
START_TEST(reduce_combines_device_and_host_values) {
    static const float dev_vals[] = {3, -1}, host_vals[] = {5, 2};
    for (int i = 0; i < 2; i++) {
        ck_assert_int_eq(lt_log(ctx, "mx", scalar(dev_vals[i]), LT_LOG_REDUCE_MAX), LT_OK);
        ck_assert_int_eq(lt_log_value(ctx, "mx", host_vals[i], LT_LOG_REDUCE_MAX), LT_OK);
        ck_assert_int_eq(lt_log(ctx, "mn", scalar(dev_vals[i]), LT_LOG_REDUCE_MIN), LT_OK);
        ck_assert_int_eq(lt_log_value(ctx, "mn", host_vals[i], LT_LOG_REDUCE_MIN), LT_OK);
        ck_assert_int_eq(lt_log(ctx, "sm", scalar(dev_vals[i]), LT_LOG_REDUCE_SUM), LT_OK);
    }
    ck_assert(reading("mx").epoch_mean == 5.0);
    ck_assert(reading("mn").epoch_mean == -1.0);
    ck_assert(reading("sm").epoch_mean == 2.0);
    ck_assert(reading("mx").last == 2.0);
    lt_ctx_metrics_reset_scope(ctx, 0); /* a new epoch forgets the old extremes */
    ck_assert_int_eq(lt_log(ctx, "mx", scalar(-7), LT_LOG_REDUCE_MAX), LT_OK);
    ck_assert(reading("mx").epoch_mean == -7.0);
}
END_TEST

/* batch_size weighs a value in the mean: (1 x 4 + 3 x 1) / 5. */
START_TEST(explicit_batch_size_weighs_the_mean) {
    lt_ctx_set_batch_size(ctx, 4);
    ck_assert_int_eq(lt_log(ctx, "m", scalar(1), 0), LT_OK);
    ck_assert_int_eq(lt_log_with(ctx, "m", scalar(3), &LT_LOG_OPTS(.batch_size = 1)), LT_OK);
    ck_assert_double_eq_tol(reading("m").epoch_mean, 7.0 / 5.0, 1e-7);
    ck_assert(reading("m").weight == 5.0);
}
END_TEST

START_TEST(rank_zero_only_is_never_synced) {
    ck_assert_int_eq(lt_log_value(ctx, "r", 1.0, LT_LOG_SYNC_DIST | LT_LOG_RANK_ZERO_ONLY), LT_OK);
    lt_metric_reading m = reading("r");
    ck_assert(!(m.flags & LT_LOG_SYNC_DIST));
    ck_assert(m.flags & LT_LOG_RANK_ZERO_ONLY);
}
END_TEST

START_TEST(bad_options_are_refused) {
    lt_log_opts old = {.struct_size = 4};
    ck_assert_int_eq(lt_log_value_with(ctx, "a", 1.0, &old), LT_ERR_ABI);
    ck_assert_msg(strstr(lt_last_error(), "LT_LOG_OPTS") != NULL, "%s", lt_last_error());
    ck_assert_int_eq(lt_log_value_with(ctx, "a", 1.0, &LT_LOG_OPTS(.batch_size = -2)),
                     LT_ERR_INVALID_ARG);
    ck_assert_int_eq(lt_log_value_with(ctx, "a", 1.0, &LT_LOG_OPTS(.flags = 1u << 20)),
                     LT_ERR_INVALID_ARG);
    ck_assert_int_eq(lt_log_value(ctx, "b", 1.0, LT_LOG_REDUCE_MAX), LT_OK);
    ck_assert_int_eq(lt_log_value(ctx, "b", 1.0, LT_LOG_REDUCE_SUM), LT_ERR_INVALID_ARG);
    ck_assert_msg(strstr(lt_last_error(), "another reduce_fx") != NULL, "%s", lt_last_error());
    lt_clear_error();
    lt_log_item items[] = {{"ok", NULL, 2.0}, {"failed", NULL, 0}};
    ck_assert_int_eq(lt_log_dict(ctx, items, 1, NULL), LT_OK);
    lt_set_error(LT_ERR_SHAPE, "an op failed");
    ck_assert_int_eq(lt_log_dict(ctx, items + 1, 1, NULL), LT_ERR_SHAPE); /* NULL tensor */
    lt_clear_error();
    ck_assert_int_eq(lt_log_dict(ctx, NULL, 1, NULL), LT_ERR_INVALID_ARG);
    lt_clear_error();
}
END_TEST

Suite *suite_log_opts(void) {
    Suite *s = suite_create("log_opts");
    TCase *tc = tcase_create("log_opts");
    tcase_add_checked_fixture(tc, open_ctx, close_ctx);
    tcase_add_test(tc, reduce_combines_device_and_host_values);
    tcase_add_test(tc, explicit_batch_size_weighs_the_mean);
    tcase_add_test(tc, rank_zero_only_is_never_synced);
    tcase_add_test(tc, bad_options_are_refused);
    suite_add_tcase(s, tc);
    return s;
}
