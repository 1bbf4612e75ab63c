/* The plugin loader: each broken test plugin (tests/e2e/plugins) is refused with the
 * right status and a one-line message naming the file and the fix; valid plugins load
 * by path, by name through $LT_PLUGIN_PATH and from plugin roots; a scan reports what
 * loads and why the rest do not, each file once, and goes on past files that crash or
 * exit while loading (tests/e2e/plugins/hostile). */
#include <check.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <lt/accelerator.h>
#include <lt/data.h>
#include <lt/lt.h>
#include <lt/module.h>
#include <lt/plugin.h>
#include <lt/profiler.h>
#include <lt/strategy.h>

/* ---- helpers ------------------------------------------------------------------------ */

#define ASSERT_HAS(hay, needle)                                                                    \
    ck_assert_msg(strstr((hay), (needle)) != NULL, "expected \"%s\" in: %s", (needle), (hay))

static const char *plugin_dir(void) {
    const char *d = getenv("LT_TEST_PLUGIN_DIR");
    ck_assert_msg(d && d[0], "LT_TEST_PLUGIN_DIR is not set: run the tests with meson test");
    return d;
}

/* <plugin dir>/<file> */
static const char *plugin_file(char *buf, const char *file) {
    snprintf(buf, PATH_MAX, "%s/%s", plugin_dir(), file);
    return buf;
}

/* Sets $LT_PLUGIN_PATH (NULL: unset) and returns the old value for restore_path. */
static char *set_path(const char *value) {
    const char *old = getenv("LT_PLUGIN_PATH");
    char *saved = old ? strdup(old) : NULL;
    ck_assert(!old || saved);
    if (value)
        ck_assert_int_eq(setenv("LT_PLUGIN_PATH", value, 1), 0);
    else
        ck_assert_int_eq(unsetenv("LT_PLUGIN_PATH"), 0);
    return saved;
}

static void restore_path(char *saved) {
    if (saved)
        setenv("LT_PLUGIN_PATH", saved, 1);
    else
        unsetenv("LT_PLUGIN_PATH");
    free(saved);
}

/* Opening file (of the test dir) as kind fails with want, leaves *out NULL, and the one
 * line message names the file and contains both hints. */
static void expect_refusal(lt_plugin_kind kind, const char *file, lt_status want, const char *hint1,
                           const char *hint2) {
    char path[PATH_MAX];
    lt_plugin_t *p = (lt_plugin_t *)&p; /* poisoned: a failed open must reset it */
    lt_status s = lt_plugin_open(kind, plugin_file(path, file), NULL, &p);
    const char *msg = lt_last_error();
    ck_assert_msg(s == want, "%s: got %s, want %s: %s", file, lt_status_name(s),
                  lt_status_name(want), msg);
    ck_assert_ptr_null(p);
    ck_assert_int_eq(lt_last_status(), want);
    ASSERT_HAS(msg, file);
    ASSERT_HAS(msg, hint1);
    ASSERT_HAS(msg, hint2);
    ck_assert_msg(strchr(msg, '\n') == NULL, "message is not one line: %s", msg);
}

/* A temporary plugin root: <root>/<kind dir>/... symlinks to the test plugins. */
typedef struct temp_root {
    char dir[64];
    char links[4][PATH_MAX]; /* created paths, removed in reverse order */
    int nlinks;
} temp_root;

/* <root>/<sub>, remembered for root_remove. Built in a local first: the struct holds
 * both the root and the result, which -Wrestrict would flag. */
static const char *root_add(temp_root *r, const char *sub) {
    char p[PATH_MAX];
    ck_assert_int_lt(r->nlinks, 4);
    snprintf(p, sizeof p, "%s/%s", r->dir, sub);
    return memcpy(r->links[r->nlinks++], p, sizeof p);
}

static void root_mkdir(temp_root *r, const char *sub) {
    ck_assert_int_eq(mkdir(root_add(r, sub), 0700), 0);
}

static void root_link(temp_root *r, const char *sub, const char *file) {
    char target[PATH_MAX];
    ck_assert_int_eq(symlink(plugin_file(target, file), root_add(r, sub)), 0);
}

static void root_remove(temp_root *r) {
    while (r->nlinks > 0) remove(r->links[--r->nlinks]);
    rmdir(r->dir);
}

/* ---- names -------------------------------------------------------------------------- */

