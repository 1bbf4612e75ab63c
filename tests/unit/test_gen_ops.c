/* The generator's ops (issue 19): conv_transpose2d, binary_cross_entropy(_with_logits)
 * and logsigmoid against PyTorch — tests/fixtures/gen_ops.safetensors of
 * tests/reference/make_gen_fixtures.py — on every accelerator present, against finite
 * differences of their own forward, and their refusals of bad arguments. */
#include <jansson.h>
#include <math.h>
#include <string.h>

#include <lt/runtime.h>

#include "test_fd.h"
#include "test_fixture.h"

#define MAX_IN 4

/* ---- options from the case's JSON ---------------------------------------------------- */

static int64_t jint(const json_t *o, const char *key, int k, int64_t def) {
    const json_t *v = json_object_get(o, key);
    if (json_is_array(v)) return json_integer_value(json_array_get(v, (size_t)k));
    return json_is_integer(v) ? json_integer_value(v) : def;
}

static lt_reduction jreduction(const json_t *o) {
    const char *r = json_string_value(json_object_get(o, "reduction"));
    return !r || !strcmp(r, "mean") ? LT_REDUCTION_MEAN
           : !strcmp(r, "sum")      ? LT_REDUCTION_SUM
                                    : LT_REDUCTION_NONE;
}

static lt_tensor_t *run_conv_transpose(const json_t *o, lt_tensor_t **in) {
    lt_conv_transpose2d_opts c = LT_CONV_TRANSPOSE2D_OPTS(.groups = jint(o, "groups", 0, 1));
    for (int k = 0; k < 2; k++) {
        c.stride[k] = jint(o, "stride", k, 1);
        c.padding[k] = jint(o, "padding", k, 0);
        c.output_padding[k] = jint(o, "output_padding", k, 0);
        c.dilation[k] = jint(o, "dilation", k, 1);
    }
    return lt_conv_transpose2d_op(in[0], in[1], in[2], &c);
}

static lt_tensor_t *run_case(const char *c, const json_t *o, lt_tensor_t **in) {
    if (!strncmp(c, "conv_transpose2d/", 17)) return run_conv_transpose(o, in);
    if (!strncmp(c, "binary_cross_entropy/", 21))
        return lt_binary_cross_entropy(in[0], in[1], in[2], jreduction(o));
    if (!strncmp(c, "binary_cross_entropy_with_logits/", 33))
        return lt_binary_cross_entropy_with_logits(in[0], in[1], in[2], in[3], jreduction(o));
    if (!strncmp(c, "logsigmoid/", 11)) return lt_logsigmoid(in[0]);
    ck_abort_msg("unknown case %s", c);
    return NULL;
}

/* ---- fixture cases ---------------------------------------------------------------------- */

static void check_case(lt_st_file_t *f, const char *c, lt_arena_t *arena) {
    json_t *o = json_loads(lt_st_meta(f, c), 0, NULL);
    ck_assert_msg(o != NULL, "case %s has no options", c);
    lt_tensor_t *in[MAX_IN];
    test_case_inputs(f, c, arena, MAX_IN, in);
    test_case_check(f, c, arena, run_case(c, o, in), MAX_IN, in,
                    (test_case_tol){1e-5, 1e-6, 1e-5, 1e-5});
    json_decref(o);
}

START_TEST(gen_ops_match_torch) {
    lt_device_t *dev = test_open_accel(_i, "gen_ops");
    if (!dev) return;
    test_fixture_each_case(dev, "gen_ops.safetensors", "cases", 13, check_case);
    lt_device_close(dev);
}
END_TEST

/* ---- finite differences -------------------------------------------------------------------- */

