/* Every differentiable op's backward against central finite differences.
 * loss = sum(op(inputs) * w) with a fixed random w, so each output element carries a
 * different weight and a wrong index in a backward formula cannot cancel out. */
#include <math.h>
#include <string.h>

#include "test_util.h"

#define MAX_IN 3

typedef struct grad_case {
    const char *name;
    int nin;
    int ndim[MAX_IN];
    int64_t shape[MAX_IN][4];
    float lo, hi, gap; /* input range, kept |x| >= gap (kinks of relu, poles of div) */
    lt_tensor_t *(*op)(lt_tensor_t **in);
} grad_case;

static int64_t numel_of(const grad_case *c, int i) {
    int64_t n = 1;
    for (int d = 0; d < c->ndim[i]; d++) n *= c->shape[i][d];
    return n;
}

/* sum(op(in) * w), with w drawn once per case from seed 7 and shaped like the output. */
static lt_tensor_t *weighted_loss(const grad_case *c, lt_tensor_t **in) {
    lt_tensor_t *out = c->op(in);
    ck_assert_msg(out != NULL, "%s: %s", c->name, lt_last_error());
    int64_t n = lt_numel(out), shape[LT_MAX_DIMS];
    for (int d = 0; d < lt_ndim(out); d++) shape[d] = lt_dim(out, d);
    float *w = malloc((size_t)n * sizeof *w);
    test_fill(w, n, 7, -1.0f, 1.0f, 0.0f);
    lt_tensor_t *tw = lt_from_host(test_arena, LT_F32, lt_ndim(out), shape, w);
    free(w);
    return lt_sum(lt_mul(out, tw));
}

static double eval_loss(const grad_case *c, float **vals) {
    lt_tensor_t *in[MAX_IN];
    for (int i = 0; i < c->nin; i++)
        in[i] = lt_from_host(test_arena, LT_F32, c->ndim[i], c->shape[i], vals[i]);
    double loss = lt_item(weighted_loss(c, in));
    lt_arena_reset(test_arena);
    return loss;
}

static void check_case(const grad_case *c) {
    float *vals[MAX_IN], *grads[MAX_IN];
    lt_tensor_t *in[MAX_IN];
    for (int i = 0; i < c->nin; i++) {
        vals[i] = malloc((size_t)numel_of(c, i) * sizeof(float));
        test_fill(vals[i], numel_of(c, i), 11 + (uint64_t)i, c->lo, c->hi, c->gap);
        in[i] = lt_from_host(test_arena, LT_F32, c->ndim[i], c->shape[i], vals[i]);
        lt_set_requires_grad(in[i], true);
    }
    ck_assert_int_eq(lt_backward(weighted_loss(c, in)), LT_OK);
    for (int i = 0; i < c->nin; i++) {
        ck_assert_msg(lt_grad(in[i]) != NULL, "%s: input %d got no gradient", c->name, i);
        grads[i] = test_host(lt_grad(in[i]));
    }
    lt_arena_reset(test_arena); /* the gradients are on the host now */
    bool prev = lt_arena_set_grad(test_arena, false);
    const float eps = 1e-2f;
    for (int i = 0; i < c->nin; i++) {
        for (int64_t j = 0; j < numel_of(c, i); j++) {
            float keep = vals[i][j];
            vals[i][j] = keep + eps;
            double up = eval_loss(c, vals);
            vals[i][j] = keep - eps;
            double down = eval_loss(c, vals);
            vals[i][j] = keep;
            double numeric = (up - down) / (2.0 * eps);
            ck_assert_msg(fabs(grads[i][j] - numeric) <= 2e-3 + 1e-2 * fabs(numeric),
                          "%s: d/d input%d[%lld]: autograd %.6f, finite difference %.6f", c->name,
                          i, (long long)j, grads[i][j], numeric);
        }
    }
    lt_arena_set_grad(test_arena, prev);
    for (int i = 0; i < c->nin; i++) {
        free(vals[i]);
        free(grads[i]);
    }
}

/* ---- the ops, as cases --------------------------------------------------------------- */

