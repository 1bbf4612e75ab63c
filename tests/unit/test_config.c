/* YAML config files: LightningCLI's layout flattens to command-line flags, every refused
 * shape is named by line:col, and what --print_config emits reads back unchanged. */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "../../host/config/config.h"
#include "test_util.h"

/* ---- helpers ------------------------------------------------------------------------- */

static char path[64];

/* `text` into a fresh file under /tmp; its name is left in `path`. */
static void write_cfg(const char *text) {
    snprintf(path, sizeof path, "/tmp/lt_cfg_XXXXXX");
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    size_t n = strlen(text);
    ck_assert_int_eq(write(fd, text, n), (ssize_t)n);
    close(fd);
}

/* cfg_read_file on `text` written to a temp file, which is removed again. */
static bool read_cfg(const char *text, cfg_entries *e, char *err, size_t errn) {
    write_cfg(text);
    bool ok = cfg_read_file(path, e, err, errn);
    unlink(path);
    return ok;
}

typedef struct want {
    const char *key, *value;
    int line;
} want;

/* e holds exactly w (ended by a NULL key), in order. */
static void check_entries(const cfg_entries *e, const want *w) {
    int n = 0;
    for (; w[n].key; n++) {
        ck_assert_msg(n < e->n, "only %d entries, want %s=%s next", e->n, w[n].key, w[n].value);
        ck_assert_str_eq(e->items[n].key, w[n].key);
        ck_assert_str_eq(e->items[n].value, w[n].value);
        ck_assert_msg(e->items[n].line == w[n].line, "%s: line %d, want %d", w[n].key,
                      e->items[n].line, w[n].line);
    }
    ck_assert_msg(e->n == n, "%d entries, want %d (extra: %s)", e->n, n,
                  e->n > n ? e->items[n].key : "-");
}

static void expect_entries(const char *text, const want *w) {
    cfg_entries e = {0};
    char err[512];
    ck_assert_msg(read_cfg(text, &e, err, sizeof err), "refused: %s", err);
    check_entries(&e, w);
    cfg_entries_free(&e);
    ck_assert_ptr_null(e.items);
}

/* Reading `text` fails with one line "path:line:col: ..." that contains `why`. */
static void expect_error(const char *text, int line, int col, const char *why) {
    cfg_entries e = {0};
    char err[512], prefix[128];
    ck_assert_msg(!read_cfg(text, &e, err, sizeof err), "accepted: %s", text);
    ck_assert_int_eq(e.n, 0);
    snprintf(prefix, sizeof prefix, "%s:%d:%d: ", path, line, col);
    ck_assert_msg(strncmp(err, prefix, strlen(prefix)) == 0, "want '%s...', got: %s", prefix, err);
    ck_assert_msg(strstr(err, why) != NULL, "message lacks '%s': %s", why, err);
    ck_assert_msg(strchr(err, '\n') == NULL, "more than one line: %s", err);
    ck_assert_msg(strchr(err + strlen(prefix), ';') != NULL, "no hint after ';': %s", err);
    cfg_entries_free(&e);
}

/* ---- reading ------------------------------------------------------------------------- */