START_TEST(kind_names_and_dirs) {
    ck_assert_str_eq(lt_plugin_kind_name(LT_PLUGIN_MODULE), "module");
    ck_assert_str_eq(lt_plugin_kind_name(LT_PLUGIN_ACCELERATOR), "accelerator");
    ck_assert_str_eq(lt_plugin_kind_name(LT_PLUGIN_STRATEGY), "strategy");
    ck_assert_str_eq(lt_plugin_kind_name(LT_PLUGIN_PROFILER), "profiler");
    ck_assert_str_eq(lt_plugin_kind_name(LT_PLUGIN_DATA), "data");
    ck_assert_str_eq(lt_plugin_kind_dir(LT_PLUGIN_MODULE), "models");
    ck_assert_str_eq(lt_plugin_kind_dir(LT_PLUGIN_ACCELERATOR), "accelerators");
    ck_assert_str_eq(lt_plugin_kind_dir(LT_PLUGIN_STRATEGY), "strategies");
    ck_assert_str_eq(lt_plugin_kind_dir(LT_PLUGIN_PROFILER), "profilers");
    ck_assert_str_eq(lt_plugin_kind_dir(LT_PLUGIN_DATA), "data");
    ck_assert_str_eq(lt_plugin_kind_name(LT_PLUGIN_KIND_COUNT), "unknown");
}
END_TEST

/* ---- refusals ----------------------------------------------------------------------- */

START_TEST(refuses_other_abi_major) {
    expect_refusal(LT_PLUGIN_MODULE, "abi_major.so", LT_ERR_ABI,
                   "built for lthost plugin ABI 2.0 but this lthost speaks 1.",
                   "rebuild the plugin against this SDK (pkg-config --cflags lt)");
}
END_TEST

START_TEST(refuses_newer_minor_with_smaller_struct) {
    expect_refusal(LT_PLUGIN_MODULE, "minor_small.so", LT_ERR_ABI, "claims plugin ABI 1.99",
                   "corrupt or mis-built");
    char sizes[64];
    snprintf(sizes, sizeof sizes, "is %zu bytes, smaller than the %zu bytes",
             sizeof(lt_module_desc) - sizeof(void *), sizeof(lt_module_desc));
    ASSERT_HAS(lt_last_error(), sizes);
}
END_TEST

START_TEST(refuses_struct_smaller_than_1_0) {
    char need[64];
    snprintf(need, sizeof need, "needs at least %zu", sizeof(lt_module_desc));
    expect_refusal(LT_PLUGIN_MODULE, "too_small.so", LT_ERR_ABI, "of 8 bytes", need);
    ASSERT_HAS(lt_last_error(), "rebuild it");
}
END_TEST

START_TEST(refuses_file_without_entry) {
    expect_refusal(LT_PLUGIN_MODULE, "no_entry.so", LT_ERR_PLUGIN, "exports no lt_module_entry()",
                   "build it with LT_MODULE_EXPORT(...) from <lt/module.h>");
}
END_TEST

START_TEST(refuses_null_descriptor) {
    expect_refusal(LT_PLUGIN_MODULE, "null_entry.so", LT_ERR_PLUGIN,
                   "lt_module_entry() returned NULL", "LT_MODULE_EXPORT(...)");
}
END_TEST

START_TEST(refuses_empty_name) {
    expect_refusal(LT_PLUGIN_MODULE, "no_name.so", LT_ERR_PLUGIN, "has no name", ".name = ");
}
END_TEST

/* Issue #15: strings are read with a bound, pointers checked before use. */
START_TEST(refuses_unbounded_or_unreadable_descriptor_fields) {
    expect_refusal(LT_PLUGIN_MODULE, "hostile/name_unterminated.so", LT_ERR_PLUGIN,
                   ".name is longer than 64 bytes or not NUL-terminated", "LT_MODULE_EXPORT");
    expect_refusal(LT_PLUGIN_MODULE, "hostile/name_1mib.so", LT_ERR_PLUGIN,
                   ".name is longer than 64 bytes", "rebuild");
    ck_assert_int_lt(strlen(lt_last_error()), 1024);
    expect_refusal(LT_PLUGIN_MODULE, "hostile/name_unreadable.so", LT_ERR_PLUGIN,
                   ".name points to memory that cannot be read", "rebuild");
    expect_refusal(LT_PLUGIN_MODULE, "hostile/name_control.so", LT_ERR_PLUGIN,
                   ".name contains a control character", "rebuild");
    expect_refusal(LT_PLUGIN_MODULE, "hostile/entry_garbage.so", LT_ERR_PLUGIN,
                   "lt_module_entry() returned 0xdeadbeef", "LT_MODULE_EXPORT");
}
END_TEST

