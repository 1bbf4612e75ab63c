/* Hostile values (issue #15): a checkpoint's format_version is parsed strictly; the
 * optimizer and scheduler state it restores passes the constructors' rules, each refused
 * value named by its key with nothing changed; a parameter whose sizes would overflow or
 * pass the module limit is refused before anything is allocated; a hyper-parameter's text
 * into no room is empty. */
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <lt/checkpoint.h>
#include <lt/runtime.h>

#include "test_util.h"

static char path[64];

static void setup(void) {
    test_open();
    snprintf(path, sizeof path, "/tmp/lt_ckptv_XXXXXX");
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    close(fd);
}

static void teardown(void) {
    unlink(path);
    test_close();
}

static void expect_error(lt_status got, lt_status want, const char *needle) {
    ck_assert_msg(got == want, "status %s, expected %s (%s)", lt_status_name(got),
                  lt_status_name(want), lt_last_error());
    ck_assert_msg(strstr(lt_last_error(), needle) != NULL, "message lacks '%s': %s", needle,
                  lt_last_error());
}

/* ---- format_version -------------------------------------------------------------------- */

static lt_status open_with_version(const char *version) {
    lt_st_writer_t *w = lt_st_writer_new();
    ck_assert_int_eq(lt_st_writer_meta(w, "format_version", version), LT_OK);
    ck_assert_int_eq(lt_st_writer_save(w, path), LT_OK);
    lt_st_writer_free(w);
    lt_ckpt_t *c = NULL;
    lt_status s = lt_ckpt_open(path, &c);
    ck_assert(s == LT_OK ? c != NULL : c == NULL);
    lt_ckpt_free(c);
    return s;
}

