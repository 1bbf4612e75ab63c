/* Learning-rate schedulers against torch.optim.lr_scheduler: the trajectories of
 * tests/fixtures/schedulers.safetensors (written by tests/reference/make_sched_fixtures.py,
 * F64, base lr 0.1) must match to 1e-12 relative (the formulas are torch's, in double, so
 * they are exact in practice); then the argument and state errors. */
#include <math.h>
#include <string.h>

#include <lt/runtime.h>

#include "test_util.h"

#define BASE_LR 0.1

/* ---- helpers ------------------------------------------------------------------------- */

typedef enum { OPT_PLAIN_SGD, OPT_MOMENTUM_SGD, OPT_ADAM } opt_kind;

/* An optimizer with base lr 0.1 over one dummy parameter (no update is ever run). */
static lt_optimizer_t *make_opt(opt_kind kind) {
    lt_tensor_t *p = lt_from_host(test_arena, LT_F32, 1, (int64_t[]){1}, (float[]){0.0f});
    ck_assert_int_eq(lt_set_requires_grad(p, true), LT_OK);
    lt_param_list_t *l = lt_param_list_new();
    ck_assert_int_eq(lt_param_list_add(l, p), LT_OK);
    lt_optimizer_t *o = kind == OPT_ADAM           ? lt_adam(l, BASE_LR)
                        : kind == OPT_MOMENTUM_SGD ? lt_sgd_ex(l, BASE_LR, 0.9, 0, 0, false)
                                                   : lt_sgd(l, BASE_LR);
    ck_assert_msg(o != NULL, "%s", lt_last_error());
    return o;
}

static lt_st_file_t *open_fixture(void) {
    const char *dir = getenv("LT_FIXTURE_DIR");
    ck_assert_msg(dir != NULL, "LT_FIXTURE_DIR is not set (tests/fixtures of the source tree)");
    char path[1024];
    snprintf(path, sizeof path, "%s/schedulers.safetensors", dir);
    lt_st_file_t *f = NULL;
    ck_assert_msg(lt_st_open(path, &f) == LT_OK, "%s", lt_last_error());
    ck_assert_str_eq(lt_st_meta(f, "format"), "lthost-parity-1");
    return f;
}

/* Tensor "<case>/<key>" as a new array of doubles (caller frees); NULL if absent. */
static double *read_f64(lt_st_file_t *f, const char *c, const char *key, int64_t *n) {
    char name[256];
    snprintf(name, sizeof name, "%s/%s", c, key);
    const lt_st_tensor *t = lt_st_find(f, name);
    if (!t) return NULL;
    ck_assert_msg(t->dtype == LT_ST_F64 && t->ndim == 1, "%s is not a 1-D F64 tensor", name);
    double *v = malloc(t->nbytes);
    memcpy(v, t->data, t->nbytes); /* the file data may be unaligned */
    *n = t->numel;
    return v;
}

static void expect_value(const char *c, const char *what, int64_t k, double got, double want) {
    ck_assert_msg(fabs(got - want) <= 1e-12 * fabs(want),
                  "%s: %s after step %lld is %.17g, torch %.17g", c, what, (long long)k, got, want);
}

/* ---- the fixture cases --------------------------------------------------------------- */

typedef struct {
    const char *name;
    opt_kind opt;
    lt_scheduler_t *(*make)(lt_optimizer_t *opt);
    const char *sched_name;
} sched_case;

static lt_scheduler_t *mk_step(lt_optimizer_t *o) { return lt_step_lr(o, 3, 0.5); }
static lt_scheduler_t *mk_multistep(lt_optimizer_t *o) {
    return lt_multistep_lr(o, (const int64_t[]){2, 5, 5, 8}, 4, 0.3);
}
static lt_scheduler_t *mk_exp(lt_optimizer_t *o) { return lt_exponential_lr(o, 0.9); }
static lt_scheduler_t *mk_cosine(lt_optimizer_t *o) { return lt_cosine_annealing_lr(o, 7, 0.01); }
static lt_scheduler_t *mk_onecycle_cos(lt_optimizer_t *o) {
    lt_onecycle_opts oc = LT_ONECYCLE_DEFAULTS(0.5, 25);
    return lt_onecycle_lr(o, &oc);
}
static lt_scheduler_t *mk_onecycle_linear3(lt_optimizer_t *o) {
    lt_onecycle_opts oc = LT_ONECYCLE_DEFAULTS(0.02, 30);
    oc.anneal_cos = 0;
    oc.three_phase = 1;
    return lt_onecycle_lr(o, &oc);
}
static lt_scheduler_t *mk_plateau_min(lt_optimizer_t *o) {
    lt_plateau_opts p = LT_PLATEAU_DEFAULTS;
    p.factor = 0.5;
    p.patience = 2;
    p.cooldown = 1;
    p.min_lr = 0.02;
    return lt_reduce_lr_on_plateau(o, &p);
}
static lt_scheduler_t *mk_plateau_max(lt_optimizer_t *o) {
    lt_plateau_opts p = LT_PLATEAU_DEFAULTS;
    p.mode_max = 1;
    p.factor = 0.3;
    p.patience = 1;
    p.cooldown = 2;
    p.threshold = 0.01;
    p.threshold_abs = 1;
    return lt_reduce_lr_on_plateau(o, &p);
}

