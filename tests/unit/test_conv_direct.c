/* The accelerator's direct conv2d slots (oneDNN in the cpu plugin) against liblt's im2col
 * path: the same convolution, forward and both gradients, on a device opened with
 * LT_CPU_DNNL=all and one with LT_CPU_DNNL=none. Covers what the slots decline (bottom
 * padding oneDNN cannot express), groups with dilation and stride, torch's asymmetric
 * "same" padding, and more shapes than the plugin's primitive cache holds. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <lt/amp.h>
#include "test_list.h"
#include "test_util.h"

typedef struct conv_case {
    int64_t x[4], w[4];
    lt_conv2d_opts o;
    bool bias;
    lt_conv_transpose2d_opts t; /* used instead of o when t.struct_size is set */
} conv_case;

/* The case's output channels: w's first dimension, or a transposed one's second times
 * the groups. */
static int64_t out_channels(const conv_case *k) {
    return k->t.struct_size ? k->w[1] * (k->t.groups ? k->t.groups : 1) : k->w[0];
}

/* y, dx, dw, db (db empty without bias) of sum(conv(x, w, b) * r), into out[4]. */
static void run_case(lt_device_t *dev, const conv_case *k, float *out[4], int64_t nout[4]) {
    lt_arena_t *a = lt_arena_new(dev);
    ck_assert_ptr_nonnull(a);
    int64_t nx = k->x[0] * k->x[1] * k->x[2] * k->x[3], nw = k->w[0] * k->w[1] * k->w[2] * k->w[3];
    float *hx = malloc((size_t)nx * sizeof *hx), *hw = malloc((size_t)nw * sizeof *hw);
    float hb[64];
    int64_t nb = out_channels(k);
    ck_assert(hx && hw && nb <= 64);
    test_fill(hx, nx, 1, -1.0f, 1.0f, 0.0f);
    test_fill(hw, nw, 2, -1.0f, 1.0f, 0.0f);
    test_fill(hb, nb, 3, -1.0f, 1.0f, 0.0f);
    lt_tensor_t *x = lt_from_host(a, LT_F32, 4, k->x, hx),
                *w = lt_from_host(a, LT_F32, 4, k->w, hw);
    lt_tensor_t *b = k->bias ? lt_from_host(a, LT_F32, 1, &nb, hb) : NULL;
    lt_set_requires_grad(x, true);
    lt_set_requires_grad(w, true);
    if (b) lt_set_requires_grad(b, true);
    lt_tensor_t *y =
        k->t.struct_size ? lt_conv_transpose2d_op(x, w, b, &k->t) : lt_conv2d_op(x, w, b, &k->o);
    ck_assert_msg(y != NULL, "%s", lt_last_error());
    float *hr = malloc((size_t)lt_numel(y) * sizeof *hr);
    test_fill(hr, lt_numel(y), 4, -1.0f, 1.0f, 0.0f);
    lt_tensor_t *r =
        lt_from_host(a, LT_F32, lt_ndim(y),
                     (int64_t[]){lt_dim(y, 0), lt_dim(y, 1), lt_dim(y, 2), lt_dim(y, 3)}, hr);
    ck_assert_int_eq(lt_backward(lt_sum(lt_mul(y, r))), LT_OK);
    const lt_tensor_t *t[4] = {y, lt_grad(x), lt_grad(w), b ? lt_grad(b) : NULL};
    for (int i = 0; i < 4; i++) {
        out[i] = t[i] ? test_host(t[i]) : NULL;
        nout[i] = t[i] ? lt_numel(t[i]) : 0;
    }
    free(hx);
    free(hw);
    free(hr);
    lt_arena_free(a);
}

/* Results of the two paths agree within tol[i] relative to 1 + |im2col's| (y, dx, dw, db). */
static void compare_case_within(lt_device_t *direct, lt_device_t *im2col, const conv_case *k,
                                const float tol[4]) {
    float *p[4], *q[4];
    int64_t np[4], nq[4];
    run_case(direct, k, p, np);
    run_case(im2col, k, q, nq);
    static const char *const what[4] = {"y", "dx", "dw", "db"};
    for (int i = 0; i < 4; i++) {
        ck_assert_int_eq(np[i], nq[i]);
        for (int64_t j = 0; j < np[i]; j++)
            ck_assert_msg(fabsf(p[i][j] - q[i][j]) <= tol[i] * (1.0f + fabsf(q[i][j])),
                          "%s[%lld]: direct %g, im2col %g (x %lldx%lldx%lldx%lld)", what[i],
                          (long long)j, p[i][j], q[i][j], (long long)k->x[0], (long long)k->x[1],
                          (long long)k->x[2], (long long)k->x[3]);
        free(p[i]);
        free(q[i]);
    }
}

