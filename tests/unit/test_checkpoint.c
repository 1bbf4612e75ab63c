/* Checkpoints (lt/checkpoint.h): a module's weights, hyper-parameters, optimizer and
 * scheduler state survive save and load bit for bit, so a resumed run takes the same next
 * step as the run that saved it; a checkpoint that does not fit is refused with every
 * problem named and nothing loaded; plain safetensors weights load with or without a
 * prefix; a file that is not a checkpoint is refused. */
#include <dirent.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <lt/checkpoint.h>
#include <lt/runtime.h>

#include "test_util.h"

/* ---- a temp folder per test ----------------------------------------------------------- */

static char dir[64];

static void make_dir(void) {
    test_open();
    snprintf(dir, sizeof dir, "/tmp/lt_ckpt_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
}

/* Empty and remove the folder now (before a failing assertion, which skips the
 * teardown in fork mode). */
static void drop_dir(void) {
    if (!dir[0]) return;
    DIR *d = opendir(dir);
    for (struct dirent *e; d && (e = readdir(d));) {
        char p[400];
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        unlink(p);
    }
    if (d) closedir(d);
    rmdir(dir);
    dir[0] = '\0';
}

static void remove_dir(void) {
    drop_dir();
    test_close();
}

static const char *file_in_dir(const char *name) {
    static char p[4][256];
    static int next;
    char *out = p[next++ % 4];
    snprintf(out, sizeof p[0], "%s/%s", dir, name);
    return out;
}

/* ---- a small module: l1 (IN -> HID), l2 (HID -> OUT), hparams of every type ------------- */

#define IN 3
#define HID 4
#define OUT 2
#define BATCH 5

static const lt_hparam_desc hparams[] = {
    LT_HPARAM_INT("hidden", 8, "an int"),
    LT_HPARAM_FLOAT("rate", 0.5, "a float"),
    LT_HPARAM_STR("act", "relu", "a string"),
    LT_HPARAM_CHOICE("opt", "sgd", "sgd|adam", "a choice"),
    LT_HPARAM_BOOL("flag", false, "a bool"),
    LT_HPARAM_INT("big", 0, "an int beyond double's 53 bits"),
    LT_HPARAM_END,
};

typedef struct mod {
    lt_ctx_t *ctx;
    lt_linear_t *l1, *l2; /* l2 NULL when the module lacks it */
} mod;

/* A materialized module; l2_out 0 leaves l2 out; extra adds a bare parameter "extra". */
static mod make_mod(uint64_t seed, int64_t l2_out, bool extra) {
    lt_clear_error();
    mod m = {0};
    m.ctx = lt_ctx_new(test_dev, "m", hparams, 0, seed);
    ck_assert_msg(m.ctx != NULL, "%s", lt_last_error());
    m.l1 = lt_linear(m.ctx, "l1", IN, HID);
    ck_assert_msg(m.l1 != NULL, "%s", lt_last_error());
    if (l2_out) {
        m.l2 = lt_linear(m.ctx, "l2", HID, l2_out);
        ck_assert_msg(m.l2 != NULL, "%s", lt_last_error());
    }
    if (extra)
        ck_assert_ptr_nonnull(
            lt_param(m.ctx, "extra", 1, (int64_t[]){IN}, (lt_init){LT_INIT_UNIFORM, -1.0, 1.0}));
    ck_assert_int_eq(lt_ctx_materialize(m.ctx), LT_OK);
    return m;
}

/* Every parameter's floats, concatenated in declaration order (caller frees). */
static float *snapshot(const lt_ctx_t *ctx, size_t *nbytes) {
    size_t total = 0;
    for (int i = 0; i < lt_ctx_num_params(ctx); i++)
        total += (size_t)lt_numel(lt_ctx_param(ctx, i, NULL));
    float *v = malloc(total * sizeof *v), *at = v;
    for (int i = 0; i < lt_ctx_num_params(ctx); i++) {
        const lt_tensor_t *t = lt_ctx_param(ctx, i, NULL);
        ck_assert_int_eq(lt_to_host(t, at, (size_t)lt_numel(t) * sizeof *v), LT_OK);
        at += lt_numel(t);
    }
    *nbytes = total * sizeof *v;
    return v;
}

/* One parameter's floats (caller frees). */
static float *param_host(const lt_ctx_t *ctx, const char *want) {
    for (int i = 0; i < lt_ctx_num_params(ctx); i++) {
        const char *name;
        lt_tensor_t *t = lt_ctx_param(ctx, i, &name);
        if (!strcmp(name, want)) return test_host(t);
    }
    ck_abort_msg("no parameter %s", want);
    return NULL;
}

static bool same_param(const lt_ctx_t *a, const lt_ctx_t *b, const char *name) {
    float *x = param_host(a, name), *y = param_host(b, name);
    int64_t n = 0;
    for (int i = 0; i < lt_ctx_num_params(a); i++) {
        const char *nm;
        lt_tensor_t *t = lt_ctx_param(a, i, &nm);
        if (!strcmp(nm, name)) n = lt_numel(t);
    }
    bool same = memcmp(x, y, (size_t)n * sizeof(float)) == 0;
    free(x);
    free(y);
    return same;
}

/* Whether every parameter of a and b holds the same bits. */
static bool same_weights(const lt_ctx_t *a, const lt_ctx_t *b) {
    size_t na, nb;
    float *x = snapshot(a, &na), *y = snapshot(b, &nb);
    bool same = na == nb && memcmp(x, y, na) == 0;
    free(x);
    free(y);
    return same;
}

/* One training step k: loss = mse(l2(tanh(l1(x_k))), y_k), zero_grad, backward, every
 * optimizer steps, then every scheduler. Same k, same data. */
static void train_step(const mod *m, int k) {
    lt_arena_t *a = lt_ctx_arena(m->ctx);
    lt_arena_reset(a);
    float x[BATCH * IN], y[BATCH * OUT];
    test_fill(x, BATCH * IN, 100 + (uint64_t)k, -1.0f, 1.0f, 0.0f);
    test_fill(y, BATCH * OUT, 200 + (uint64_t)k, -1.0f, 1.0f, 0.0f);
    lt_tensor_t *tx = lt_from_host(a, LT_F32, 2, (int64_t[]){BATCH, IN}, x);
    lt_tensor_t *ty = lt_from_host(a, LT_F32, 2, (int64_t[]){BATCH, OUT}, y);
    lt_tensor_t *loss =
        lt_mse_loss(lt_linear_forward(m->l2, lt_tanh(lt_linear_forward(m->l1, tx))), ty);
    ck_assert_msg(loss != NULL, "%s", lt_last_error());
    for (int i = 0; i < lt_ctx_num_optimizers(m->ctx); i++)
        ck_assert_int_eq(lt_optimizer_zero_grad(lt_ctx_optimizer(m->ctx, i)), LT_OK);
    ck_assert_int_eq(lt_backward(loss), LT_OK);
    for (int i = 0; i < lt_ctx_num_optimizers(m->ctx); i++)
        ck_assert_int_eq(lt_optimizer_step(lt_ctx_optimizer(m->ctx, i)), LT_OK);
    for (int i = 0; i < lt_ctx_num_schedulers(m->ctx); i++)
        ck_assert_int_eq(lt_scheduler_step(lt_ctx_scheduler(m->ctx, i, NULL)), LT_OK);
    lt_arena_reset(a);
}

typedef enum {
    OPT_ADAM_STEPLR,
    OPT_SGD_MOM,
    OPT_ADAM_ONLY,
    OPT_SGD_STEPLR,
    OPT_ADAM_EXPLR,
    OPT_TWO_ADAM,
    OPT_ADAM_SGD,
    OPT_ADAM_L1_STEPLR
} opt_setup;

/* configure_optimizers, one of a few ways. */
static void configure(const mod *m, opt_setup how) {
    lt_ctx_t *ctx = m->ctx;
    lt_optimizer_t *o = NULL;
    switch (how) {
    case OPT_ADAM_STEPLR:
    case OPT_ADAM_ONLY:
    case OPT_ADAM_EXPLR: o = lt_adam(lt_parameters(ctx), 0.01); break;
    case OPT_SGD_MOM: o = lt_sgd_ex(lt_parameters(ctx), 0.05, 0.9, 0.0, 0.001, true); break;
    case OPT_SGD_STEPLR: o = lt_sgd(lt_parameters(ctx), 0.01); break;
    case OPT_ADAM_L1_STEPLR: o = lt_adam(lt_parameters_with_prefix(ctx, "l1."), 0.01); break;
    case OPT_TWO_ADAM:
    case OPT_ADAM_SGD:
        o = lt_adam(lt_parameters_with_prefix(ctx, "l1."), 0.01);
        ck_assert_int_eq(lt_use_optimizer(ctx, o), LT_OK);
        o = how == OPT_TWO_ADAM ? lt_adam(lt_parameters_with_prefix(ctx, "l2."), 0.02)
                                : lt_sgd(lt_parameters_with_prefix(ctx, "l2."), 0.02);
        break;
    }
    ck_assert_msg(o != NULL, "%s", lt_last_error());
    ck_assert_int_eq(lt_use_optimizer(ctx, o), LT_OK);
    if (how == OPT_ADAM_STEPLR || how == OPT_SGD_STEPLR || how == OPT_ADAM_L1_STEPLR)
        ck_assert_int_eq(lt_use_scheduler(ctx, lt_step_lr(o, 2, 0.5), NULL), LT_OK);
    if (how == OPT_ADAM_EXPLR)
        ck_assert_int_eq(lt_use_scheduler(ctx, lt_exponential_lr(o, 0.9), NULL), LT_OK);
}

static void set_hp(lt_ctx_t *ctx, const char *name, const char *value) {
    ck_assert_msg(lt_ctx_set_hparam(ctx, name, value) == LT_OK, "%s", lt_last_error());
}

/* Capture m, add an epoch entry, save to path. */
static void save_ckpt(const mod *m, const char *path) {
    lt_ckpt_t *c = lt_ckpt_capture(m->ctx);
    ck_assert_msg(c != NULL, "%s", lt_last_error());
    ck_assert_int_eq(lt_ckpt_set(c, "epoch", "3"), LT_OK);
    ck_assert_msg(lt_ckpt_save(c, path) == LT_OK, "%s", lt_last_error());
    lt_ckpt_free(c);
}

static lt_ckpt_t *open_ckpt(const char *path) {
    lt_ckpt_t *c = NULL;
    ck_assert_msg(lt_ckpt_open(path, &c) == LT_OK, "%s", lt_last_error());
    ck_assert_ptr_nonnull(c);
    return c;
}

static void expect_error(lt_status got, lt_status want, const char *const *needles) {
    ck_assert_msg(got == want, "status %s, expected %s (%s)", lt_status_name(got),
                  lt_status_name(want), lt_last_error());
    for (int i = 0; needles && needles[i]; i++)
        ck_assert_msg(strstr(lt_last_error(), needles[i]) != NULL, "message lacks '%s': %s",
                      needles[i], lt_last_error());
}

/* ---- 1. round trip ----------------------------------------------------------------------- */

START_TEST(round_trip_adam_steplr) {
    const char *path = file_in_dir("a.ckpt");
    mod a = make_mod(1, OUT, false);
    set_hp(a.ctx, "hidden", "-17");
    set_hp(a.ctx, "rate", "0.1234567890123");
    set_hp(a.ctx, "act", "gelu \"quoted\" \\ ünïcode");
    set_hp(a.ctx, "opt", "adam");
    set_hp(a.ctx, "flag", "true");
    configure(&a, OPT_ADAM_STEPLR);
    for (int k = 0; k < 3; k++) train_step(&a, k);
    save_ckpt(&a, path);

    mod b = make_mod(2, OUT, false);
    ck_assert_msg(!same_weights(a.ctx, b.ctx), "different seeds should give different weights");
    lt_ckpt_t *c = open_ckpt(path);
    ck_assert_str_eq(lt_ckpt_get(c, "epoch"), "3");
    ck_assert_str_eq(lt_ckpt_get(c, "format_version"), "\"1.0\"");
    ck_assert_ptr_null(lt_ckpt_get(c, "no such key"));
    ck_assert_ptr_nonnull(lt_ckpt_file(c));
    ck_assert_ptr_nonnull(lt_st_find(lt_ckpt_file(c), "state_dict.l1.weight"));
    ck_assert_ptr_nonnull(lt_st_find(lt_ckpt_file(c), "optimizer_states.0.state.3.exp_avg_sq"));

    ck_assert_msg(lt_ckpt_restore_hparams(c, b.ctx) == LT_OK, "%s", lt_last_error());
    ck_assert_int_eq(lt_hparam_int(b.ctx, "hidden"), -17);
    double fa = lt_hparam_float(a.ctx, "rate"), fb = lt_hparam_float(b.ctx, "rate");
    ck_assert_msg(memcmp(&fa, &fb, sizeof fa) == 0, "rate %.17g restored as %.17g", fa, fb);
    ck_assert_str_eq(lt_hparam_str(b.ctx, "act"), "gelu \"quoted\" \\ ünïcode");
    ck_assert_str_eq(lt_hparam_str(b.ctx, "opt"), "adam");
    ck_assert(lt_hparam_bool(b.ctx, "flag"));

    ck_assert_msg(lt_ckpt_restore_weights(c, b.ctx, true) == LT_OK, "%s", lt_last_error());
    ck_assert_msg(same_weights(a.ctx, b.ctx), "restored weights differ from the saved ones");

    configure(&b, OPT_ADAM_STEPLR);
    ck_assert_msg(lt_ckpt_restore_training(c, b.ctx) == LT_OK, "%s", lt_last_error());
    lt_optimizer_t *oa = lt_ctx_optimizer(a.ctx, 0), *ob = lt_ctx_optimizer(b.ctx, 0);
    lt_scheduler_t *sa = lt_ctx_scheduler(a.ctx, 0, NULL), *sb = lt_ctx_scheduler(b.ctx, 0, NULL);
    ck_assert_double_eq(lt_optimizer_lr(ob), lt_optimizer_lr(oa));
    ck_assert_double_eq(lt_optimizer_lr(ob), 0.005); /* StepLR(2, 0.5) after 3 steps */
    ck_assert_int_eq(lt_optimizer_num_steps(ob), 3);
    ck_assert_int_eq(lt_scheduler_last_epoch(sb), 3);
    ck_assert_double_eq(lt_scheduler_last_lr(sb), lt_scheduler_last_lr(sa));

    train_step(&a, 3);
    train_step(&b, 3);
    ck_assert_msg(same_weights(a.ctx, b.ctx),
                  "the step after resuming differs from the saved run's");
    ck_assert_double_eq(lt_optimizer_lr(ob), lt_optimizer_lr(oa));
    ck_assert_double_eq(lt_optimizer_lr(ob), 0.0025);
    ck_assert_int_eq(lt_scheduler_last_epoch(sb), lt_scheduler_last_epoch(sa));
    ck_assert_int_eq(lt_scheduler_last_epoch(sb), 4);
    ck_assert_int_eq(lt_optimizer_num_steps(ob), lt_optimizer_num_steps(oa));

    lt_ckpt_free(c);
    lt_ctx_free(a.ctx);
    lt_ctx_free(b.ctx);
}
END_TEST

/* The INT hparam travels as a JSON integer, but lt_ckpt_restore_hparams reads every
 * non-string value with lt_state_get_float and re-parses "%.17g" text. */
START_TEST(round_trip_int_hparam_beyond_2_53) {
    const char *path = file_in_dir("big.ckpt");
    static const char *const values[] = {"9007199254740993", "123456789012345678",
                                         "-9223372036854775807", "-17"};
    char report[2048] = "";
    size_t len = 0;
    for (size_t v = 0; v < sizeof values / sizeof values[0]; v++) {
        mod a = make_mod(1, OUT, false);
        set_hp(a.ctx, "big", values[v]);
        save_ckpt(&a, path);
        mod b = make_mod(2, OUT, false);
        lt_ckpt_t *c = open_ckpt(path);
        lt_status s = lt_ckpt_restore_hparams(c, b.ctx);
        int64_t want = lt_hparam_int(a.ctx, "big"), got = lt_hparam_int(b.ctx, "big");
        if (s != LT_OK)
            len += (size_t)snprintf(report + len, sizeof report - len, " [%s: restore failed: %s]",
                                    values[v], lt_last_error());
        else if (got != want)
            len += (size_t)snprintf(report + len, sizeof report - len, " [%s restored as %lld]",
                                    values[v], (long long)got);
        lt_ckpt_free(c);
        lt_ctx_free(a.ctx);
        lt_ctx_free(b.ctx);
    }
    drop_dir();
    /* INT hparams must come back as integers, not through a double (2^53 + 1 would
     * lose its last bit, 1e17 and up would be refused as text with an exponent). */
    ck_assert_msg(len == 0, "INT hparams did not round-trip:%s", report);
}
END_TEST

/* A context with other hparam declarations (and l1, materialized). */
static lt_ctx_t *ctx_with(const lt_hparam_desc *hp, uint64_t seed) {
    lt_clear_error();
    lt_ctx_t *ctx = lt_ctx_new(test_dev, "m", hp, 0, seed);
    ck_assert_ptr_nonnull(ctx);
    ck_assert_ptr_nonnull(lt_linear(ctx, "l1", IN, HID));
    ck_assert_int_eq(lt_ctx_materialize(ctx), LT_OK);
    return ctx;
}

/* A saved name the module no longer declares is skipped; one it declares but whose
 * saved value it refuses fails the restore, and then no hparam may have changed. */
START_TEST(restore_hparams_skips_and_refuses) {
    static const lt_hparam_desc saved[] = {LT_HPARAM_INT("hidden", 8, ""),
                                           LT_HPARAM_STR("opt", "sgd", ""),
                                           LT_HPARAM_FLOAT("gone", 1.0, ""), LT_HPARAM_END};
    static const lt_hparam_desc fewer[] = {LT_HPARAM_INT("hidden", 8, ""),
                                           LT_HPARAM_STR("opt", "sgd", ""), LT_HPARAM_END};
    static const lt_hparam_desc choice[] = {LT_HPARAM_INT("hidden", 8, ""),
                                            LT_HPARAM_CHOICE("opt", "sgd", "sgd|adam", ""),
                                            LT_HPARAM_END};
    const char *path = file_in_dir("hp.ckpt");
    lt_ctx_t *a = ctx_with(saved, 1);
    set_hp(a, "hidden", "21");
    set_hp(a, "opt", "rmsprop");
    lt_ckpt_t *cap = lt_ckpt_capture(a);
    ck_assert_ptr_nonnull(cap);
    ck_assert_int_eq(lt_ckpt_save(cap, path), LT_OK);
    lt_ckpt_free(cap);
    lt_ckpt_t *c = open_ckpt(path);

    lt_ctx_t *b = ctx_with(fewer, 2);
    ck_assert_msg(lt_ckpt_restore_hparams(c, b) == LT_OK, "%s", lt_last_error());
    ck_assert_int_eq(lt_hparam_int(b, "hidden"), 21);
    ck_assert_str_eq(lt_hparam_str(b, "opt"), "rmsprop");

    lt_ctx_t *d = ctx_with(choice, 2);
    lt_status s = lt_ckpt_restore_hparams(c, d);
    char err[512];
    snprintf(err, sizeof err, "%s", lt_last_error());
    int64_t hidden = lt_hparam_int(d, "hidden");
    lt_ckpt_free(c);
    lt_ctx_free(a);
    lt_ctx_free(b);
    lt_ctx_free(d);
    drop_dir();
    ck_assert_int_ne(s, LT_OK);
    ck_assert_msg(strstr(err, "rmsprop") != NULL, "%s", err);
    /* One refused value must leave the earlier ones unchanged too. */
    ck_assert_msg(hidden == 8, "a refused hparams restore changed 'hidden' to %lld",
                  (long long)hidden);
}
END_TEST

/* ---- 2. SGD momentum; an optimizer that never stepped ----------------------------------- */

START_TEST(round_trip_sgd_momentum) {
    const char *path = file_in_dir("sgd.ckpt");
    mod a = make_mod(1, OUT, false);
    configure(&a, OPT_SGD_MOM);
    for (int k = 0; k < 3; k++) train_step(&a, k);
    save_ckpt(&a, path);

    lt_ckpt_t *c = open_ckpt(path);
    const lt_st_file_t *f = lt_ckpt_file(c);
    for (int p = 0; p < 4; p++) {
        char name[128];
        snprintf(name, sizeof name, "optimizer_states.0.state.%d.momentum_buffer", p);
        ck_assert_msg(lt_st_find(f, name) != NULL, "no %s", name);
    }
    ck_assert_ptr_null(lt_st_find(f, "optimizer_states.0.state.0.exp_avg"));
    ck_assert_int_eq(lt_st_find(f, "optimizer_states.0.state.0.momentum_buffer")->shape[0], HID);

    mod b = make_mod(2, OUT, false);
    ck_assert_int_eq(lt_ckpt_restore_weights(c, b.ctx, true), LT_OK);
    configure(&b, OPT_SGD_MOM);
    ck_assert_msg(lt_ckpt_restore_training(c, b.ctx) == LT_OK, "%s", lt_last_error());
    ck_assert_int_eq(lt_optimizer_num_steps(lt_ctx_optimizer(b.ctx, 0)), 3);
    for (int k = 3; k < 5; k++) {
        train_step(&a, k);
        train_step(&b, k);
    }
    ck_assert_msg(same_weights(a.ctx, b.ctx), "SGD momentum: resumed steps differ");
    ck_assert_double_eq(lt_optimizer_lr(lt_ctx_optimizer(b.ctx, 0)),
                        lt_optimizer_lr(lt_ctx_optimizer(a.ctx, 0)));
    lt_ckpt_free(c);
    lt_ctx_free(a.ctx);
    lt_ctx_free(b.ctx);
}
END_TEST

START_TEST(round_trip_optimizer_never_stepped) {
    const char *path = file_in_dir("fresh.ckpt");
    mod a = make_mod(1, OUT, false);
    configure(&a, OPT_ADAM_STEPLR);
    save_ckpt(&a, path);
    lt_ckpt_t *c = open_ckpt(path);
    const lt_st_file_t *f = lt_ckpt_file(c);
    for (int64_t i = 0; i < lt_st_count(f); i++)
        ck_assert_msg(strncmp(lt_st_at(f, i)->name, "optimizer_states.", 17) != 0,
                      "an optimizer that never stepped saved %s", lt_st_at(f, i)->name);
    ck_assert_ptr_nonnull(lt_ckpt_get(c, "optimizer_states"));

    mod b = make_mod(2, OUT, false);
    ck_assert_int_eq(lt_ckpt_restore_weights(c, b.ctx, true), LT_OK);
    configure(&b, OPT_ADAM_STEPLR);
    ck_assert_msg(lt_ckpt_restore_training(c, b.ctx) == LT_OK, "%s", lt_last_error());
    ck_assert_int_eq(lt_optimizer_num_steps(lt_ctx_optimizer(b.ctx, 0)), 0);
    train_step(&a, 0);
    train_step(&b, 0);
    ck_assert_msg(same_weights(a.ctx, b.ctx),
                  "first step after restoring a fresh optimizer differs");
    lt_ckpt_free(c);
    lt_ctx_free(a.ctx);
    lt_ctx_free(b.ctx);
}
END_TEST

/* Restoring the state of an optimizer that never stepped into one that has: torch's
 * load_state_dict replaces the whole state, so the stale moments must go. */
START_TEST(restore_fresh_state_into_stepped_optimizer) {
    const char *path = file_in_dir("fresh2.ckpt");
    mod a = make_mod(1, OUT, false);
    configure(&a, OPT_ADAM_STEPLR);
    save_ckpt(&a, path);

    mod b = make_mod(2, OUT, false);
    configure(&b, OPT_ADAM_STEPLR);
    for (int k = 0; k < 3; k++) train_step(&b, 10 + k); /* B's Adam now has moments */
    lt_ckpt_t *c = open_ckpt(path);
    ck_assert_int_eq(lt_ckpt_restore_weights(c, b.ctx, true), LT_OK);
    ck_assert_msg(lt_ckpt_restore_training(c, b.ctx) == LT_OK, "%s", lt_last_error());
    int64_t steps = lt_optimizer_num_steps(lt_ctx_optimizer(b.ctx, 0));
    int64_t epoch = lt_scheduler_last_epoch(lt_ctx_scheduler(b.ctx, 0, NULL));
    double lr = lt_optimizer_lr(lt_ctx_optimizer(b.ctx, 0));
    train_step(&a, 0);
    train_step(&b, 0);
    bool same = same_weights(a.ctx, b.ctx);
    lt_ckpt_free(c);
    lt_ctx_free(a.ctx);
    lt_ctx_free(b.ctx);
    drop_dir();
    ck_assert_int_eq(steps, 0);
    ck_assert_int_eq(epoch, 0);
    ck_assert_double_eq(lr, 0.01);
    /* A checkpoint with no state tensors must clear the optimizer's moments, as torch's
     * load_state_dict does. */
    ck_assert_msg(same, "stale Adam moments survived restoring a never-stepped optimizer's state");
}
END_TEST

/* ---- 3. nothing half-loaded ------------------------------------------------------------ */

START_TEST(shape_mismatch_changes_nothing) {
    const char *path = file_in_dir("a.ckpt");
    mod a = make_mod(1, OUT, false);
    save_ckpt(&a, path);
    lt_ckpt_t *c = open_ckpt(path);

    mod m = make_mod(3, 5, false); /* l2: 4 -> 5 instead of 4 -> 2 */
    size_t n0, n1;
    float *before = snapshot(m.ctx, &n0);
    for (int strict = 1; strict >= 0; strict--) {
        expect_error(lt_ckpt_restore_weights(c, m.ctx, strict), LT_ERR_SHAPE,
                     (const char *const[]){"l2.weight", "[2, 4]", "[5, 4]", "l2.bias", "[2]", "[5]",
                                           "size mismatch", NULL});
        ck_assert_ptr_null(strstr(lt_last_error(), "l1.weight"));
        float *after = snapshot(m.ctx, &n1);
        ck_assert_msg(n0 == n1 && memcmp(before, after, n0) == 0,
                      "a refused restore (strict=%d) changed parameters", strict);
        free(after);
    }
    ck_assert_msg(!same_param(a.ctx, m.ctx, "l1.weight"), "l1 was loaded despite the refusal");
    free(before);
    lt_ckpt_free(c);
    lt_ctx_free(a.ctx);
    lt_ctx_free(m.ctx);
}
END_TEST

START_TEST(missing_key) {
    const char *path = file_in_dir("a.ckpt");
    mod a = make_mod(1, OUT, false);
    save_ckpt(&a, path);
    lt_ckpt_t *c = open_ckpt(path);

    mod m = make_mod(3, OUT, true); /* declares "extra", which the file lacks */
    size_t n0, n1;
    float *before = snapshot(m.ctx, &n0);
    expect_error(lt_ckpt_restore_weights(c, m.ctx, true), LT_ERR_STATE,
                 (const char *const[]){"missing key(s)", "extra", "strict", NULL});
    ck_assert_ptr_null(strstr(lt_last_error(), "unexpected"));
    float *after = snapshot(m.ctx, &n1);
    ck_assert_msg(memcmp(before, after, n0) == 0, "a refused restore changed parameters");
    free(after);

    float *extra = param_host(m.ctx, "extra");
    ck_assert_msg(lt_ckpt_restore_weights(c, m.ctx, false) == LT_OK, "%s", lt_last_error());
    ck_assert(same_param(a.ctx, m.ctx, "l1.weight"));
    ck_assert(same_param(a.ctx, m.ctx, "l1.bias"));
    ck_assert(same_param(a.ctx, m.ctx, "l2.weight"));
    ck_assert(same_param(a.ctx, m.ctx, "l2.bias"));
    float *extra2 = param_host(m.ctx, "extra");
    ck_assert_msg(memcmp(extra, extra2, IN * sizeof(float)) == 0, "the missing parameter changed");
    free(extra);
    free(extra2);
    free(before);
    lt_ckpt_free(c);
    lt_ctx_free(a.ctx);
    lt_ctx_free(m.ctx);
}
END_TEST

START_TEST(unexpected_key) {
    const char *path = file_in_dir("a.ckpt");
    mod a = make_mod(1, OUT, false);
    configure(&a, OPT_ADAM_STEPLR);
    train_step(&a, 0); /* optimizer_states.* tensors are not unexpected keys */
    save_ckpt(&a, path);
    lt_ckpt_t *c = open_ckpt(path);

    mod m = make_mod(3, 0, false); /* no l2 */
    size_t n0, n1;
    float *before = snapshot(m.ctx, &n0);
    expect_error(lt_ckpt_restore_weights(c, m.ctx, true), LT_ERR_STATE,
                 (const char *const[]){"unexpected key(s)", "l2.weight", "l2.bias", NULL});
    ck_assert_ptr_null(strstr(lt_last_error(), "missing"));
    ck_assert_ptr_null(strstr(lt_last_error(), "optimizer_states"));
    float *after = snapshot(m.ctx, &n1);
    ck_assert_msg(memcmp(before, after, n0) == 0, "a refused restore changed parameters");
    free(after);
    free(before);

    ck_assert_msg(lt_ckpt_restore_weights(c, m.ctx, false) == LT_OK, "%s", lt_last_error());
    ck_assert(same_param(a.ctx, m.ctx, "l1.weight"));
    ck_assert(same_param(a.ctx, m.ctx, "l1.bias"));

    /* Both at once: every problem named. */
    mod both = make_mod(4, 0, true);
    expect_error(
        lt_ckpt_restore_weights(c, both.ctx, true), LT_ERR_STATE,
        (const char *const[]){"missing key(s)", "extra", "unexpected key(s)", "l2.weight", NULL});
    lt_ckpt_free(c);
    lt_ctx_free(a.ctx);
    lt_ctx_free(m.ctx);
    lt_ctx_free(both.ctx);
}
END_TEST

START_TEST(weights_before_materialize) {
    const char *path = file_in_dir("a.ckpt");
    mod a = make_mod(1, OUT, false);
    save_ckpt(&a, path);
    lt_ckpt_t *c = open_ckpt(path);
    lt_clear_error();
    lt_ctx_t *raw = lt_ctx_new(test_dev, "m", hparams, 0, 1);
    ck_assert_ptr_nonnull(lt_linear(raw, "l1", IN, HID));
    ck_assert_ptr_null(lt_ckpt_capture(raw));
    ck_assert_int_eq(lt_last_status(), LT_ERR_STATE);
    expect_error(lt_ckpt_restore_weights(c, raw, true), LT_ERR_STATE, NULL);
    lt_ctx_free(raw);
    lt_ckpt_free(c);
    lt_ctx_free(a.ctx);
}
END_TEST

/* ---- 4. restore_training refuses what was not saved ------------------------------------ */

static void expect_training_refused(const char *path, opt_setup how, const char *needle) {
    lt_ckpt_t *c = open_ckpt(path);
    mod b = make_mod(2, OUT, false);
    configure(&b, how);
    double lr[2];
    int64_t steps[2];
    for (int i = 0; i < lt_ctx_num_optimizers(b.ctx); i++) {
        lt_optimizer_set_lr(lt_ctx_optimizer(b.ctx, i), 0.375 + i);
        lr[i] = lt_optimizer_lr(lt_ctx_optimizer(b.ctx, i));
        steps[i] = lt_optimizer_num_steps(lt_ctx_optimizer(b.ctx, i));
    }
    int64_t epoch = lt_ctx_num_schedulers(b.ctx)
                        ? lt_scheduler_last_epoch(lt_ctx_scheduler(b.ctx, 0, NULL))
                        : -1;
    expect_error(lt_ckpt_restore_training(c, b.ctx), LT_ERR_STATE,
                 (const char *const[]){needle, NULL});
    for (int i = 0; i < lt_ctx_num_optimizers(b.ctx); i++) {
        ck_assert_double_eq(lt_optimizer_lr(lt_ctx_optimizer(b.ctx, i)), lr[i]);
        ck_assert_int_eq(lt_optimizer_num_steps(lt_ctx_optimizer(b.ctx, i)), steps[i]);
    }
    if (lt_ctx_num_schedulers(b.ctx))
        ck_assert_int_eq(lt_scheduler_last_epoch(lt_ctx_scheduler(b.ctx, 0, NULL)), epoch);
    lt_ckpt_free(c);
    lt_ctx_free(b.ctx);
}

START_TEST(training_state_refused) {
    const char *path = file_in_dir("a.ckpt");
    mod a = make_mod(1, OUT, false);
    configure(&a, OPT_ADAM_STEPLR);
    for (int k = 0; k < 3; k++) train_step(&a, k);
    save_ckpt(&a, path);
    expect_training_refused(path, OPT_SGD_STEPLR, "SGD");           /* another type */
    expect_training_refused(path, OPT_TWO_ADAM, "optimizer(s)");    /* another count */
    expect_training_refused(path, OPT_ADAM_ONLY, "scheduler");      /* no scheduler */
    expect_training_refused(path, OPT_ADAM_EXPLR, "ExponentialLR"); /* another scheduler */
    expect_training_refused(path, OPT_ADAM_L1_STEPLR, "over 2");    /* fewer parameters */

    /* Two optimizers, the first fits and the second does not: neither changes. */
    const char *path2 = file_in_dir("two.ckpt");
    mod t = make_mod(1, OUT, false);
    configure(&t, OPT_TWO_ADAM);
    train_step(&t, 0);
    save_ckpt(&t, path2);
    expect_training_refused(path2, OPT_ADAM_SGD, "SGD");

    lt_ctx_free(a.ctx);
    lt_ctx_free(t.ctx);
}
END_TEST

/* ---- 5. plain safetensors weights ------------------------------------------------------ */

static void write_weights(const char *path, const char *prefix, const float *v, bool stray) {
    static const struct {
        const char *name;
        int ndim;
        int64_t shape[2];
    } ps[] = {
        {"l1.weight", 2, {HID, IN}},
        {"l1.bias", 1, {HID}},
        {"l2.weight", 2, {OUT, HID}},
        {"l2.bias", 1, {OUT}},
    };
    lt_st_writer_t *w = lt_st_writer_new();
    ck_assert_ptr_nonnull(w);
    ck_assert_int_eq(lt_st_writer_meta(w, "format", "pt"), LT_OK);
    for (size_t i = 0; i < 4; i++) {
        char key[128];
        int64_t n = ps[i].shape[0] * (ps[i].ndim == 2 ? ps[i].shape[1] : 1);
        snprintf(key, sizeof key, "%s%s", prefix, ps[i].name);
        ck_assert_int_eq(lt_st_writer_add(w, key, LT_ST_F32, ps[i].ndim, ps[i].shape, v,
                                          (size_t)n * sizeof(float)),
                         LT_OK);
        v += n;
    }
    if (stray)
        ck_assert_int_eq(lt_st_writer_add(w, "stray", LT_ST_F32, 1, (int64_t[]){1}, (float[]){1.0f},
                                          sizeof(float)),
                         LT_OK);
    ck_assert_msg(lt_st_writer_save(w, path) == LT_OK, "%s", lt_last_error());
    lt_st_writer_free(w);
}

START_TEST(load_plain_weights) {
    enum { NW = HID * IN + HID + OUT * HID + OUT };
    float v[NW];
    for (int i = 0; i < NW; i++) v[i] = 0.25f * (float)i - 3.0f;
    static const char *const prefixes[] = {"", "model.", "state_dict."};
    for (size_t p = 0; p < 3; p++) {
        const char *path = file_in_dir("w.safetensors");
        write_weights(path, prefixes[p], v, false);
        mod m = make_mod(5, OUT, false);
        ck_assert_msg(lt_load_weights_file(m.ctx, path, true) == LT_OK, "prefix '%s': %s",
                      prefixes[p], lt_last_error());
        size_t n;
        float *got = snapshot(m.ctx, &n);
        ck_assert_uint_eq(n, sizeof v);
        ck_assert_msg(memcmp(got, v, n) == 0, "prefix '%s': weights differ", prefixes[p]);
        free(got);
        lt_ctx_free(m.ctx);
    }

    /* A stray key: refused when strict, ignored otherwise. */
    const char *path = file_in_dir("stray.safetensors");
    write_weights(path, "model.", v, true);
    mod m = make_mod(5, OUT, false);
    size_t n0, n1;
    float *before = snapshot(m.ctx, &n0);
    expect_error(lt_load_weights_file(m.ctx, path, true), LT_ERR_STATE,
                 (const char *const[]){"unexpected key(s)", "stray", NULL});
    float *after = snapshot(m.ctx, &n1);
    ck_assert(memcmp(before, after, n0) == 0);
    free(after);
    ck_assert_msg(lt_load_weights_file(m.ctx, path, false) == LT_OK, "%s", lt_last_error());
    after = snapshot(m.ctx, &n1);
    ck_assert(memcmp(after, v, n1) == 0);
    free(after);
    free(before);

    /* A missing file: an error, nothing loaded. */
    ck_assert_int_ne(lt_load_weights_file(m.ctx, file_in_dir("none.safetensors"), false), LT_OK);
    lt_ctx_free(m.ctx);
}
END_TEST

/* A .ckpt's weights load through lt_load_weights_file too (its optimizer state is skipped). */
START_TEST(load_weights_from_ckpt) {
    const char *path = file_in_dir("a.ckpt");
    mod a = make_mod(1, OUT, false);
    configure(&a, OPT_ADAM_STEPLR);
    train_step(&a, 0);
    save_ckpt(&a, path);
    mod b = make_mod(2, OUT, false);
    ck_assert_msg(lt_load_weights_file(b.ctx, path, true) == LT_OK, "%s", lt_last_error());
    ck_assert(same_weights(a.ctx, b.ctx));
    lt_ctx_free(a.ctx);
    lt_ctx_free(b.ctx);
}
END_TEST

/* ---- 6. files that are not checkpoints; NULL arguments --------------------------------- */

START_TEST(open_refuses_non_checkpoints) {
    enum { NW = HID * IN + HID + OUT * HID + OUT };
    float v[NW] = {0};
    const char *plain = file_in_dir("plain.safetensors");
    write_weights(plain, "", v, false);
    lt_ckpt_t *c = (lt_ckpt_t *)(uintptr_t)1;
    expect_error(lt_ckpt_open(plain, &c), LT_ERR_FORMAT,
                 (const char *const[]){"lt_load_weights_file", "format_version", plain, NULL});
    ck_assert_ptr_null(c);

    /* A newer format: refused, naming the versions. */
    const char *newer = file_in_dir("newer.ckpt");
    lt_st_writer_t *w = lt_st_writer_new();
    ck_assert_int_eq(lt_st_writer_meta(w, "format_version", "\"2.3\""), LT_OK);
    ck_assert_int_eq(lt_st_writer_save(w, newer), LT_OK);
    c = (lt_ckpt_t *)(uintptr_t)1;
    expect_error(lt_ckpt_open(newer, &c), LT_ERR_ABI, (const char *const[]){"2.3", NULL});
    ck_assert_ptr_null(c);
    /* An unreadable version. */
    ck_assert_int_eq(lt_st_writer_meta(w, "format_version", "1.0"), LT_OK);
    ck_assert_int_eq(lt_st_writer_save(w, newer), LT_OK);
    expect_error(lt_ckpt_open(newer, &c), LT_ERR_FORMAT,
                 (const char *const[]){"format_version", NULL});
    ck_assert_ptr_null(c);
    /* A 1.x checkpoint with no hyper_parameters / optimizer_states entries. */
    ck_assert_int_eq(lt_st_writer_meta(w, "format_version", "\"1.7\""), LT_OK);
    ck_assert_int_eq(lt_st_writer_save(w, newer), LT_OK);
    lt_st_writer_free(w);
    c = open_ckpt(newer);
    mod m = make_mod(1, OUT, false);
    configure(&m, OPT_ADAM_STEPLR);
    expect_error(lt_ckpt_restore_hparams(c, m.ctx), LT_ERR_FORMAT,
                 (const char *const[]){"hyper_parameters", NULL});
    expect_error(lt_ckpt_restore_training(c, m.ctx), LT_ERR_FORMAT,
                 (const char *const[]){"optimizer_states", NULL});
    lt_ckpt_free(c);

    /* No file at all. */
    c = (lt_ckpt_t *)(uintptr_t)1;
    ck_assert_int_ne(lt_ckpt_open(file_in_dir("absent.ckpt"), &c), LT_OK);
    ck_assert_ptr_null(c);
    lt_ctx_free(m.ctx);
}
END_TEST

START_TEST(null_arguments) {
    const char *path = file_in_dir("a.ckpt");
    mod a = make_mod(1, OUT, false);
    lt_ckpt_t *cap = lt_ckpt_capture(a.ctx);
    ck_assert_ptr_nonnull(cap);
    ck_assert_int_eq(lt_ckpt_save(cap, path), LT_OK);
    lt_ckpt_t *c = open_ckpt(path);

    ck_assert_int_eq(lt_ckpt_open(NULL, &c), LT_ERR_INVALID_ARG);
    ck_assert_int_eq(lt_ckpt_open(path, NULL), LT_ERR_INVALID_ARG);
    ck_assert_ptr_null(lt_ckpt_capture(NULL));
    ck_assert_int_ne(lt_last_status(), LT_OK);
    ck_assert_int_eq(lt_ckpt_set(NULL, "k", "1"), LT_ERR_INVALID_ARG);
    ck_assert_int_eq(lt_ckpt_set(cap, NULL, "1"), LT_ERR_INVALID_ARG);
    ck_assert_int_eq(lt_ckpt_set(cap, "k", NULL), LT_ERR_INVALID_ARG);
    ck_assert_int_eq(lt_ckpt_save(NULL, path), LT_ERR_INVALID_ARG);
    ck_assert_int_eq(lt_ckpt_save(cap, NULL), LT_ERR_INVALID_ARG);
    ck_assert_ptr_null(lt_ckpt_get(NULL, "epoch"));
    ck_assert_ptr_null(lt_ckpt_get(c, NULL));
    ck_assert_ptr_null(lt_ckpt_file(NULL));
    ck_assert_int_eq(lt_ckpt_restore_hparams(NULL, a.ctx), LT_ERR_INVALID_ARG);
    ck_assert_int_eq(lt_ckpt_restore_hparams(c, NULL), LT_ERR_INVALID_ARG);
    ck_assert_int_eq(lt_ckpt_restore_weights(NULL, a.ctx, true), LT_ERR_INVALID_ARG);
    ck_assert_int_eq(lt_ckpt_restore_weights(c, NULL, true), LT_ERR_INVALID_ARG);
    ck_assert_int_eq(lt_ckpt_restore_training(NULL, a.ctx), LT_ERR_INVALID_ARG);
    ck_assert_int_eq(lt_ckpt_restore_training(c, NULL), LT_ERR_INVALID_ARG);
    ck_assert_int_eq(lt_load_weights_file(NULL, path, true), LT_ERR_INVALID_ARG);
    ck_assert_int_eq(lt_load_weights_file(a.ctx, NULL, true), LT_ERR_INVALID_ARG);
    /* A captured checkpoint cannot be restored from, an opened one not written to. */
    ck_assert_int_eq(lt_ckpt_restore_weights(cap, a.ctx, true), LT_ERR_INVALID_ARG);
    ck_assert_int_eq(lt_ckpt_restore_hparams(cap, a.ctx), LT_ERR_INVALID_ARG);
    ck_assert_int_eq(lt_ckpt_restore_training(cap, a.ctx), LT_ERR_INVALID_ARG);
    ck_assert_ptr_null(lt_ckpt_get(cap, "format_version"));
    ck_assert_int_eq(lt_ckpt_set(c, "k", "1"), LT_ERR_INVALID_ARG);
    ck_assert_int_eq(lt_ckpt_save(c, path), LT_ERR_INVALID_ARG);
    lt_ckpt_free(NULL);
    lt_ckpt_free(cap);
    lt_ckpt_free(c);
    lt_ctx_free(a.ctx);
}
END_TEST

Suite *suite_checkpoint(void) {
    Suite *s = suite_create("checkpoint");
    TCase *tc = tcase_create("checkpoint");
    tcase_add_checked_fixture(tc, make_dir, remove_dir);
    tcase_add_test(tc, round_trip_adam_steplr);
    tcase_add_test(tc, round_trip_int_hparam_beyond_2_53);
    tcase_add_test(tc, restore_hparams_skips_and_refuses);
    tcase_add_test(tc, round_trip_sgd_momentum);
    tcase_add_test(tc, round_trip_optimizer_never_stepped);
    tcase_add_test(tc, restore_fresh_state_into_stepped_optimizer);
    tcase_add_test(tc, shape_mismatch_changes_nothing);
    tcase_add_test(tc, missing_key);
    tcase_add_test(tc, unexpected_key);
    tcase_add_test(tc, weights_before_materialize);
    tcase_add_test(tc, training_state_refused);
    tcase_add_test(tc, load_plain_weights);
    tcase_add_test(tc, load_weights_from_ckpt);
    tcase_add_test(tc, open_refuses_non_checkpoints);
    tcase_add_test(tc, null_arguments);
    suite_add_tcase(s, tc);
    return s;
}
