/* Module state beyond parameters: buffers (BatchNorm's running statistics) in the state
 * dict, checkpoints and weight files; train/eval mode as batch norm and dropout see it;
 * dropout's Philox masks; and the fallbacks on an accelerator without the layer slots. */
#include <math.h>
#include <string.h>
#include <unistd.h>

#include <lt/checkpoint.h>
#include <lt/runtime.h>

#include "test_util.h"

typedef struct {
    lt_ctx_t *ctx;
    lt_batchnorm_t *bn;
    lt_linear_t *fc;
} bn_mod;

static bn_mod bn_module(uint64_t seed) {
    bn_mod m = {.ctx = lt_ctx_new(test_dev, "bnmod", NULL, 0, seed)};
    ck_assert_ptr_nonnull(m.ctx);
    m.fc = lt_linear(m.ctx, "fc", 4, 3);
    m.bn = lt_batchnorm(m.ctx, "bn", 3);
    ck_assert_msg(m.fc && m.bn, "%s", lt_last_error());
    ck_assert_int_eq(lt_ctx_materialize(m.ctx), LT_OK);
    return m;
}

/* One forward of bn(fc(x)) on a fixed (5, 4) batch. */
static lt_tensor_t *bn_step(bn_mod *m, float shift) {
    float x[20];
    test_fill(x, 20, 3, -2.0f, 2.0f, 0.0f);
    for (int i = 0; i < 20; i++) x[i] += shift;
    lt_arena_reset(lt_ctx_arena(m->ctx));
    lt_tensor_t *xt = lt_from_host(lt_ctx_arena(m->ctx), LT_F32, 2, (int64_t[]){5, 4}, x);
    return lt_batchnorm_forward(m->bn, lt_linear_forward(m->fc, xt));
}

static int64_t tracked(const bn_mod *m) {
    int64_t v = -1;
    ck_assert_int_eq(lt_to_host(m->bn->num_batches_tracked, &v, sizeof v), LT_OK);
    return v;
}

START_TEST(batchnorm_declares_torch_buffers) {
    bn_mod m = bn_module(1);
    ck_assert_int_eq(lt_ctx_num_params(m.ctx), 4); /* fc.weight, fc.bias, bn.weight, bn.bias */
    ck_assert_int_eq(lt_ctx_num_buffers(m.ctx), 3);
    const char *names[3];
    for (int i = 0; i < 3; i++) ck_assert_ptr_nonnull(lt_ctx_buffer(m.ctx, i, &names[i]));
    ck_assert_str_eq(names[0], "bn.running_mean");
    ck_assert_str_eq(names[1], "bn.running_var");
    ck_assert_str_eq(names[2], "bn.num_batches_tracked");
    ck_assert_int_eq(lt_dtype_of(m.bn->num_batches_tracked), LT_I64);
    ck_assert_int_eq(lt_ndim(m.bn->num_batches_tracked), 0);
    ck_assert_ptr_null(lt_ctx_buffer(m.ctx, 3, NULL));
    float *rm = test_host(m.bn->running_mean), *rv = test_host(m.bn->running_var);
    for (int i = 0; i < 3; i++) ck_assert(rm[i] == 0.0f && rv[i] == 1.0f);
    ck_assert_int_eq(tracked(&m), 0);
    free(rm);
    free(rv);
    lt_ctx_free(m.ctx);
}
END_TEST

START_TEST(train_mode_updates_running_stats_eval_uses_them) {
    bn_mod m = bn_module(2);
    ck_assert_ptr_nonnull(bn_step(&m, 0.0f));
    ck_assert_ptr_nonnull(bn_step(&m, 1.0f));
    ck_assert_int_eq(tracked(&m), 2);
    float *rm = test_host(m.bn->running_mean), *rv = test_host(m.bn->running_var);
    ck_assert(rm[0] != 0.0f && rv[0] != 1.0f);
    lt_ctx_set_training(m.ctx, false);
    lt_tensor_t *y = bn_step(&m, 0.0f);
    ck_assert_int_eq(tracked(&m), 2); /* eval: no update */
    float *after = test_host(m.bn->running_mean), *yv = test_host(y);
    ck_assert_mem_eq(rm, after, 3 * sizeof(float));
    /* eval output = (z - running_mean) / sqrt(running_var + eps) (weight 1, bias 0) */
    float x[20], zv[15];
    test_fill(x, 20, 3, -2.0f, 2.0f, 0.0f);
    lt_tensor_t *zt =
        lt_linear_forward(m.fc, lt_from_host(lt_ctx_arena(m.ctx), LT_F32, 2, (int64_t[]){5, 4}, x));
    ck_assert_int_eq(lt_to_host(zt, zv, sizeof zv), LT_OK);
    for (int i = 0; i < 15; i++) {
        double want = (zv[i] - rm[i % 3]) / sqrt(rv[i % 3] + 1e-5);
        ck_assert_msg(fabs(yv[i] - want) < 1e-5, "eval y[%d] %g, want %g", i, yv[i], want);
    }
    free(rm);
    free(rv);
    free(after);
    free(yv);
    lt_ctx_free(m.ctx);
}
END_TEST