static lt_tensor_t *op_add(lt_tensor_t **x) { return lt_add(x[0], x[1]); }
static lt_tensor_t *op_sub(lt_tensor_t **x) { return lt_sub(x[0], x[1]); }
static lt_tensor_t *op_mul(lt_tensor_t **x) { return lt_mul(x[0], x[1]); }
static lt_tensor_t *op_div(lt_tensor_t **x) { return lt_div(x[0], x[1]); }
static lt_tensor_t *op_scale(lt_tensor_t **x) { return lt_scale(x[0], -2.5f); }
static lt_tensor_t *op_add_scalar(lt_tensor_t **x) { return lt_add_scalar(x[0], 3.0f); }
static lt_tensor_t *op_neg(lt_tensor_t **x) { return lt_neg(x[0]); }
static lt_tensor_t *op_relu(lt_tensor_t **x) { return lt_relu(x[0]); }
static lt_tensor_t *op_gelu(lt_tensor_t **x) { return lt_gelu(x[0]); }
static lt_tensor_t *op_tanh(lt_tensor_t **x) { return lt_tanh(x[0]); }
static lt_tensor_t *op_sigmoid(lt_tensor_t **x) { return lt_sigmoid(x[0]); }
static lt_tensor_t *op_exp(lt_tensor_t **x) { return lt_exp(x[0]); }
static lt_tensor_t *op_ln(lt_tensor_t **x) { return lt_ln(x[0]); }
static lt_tensor_t *op_matmul(lt_tensor_t **x) { return lt_matmul(x[0], x[1]); }
static lt_tensor_t *op_linear(lt_tensor_t **x) { return lt_linear_op(x[0], x[1], x[2]); }
static lt_tensor_t *op_linear_nobias(lt_tensor_t **x) { return lt_linear_op(x[0], x[1], NULL); }
static lt_tensor_t *op_sum(lt_tensor_t **x) { return lt_sum(x[0]); }
static lt_tensor_t *op_mean(lt_tensor_t **x) { return lt_mean(x[0]); }
static lt_tensor_t *op_sum_dim0(lt_tensor_t **x) { return lt_sum_dim(x[0], 0, false); }
static lt_tensor_t *op_mean_dim1_keep(lt_tensor_t **x) { return lt_mean_dim(x[0], -1, true); }
static lt_tensor_t *op_softmax(lt_tensor_t **x) { return lt_softmax(x[0]); }
static lt_tensor_t *op_log_softmax(lt_tensor_t **x) { return lt_log_softmax(x[0]); }
static lt_tensor_t *op_mse(lt_tensor_t **x) { return lt_mse_loss(x[0], x[1]); }
static lt_tensor_t *op_reshape(lt_tensor_t **x) {
    return lt_mul(lt_reshape(x[0], 2, (int64_t[]){3, -1}), lt_reshape(x[0], 2, (int64_t[]){3, 4}));
}
static lt_tensor_t *op_flatten(lt_tensor_t **x) { return lt_tanh(lt_flatten(x[0])); }
static lt_tensor_t *op_cross_entropy(lt_tensor_t **x) {
    int64_t labels[4] = {2, 0, 4, 1};
    lt_tensor_t *y = lt_from_host(test_arena, LT_I64, 1, (int64_t[]){4}, labels);
    return lt_cross_entropy(x[0], y);
}
/* A small MLP: the composition the trainer uses, reusing an input twice. */
static lt_tensor_t *op_mlp(lt_tensor_t **x) {
    lt_tensor_t *h = lt_relu(lt_linear_op(x[0], x[1], x[2]));
    return lt_add(h, lt_sigmoid(lt_linear_op(x[0], x[1], NULL)));
}

