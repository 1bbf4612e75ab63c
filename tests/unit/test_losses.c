/* group_norm and the losses with torch's options (nll_loss, cross_entropy with weight,
 * ignore_index and label_smoothing, smooth_l1_loss, huber_loss) against PyTorch — the
 * fixtures tests/fixtures/losses.safetensors and losses_nd.safetensors (the losses over
 * (N, C, d1, ..., dK) inputs, binary cross-entropy included) of
 * tests/reference/make_loss_fixtures.py — on every accelerator present, and against finite
 * differences of their own forward. */
#include <jansson.h>
#include <math.h>
#include <string.h>

#include <lt/runtime.h>

#include "test_fd.h"
#include "test_fixture.h"

/* ---- options from the case's JSON -------------------------------------------------- */

static lt_reduction jreduction(const json_t *o) {
    const char *r = json_string_value(json_object_get(o, "reduction"));
    ck_assert_msg(r != NULL, "case without a reduction");
    return !strcmp(r, "sum")    ? LT_REDUCTION_SUM
           : !strcmp(r, "none") ? LT_REDUCTION_NONE
                                : LT_REDUCTION_MEAN;
}
static double jreal(const json_t *o, const char *key) {
    return json_number_value(json_object_get(o, key));
}
static int64_t jint(const json_t *o, const char *key) {
    return json_integer_value(json_object_get(o, key));
}

/* The case's op on its float inputs, int64 target, class (or element) weights and
 * pos_weight (missing: NULL). */
static lt_tensor_t *run_case(const char *c, const json_t *o, lt_tensor_t **in, lt_tensor_t *target,
                             lt_tensor_t *weight, lt_tensor_t *pos_weight) {
    if (!strncmp(c, "group_norm/", 11))
        return lt_group_norm(in[0], jint(o, "num_groups"), in[1], in[2], jreal(o, "eps"));
    if (!strncmp(c, "nll_loss/", 9))
        return lt_nll_loss(in[0], target, weight, jint(o, "ignore_index"), jreduction(o));
    if (!strncmp(c, "cross_entropy/", 14))
        return lt_cross_entropy_ex(in[0], target, weight, jint(o, "ignore_index"), jreduction(o),
                                   jreal(o, "label_smoothing"));
    if (!strncmp(c, "smooth_l1_loss/", 15))
        return lt_smooth_l1_loss(in[0], in[1], jreduction(o), jreal(o, "beta"));
    if (!strncmp(c, "huber_loss/", 11))
        return lt_huber_loss(in[0], in[1], jreduction(o), jreal(o, "delta"));
    if (!strncmp(c, "bce_with_logits/", 16))
        return lt_binary_cross_entropy_with_logits(in[0], in[1], weight, pos_weight, jreduction(o));
    if (!strncmp(c, "binary_cross_entropy/", 21))
        return lt_binary_cross_entropy(in[0], in[1], weight, jreduction(o));
    ck_abort_msg("unknown case %s", c);
    return NULL;
}

/* ---- fixture cases ------------------------------------------------------------------ */

#define MAX_IN 3

static lt_tensor_t *fixture_tensor(lt_st_file_t *f, const char *c, const char *key,
                                   lt_arena_t *arena) {
    const lt_st_tensor *t = test_fixture_find(f, c, key);
    if (!t) return NULL;
    return lt_from_host(arena, !strcmp(key, "target") ? LT_I64 : LT_F32, t->ndim, t->shape,
                        t->data);
}

/* The inputs with a "grad<i>" in the fixture require grad (the binary losses' soft
 * targets do not). */
static void check_case(lt_st_file_t *f, const char *c, lt_arena_t *arena) {
    json_t *o = json_loads(lt_st_meta(f, c), 0, NULL);
    ck_assert_msg(o != NULL, "case %s has no options", c);
    lt_tensor_t *in[MAX_IN];
    test_case_inputs(f, c, arena, MAX_IN, in);
    lt_tensor_t *out =
        run_case(c, o, in, fixture_tensor(f, c, "target", arena),
                 fixture_tensor(f, c, "weight", arena), fixture_tensor(f, c, "pos_weight", arena));
    test_case_check(f, c, arena, out, MAX_IN, in, (test_case_tol){1e-5, 1e-5, 1e-4, 1e-5});
    json_decref(o);
}

/* A label that is neither a class nor ignore_index: an error naming it where the CPU can
 * read the labels, a NaN loss (nothing stalls the step to check) on other accelerators. */