/* What LightningCLI's --print_config writes, with lthost's names. */
START_TEST(full_lightning_file) {
    const char *text = "# lightning.pytorch==2.6.6\n" /* 1 */
                       "seed_everything: 42\n"
                       "trainer:\n"
                       "  accelerator: cpu\n"
                       "  strategy: auto\n" /* 5 */
                       "  devices: 1\n"
                       "  precision: null\n"
                       "  logger:\n"
                       "    class_path: CSVLogger\n"
                       "    init_args:\n" /* 10 */
                       "      save_dir: logs\n"
                       "      name: null\n"
                       "  callbacks:\n"
                       "  - class_path: EarlyStopping\n"
                       "    init_args:\n" /* 15 */
                       "      monitor: val_loss\n"
                       "      patience: 3\n"
                       "  - RichProgressBar\n"
                       "  fast_dev_run: false\n"
                       "  max_epochs: 5\n" /* 20 */
                       "  limit_train_batches: 0.25\n"
                       "model:\n"
                       "  class_path: mlp\n"
                       "  init_args:\n"
                       "    hidden: 128\n" /* 25 */
                       "    lr: 1e-3\n"
                       "    name: \"my model\"\n"
                       "data:\n"
                       "  class_path: fashion_mnist\n"
                       "  init_args:\n" /* 30 */
                       "    batch_size: 64\n"
                       "    root: '/data/fm'\n"
                       "ckpt_path: null\n";
    const want w[] = {
        {"seed_everything", "42", 2},
        {"trainer.accelerator", "cpu", 4},
        {"trainer.strategy", "auto", 5},
        {"trainer.devices", "1", 6},
        {"trainer.logger", "CSVLogger", 9},
        {"trainer.logger.CSVLogger.save_dir", "logs", 11}, /* its own, not every logger's */
        {"trainer.callbacks", "EarlyStopping", 14},
        {"trainer.callbacks.monitor", "val_loss", 16},
        {"trainer.callbacks.patience", "3", 17},
        {"trainer.callbacks", "RichProgressBar", 18},
        {"trainer.fast_dev_run", "false", 19},
        {"trainer.max_epochs", "5", 20},
        {"trainer.limit_train_batches", "0.25", 21},
        {"model.class_path", "mlp", 23},
        {"model.hidden", "128", 25},
        {"model.lr", "1e-3", 26},
        {"model.name", "my model", 27},
        {"data.class_path", "fashion_mnist", 29},
        {"data.batch_size", "64", 31},
        {"data.root", "/data/fm", 32},
        {NULL, NULL, 0},
    };
    expect_entries(text, w);
}
END_TEST

START_TEST(model_and_data_shapes) {
    const want scalar[] = {
        {"model.class_path", "mlp", 1}, {"data.class_path", "fashion_mnist", 2}, {0}};
    expect_entries("model: mlp\ndata: fashion_mnist\n", scalar);
    const want class_only[] = {{"model.class_path", "mlp", 2}, {0}};
    expect_entries("model:\n  class_path: mlp\n", class_only);
    const want args_only[] = {{"data.batch_size", "8", 3}, {0}};
    expect_entries("data:\n  init_args:\n    batch_size: 8\n", args_only);
    const want plain[] = {{"model.hidden", "64", 2}, {"model.lr", "0.1", 3}, {0}};
    expect_entries("model:\n  hidden: 64\n  lr: 0.1\n", plain);
    /* File order, also when class_path comes after init_args. */
    const want late[] = {{"model.lr", "1", 1}, {"model.class_path", "mlp", 1}, {0}};
    expect_entries("model: {init_args: {lr: 1}, class_path: mlp}\n", late);
    const want null_args[] = {{"data.class_path", "x", 3}, {0}};
    expect_entries("model: null\ndata:\n  class_path: x\n  init_args: null\n", null_args);
    const want none[] = {{0}};
    expect_entries("model:\ndata: ~\n", none);
}
END_TEST

START_TEST(callbacks_and_logger_shapes) {
    const want one[] = {
        {"trainer.callbacks", "EarlyStopping", 2}, {"trainer.logger", "false", 3}, {0}};
    expect_entries("trainer:\n  callbacks: EarlyStopping\n  logger: false\n", one);
    const want mapping[] = {{"trainer.callbacks", "ModelCheckpoint", 3},
                            {"trainer.callbacks.every_n_epochs", "2", 5},
                            {0}};
    expect_entries("trainer:\n  callbacks:\n    class_path: ModelCheckpoint\n    init_args:\n"
                   "      every_n_epochs: 2\n      dirpath: null\n",
                   mapping);
    const want loggers[] = {{"trainer.logger", "CSVLogger", 3},
                            {"trainer.logger", "TensorBoardLogger", 4},
                            {"trainer.logger.TensorBoardLogger.save_dir", "tb", 6},
                            {"trainer.callbacks", "A", 8},
                            {"trainer.callbacks", "B", 9},
                            {0}};
    expect_entries("trainer:\n  logger:\n  - CSVLogger\n  - class_path: TensorBoardLogger\n"
                   "    init_args:\n      save_dir: tb\n  callbacks:\n  - A\n  - B\n",
                   loggers);
}
END_TEST

