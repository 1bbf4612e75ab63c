/* RMSprop, Adagrad, Adamax, NAdam and RAdam (issue #23): ten steps of each against torch's
 * trajectories (tests/fixtures/optim_more.safetensors, made by
 * tests/reference/make_optim_fixtures.py) on every accelerator, within the 1e-5 of the
 * other optimizers; their state in checkpoints under torch's names, resumed bit for bit;
 * their arguments checked as torch checks them; lt_optimizer_by_name. */
#include <jansson.h>
#include <math.h>
#include <string.h>
#include <unistd.h>

#include <lt/checkpoint.h>
#include <lt/runtime.h>

#include "test_fixture.h"

/* ---- parity with torch ------------------------------------------------------------- */

static double jnum(json_t *o, const char *key) {
    json_t *v = json_object_get(o, key);
    ck_assert_msg(json_is_number(v), "optimizer case lacks number '%s'", key);
    return json_number_value(v);
}

static bool jbool(json_t *o, const char *key) {
    json_t *v = json_object_get(o, key);
    ck_assert_msg(json_is_boolean(v), "optimizer case lacks boolean '%s'", key);
    return json_is_true(v);
}

static lt_optimizer_t *make_optimizer(json_t *h, lt_param_list_t *l) {
    const char *kind = json_string_value(json_object_get(h, "optimizer"));
    ck_assert_ptr_nonnull(kind);
    const double lr = jnum(h, "lr"), wd = jnum(h, "weight_decay"), eps = jnum(h, "eps");
    if (!strcmp(kind, "rmsprop"))
        return lt_rmsprop_ex(l, lr, jnum(h, "alpha"), eps, wd, jnum(h, "momentum"),
                             jbool(h, "centered"));
    if (!strcmp(kind, "adagrad"))
        return lt_adagrad_ex(l, lr, jnum(h, "lr_decay"), wd, jnum(h, "initial_accumulator_value"),
                             eps);
    const double b1 = jnum(h, "beta1"), b2 = jnum(h, "beta2");
    if (!strcmp(kind, "adamax")) return lt_adamax_ex(l, lr, b1, b2, eps, wd);
    const bool decoupled = jbool(h, "decoupled_weight_decay");
    if (!strcmp(kind, "nadam"))
        return lt_nadam_ex(l, lr, b1, b2, eps, wd, jnum(h, "momentum_decay"), decoupled);
    ck_assert_str_eq(kind, "radam");
    return lt_radam_ex(l, lr, b1, b2, eps, wd, decoupled);
}

/* The fixture's gradient row k of grads (steps, n) made p's gradient: d sum(p g) / dp = g. */
static void set_grad(lt_arena_t *arena, lt_tensor_t *p, const lt_st_tensor *grads, int64_t k) {
    int64_t n = grads->shape[1];
    const float *row = (const float *)grads->data + k * n;
    lt_tensor_t *g = lt_from_host(arena, LT_F32, 1, &n, row);
    ck_assert_int_eq(lt_backward(lt_sum(lt_mul(p, g))), LT_OK);
}

