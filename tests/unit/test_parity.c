/* Numerical parity with PyTorch: fixtures written by tests/reference/make_fixtures.py
 * (torch, float32, CPU) are read with liblt's own safetensors reader and compared with
 * what liblt computes, on every accelerator that is present.
 * Tolerance: relative 1e-5 (plus a tiny absolute term for values near 0) unless a case
 * says why it needs more. */
#include <jansson.h>
#include <math.h>
#include <string.h>

#include <lt/runtime.h>

#include "test_fixture.h"

static const lt_st_tensor *need(lt_st_file_t *f, const char *c, const char *key) {
    const lt_st_tensor *t = test_fixture_find(f, c, key);
    ck_assert_msg(t != NULL, "fixture tensor %s/%s is missing", c, key);
    return t;
}

/* ---- ops ---------------------------------------------------------------------------- */

typedef lt_tensor_t *(*op_fn)(lt_tensor_t **in, const char *shape_meta);

static lt_tensor_t *f_add(lt_tensor_t **x, const char *m) {
    (void)m;
    return lt_add(x[0], x[1]);
}
static lt_tensor_t *f_sub(lt_tensor_t **x, const char *m) {
    (void)m;
    return lt_sub(x[0], x[1]);
}
static lt_tensor_t *f_mul(lt_tensor_t **x, const char *m) {
    (void)m;
    return lt_mul(x[0], x[1]);
}
static lt_tensor_t *f_div(lt_tensor_t **x, const char *m) {
    (void)m;
    return lt_div(x[0], x[1]);
}
static lt_tensor_t *f_scale(lt_tensor_t **x, const char *m) {
    (void)m;
    return lt_scale(x[0], 2.5f);
}
static lt_tensor_t *f_add_scalar(lt_tensor_t **x, const char *m) {
    (void)m;
    return lt_add_scalar(x[0], 3.0f);
}
static lt_tensor_t *f_neg(lt_tensor_t **x, const char *m) {
    (void)m;
    return lt_neg(x[0]);
}
static lt_tensor_t *f_relu(lt_tensor_t **x, const char *m) {
    (void)m;
    return lt_relu(x[0]);
}
static lt_tensor_t *f_gelu(lt_tensor_t **x, const char *m) {
    (void)m;
    return lt_gelu(x[0]);
}
static lt_tensor_t *f_tanh(lt_tensor_t **x, const char *m) {
    (void)m;
    return lt_tanh(x[0]);
}
static lt_tensor_t *f_sigmoid(lt_tensor_t **x, const char *m) {
    (void)m;
    return lt_sigmoid(x[0]);
}
static lt_tensor_t *f_exp(lt_tensor_t **x, const char *m) {
    (void)m;
    return lt_exp(x[0]);
}
static lt_tensor_t *f_ln(lt_tensor_t **x, const char *m) {
    (void)m;
    return lt_ln(x[0]);
}
static lt_tensor_t *f_matmul(lt_tensor_t **x, const char *m) {
    (void)m;
    return lt_matmul(x[0], x[1]);
}
static lt_tensor_t *f_linear(lt_tensor_t **x, const char *m) {
    (void)m;
    return lt_linear_op(x[0], x[1], x[2]);
}
static lt_tensor_t *f_linear_nobias(lt_tensor_t **x, const char *m) {
    (void)m;
    return lt_linear_op(x[0], x[1], NULL);
}
static lt_tensor_t *f_sum(lt_tensor_t **x, const char *m) {
    (void)m;
    return lt_sum(x[0]);
}
static lt_tensor_t *f_mean(lt_tensor_t **x, const char *m) {
    (void)m;
    return lt_mean(x[0]);
}
static lt_tensor_t *f_sum_dim0(lt_tensor_t **x, const char *m) {
    (void)m;
    return lt_sum_dim(x[0], 0, false);
}
static lt_tensor_t *f_mean_last(lt_tensor_t **x, const char *m) {
    (void)m;
    return lt_mean_dim(x[0], -1, true);
}
static lt_tensor_t *f_softmax(lt_tensor_t **x, const char *m) {
    (void)m;
    return lt_softmax(x[0]);
}
static lt_tensor_t *f_log_softmax(lt_tensor_t **x, const char *m) {
    (void)m;
    return lt_log_softmax(x[0]);
}
static lt_tensor_t *f_cross_entropy(lt_tensor_t **x, const char *m) {
    (void)m;
    return lt_cross_entropy(x[0], x[1]);
}
static lt_tensor_t *f_mse(lt_tensor_t **x, const char *m) {
    (void)m;
    return lt_mse_loss(x[0], x[1]);
}
static lt_tensor_t *f_flatten(lt_tensor_t **x, const char *m) {
    (void)m;
    return lt_flatten(x[0]);
}
static lt_tensor_t *f_argmax(lt_tensor_t **x, const char *m) {
    (void)m;
    return lt_argmax(x[0]);
}
static lt_tensor_t *f_accuracy(lt_tensor_t **x, const char *m) {
    (void)m;
    return lt_accuracy(x[0], x[1]);
}
static lt_tensor_t *f_reshape(lt_tensor_t **x, const char *m) {
    int64_t shape[LT_MAX_DIMS];
    int nd = 0;
    for (const char *p = m; p && *p && nd < LT_MAX_DIMS;
         p = strchr(p, ',') ? strchr(p, ',') + 1 : "")
        shape[nd++] = strtoll(p, NULL, 10);
    return lt_reshape(x[0], nd, shape);
}