START_TEST(refuses_unbounded_descriptor_tables_and_sizes) {
    expect_refusal(LT_PLUGIN_MODULE, "hostile/self_size_huge.so", LT_ERR_PLUGIN,
                   ".self_size is 18446744073709551615 bytes", "LT_PLUGIN_SELF_MAX");
    expect_refusal(LT_PLUGIN_MODULE, "hostile/hparams_too_many.so", LT_ERR_PLUGIN,
                   ".hparams has more than 256 entries", "LT_HPARAM_END");
    expect_refusal(LT_PLUGIN_MODULE, "hostile/hparams_unreadable.so", LT_ERR_PLUGIN,
                   ".hparams points to memory that cannot be read", "rebuild");
    expect_refusal(LT_PLUGIN_MODULE, "hostile/hparam_help_unterminated.so", LT_ERR_PLUGIN,
                   ".hparams[0].help is longer than 1024 bytes", "rebuild");
    expect_refusal(LT_PLUGIN_MODULE, "hostile/hparam_bad_type.so", LT_ERR_PLUGIN,
                   ".hparams[0].type is not LT_HP_INT", "rebuild");
    expect_refusal(LT_PLUGIN_MODULE, "hostile/submodule_name_unterminated.so", LT_ERR_PLUGIN,
                   ".submodules[0].name is longer than 64 bytes", "rebuild");
}
END_TEST

START_TEST(refuses_wrong_kind_and_names_the_right_one) {
    expect_refusal(LT_PLUGIN_MODULE, "profiler_only.so", LT_ERR_PLUGIN,
                   "is a profiler plugin (exports lt_profiler_entry), not a module",
                   "open it as a profiler plugin");
    expect_refusal(LT_PLUGIN_ACCELERATOR, "good_module.so", LT_ERR_PLUGIN,
                   "is a module plugin (exports lt_module_entry), not an accelerator",
                   "open it as a module plugin");
}
END_TEST

START_TEST(refuses_file_that_is_not_a_shared_object) {
    expect_refusal(LT_PLUGIN_MODULE, "not_a_plugin.so", LT_ERR_PLUGIN,
                   "cannot be loaded as a plugin", "cc -shared -fPIC");
}
END_TEST

START_TEST(refuses_missing_file) {
    lt_plugin_t *p = NULL;
    lt_status s = lt_plugin_open(LT_PLUGIN_MODULE, "/nonexistent-lt/gone.so", NULL, &p);
    ck_assert_int_eq(s, LT_ERR_PLUGIN);
    ck_assert_ptr_null(p);
    ASSERT_HAS(lt_last_error(), "/nonexistent-lt/gone.so");
    ASSERT_HAS(lt_last_error(), "No such file");
    ASSERT_HAS(lt_last_error(), "check the path");
}
END_TEST

START_TEST(refuses_bad_arguments) {
    lt_plugin_t *p = NULL;
    ck_assert_int_eq(lt_plugin_open(LT_PLUGIN_MODULE, NULL, NULL, &p), LT_ERR_INVALID_ARG);
    ck_assert_int_eq(lt_plugin_open(LT_PLUGIN_MODULE, "", NULL, &p), LT_ERR_INVALID_ARG);
    ck_assert_int_eq(lt_plugin_open(LT_PLUGIN_KIND_COUNT, "mlp", NULL, &p), LT_ERR_INVALID_ARG);
    ck_assert_int_eq(lt_plugin_open(LT_PLUGIN_MODULE, "mlp", NULL, NULL), LT_ERR_INVALID_ARG);
    ck_assert_ptr_null(p);
    lt_plugin_close(NULL);
    ck_assert_ptr_null(lt_plugin_desc(NULL));
}
END_TEST

/* ---- loading -------------------------------------------------------------------------- */