START_TEST(nulls_are_skipped_quoted_nulls_kept) {
    const want w[] = {{"a", "null", 5}, {"b", "", 6}, {"trainer.max_epochs", "~", 9}, {0}};
    expect_entries("ckpt_path:\n"
                   "ckpt_path2: null\n"
                   "c: ~\n"
                   "d: NULL\n"
                   "a: 'null'\n"
                   "b: \"\"\n"
                   "trainer:\n"
                   "  precision:\n"
                   "  max_epochs: '~'\n"
                   "  logger: null\n"
                   "  callbacks:\n"
                   "optimizer_not: Null\n",
                   w);
}
END_TEST

START_TEST(values_as_written) {
    const want w[] = {
        {"a", "1e-3", 1},
        {"b", "true", 2},
        {"c", "007", 3},
        {"d", "0x10", 4},
        {"e", "a: b", 5},
        {"f", "it's", 6},
        {"g", "two\nlines\n", 7},
        {"h", "x # not a comment", 10},
        {"trainer.max_epochs", "3", 11},
        {"trainer.devices", "2", 12},
        {"k", "1", 13},
        {0},
    };
    expect_entries("a: 1e-3\n"
                   "b: true\n"
                   "c: 007\n"
                   "d: 0x10 # a comment\n"
                   "e: \"a: b\"\n"
                   "f: 'it''s'\n"
                   "g: |\n"
                   "  two\n"
                   "  lines\n"
                   "h: \"x # not a comment\"\n"
                   "trainer: {max_epochs: 3}\n"
                   "trainer.devices: 2\n"
                   "\"k\": !!str 1\n",
                   w);
}
END_TEST

START_TEST(refused_shapes) {
    expect_error("seed_everything: 1\noptimizer:\n  class_path: Adam\n", 2, 1,
                 "'optimizer' is not supported in config files; configure it in the module's "
                 "configure_optimizers");
    expect_error("lr_scheduler: StepLR\n", 1, 1, "'lr_scheduler' is not supported");
    expect_error("trainer:\n  max_epochs: {a: 1}\n", 2, 15,
                 "expected a single value for trainer.max_epochs, got a mapping");
    expect_error("model:\n  hidden: [1, 2]\n", 2, 11,
                 "expected a single value for model.hidden, got a sequence");
    expect_error("ckpt_path:\n  - a\n", 2, 3,
                 "expected a single value for ckpt_path, got a sequence");
    expect_error("model:\n  init_args:\n    layers:\n      a: 1\n", 4, 7,
                 "expected a single value for model.layers, got a mapping");
    expect_error("trainer: 5\n", 1, 10,
                 "expected a mapping of Trainer flags under 'trainer:', got a scalar");
    expect_error("model: [a]\n", 1, 8,
                 "expected a class name or a mapping for 'model', got a sequence");
    expect_error("model:\n  class_path: mlp\n  hidden: 3\n", 3, 3,
                 "unexpected key 'hidden' beside class_path/init_args in model");
    expect_error("model:\n  class_path: [a]\n", 2, 15,
                 "class_path of model must name a class, got a sequence");
    expect_error("data:\n  class_path:\n", 2, 14, "class_path of data must name a class, got null");
    expect_error("model:\n  init_args: 5\n", 2, 14, "init_args of model must be a mapping");
    expect_error("trainer:\n  callbacks:\n  - init_args: {a: 1}\n", 3, 5,
                 "an entry of trainer.callbacks has no class_path");
    expect_error("trainer:\n  callbacks:\n  - class_path: A\n    monitor: x\n", 4, 5,
                 "unexpected key 'monitor' beside class_path/init_args in trainer.callbacks");
    expect_error("trainer:\n  callbacks:\n  - A\n  -\n", 4, 4, "empty entry in trainer.callbacks");
    expect_error("trainer:\n  logger:\n  - [a]\n", 3, 5,
                 "expected a class name or a class_path mapping in trainer.logger, got a sequence");
}
END_TEST

