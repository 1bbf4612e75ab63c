/* The logger plugin kind's host side (issue #23): built-in loggers found by name and by
 * Lightning's class names, --logger.KEY options checked against what each logger declares,
 * the MLflow file store's files and refusals, and lr_find's suggestion (the steepest
 * descent, after the first 10 points and before the last, NaN skipped). */
#define LOGGERS_IMPL
#include "../../host/loggers/loggers.h"

#include <math.h>
#include <string.h>
#include <unistd.h>

#include "../../host/loggers/logger_set.h"
#include "../../host/tune/tune.h"
#include "test_util.h"

START_TEST(builtins_by_name_and_class) {
    ck_assert_ptr_eq(builtin_logger("CSVLogger"), builtin_logger("csv"));
    ck_assert_ptr_eq(builtin_logger("lightning.pytorch.loggers.TensorBoardLogger"),
                     builtin_logger("tensorboard"));
    ck_assert_ptr_eq(builtin_logger("MLFlowLogger"), &mlflow_logger_desc);
    ck_assert_ptr_null(builtin_logger("wandb"));
    ck_assert_ptr_null(builtin_logger("lightning.pytorch.loggers.WandbLogger"));
    ck_assert_str_eq(builtin_logger_name(2), "mlflow");
    ck_assert_ptr_null(builtin_logger_name(3));
}
END_TEST

static bool load(const char *list, const char *key, const char *value, char *msg, size_t n) {
    host_config cfg;
    config_defaults(&cfg, "fit");
    cfg.logger = list;
    if (key) cfg.logger_hp[cfg.n_logger_hp++] = (hparam_override){key, value};
    logger_set ls;
    host_error_capture(msg, n);
    msg[0] = '\0';
    bool ok = logger_set_load(&ls, &cfg);
    host_error_capture(NULL, 0);
    logger_set_close(&ls, "success");
    return ok;
}

START_TEST(options_are_checked_against_the_loggers) {
    char msg[512];
    ck_assert(load("csv,mlflow", "experiment_name", "e", msg, sizeof msg));
    ck_assert(load("true", "version", "3", msg, sizeof msg));
    ck_assert(!load("csv", "experiment_name", "e", msg, sizeof msg));
    ck_assert_msg(strstr(msg, "no logger of this run (--logger csv) takes an option "
                              "'experiment_name'"),
                  "%s", msg);
    ck_assert(!load("csv", "version", "x", msg, sizeof msg));
    ck_assert_msg(strstr(msg, "--logger.version expects an integer (logger csv), got 'x'"), "%s",
                  msg);
    ck_assert(!load("csv,,tensorboard", NULL, NULL, msg, sizeof msg));
    ck_assert(!load("csv,false", NULL, NULL, msg, sizeof msg));
    ck_assert(!load("tensorboard,TensorBoardLogger", NULL, NULL, msg, sizeof msg));
    ck_assert_msg(strstr(msg, "names the tensorboard logger twice"), "%s", msg);
    ck_assert(load("false", NULL, NULL, msg, sizeof msg));
}
END_TEST

/* The whole of a small file into buf. */
static const char *read_text(const char *path, char *buf, size_t n) {
    FILE *f = fopen(path, "r");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    size_t got = fread(buf, 1, n - 1, f);
    fclose(f);
    buf[got] = '\0';
    return buf;
}

START_TEST(mlflow_store_files) {
    char root[64] = "/tmp/lt_mlflow_XXXXXX", path[512], text[4096];
    ck_assert_ptr_nonnull(mkdtemp(root));
    const char *names[] = {"run_name"}, *values[] = {"r1"};
    lt_logger_opts o = {.struct_size = sizeof o,
                        .save_dir = root,
                        .name = "lightning_logs",
                        .version = "version_0",
                        .log_dir = root,
                        .n_options = 1,
                        .option_names = names,
                        .option_values = values};
    const lt_logger_desc *d = &mlflow_logger_desc;
    void *st = NULL;
    ck_assert_int_eq(d->init(&o, &st), LT_OK);
    lt_logger_hparam hp[] = {{"lr", "0.001", LT_HP_FLOAT}, {"wide", "true", LT_HP_BOOL}};
    ck_assert_int_eq(d->log_hyperparams(st, hp, 2), LT_OK);
    lt_logger_metric m[] = {{"train/loss", 0.5}, {"acc%", 0.25}};
    ck_assert_int_eq(d->log_metrics(st, m, 2, 7), LT_OK);
    lt_logger_metric bad[] = {{"../escape", 1.0}};
    ck_assert_int_eq(d->log_metrics(st, bad, 1, 8), LT_ERR_INVALID_ARG);
    ck_assert_int_eq(d->finalize(st, "failed"), LT_OK);
    d->teardown(st);
    /* experiment 0 (Default) and 1 (lightning_logs), one run with its files */
    snprintf(path, sizeof path, "%s/mlruns/0/meta.yaml", root);
    ck_assert(strstr(read_text(path, text, sizeof text), "name: 'Default'"));
    snprintf(path, sizeof path, "%s/mlruns/1/meta.yaml", root);
    ck_assert(strstr(read_text(path, text, sizeof text), "name: 'lightning_logs'"));
    char cmd[700];
    snprintf(cmd, sizeof cmd,
             "cd %s/mlruns/1/*/ && test \"$(cat params/lr)\" = 0.001 && test \"$(cat "
             "params/wide)\" = True && grep -q '^[0-9]* 0.5 7$' metrics/train/loss && grep -q "
             "'^[0-9]* 0.25 7$' metrics/acc && test \"$(cat tags/mlflow.runName)\" = r1 && grep "
             "-q '^status: 4$' meta.yaml && ! ls metrics | grep -q escape",
             root);
    ck_assert_msg(system(cmd) == 0, "store files differ: %s", cmd);
    snprintf(cmd, sizeof cmd, "rm -rf %s", root);
    ck_assert_int_eq(system(cmd), 0);
}
END_TEST

START_TEST(lr_find_suggestion_is_the_steepest_descent) {
    double lr[40], loss[40];
    for (int i = 0; i < 40; i++) {
        lr[i] = 1e-6 * pow(10, i / 8.0);
        loss[i] = 2.0 - (i >= 20 && i < 25 ? (i - 19) * 0.3 : i >= 25 ? 1.8 : 0);
    }
    int best = lr_find_suggestion(lr, loss, 40);
    ck_assert_int_ge(best, 19);
    ck_assert_int_le(best, 25);
    loss[best] = NAN; /* a NaN point is skipped, never suggested */
    ck_assert_int_ne(lr_find_suggestion(lr, loss, 40), best);
    ck_assert_int_eq(lr_find_suggestion(lr, loss, 12), -1); /* 10 + 1 skipped leave one */
    ck_assert_int_ne(lr_find_suggestion(lr, loss, 13), -1);
}
END_TEST

Suite *suite_logger_kind(void) {
    Suite *s = suite_create("logger_kind");
    TCase *t = tcase_create("logger_kind");
    tcase_add_test(t, builtins_by_name_and_class);
    tcase_add_test(t, options_are_checked_against_the_loggers);
    tcase_add_test(t, mlflow_store_files);
    tcase_add_test(t, lr_find_suggestion_is_the_steepest_descent);
    suite_add_tcase(s, t);
    return s;
}
