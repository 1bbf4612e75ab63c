/* Optimizers against PyTorch's update formulas, computed here by hand in double. */
#include <math.h>
#include <string.h>

#include "test_util.h"

#define N 4
static const float p0[N] = {0.5f, -1.0f, 2.0f, 0.0f};
/* Step k's gradient is coef[k] * c, from the loss sum(p * coef[k] * c). */
static const float c[N] = {0.3f, -0.7f, 1.1f, 0.05f};
static const float coef[3] = {1.0f, -0.5f, 2.0f};

/* Run `steps` updates of opt on a parameter starting at p0; returns its final value. */
static void run(lt_tensor_t *p, lt_optimizer_t *opt, int steps, float *out) {
    ck_assert_msg(opt != NULL, "%s", lt_last_error());
    for (int k = 0; k < steps; k++) {
        ck_assert_int_eq(lt_optimizer_zero_grad(opt), LT_OK);
        float g[N];
        for (int i = 0; i < N; i++) g[i] = coef[k] * c[i];
        lt_tensor_t *tg = lt_from_host(test_arena, LT_F32, 1, (int64_t[]){N}, g);
        ck_assert_int_eq(lt_backward(lt_sum(lt_mul(p, tg))), LT_OK);
        ck_assert_int_eq(lt_optimizer_step(opt), LT_OK);
    }
    ck_assert_int_eq(lt_to_host(p, out, N * sizeof(float)), LT_OK);
    lt_optimizer_free(opt);
}

static lt_tensor_t *param(void) {
    lt_tensor_t *p = lt_from_host(test_arena, LT_F32, 1, (int64_t[]){N}, p0);
    lt_set_requires_grad(p, true);
    return p;
}

static lt_param_list_t *list_of(lt_tensor_t *p) {
    lt_param_list_t *l = lt_param_list_new();
    ck_assert_int_eq(lt_param_list_add(l, p), LT_OK);
    return l;
}

static void sgd_ref(double lr, double mom, double damp, double wd, bool nesterov, int steps,
                    double *p) {
    double buf[N];
    for (int i = 0; i < N; i++) p[i] = p0[i];
    for (int k = 0; k < steps; k++) {
        for (int i = 0; i < N; i++) {
            double g = coef[k] * c[i] + wd * p[i];
            if (mom != 0) {
                buf[i] = k == 0 ? g : mom * buf[i] + (1 - damp) * g;
                g = nesterov ? g + mom * buf[i] : buf[i];
            }
            p[i] -= lr * g;
        }
    }
}

static void adam_ref(double lr, double b1, double b2, double eps, double wd, bool decoupled,
                     int steps, double *p) {
    double m[N] = {0}, v[N] = {0};
    for (int i = 0; i < N; i++) p[i] = p0[i];
    for (int k = 1; k <= steps; k++) {
        for (int i = 0; i < N; i++) {
            double g = coef[k - 1] * c[i];
            if (decoupled)
                p[i] *= 1 - lr * wd;
            else
                g += wd * p[i];
            m[i] = b1 * m[i] + (1 - b1) * g;
            v[i] = b2 * v[i] + (1 - b2) * g * g;
            double mhat = m[i] / (1 - pow(b1, k)), vhat = v[i] / (1 - pow(b2, k));
            p[i] -= lr * mhat / (sqrt(vhat) + eps);
        }
    }
}

static void expect_close(const float *got, const double *want, const char *what) {
    for (int i = 0; i < N; i++)
        ck_assert_msg(fabs(got[i] - want[i]) <= 1e-6 + 1e-5 * fabs(want[i]),
                      "%s: element %d is %.8f, expected %.8f", what, i, got[i], want[i]);
}

START_TEST(sgd_plain_one_step_by_hand) {
    float got[N];
    lt_tensor_t *p = param();
    run(p, lt_sgd(list_of(p), 0.1), 1, got);
    /* p - 0.1 * c */
    const double want[N] = {0.47, -0.93, 1.89, -0.005};
    expect_close(got, want, "SGD lr=0.1");
}
END_TEST