START_TEST(refused_documents) {
    expect_error("", 1, 1, "the config file is empty");
    expect_error("# only a comment\n\n", 1, 1, "the config file is empty");
    expect_error("- a\n- b\n", 1, 1, "the config must be a mapping of flags, got a sequence");
    expect_error("fit\n", 1, 1, "the config must be a mapping of flags, got a scalar");
    expect_error("---\n", 2, 1, "the config must be a mapping of flags, got nothing");
    expect_error("a: 1\n---\nb: 2\n", 2, 1, "a second YAML document");
    expect_error("trainer:\n  max_epochs: 1\n  devices: 1\n  max_epochs: 2\n", 4, 3,
                 "duplicate key 'max_epochs' (first at line 2)");
    expect_error("model: a\nseed_everything: 1\nmodel: b\n", 3, 1,
                 "duplicate key 'model' (first at line 1)");
    expect_error("a: &x 1\nb: *x\n", 1, 4, "anchor '&x' is not supported");
    expect_error("a: 1\nb: *x\n", 2, 4, "alias '*x' is not supported");
    expect_error("[a]: 1\n", 1, 1, "a key is a sequence");
    expect_error("\"\": 1\n", 1, 1, "empty key");
    expect_error("a: \"x\\0y\"\n", 1, 4, "NUL character");
}
END_TEST

START_TEST(syntax_errors_carry_libyaml_text) {
    expect_error(
        "trainer:\n  max_epochs: 5\n bad: [1, 2\n", 3, 2,
        "YAML syntax error: did not find expected key (while parsing a block mapping at line 1)");
    expect_error("a: b: c\n", 1, 5,
                 "YAML syntax error: mapping values are not allowed in this context");
    expect_error("a: [1, 2\n", 2, 1, "did not find expected ',' or ']'");
    expect_error("a: \"abc\n", 2, 1, "found unexpected end of stream");
    expect_error("trainer:\n\tmax_epochs: 1\n", 2, 1, "YAML syntax error");
    expect_error("a: 1\nb: \xff\n", 2, 4, "invalid leading UTF-8 octet");
}
END_TEST

START_TEST(unreadable_files) {
    char err[512], want_text[300];
    cfg_entries e = {0};
    ck_assert(!cfg_read_file("/tmp/lt_cfg_no_such_dir/x.yaml", &e, err, sizeof err));
    ck_assert_str_eq(err, "/tmp/lt_cfg_no_such_dir/x.yaml:1:1: cannot open the config file: "
                          "No such file or directory; check the path");
    ck_assert(!cfg_read_file("/tmp", &e, err, sizeof err));
    snprintf(want_text, sizeof want_text, "/tmp:1:1: cannot read the config file: %s",
             strerror(EISDIR));
    ck_assert_msg(strncmp(err, want_text, strlen(want_text)) == 0, "%s", err);
    ck_assert_int_eq(e.n, 0);
    /* A tiny buffer truncates, never overflows. */
    char tiny[8];
    ck_assert(!cfg_read_file("/nonexistent.yaml", &e, tiny, sizeof tiny));
    ck_assert_str_eq(tiny, "/nonexi");
}
END_TEST

/* Entries appended by an earlier file stay; a failed file adds nothing. */
START_TEST(failure_keeps_earlier_entries) {
    cfg_entries e = {0};
    char err[512];
    ck_assert(read_cfg("seed_everything: 7\n", &e, err, sizeof err));
    ck_assert(!read_cfg("trainer:\n  max_epochs: 3\n  num_nodes: [1]\n", &e, err, sizeof err));
    const want w[] = {{"seed_everything", "7", 1}, {0}};
    check_entries(&e, w);
    ck_assert(!read_cfg("trainer:\n  devices: [[1]]\n", &e, err, sizeof err));
    ck_assert_ptr_nonnull(strstr(err, "devices: a list holds GPU indices"));
    check_entries(&e, w);
    ck_assert(read_cfg("trainer:\n  max_epochs: 3\n  devices: [1, 3]\n", &e, err, sizeof err));
    /* LightningCLI's GPU list, in the text form --devices reads (a list even of one) */
    const want both[] = {{"seed_everything", "7", 1},
                         {"trainer.max_epochs", "3", 2},
                         {"trainer.devices", "1,3,", 3},
                         {0}};
    check_entries(&e, both);
    cfg_entries_free(&e);
    cfg_entries_free(&e); /* idempotent */
}
END_TEST

/* Hostile nesting is refused before it can exhaust the stack. */
START_TEST(deep_nesting_is_refused) {
    char text[256] = "a: ";
    for (int i = 0; i < 40; i++) strcat(text, "[");
    expect_error(text, 1, 36, "nested deeper than 32 levels");
}
END_TEST

/* Every byte of a valid file replaced by YAML's special characters: accepted, or refused
 * with one line that names the file; never a crash (valgrind sees the paths taken). */