START_TEST(buffers_round_trip_through_checkpoints) {
    bn_mod a = bn_module(3);
    bn_step(&a, 0.5f);
    bn_step(&a, -0.5f);
    bn_step(&a, 0.0f);
    char path[] = "/tmp/lt_buffers_XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    close(fd);
    lt_ckpt_t *c = lt_ckpt_capture(a.ctx);
    ck_assert_msg(c && lt_ckpt_save(c, path) == LT_OK, "%s", lt_last_error());
    lt_ckpt_free(c);
    bn_mod b = bn_module(4);
    ck_assert_msg(lt_load_weights_file(b.ctx, path, true) == LT_OK, "%s", lt_last_error());
    ck_assert_int_eq(tracked(&b), 3);
    ck_assert_int_eq(b.bn->batches, 3); /* the layer's count follows the load */
    for (int i = 0; i < 2; i++) {
        float *x = test_host(lt_ctx_buffer(a.ctx, i, NULL)),
              *y = test_host(lt_ctx_buffer(b.ctx, i, NULL));
        ck_assert_mem_eq(x, y, 3 * sizeof(float));
        free(x);
        free(y);
    }
    bn_step(&b, 0.0f);
    ck_assert_int_eq(tracked(&b), 4);
    /* strict: a module with a buffer the file lacks names it */
    lt_ctx_t *more = lt_ctx_new(test_dev, "more", NULL, 0, 1);
    lt_linear(more, "fc", 4, 3);
    lt_batchnorm(more, "bn", 3);
    ck_assert_ptr_nonnull(lt_buffer(more, "extra", LT_F32, 1, (int64_t[]){2}, 0.0));
    ck_assert_int_eq(lt_ctx_materialize(more), LT_OK);
    ck_assert_int_ne(lt_load_weights_file(more, path, true), LT_OK);
    ck_assert_msg(strstr(lt_last_error(), "missing key(s) extra") != NULL, "%s", lt_last_error());
    lt_clear_error();
    unlink(path);
    lt_ctx_free(more);
    lt_ctx_free(a.ctx);
    lt_ctx_free(b.ctx);
}
END_TEST

START_TEST(bad_buffer_declarations_are_refused) {
    lt_ctx_t *ctx = lt_ctx_new(test_dev, "m", NULL, 0, 1);
    ck_assert_ptr_nonnull(lt_param(ctx, "w", 1, (int64_t[]){2}, LT_INIT_ZEROS));
    ck_assert_ptr_null(lt_buffer(ctx, "w", LT_F32, 1, (int64_t[]){2}, 0.0));
    ck_assert_msg(strstr(lt_last_error(), "buffer 'w'") != NULL, "%s", lt_last_error());
    lt_clear_error();
    ck_assert_ptr_nonnull(lt_buffer(ctx, "b", LT_F32, 1, (int64_t[]){2}, 0.0));
    ck_assert_ptr_null(lt_param(ctx, "b", 1, (int64_t[]){2}, LT_INIT_ZEROS));
    lt_clear_error();
    ck_assert_ptr_null(lt_buffer(ctx, "neg", LT_F32, 1, (int64_t[]){-1}, 0.0));
    lt_clear_error();
    ck_assert_int_eq(lt_ctx_materialize(ctx), LT_OK);
    ck_assert_ptr_null(lt_buffer(ctx, "late", LT_F32, 1, (int64_t[]){2}, 0.0));
    ck_assert_msg(strstr(lt_last_error(), "after setup") != NULL, "%s", lt_last_error());
    lt_clear_error();
    lt_ctx_free(ctx);
}
END_TEST

/* ---- dropout ---------------------------------------------------------------------------- */