static void check_bad_label(lt_arena_t *arena) {
    int64_t labels[3] = {1, 7, -100}, n = 3;
    lt_tensor_t *x = lt_full(arena, 2, (int64_t[]){3, 4}, 0.25f);
    lt_tensor_t *y = lt_from_host(arena, LT_I64, 1, &n, labels);
    lt_tensor_t *loss = lt_cross_entropy_ex(x, y, NULL, LT_IGNORE_INDEX, LT_REDUCTION_MEAN, 0.1);
    if (lt_tensor_host_memory(x)) {
        ck_assert_ptr_null(loss);
        ck_assert_msg(strstr(lt_last_error(), "target 7 of sample 1"), "%s", lt_last_error());
        lt_clear_error();
    } else {
        ck_assert_msg(loss && isnan(lt_item(loss)), "a bad label gave %g", lt_item(loss));
    }
    lt_arena_reset(arena);
}

START_TEST(losses_match_torch) {
    lt_device_t *dev = test_open_accel(_i, "losses");
    if (!dev) return;
    test_fixture_each_case(dev, "losses.safetensors", "cases", 18, check_case);
    lt_arena_t *arena = lt_arena_new(dev);
    check_bad_label(arena);
    lt_arena_free(arena);
    lt_device_close(dev);
}
END_TEST

/* (N, C, d1, ..., dK) class losses for K = 1, 2, and the binary and robust losses over
 * such shapes (pos_weight broadcast from the trailing dimensions). */
START_TEST(losses_nd_match_torch) {
    lt_device_t *dev = test_open_accel(_i, "losses");
    if (!dev) return;
    test_fixture_each_case(dev, "losses_nd.safetensors", "cases", 19, check_case);
    lt_device_close(dev);
}
END_TEST

/* ---- finite differences ----------------------------------------------------------------- */

/* An op of up to MAX_IN float inputs; the labels (and class weights) are fixed. */
typedef struct fd_case {
    const char *what;
    lt_tensor_t *(*op)(lt_tensor_t **in, lt_tensor_t *labels, lt_tensor_t *weight);
    int nin;
    int ndim[MAX_IN];
    int64_t shape[MAX_IN][4];
    int64_t labels[8]; /* for class losses: N labels, N = shape[0][0] */
    bool weighted;     /* class weights 0.5, 1, 1.5, ... */
} fd_case;

static int64_t numel_of(const fd_case *k, int i) {
    int64_t n = 1;
    for (int d = 0; d < k->ndim[i]; d++) n *= k->shape[i][d];
    return n;
}

/* sum(op(x) * w) in double; with grads, also backward, keeping the inputs in `keep`. */
static double fd_loss(const fd_case *k, float **x, const float *w, lt_tensor_t **keep) {
    lt_tensor_t *in[MAX_IN] = {NULL}, *labels = NULL, *weight = NULL;
    for (int i = 0; i < k->nin; i++) {
        in[i] = lt_from_host(test_arena, LT_F32, k->ndim[i], k->shape[i], x[i]);
        if (keep) lt_set_requires_grad(in[i], true);
    }
    int64_t n = k->shape[0][0], c = k->ndim[0] > 1 ? k->shape[0][1] : 1;
    if (k->labels[0] || k->labels[1]) labels = lt_from_host(test_arena, LT_I64, 1, &n, k->labels);
    float wv[16];
    for (int j = 0; j < 16; j++) wv[j] = 0.5f * (float)(j + 1);
    if (k->weighted) weight = lt_from_host(test_arena, LT_F32, 1, &c, wv);
    lt_tensor_t *out = k->op(in, labels, weight);
    ck_assert_msg(out != NULL, "%s: %s", k->what, lt_last_error());
    int64_t os[LT_MAX_DIMS];
    for (int d = 0; d < lt_ndim(out); d++) os[d] = lt_dim(out, d);
    ck_assert_int_le(lt_numel(out), 4096);
    lt_tensor_t *loss = lt_sum(lt_mul(out, lt_from_host(test_arena, LT_F32, lt_ndim(out), os, w)));
    if (keep) {
        ck_assert_int_eq(lt_backward(loss), LT_OK);
        for (int i = 0; i < k->nin; i++) keep[i] = in[i];
    }
    return lt_item(loss);
}

