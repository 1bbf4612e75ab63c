/* --sync_batchnorm's layer math without MPI (tests/e2e/test_sync_batchnorm.sh runs it on
 * two ranks): a trainer whose all_reduce_sum doubles every value is two ranks that hold the
 * same batch x, so the synced layer on x must give what a plain batch norm gives on the
 * batch [x; x] — outputs, running statistics, the input's gradient — and half its weight
 * and bias gradients (each rank's own, which DDP then averages). */
#include <math.h>
#include <string.h>

#include <lt/runtime.h>

#include "test_util.h"

static lt_status twin_all_reduce(lt_trainer_t *tr, float *values, int64_t n) {
    (void)tr;
    for (int64_t i = 0; i < n; i++) values[i] *= 2.0f;
    return LT_OK;
}

typedef struct bn_run {
    lt_ctx_t *ctx;
    lt_batchnorm_t *bn;
    lt_tensor_t *x, *y;
} bn_run;

/* A batch norm over (n, 3, 4) values v (weights w), trained one step of sum(y * w). */
static bn_run run_bn(lt_trainer_t *tr, int64_t n, const float *v, const float *w) {
    bn_run r = {.ctx = lt_ctx_new(test_dev, "bn", NULL, 0, 1)};
    r.bn = lt_batchnorm(r.ctx, "bn", 3);
    ck_assert_int_eq(lt_ctx_materialize(r.ctx), LT_OK);
    float gamma[3] = {0.5f, 1.5f, -1.0f}, beta[3] = {0.1f, 0.0f, -0.3f};
    lt_from_host_into(r.bn->weight, gamma, sizeof gamma);
    lt_from_host_into(r.bn->bias, beta, sizeof beta);
    if (tr) ck_assert_int_eq(lt_ctx_set_trainer(r.ctx, tr), LT_OK);
    lt_ctx_set_training(r.ctx, true);
    int64_t shape[3] = {n, 3, 4};
    lt_arena_t *a = lt_ctx_arena(r.ctx);
    r.x = lt_from_host(a, LT_F32, 3, shape, v);
    lt_set_requires_grad(r.x, true);
    r.y = lt_batchnorm_forward(r.bn, r.x);
    ck_assert_msg(r.y != NULL, "%s", lt_last_error());
    ck_assert_int_eq(lt_backward(lt_sum(lt_mul(r.y, lt_from_host(a, LT_F32, 3, shape, w)))), LT_OK);
    return r;
}

/* a[i] * scale against b[offset + i] for i < n. */
static void expect_close(const char *what, const lt_tensor_t *a, const lt_tensor_t *b,
                         int64_t offset, float scale) {
    float *va = test_host(a), *vb = test_host(b);
    for (int64_t i = 0; i < lt_numel(a); i++)
        ck_assert_msg(fabsf(va[i] * scale - vb[offset + i]) <=
                          1e-5f * (1.0f + fabsf(vb[offset + i])),
                      "%s[%lld]: synced %.9g, whole batch %.9g", what, (long long)i, va[i] * scale,
                      vb[offset + i]);
    free(va);
    free(vb);
}

START_TEST(sync_batchnorm_on_twin_ranks_is_batchnorm_on_both_halves) {
    enum { N = 5, E = N * 3 * 4 };
    float v[2 * E], w[2 * E];
    test_fill(v, E, 21, -2.0f, 3.0f, 0.0f);
    test_fill(w, E, 22, -1.0f, 1.0f, 0.0f);
    memcpy(v + E, v, sizeof(float) * E);
    memcpy(w + E, w, sizeof(float) * E);
    lt_trainer_t tr = {.struct_size = sizeof tr,
                       .stage = "fit",
                       .world_size = 2,
                       .all_reduce_sum = twin_all_reduce,
                       .sync_batchnorm = true};
    bn_run sync = run_bn(&tr, N, v, w), whole = run_bn(NULL, 2 * N, v, w);
    expect_close("y", sync.y, whole.y, 0, 1.0f);
    expect_close("dx", lt_grad(sync.x), lt_grad(whole.x), E, 1.0f);
    expect_close("running_mean", sync.bn->running_mean, whole.bn->running_mean, 0, 1.0f);
    expect_close("running_var", sync.bn->running_var, whole.bn->running_var, 0, 1.0f);
    expect_close("dweight", lt_grad(sync.bn->weight), lt_grad(whole.bn->weight), 0, 2.0f);
    expect_close("dbias", lt_grad(sync.bn->bias), lt_grad(whole.bn->bias), 0, 2.0f);
    /* without the flag (or with one process) the layer is the plain batch norm on x */
    tr.sync_batchnorm = false;
    bn_run plain = run_bn(&tr, N, v, w);
    float *a = test_host(plain.bn->running_var), *b = test_host(sync.bn->running_var);
    ck_assert_msg(fabsf(a[0] - b[0]) > 1e-4f, "running_var %g: the flag changed nothing", a[0]);
    free(a);
    free(b);
    lt_ctx_free(plain.ctx);
    lt_ctx_free(sync.ctx);
    lt_ctx_free(whole.ctx);
}
END_TEST

Suite *suite_sync_batchnorm(void) {
    Suite *s = suite_create("sync_batchnorm");
    TCase *tc = tcase_create("twin_ranks");
    tcase_add_checked_fixture(tc, test_open, test_close);
    tcase_add_test(tc, sync_batchnorm_on_twin_ranks_is_batchnorm_on_both_halves);
    suite_add_tcase(s, tc);
    return s;
}