/* The same cases, in the same order, as CASES in make_sched_fixtures.py. */
static const sched_case cases[] = {
    {"step", OPT_PLAIN_SGD, mk_step, "StepLR"},
    {"multistep", OPT_PLAIN_SGD, mk_multistep, "MultiStepLR"},
    {"exponential", OPT_PLAIN_SGD, mk_exp, "ExponentialLR"},
    {"cosine", OPT_PLAIN_SGD, mk_cosine, "CosineAnnealingLR"},
    {"onecycle_cos_sgd", OPT_MOMENTUM_SGD, mk_onecycle_cos, "OneCycleLR"},
    {"onecycle_linear3_adam", OPT_ADAM, mk_onecycle_linear3, "OneCycleLR"},
    {"plateau_min_rel", OPT_PLAIN_SGD, mk_plateau_min, "ReduceLROnPlateau"},
    {"plateau_max_abs", OPT_PLAIN_SGD, mk_plateau_max, "ReduceLROnPlateau"},
};
#define NCASES (int)(sizeof cases / sizeof cases[0])

/* lr (and momentum) after construction and after each step, against the fixture. */
static void run_case(lt_st_file_t *f, const sched_case *c) {
    int64_t n = 0, nm = 0, nmet = 0;
    double *lr = read_f64(f, c->name, "lr", &n), *mom = read_f64(f, c->name, "momentum", &nm);
    double *metric = read_f64(f, c->name, "metric", &nmet);
    ck_assert_msg(lr != NULL && n >= 2, "%s: fixture has no lr trajectory", c->name);
    ck_assert(!mom || nm == n);
    ck_assert(!metric || nmet == n - 1);
    lt_optimizer_t *opt = make_opt(c->opt);
    lt_scheduler_t *s = c->make(opt);
    ck_assert_msg(s != NULL, "%s: %s", c->name, lt_last_error());
    ck_assert_str_eq(lt_scheduler_name(s), c->sched_name);
    ck_assert(lt_scheduler_needs_metric(s) == (metric != NULL));
    ck_assert_ptr_eq(lt_scheduler_optimizer(s), opt);
    for (int64_t k = 0; k < n; k++) {
        if (k > 0) {
            lt_status st =
                metric ? lt_scheduler_step_metric(s, metric[k - 1]) : lt_scheduler_step(s);
            ck_assert_msg(st == LT_OK, "%s step %lld: %s", c->name, (long long)k, lt_last_error());
        }
        ck_assert_int_eq(lt_scheduler_last_epoch(s), k);
        expect_value(c->name, "last_lr", k, lt_scheduler_last_lr(s), lr[k]);
        expect_value(c->name, "optimizer lr", k, lt_optimizer_lr(opt), lr[k]);
        if (mom) expect_value(c->name, "momentum", k, lt_optimizer_momentum(opt), mom[k]);
    }
    lt_scheduler_free(s);
    lt_optimizer_free(opt);
    free(lr);
    free(mom);
    free(metric);
}

START_TEST(torch_trajectories) {
    lt_st_file_t *f = open_fixture();
    char list[512] = "";
    for (int i = 0; i < NCASES; i++)
        snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? "," : "",
                 cases[i].name);
    ck_assert_str_eq(lt_st_meta(f, "cases"), list);
    for (int i = 0; i < NCASES; i++) run_case(f, &cases[i]);
    lt_st_close(f);
}
END_TEST

/* ---- behaviour and errors ------------------------------------------------------------ */