static void fd_check(const fd_case *k) {
    float *x[MAX_IN], w[4096], h = 1e-2f;
    test_fill(w, 4096, 5, -1.0f, 1.0f, 0.0f);
    for (int i = 0; i < k->nin; i++) {
        x[i] = malloc((size_t)numel_of(k, i) * sizeof *x[i]);
        test_fill(x[i], numel_of(k, i), 7 + (uint64_t)i, -2.0f, 2.0f, 0.0f);
    }
    lt_tensor_t *in[MAX_IN];
    fd_loss(k, x, w, in);
    for (int i = 0; i < k->nin; i++) {
        float *g = test_host(lt_grad(in[i]));
        for (int64_t e = 0; e < numel_of(k, i); e++) {
            float v = x[i][e];
            x[i][e] = v + h;
            double up = fd_loss(k, x, w, NULL);
            x[i][e] = v - h;
            double down = fd_loss(k, x, w, NULL);
            x[i][e] = v;
            double num = (up - down) / (2.0 * h);
            ck_assert_msg(fabs(num - g[e]) <= 2e-2 * fabs(num) + 5e-3,
                          "%s: d/d in%d[%lld]: autograd %.6g, finite differences %.6g", k->what, i,
                          (long long)e, g[e], num);
        }
        free(g);
    }
    for (int i = 0; i < k->nin; i++) free(x[i]);
    lt_arena_reset(test_arena);
}

static lt_tensor_t *fd_group_norm(lt_tensor_t **in, lt_tensor_t *l, lt_tensor_t *w) {
    (void)l, (void)w;
    return lt_group_norm(in[0], 2, in[1], in[2], 1e-5);
}
static lt_tensor_t *fd_nll(lt_tensor_t **in, lt_tensor_t *l, lt_tensor_t *w) {
    return lt_nll_loss(in[0], l, w, 2, LT_REDUCTION_MEAN);
}
static lt_tensor_t *fd_ce_smooth(lt_tensor_t **in, lt_tensor_t *l, lt_tensor_t *w) {
    return lt_cross_entropy_ex(in[0], l, w, LT_IGNORE_INDEX, LT_REDUCTION_MEAN, 0.25);
}
static lt_tensor_t *fd_ce_none(lt_tensor_t **in, lt_tensor_t *l, lt_tensor_t *w) {
    return lt_cross_entropy_ex(in[0], l, w, 0, LT_REDUCTION_NONE, 0.1);
}
static lt_tensor_t *fd_smooth_l1(lt_tensor_t **in, lt_tensor_t *l, lt_tensor_t *w) {
    (void)l, (void)w;
    return lt_smooth_l1_loss(in[0], in[1], LT_REDUCTION_MEAN, 0.7);
}
static lt_tensor_t *fd_huber(lt_tensor_t **in, lt_tensor_t *l, lt_tensor_t *w) {
    (void)l, (void)w;
    return lt_huber_loss(in[0], in[1], LT_REDUCTION_SUM, 1.5);
}

/* Regression inputs are U(-2, 2): a few elements sit within h of the band's edge, where
 * the second derivative jumps by 1 / beta; the tolerance (2% + 5e-3) covers them. */