static void check_case(lt_st_file_t *f, const char *c, lt_arena_t *arena) {
    json_error_t err;
    json_t *h = json_loads(lt_st_meta(f, c) ? lt_st_meta(f, c) : "", 0, &err);
    ck_assert_msg(h != NULL, "case %s: hyper-parameters do not parse: %s", c, err.text);
    const lt_st_tensor *p0 = test_fixture_find(f, c, "p0"),
                       *grads = test_fixture_find(f, c, "grads"),
                       *traj = test_fixture_find(f, c, "traj");
    ck_assert_msg(p0 && grads && traj, "case %s is incomplete", c);
    lt_tensor_t *p = lt_st_to_tensor(arena, p0);
    lt_set_requires_grad(p, true);
    lt_param_list_t *l = lt_param_list_new();
    lt_param_list_add(l, p);
    lt_optimizer_t *opt = make_optimizer(h, l);
    ck_assert_msg(opt != NULL, "%s: %s", c, lt_last_error());
    const int64_t steps = traj->shape[0], n = traj->shape[1];
    for (int64_t k = 0; k < steps; k++) {
        lt_optimizer_zero_grad(opt);
        set_grad(arena, p, grads, k);
        ck_assert_int_eq(lt_optimizer_step(opt), LT_OK);
        lt_st_tensor want = *traj;
        want.ndim = 1;
        want.shape[0] = want.numel = n;
        want.nbytes = (size_t)n * 4;
        want.data = (const char *)traj->data + k * n * 4;
        char what[256];
        snprintf(what, sizeof what, "%s step %lld", c, (long long)k + 1);
        test_compare(what, p, &want, 1e-5, 1e-7);
    }
    lt_optimizer_free(opt);
    json_decref(h);
}

START_TEST(optimizers_match_torch) {
    lt_device_t *dev = test_open_accel(_i, "optim_more");
    if (!dev) return;
    test_fixture_each_case(dev, "optim_more.safetensors", "cases", 14, check_case);
    lt_device_close(dev);
}
END_TEST

/* ---- param groups ------------------------------------------------------------------ */

/* The case's optimizer over group 0 (param a), then group 1 (param b) added. */
static lt_optimizer_t *make_grouped(json_t *h, lt_tensor_t *a, lt_tensor_t *b) {
    const char *kind = json_string_value(json_object_get(h, "optimizer"));
    json_t *groups = json_object_get(h, "groups");
    ck_assert_msg(kind && json_array_size(groups) == 2, "group case lacks optimizer or groups");
    json_t *g0 = json_array_get(groups, 0), *g1 = json_array_get(groups, 1);
    lt_param_list_t *l = lt_param_list_new();
    lt_param_list_add(l, a);
    const double lr = jnum(g0, "lr"), wd = jnum(g0, "weight_decay");
    lt_optimizer_t *o = !strcmp(kind, "adamw") ? lt_adamw(l, lr, wd)
                        : !strcmp(kind, "sgd") ? lt_sgd_ex(l, lr, jnum(h, "momentum"), 0, wd, false)
                        : !strcmp(kind, "nadam")
                            ? lt_nadam_ex(l, lr, 0.9, 0.999, 1e-8, wd, 4e-3, false)
                            : lt_rmsprop_ex(l, lr, 0.99, 1e-8, wd, 0, false);
    ck_assert_msg(o != NULL, "%s", lt_last_error());
    l = lt_param_list_new();
    lt_param_list_add(l, b);
    ck_assert_int_eq(lt_optimizer_add_param_group(o, l, jnum(g1, "lr"), jnum(g1, "weight_decay")),
                     LT_OK);
    return o;
}

static lt_scheduler_t *make_group_scheduler(json_t *h, lt_optimizer_t *o) {
    json_t *sch = json_object_get(h, "scheduler");
    const char *kind = json_string_value(json_object_get(sch, "kind"));
    ck_assert_ptr_nonnull(kind);
    if (!strcmp(kind, "cosine"))
        return lt_cosine_annealing_lr(o, (int64_t)jnum(sch, "t_max"), jnum(sch, "eta_min"));
    if (!strcmp(kind, "step"))
        return lt_step_lr(o, (int64_t)jnum(sch, "step_size"), jnum(sch, "gamma"));
    return NULL;
}

static void check_row(const char *c, int i, int64_t k, lt_tensor_t *p, const lt_st_tensor *traj) {
    const int64_t n = traj->shape[1];
    lt_st_tensor want = *traj;
    want.ndim = 1;
    want.shape[0] = want.numel = n;
    want.nbytes = (size_t)n * 4;
    want.data = (const char *)traj->data + k * n * 4;
    char what[256];
    snprintf(what, sizeof what, "%s group %d step %lld", c, i, (long long)k + 1);
    test_compare(what, p, &want, 1e-5, 1e-7);
}