static void expect_error(lt_status want, const char *text) {
    ck_assert_msg(lt_last_status() == want, "status %s, expected %s (%s)",
                  lt_status_name(lt_last_status()), lt_status_name(want), lt_last_error());
    ck_assert_msg(strstr(lt_last_error(), text) != NULL, "error \"%s\" does not say \"%s\"",
                  lt_last_error(), text);
}

START_TEST(bad_arguments) {
    lt_optimizer_t *opt = make_opt(OPT_PLAIN_SGD);
    ck_assert_ptr_null(lt_step_lr(opt, 0, 0.5));
    expect_error(LT_ERR_INVALID_ARG, "StepLR: step_size must be >= 1 (got 0)");
    ck_assert_ptr_null(lt_step_lr(opt, 3, 0.0));
    expect_error(LT_ERR_INVALID_ARG, "StepLR: gamma must be finite and > 0 (got 0)");
    ck_assert_ptr_null(lt_exponential_lr(opt, NAN));
    expect_error(LT_ERR_INVALID_ARG, "ExponentialLR: gamma must be finite and > 0");
    ck_assert_ptr_null(lt_multistep_lr(opt, (const int64_t[]){3, -1}, 2, 0.1));
    expect_error(LT_ERR_INVALID_ARG, "MultiStepLR: every milestone must be >= 0 (got -1)");
    ck_assert_ptr_null(lt_multistep_lr(opt, NULL, 2, 0.1));
    expect_error(LT_ERR_INVALID_ARG, "milestones is NULL");
    ck_assert_ptr_null(lt_cosine_annealing_lr(opt, 0, 0.0));
    expect_error(LT_ERR_INVALID_ARG, "CosineAnnealingLR: t_max must be in [1, 2^62] (got 0)");
    ck_assert_ptr_null(lt_step_lr(NULL, 3, 0.5));
    expect_error(LT_ERR_INVALID_ARG, "optimizer is NULL");
    lt_plateau_opts p = LT_PLATEAU_DEFAULTS;
    p.factor = 1.0;
    ck_assert_ptr_null(lt_reduce_lr_on_plateau(opt, &p));
    expect_error(LT_ERR_INVALID_ARG, "factor must be in [0, 1) (got 1)");
    p = LT_PLATEAU_DEFAULTS;
    p.struct_size = 8;
    ck_assert_ptr_null(lt_reduce_lr_on_plateau(opt, &p));
    expect_error(LT_ERR_ABI, "struct_size is 8");
    lt_onecycle_opts oc = LT_ONECYCLE_DEFAULTS(1.0, 0);
    ck_assert_ptr_null(lt_onecycle_lr(opt, &oc));
    expect_error(LT_ERR_INVALID_ARG, "OneCycleLR: total_steps must be >= 1 (got 0)");
    oc = LT_ONECYCLE_DEFAULTS(1.0, 10);
    oc.pct_start = 1.5;
    ck_assert_ptr_null(lt_onecycle_lr(opt, &oc));
    expect_error(LT_ERR_INVALID_ARG, "pct_start must be in [0, 1] (got 1.5)");
    ck_assert(lt_optimizer_lr(opt) == BASE_LR); /* no failed constructor touched it */
    lt_optimizer_free(opt);
}
END_TEST

/* A config whose struct_size says it is shorter than this SDK's is refused without reading
 * past struct_size (ASan: the config is a heap block of exactly that size); a bad frequency
 * or interval is refused too, and a good config is kept. The scheduler is freed either way. */
