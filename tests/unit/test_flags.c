/* The Trainer flag table (host/flags.c): every default parses, every flag writes its own
 * field and nothing else, whatever its width, and values print back as they were given. */
#include <stdint.h>
#include <string.h>

#include "../../host/flags.h"
#include "test_util.h"

/* The last host_error line (host_error_capture), for the tests that check it. */
static char last_error[1024];

static void capture_errors(void) { host_error_capture(last_error, sizeof last_error); }
static void release_errors(void) { host_error_capture(NULL, 0); }

/* A value each type accepts that differs from any default. */
static const char *sample(const flag *f) {
    switch (f->type) {
    case F_STR: return "sample";
    case F_CHOICE: { /* the second choice */
        static char choice[64];
        const char *c = strchr(f->choices, '|') + 1;
        snprintf(choice, sizeof choice, "%.*s", (int)strcspn(c, "|"), c);
        return choice;
    }
    case F_INT: return f->min == 1 ? "3" : "7";
    case F_OPT_INT: return "5";
    case F_DEVICES: return "3";
    case F_SEED: return "9";
    case F_BOOL: return f->def && !strcmp(f->def, "false") ? "true" : "false";
    case F_LIMIT: return "0.25";
    case F_BATCHES_OR_BOOL: return "3";
    case F_DOUBLE: return "2.5";
    case F_DURATION: return "01:02:03:04";
    }
    return NULL;
}

static size_t expected_size(const flag *f) {
    switch (f->type) {
    case F_STR:
    case F_CHOICE: return sizeof(const char *);
    case F_BOOL: return sizeof(bool);
    case F_LIMIT: return sizeof(batch_limit);
    case F_DOUBLE:
    case F_DURATION: return sizeof(double);
    case F_SEED: return sizeof(uint64_t);
    default: return f->size == sizeof(int) ? sizeof(int) : sizeof(int64_t);
    }
}

START_TEST(defaults_are_lightnings) {
    host_config c;
    config_defaults(&c, "fit");
    ck_assert_str_eq(c.accel, "auto");
    ck_assert_str_eq(c.strategy, "auto");
    ck_assert_str_eq(c.data, "fashion_mnist");
    ck_assert_int_eq(c.devices, 1);
    ck_assert_int_eq(c.threads, 0);
    ck_assert_int_eq(c.max_epochs, -1);
    ck_assert_int_eq(c.num_sanity_val_steps, 2);
    ck_assert_int_eq(c.check_val_every_n_epoch, 1);
    ck_assert_int_eq(c.log_every_n_steps, 50);
    ck_assert(c.limit_val.is_fraction && c.limit_val.fraction == 1.0);
    ck_assert(!c.overfit_batches.is_fraction && c.overfit_batches.count == 0);
    ck_assert(c.enable_progress_bar && c.strict && !c.seed_given && !c.module);
    ck_assert_double_eq(c.strategy_timeout, 1800);
}
END_TEST

/* The first byte flag f changed outside what it owns, or SIZE_MAX. One assertion per
 * flag, not per byte: host_config is tens of kilobytes and Check's assertions are slow
 * under ASan. */
static size_t first_foreign_change(const flag *f, const host_config *before,
                                   const host_config *after) {
    const unsigned char *a = (const void *)before, *b = (const void *)after;
    for (size_t i = 0; i < sizeof *before; i++) {
        if (a[i] == b[i]) continue;
        bool own = i >= f->offset && i < f->offset + f->size;
        bool seed_given = f->type == F_SEED && i == offsetof(host_config, seed_given);
        /* --devices also owns its list of GPU indices */
        bool device_list = f->type == F_DEVICES && i >= offsetof(host_config, device_ids) &&
                           i < offsetof(host_config, n_device_ids) + sizeof(int);
        if (!own && !seed_given && !device_list) return i;
    }
    return SIZE_MAX;
}

/* The bug the table replaced: an int flag written as int64_t spilled into its neighbour. */
START_TEST(each_flag_writes_only_its_field) {
    size_t n;
    const flag *table = flags_table(&n);
    for (const flag *f = table; f < table + n; f++) {
        ck_assert_msg(f->size == expected_size(f), "--%s: field of %zu bytes for its type", f->name,
                      f->size);
        host_config before, after;
        memset(&before, 0x5a, sizeof before);
        memcpy(&after, &before, sizeof after);
        ck_assert_msg(flag_set(&after, "", f, sample(f)), "--%s %s: %s", f->name, sample(f),
                      last_error);
        size_t i = first_foreign_change(f, &before, &after);
        ck_assert_msg(i == SIZE_MAX, "--%s changed byte %zu outside its field", f->name, i);
    }
}
END_TEST