/* Every group's parameter against torch's, every group's lr exactly torch's. */
static void check_group_case(lt_st_file_t *f, const char *c, lt_arena_t *arena) {
    char key[256];
    snprintf(key, sizeof key, "%s/lrs", c);
    json_t *h = json_loads(lt_st_meta(f, c) ? lt_st_meta(f, c) : "", 0, NULL);
    json_t *lrs = json_loads(lt_st_meta(f, key) ? lt_st_meta(f, key) : "", 0, NULL);
    ck_assert_msg(h && lrs, "group case %s lacks its JSON", c);
    lt_tensor_t *p[2];
    const lt_st_tensor *grads[2], *traj[2];
    for (int i = 0; i < 2; i++) {
        char k0[16], kg[16], kt[16];
        snprintf(k0, sizeof k0, "p0_%d", i);
        snprintf(kg, sizeof kg, "grads_%d", i);
        snprintf(kt, sizeof kt, "traj_%d", i);
        const lt_st_tensor *t0 = test_fixture_find(f, c, k0);
        grads[i] = test_fixture_find(f, c, kg);
        traj[i] = test_fixture_find(f, c, kt);
        ck_assert_msg(t0 && grads[i] && traj[i], "group case %s is incomplete", c);
        p[i] = lt_st_to_tensor(arena, t0);
        lt_set_requires_grad(p[i], true);
    }
    lt_optimizer_t *o = make_grouped(h, p[0], p[1]);
    lt_scheduler_t *s = make_group_scheduler(h, o);
    for (int64_t k = 0; k < traj[0]->shape[0]; k++) {
        lt_optimizer_zero_grad(o);
        for (int i = 0; i < 2; i++) set_grad(arena, p[i], grads[i], k);
        ck_assert_int_eq(lt_optimizer_step(o), LT_OK);
        if (s) ck_assert_int_eq(lt_scheduler_step(s), LT_OK);
        for (int i = 0; i < 2; i++) {
            check_row(c, i, k, p[i], traj[i]);
            const double want = json_number_value(json_array_get(json_array_get(lrs, k), i));
            ck_assert_msg(lt_optimizer_group_lr(o, i) == want,
                          "%s step %lld: group %d lr %.17g, torch %.17g", c, (long long)k + 1, i,
                          lt_optimizer_group_lr(o, i), want);
        }
    }
    lt_scheduler_free(s);
    lt_optimizer_free(o);
    json_decref(h);
    json_decref(lrs);
}

START_TEST(param_groups_match_torch) {
    lt_device_t *dev = test_open_accel(_i, "optim_more");
    if (!dev) return;
    test_fixture_each_case(dev, "optim_more.safetensors", "group_cases", 4, check_group_case);
    lt_device_close(dev);
}
END_TEST

/* ---- checkpoints ------------------------------------------------------------------- */

typedef struct {
    lt_ctx_t *ctx;
    lt_linear_t *l1;
} mod;

static mod make_mod(uint64_t seed) {
    mod m = {lt_ctx_new(test_dev, "m", NULL, 0, seed), NULL};
    ck_assert_msg(m.ctx != NULL, "%s", lt_last_error());
    m.l1 = lt_linear(m.ctx, "l1", 3, 4);
    ck_assert_msg(m.l1 != NULL, "%s", lt_last_error());
    ck_assert_int_eq(lt_ctx_materialize(m.ctx), LT_OK);
    return m;
}

/* A kind with every state slot it can have (RMSprop centered with momentum, Adagrad with an
 * initial accumulator, NAdam with its mu_product). */