START_TEST(use_scheduler_checks_the_config) {
    lt_ctx_t *ctx = lt_ctx_new(test_dev, "m", NULL, 0, 1);
    ck_assert_ptr_nonnull(ctx);
    lt_optimizer_t *opt = make_opt(OPT_PLAIN_SGD);
    uint32_t old_size = sizeof old_size; /* an SDK whose config held only struct_size */
    void *old = malloc(old_size);
    memcpy(old, &old_size, old_size);
    ck_assert_int_eq(lt_use_scheduler(ctx, lt_step_lr(opt, 2, 0.5), old), LT_ERR_INVALID_ARG);
    expect_error(LT_ERR_INVALID_ARG, "lt_use_scheduler: config struct_size too small");
    free(old);
    lt_scheduler_config c = LT_SCHEDULER_CONFIG(.interval = LT_INTERVAL_STEP);
    c.frequency = 0;
    ck_assert_int_eq(lt_use_scheduler(ctx, lt_step_lr(opt, 2, 0.5), &c), LT_ERR_INVALID_ARG);
    expect_error(LT_ERR_INVALID_ARG, "lt_use_scheduler: frequency must be >= 1");
    c = LT_SCHEDULER_CONFIG(.interval = (lt_interval)7);
    ck_assert_int_eq(lt_use_scheduler(ctx, lt_step_lr(opt, 2, 0.5), &c), LT_ERR_INVALID_ARG);
    expect_error(LT_ERR_INVALID_ARG, "lt_use_scheduler: interval must be step or epoch");
    ck_assert_int_eq(lt_use_scheduler(NULL, lt_step_lr(opt, 2, 0.5), NULL), LT_ERR_INVALID_ARG);
    expect_error(LT_ERR_INVALID_ARG, "lt_use_scheduler: NULL context");
    ck_assert_int_eq(lt_ctx_num_schedulers(ctx), 0);
    c = LT_SCHEDULER_CONFIG(.interval = LT_INTERVAL_STEP);
    c.frequency = 3;
    ck_assert_int_eq(lt_use_scheduler(ctx, lt_step_lr(opt, 2, 0.5), &c), LT_OK);
    ck_assert_int_eq(lt_use_scheduler(ctx, lt_step_lr(opt, 2, 0.5), NULL), LT_OK);
    lt_scheduler_config got;
    ck_assert_ptr_nonnull(lt_ctx_scheduler(ctx, 0, &got));
    ck_assert(got.interval == LT_INTERVAL_STEP && got.frequency == 3);
    ck_assert_str_eq(got.monitor, "val_loss");
    ck_assert_ptr_nonnull(lt_ctx_scheduler(ctx, 1, &got));
    ck_assert(got.interval == LT_INTERVAL_EPOCH && got.frequency == 1);
    lt_ctx_free(ctx);
    lt_optimizer_free(opt);
}
END_TEST

START_TEST(onecycle_past_total_steps) {
    lt_optimizer_t *opt = make_opt(OPT_MOMENTUM_SGD);
    lt_onecycle_opts oc = LT_ONECYCLE_DEFAULTS(1.0, 5);
    lt_scheduler_t *s = lt_onecycle_lr(opt, &oc);
    ck_assert_msg(s != NULL, "%s", lt_last_error());
    for (int k = 0; k < 5; k++) ck_assert_int_eq(lt_scheduler_step(s), LT_OK); /* as torch */
    const double lr = lt_optimizer_lr(opt), m = lt_optimizer_momentum(opt);
    ck_assert_int_eq(lt_scheduler_step(s), LT_ERR_STATE);
    expect_error(LT_ERR_STATE, "Tried to step 6 times. The specified number of total steps is 5");
    /* a failed step changes nothing */
    ck_assert_int_eq(lt_scheduler_last_epoch(s), 5);
    ck_assert(lt_optimizer_lr(opt) == lr && lt_optimizer_momentum(opt) == m);
    ck_assert(lt_scheduler_last_lr(s) == lr);
    lt_scheduler_free(s);
    lt_optimizer_free(opt);
}
END_TEST

START_TEST(onecycle_momentum_needs_support) {
    lt_optimizer_t *opt = make_opt(OPT_PLAIN_SGD);
    lt_onecycle_opts oc = LT_ONECYCLE_DEFAULTS(1.0, 10);
    ck_assert_ptr_null(lt_onecycle_lr(opt, &oc));
    expect_error(LT_ERR_INVALID_ARG, "must support momentum");
    ck_assert_int_eq(lt_optimizer_set_momentum(opt, 0.9), LT_ERR_INVALID_ARG);
    oc.cycle_momentum = 0; /* without cycling, plain SGD is fine */
    lt_scheduler_t *s = lt_onecycle_lr(opt, &oc);
    ck_assert_msg(s != NULL, "%s", lt_last_error());
    ck_assert(fabs(lt_optimizer_lr(opt) - 1.0 / 25) <= 1e-15);
    ck_assert(lt_optimizer_momentum(opt) == 0.0);
    lt_scheduler_free(s);
    lt_optimizer_free(opt);
    /* Adam's beta1 must stay in [0, 1). */
    opt = make_opt(OPT_ADAM);
    ck_assert(lt_optimizer_momentum(opt) == 0.9);
    oc = LT_ONECYCLE_DEFAULTS(1.0, 10);
    oc.max_momentum = 1.0;
    ck_assert_ptr_null(lt_onecycle_lr(opt, &oc));
    expect_error(LT_ERR_INVALID_ARG, "beta1 must be in [0, 1) (got 1)");
    ck_assert(lt_optimizer_momentum(opt) == 0.9 && lt_optimizer_lr(opt) == BASE_LR);
    lt_optimizer_free(opt);
}
END_TEST