static const struct {
    const char *name;
    op_fn fn;
} ops[] = {
    {"add", f_add},
    {"sub", f_sub},
    {"mul", f_mul},
    {"div", f_div},
    {"scale", f_scale},
    {"add_scalar", f_add_scalar},
    {"neg", f_neg},
    {"relu", f_relu},
    {"gelu", f_gelu},
    {"tanh", f_tanh},
    {"sigmoid", f_sigmoid},
    {"exp", f_exp},
    {"ln", f_ln},
    {"matmul", f_matmul},
    {"linear", f_linear},
    {"linear_nobias", f_linear_nobias},
    {"sum", f_sum},
    {"mean", f_mean},
    {"sum_dim0", f_sum_dim0},
    {"mean_dim_last_keepdim", f_mean_last},
    {"softmax", f_softmax},
    {"log_softmax", f_log_softmax},
    {"cross_entropy", f_cross_entropy},
    {"mse_loss", f_mse},
    {"reshape", f_reshape},
    {"flatten", f_flatten},
    {"argmax", f_argmax},
    {"accuracy", f_accuracy},
};

static op_fn find_op(const char *case_name) {
    size_t n = strcspn(case_name, "/");
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
        if (strlen(ops[i].name) == n && !strncmp(ops[i].name, case_name, n)) return ops[i].fn;
    ck_abort_msg("fixture case %s names an op this test does not know", case_name);
    return NULL;
}

static void compare_i64(const char *what, const lt_tensor_t *got, const lt_st_tensor *want) {
    ck_assert_msg(got && lt_numel(got) == want->numel, "%s: wrong result", what);
    int64_t *g = malloc(want->nbytes), *w = malloc(want->nbytes);
    ck_assert_int_eq(lt_to_host(got, g, want->nbytes), LT_OK);
    memcpy(w, want->data, want->nbytes);
    for (int64_t i = 0; i < want->numel; i++)
        ck_assert_msg(g[i] == w[i], "%s[%lld]: lthost %lld, torch %lld", what, (long long)i,
                      (long long)g[i], (long long)w[i]);
    free(g);
    free(w);
}