/* Lightning's list forms pick GPUs by index: count = list length. */
START_TEST(device_lists) {
    host_config c;
    config_defaults(&c, "fit");
    static const char *const forms[] = {"1,3", "[1,3]", "[1, 3]", " [ 1 , 3 ] "};
    for (size_t i = 0; i < sizeof forms / sizeof *forms; i++) {
        ck_assert_msg(flag_set(&c, "", flag_find("devices"), forms[i]), "%s: %s", forms[i],
                      last_error);
        ck_assert_int_eq(c.devices, 2);
        ck_assert_int_eq(c.n_device_ids, 2);
        ck_assert(c.device_ids[0] == 1 && c.device_ids[1] == 3);
    }
    cfg_node *n = flag_node(&c, flag_find("devices"));
    host_config again;
    config_defaults(&again, "fit");
    ck_assert(flag_set(&again, "", flag_find("devices"), "[1, 3]"));
    cfg_node *m = flag_node(&again, flag_find("devices"));
    ck_assert(cfg_scalar_equal(n, m));
    cfg_node_free(n);
    cfg_node_free(m);
    ck_assert(flag_set(&c, "", flag_find("devices"), "2,") && c.devices == 1 &&
              c.device_ids[0] == 2);
    ck_assert(flag_set(&c, "", flag_find("devices"), "4") && c.devices == 4 && c.n_device_ids == 0);
}
END_TEST

START_TEST(values_print_back_as_given) {
    size_t n;
    const flag *table = flags_table(&n);
    for (const flag *f = table; f < table + n; f++) {
        host_config c;
        config_defaults(&c, "fit");
        ck_assert(flag_set(&c, "", f, sample(f)));
        cfg_node *once = flag_node(&c, f);
        host_config again;
        config_defaults(&again, "fit");
        ck_assert(flag_set(&again, "", f, sample(f)));
        cfg_node *twice = flag_node(&again, f), *def = NULL;
        ck_assert_msg(cfg_scalar_equal(once, twice), "--%s", f->name);
        if (f->def) {
            config_defaults(&again, "fit");
            def = flag_node(&again, f);
            ck_assert_msg(!cfg_scalar_equal(once, def), "--%s %s prints as its default", f->name,
                          sample(f));
        }
        cfg_node_free(once);
        cfg_node_free(twice);
        cfg_node_free(def);
    }
}
END_TEST

START_TEST(out_of_range_values_are_refused) {
    host_config c;
    config_defaults(&c, "fit");
    ck_assert(!flag_set(&c, "", flag_find("devices"), "5000000000"));
    ck_assert_ptr_nonnull(
        strstr(last_error, "--devices expects an integer >= 1, got '5000000000'"));
    ck_assert_int_eq(c.devices, 1);
    ck_assert(!flag_set(&c, "cfg.yaml:3: ", flag_find("threads"), "0"));
    ck_assert_ptr_nonnull(
        strstr(last_error, "cfg.yaml:3: --threads expects an integer >= 1 or null"));
    ck_assert(!flag_set(&c, "", flag_find("max_epochs"), "-2"));
    ck_assert(!flag_set(&c, "", flag_find("gradient_clip_algorithm"), "l1"));
    ck_assert(!flag_set(&c, "", flag_find("limit_val_batches"), "1.5"));
    ck_assert(!flag_set(&c, "", flag_find("strategy.timeout"), "inf"));
    ck_assert(flag_set(&c, "", flag_find("devices"), "auto") && c.devices == 0);
    ck_assert(!flag_set(&c, "", flag_find("devices"), "1,1"));
    ck_assert_ptr_nonnull(strstr(last_error, "--devices 1,1 names GPU 1 twice: two ranks cannot"));
    static const char *const bad_lists[] = {"1,x",  "[1,3",    "1,3]",   "[]",
                                            "1,,3", "[1,3] 4", "1,99999"};
    for (size_t i = 0; i < sizeof bad_lists / sizeof *bad_lists; i++)
        ck_assert_msg(!flag_set(&c, "", flag_find("devices"), bad_lists[i]), "%s", bad_lists[i]);
    ck_assert(!flag_set(&c, "", flag_find("precision"), "64-true"));
    ck_assert_ptr_nonnull(strstr(last_error, "--precision expects 32-true|32|16-mixed"));
    ck_assert(!flag_set(&c, "", flag_find("float32_matmul_precision"), "low"));
    ck_assert(flag_set(&c, "", flag_find("threads"), "null") && c.threads == 0);
    ck_assert_str_eq(flag_suggest("max_epoch"), "max_epochs");
    ck_assert_str_eq(flag_suggest("print_confg"), "print_config");
}
END_TEST

Suite *suite_flags(void) {
    Suite *s = suite_create("flags");
    TCase *tc = tcase_create("flags");
    tcase_add_checked_fixture(tc, capture_errors, release_errors);
    tcase_add_test(tc, defaults_are_lightnings);
    tcase_add_test(tc, each_flag_writes_only_its_field);
    tcase_add_test(tc, values_print_back_as_given);
    tcase_add_test(tc, device_lists);
    tcase_add_test(tc, out_of_range_values_are_refused);
    suite_add_tcase(s, tc);
    return s;
}