/* pct_start * total_steps = 1 makes the warm-up phase empty: torch divides by zero. */
START_TEST(onecycle_empty_phase) {
    lt_optimizer_t *opt = make_opt(OPT_MOMENTUM_SGD);
    lt_onecycle_opts oc = LT_ONECYCLE_DEFAULTS(1.0, 10);
    oc.pct_start = 0.1;
    ck_assert_ptr_null(lt_onecycle_lr(opt, &oc));
    expect_error(LT_ERR_INVALID_ARG, "phase 1, which has no steps");
    ck_assert(lt_optimizer_lr(opt) == BASE_LR && lt_optimizer_momentum(opt) == 0.9);
    lt_optimizer_free(opt);
}
END_TEST

START_TEST(plateau_needs_a_metric) {
    lt_optimizer_t *opt = make_opt(OPT_PLAIN_SGD);
    lt_plateau_opts p = LT_PLATEAU_DEFAULTS;
    lt_scheduler_t *s = lt_reduce_lr_on_plateau(opt, &p);
    ck_assert_msg(s != NULL, "%s", lt_last_error());
    ck_assert_int_eq(lt_scheduler_last_epoch(s), 0);
    ck_assert_int_eq(lt_scheduler_step(s), LT_ERR_UNSUPPORTED);
    expect_error(LT_ERR_UNSUPPORTED, "ReduceLROnPlateau steps on a metric: call "
                                     "lt_scheduler_step_metric");
    ck_assert_int_eq(lt_scheduler_step_metric(s, NAN), LT_ERR_NUMERIC);
    expect_error(LT_ERR_NUMERIC, "ReduceLROnPlateau: the metric is NaN");
    ck_assert_int_eq(lt_scheduler_last_epoch(s), 0);
    ck_assert_int_eq(lt_scheduler_step_metric(s, 1.0), LT_OK);
    ck_assert_int_eq(lt_scheduler_last_epoch(s), 1);
    lt_scheduler_free(s);
    lt_optimizer_free(opt);
}
END_TEST

/* Chainable schedulers scale the optimizer's current lr, as torch's do; other
 * schedulers ignore a metric. */
START_TEST(chainable_and_metric_ignored) {
    lt_optimizer_t *opt = make_opt(OPT_PLAIN_SGD);
    lt_scheduler_t *s = lt_exponential_lr(opt, 0.5);
    ck_assert(lt_optimizer_lr(opt) == BASE_LR && !lt_scheduler_needs_metric(s));
    lt_optimizer_set_lr(opt, 1.0);
    ck_assert_int_eq(lt_scheduler_step_metric(s, NAN), LT_OK);
    ck_assert(lt_optimizer_lr(opt) == 0.5 && lt_scheduler_last_lr(s) == 0.5);
    lt_scheduler_free(s);
    /* milestone 0 applies at the initial step, as in torch */
    s = lt_multistep_lr(opt, (const int64_t[]){0}, 1, 0.5);
    ck_assert(lt_optimizer_lr(opt) == 0.25);
    lt_scheduler_free(s);
    lt_scheduler_free(NULL);
    lt_optimizer_free(opt);
}
END_TEST

Suite *suite_scheduler(void) {
    Suite *s = suite_create("scheduler");
    TCase *tc = tcase_create("schedules");
    tcase_add_checked_fixture(tc, test_open, test_close);
    tcase_add_test(tc, torch_trajectories);
    tcase_add_test(tc, bad_arguments);
    tcase_add_test(tc, use_scheduler_checks_the_config);
    tcase_add_test(tc, onecycle_past_total_steps);
    tcase_add_test(tc, onecycle_momentum_needs_support);
    tcase_add_test(tc, onecycle_empty_phase);
    tcase_add_test(tc, plateau_needs_a_metric);
    tcase_add_test(tc, chainable_and_metric_ignored);
    suite_add_tcase(s, tc);
    return s;
}