START_TEST(losses_match_finite_differences) {
    static const fd_case cases[] = {
        {"group_norm", fd_group_norm, 3, {4, 1, 1}, {{2, 4, 3, 2}, {4}, {4}}, {0}, false},
        {"nll_loss weight ignore_index", fd_nll, 1, {2}, {{6, 4}}, {1, 2, 3, 0, 2, 1}, true},
        {"cross_entropy label_smoothing",
         fd_ce_smooth,
         1,
         {2},
         {{5, 3}},
         {2, 0, -100, 1, 2},
         false},
        {"cross_entropy none weight", fd_ce_none, 1, {2}, {{4, 5}}, {4, 0, 3, 1}, true},
        {"smooth_l1_loss", fd_smooth_l1, 2, {2, 2}, {{3, 4}, {3, 4}}, {0}, false},
        {"huber_loss", fd_huber, 2, {1, 1}, {{9}, {9}}, {0}, false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) fd_check(&cases[i]);
}
END_TEST

static void expect_refusal(lt_tensor_t *got, const char *words) {
    ck_assert_ptr_null(got);
    ck_assert_msg(strstr(lt_last_error(), words) != NULL, "error '%s' lacks '%s'", lt_last_error(),
                  words);
    lt_clear_error();
}

/* The (N, C, d1, ..., dK) class losses: fixed labels (some ignored) of the input's shape
 * less its class dimension, class weights 0.5, 1, 1.5, ... */
static lt_tensor_t *nd_labels(const lt_tensor_t *x, int64_t ignore) {
    int64_t shape[LT_MAX_DIMS], n = 1, c = lt_dim(x, 1), labels[256];
    shape[0] = lt_dim(x, 0);
    for (int d = 2; d < lt_ndim(x); d++) shape[d - 1] = lt_dim(x, d);
    for (int d = 0; d < lt_ndim(x) - 1; d++) n *= shape[d];
    ck_assert_int_le(n, 256);
    for (int64_t i = 0; i < n; i++) labels[i] = i % 5 == 3 ? ignore : (i * 7 + 2) % c;
    return lt_from_host(test_arena, LT_I64, lt_ndim(x) - 1, shape, labels);
}
static lt_tensor_t *nd_weight(const lt_tensor_t *x) {
    int64_t c = lt_dim(x, 1);
    float w[16];
    for (int j = 0; j < 16; j++) w[j] = 0.5f * (float)(j + 1);
    return lt_from_host(test_arena, LT_F32, 1, &c, w);
}
static lt_tensor_t *fd_nll_k1_none(lt_tensor_t **in) {
    return lt_nll_loss(in[0], nd_labels(in[0], 1), nd_weight(in[0]), 1, LT_REDUCTION_NONE);
}
static lt_tensor_t *fd_ce_k2_weight_smooth_mean(lt_tensor_t **in) {
    return lt_cross_entropy_ex(in[0], nd_labels(in[0], LT_IGNORE_INDEX), nd_weight(in[0]),
                               LT_IGNORE_INDEX, LT_REDUCTION_MEAN, 0.2);
}
static lt_tensor_t *fd_ce_k1_smooth_sum(lt_tensor_t **in) {
    return lt_cross_entropy_ex(in[0], nd_labels(in[0], 0), NULL, 0, LT_REDUCTION_SUM, 0.1);
}
static lt_tensor_t *fd_ce_k2_none(lt_tensor_t **in) {
    return lt_cross_entropy_ex(in[0], nd_labels(in[0], 2), NULL, 2, LT_REDUCTION_NONE, 0.0);
}

START_TEST(losses_nd_match_finite_differences) {
    test_fd_check("nll_loss (N, C, d) weight ignore_index none", fd_nll_k1_none, 1,
                  (test_fd_input[]){{3, {2, 4, 3}, 0, 0}}, 1e-2f);
    test_fd_check("cross_entropy (N, C, d1, d2) weight smoothing mean", fd_ce_k2_weight_smooth_mean,
                  1, (test_fd_input[]){{4, {2, 3, 2, 3}, 0, 0}}, 1e-2f);
    test_fd_check("cross_entropy (N, C, d) ignore_index smoothing sum", fd_ce_k1_smooth_sum, 1,
                  (test_fd_input[]){{3, {3, 4, 2}, 0, 0}}, 1e-2f);
    test_fd_check("cross_entropy (N, C, d1, d2) ignore_index none", fd_ce_k2_none, 1,
                  (test_fd_input[]){{4, {2, 3, 2, 2}, 0, 0}}, 1e-2f);
}
END_TEST

/* (N, C, d1, d2): the target must be (N, d1, d2); a bad label names its sample and its
 * position there; NONE gives the target's shape. */
START_TEST(losses_nd_shapes_and_refusals) {
    lt_tensor_t *x = lt_full(test_arena, 4, (int64_t[]){2, 3, 2, 2}, 0.5f);
    int64_t labels[8] = {0, 1, 2, 0, 1, 2, 0, 1};
    lt_tensor_t *y = lt_from_host(test_arena, LT_I64, 3, (int64_t[]){2, 2, 2}, labels);
    lt_tensor_t *flat = lt_from_host(test_arena, LT_I64, 2, (int64_t[]){2, 4}, labels);
    lt_tensor_t *none = lt_cross_entropy_ex(x, y, NULL, -100, LT_REDUCTION_NONE, 0.1);
    ck_assert_ptr_nonnull(none);
    ck_assert_int_eq(lt_ndim(none), 3);
    ck_assert_int_eq(lt_dim(none, 0), 2);
    ck_assert_int_eq(lt_dim(none, 2), 2);
    expect_refusal(lt_nll_loss(x, flat, NULL, -100, LT_REDUCTION_MEAN),
                   "target (N, d1, ..., dK), got (2, 3, 2, 2) and (2, 4)");
    labels[6] = 5;
    lt_tensor_t *bad = lt_from_host(test_arena, LT_I64, 3, (int64_t[]){2, 2, 2}, labels);
    if (lt_tensor_host_memory(x))
        expect_refusal(lt_cross_entropy_ex(x, bad, NULL, -100, LT_REDUCTION_MEAN, 0.0),
                       "target 5 of sample 1 (position 2) is outside [0, 3)");
    /* uniform logits: every kept position's loss is log C, whatever K */
    labels[6] = -100;
    lt_tensor_t *some = lt_from_host(test_arena, LT_I64, 3, (int64_t[]){2, 2, 2}, labels);
    double mean = lt_item(lt_cross_entropy_ex(x, some, NULL, -100, LT_REDUCTION_MEAN, 0.0));
    ck_assert_msg(fabs(mean - log(3.0)) < 1e-6, "mean %.9g", mean);
    /* lt_cross_entropy (the fused kernel) takes (N, C, d1, d2) too */
    float v[24];
    test_fill(v, 24, 3, -3.0f, 3.0f, 0.0f);
    lt_tensor_t *r = lt_from_host(test_arena, LT_F32, 4, (int64_t[]){2, 3, 2, 2}, v);
    double a = lt_item(lt_cross_entropy(r, y));
    double b = lt_item(lt_cross_entropy_ex(r, y, NULL, LT_IGNORE_INDEX, LT_REDUCTION_MEAN, 0.0));
    ck_assert_msg(fabs(a - b) <= 1e-6 * fabs(a), "%.9g vs %.9g", a, b);
    expect_refusal(lt_cross_entropy(r, flat), "(N, d1, ..., dK), got (2, 3, 2, 2) and (2, 4)");
}
END_TEST

/* ---- refusals: one clear error each ------------------------------------------------- */

START_TEST(losses_refuse_bad_arguments) {
    int64_t labels[3] = {0, 4, 1}, three = 3;
    lt_tensor_t *x = lt_full(test_arena, 2, (int64_t[]){3, 4}, 0.5f);
    lt_tensor_t *x4 = lt_full(test_arena, 4, (int64_t[]){2, 6, 2, 2}, 0.5f);
    lt_tensor_t *y = lt_from_host(test_arena, LT_I64, 1, &three, labels);
    lt_tensor_t *yf = lt_full(test_arena, 1, &three, 1.0f);
    lt_tensor_t *w3 = lt_full(test_arena, 1, &three, 1.0f);
    expect_refusal(lt_nll_loss(x, y, NULL, LT_IGNORE_INDEX, LT_REDUCTION_MEAN),
                   "target 4 of sample 1 is outside [0, 4)");
    expect_refusal(lt_cross_entropy_ex(x, yf, NULL, -100, LT_REDUCTION_MEAN, 0.0),
                   "target must be int64");
    labels[1] = 2;
    lt_tensor_t *ok = lt_from_host(test_arena, LT_I64, 1, &three, labels);
    expect_refusal(lt_nll_loss(x, ok, w3, -100, LT_REDUCTION_SUM), "weight must be float32 (C)");
    expect_refusal(lt_nll_loss(x, ok, NULL, -100, (lt_reduction)7), "reduction 7");
    expect_refusal(lt_cross_entropy_ex(x, ok, NULL, -100, LT_REDUCTION_MEAN, 1.5),
                   "label_smoothing is 1.5");
    expect_refusal(lt_cross_entropy_ex(x4, ok, NULL, -100, LT_REDUCTION_MEAN, 0.0),
                   "expected input (N, C) and target (N)");
    expect_refusal(lt_group_norm(x4, 4, NULL, NULL, 1e-5), "divide the channels");
    expect_refusal(lt_group_norm(x4, 3, w3, NULL, 1e-5), "weight and bias must be float32 (C)");
    expect_refusal(lt_smooth_l1_loss(x, yf, LT_REDUCTION_MEAN, 1.0), "differ in shape");
    expect_refusal(lt_smooth_l1_loss(x, x, LT_REDUCTION_MEAN, -1.0), "beta is -1");
    expect_refusal(lt_huber_loss(x, x, LT_REDUCTION_MEAN, 0.0), "delta is 0");
    /* an ignore_index row is not an error, and every row ignored is NaN as in torch */
    int64_t all_ignored[3] = {-100, -100, -100};
    lt_tensor_t *ign = lt_from_host(test_arena, LT_I64, 1, &three, all_ignored);
    ck_assert(isnan(lt_item(lt_nll_loss(x, ign, NULL, -100, LT_REDUCTION_MEAN))));
    ck_assert_double_eq(lt_item(lt_nll_loss(x, ign, NULL, -100, LT_REDUCTION_SUM)), 0.0);
}
END_TEST

/* lt_cross_entropy_ex with torch's defaults is lt_cross_entropy. */
START_TEST(cross_entropy_ex_defaults_match_cross_entropy) {
    int64_t n = 6, labels[6] = {0, 3, 2, 1, 3, 0};
    float v[24];
    test_fill(v, 24, 3, -3.0f, 3.0f, 0.0f);
    lt_tensor_t *x = lt_from_host(test_arena, LT_F32, 2, (int64_t[]){6, 4}, v);
    lt_tensor_t *y = lt_from_host(test_arena, LT_I64, 1, &n, labels);
    double a = lt_item(lt_cross_entropy(x, y));
    double b = lt_item(lt_cross_entropy_ex(x, y, NULL, LT_IGNORE_INDEX, LT_REDUCTION_MEAN, 0.0));
    ck_assert_msg(fabs(a - b) <= 1e-6 * fabs(a), "%.9g vs %.9g", a, b);
}
END_TEST

/* nn.GroupNorm: torch's parameter names and initial values, the functional op's result,
 * no parameters without affine, and a clear refusal of groups that do not divide C. */
START_TEST(groupnorm_layer_is_torchs) {
    lt_ctx_t *ctx = lt_ctx_new(test_dev, "gnmod", NULL, 0, 1);
    lt_groupnorm_t *gn = lt_groupnorm(ctx, "gn", 2, 6, true);
    lt_groupnorm_t *plain = lt_groupnorm(ctx, "plain", 3, 6, false);
    ck_assert_ptr_nonnull(gn);
    ck_assert_ptr_nonnull(plain);
    ck_assert_ptr_null(plain->weight);
    ck_assert_ptr_null(lt_groupnorm(ctx, "bad", 4, 6, true));
    ck_assert_msg(strstr(lt_last_error(), "num_groups (4) must be positive and divide"), "%s",
                  lt_last_error());
    lt_clear_error();
    ck_assert_int_eq(lt_ctx_materialize(ctx), LT_OK);
    ck_assert_int_eq(lt_ctx_num_params(ctx), 2);
    const char *name;
    float *w = test_host(lt_ctx_param(ctx, 0, &name));
    ck_assert_str_eq(name, "gn.weight");
    ck_assert_float_eq(w[5], 1.0f);
    free(w);
    lt_ctx_param(ctx, 1, &name);
    ck_assert_str_eq(name, "gn.bias");
    float v[48];
    test_fill(v, 48, 9, -2.0f, 2.0f, 0.0f);
    lt_tensor_t *x = lt_from_host(lt_ctx_arena(ctx), LT_F32, 3, (int64_t[]){2, 6, 4}, v);
    float *a = test_host(lt_groupnorm_forward(gn, x));
    float *b = test_host(lt_group_norm(x, 2, NULL, NULL, 1e-5));
    ck_assert_mem_eq(a, b, sizeof v);
    free(a);
    free(b);
    lt_ctx_free(ctx);
}
END_TEST

Suite *suite_losses(void) {
    Suite *s = suite_create("losses");
    TCase *tc = tcase_create("torch");
    tcase_add_loop_test(tc, losses_match_torch, 0, TEST_ACCELERATORS);
    tcase_add_loop_test(tc, losses_nd_match_torch, 0, TEST_ACCELERATORS);
    suite_add_tcase(s, tc);
    TCase *fd = tcase_create("finite_differences");
    tcase_add_checked_fixture(fd, test_open, test_close);
    tcase_add_test(fd, losses_match_finite_differences);
    tcase_add_test(fd, losses_nd_match_finite_differences);
    tcase_add_test(fd, losses_nd_shapes_and_refusals);
    tcase_add_test(fd, losses_refuse_bad_arguments);
    tcase_add_test(fd, cross_entropy_ex_defaults_match_cross_entropy);
    tcase_add_test(fd, groupnorm_layer_is_torchs);
    tcase_set_timeout(fd, 120);
    suite_add_tcase(s, fd);
    return s;
}