START_TEST(dropout_mask_is_the_documented_philox_stream) {
    enum { N = 10001 };
    float *ones = malloc(N * sizeof *ones);
    for (int i = 0; i < N; i++) ones[i] = 1.0f;
    lt_tensor_t *x = lt_from_host(test_arena, LT_F32, 1, (int64_t[]){N}, ones);
    ck_assert_ptr_eq(lt_dropout_ex(x, 0.3, false, 7, 9), x); /* eval: the input itself */
    float *y = test_host(lt_dropout_ex(x, 0.3, true, 7, 9));
    lt_rng_t r = lt_rng_make(7, 9);
    int zeros = 0;
    float keep = 1.0f / (float)(1.0 - 0.3);
    for (int i = 0; i < N; i++) {
        float want = lt_rng_uniform(&r) < (float)(1.0 - 0.3) ? keep : 0.0f;
        ck_assert_msg(y[i] == want, "mask[%d] %g, Philox says %g", i, y[i], want);
        zeros += y[i] == 0.0f;
    }
    ck_assert_msg(abs(zeros - 3000) < 200, "%d of %d dropped at p = 0.3", zeros, N);
    float *again = test_host(lt_dropout_ex(x, 0.3, true, 7, 9));
    ck_assert_mem_eq(y, again, N * sizeof *y);
    ck_assert_ptr_null(lt_dropout_ex(x, 1.5, true, 7, 9));
    lt_clear_error();
    /* Seed and stream with all 64 bits in use: the vectorised blocks split them as the
     * scalar generator does. */
    const uint64_t seed = 0x9E3779B97F4A7C15u, stream = 0xD1B54A32D192ED03u;
    float *big = test_host(lt_dropout_ex(x, 0.6, true, seed, stream));
    r = lt_rng_make(seed, stream);
    for (int i = 0; i < N; i++) {
        float want = lt_rng_uniform(&r) < (float)(1.0 - 0.6) ? 1.0f / (float)(1.0 - 0.6) : 0.0f;
        ck_assert_msg(big[i] == want, "mask[%d] %g, Philox says %g", i, big[i], want);
    }
    free(big);
    free(ones);
    free(y);
    free(again);
}
END_TEST

/* The masks of lt_dropout at (step, call): what a resumed run sees again. */
static float *ctx_mask(lt_ctx_t *ctx, int64_t step, int calls) {
    lt_ctx_set_progress(ctx, 0, step);
    float *m = NULL;
    for (int k = 0; k < calls; k++) {
        free(m);
        lt_tensor_t *x = lt_full(lt_ctx_arena(ctx), 1, (int64_t[]){64}, 1.0f);
        lt_set_requires_grad(x, true);
        lt_tensor_t *y = lt_dropout(ctx, x, 0.5);
        m = test_host(y);
        ck_assert_int_eq(lt_backward(lt_sum(y)), LT_OK); /* d sum / dx = the mask */
        float *g = test_host(lt_grad(x));
        ck_assert_mem_eq(g, m, 64 * sizeof *g);
        free(g);
    }
    return m;
}

START_TEST(dropout_follows_mode_step_and_call) {
    lt_ctx_t *ctx = lt_ctx_new(test_dev, "m", NULL, 0, 42);
    float *a = ctx_mask(ctx, 5, 1), *b = ctx_mask(ctx, 5, 2), *c = ctx_mask(ctx, 6, 1);
    float *a2 = ctx_mask(ctx, 5, 1); /* back at step 5 (a resume): the first call's mask */
    ck_assert_mem_eq(a, a2, 64 * sizeof *a);
    ck_assert(memcmp(a, c, 64 * sizeof *a) != 0); /* another step */
    ck_assert(memcmp(a, b, 64 * sizeof *a) != 0); /* another call in the step */
    lt_ctx_set_training(ctx, false);
    lt_tensor_t *x = lt_full(lt_ctx_arena(ctx), 1, (int64_t[]){4}, 1.0f);
    ck_assert_ptr_eq(lt_dropout(ctx, x, 0.5), x);
    lt_ctx_free(ctx);
    free(a);
    free(b);
    free(c);
    free(a2);
}
END_TEST

/* ---- an accelerator without the 1.1 layer slots --------------------------------------- */

static lt_device_t *open_abi10(void) {
    const char *dir = getenv("LT_TEST_PLUGIN_DIR");
    ck_assert_msg(dir && dir[0], "LT_TEST_PLUGIN_DIR is not set: run the tests with meson test");
    char path[1024];
    snprintf(path, sizeof path, "%s/abi10_cpu.so", dir);
    lt_device_t *dev = NULL;
    ck_assert_msg(lt_device_open(path, 1, &dev) == LT_OK, "%s", lt_last_error());
    return dev;
}