static lt_tensor_t *fd_conv_t(lt_tensor_t **in) {
    lt_conv_transpose2d_opts o =
        LT_CONV_TRANSPOSE2D_OPTS(.stride = {2, 1}, .padding = {1, 0}, .output_padding = {1, 0},
                                 .dilation = {1, 2}, .groups = 2);
    return lt_conv_transpose2d_op(in[0], in[1], in[2], &o);
}
static lt_tensor_t *fd_bce(lt_tensor_t **in) {
    return lt_binary_cross_entropy(in[0], in[1], NULL, LT_REDUCTION_MEAN);
}
static lt_tensor_t *fd_bce_weighted(lt_tensor_t **in) {
    return lt_binary_cross_entropy(in[0], in[1], in[2], LT_REDUCTION_NONE);
}
static lt_tensor_t *fd_bce_logits(lt_tensor_t **in) {
    return lt_binary_cross_entropy_with_logits(in[0], in[1], in[2], in[3], LT_REDUCTION_SUM);
}
static lt_tensor_t *fd_logsigmoid(lt_tensor_t **in) { return lt_logsigmoid(in[0]); }

START_TEST(gen_ops_match_finite_differences) {
    test_fd_check(
        "conv_transpose2d", fd_conv_t, 3,
        (test_fd_input[]){{4, {2, 4, 3, 4}, 0, 0}, {4, {4, 3, 3, 2}, 0, 0}, {1, {6}, 0, 0}}, 1e-2f);
    test_fd_check("binary_cross_entropy", fd_bce, 2,
                  (test_fd_input[]){{2, {3, 4}, 0.1f, 0.9f}, {2, {3, 4}, 0.0f, 1.0f}}, 1e-3f);
    test_fd_check(
        "binary_cross_entropy weight", fd_bce_weighted, 3,
        (test_fd_input[]){{2, {3, 4}, 0.1f, 0.9f}, {2, {3, 4}, 0.0f, 1.0f}, {1, {4}, 0.5f, 1.5f}},
        1e-3f);
    test_fd_check("binary_cross_entropy_with_logits", fd_bce_logits, 4,
                  (test_fd_input[]){{2, {4, 3}, -4.0f, 4.0f},
                                    {2, {4, 3}, 0.0f, 1.0f},
                                    {2, {4, 1}, 0.5f, 1.5f},
                                    {1, {3}, 0.2f, 3.0f}},
                  1e-2f);
    test_fd_check("logsigmoid", fd_logsigmoid, 1, (test_fd_input[]){{2, {3, 5}, -8.0f, 8.0f}},
                  1e-2f);
}
END_TEST

/* ---- refusals --------------------------------------------------------------------------- */

static void expect_refusal(lt_tensor_t *got, const char *words) {
    ck_assert_ptr_null(got);
    ck_assert_msg(strstr(lt_last_error(), words) != NULL, "error '%s' lacks '%s'", lt_last_error(),
                  words);
    lt_clear_error();
}

START_TEST(gen_ops_refuse_bad_arguments) {
    lt_tensor_t *x = lt_full(test_arena, 4, (int64_t[]){2, 3, 5, 5}, 1.0f);
    lt_tensor_t *w = lt_full(test_arena, 4, (int64_t[]){3, 4, 3, 3}, 1.0f);
    lt_tensor_t *w2 = lt_full(test_arena, 4, (int64_t[]){4, 4, 3, 3}, 1.0f);
    lt_tensor_t *v3 = lt_full(test_arena, 1, (int64_t[]){3}, 1.0f);
    lt_tensor_t *p = lt_full(test_arena, 2, (int64_t[]){2, 3}, 0.5f);
    lt_tensor_t *q = lt_full(test_arena, 2, (int64_t[]){3, 2}, 0.5f);
    lt_tensor_t *big = lt_full(test_arena, 2, (int64_t[]){4, 3}, 0.5f);
    expect_refusal(lt_conv_transpose2d_op(x, w2, NULL, NULL), "does not match weight (4, 4, 3, 3)");
    expect_refusal(lt_conv_transpose2d_op(x, w, v3, NULL), "bias (Cout)");
    expect_refusal(
        lt_conv_transpose2d_op(
            x, w, NULL, &LT_CONV_TRANSPOSE2D_OPTS(.stride = {2, 2}, .output_padding = {2, 0})),
        "output_padding must be smaller than either stride or dilation");
    expect_refusal(lt_conv_transpose2d_op(x, w, NULL, &LT_CONV_TRANSPOSE2D_OPTS(.padding = {9, 0})),
                   "empty or oversized output");
    expect_refusal(
        lt_conv_transpose2d_op(x, w, NULL, &LT_CONV_TRANSPOSE2D_OPTS(.padding = {-1, 0})),
        "padding and output_padding must be >= 0");
    expect_refusal(lt_binary_cross_entropy(p, q, NULL, LT_REDUCTION_MEAN), "target (3, 2)");
    expect_refusal(lt_binary_cross_entropy(p, p, big, LT_REDUCTION_MEAN), "weight (4, 3)");
    expect_refusal(lt_binary_cross_entropy_with_logits(p, p, NULL, q, LT_REDUCTION_SUM),
                   "pos_weight (3, 2)");
    expect_refusal(lt_binary_cross_entropy_with_logits(p, p, NULL, NULL, (lt_reduction)7),
                   "reduction 7");
}
END_TEST