START_TEST(opens_good_module_by_path) {
    char path[PATH_MAX];
    lt_plugin_t *p = NULL;
    lt_status s = lt_plugin_open(LT_PLUGIN_MODULE, plugin_file(path, "good_module.so"), NULL, &p);
    ck_assert_msg(s == LT_OK, "%s", lt_last_error());
    ck_assert_str_eq(lt_plugin_name(p), "good_module");
    ck_assert_str_eq(lt_plugin_path(p), path);
    const lt_module_desc *d = lt_plugin_desc(p);
    ck_assert_uint_eq(d->abi_major, LT_ABI_MAJOR);
    ck_assert_uint_eq(d->struct_size, sizeof(lt_module_desc));
    ck_assert_ptr_nonnull(d->setup);
    ck_assert_ptr_nonnull(d->training_step);
    ck_assert_ptr_null(d->teardown); /* unset optional hooks stay NULL */
    ck_assert_uint_gt(d->self_size, 0);
    lt_plugin_close(p);
}
END_TEST

START_TEST(opens_profiler_and_runs_it) {
    char path[PATH_MAX];
    lt_plugin_t *p = NULL;
    plugin_file(path, "profiler_only.so");
    lt_status s = lt_plugin_open(LT_PLUGIN_PROFILER, path, NULL, &p);
    ck_assert_msg(s == LT_OK, "%s", lt_last_error());
    const lt_profiler_desc *d = lt_plugin_desc(p);
    void *st = NULL;
    ck_assert_int_eq(d->init(NULL, &st), LT_OK);
    d->start(st, "run_training_epoch", 1);
    d->stop(st, "run_training_epoch", 2);
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    ck_assert_ptr_nonnull(out);
    d->summary(st, "fit", out);
    fclose(out);
    ASSERT_HAS(text, "1 starts, 1 stops");
    free(text);
    d->teardown(st);
    lt_plugin_close(p);
}
END_TEST

START_TEST(opens_by_name_through_plugin_path) {
    char list[2 * PATH_MAX];
    snprintf(list, sizeof list, "/nonexistent-lt::%s/", plugin_dir());
    char *saved = set_path(list);
    lt_plugin_t *p = NULL;
    lt_status s = lt_plugin_open(LT_PLUGIN_MODULE, "good_module", NULL, &p);
    ck_assert_msg(s == LT_OK, "%s", lt_last_error());
    char want[PATH_MAX];
    ck_assert_str_eq(lt_plugin_path(p), plugin_file(want, "good_module.so"));
    lt_plugin_close(p);
    /* A found but broken file is refused for what it is, not reported missing. */
    ck_assert_int_eq(lt_plugin_open(LT_PLUGIN_MODULE, "abi_major", NULL, &p), LT_ERR_ABI);
    ASSERT_HAS(lt_last_error(), "abi_major.so");
    restore_path(saved);
}
END_TEST

START_TEST(opens_by_name_from_plugin_roots) {
    temp_root r = {.dir = "/tmp/lt_plugin_root_XXXXXX"};
    ck_assert_ptr_nonnull(mkdtemp(r.dir));
    root_mkdir(&r, "models");
    root_mkdir(&r, "models/good_module");
    root_link(&r, "models/good_module/good_module.so", "good_module.so");
    root_link(&r, "models/profiler_only.so", "profiler_only.so");
    char *saved = set_path(NULL);
    const char *roots[] = {"/nonexistent-lt", r.dir, NULL};
    lt_plugin_t *p = NULL;
    lt_status s = lt_plugin_open(LT_PLUGIN_MODULE, "good_module", roots, &p);
    ck_assert_msg(s == LT_OK, "%s", lt_last_error());
    ASSERT_HAS(lt_plugin_path(p), "models/good_module/good_module.so");
    lt_plugin_close(p);
    /* <root>/<kind dir>/<name>.so is found too, then checked for its kind. */
    ck_assert_int_eq(lt_plugin_open(LT_PLUGIN_MODULE, "profiler_only", roots, &p), LT_ERR_PLUGIN);
    ASSERT_HAS(lt_last_error(), "is a profiler plugin");
    restore_path(saved);
    root_remove(&r);
}
END_TEST

