/* PyTorch fixtures for the parity and layer tests (test_fixture.h). */
#include "test_fixture.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lt/runtime.h>

lt_device_t *test_open_accel(int i, const char *suite) {
    static const char *const accelerators[TEST_ACCELERATORS] = {"cpu", "cuda"};
    lt_device_t *dev = NULL;
    if (lt_device_open(accelerators[i], 1, &dev) == LT_OK) return dev;
    ck_assert_msg(i != 0, "the cpu accelerator must be present: %s", lt_last_error());
    printf("%s: %s accelerator not available, skipped (%s)\n", suite, accelerators[i],
           lt_last_error());
    return NULL;
}

lt_st_file_t *test_open_fixture(const char *name) {
    const char *dir = getenv("LT_FIXTURE_DIR");
    ck_assert_msg(dir != NULL, "LT_FIXTURE_DIR is not set (tests/fixtures of the source tree)");
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    lt_st_file_t *f = NULL;
    ck_assert_msg(lt_st_open(path, &f) == LT_OK, "%s", lt_last_error());
    ck_assert_str_eq(lt_st_meta(f, "format"), "lthost-parity-1");
    return f;
}

const lt_st_tensor *test_fixture_find(lt_st_file_t *f, const char *c, const char *key) {
    char name[256];
    snprintf(name, sizeof name, "%s/%s", c, key);
    return lt_st_find(f, name);
}

/* got against want: every element within atol + rtol |want|, except at most `strays` of
 * them, which stay within stray_factor times that. */
static void compare_floats(const char *what, const float *g, const float *w, int64_t n, double rtol,
                           double atol, int64_t strays, double stray_factor) {
    int64_t over = 0, first = -1;
    for (int64_t i = 0; i < n; i++) {
        double tol = atol + rtol * fabs(w[i]), err = fabs((double)g[i] - w[i]);
        if (err <= tol) continue;
        over++;
        ck_assert_msg(over <= strays && err <= stray_factor * tol,
                      "%s[%lld]: lthost %.9g, torch %.9g (%lld elements past %.0e)", what,
                      (long long)i, g[i], w[i], (long long)over, rtol);
        if (first < 0) first = i;
    }
    if (over)
        printf("%s: %lld of %lld elements past the tolerance, within %gx of it (first [%lld])\n",
               what, (long long)over, (long long)n, stray_factor, (long long)first);
}

void test_compare(const char *what, const lt_tensor_t *got, const lt_st_tensor *want, double rtol,
                  double atol) {
    test_compare_strays(what, got, want, rtol, atol, 0, 1);
}

void test_compare_strays(const char *what, const lt_tensor_t *got, const lt_st_tensor *want,
                         double rtol, double atol, double stray_fraction, double stray_factor) {
    ck_assert_msg(got != NULL, "%s: %s", what, lt_last_error());
    ck_assert_msg(want != NULL, "%s: missing in the fixture", what);
    ck_assert_msg(lt_numel(got) == want->numel, "%s: %lld elements, fixture has %lld", what,
                  (long long)lt_numel(got), (long long)want->numel);
    if (lt_dtype_of(got) == LT_I64) {
        int64_t g, w;
        ck_assert_int_eq(lt_to_host(got, &g, sizeof g), LT_OK);
        memcpy(&w, want->data, sizeof w);
        ck_assert_msg(g == w, "%s: lthost %lld, torch %lld", what, (long long)g, (long long)w);
        return;
    }
    float *g = test_host(got), *w = malloc(want->nbytes);
    memcpy(w, want->data, want->nbytes);
    compare_floats(what, g, w, want->numel, rtol, atol,
                   (int64_t)(stray_fraction * (double)want->numel), stray_factor);
    free(g);
    free(w);
}

/* Batch k of a token fixture: x_tokens and y (steps, B, T) int64. */
static lt_batch_t token_batch(const lt_st_tensor *xt, const lt_st_tensor *y, lt_arena_t *arena,
                              int64_t k) {
    int64_t shape[2] = {xt->shape[1], xt->shape[2]}, n = shape[0] * shape[1];
    int64_t *v = malloc(2 * (size_t)n * sizeof *v);
    memcpy(v, (const int64_t *)xt->data + k * n, (size_t)n * sizeof *v);
    memcpy(v + n, (const int64_t *)y->data + k * n, (size_t)n * sizeof *v);
    lt_batch_t b = {.x = lt_from_host(arena, LT_I64, 2, shape, v),
                    .y = lt_from_host(arena, LT_I64, 2, shape, v + n),
                    .size = shape[0]};
    free(v);
    return b;
}