/* nn.ConvTranspose2d's parameters: torch's shapes, names and init bounds. */
START_TEST(conv_transpose2d_layer_declares_torch_parameters) {
    lt_ctx_t *ctx = lt_ctx_new(test_dev, "t", NULL, 0, 3);
    lt_conv_transpose2d_t *l = lt_conv_transpose2d(
        ctx, "gen.1", 8, 6, 4, 4, &LT_CONV_TRANSPOSE2D_OPTS(.stride = {2, 2}, .groups = 2));
    ck_assert_ptr_nonnull(l);
    ck_assert_int_eq(lt_ctx_materialize(ctx), LT_OK);
    ck_assert_int_eq(lt_ctx_num_params(ctx), 2);
    const char *name;
    lt_tensor_t *wt = lt_ctx_param(ctx, 0, &name);
    ck_assert_str_eq(name, "gen.1.weight");
    ck_assert_int_eq(lt_dim(wt, 0), 8);
    ck_assert_int_eq(lt_dim(wt, 1), 3);
    float *v = test_host(wt), bound = 1.0f / sqrtf(3.0f * 16.0f), lo = 0, hi = 0;
    for (int64_t i = 0; i < lt_numel(wt); i++) lo = fminf(lo, v[i]), hi = fmaxf(hi, v[i]);
    ck_assert_msg(hi <= bound && lo >= -bound && hi > 0.8f * bound, "weight in [%g, %g], bound %g",
                  lo, hi, bound);
    free(v);
    lt_tensor_t *x = lt_full(lt_ctx_arena(ctx), 4, (int64_t[]){2, 8, 7, 7}, 1.0f);
    lt_tensor_t *y = lt_conv_transpose2d_forward(l, x);
    ck_assert_msg(y != NULL, "%s", lt_last_error());
    ck_assert_int_eq(lt_dim(y, 1), 6);
    ck_assert_int_eq(lt_dim(y, 2), 16); /* (7 - 1) 2 + 3 + 1 */
    ck_assert_ptr_null(
        lt_conv_transpose2d(ctx, "bad", 3, 6, 4, 4, &LT_CONV_TRANSPOSE2D_OPTS(.groups = 2)));
    ck_assert_ptr_nonnull(strstr(lt_last_error(), "multiples of groups"));
    lt_clear_error();
    lt_ctx_free(ctx);
}
END_TEST

/* ---- 10 batches of the dcgan plugin --------------------------------------------------- */

static double metric_last(lt_ctx_t *ctx, const char *name) {
    for (int i = 0; i < lt_ctx_metric_count(ctx); i++) {
        lt_metric_reading m;
        if (lt_ctx_metric_read(ctx, i, &m) == LT_OK && !strcmp(m.name, name)) return m.last;
    }
    ck_abort_msg("no metric %s", name);
    return NAN;
}

static void expect_loss(const char *what, int64_t k, double got, const lt_st_tensor *want) {
    float w;
    memcpy(&w, (const float *)want->data + k, sizeof w);
    ck_assert_msg(fabs(got - w) <= 1e-4 * fabs(w), "batch %lld %s: lthost %.8f, torch %.8f",
                  (long long)k, what, got, (double)w);
}

