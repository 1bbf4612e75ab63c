/* The device's memory accounting and cap (sdk/src/core/device.c: lt_device_memory_usage,
 * lt_device_set_memory_limit), which `lthost tune --scale_batch_size` uses as a cpu memory
 * budget: what tensors hold, its peak, an allocation past the cap failing as out of memory
 * with the cap named, and the freed blocks liblt caches given back before a refusal. */
#include <string.h>

#include <lt/runtime.h>

#include "test_util.h"

enum { MIB = 1 << 20 };

static lt_tensor_t *mib_tensor(lt_arena_t *a, double mib) {
    int64_t shape[1] = {(int64_t)(mib * MIB / 4)};
    return lt_zeros(a, LT_F32, 1, shape);
}

static uint64_t held(void) {
    uint64_t h;
    lt_device_memory_usage(test_dev, &h, NULL, NULL);
    return h;
}

START_TEST(held_and_peak_follow_tensors) {
    const uint64_t before = held();
    lt_arena_t *a = lt_arena_new(test_dev);
    ck_assert_ptr_nonnull(mib_tensor(a, 2));
    uint64_t now, peak, failed;
    lt_device_memory_usage(test_dev, &now, &peak, &failed);
    ck_assert_uint_eq(now - before, 2 * MIB);
    ck_assert_uint_ge(peak, now);
    ck_assert_uint_eq(failed, 0);
    lt_arena_free(a);
    lt_device_memory_usage(test_dev, &now, &peak, NULL);
    ck_assert_uint_eq(now, before);
    ck_assert_uint_ge(peak, before + 2 * MIB); /* the peak stays */
}
END_TEST

START_TEST(past_the_cap_is_out_of_memory) {
    lt_arena_t *a = lt_arena_new(test_dev);
    lt_device_set_memory_limit(test_dev, held() + MIB);
    lt_clear_error();
    ck_assert_ptr_null(mib_tensor(a, 2));
    ck_assert_int_eq(lt_last_status(), LT_ERR_OOM);
    ck_assert_msg(strstr(lt_last_error(), "memory limit") != NULL, "%s", lt_last_error());
    uint64_t failed;
    lt_device_memory_usage(test_dev, NULL, NULL, &failed);
    ck_assert_uint_eq(failed, 1);
    lt_clear_error();
    ck_assert_ptr_nonnull(mib_tensor(a, 0.5)); /* within the cap */
    lt_device_set_memory_limit(test_dev, 0);   /* lifted */
    ck_assert_ptr_nonnull(mib_tensor(a, 2));
    lt_arena_free(a);
}
END_TEST

/* A freed 0.75 MiB block stays cached; under a 1 MiB cap a 0.5 MiB tensor of another
 * size only fits once that cache is given back, as torch's allocator frees its cache
 * before it reports out of memory. */
START_TEST(the_cache_is_given_back_first) {
    lt_arena_t *a = lt_arena_new(test_dev);
    ck_assert_ptr_nonnull(mib_tensor(a, 0.75));
    lt_arena_free(a);
    a = lt_arena_new(test_dev);
    lt_device_set_memory_limit(test_dev, held() + MIB);
    lt_clear_error();
    ck_assert_msg(mib_tensor(a, 0.5) != NULL, "%s", lt_last_error());
    uint64_t failed;
    lt_device_memory_usage(test_dev, NULL, NULL, &failed);
    ck_assert_uint_eq(failed, 0);
    lt_arena_free(a);
}
END_TEST

Suite *suite_memory(void) {
    Suite *s = suite_create("memory");
    TCase *tc = tcase_create("memory_limit");
    tcase_add_checked_fixture(tc, test_open, test_close);
    tcase_add_test(tc, held_and_peak_follow_tensors);
    tcase_add_test(tc, past_the_cap_is_out_of_memory);
    tcase_add_test(tc, the_cache_is_given_back_first);
    suite_add_tcase(s, tc);
    return s;
}