static lt_optimizer_t *make_kind(lt_ctx_t *ctx, int kind) {
    lt_param_list_t *l = lt_parameters(ctx);
    switch (kind) {
    case 0: return lt_rmsprop_ex(l, 0.01, 0.9, 1e-6, 0.01, 0.9, true);
    case 1: return lt_adagrad_ex(l, 0.1, 0.01, 0.05, 0.1, 1e-10);
    case 2: return lt_adamax_ex(l, 0.01, 0.8, 0.99, 1e-8, 0.1);
    case 3: return lt_nadam_ex(l, 0.01, 0.9, 0.999, 1e-8, 0.1, 4e-3, true);
    case 4: return lt_radam_ex(l, 0.01, 0.9, 0.9, 1e-8, 0.1, false);
    default: { /* param groups: no decay on the bias, its own lr */
        lt_param_list_free(l);
        lt_optimizer_t *o = lt_adamw(lt_parameters_where(ctx, "*.bias", false), 0.01, 0.1);
        ck_assert_int_eq(
            lt_optimizer_add_param_group(o, lt_parameters_where(ctx, "*.bias", true), 0.03, 0.0),
            LT_OK);
        return o;
    }
    }
}
static const char *const kind_slot[] = {"grad_avg",   "sum",     "exp_inf",
                                        "exp_avg_sq", "exp_avg", "exp_avg_sq"};

/* loss = mse(tanh(l1(x_k)), y_k); zero_grad, backward, step. */
static void train_step(const mod *m, int k) {
    lt_arena_t *a = lt_ctx_arena(m->ctx);
    lt_arena_reset(a);
    float x[5 * 3], y[5 * 4];
    test_fill(x, 15, 300 + (uint64_t)k, -1.0f, 1.0f, 0.0f);
    test_fill(y, 20, 400 + (uint64_t)k, -1.0f, 1.0f, 0.0f);
    lt_tensor_t *tx = lt_from_host(a, LT_F32, 2, (int64_t[]){5, 3}, x);
    lt_tensor_t *ty = lt_from_host(a, LT_F32, 2, (int64_t[]){5, 4}, y);
    lt_tensor_t *loss = lt_mse_loss(lt_tanh(lt_linear_forward(m->l1, tx)), ty);
    lt_optimizer_t *o = lt_ctx_optimizer(m->ctx, 0);
    ck_assert_int_eq(lt_optimizer_zero_grad(o), LT_OK);
    ck_assert_int_eq(lt_backward(loss), LT_OK);
    ck_assert_int_eq(lt_optimizer_step(o), LT_OK);
    if (lt_ctx_num_schedulers(m->ctx))
        ck_assert_int_eq(lt_scheduler_step(lt_ctx_scheduler(m->ctx, 0, NULL)), LT_OK);
    lt_arena_reset(a);
}

static bool same_weights(const lt_ctx_t *a, const lt_ctx_t *b) {
    bool same = true;
    for (int i = 0; i < lt_ctx_num_params(a); i++) {
        float *x = test_host(lt_ctx_param(a, i, NULL)), *y = test_host(lt_ctx_param(b, i, NULL));
        same = same && !memcmp(x, y, (size_t)lt_numel(lt_ctx_param(a, i, NULL)) * sizeof *x);
        free(x);
        free(y);
    }
    return same;
}

/* Three steps, save; a module of other weights restores them and its optimizer's state;
 * the fourth step of both is the same to the bit. */
