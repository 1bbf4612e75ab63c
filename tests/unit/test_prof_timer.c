/* Device-timed spans (issue 18, sdk/src/core/prof_timer.c) on the test twin fakecuda_cpu,
 * whose timer slots emulate a device clock of 1 us per mark (test_timer.c): spans wait
 * for a call that waits for the device anyway, come in order with the device's times on
 * the device's tid, and the bounded queue is read back early when full, losing nothing. */
#include <lt/profiler.h>
#include <string.h>

#include "test_util.h"

#define QUEUE_OPS 4095 /* LT_TIMER_MARKS / 2 - 1, as lt_device_set_profiler documents */

typedef struct timed {
    int n;
    char first[32], last[32];
    uint64_t last_end;
    int bad_tid, bad_len, out_of_order;
} timed;

static void on_span(void *user, const lt_prof_span *sp) {
    timed *t = user;
    if (t->n == 0) snprintf(t->first, sizeof t->first, "%s", sp->name);
    snprintf(t->last, sizeof t->last, "%s", sp->name);
    t->bad_tid += sp->tid != LT_PROF_TID_DEVICE(0) || strcmp(sp->kind, "op") != 0;
    t->bad_len += sp->end_ns - sp->start_ns != 1000; /* the twin's 1 us per op */
    t->out_of_order += t->n > 0 && sp->start_ns < t->last_end;
    t->last_end = sp->end_ns;
    t->n++;
}

static lt_device_t *fake_dev;
static lt_arena_t *fake_arena;

static void fake_open(void) {
    const char *dir = getenv("LT_TEST_PLUGIN_DIR");
    ck_assert_msg(dir && dir[0], "LT_TEST_PLUGIN_DIR is not set: run the tests with meson test");
    char path[4096];
    snprintf(path, sizeof path, "%s/fakecuda_cpu.so", dir);
    ck_assert_msg(lt_device_open(path, 1, &fake_dev) == LT_OK, "%s", lt_last_error());
    fake_arena = lt_arena_new(fake_dev);
    ck_assert_ptr_nonnull(fake_arena);
}

static void fake_close(void) {
    lt_arena_free(fake_arena);
    lt_device_close(fake_dev);
}

static void fills(int n) {
    int64_t shape[1] = {4};
    for (int i = 0; i < n; i++) ck_assert_ptr_nonnull(lt_full(fake_arena, 1, shape, (float)i));
}

static void check_clean(const timed *t) {
    ck_assert_int_eq(t->bad_tid, 0);
    ck_assert_int_eq(t->bad_len, 0);
    ck_assert_int_eq(t->out_of_order, 0);
}

/* Ops are not timed per op (no sync): their spans arrive at the copy back, which waited. */
START_TEST(spans_wait_for_a_read_back) {
    timed t = {0};
    lt_device_set_profiler(fake_dev, on_span, &t);
    fills(3);
    ck_assert_int_eq(t.n, 0);
    float v[4];
    int64_t shape[1] = {4};
    lt_tensor_t *x = lt_full(fake_arena, 1, shape, 2.5f);
    uint64_t before = lt_prof_now_ns();
    ck_assert_int_eq(lt_to_host(x, v, sizeof v), LT_OK);
    ck_assert_int_eq(t.n, 5); /* four fills and the copy itself */
    ck_assert_str_eq(t.first, "fill");
    ck_assert_str_eq(t.last, "memcpy_d2h");
    ck_assert_uint_le(t.last_end, lt_prof_now_ns()); /* placed on the host clock */
    ck_assert_uint_ge(t.last_end + 1000, before);    /* 1 us before the read-back */
    check_clean(&t);
    lt_device_set_profiler(fake_dev, NULL, NULL);
    ck_assert_int_eq(t.n, 5);
}
END_TEST

/* lt_device_flush_profiler delivers what is pending; replacing the profiler delivers it
 * to the old one; a flush with nothing pending is a no-op. */
START_TEST(flush_and_replace_deliver) {
    timed a = {0}, b = {0};
    lt_device_set_profiler(fake_dev, on_span, &a);
    fills(2);
    ck_assert_int_eq(lt_device_flush_profiler(fake_dev), LT_OK);
    ck_assert_int_eq(a.n, 2);
    fills(3);
    lt_device_set_profiler(fake_dev, on_span, &b);
    ck_assert_int_eq(a.n, 5);
    ck_assert_int_eq(b.n, 0);
    fills(1);
    ck_assert_int_eq(lt_device_sync(fake_dev), LT_OK);
    ck_assert_int_eq(b.n, 1);
    ck_assert_int_eq(lt_device_flush_profiler(fake_dev), LT_OK);
    ck_assert_int_eq(b.n, 1);
    check_clean(&a);
    check_clean(&b);
    lt_device_set_profiler(fake_dev, NULL, NULL);
    ck_assert_int_eq(lt_device_flush_profiler(NULL), LT_ERR_INVALID_ARG);
}
END_TEST

/* A full queue is read back when the next op begins: nothing before, all of it then,
 * and the ops after it still in order after the earlier ones. */
START_TEST(full_queue_reads_back_early) {
    timed t = {0};
    lt_device_set_profiler(fake_dev, on_span, &t);
    fills(QUEUE_OPS);
    ck_assert_int_eq(t.n, 0);
    fills(1);
    ck_assert_int_eq(t.n, QUEUE_OPS);
    fills(10);
    ck_assert_int_eq(lt_device_flush_profiler(fake_dev), LT_OK);
    ck_assert_int_eq(t.n, QUEUE_OPS + 11);
    check_clean(&t);
    lt_device_set_profiler(fake_dev, NULL, NULL);
}
END_TEST

/* Without timer slots (the cpu accelerator) each span comes at once, host-timed, tid 0. */
START_TEST(no_timer_slots_time_on_the_host) {
    timed t = {0};
    lt_device_set_profiler(test_dev, on_span, &t);
    int64_t shape[1] = {4};
    ck_assert_ptr_nonnull(lt_full(test_arena, 1, shape, 1.0f));
    ck_assert_int_eq(t.n, 1);
    ck_assert_int_eq(t.bad_tid, 1); /* tid 0, not a device's */
    lt_device_set_profiler(test_dev, NULL, NULL);
}
END_TEST

Suite *suite_prof_timer(void) {
    Suite *s = suite_create("prof_timer");
    TCase *tc = tcase_create("device_timer");
    tcase_add_checked_fixture(tc, fake_open, fake_close);
    tcase_add_test(tc, spans_wait_for_a_read_back);
    tcase_add_test(tc, flush_and_replace_deliver);
    tcase_add_test(tc, full_queue_reads_back_early);
    suite_add_tcase(s, tc);
    TCase *host = tcase_create("host_clock");
    tcase_add_checked_fixture(host, test_open, test_close);
    tcase_add_test(host, no_timer_slots_time_on_the_host);
    suite_add_tcase(s, host);
    return s;
}