START_TEST(missing_name_lists_places_searched) {
    char *saved = set_path(plugin_dir());
    const char *roots[] = {"/nonexistent-root", NULL};
    lt_plugin_t *p = NULL;
    ck_assert_int_eq(lt_plugin_open(LT_PLUGIN_MODULE, "no_such_model", roots, &p), LT_ERR_PLUGIN);
    ck_assert_ptr_null(p);
    const char *msg = lt_last_error();
    char where[PATH_MAX];
    ASSERT_HAS(msg, "no module plugin named 'no_such_model'");
    ASSERT_HAS(msg, "lthost plugins");
    ASSERT_HAS(msg, plugin_file(where, "no_such_model.so"));
    ASSERT_HAS(msg, plugin_file(where, "models/no_such_model.so"));
    ASSERT_HAS(msg, "/lthost/models/no_such_model.so"); /* <libdir of liblt>/lthost */
    ASSERT_HAS(msg, "/nonexistent-root/models/no_such_model.so");
    ASSERT_HAS(msg, "/nonexistent-root/models/no_such_model/no_such_model.so");
    restore_path(saved);
}
END_TEST

/* ---- scanning ------------------------------------------------------------------------- */

typedef struct seen_file {
    char base[64];
    int times, ok;
    lt_plugin_kind kind;
    char name[64];
    char why[1024];
} seen_file;

/* Room for every plugin tests/e2e/plugins builds, with margin: the scan sees them all. */
enum { SEEN_MAX = 128 };
typedef struct seen_list {
    seen_file files[SEEN_MAX];
    int n;
} seen_list;

static void on_plugin(void *user, const lt_plugin_info *info) {
    seen_list *l = user;
    const char *slash = strrchr(info->path, '/');
    const char *base = slash ? slash + 1 : info->path;
    for (int i = 0; i < l->n; i++) {
        if (strcmp(l->files[i].base, base) == 0) {
            l->files[i].times++;
            return;
        }
    }
    ck_assert_int_lt(l->n, SEEN_MAX);
    seen_file *f = &l->files[l->n++];
    snprintf(f->base, sizeof f->base, "%s", base);
    f->times = 1;
    f->ok = info->ok;
    f->kind = info->kind;
    snprintf(f->name, sizeof f->name, "%s", info->ok ? info->name : "");
    snprintf(f->why, sizeof f->why, "%s", info->ok ? "" : info->why);
    if (info->ok) ck_assert_uint_eq(info->abi_major, LT_ABI_MAJOR);
}

static const seen_file *find_seen(const seen_list *l, const char *base) {
    for (int i = 0; i < l->n; i++)
        if (strcmp(l->files[i].base, base) == 0) return &l->files[i];
    ck_abort_msg("%s was not reported by the scan", base);
    return NULL;
}

static void expect_loaded(const seen_list *l, const char *base, lt_plugin_kind kind,
                          const char *name) {
    const seen_file *f = find_seen(l, base);
    ck_assert_msg(f->ok, "%s skipped: %s", base, f->why);
    ck_assert_int_eq(f->kind, kind);
    ck_assert_str_eq(f->name, name);
    ck_assert_int_eq(f->times, 1);
}

static void expect_skipped(const seen_list *l, const char *base, const char *why) {
    const seen_file *f = find_seen(l, base);
    ck_assert_msg(!f->ok, "%s should have been skipped", base);
    ASSERT_HAS(f->why, base);
    ASSERT_HAS(f->why, why);
    ck_assert_int_eq(f->times, 1);
}

START_TEST(scan_reports_loaded_and_skipped) {
    char *saved = set_path(plugin_dir());
    seen_list *l = calloc(1, sizeof *l);
    ck_assert_ptr_nonnull(l);
    lt_set_error(LT_ERR_SHAPE, "earlier error");
    lt_plugin_scan(NULL, on_plugin, l);
    /* A scan's refusals are reports; the caller's last error survives it. */
    ck_assert_int_eq(lt_last_status(), LT_ERR_SHAPE);
    ck_assert_str_eq(lt_last_error(), "earlier error");
    expect_loaded(l, "profiler_only.so", LT_PLUGIN_PROFILER, "profiler_only");
    expect_loaded(l, "good_module.so", LT_PLUGIN_MODULE, "good_module");
    expect_skipped(l, "abi_major.so", "ABI 2.0");
    expect_skipped(l, "minor_small.so", "ABI 1.99");
    expect_skipped(l, "too_small.so", "of 8 bytes");
    expect_skipped(l, "null_entry.so", "returned NULL");
    expect_skipped(l, "no_name.so", "has no name");
    expect_skipped(l, "no_entry.so", "exports no plugin entry");
    expect_skipped(l, "not_a_plugin.so", "cannot be loaded");
    free(l);
    restore_path(saved);
}
END_TEST