static void compare_case(lt_device_t *direct, lt_device_t *im2col, const conv_case *k) {
    const float t = k->t.struct_size ? 1e-5f : 1e-4f;
    compare_case_within(direct, im2col, k, (const float[4]){t, t, t, t});
}

static lt_device_t *open_threads(const char *dirs, int threads) {
    setenv("LT_CPU_DNNL", dirs, 1); /* read when the cpu plugin's device opens */
    lt_device_t *dev = NULL;
    ck_assert_msg(lt_device_open("cpu", threads, &dev) == LT_OK, "%s", lt_last_error());
    unsetenv("LT_CPU_DNNL");
    return dev;
}

static lt_device_t *open_with(const char *dirs) { return open_threads(dirs, 2); }

START_TEST(direct_slots_match_im2col) {
    lt_device_t *direct = open_with("all"), *im2col = open_with("none");
    const char *line = lt_device_describe(direct);
    if (!line || !strstr(line, "oneDNN"))
        printf("conv_direct: no oneDNN in this build (%s)\n", line);
    ck_assert_ptr_null(strstr(lt_device_describe(im2col), "oneDNN"));
    const conv_case cases[] = {
        {{2, 4, 7, 7}, {6, 4, 3, 3}, LT_CONV2D_OPTS(.padding = {1, 1}), true, {0}},
        {{2, 4, 9, 8},
         {6, 2, 3, 2},
         LT_CONV2D_OPTS(.stride = {2, 1}, .padding = {1, 2}, .dilation = {1, 2}, .groups = 2),
         true,
         {0}},
        /* oh 2 from 5 rows: the last row is skipped, which oneDNN's padding cannot say */
        {{1, 2, 5, 5}, {3, 2, 2, 2}, LT_CONV2D_OPTS(.stride = {2, 2}), false, {0}},
        {{2, 3, 6, 5}, {4, 3, 2, 2}, LT_CONV2D_OPTS(.padding_same = true), false, {0}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        compare_case(direct, im2col, &cases[i]);
    /* 30 heights x 3 directions: past the cache's 32 primitives, so entries are evicted */
    for (int64_t h = 3; h < 33; h++) {
        conv_case k = {{1, 2, h, 4}, {2, 2, 3, 3}, LT_CONV2D_OPTS(.padding = {1, 1}), true, {0}};
        compare_case(direct, im2col, &k);
    }
    lt_device_close(direct);
    lt_device_close(im2col);
}
END_TEST

/* conv_transpose2d through the same slots with the roles swapped (its forward is
 * conv2d's bwd_data, its input gradient conv2d's forward): stride 2, padding,
 * output_padding (declined by oneDNN when larger than the padding), groups, dilation. */
/* How the cpu plugin cuts a batch into chunks of images, one thread each: chunks of two
 * sizes (two primitives), one image per chunk where an image fills the chunk's L2 budget,
 * the weight gradient summed over the chunks (with bias), the whole batch on oneDNN's
 * team where the chunks' weight gradients would outweigh the data, on 2 and 3 threads. */
START_TEST(batch_chunks_match_im2col) {
    const conv_case cases[] = {
        {{5, 3, 6, 7}, {4, 3, 3, 3}, LT_CONV2D_OPTS(.padding = {1, 1}), true, {0}},
        {{3, 16, 64, 64}, {16, 16, 3, 3}, LT_CONV2D_OPTS(.padding = {1, 1}), false, {0}},
        {{4, 64, 4, 4}, {64, 64, 3, 3}, LT_CONV2D_OPTS(.padding = {1, 1}), true, {0}},
        {{7, 2, 6, 6}, {3, 2, 2, 2}, LT_CONV2D_OPTS(.stride = {2, 2}), true, {0}},
    };
    for (int threads = 2; threads <= 3; threads++) {
        lt_device_t *direct = open_threads("all", threads), *im2col = open_with("none");
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
            compare_case(direct, im2col, &cases[i]);
        lt_device_close(direct);
        lt_device_close(im2col);
    }
}
END_TEST

START_TEST(transposed_through_direct_slots) {
    lt_device_t *direct = open_with("all"), *im2col = open_with("none");
    const conv_case cases[] = {
        {{2, 6, 4, 4},
         {6, 3, 4, 4},
         {0},
         true,
         LT_CONV_TRANSPOSE2D_OPTS(.stride = {2, 2}, .padding = {1, 1})},
        {{2, 4, 5, 3},
         {4, 3, 3, 3},
         {0},
         true,
         LT_CONV_TRANSPOSE2D_OPTS(.stride = {2, 2}, .padding = {1, 1}, .output_padding = {1, 1},
                                  .groups = 2)},
        {{1, 6, 3, 4},
         {6, 2, 3, 2},
         {0},
         false,
         LT_CONV_TRANSPOSE2D_OPTS(.stride = {2, 3}, .padding = {2, 1}, .output_padding = {1, 0},
                                  .dilation = {2, 1}, .groups = 3)},
        /* output_padding past the padding: oneDNN declines, im2col runs */
        {{1, 2, 3, 3},
         {2, 2, 3, 3},
         {0},
         true,
         LT_CONV_TRANSPOSE2D_OPTS(.stride = {2, 2}, .output_padding = {1, 1})},
        /* the dcgan generator's first layer: 1x1 input, no padding */
        {{4, 8, 1, 1}, {8, 5, 4, 4}, {0}, false, LT_CONV_TRANSPOSE2D_OPTS()},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        compare_case(direct, im2col, &cases[i]);
    lt_device_close(direct);
    lt_device_close(im2col);
}
END_TEST

/* The cpu device in bf16-mixed with LT_CPU_DNNL=dirs; NULL (having said why) on a CPU
 * without bf16 units, where the plugin refuses bf16-mixed. */
static lt_device_t *open_bf16(const char *dirs) {
    lt_plugin_t *p = NULL;
    ck_assert_int_eq(lt_plugin_open(LT_PLUGIN_ACCELERATOR, "cpu", NULL, &p), LT_OK);
    lt_accel_opts o = {.struct_size = sizeof o, .threads = 2, .precision = LT_PRECISION_BF16_MIXED};
    lt_device_t *dev = NULL;
    setenv("LT_CPU_DNNL", dirs, 1);
    lt_status st = lt_device_from_plugin_opts(p, &o, &dev);
    unsetenv("LT_CPU_DNNL");
    if (st != LT_OK) {
        ck_assert_msg(strstr(lt_last_error(), "runs bf16 precisions only on CPUs with"), "%s",
                      lt_last_error());
        printf("skip: bf16-mixed convolutions: %s\n", lt_last_error());
    }
    return dev;
}

/* bf16-mixed: oneDNN's convolutions read bf16 (rounded by its reorders) and write float32,
 * as im2col with the bf16 GEMM does; both round the same inputs, so only the sums' order
 * differs, except the bias gradient, which oneDNN sums from the rounded output gradient
 * (as torch's autocast does) and liblt from the float32 one. Inputs of 1 + 2^-9, which
 * bf16 holds as 1, show the rounding happened. */
START_TEST(bf16_mixed_direct_slots) {
    lt_device_t *direct = open_bf16("all"), *im2col = direct ? open_bf16("none") : NULL;
    if (!direct) return;
    ck_assert_ptr_nonnull(im2col);
    const conv_case cases[] = {
        {{2, 4, 7, 7}, {6, 4, 3, 3}, LT_CONV2D_OPTS(.padding = {1, 1}), true, {0}},
        {{5, 3, 6, 7}, {4, 3, 3, 3}, LT_CONV2D_OPTS(.padding = {1, 1}), true, {0}},
        {{2, 4, 9, 8},
         {6, 2, 3, 2},
         LT_CONV2D_OPTS(.stride = {2, 1}, .padding = {1, 2}, .dilation = {1, 2}, .groups = 2),
         false,
         {0}},
        {{2, 6, 4, 4},
         {6, 3, 4, 4},
         {0},
         true,
         LT_CONV_TRANSPOSE2D_OPTS(.stride = {2, 2}, .padding = {1, 1})},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        compare_case_within(direct, im2col, &cases[i],
                            (const float[4]){1e-4f, 1e-4f, 1e-4f, 2e-2f});
    lt_arena_t *a = lt_arena_new(direct);
    float ones[2 * 3 * 5 * 5];
    for (size_t i = 0; i < sizeof ones / sizeof *ones; i++) ones[i] = 1.0f + 0x1p-9f;
    lt_tensor_t *x = lt_from_host(a, LT_F32, 4, (int64_t[]){2, 3, 5, 5}, ones),
                *w = lt_from_host(a, LT_F32, 4, (int64_t[]){2, 3, 3, 3}, ones);
    lt_conv2d_opts o = LT_CONV2D_OPTS();
    float *y = test_host(lt_conv2d_op(x, w, NULL, &o));
    ck_assert_msg(y[0] == 27.0f && y[2 * 2 * 3 * 3 - 1] == 27.0f, "y = %.9g: inputs not rounded",
                  y[0]);
    free(y);
    lt_arena_free(a);
    lt_device_close(direct);
    lt_device_close(im2col);
}
END_TEST

Suite *suite_conv_direct(void) {
    Suite *s = suite_create("conv_direct");
    TCase *tc = tcase_create("oneDNN");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, direct_slots_match_im2col);
    tcase_add_test(tc, batch_chunks_match_im2col);
    tcase_add_test(tc, transposed_through_direct_slots);
    tcase_add_test(tc, bf16_mixed_direct_slots);
    suite_add_tcase(s, tc);
    return s;
}
