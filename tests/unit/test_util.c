/* The unit tests' shared fixture. */
#include "test_util.h"

lt_device_t *test_dev;
lt_arena_t *test_arena;

void test_open(void) {
    test_dev = NULL;
    ck_assert_msg(lt_device_open("cpu", 1, &test_dev) == LT_OK,
                  "cannot open the cpu accelerator "
                  "(is LT_PLUGIN_PATH set to its build folder?): %s",
                  lt_last_error());
    test_arena = lt_arena_new(test_dev);
    ck_assert_ptr_nonnull(test_arena);
}

void test_close(void) {
    lt_arena_free(test_arena);
    lt_device_close(test_dev);
    test_arena = NULL;
    test_dev = NULL;
}