lt_batch_t test_fixture_batch(lt_st_file_t *f, lt_arena_t *arena, int64_t k) {
    const lt_st_tensor *xt = lt_st_find(f, "x_tokens");
    if (xt) return token_batch(xt, lt_st_find(f, "y"), arena, k);
    const lt_st_tensor *xu8 = lt_st_find(f, "x_u8"), *y = lt_st_find(f, "y");
    ck_assert(xu8 && y);
    int64_t b = xu8->shape[1], px = xu8->shape[2];
    float *x = malloc((size_t)(b * px) * sizeof *x);
    const uint8_t *src = (const uint8_t *)xu8->data + k * b * px;
    for (int64_t i = 0; i < b * px; i++) x[i] = ((float)src[i] / 255.0f - 0.2860f) / 0.3530f;
    int64_t labels[256];
    ck_assert_int_le(b, 256);
    memcpy(labels, (const int64_t *)y->data + k * b, (size_t)b * sizeof *labels);
    lt_batch_t batch = {.x = lt_from_host(arena, LT_F32, 4, (int64_t[]){b, 1, 28, 28}, x),
                        .y = lt_from_host(arena, LT_I64, 1, &b, labels),
                        .size = b};
    free(x);
    return batch;
}

/* With LT_TEST_DUMP_DIR set, every float32 parameter and buffer (what = "param", before
 * step k's update) or parameter gradient ("grad", after step k's backward) goes to
 * DIR/<k>.<name>.<what> as raw float32: tests/reference/cnn_step_check.py feeds them to
 * torch one step at a time, which tells a real bug from a float32 decision flip. */
static void dump_state(lt_ctx_t *ctx, int64_t k, const char *what) {
    const char *dir = getenv("LT_TEST_DUMP_DIR");
    if (!dir || !*dir) return;
    bool grads = !strcmp(what, "grad");
    int np = lt_ctx_num_params(ctx), nt = np + (grads ? 0 : lt_ctx_num_buffers(ctx));
    for (int i = 0; i < nt; i++) {
        const char *name;
        lt_tensor_t *t = i < np ? lt_ctx_param(ctx, i, &name) : lt_ctx_buffer(ctx, i - np, &name);
        if (grads) t = lt_grad(t);
        if (!t || lt_dtype_of(t) != LT_F32) continue;
        char path[1024];
        int len = snprintf(path, sizeof path, "%s/%lld.%s.%s", dir, (long long)k, name, what);
        ck_assert_msg(len > 0 && (size_t)len < sizeof path, "LT_TEST_DUMP_DIR is too long");
        FILE *fp = fopen(path, "wb");
        ck_assert_msg(fp != NULL, "cannot write %s (LT_TEST_DUMP_DIR must be a directory)", path);
        float *h = test_host(t);
        size_t n = (size_t)lt_numel(t);
        ck_assert_msg(fwrite(h, sizeof *h, n, fp) == n && fclose(fp) == 0, "writing %s failed",
                      path);
        free(h);
    }
}

void test_replay_training(lt_ctx_t *ctx, const lt_module_desc *m, lt_st_file_t *f) {
    void *self = lt_ctx_self(ctx);
    lt_optimizer_t *opt = lt_ctx_optimizer(ctx, 0);
    const lt_st_tensor *losses = lt_st_find(f, "losses");
    ck_assert_ptr_nonnull(losses);
    lt_arena_t *arena = lt_ctx_arena(ctx);
    for (int64_t k = 0; k < losses->numel; k++) {
        lt_arena_reset(arena);
        lt_batch_t b = test_fixture_batch(f, arena, k);
        lt_ctx_set_batch_size(ctx, b.size);
        lt_tensor_t *loss = m->training_step(ctx, self, &b, k);
        float want;
        memcpy(&want, (const float *)losses->data + k, sizeof want);
        double got = lt_item(loss);
        ck_assert_msg(fabs(got - want) <= 1e-4 * fabs(want),
                      "step %lld loss: lthost %.8f, torch %.8f", (long long)k, got, want);
        lt_optimizer_zero_grad(opt);
        dump_state(ctx, k, "param");
        ck_assert_int_eq(lt_backward(loss), LT_OK);
        dump_state(ctx, k, "grad");
        ck_assert_int_eq(lt_optimizer_step(opt), LT_OK);
    }
    dump_state(ctx, losses->numel, "param"); /* the final state */
    lt_arena_reset(arena);
}

void test_fixture_each_case(lt_device_t *dev, const char *file, const char *list, int min_cases,
                            test_case_fn fn) {
    lt_arena_t *arena = lt_arena_new(dev);
    lt_st_file_t *f = test_open_fixture(file);
    const char *cases = lt_st_meta(f, list);
    ck_assert_msg(cases && *cases, "%s has no \"%s\" metadata", file, list);
    int n = 0;
    for (const char *p = cases; *p; n++) {
        size_t len = strcspn(p, ",");
        char name[200];
        ck_assert_uint_lt(len, sizeof name);
        memcpy(name, p, len);
        name[len] = '\0';
        fn(f, name, arena);
        lt_arena_reset(arena);
        p += len + (p[len] == ',');
    }
    ck_assert_int_ge(n, min_cases);
    lt_st_close(f);
    lt_arena_free(arena);
}