/* The batches of the fixture as the trainer drives a manual-optimization step: global
 * step 2k (two optimizer steps a batch) picks the noise; each batch's d_loss and g_loss
 * within 1e-4 relative of torch's. */
static void replay_dcgan(lt_ctx_t *ctx, const lt_module_desc *m, lt_st_file_t *f) {
    const lt_st_tensor *d = lt_st_find(f, "d_losses"), *g = lt_st_find(f, "g_losses");
    ck_assert(d && g);
    lt_arena_t *arena = lt_ctx_arena(ctx);
    for (int64_t k = 0; k < d->numel; k++) {
        lt_arena_reset(arena);
        lt_batch_t b = test_fixture_batch(f, arena, k);
        lt_ctx_set_batch_size(ctx, b.size);
        lt_ctx_set_progress(ctx, 0, 2 * k);
        lt_tensor_t *g_loss = m->training_step(ctx, lt_ctx_self(ctx), &b, k);
        ck_assert_msg(g_loss != NULL, "%s", lt_last_error());
        expect_loss("g_loss", k, lt_item(g_loss), g);
        expect_loss("d_loss", k, metric_last(ctx, "d_loss"), d);
    }
    lt_arena_reset(arena);
}

/* Ten batches of two Adam steps from torch's initial state (tests/fixtures/
 * dcgan_train.safetensors, make_dcgan_fixture.py): losses to 1e-4 relative, every
 * parameter and batch-norm buffer at the end to 1e-4 (3e-8 seen). The buffers also pin the
 * order of the discriminator's forwards (real, then generated, then the generator's turn),
 * which sets their running statistics. */
START_TEST(dcgan_training_matches_torch) {
    lt_device_t *dev = test_open_accel(_i, "gen_ops");
    if (!dev) return;
    lt_plugin_t *plugin = test_open_model_plugin("dcgan");
    const lt_module_desc *m = lt_plugin_desc(plugin);
    lt_ctx_t *ctx = lt_ctx_new(dev, m->name, m->hparams, m->self_size, 0);
    ck_assert_int_eq(lt_ctx_set_hparam(ctx, "latent", "16"), LT_OK);
    ck_assert_int_eq(lt_ctx_set_hparam(ctx, "ngf", "8"), LT_OK);
    ck_assert_int_eq(lt_ctx_set_hparam(ctx, "ndf", "8"), LT_OK);
    ck_assert_int_eq(m->setup(ctx, lt_ctx_self(ctx)), LT_OK);
    ck_assert_int_eq(lt_ctx_materialize(ctx), LT_OK);
    lt_st_file_t *f = test_open_fixture("dcgan_train.safetensors");
    int nstate = test_load_state(ctx, f, "init/");
    ck_assert_int_eq(nstate, lt_ctx_num_params(ctx) + lt_ctx_num_buffers(ctx));
    ck_assert_int_eq(m->configure_optimizers(ctx, lt_ctx_self(ctx)), LT_OK);
    replay_dcgan(ctx, m, f);
    test_compare_state(ctx, f, "final/", 1e-4, 1e-4);
    lt_st_close(f);
    lt_ctx_free(ctx);
    lt_plugin_close(plugin);
    lt_device_close(dev);
}
END_TEST

Suite *suite_gen_ops(void) {
    Suite *s = suite_create("gen_ops");
    TCase *tc = tcase_create("torch");
    tcase_add_loop_test(tc, gen_ops_match_torch, 0, TEST_ACCELERATORS);
    tcase_add_loop_test(tc, dcgan_training_matches_torch, 0, TEST_ACCELERATORS);
    tcase_set_timeout(tc, 120);
    suite_add_tcase(s, tc);
    TCase *fd = tcase_create("finite_differences");
    tcase_add_checked_fixture(fd, test_open, test_close);
    tcase_add_test(fd, gen_ops_match_finite_differences);
    tcase_add_test(fd, gen_ops_refuse_bad_arguments);
    tcase_add_test(fd, conv_transpose2d_layer_declares_torch_parameters);
    tcase_set_timeout(fd, 120);
    suite_add_tcase(s, fd);
    return s;
}