/* Forward against out, then (when the fixture has them) d sum(out * w) / d inputs. */
static void check_op_case(lt_st_file_t *f, const char *c, lt_arena_t *arena) {
    lt_tensor_t *in[3] = {NULL, NULL, NULL};
    int nin = 0;
    for (char key[8]; nin < 3; nin++) {
        snprintf(key, sizeof key, "in%d", nin);
        const lt_st_tensor *t = test_fixture_find(f, c, key);
        if (!t) break;
        in[nin] = lt_st_to_tensor(arena, t);
        if (lt_dtype_of(in[nin]) == LT_F32) lt_set_requires_grad(in[nin], true);
    }
    char what[256];
    snprintf(what, sizeof what, "%s/shape", c);
    lt_tensor_t *out = find_op(c)(in, lt_st_meta(f, what));
    snprintf(what, sizeof what, "%s/out", c);
    const lt_st_tensor *want = need(f, c, "out");
    if (want->dtype == LT_ST_I64) {
        compare_i64(what, out, want);
        return;
    }
    test_compare(what, out, want, 1e-5, 1e-6);
    const lt_st_tensor *w = test_fixture_find(f, c, "w");
    if (!w || !test_fixture_find(f, c, "grad0")) return;
    ck_assert_int_eq(lt_backward(lt_sum(lt_mul(out, lt_st_to_tensor(arena, w)))), LT_OK);
    for (int i = 0; i < nin; i++) {
        char key[8];
        snprintf(key, sizeof key, "grad%d", i);
        const lt_st_tensor *g = test_fixture_find(f, c, key);
        if (!g) continue;
        snprintf(what, sizeof what, "%s/%s", c, key);
        test_compare(what, lt_grad(in[i]), g, 1e-5, 1e-6);
    }
}

/* ---- optimizers ----------------------------------------------------------------------- */

static double jnum(json_t *o, const char *key) {
    json_t *v = json_object_get(o, key);
    ck_assert_msg(json_is_number(v), "optimizer case lacks number '%s'", key);
    return json_number_value(v);
}

static lt_optimizer_t *make_optimizer(json_t *h, lt_param_list_t *l) {
    const char *kind = json_string_value(json_object_get(h, "optimizer"));
    ck_assert_ptr_nonnull(kind);
    double lr = jnum(h, "lr"), wd = jnum(h, "weight_decay");
    if (!strcmp(kind, "sgd"))
        return lt_sgd_ex(l, lr, jnum(h, "momentum"), jnum(h, "dampening"), wd,
                         json_is_true(json_object_get(h, "nesterov")));
    if (!strcmp(kind, "adam"))
        return lt_adam_ex(l, lr, jnum(h, "beta1"), jnum(h, "beta2"), jnum(h, "eps"), wd);
    ck_assert_str_eq(kind, "adamw");
    return lt_adamw_ex(l, lr, jnum(h, "beta1"), jnum(h, "beta2"), jnum(h, "eps"), wd);
}

