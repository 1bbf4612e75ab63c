/* The trainer flags of issue 23 (host/duration.c, host/env_defaults.c, cli.c): Lightning's
 * max_time forms, PL_TRAINER_* defaults under --config and the command line, and the
 * max_epochs default a Timer changes. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../host/flags.h"
#include "test_util.h"

static char last_error[1024];

static void capture_errors(void) {
    last_error[0] = '\0';
    host_error_capture(last_error, sizeof last_error);
}
static void release_errors(void) {
    host_error_capture(NULL, 0);
    unsetenv("PL_TRAINER_MAX_EPOCHS");
    unsetenv("PL_TRAINER_DETECT_ANOMALY");
    unsetenv("PL_TRAINER_ACCELERATOR");
    unsetenv("PL_TRAINER_MIN_STEPS");
}

static double seconds_of(const char *text) {
    double s = -2;
    char why[256];
    ck_assert_msg(duration_parse(text, &s, why, sizeof why), "%s: %s", text, why);
    return s;
}

START_TEST(max_time_forms) {
    ck_assert(seconds_of("00:12:00:00") == 12 * 3600.0);
    ck_assert(seconds_of(" 1:00:00:05 ") == 86405.0); /* Python's strip(), any day digits */
    ck_assert(seconds_of("{hours: 1, minutes: 30}") == 5400.0);
    ck_assert(seconds_of("{\"days\": 1, \"seconds\": 0.5}") == 86400.5);
    ck_assert(seconds_of("{weeks: 1}") == 604800.0);
    ck_assert(seconds_of("null") == -1.0);
    static const char *const bad[] = {"12:00:00",       "00:1:00:00",      "1h",
                                      "{hours: x}",     "{fortnights: 1}", "{hours: 1",
                                      "00:00:00:00:00", "{hours: -1}",     "{days: 1e12}"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        double s;
        char why[256];
        ck_assert_msg(!duration_parse(bad[i], &s, why, sizeof why), "accepted %s", bad[i]);
    }
}
END_TEST

START_TEST(max_time_prints_back) {
    char text[64];
    static const double values[] = {0, 59, 3600, 86400 * 3 + 3661, 1.5};
    for (size_t i = 0; i < sizeof values / sizeof *values; i++) {
        duration_format(values[i], text, sizeof text);
        ck_assert_msg(seconds_of(text) == values[i], "%g printed as %s", values[i], text);
    }
    duration_format(93784, text, sizeof text);
    ck_assert_str_eq(text, "01:02:03:04");
}
END_TEST

/* argv as cli_parse takes it (it writes into the strings: copies). */
static bool parse(host_config *c, cfg_entries *store, int n, const char *const *args) {
    char *argv[16];
    for (int i = 0; i < n; i++) argv[i] = strdup(args[i]);
    config_defaults(c, "fit");
    c->accel = "cpu";
    bool ok = cli_parse(n, argv, c, store);
    for (int i = 0; i < n; i++) free(argv[i]);
    return ok;
}

START_TEST(env_is_under_config_and_command_line) {
    host_config c;
    cfg_entries store = {0};
    setenv("PL_TRAINER_MAX_EPOCHS", "7", 1);
    setenv("PL_TRAINER_DETECT_ANOMALY", "True", 1); /* literal_eval's spelling */
    setenv("PL_TRAINER_ACCELERATOR", "'cpu'", 1);
    const char *none[] = {"--accel", "cpu"};
    ck_assert(parse(&c, &store, 2, none));
    ck_assert_int_eq(c.max_epochs, 7);
    ck_assert(c.detect_anomaly);
    const char *given[] = {"--accel", "cpu", "--max_epochs", "3"};
    ck_assert(parse(&c, &store, 4, given));
    ck_assert_int_eq(c.max_epochs, 3);
    char path[] = "/tmp/lt_envcfg_XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    const char yaml[] = "trainer:\n  max_epochs: 5\n  max_time: {minutes: 2}\n";
    ck_assert_int_eq(write(fd, yaml, sizeof yaml - 1), (ssize_t)(sizeof yaml - 1));
    close(fd);
    const char *cfg[] = {"--accel", "cpu", "--config", path};
    ck_assert_msg(parse(&c, &store, 4, cfg), "%s", last_error);
    unlink(path);
    ck_assert_int_eq(c.max_epochs, 5);
    ck_assert(c.max_time == 120.0);
    cfg_entries_free(&store);
}
END_TEST

START_TEST(bad_env_value_names_the_variable) {
    host_config c;
    cfg_entries store = {0};
    setenv("PL_TRAINER_MIN_STEPS", "many", 1);
    const char *none[] = {"--accel", "cpu"};
    ck_assert(!parse(&c, &store, 2, none));
    ck_assert_msg(strstr(last_error, "PL_TRAINER_MIN_STEPS=many: --min_steps expects") != NULL,
                  "%s", last_error);
    cfg_entries_free(&store);
}
END_TEST

/* Lightning's _parse_loop_limits: 1000 epochs by default, unlimited with a Timer. */
START_TEST(max_time_lifts_the_epoch_default) {
    host_config c;
    cfg_entries store = {0};
    const char *plain[] = {"--accel", "cpu"};
    ck_assert(parse(&c, &store, 2, plain));
    ck_assert_int_eq(c.max_epochs, 1000);
    const char *timed[] = {"--accel", "cpu", "--max_time", "00:00:01:00"};
    ck_assert(parse(&c, &store, 4, timed));
    ck_assert_int_eq(c.max_epochs, -1);
    ck_assert(c.max_time == 60.0);
    const char *timer[] = {"--accel", "cpu", "--callbacks", "Timer"};
    ck_assert(parse(&c, &store, 4, timer));
    ck_assert_int_eq(c.max_epochs, -1);
    const char *bad[] = {"--accel", "cpu", "--max_time", "1:00"};
    ck_assert(!parse(&c, &store, 4, bad));
    ck_assert_msg(strstr(last_error, "--max_time expects") && strstr(last_error, "DD:HH:MM:SS"),
                  "%s", last_error);
    cfg_entries_free(&store);
}
END_TEST

Suite *suite_trainer_flags(void) {
    Suite *s = suite_create("trainer_flags");
    TCase *tc = tcase_create("flags");
    tcase_add_checked_fixture(tc, capture_errors, release_errors);
    tcase_add_test(tc, max_time_forms);
    tcase_add_test(tc, max_time_prints_back);
    tcase_add_test(tc, env_is_under_config_and_command_line);
    tcase_add_test(tc, bad_env_value_names_the_variable);
    tcase_add_test(tc, max_time_lifts_the_epoch_default);
    suite_add_tcase(s, tc);
    return s;
}
