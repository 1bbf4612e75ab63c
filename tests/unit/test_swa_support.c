/* liblt's support for StochasticWeightAveraging (issue #23): batch norms whose running
 * statistics restart and become the cumulative mean of the batches that follow
 * (torch's momentum=None), and float32 arrays in checkpoint state, stored as tensors of
 * the file and refused when a reference or a length does not fit. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lt/checkpoint.h>
#include <lt/runtime.h>

#include "test_util.h"

/* Batch b of (4, 2) values: channel c of sample i is (i + 1) * (b + c + 1) + b. */
static lt_tensor_t *batch(lt_ctx_t *ctx, int b, float *mean, float *var) {
    float v[8];
    for (int i = 0; i < 4; i++)
        for (int c = 0; c < 2; c++) v[2 * i + c] = (float)((i + 1) * (b + c + 1) + b);
    for (int c = 0; c < 2; c++) { /* the batch's mean and unbiased variance */
        double s = 0, ss = 0;
        for (int i = 0; i < 4; i++) s += v[2 * i + c];
        for (int i = 0; i < 4; i++) ss += (v[2 * i + c] - s / 4) * (v[2 * i + c] - s / 4);
        mean[c] = (float)(s / 4), var[c] = (float)(ss / 3);
    }
    int64_t shape[2] = {4, 2};
    return lt_from_host(lt_ctx_arena(ctx), LT_F32, 2, shape, v);
}

START_TEST(cumulative_batch_norm_averages_the_batches_that_follow) {
    lt_ctx_t *ctx = lt_ctx_new(test_dev, "m", NULL, 0, 1);
    lt_batchnorm_t *bn = lt_batchnorm(ctx, "bn", 2);
    ck_assert_int_eq(lt_ctx_materialize(ctx), LT_OK);
    ck_assert_int_eq(lt_ctx_num_batchnorms(ctx), 1);
    lt_ctx_set_training(ctx, true);
    float mean[3][2], var[3][2];
    ck_assert_ptr_nonnull(lt_batchnorm_forward(bn, batch(ctx, 0, mean[0], var[0])));
    ck_assert_int_eq(lt_ctx_batchnorm_cumulative(ctx, true), LT_OK);
    int64_t tracked = -1;
    lt_to_host(bn->num_batches_tracked, &tracked, sizeof tracked);
    ck_assert_int_eq(tracked, 0);
    float *rv = test_host(bn->running_var);
    ck_assert(rv[0] == 1.0f && rv[1] == 1.0f);
    free(rv);
    for (int b = 0; b < 3; b++)
        ck_assert_ptr_nonnull(lt_batchnorm_forward(bn, batch(ctx, b, mean[b], var[b])));
    float *rm = test_host(bn->running_mean);
    rv = test_host(bn->running_var);
    for (int c = 0; c < 2; c++) {
        float m = (mean[0][c] + mean[1][c] + mean[2][c]) / 3,
              v = (var[0][c] + var[1][c] + var[2][c]) / 3;
        ck_assert_msg(fabsf(rm[c] - m) < 1e-5f * (1 + fabsf(m)), "mean[%d] %g, want %g", c, rm[c],
                      m);
        ck_assert_msg(fabsf(rv[c] - v) < 1e-5f * (1 + fabsf(v)), "var[%d] %g, want %g", c, rv[c],
                      v);
    }
    /* back to momentum 0.1: the next batch moves the mean a tenth of the way */
    ck_assert_int_eq(lt_ctx_batchnorm_cumulative(ctx, false), LT_OK);
    float m3[2], v3[2];
    ck_assert_ptr_nonnull(lt_batchnorm_forward(bn, batch(ctx, 3, m3, v3)));
    float *after = test_host(bn->running_mean);
    for (int c = 0; c < 2; c++)
        ck_assert(fabsf(after[c] - (0.9f * rm[c] + 0.1f * m3[c])) < 1e-5f * (1 + fabsf(after[c])));
    lt_to_host(bn->num_batches_tracked, &tracked, sizeof tracked);
    ck_assert_int_eq(tracked, 4);
    free(rm), free(rv), free(after);
    lt_ctx_free(ctx);
}
END_TEST