/* forward, gradients and running statistics of a training batch norm on dev. */
static float *bn_on(lt_device_t *dev, float **grads, float **running) {
    lt_arena_t *a = lt_arena_new(dev);
    float xv[2 * 3 * 4 * 5], w[3] = {0.5f, 1.5f, -1.0f}, b[3] = {0.1f, 0.0f, -0.2f};
    float rm[3] = {0}, rv[3] = {1, 1, 1}, gv[120];
    test_fill(xv, 120, 11, -2.0f, 2.0f, 0.0f);
    test_fill(gv, 120, 12, -1.0f, 1.0f, 0.0f);
    lt_tensor_t *x = lt_from_host(a, LT_F32, 4, (int64_t[]){2, 3, 4, 5}, xv);
    lt_tensor_t *wt = lt_from_host(a, LT_F32, 1, (int64_t[]){3}, w);
    lt_tensor_t *bt = lt_from_host(a, LT_F32, 1, (int64_t[]){3}, b);
    lt_tensor_t *rmt = lt_from_host(a, LT_F32, 1, (int64_t[]){3}, rm);
    lt_tensor_t *rvt = lt_from_host(a, LT_F32, 1, (int64_t[]){3}, rv);
    lt_set_requires_grad(x, true);
    lt_set_requires_grad(wt, true);
    lt_tensor_t *y = lt_batch_norm(x, rmt, rvt, wt, bt, true, 0.1, 1e-5);
    lt_tensor_t *g = lt_from_host(a, LT_F32, 4, (int64_t[]){2, 3, 4, 5}, gv);
    ck_assert_int_eq(lt_backward(lt_sum(lt_mul(y, g))), LT_OK);
    float *out = test_host(y);
    grads[0] = test_host(lt_grad(x));
    grads[1] = test_host(lt_grad(wt));
    running[0] = test_host(rmt);
    running[1] = test_host(rvt);
    lt_arena_free(a);
    return out;
}

static void close_to(const char *what, const float *a, const float *b, int n) {
    for (int i = 0; i < n; i++)
        ck_assert_msg(fabsf(a[i] - b[i]) <= 1e-5f + 1e-5f * fabsf(b[i]), "%s[%d]: %g vs %g", what,
                      i, a[i], b[i]);
}

START_TEST(composed_batch_norm_matches_the_fused_slot) {
    lt_device_t *old = open_abi10();
    float *g1[2], *g2[2], *r1[2], *r2[2];
    float *y1 = bn_on(test_dev, g1, r1), *y2 = bn_on(old, g2, r2);
    close_to("y", y2, y1, 120);
    close_to("dx", g2[0], g1[0], 120);
    close_to("dw", g2[1], g1[1], 3);
    close_to("running_mean", r2[0], r1[0], 3);
    close_to("running_var", r2[1], r1[1], 3);
    free(y1), free(y2);
    for (int i = 0; i < 2; i++) free(g1[i]), free(g2[i]), free(r1[i]), free(r2[i]);
    /* ops with no composed fallback say which slot is missing */
    lt_arena_t *a = lt_arena_new(old);
    lt_tensor_t *x = lt_full(a, 4, (int64_t[]){1, 1, 4, 4}, 1.0f);
    lt_tensor_t *w = lt_full(a, 4, (int64_t[]){1, 1, 3, 3}, 1.0f);
    ck_assert_ptr_null(lt_conv2d_op(x, w, NULL, NULL));
    ck_assert_msg(strstr(lt_last_error(), "'im2col'") != NULL, "%s", lt_last_error());
    lt_clear_error();
    ck_assert_ptr_null(lt_max_pool2d(x, &LT_POOL2D_OPTS(.kernel = {2, 2})));
    ck_assert_msg(strstr(lt_last_error(), "'pool2d'") != NULL, "%s", lt_last_error());
    lt_clear_error();
    lt_arena_free(a);
    lt_device_close(old);
}
END_TEST

Suite *suite_buffers(void) {
    Suite *s = suite_create("buffers");
    TCase *tc = tcase_create("state");
    tcase_add_checked_fixture(tc, test_open, test_close);
    tcase_add_test(tc, batchnorm_declares_torch_buffers);
    tcase_add_test(tc, train_mode_updates_running_stats_eval_uses_them);
    tcase_add_test(tc, buffers_round_trip_through_checkpoints);
    tcase_add_test(tc, bad_buffer_declarations_are_refused);
    tcase_add_test(tc, dropout_mask_is_the_documented_philox_stream);
    tcase_add_test(tc, dropout_follows_mode_step_and_call);
    tcase_add_test(tc, composed_batch_norm_matches_the_fused_slot);
    suite_add_tcase(s, tc);
    return s;
}