static const grad_case cases[] = {
    {"add", 2, {2, 2}, {{3, 4}, {3, 4}}, -2, 2, 0, op_add},
    {"add_row_broadcast", 2, {2, 1}, {{3, 4}, {4}}, -2, 2, 0, op_add},
    {"add_col_broadcast", 2, {2, 2}, {{3, 1}, {3, 4}}, -2, 2, 0, op_add},
    {"sub_broadcast", 2, {3, 2}, {{2, 3, 4}, {3, 1}}, -2, 2, 0, op_sub},
    {"mul_broadcast", 2, {2, 0}, {{3, 4}, {0}}, -2, 2, 0, op_mul},
    {"mul", 2, {2, 2}, {{3, 4}, {3, 4}}, -2, 2, 0, op_mul},
    {"div", 2, {2, 2}, {{3, 4}, {1, 4}}, -2, 2, 0.5f, op_div},
    {"scale", 1, {2}, {{3, 4}}, -2, 2, 0, op_scale},
    {"add_scalar", 1, {2}, {{3, 4}}, -2, 2, 0, op_add_scalar},
    {"neg", 1, {1}, {{5}}, -2, 2, 0, op_neg},
    {"relu", 1, {2}, {{3, 4}}, -2, 2, 0.05f, op_relu},
    {"gelu", 1, {2}, {{3, 4}}, -3, 3, 0, op_gelu},
    {"tanh", 1, {2}, {{3, 4}}, -2, 2, 0, op_tanh},
    {"sigmoid", 1, {2}, {{3, 4}}, -3, 3, 0, op_sigmoid},
    {"exp", 1, {2}, {{3, 4}}, -1, 1, 0, op_exp},
    {"ln", 1, {2}, {{3, 4}}, 0.5f, 3, 0, op_ln},
    {"matmul", 2, {2, 2}, {{3, 5}, {5, 4}}, -1, 1, 0, op_matmul},
    {"linear", 3, {2, 2, 1}, {{4, 5}, {3, 5}, {3}}, -1, 1, 0, op_linear},
    {"linear_3d_input", 3, {3, 2, 1}, {{2, 3, 5}, {4, 5}, {4}}, -1, 1, 0, op_linear},
    {"linear_no_bias", 2, {2, 2}, {{4, 5}, {3, 5}}, -1, 1, 0, op_linear_nobias},
    {"sum", 1, {2}, {{3, 4}}, -2, 2, 0, op_sum},
    {"mean", 1, {3}, {{2, 3, 4}}, -2, 2, 0, op_mean},
    {"sum_dim0", 1, {2}, {{3, 4}}, -2, 2, 0, op_sum_dim0},
    {"mean_dim_last_keepdim", 1, {3}, {{2, 3, 4}}, -2, 2, 0, op_mean_dim1_keep},
    {"softmax", 1, {2}, {{3, 5}}, -2, 2, 0, op_softmax},
    {"log_softmax", 1, {2}, {{3, 5}}, -2, 2, 0, op_log_softmax},
    {"cross_entropy", 1, {2}, {{4, 5}}, -2, 2, 0, op_cross_entropy},
    {"mse_loss", 2, {2, 2}, {{3, 4}, {3, 4}}, -2, 2, 0, op_mse},
    {"reshape_shared_input", 1, {2}, {{4, 3}}, -2, 2, 0, op_reshape},
    {"flatten", 1, {4}, {{2, 1, 2, 3}}, -2, 2, 0, op_flatten},
    {"mlp", 3, {2, 2, 1}, {{4, 6}, {5, 6}, {5}}, -1, 1, 0, op_mlp},
};

START_TEST(op_gradients) { check_case(&cases[_i]); }
END_TEST

START_TEST(gradients_accumulate_over_backwards) {
    float v[3] = {1, 2, 3};
    lt_tensor_t *x = lt_from_host(test_arena, LT_F32, 1, (int64_t[]){3}, v);
    lt_set_requires_grad(x, true);
    ck_assert_int_eq(lt_backward(lt_sum(lt_scale(x, 2.0f))), LT_OK);
    ck_assert_int_eq(lt_backward(lt_sum(lt_scale(x, 3.0f))), LT_OK);
    float *g = test_host(lt_grad(x));
    for (int i = 0; i < 3; i++) ck_assert_float_eq(g[i], 5.0f);
    free(g);
    ck_assert_int_eq(lt_backward(lt_scale(x, 1.0f)), LT_ERR_SHAPE);
}
END_TEST

Suite *suite_autograd(void) {
    Suite *s = suite_create("autograd");
    TCase *tc = tcase_create("finite_differences");
    tcase_add_checked_fixture(tc, test_open, test_close);
    tcase_add_loop_test(tc, op_gradients, 0, (int)(sizeof cases / sizeof cases[0]));
    tcase_add_test(tc, gradients_accumulate_over_backwards);
    suite_add_tcase(s, tc);
    return s;
}