START_TEST(state_resumes_bit_for_bit) {
    test_open();
    char path[64];
    snprintf(path, sizeof path, "/tmp/lt_optim_more_%d_%d.ckpt", (int)getpid(), _i);
    mod a = make_mod(1), b = make_mod(2);
    ck_assert_int_eq(lt_use_optimizer(a.ctx, make_kind(a.ctx, _i)), LT_OK);
    ck_assert_int_eq(lt_use_optimizer(b.ctx, make_kind(b.ctx, _i)), LT_OK);
    if (_i == 5) /* each group's lr scheduled from its own base */
        for (int j = 0; j < 2; j++) {
            mod *m = j ? &b : &a;
            lt_scheduler_t *s = lt_cosine_annealing_lr(lt_ctx_optimizer(m->ctx, 0), 3, 1e-3);
            ck_assert_int_eq(lt_use_scheduler(m->ctx, s, NULL), LT_OK);
        }
    for (int k = 0; k < 3; k++) train_step(&a, k);
    lt_ckpt_t *c = lt_ckpt_capture(a.ctx);
    ck_assert_msg(c && lt_ckpt_save(c, path) == LT_OK, "%s", lt_last_error());
    lt_ckpt_free(c);
    ck_assert_msg(lt_ckpt_open(path, &c) == LT_OK, "%s", lt_last_error());
    char slot[128];
    snprintf(slot, sizeof slot, "optimizer_states.0.state.1.%s", kind_slot[_i]);
    ck_assert_msg(lt_st_find(lt_ckpt_file(c), slot) != NULL, "%s is not in the checkpoint", slot);
    ck_assert_msg(lt_ckpt_restore_weights(c, b.ctx, true) == LT_OK, "%s", lt_last_error());
    ck_assert_msg(lt_ckpt_restore_training(c, b.ctx) == LT_OK, "%s", lt_last_error());
    lt_ckpt_free(c);
    unlink(path);
    ck_assert_int_eq(lt_optimizer_num_steps(lt_ctx_optimizer(b.ctx, 0)), 3);
    train_step(&a, 3);
    train_step(&b, 3);
    ck_assert_msg(same_weights(a.ctx, b.ctx), "%s: the step after resuming differs",
                  lt_optimizer_name(lt_ctx_optimizer(a.ctx, 0)));
    lt_optimizer_t *oa = lt_ctx_optimizer(a.ctx, 0), *ob = lt_ctx_optimizer(b.ctx, 0);
    for (int g = 0; g < lt_optimizer_num_groups(oa); g++)
        ck_assert_double_eq(lt_optimizer_group_lr(ob, g), lt_optimizer_group_lr(oa, g));
    lt_ctx_free(a.ctx);
    lt_ctx_free(b.ctx);
    test_close();
}
END_TEST

/* lt_parameters_where picks by glob; a parameter in two groups, a group after the first
 * step, a scheduler older than a group are refused. */
START_TEST(groups_by_pattern) {
    test_open();
    mod m = make_mod(3);
    lt_param_list_t *bias = lt_parameters_where(m.ctx, "*.bias|nothing*", true);
    lt_param_list_t *rest = lt_parameters_where(m.ctx, "*.bias|nothing*", false);
    ck_assert_int_eq(lt_param_list_len(bias), 1);
    ck_assert_int_eq(lt_param_list_len(rest), 1);
    lt_optimizer_t *o = lt_sgd(rest, 0.1);
    ck_assert_int_ne(lt_optimizer_add_param_group(o, lt_parameters(m.ctx), NAN, NAN), LT_OK);
    ck_assert_msg(strstr(lt_last_error(), "more than one parameter group"), "%s", lt_last_error());
    lt_scheduler_t *early = lt_step_lr(o, 1, 0.5);
    ck_assert_int_eq(lt_optimizer_add_param_group(o, bias, NAN, 0.0), LT_OK);
    ck_assert_int_eq(lt_optimizer_num_groups(o), 2);
    ck_assert_double_eq(lt_optimizer_group_lr(o, 1), 0.1); /* NAN: the optimizer's */
    ck_assert_int_ne(lt_scheduler_step(early), LT_OK);
    ck_assert_msg(strstr(lt_last_error(), "param group"), "%s", lt_last_error());
    lt_scheduler_free(early);
    ck_assert(isnan(lt_optimizer_group_lr(o, 2)));
    ck_assert_int_ne(lt_optimizer_set_group_lr(o, 2, 0.1), LT_OK);
    ck_assert_int_eq(lt_optimizer_set_group_lr(o, 1, 0.2), LT_OK);
    ck_assert_double_eq(lt_optimizer_lr(o), 0.1);
    lt_optimizer_free(o);
    lt_ctx_free(m.ctx);
    test_close();
}
END_TEST