/* Ten steps, each fed the fixture's gradient, against torch's trajectory. */
static void check_optim_case(lt_st_file_t *f, const char *c, lt_arena_t *arena) {
    json_error_t err;
    json_t *h = json_loads(lt_st_meta(f, c) ? lt_st_meta(f, c) : "", 0, &err);
    ck_assert_msg(h != NULL, "case %s: hyper-parameters do not parse: %s", c, err.text);
    lt_tensor_t *p = lt_st_to_tensor(arena, need(f, c, "p0"));
    lt_set_requires_grad(p, true);
    lt_param_list_t *l = lt_param_list_new();
    lt_param_list_add(l, p);
    lt_optimizer_t *opt = make_optimizer(h, l);
    ck_assert_msg(opt != NULL, "%s: %s", c, lt_last_error());
    lt_tensor_t *grads = lt_st_to_tensor(arena, need(f, c, "grads"));
    const lt_st_tensor *traj = need(f, c, "traj");
    int64_t steps = traj->shape[0], n = traj->shape[1];
    for (int64_t k = 0; k < steps; k++) {
        /* d sum(p * g) / dp = g exactly: the fixture's gradient becomes p's. */
        lt_tensor_t *g = lt_reshape(grads, 2, (int64_t[]){steps, n});
        float *all = test_host(g), row[256];
        ck_assert_int_le(n, 256);
        memcpy(row, all + k * n, (size_t)n * sizeof *row);
        free(all);
        lt_optimizer_zero_grad(opt);
        ck_assert_int_eq(lt_backward(lt_sum(lt_mul(p, lt_from_host(arena, LT_F32, 1, &n, row)))),
                         LT_OK);
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

/* ---- 20 training steps of the demo MLP plugin ---------------------------------------- */

/* The module's parameters set to the fixture's init/<name>. */
static void load_weights(lt_ctx_t *ctx, lt_st_file_t *f, const char *group) {
    for (int i = 0; i < lt_ctx_num_params(ctx); i++) {
        const char *name;
        lt_tensor_t *p = lt_ctx_param(ctx, i, &name);
        const lt_st_tensor *t = need(f, group, name);
        ck_assert_int_eq(lt_from_host_into(p, t->data, t->nbytes), LT_OK);
    }
}

/* The mlp plugin, driven the way lthost's trainer drives it, from torch's initial weights
 * on torch's batches. Looser than 1e-5, because twenty Adam steps compound float32
 * rounding (GEMM summation order differs from torch's): losses agree to 1e-4 relative;
 * weights to 1e-4 relative plus 1e-5 absolute, a hundredth of one lr=1e-3 step, since
 * where a gradient is ~0 Adam's normalised step turns rounding noise into up to lr. */
static void check_mlp(lt_device_t *dev) {
    const char *so = getenv("LT_TEST_MLP_PLUGIN");
    ck_assert_msg(so != NULL, "LT_TEST_MLP_PLUGIN is not set (path of the built mlp.so)");
    lt_plugin_t *plugin;
    ck_assert_msg(lt_plugin_open(LT_PLUGIN_MODULE, so, NULL, &plugin) == LT_OK, "%s",
                  lt_last_error());
    const lt_module_desc *m = lt_plugin_desc(plugin);
    lt_ctx_t *ctx = lt_ctx_new(dev, m->name, m->hparams, m->self_size, 0);
    ck_assert_ptr_nonnull(ctx);
    void *self = lt_ctx_self(ctx);
    ck_assert_int_eq(m->setup(ctx, self), LT_OK);
    ck_assert_int_eq(lt_ctx_materialize(ctx), LT_OK);
    lt_st_file_t *f = test_open_fixture("mlp_train.safetensors");
    load_weights(ctx, f, "init");
    ck_assert_int_eq(m->configure_optimizers(ctx, self), LT_OK);
    test_replay_training(ctx, m, f);
    for (int i = 0; i < lt_ctx_num_params(ctx); i++) {
        const char *name;
        lt_tensor_t *p = lt_ctx_param(ctx, i, &name);
        char what[128];
        snprintf(what, sizeof what, "final %s", name);
        test_compare(what, p, need(f, "final", name), 1e-4, 1e-5);
    }
    lt_st_close(f);
    lt_ctx_free(ctx);
    lt_plugin_close(plugin);
}

/* ---- on every accelerator -------------------------------------------------------------- */

/* Every case of a fixture file on accelerator i; at least min_cases of them. */
static void run_cases(int i, const char *file, test_case_fn fn, int min_cases) {
    lt_device_t *dev = test_open_accel(i, "parity");
    if (!dev) return;
    test_fixture_each_case(dev, file, "cases", min_cases, fn);
    lt_device_close(dev);
}

START_TEST(ops_match_torch) { run_cases(_i, "ops.safetensors", check_op_case, 50); }
END_TEST

START_TEST(optimizers_match_torch) { run_cases(_i, "optim.safetensors", check_optim_case, 8); }
END_TEST

START_TEST(mlp_training_matches_torch) {
    lt_device_t *dev = test_open_accel(_i, "parity");
    if (!dev) return;
    check_mlp(dev);
    lt_device_close(dev);
}
END_TEST

Suite *suite_parity(void) {
    Suite *s = suite_create("parity");
    TCase *tc = tcase_create("torch");
    tcase_add_loop_test(tc, ops_match_torch, 0, TEST_ACCELERATORS);
    tcase_add_loop_test(tc, optimizers_match_torch, 0, TEST_ACCELERATORS);
    tcase_add_loop_test(tc, mlp_training_matches_torch, 0, TEST_ACCELERATORS);
    suite_add_tcase(s, tc);
    return s;
}