/* A key quoted with escapes ("a\nb") is echoed in the message with its control
 * characters escaped: the message stays one line (tests/fuzz/fuzz_config checks it). */
START_TEST(control_characters_in_messages_are_escaped) {
    expect_error("\"a\\nb\": 1\n\"a\\nb\": 2\n", 2, 1, "duplicate key 'a\\nb'");
    expect_error("trainer:\n  \"x\\ty\\r\\u0007\": [1]\n", 2, 19,
                 "expected a single value for trainer.x\\ty\\r\\x07, got a sequence");
}
END_TEST

START_TEST(damaged_files_never_crash) {
    const char *good = "seed_everything: 1\ntrainer:\n  callbacks:\n  - class_path: A\n"
                       "    init_args: {k: 'v'}\nmodel: {hidden: \"2\"}\n";
    const char subst[] = ":-[{&*!|>'\"#%\t\n ";
    char text[256], err[512];
    for (size_t i = 0; good[i]; i++) {
        for (size_t j = 0; subst[j]; j++) {
            snprintf(text, sizeof text, "%s", good);
            text[i] = subst[j];
            cfg_entries e = {0};
            if (!read_cfg(text, &e, err, sizeof err)) {
                ck_assert_msg(strncmp(err, path, strlen(path)) == 0 && err[strlen(path)] == ':',
                              "byte %zu -> '%c': %s", i, subst[j], err);
                ck_assert_int_eq(e.n, 0);
            }
            cfg_entries_free(&e);
        }
    }
}
END_TEST

/* ---- emitting ------------------------------------------------------------------------ */

/* root as YAML text (caller frees). */
static char *emit_text(const cfg_node *root) {
    char *buf = NULL, err[256];
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    ck_assert_ptr_nonnull(f);
    ck_assert_msg(cfg_emit(f, root, err, sizeof err), "%s", err);
    fclose(f);
    return buf;
}

START_TEST(emits_block_style) {
    cfg_node *root = cfg_map(), *trainer = cfg_map(), *cbs = cfg_seq(), *cb = cfg_map(),
             *args = cfg_map();
    ck_assert(cfg_map_add(root, "seed_everything", cfg_scalar("42", CFG_INT)));
    ck_assert(cfg_map_add(trainer, "max_epochs", cfg_scalar("5", CFG_INT)));
    ck_assert(cfg_map_add(trainer, "fast_dev_run", cfg_scalar("false", CFG_BOOL)));
    ck_assert(cfg_map_add(cb, "class_path", cfg_scalar("EarlyStopping", CFG_STR)));
    ck_assert(cfg_map_add(args, "monitor", cfg_scalar("val_loss", CFG_STR)));
    ck_assert(cfg_map_add(args, "min_delta", cfg_scalar("0.0", CFG_FLOAT)));
    ck_assert(cfg_map_add(cb, "init_args", args));
    ck_assert(cfg_seq_add(cbs, cb));
    ck_assert(cfg_seq_add(cbs, cfg_scalar("RichProgressBar", CFG_STR)));
    ck_assert(cfg_map_add(trainer, "callbacks", cbs));
    ck_assert(cfg_map_add(root, "trainer", trainer));
    ck_assert(cfg_map_add(root, "ckpt_path", cfg_scalar(NULL, CFG_NULL)));
    char *text = emit_text(root);
    ck_assert_str_eq(text, "seed_everything: 42\n"
                           "trainer:\n"
                           "  max_epochs: 5\n"
                           "  fast_dev_run: false\n"
                           "  callbacks:\n"
                           "  - class_path: EarlyStopping\n"
                           "    init_args:\n"
                           "      monitor: val_loss\n"
                           "      min_delta: 0.0\n"
                           "  - RichProgressBar\n"
                           "ckpt_path: null\n");
    free(text);
    cfg_node_free(root);
}
END_TEST