/* Issue #15: a hostile directory is scanned to the end; each file is one skipped
 * report with its reason, the crashing and exiting ones included. */
START_TEST(scan_survives_hostile_plugins) {
    char dir[PATH_MAX];
    char *saved = set_path(plugin_file(dir, "hostile"));
    seen_list *l = calloc(1, sizeof *l);
    ck_assert_ptr_nonnull(l);
    lt_plugin_scan(NULL, on_plugin, l);
    expect_skipped(l, "ctor_crash.so", "killed the process with signal 11");
    expect_skipped(l, "ctor_exit.so", "ended the process with exit status");
    expect_skipped(l, "entry_garbage.so", "returned 0xdeadbeef, which is not readable memory");
    expect_skipped(l, "name_unterminated.so", ".name is longer than 64 bytes");
    expect_skipped(l, "name_unreadable.so", ".name points to memory that cannot be read");
    expect_skipped(l, "hparams_too_many.so", ".hparams has more than 256 entries");
    expect_skipped(l, "self_size_huge.so", ".self_size is");
    free(l);
    restore_path(saved);
}
END_TEST

START_TEST(scan_reports_each_file_once) {
    temp_root r = {.dir = "/tmp/lt_plugin_root_XXXXXX"};
    ck_assert_ptr_nonnull(mkdtemp(r.dir));
    root_mkdir(&r, "profilers");
    root_mkdir(&r, "profilers/profiler_only");
    root_link(&r, "profilers/profiler_only/profiler_only.so", "profiler_only.so");
    char *saved = set_path(plugin_dir());
    const char *roots[] = {r.dir, r.dir, NULL};
    seen_list *l = calloc(1, sizeof *l);
    ck_assert_ptr_nonnull(l);
    lt_plugin_scan(roots, on_plugin, l);
    expect_loaded(l, "profiler_only.so", LT_PLUGIN_PROFILER, "profiler_only");
    free(l);
    /* Reached only through the root, the nested layout is found. */
    free(set_path("/nonexistent-lt"));
    l = calloc(1, sizeof *l);
    ck_assert_ptr_nonnull(l);
    lt_plugin_scan(roots, on_plugin, l);
    ck_assert_int_eq(l->n, 1);
    expect_loaded(l, "profiler_only.so", LT_PLUGIN_PROFILER, "profiler_only");
    free(l);
    restore_path(saved);
    root_remove(&r);
}
END_TEST

/* ---- the export macros -------------------------------------------------------------- */

/* Descriptors made with the generic macro itself, under entry names of their own (the
 * kinds' entry names would clash with nothing here, but a test binary should not export
 * what a plugin does). */
typedef struct {
    double weights[5];
} generic_self;
LT_PLUGIN_EXPORT_(lt_module_desc, generic_module_entry, .self_size = sizeof(generic_self),
                  .name = "generic_module")
LT_PLUGIN_EXPORT_(lt_profiler_desc, generic_profiler_entry, .name = "generic_profiler")

START_TEST(generic_export_macro_fills_the_header) {
    const lt_module_desc *m = generic_module_entry();
    ck_assert_uint_eq(m->abi_major, LT_ABI_MAJOR);
    ck_assert_uint_eq(m->abi_minor, LT_ABI_MINOR);
    ck_assert_uint_eq(m->struct_size, sizeof(lt_module_desc));
    ck_assert_uint_eq(m->self_size, sizeof(generic_self));
    ck_assert_str_eq(m->name, "generic_module");
    ck_assert_ptr_null(m->setup);                /* what the plugin does not set stays NULL */
    ck_assert_ptr_eq(generic_module_entry(), m); /* one static descriptor */
    const lt_profiler_desc *p = generic_profiler_entry();
    ck_assert_uint_eq(p->abi_major, LT_ABI_MAJOR);
    ck_assert_uint_eq(p->abi_minor, LT_ABI_MINOR);
    ck_assert_uint_eq(p->struct_size, sizeof(lt_profiler_desc));
    ck_assert_str_eq(p->name, "generic_profiler");
}
END_TEST

/* The header every descriptor starts with, to read any kind's alike. */
typedef struct desc_header {
    LT_DESC_HEADER_FIELDS
} desc_header;

/* export/every_kind.so exports every kind through its public macro: each opens as its
 * kind with this header's ABI and its own struct's size, and the self size it names. */