START_TEST(sgd_variants) {
    struct {
        double lr, mom, damp, wd;
        bool nesterov;
    } v[] = {
        {0.1, 0.9, 0.0, 0.0, false},
        {0.05, 0.9, 0.1, 0.01, false},
        {0.1, 0.8, 0.0, 0.001, true},
    };
    for (size_t k = 0; k < sizeof v / sizeof v[0]; k++) {
        float got[N];
        double want[N];
        lt_tensor_t *p = param();
        run(p, lt_sgd_ex(list_of(p), v[k].lr, v[k].mom, v[k].damp, v[k].wd, v[k].nesterov), 3, got);
        sgd_ref(v[k].lr, v[k].mom, v[k].damp, v[k].wd, v[k].nesterov, 3, want);
        expect_close(got, want, "SGD variant");
    }
}
END_TEST

START_TEST(adam_and_adamw) {
    float got[N];
    double want[N];
    lt_tensor_t *p = param();
    run(p, lt_adam(list_of(p), 1e-2), 3, got);
    adam_ref(1e-2, 0.9, 0.999, 1e-8, 0.0, false, 3, want);
    expect_close(got, want, "Adam");
    /* First Adam step moves every element by lr against the gradient's sign. */
    p = param();
    run(p, lt_adam(list_of(p), 1e-2), 1, got);
    for (int i = 0; i < N; i++)
        ck_assert_float_eq_tol(got[i], p0[i] - 1e-2f * (c[i] > 0 ? 1 : -1), 1e-6f);
    p = param();
    run(p, lt_adam_ex(list_of(p), 1e-2, 0.8, 0.99, 1e-6, 0.1), 3, got);
    adam_ref(1e-2, 0.8, 0.99, 1e-6, 0.1, false, 3, want);
    expect_close(got, want, "Adam weight_decay");
    p = param();
    run(p, lt_adamw(list_of(p), 1e-2, 0.1), 3, got);
    adam_ref(1e-2, 0.9, 0.999, 1e-8, 0.1, true, 3, want);
    expect_close(got, want, "AdamW");
}
END_TEST

START_TEST(bad_hyper_parameters) {
    lt_tensor_t *p = param();
    ck_assert_ptr_null(lt_sgd(list_of(p), -1.0));
    ck_assert_int_eq(lt_last_status(), LT_ERR_INVALID_ARG);
    ck_assert_ptr_null(lt_sgd_ex(list_of(p), 0.1, 0.0, 0.0, 0.0, true));
    ck_assert_ptr_nonnull(strstr(lt_last_error(), "nesterov"));
    ck_assert_ptr_null(lt_adam_ex(list_of(p), 0.1, 1.0, 0.9, 1e-8, 0));
    ck_assert_ptr_null(lt_adam(lt_param_list_new(), 0.1));
    ck_assert_ptr_nonnull(strstr(lt_last_error(), "empty parameter list"));
}
END_TEST

/* NaN and infinities are refused too, naming the value (checkpoint restore shares these
 * rules), and the boundary values torch accepts still build. */