/* Strings quoted exactly when plain text would read back as another type (or not at all). */
START_TEST(quotes_strings_that_look_typed) {
    static const struct {
        const char *s;
        bool quoted;
    } cases[] = {
        {"true", true},      {"False", true},  {"yes", true},        {"off", true},
        {"y", true},         {"null", true},   {"~", true},          {"", true},
        {"1e-3", true},      {"007", true},    {"-12", true},        {"3.5", true},
        {".5", true},        {"1_000", true},  {"0x1F", true},       {"-.inf", true},
        {".NaN", true},      {"12:30", true},  {"2024-01-31", true}, {"a: b", true},
        {"#x", true},        {" pad", true},   {"val_loss", false},  {"mlp", false},
        {"/data/fm", false}, {"e3", false},    {"1a", false},        {"nullable", false},
        {"my model", false}, {"Truee", false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cfg_node *root = cfg_map();
        ck_assert(cfg_map_add(root, "k", cfg_scalar(cases[i].s, CFG_STR)));
        char *text = emit_text(root), plain[128];
        snprintf(plain, sizeof plain, "k: %s\n", cases[i].s);
        ck_assert_msg((strcmp(text, plain) != 0) == cases[i].quoted, "'%s' emitted as: %s",
                      cases[i].s, text);
        write_cfg(text);
        cfg_entries e = {0};
        char err[256];
        ck_assert_msg(cfg_read_file(path, &e, err, sizeof err), "%s", err);
        unlink(path);
        ck_assert_int_eq(e.n, 1);
        ck_assert_str_eq(e.items[0].value, cases[i].s);
        cfg_entries_free(&e);
        free(text);
        cfg_node_free(root);
    }
}
END_TEST

/* A --print_config tree emitted and read back gives the flags it was built from. */
START_TEST(round_trip) {
    cfg_node *root = cfg_map(), *trainer = cfg_map(), *model = cfg_map(), *args = cfg_map();
    cfg_node *cbs = cfg_seq(), *cb = cfg_map(), *cb_args = cfg_map();
    cfg_map_add(root, "seed_everything", cfg_scalar("1", CFG_INT));
    cfg_map_add(trainer, "max_epochs", cfg_scalar("2", CFG_INT));
    cfg_map_add(trainer, "limit_val_batches", cfg_scalar("0.5", CFG_FLOAT));
    cfg_map_add(trainer, "test_after_fit", cfg_scalar("true", CFG_BOOL));
    cfg_map_add(trainer, "precision", cfg_scalar(NULL, CFG_NULL));
    cfg_map_add(cb_args, "monitor", cfg_scalar("true", CFG_STR));
    cfg_map_add(cb_args, "dirpath", cfg_scalar(NULL, CFG_NULL));
    cfg_map_add(cb_args, "filename", cfg_scalar("{epoch}-{val_loss:.2f}", CFG_STR));
    cfg_map_add(cb, "class_path", cfg_scalar("ModelCheckpoint", CFG_STR));
    cfg_map_add(cb, "init_args", cb_args);
    cfg_seq_add(cbs, cb);
    cfg_seq_add(cbs, cfg_scalar("RichProgressBar", CFG_STR));
    cfg_map_add(trainer, "callbacks", cbs);
    cfg_map_add(trainer, "logger", cfg_scalar("false", CFG_BOOL));
    cfg_map_add(root, "trainer", trainer);
    cfg_map_add(model, "class_path", cfg_scalar("mlp", CFG_STR));
    cfg_map_add(args, "lr", cfg_scalar("1e-3", CFG_STR));
    cfg_map_add(args, "empty", cfg_scalar("", CFG_STR));
    cfg_map_add(args, "colon", cfg_scalar("a: b", CFG_STR));
    cfg_map_add(args, "quotes", cfg_scalar("it's \"x\"", CFG_STR));
    cfg_map_add(args, "lines", cfg_scalar("one\ntwo", CFG_STR));
    cfg_map_add(args, "utf8", cfg_scalar("caf\xc3\xa9 \xe2\x86\x92 1", CFG_STR));
    cfg_map_add(args, "null_word", cfg_scalar("null", CFG_STR));
    cfg_map_add(args, "hidden", cfg_scalar("007", CFG_STR));
    cfg_map_add(model, "init_args", args);
    cfg_map_add(root, "model", model);
    cfg_map_add(root, "ckpt_path", cfg_scalar(NULL, CFG_NULL));

    char err[256];
    snprintf(path, sizeof path, "/tmp/lt_cfg_XXXXXX");
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    FILE *f = fdopen(fd, "w");
    ck_assert_msg(cfg_emit(f, root, err, sizeof err), "%s", err);
    fclose(f);
    cfg_node_free(root);
    cfg_entries e = {0};
    ck_assert_msg(cfg_read_file(path, &e, err, sizeof err), "%s", err);
    unlink(path);
    const char *const w[][2] = {
        {"seed_everything", "1"},
        {"trainer.max_epochs", "2"},
        {"trainer.limit_val_batches", "0.5"},
        {"trainer.test_after_fit", "true"},
        {"trainer.callbacks", "ModelCheckpoint"},
        {"trainer.callbacks.monitor", "true"},
        {"trainer.callbacks.filename", "{epoch}-{val_loss:.2f}"},
        {"trainer.callbacks", "RichProgressBar"},
        {"trainer.logger", "false"},
        {"model.class_path", "mlp"},
        {"model.lr", "1e-3"},
        {"model.empty", ""},
        {"model.colon", "a: b"},
        {"model.quotes", "it's \"x\""},
        {"model.lines", "one\ntwo"},
        {"model.utf8", "caf\xc3\xa9 \xe2\x86\x92 1"},
        {"model.null_word", "null"},
        {"model.hidden", "007"},
    };
    int n = (int)(sizeof w / sizeof w[0]);
    ck_assert_int_eq(e.n, n);
    for (int i = 0; i < n; i++) {
        ck_assert_str_eq(e.items[i].key, w[i][0]);
        ck_assert_str_eq(e.items[i].value, w[i][1]);
    }
    cfg_entries_free(&e);
}
END_TEST

/* A child handed to a failing add is freed (valgrind checks); misuse is refused. */
START_TEST(tree_ownership_and_misuse) {
    cfg_node *map = cfg_map(), *seq = cfg_seq();
    ck_assert(cfg_map_add(map, "a", cfg_scalar("1", CFG_INT)));
    ck_assert(!cfg_map_add(map, "a", cfg_scalar("2", CFG_INT))); /* duplicate key */
    ck_assert(!cfg_map_add(seq, "a", cfg_scalar("2", CFG_INT))); /* not a map */
    ck_assert(!cfg_seq_add(map, cfg_scalar("2", CFG_INT)));      /* not a sequence */
    ck_assert(!cfg_map_add(NULL, "a", cfg_map()));
    ck_assert(!cfg_seq_add(NULL, cfg_seq()));
    ck_assert(!cfg_map_add(map, NULL, cfg_scalar("x", CFG_STR)));
    ck_assert(!cfg_map_add(map, "b", NULL));
    for (int i = 0; i < 100; i++) ck_assert(cfg_seq_add(seq, cfg_scalar("x", CFG_STR)));
    ck_assert(cfg_map_add(map, "many", seq));
    char err[256];
    ck_assert(!cfg_emit(stdout, NULL, err, sizeof err));
    ck_assert_ptr_nonnull(strstr(err, "nothing to write"));
    FILE *full = fopen("/dev/full", "w");
    if (full) {
        ck_assert(!cfg_emit(full, map, err, sizeof err));
        ck_assert_msg(strstr(err, strerror(ENOSPC)) != NULL, "%s", err);
        fclose(full);
    }
    cfg_node_free(map);
    cfg_node_free(NULL);
}
END_TEST

Suite *suite_config(void) {
    Suite *s = suite_create("config");
    TCase *read = tcase_create("read");
    tcase_add_test(read, full_lightning_file);
    tcase_add_test(read, model_and_data_shapes);
    tcase_add_test(read, callbacks_and_logger_shapes);
    tcase_add_test(read, nulls_are_skipped_quoted_nulls_kept);
    tcase_add_test(read, values_as_written);
    tcase_add_test(read, refused_shapes);
    tcase_add_test(read, refused_documents);
    tcase_add_test(read, syntax_errors_carry_libyaml_text);
    tcase_add_test(read, unreadable_files);
    tcase_add_test(read, failure_keeps_earlier_entries);
    tcase_add_test(read, deep_nesting_is_refused);
    tcase_add_test(read, damaged_files_never_crash);
    tcase_add_test(read, control_characters_in_messages_are_escaped);
    suite_add_tcase(s, read);
    TCase *emit = tcase_create("emit");
    tcase_add_test(emit, emits_block_style);
    tcase_add_test(emit, quotes_strings_that_look_typed);
    tcase_add_test(emit, round_trip);
    tcase_add_test(emit, tree_ownership_and_misuse);
    suite_add_tcase(s, emit);
    return s;
}