START_TEST(each_kind_export_macro_fills_the_header) {
    static const struct {
        lt_plugin_kind kind;
        const char *name;
        size_t struct_size;
    } kinds[] = {
        {LT_PLUGIN_MODULE, "every_module", sizeof(lt_module_desc)},
        {LT_PLUGIN_ACCELERATOR, "every_accelerator", sizeof(lt_accelerator_desc)},
        {LT_PLUGIN_STRATEGY, "every_strategy", sizeof(lt_strategy_desc)},
        {LT_PLUGIN_PROFILER, "every_profiler", sizeof(lt_profiler_desc)},
        {LT_PLUGIN_DATA, "every_data", sizeof(lt_datamodule_desc)},
        {LT_PLUGIN_CALLBACK, "every_callback", sizeof(lt_callback_desc)},
        {LT_PLUGIN_LOGGER, "every_logger", sizeof(lt_logger_desc)},
    };
    ck_assert_int_eq(sizeof kinds / sizeof kinds[0], LT_PLUGIN_KIND_COUNT);
    char path[PATH_MAX];
    plugin_file(path, "export/every_kind.so");
    lt_plugin_t *p[LT_PLUGIN_KIND_COUNT];
    for (int i = 0; i < LT_PLUGIN_KIND_COUNT; i++) {
        lt_status s = lt_plugin_open(kinds[i].kind, path, NULL, &p[i]);
        ck_assert_msg(s == LT_OK, "%s: %s", kinds[i].name, lt_last_error());
        const desc_header *h = lt_plugin_desc(p[i]);
        ck_assert_str_eq(h->name, kinds[i].name);
        ck_assert_uint_eq(h->abi_major, LT_ABI_MAJOR);
        ck_assert_uint_eq(h->abi_minor, LT_ABI_MINOR);
        ck_assert_uint_eq(h->struct_size, kinds[i].struct_size);
    }
    /* the self structs of every_kind.c: 24, 56 and 40 bytes */
    ck_assert_uint_eq(((const lt_module_desc *)lt_plugin_desc(p[0]))->self_size, 24);
    ck_assert_uint_eq(((const lt_datamodule_desc *)lt_plugin_desc(p[4]))->self_size, 56);
    ck_assert_uint_eq(((const lt_callback_desc *)lt_plugin_desc(p[5]))->self_size, 40);
    for (int i = 0; i < LT_PLUGIN_KIND_COUNT; i++) lt_plugin_close(p[i]);
}
END_TEST

Suite *suite_plugin(void) {
    Suite *s = suite_create("plugin");
    TCase *t = tcase_create("loader");
    tcase_add_test(t, kind_names_and_dirs);
    tcase_add_test(t, refuses_other_abi_major);
    tcase_add_test(t, refuses_newer_minor_with_smaller_struct);
    tcase_add_test(t, refuses_struct_smaller_than_1_0);
    tcase_add_test(t, refuses_file_without_entry);
    tcase_add_test(t, refuses_null_descriptor);
    tcase_add_test(t, refuses_empty_name);
    tcase_add_test(t, refuses_unbounded_or_unreadable_descriptor_fields);
    tcase_add_test(t, refuses_unbounded_descriptor_tables_and_sizes);
    tcase_add_test(t, refuses_wrong_kind_and_names_the_right_one);
    tcase_add_test(t, refuses_file_that_is_not_a_shared_object);
    tcase_add_test(t, refuses_missing_file);
    tcase_add_test(t, refuses_bad_arguments);
    tcase_add_test(t, opens_good_module_by_path);
    tcase_add_test(t, opens_profiler_and_runs_it);
    tcase_add_test(t, opens_by_name_through_plugin_path);
    tcase_add_test(t, opens_by_name_from_plugin_roots);
    tcase_add_test(t, missing_name_lists_places_searched);
    tcase_add_test(t, generic_export_macro_fills_the_header);
    tcase_add_test(t, each_kind_export_macro_fills_the_header);
    suite_add_tcase(s, t);
    TCase *sc = tcase_create("scan");
    tcase_add_test(sc, scan_reports_loaded_and_skipped);
    tcase_add_test(sc, scan_reports_each_file_once);
    tcase_add_test(sc, scan_survives_hostile_plugins);
    suite_add_tcase(s, sc);
    return s;
}