/* lt_freeze: frozen parameters are accepted by an optimizer and skipped by its step (with
 * momentum and weight decay, a zero gradient would still move them); the whole module
 * frozen is in eval mode; lt_unfreeze undoes both. */
START_TEST(frozen_parameters_stay_put) {
    test_open();
    mod m = make_mod(4);
    ck_assert_int_eq(lt_freeze(m.ctx, "l1"), LT_OK);
    ck_assert(lt_is_frozen(m.ctx, "l1.weight") && lt_is_frozen(m.ctx, "l1.bias"));
    lt_optimizer_t *o = lt_sgd_ex(lt_parameters(m.ctx), 0.1, 0.9, 0.0, 0.1, false);
    ck_assert_msg(o != NULL, "%s", lt_last_error());
    ck_assert_int_eq(lt_use_optimizer(m.ctx, o), LT_OK);
    ck_assert_int_eq(lt_unfreeze(m.ctx, "l1"), LT_OK);
    train_step(&m, 0); /* every parameter has a gradient and a momentum buffer now */
    ck_assert_int_eq(lt_freeze(m.ctx, "l1.bias"), LT_OK); /* a parameter's own name works too */
    float *w0 = test_host(lt_ctx_param(m.ctx, 0, NULL)),
          *b0 = test_host(lt_ctx_param(m.ctx, 1, NULL));
    train_step(&m, 1);
    float *w1 = test_host(lt_ctx_param(m.ctx, 0, NULL)),
          *b1 = test_host(lt_ctx_param(m.ctx, 1, NULL));
    ck_assert_msg(!memcmp(b0, b1, 4 * sizeof *b0), "a frozen bias moved");
    ck_assert_msg(memcmp(w0, w1, 12 * sizeof *w0) != 0, "the weight did not train");
    free(w0), free(w1), free(b0), free(b1);
    ck_assert(lt_training(m.ctx));
    ck_assert_int_eq(lt_freeze(m.ctx, NULL), LT_OK);
    ck_assert(!lt_training(m.ctx));
    ck_assert_int_eq(lt_unfreeze(m.ctx, NULL), LT_OK);
    ck_assert(lt_training(m.ctx) && !lt_is_frozen(m.ctx, "l1.weight"));
    ck_assert_int_ne(lt_freeze(m.ctx, "l"), LT_OK); /* "l" is no submodule: l1.* is not l.* */
    ck_assert_msg(strstr(lt_last_error(), "no parameter named l or l.*"), "%s", lt_last_error());
    lt_ctx_free(m.ctx);
    test_close();
}
END_TEST

/* ---- arguments --------------------------------------------------------------------- */

static lt_param_list_t *one_param(void) {
    lt_tensor_t *p = lt_zeros(test_arena, LT_F32, 1, (int64_t[]){4});
    lt_set_requires_grad(p, true);
    lt_param_list_t *l = lt_param_list_new();
    ck_assert_int_eq(lt_param_list_add(l, p), LT_OK);
    return l;
}

static void expect_refused(lt_optimizer_t *o, const char *needle) {
    ck_assert_msg(o == NULL, "accepted an argument torch refuses (%s)", needle);
    ck_assert_msg(strstr(lt_last_error(), needle) != NULL, "message lacks '%s': %s", needle,
                  lt_last_error());
}