START_TEST(format_version_is_strict) {
    static const char *const bad[] = {
        "\"0.0\"",
        "\"99999999999999999999.0\"",
        "\"-1.5\"",
        "\"1.0x\"",
        "\" 1.0\"",
        "\"1\"",
        "\"+1.0\"",
        "\"1.-0\"",
        "\"1.0.0\"",
        "\"1.\"",
        "\".0\"",
        "1.0",
        "\"1.0",
        "\"\"",
        "\"1.99999999999\"",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        expect_error(open_with_version(bad[i]), LT_ERR_FORMAT, "format_version");
    ck_assert_msg(open_with_version("\"1.0\"") == LT_OK, "%s", lt_last_error());
    ck_assert_msg(open_with_version("\"1.7\"") == LT_OK, "%s", lt_last_error());
    expect_error(open_with_version("\"2.0\""), LT_ERR_ABI, "format 2.0 by a newer lthost");
}
END_TEST

/* ---- optimizer and scheduler state -------------------------------------------------------- */

/* A module of one Linear(3, 4) trained one step by Adam(0.01) or SGD(0.05, momentum 0.9)
 * under StepLR(2, 0.5). */
static lt_ctx_t *trained(bool adam) {
    lt_clear_error();
    lt_ctx_t *ctx = lt_ctx_new(test_dev, "m", NULL, 0, 1);
    ck_assert_ptr_nonnull(ctx);
    lt_linear_t *l = lt_linear(ctx, "l", 3, 4);
    ck_assert_msg(l && lt_ctx_materialize(ctx) == LT_OK, "%s", lt_last_error());
    lt_optimizer_t *o = adam ? lt_adam(lt_parameters(ctx), 0.01)
                             : lt_sgd_ex(lt_parameters(ctx), 0.05, 0.9, 0.0, 0.0, false);
    ck_assert_int_eq(lt_use_optimizer(ctx, o), LT_OK);
    ck_assert_int_eq(lt_use_scheduler(ctx, lt_step_lr(o, 2, 0.5), NULL), LT_OK);
    lt_arena_t *a = lt_ctx_arena(ctx);
    float x[2 * 3] = {0.5f, -1.0f, 0.25f, 1.0f, 0.0f, -0.5f};
    lt_tensor_t *loss =
        lt_sum(lt_linear_forward(l, lt_from_host(a, LT_F32, 2, (int64_t[]){2, 3}, x)));
    ck_assert_int_eq(lt_backward(loss), LT_OK);
    ck_assert_int_eq(lt_optimizer_step(o), LT_OK);
    lt_arena_reset(a);
    return ctx;
}

/* Save ctx with the metadata entry key replaced by json, and restore its training state
 * into a fresh module: the status, with the optimizer's lr and step and the scheduler's
 * last_epoch unchanged when it is an error. */
static lt_status restore_edited(bool adam, const char *key, const char *json) {
    lt_ctx_t *a = trained(adam), *b = trained(adam);
    lt_ckpt_t *c = lt_ckpt_capture(a);
    ck_assert_ptr_nonnull(c);
    ck_assert_int_eq(lt_ckpt_set(c, key, json), LT_OK);
    ck_assert_msg(lt_ckpt_save(c, path) == LT_OK, "%s", lt_last_error());
    lt_ckpt_free(c);
    ck_assert_msg(lt_ckpt_open(path, &c) == LT_OK, "%s", lt_last_error());
    lt_optimizer_t *o = lt_ctx_optimizer(b, 0);
    lt_scheduler_t *sch = lt_ctx_scheduler(b, 0, NULL);
    double lr = lt_optimizer_lr(o);
    int64_t steps = lt_optimizer_num_steps(o), epoch = lt_scheduler_last_epoch(sch);
    lt_status s = lt_ckpt_restore_training(c, b);
    if (s != LT_OK) {
        ck_assert_double_eq(lt_optimizer_lr(o), lr);
        ck_assert_int_eq(lt_optimizer_num_steps(o), steps);
        ck_assert_int_eq(lt_scheduler_last_epoch(sch), epoch);
    }
    lt_ckpt_free(c);
    lt_ctx_free(a);
    lt_ctx_free(b);
    return s;
}

/* optimizer_states as lthost writes it, with step, and param_group's entry key (when not
 * NULL) set to the JSON value. */
static lt_status restore_optimizer(bool adam, const char *step, const char *key,
                                   const char *value) {
    static const char *const keys[2][5] = {
        {"lr", "weight_decay", "momentum", "dampening", "nesterov"},
        {"lr", "weight_decay", "beta1", "beta2", "eps"}};
    static const char *const values[2][5] = {{"0.01", "0.0", "0.9", "0.0", "0"},
                                             {"0.01", "0.0", "0.9", "0.999", "1e-08"}};
    char json[512], group[256] = "";
    size_t len = 0;
    for (int i = 0; i < 5; i++) {
        const char *v = key && !strcmp(key, keys[adam][i]) ? value : values[adam][i];
        len += (size_t)snprintf(group + len, sizeof group - len, "%s\"%s\":%s", i ? "," : "",
                                keys[adam][i], v);
    }
    snprintf(json, sizeof json,
             "{\"0\":{\"type\":\"%s\",\"step\":%s,\"num_params\":2,"
             "\"param_group\":{%s},\"param_ids\":{\"0\":0,\"1\":1}}}",
             adam ? "Adam" : "SGD", step, group);
    return restore_edited(adam, "optimizer_states", json);
}

START_TEST(optimizer_values_checked) {
    /* the template itself restores, so each refusal below is for its one edit */
    ck_assert_msg(restore_optimizer(true, "1", NULL, NULL) == LT_OK, "%s", lt_last_error());
    ck_assert_msg(restore_optimizer(false, "1", NULL, NULL) == LT_OK, "%s", lt_last_error());
    ck_assert_msg(restore_optimizer(true, "9007199254740991", NULL, NULL) == LT_OK, "%s",
                  lt_last_error());
    static const struct {
        bool adam;
        const char *step, *key, *value, *needle;
    } bad[] = {
        {true, "9223372036854775807", NULL, NULL, "optimizer_states.0.step is 9223372036854775807"},
        {true, "9007199254740992", NULL, NULL, "optimizer_states.0.step"},
        {true, "-1", NULL, NULL, "optimizer_states.0.step is -1"},
        {true, "1", "lr", "-1", "param_group.lr must be finite and >= 0"},
        {true, "1", "lr", "\"nan\"", "param_group.lr"},
        {true, "1", "lr", "\"inf\"", "param_group.lr"},
        {true, "1", "weight_decay", "-1e-3", "param_group.weight_decay"},
        {true, "1", "beta1", "1.0", "param_group.beta1 must be in [0, 1)"},
        {true, "1", "beta2", "[0.999]", "param_group.beta2 is not a number"},
        {true, "1", "eps", "\"-inf\"", "param_group.eps"},
        {false, "1", "momentum", "-0.5", "param_group.momentum"},
        {false, "1", "dampening", "\"nan\"", "param_group.dampening"},
        {false, "1", "nesterov", "2", "param_group.nesterov must be 0 or 1"},
        {false, "1", "nesterov", "true", "param_group.nesterov must be 0 or 1"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        expect_error(restore_optimizer(bad[i].adam, bad[i].step, bad[i].key, bad[i].value),
                     LT_ERR_FORMAT, bad[i].needle);
}
END_TEST

static lt_status restore_scheduler(const char *last_epoch, const char *last_lr,
                                   const char *base_lr) {
    char json[256];
    snprintf(json, sizeof json,
             "{\"0\":{\"type\":\"StepLR\",\"last_epoch\":%s,\"_last_lr\":%s,"
             "\"base_lr\":%s,\"interval\":\"epoch\",\"frequency\":1}}",
             last_epoch, last_lr, base_lr);
    return restore_edited(true, "lr_schedulers", json);
}

START_TEST(scheduler_values_checked) {
    ck_assert_msg(restore_scheduler("1", "0.01", "0.01") == LT_OK, "%s", lt_last_error());
    ck_assert_msg(restore_scheduler("-1", "0.01", "0.01") == LT_OK, "%s", lt_last_error());
    expect_error(restore_scheduler("-2", "0.01", "0.01"), LT_ERR_FORMAT,
                 "lr_schedulers.0.last_epoch is -2");
    expect_error(restore_scheduler("9223372036854775807", "0.01", "0.01"), LT_ERR_FORMAT,
                 "lr_schedulers.0.last_epoch");
    expect_error(restore_scheduler("1.5", "0.01", "0.01"), LT_ERR_FORMAT,
                 "last_epoch is missing or not an integer");
    expect_error(restore_scheduler("1", "-0.01", "0.01"), LT_ERR_FORMAT,
                 "lr_schedulers.0._last_lr");
    expect_error(restore_scheduler("1", "0.01", "\"inf\""), LT_ERR_FORMAT,
                 "lr_schedulers.0.base_lr");
}
END_TEST

/* ---- parameter sizes ------------------------------------------------------------------ */

START_TEST(param_sizes_checked) {
    lt_clear_error();
    lt_ctx_t *ctx = lt_ctx_new(test_dev, "m", NULL, 0, 1);
    ck_assert_ptr_nonnull(ctx);
    lt_init u = {LT_INIT_UNIFORM, -1.0, 1.0};
    /* 784 x (2^63 - 1) overflows int64; 784 x 2^62 wraps to exactly 0 */
    ck_assert_ptr_null(lt_param(ctx, "w", 2, (int64_t[]){INT64_MAX, 784}, u));
    expect_error(lt_last_status(), LT_ERR_INVALID_ARG,
                 "parameter 'w' would have 9223372036854775807 x 784 elements");
    lt_clear_error();
    ck_assert_ptr_null(lt_param(ctx, "w", 2, (int64_t[]){784, (int64_t)1 << 62}, u));
    expect_error(lt_last_status(), LT_ERR_INVALID_ARG, "would have 784 x 4611686018427387904");
    lt_clear_error();
    /* the module's total: two of 2^47 fill the 2^48, one float more does not fit */
    ck_assert_ptr_nonnull(lt_param(ctx, "a", 1, (int64_t[]){(int64_t)1 << 47}, u));
    ck_assert_ptr_nonnull(lt_param(ctx, "b", 2, (int64_t[]){(int64_t)1 << 23, 1 << 24}, u));
    ck_assert_int_eq(lt_num_parameters(ctx), (int64_t)1 << 48);
    ck_assert_ptr_null(lt_param(ctx, "c", 1, (int64_t[]){1}, u));
    expect_error(lt_last_status(), LT_ERR_INVALID_ARG, "281474976710656 declared before it");
    lt_clear_error();
    ck_assert_ptr_null(lt_param(ctx, "d", 1, (int64_t[]){-4}, u));
    expect_error(lt_last_status(), LT_ERR_INVALID_ARG, "positive sizes");
    ck_assert_int_eq(lt_ctx_num_params(ctx), 2);
    lt_ctx_free(ctx);
}
END_TEST

/* ---- hyper-parameter text --------------------------------------------------------------- */

/* No room (a NULL or empty buffer) writes nothing and reads nothing back. */
START_TEST(hparam_text_without_room) {
    static const lt_hparam_desc hp[] = {LT_HPARAM_FLOAT("rate", 0.125, "a float"),
                                        LT_HPARAM_INT("n", 7, "an int"), LT_HPARAM_END};
    lt_ctx_t *ctx = lt_ctx_new(test_dev, "m", hp, 0, 1);
    ck_assert_ptr_nonnull(ctx);
    char buf[4] = {'x', 'x', 'x', 'x'}; /* unterminated: must not be read */
    for (int i = 0; i < 2; i++) {
        ck_assert_str_eq(lt_ctx_hparam_text(ctx, i, NULL, 0), "");
        ck_assert_str_eq(lt_ctx_hparam_text(ctx, i, buf, 0), "");
        ck_assert_int_eq(buf[0], 'x');
    }
    char text[32];
    ck_assert_str_eq(lt_ctx_hparam_text(ctx, 0, text, sizeof text), "0.125");
    ck_assert_str_eq(lt_ctx_hparam_text(ctx, 1, text, sizeof text), "7");
    lt_ctx_free(ctx);
}
END_TEST

Suite *suite_ckpt_values(void) {
    Suite *s = suite_create("ckpt_values");
    TCase *tc = tcase_create("ckpt_values");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, format_version_is_strict);
    tcase_add_test(tc, optimizer_values_checked);
    tcase_add_test(tc, scheduler_values_checked);
    tcase_add_test(tc, param_sizes_checked);
    tcase_add_test(tc, hparam_text_without_room);
    suite_add_tcase(s, tc);
    return s;
}