START_TEST(non_finite_hyper_parameters) {
    static const struct {
        int kind;
        double lr, a, b, c, wd;
        const char *key;
    } bad[] = {
        {0, NAN, 0.0, 0.0, 0.0, 0.0, "lr"},
        {0, INFINITY, 0.0, 0.0, 0.0, 0.0, "lr"},
        {0, 0.1, NAN, 0.0, 0.0, 0.0, "momentum"},
        {0, 0.1, INFINITY, 0.0, 0.0, 0.0, "momentum"},
        {0, 0.1, 0.9, NAN, 0.0, 0.0, "dampening"},
        {0, 0.1, 0.0, 0.0, 0.0, INFINITY, "weight_decay"},
        {1, 0.1, 0.9, 0.999, INFINITY, 0.0, "eps"},
        {1, 0.1, NAN, 0.999, 1e-8, 0.0, "beta1"},
        {1, 0.1, 0.9, 0.999, 1e-8, INFINITY, "weight_decay"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        lt_tensor_t *p = param();
        lt_optimizer_t *o =
            bad[i].kind == 0
                ? lt_sgd_ex(list_of(p), bad[i].lr, bad[i].a, bad[i].b, bad[i].wd, false)
                : lt_adam_ex(list_of(p), bad[i].lr, bad[i].a, bad[i].b, bad[i].c, bad[i].wd);
        ck_assert_msg(o == NULL, "case %zu (%s) was accepted", i, bad[i].key);
        ck_assert_int_eq(lt_last_status(), LT_ERR_INVALID_ARG);
        ck_assert_msg(strstr(lt_last_error(), bad[i].key), "case %zu: %s", i, lt_last_error());
    }
    lt_tensor_t *p = param();
    lt_optimizer_t *o = lt_sgd_ex(list_of(p), 0.0, 0.0, -1.0, 0.0, false);
    ck_assert_msg(o != NULL, "%s", lt_last_error());
    lt_optimizer_free(o);
    o = lt_adam_ex(list_of(p), 0.0, 0.0, 0.0, 0.0, 0.0);
    ck_assert_msg(o != NULL, "%s", lt_last_error());
    lt_optimizer_free(o);
}
END_TEST

/* torch.nn.utils.clip_grad_norm_ / clip_grad_value_ on the gradient c. */
START_TEST(gradient_clipping) {
    for (int by_value = 0; by_value < 2; by_value++) {
        lt_tensor_t *p = param();
        lt_optimizer_t *opt = lt_sgd(list_of(p), 0.1);
        ck_assert_int_eq(lt_optimizer_zero_grad(opt), LT_OK);
        lt_tensor_t *tc = lt_from_host(test_arena, LT_F32, 1, (int64_t[]){N}, c);
        ck_assert_int_eq(lt_backward(lt_sum(lt_mul(p, tc))), LT_OK);
        double norm = 0, want_norm = 0;
        for (int i = 0; i < N; i++) want_norm += (double)c[i] * c[i];
        want_norm = sqrt(want_norm);
        if (by_value)
            ck_assert_int_eq(lt_clip_grad_value(opt, 0.5), LT_OK);
        else
            ck_assert_int_eq(lt_clip_grad_norm(opt, 0.5, &norm), LT_OK);
        float *g = test_host(lt_grad(p));
        for (int i = 0; i < N; i++) {
            double want =
                by_value ? fmin(fmax(c[i], -0.5), 0.5) : c[i] * (0.5 / (want_norm + 1e-6));
            ck_assert_msg(fabs(g[i] - want) < 1e-6, "%s g[%d] = %g, want %g",
                          by_value ? "value" : "norm", i, g[i], want);
        }
        if (!by_value)
            ck_assert_msg(fabs(norm - want_norm) < 1e-6, "norm %g, want %g", norm, want_norm);
        free(g);
        /* Below the threshold the gradients stay as they are. */
        ck_assert_int_eq(lt_clip_grad_norm(opt, 100.0, NULL), LT_OK);
        lt_optimizer_free(opt);
    }
    ck_assert_int_eq(lt_clip_grad_norm(NULL, 1.0, NULL), LT_ERR_INVALID_ARG);
}
END_TEST

Suite *suite_optim(void) {
    Suite *s = suite_create("optim");
    TCase *tc = tcase_create("updates");
    tcase_add_checked_fixture(tc, test_open, test_close);
    tcase_add_test(tc, sgd_plain_one_step_by_hand);
    tcase_add_test(tc, sgd_variants);
    tcase_add_test(tc, adam_and_adamw);
    tcase_add_test(tc, bad_hyper_parameters);
    tcase_add_test(tc, non_finite_hyper_parameters);
    tcase_add_test(tc, gradient_clipping);
    suite_add_tcase(s, tc);
    return s;
}