START_TEST(bad_arguments_are_refused) {
    test_open();
    expect_refused(lt_rmsprop_ex(one_param(), 0.01, -0.1, 1e-8, 0, 0, false), "alpha");
    expect_refused(lt_rmsprop_ex(one_param(), 0.01, 0.99, 1e-8, 0, -1, false), "momentum");
    expect_refused(lt_adagrad_ex(one_param(), 0.01, -1, 0, 0, 1e-10), "lr_decay");
    expect_refused(lt_adagrad_ex(one_param(), 0.01, 0, 0, -1, 1e-10), "initial_accumulator_value");
    expect_refused(lt_adamax_ex(one_param(), 0.01, 1.0, 0.999, 1e-8, 0), "beta1");
    expect_refused(lt_nadam_ex(one_param(), 0.01, 0.9, 0.999, 1e-8, 0, -1, false),
                   "momentum_decay");
    expect_refused(lt_radam_ex(one_param(), NAN, 0.9, 0.999, 1e-8, 0, false), "lr");
    expect_refused(lt_radam_ex(one_param(), 0.01, 0.9, 0.999, -1e-8, 0, false), "eps");
    expect_refused(lt_optimizer_by_name(one_param(), "lamb", 0.01), "unknown optimizer 'lamb'");
    test_close();
}
END_TEST

START_TEST(by_name_and_momentum) {
    test_open();
    static const char *const names[][2] = {
        {"sgd", "SGD"},         {"Adam", "Adam"},     {"ADAMW", "AdamW"}, {"rmsprop", "RMSprop"},
        {"adagrad", "Adagrad"}, {"adamax", "Adamax"}, {"NAdam", "NAdam"}, {"radam", "RAdam"}};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        lt_optimizer_t *o = lt_optimizer_by_name(one_param(), names[i][0], 0.02);
        ck_assert_msg(o != NULL, "%s: %s", names[i][0], lt_last_error());
        ck_assert_str_eq(lt_optimizer_name(o), names[i][1]);
        ck_assert_double_eq(lt_optimizer_lr(o), 0.02);
        lt_optimizer_free(o);
    }
    /* OneCycleLR cycles beta1 where there are betas, RMSprop's momentum, nothing on Adagrad */
    lt_optimizer_t *o = lt_nadam(one_param(), 0.01);
    ck_assert_double_eq(lt_optimizer_momentum(o), 0.9);
    ck_assert_int_eq(lt_optimizer_set_momentum(o, 0.85), LT_OK);
    ck_assert_double_eq(lt_optimizer_momentum(o), 0.85);
    lt_optimizer_free(o);
    o = lt_rmsprop(one_param(), 0.01);
    ck_assert_int_ne(lt_optimizer_set_momentum(o, 0.9), LT_OK);
    lt_optimizer_free(o);
    o = lt_rmsprop_ex(one_param(), 0.01, 0.99, 1e-8, 0, 0.5, false);
    ck_assert_int_eq(lt_optimizer_set_momentum(o, 0.9), LT_OK);
    lt_optimizer_free(o);
    o = lt_adagrad(one_param(), 0.01);
    ck_assert(isnan(lt_optimizer_momentum(o)));
    ck_assert_int_ne(lt_optimizer_set_momentum(o, 0.9), LT_OK);
    ck_assert_ptr_null(lt_onecycle_lr(o, &LT_ONECYCLE_DEFAULTS(0.1, 10)));
    lt_optimizer_free(o);
    test_close();
}
END_TEST

Suite *suite_optim_more(void) {
    Suite *s = suite_create("optim_more");
    TCase *tc = tcase_create("optim_more");
    tcase_add_loop_test(tc, optimizers_match_torch, 0, TEST_ACCELERATORS);
    tcase_add_loop_test(tc, param_groups_match_torch, 0, TEST_ACCELERATORS);
    tcase_add_loop_test(tc, state_resumes_bit_for_bit, 0, 6);
    tcase_add_test(tc, groups_by_pattern);
    tcase_add_test(tc, frozen_parameters_stay_put);
    tcase_add_test(tc, bad_arguments_are_refused);
    tcase_add_test(tc, by_name_and_momentum);
    suite_add_tcase(s, tc);
    return s;
}
