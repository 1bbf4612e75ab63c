/* The unit-test runner: every suite of test_list.h, Check's summary as the last line. */
#include <check.h>
#include <stdlib.h>

#include "test_list.h"

#define DECLARE_SUITE_(name) Suite *suite_##name(void);
LT_TEST_SUITES(DECLARE_SUITE_)

int main(void) {
    SRunner *sr = srunner_create(NULL);
#define ADD_SUITE_(name) srunner_add_suite(sr, suite_##name());
    LT_TEST_SUITES(ADD_SUITE_)
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