void test_case_inputs(lt_st_file_t *f, const char *c, lt_arena_t *arena, int n, lt_tensor_t **in) {
    char key[16];
    for (int i = 0; i < n; i++) {
        snprintf(key, sizeof key, "in%d", i);
        const lt_st_tensor *t = test_fixture_find(f, c, key);
        in[i] = NULL;
        if (!t) continue;
        in[i] = lt_from_host(arena, t->dtype == LT_ST_I64 ? LT_I64 : LT_F32, t->ndim, t->shape,
                             t->data);
        snprintf(key, sizeof key, "grad%d", i);
        if (test_fixture_find(f, c, key)) lt_set_requires_grad(in[i], true);
    }
}

void test_case_check(lt_st_file_t *f, const char *c, lt_arena_t *arena, lt_tensor_t *out, int n,
                     lt_tensor_t *const *in, test_case_tol tol) {
    ck_assert_msg(out != NULL, "%s: %s", c, lt_last_error());
    char what[160], key[16];
    snprintf(what, sizeof what, "%s out", c);
    test_compare(what, out, test_fixture_find(f, c, "out"), tol.out_rtol, tol.out_atol);
    bool any_grad = false;
    for (int i = 0; i < n; i++) any_grad |= in[i] && lt_requires_grad(in[i]);
    if (!any_grad) return;
    const lt_st_tensor *w = test_fixture_find(f, c, "w");
    ck_assert_msg(w != NULL, "case %s has no w", c);
    lt_tensor_t *loss =
        lt_sum(lt_mul(out, lt_from_host(arena, LT_F32, w->ndim, w->shape, w->data)));
    ck_assert_msg(lt_backward(loss) == LT_OK, "%s: %s", c, lt_last_error());
    for (int i = 0; i < n; i++) {
        if (!in[i] || !lt_requires_grad(in[i])) continue;
        snprintf(key, sizeof key, "grad%d", i);
        snprintf(what, sizeof what, "%s grad%d", c, i);
        test_compare(what, lt_grad(in[i]), test_fixture_find(f, c, key), tol.grad_rtol,
                     tol.grad_atol);
    }
}

lt_plugin_t *test_open_model_plugin(const char *name) {
    char env[64], path[1024];
    int len = snprintf(env, sizeof env, "LT_TEST_%s_PLUGIN", name);
    ck_assert(len > 0 && (size_t)len < sizeof env);
    for (char *p = env; *p; p++) *p = (char)toupper((unsigned char)*p);
    const char *so = getenv(env), *mlp = getenv("LT_TEST_MLP_PLUGIN");
    if (!so && mlp) {
        snprintf(path, sizeof path, "%s", mlp);
        char *slash = strstr(path, "/mlp/mlp.so");
        ck_assert_msg(slash != NULL, "cannot place %s.so from LT_TEST_MLP_PLUGIN=%s", name, mlp);
        size_t room = sizeof path - (size_t)(slash - path);
        ck_assert_int_lt(snprintf(slash, room, "/%s/%s.so", name, name), (int)room);
        so = path;
    }
    ck_assert_msg(so != NULL, "set %s (or LT_TEST_MLP_PLUGIN) to the built %s.so", env, name);
    lt_plugin_t *plugin;
    ck_assert_msg(lt_plugin_open(LT_PLUGIN_MODULE, so, NULL, &plugin) == LT_OK, "%s",
                  lt_last_error());
    return plugin;
}

lt_tensor_t *test_state_tensor(lt_ctx_t *ctx, const char *name) {
    const char *n;
    for (int i = 0; i < lt_ctx_num_params(ctx); i++) {
        lt_tensor_t *t = lt_ctx_param(ctx, i, &n);
        if (!strcmp(n, name)) return t;
    }
    for (int i = 0; i < lt_ctx_num_buffers(ctx); i++) {
        lt_tensor_t *t = lt_ctx_buffer(ctx, i, &n);
        if (!strcmp(n, name)) return t;
    }
    return NULL;
}

int test_load_state(lt_ctx_t *ctx, lt_st_file_t *f, const char *prefix) {
    size_t len = strlen(prefix);
    int loaded = 0;
    for (int64_t i = 0; i < lt_st_count(f); i++) {
        const lt_st_tensor *t = lt_st_at(f, i);
        if (strncmp(t->name, prefix, len) != 0) continue;
        lt_tensor_t *p = test_state_tensor(ctx, t->name + len);
        ck_assert_msg(p != NULL, "the module has no %s", t->name + len);
        ck_assert_int_eq(lt_from_host_into(p, t->data, t->nbytes), LT_OK);
        loaded++;
    }
    return loaded;
}

void test_compare_state(lt_ctx_t *ctx, lt_st_file_t *f, const char *prefix, double rtol,
                        double atol) {
    test_compare_state_strays(ctx, f, prefix, rtol, atol, 0, 1);
}

void test_compare_state_strays(lt_ctx_t *ctx, lt_st_file_t *f, const char *prefix, double rtol,
                               double atol, double stray_fraction, double stray_factor) {
    size_t len = strlen(prefix);
    for (int64_t i = 0; i < lt_st_count(f); i++) {
        const lt_st_tensor *t = lt_st_at(f, i);
        if (strncmp(t->name, prefix, len) == 0)
            test_compare_strays(t->name, test_state_tensor(ctx, t->name + len), t, rtol, atol,
                                stray_fraction, stray_factor);
    }
}