START_TEST(state_float32_arrays_keep_their_length) {
    lt_state_t *st = lt_state_new();
    float v[3] = {1.5f, -2.0f, 1e-30f}, out[3] = {0};
    ck_assert_int_eq(lt_state_set_f32(st, "avg", v, 3), LT_OK);
    ck_assert_int_eq(lt_state_set_f32(st, "empty", NULL, 0), LT_OK);
    ck_assert_int_eq(lt_state_f32_len(st, "avg"), 3);
    ck_assert_int_eq(lt_state_f32_len(st, "empty"), 0);
    ck_assert_int_eq(lt_state_f32_len(st, "none"), -1);
    ck_assert(lt_state_get_f32(st, "avg", out, 3) && !memcmp(out, v, sizeof v));
    ck_assert(!lt_state_get_f32(st, "avg", out, 2));
    ck_assert(!lt_state_get_f32(st, "avg", out, 4));
    ck_assert_ptr_null(lt_state_get_child(st, "avg")); /* an array, not an object */
    ck_assert_ptr_null(lt_state_child(st, "avg"));
    ck_assert_int_eq(lt_state_set_f32(st, "bad", v, -1), LT_ERR_INVALID_ARG);
    ck_assert_int_eq(lt_state_set_f32(st, "bad", NULL, 2), LT_ERR_INVALID_ARG);
    ck_assert_ptr_null(lt_state_to_json(st)); /* JSON cannot hold it: say so */
    ck_assert_msg(strstr(lt_last_error(), "'avg' is a float32 array"), "%s", lt_last_error());
    lt_state_free(st);
}
END_TEST

START_TEST(checkpoint_stores_state_arrays_as_tensors) {
    char dir[] = "/tmp/lt_swa_XXXXXX", path[64];
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/a.ckpt", dir);
    lt_ctx_t *ctx = lt_ctx_new(test_dev, "m", NULL, 0, 1);
    int64_t shape[1] = {2};
    lt_param(ctx, "w", 1, shape, LT_INIT_ZEROS);
    ck_assert_int_eq(lt_ctx_materialize(ctx), LT_OK);
    lt_state_t *cbs = lt_state_new(), *cb = lt_state_child(cbs, "SWA");
    float v[4] = {1, 2, 3, 4}, out[4] = {0};
    ck_assert_int_eq(lt_state_set_f32(lt_state_child(cb, "inner"), "avg", v, 4), LT_OK);
    ck_assert_int_eq(lt_state_set_int(cb, "n", 7), LT_OK);
    lt_ckpt_t *c = lt_ckpt_capture(ctx);
    ck_assert_msg(lt_ckpt_set_state(c, "callbacks", cbs) == LT_OK, "%s", lt_last_error());
    ck_assert_msg(lt_ckpt_save(c, path) == LT_OK, "%s", lt_last_error());
    lt_ckpt_free(c);
    ck_assert_int_eq(lt_state_f32_len(lt_state_get_child(cb, "inner"), "avg"), 4); /* untouched */
    lt_state_free(cbs);
    ck_assert_int_eq(lt_ckpt_open(path, &c), LT_OK);
    const lt_st_tensor *t = lt_st_find(lt_ckpt_file(c), "callbacks.SWA.inner.avg");
    ck_assert(t && t->dtype == LT_ST_F32 && t->ndim == 1 && t->numel == 4);
    ck_assert_ptr_nonnull(strstr(lt_ckpt_get(c, "callbacks"), "\"__lt_tensor__\""));
    lt_state_t *back = lt_ckpt_get_state(c, "callbacks");
    ck_assert_msg(back != NULL, "%s", lt_last_error());
    const lt_state_t *inner = lt_state_get_child(lt_state_get_child(back, "SWA"), "inner");
    ck_assert(lt_state_get_f32(inner, "avg", out, 4) && !memcmp(out, v, sizeof v));
    ck_assert_ptr_null(lt_ckpt_get_state(c, "absent"));
    lt_state_free(back);
    lt_ckpt_free(c);
    lt_ctx_free(ctx);
    unlink(path);
    rmdir(dir);
}
END_TEST

Suite *suite_swa_support(void) {
    Suite *s = suite_create("swa_support");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, test_open, test_close);
    tcase_add_test(tc, cumulative_batch_norm_averages_the_batches_that_follow);
    tcase_add_test(tc, state_float32_arrays_keep_their_length);
    tcase_add_test(tc, checkpoint_stores_state_arrays_as_tensors);
    suite_add_tcase(s, tc);
    return s;
}
