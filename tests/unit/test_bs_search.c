/* BatchSizeFinder's search (host/tune/bs_search.c) tries the sizes Lightning 2.6 tries, in
 * its order, and lands on its size: every scenario of tests/fixtures/bs_scaling_lightning.csv
 * (tests/reference/bs_scaling.py ran Lightning's _run_power_scaling / _run_binsearch_scaling
 * with a fake out-of-memory above a threshold), and prints Lightning's lines on the way. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../host/tune/bs_search.h"
#include "test_list.h"

static int oom_above_trial(void *user, int64_t size) { return size <= *(int64_t *)user; }

/* One fixture line: the scenario, then the found size and the tried sizes compared. */
static void check_line(char *line) {
    char mode[16], tried_text[1024] = "";
    long long init, trials, oom, len, start, max_val, found;
    double margin;
    int got = sscanf(line, "%15[a-z],%lld,%lld,%lld,%lld,%lld,%lf,%lld,%lld,%1023[0-9 ]", mode,
                     &init, &trials, &oom, &len, &start, &margin, &max_val, &found, tried_text);
    ck_assert_msg(got == 10, "bad fixture line: %s", line);
    bs_search_opts o = {.init_val = init,
                        .max_trials = (int)trials,
                        .binsearch = !strcmp(mode, "binsearch"),
                        .margin = margin,
                        .dataset_len = len,
                        .start = start,
                        .max_val = max_val};
    int64_t sizes[64], threshold = oom;
    bs_search_result r = {.tried = sizes, .cap = 64};
    ck_assert_int_eq(bs_search_run(&o, oom_above_trial, &threshold, &r), 0);
    char text[1024] = "";
    for (int i = 0; i < r.n_tried; i++) {
        size_t n = strlen(text);
        snprintf(text + n, sizeof text - n, "%s%lld", i ? " " : "", (long long)sizes[i]);
    }
    ck_assert_msg(!strcmp(text, tried_text), "%s: tried %s, Lightning %s", line, text, tried_text);
    ck_assert_msg(r.found == found, "%s: found %lld", line, (long long)r.found);
}

START_TEST(search_sequence_equals_lightnings) {
    const char *dir = getenv("LT_FIXTURE_DIR");
    ck_assert_msg(dir != NULL, "LT_FIXTURE_DIR is not set (tests/fixtures of the source tree)");
    char path[1024], line[2048];
    snprintf(path, sizeof path, "%s/bs_scaling_lightning.csv", dir);
    FILE *f = fopen(path, "r");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    int n = 0;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "mode,", 5)) check_line(line), n++;
    fclose(f);
    ck_assert_int_ge(n, 23);
}
END_TEST

/* The lines Lightning's rank_zero_info prints along the way, in its words. */
START_TEST(search_logs_lightnings_lines) {
    char *text = NULL;
    size_t len = 0;
    FILE *log = open_memstream(&text, &len);
    ck_assert_ptr_nonnull(log);
    int64_t sizes[64], threshold = 100;
    bs_search_result r = {.tried = sizes, .cap = 64};
    bs_search_opts o = {.init_val = 32,
                        .max_trials = 25,
                        .binsearch = true,
                        .margin = 0.05,
                        .dataset_len = 1000,
                        .start = 8,
                        .log = log};
    ck_assert_int_eq(bs_search_run(&o, oom_above_trial, &threshold, &r), 0);
    o = (bs_search_opts){
        .init_val = 2, .max_trials = 25, .dataset_len = 3, .start = 1, .max_val = 8, .log = log};
    ck_assert_int_eq(bs_search_run(&o, oom_above_trial, &threshold, &r), 0);
    o.dataset_len = 0;
    ck_assert_int_eq(bs_search_run(&o, oom_above_trial, &threshold, &r), 0);
    fclose(log);
    const char *want = "Batch size 32 succeeded, trying batch size 64\n"
                       "Batch size 64 succeeded, trying batch size 128\n"
                       "Batch size 128 failed, trying batch size 96\n"
                       "Batch size 96 succeeded, trying batch size 112\n"
                       "Batch size 112 failed, trying batch size 104\n"
                       "Batch size 104 failed, trying batch size 100\n"
                       "Batch size 100 succeeded, trying batch size 102\n"
                       "Batch size 102 failed, trying batch size 101\n"
                       "Batch size 101 failed, trying batch size 100\n"
                       "Applying margin of 5.0%, reducing batch size from 100 to 95\n"
                       "Batch size 2 succeeded, trying batch size 4\n"
                       "The batch size 4 is greater or equal than the length of your dataset: 3.\n"
                       "Batch size 2 succeeded, trying batch size 4\n"
                       "Batch size 4 succeeded, trying batch size 8\n"
                       "Reached the maximum batch size limit of 8. Stopping search.\n";
    ck_assert_str_eq(text, want);
    free(text);
}
END_TEST

START_TEST(search_refuses_bad_options) {
    int64_t sizes[4], threshold = 100;
    bs_search_result r = {.tried = sizes, .cap = 4};
    bs_search_opts o = {.init_val = 2, .max_trials = 25, .start = 1};
    ck_assert_int_eq(bs_search_run(&o, oom_above_trial, &threshold, &r), -1); /* cap 4 < trials */
    o.init_val = 0;
    ck_assert_int_eq(bs_search_run(&o, oom_above_trial, &threshold, &r), -1);
    o.init_val = 2, o.margin = 1.0;
    ck_assert_int_eq(bs_search_run(&o, oom_above_trial, &threshold, &r), -1);
    o.margin = 0, o.max_val = -1;
    ck_assert_int_eq(bs_search_run(&o, oom_above_trial, &threshold, &r), -1);
}
END_TEST

Suite *suite_bs_search(void) {
    Suite *s = suite_create("bs_search");
    TCase *t = tcase_create("bs_search");
    tcase_add_test(t, search_sequence_equals_lightnings);
    tcase_add_test(t, search_logs_lightnings_lines);
    tcase_add_test(t, search_refuses_bad_options);
    suite_add_tcase(s, t);
    return s;
}
