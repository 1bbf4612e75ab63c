/* LinearLR, ConstantLR, PolynomialLR, CosineAnnealingWarmRestarts, SequentialLR and
 * ChainedScheduler (issue #23): every param group's lr after construction and each step
 * equal to torch's to the bit (tests/fixtures/sched_more.safetensors, made by
 * tests/reference/make_sched_more_fixtures.py); their state through a checkpoint; their
 * arguments refused as they should be. */
#include <jansson.h>
#include <math.h>
#include <string.h>
#include <unistd.h>

#include <lt/checkpoint.h>
#include <lt/runtime.h>

#include "test_fixture.h"

static const double group_lrs[2] = {0.1, 0.05};

/* An SGD over two parameters, one param group each (lr 0.1 and 0.05). */
static lt_optimizer_t *two_group_sgd(void) {
    lt_tensor_t *p[2];
    lt_param_list_t *l[2];
    for (int i = 0; i < 2; i++) {
        p[i] = lt_zeros(test_arena, LT_F32, 1, (int64_t[]){1});
        lt_set_requires_grad(p[i], true);
        l[i] = lt_param_list_new();
        ck_assert_int_eq(lt_param_list_add(l[i], p[i]), LT_OK);
    }
    lt_optimizer_t *o = lt_sgd(l[0], group_lrs[0]);
    ck_assert_int_eq(lt_optimizer_add_param_group(o, l[1], group_lrs[1], 0.0), LT_OK);
    return o;
}

static double num(json_t *o, const char *key) {
    json_t *v = json_object_get(o, key);
    ck_assert_msg(json_is_number(v), "scheduler spec lacks number '%s'", key);
    return json_number_value(v);
}

static lt_scheduler_t *build(lt_optimizer_t *o, json_t *spec);

/* The specs under "schedulers", built. */
static int build_children(lt_optimizer_t *o, json_t *spec, lt_scheduler_t **out) {
    json_t *list = json_object_get(spec, "schedulers");
    int n = (int)json_array_size(list);
    ck_assert_int_le(n, 8);
    for (int i = 0; i < n; i++) out[i] = build(o, json_array_get(list, (size_t)i));
    return n;
}

static lt_scheduler_t *build(lt_optimizer_t *o, json_t *spec) {
    const char *type = json_string_value(json_object_get(spec, "type"));
    ck_assert_ptr_nonnull(type);
    lt_scheduler_t *c[8], *s = NULL;
    if (!strcmp(type, "LinearLR"))
        s = lt_linear_lr(o, num(spec, "start_factor"), num(spec, "end_factor"),
                         (int64_t)num(spec, "total_iters"));
    else if (!strcmp(type, "ConstantLR"))
        s = lt_constant_lr(o, num(spec, "factor"), (int64_t)num(spec, "total_iters"));
    else if (!strcmp(type, "PolynomialLR"))
        s = lt_polynomial_lr(o, (int64_t)num(spec, "total_iters"), num(spec, "power"));
    else if (!strcmp(type, "CosineAnnealingWarmRestarts"))
        s = lt_cosine_warm_restarts(o, (int64_t)num(spec, "T_0"), (int64_t)num(spec, "T_mult"),
                                    num(spec, "eta_min"));
    else if (!strcmp(type, "CosineAnnealingLR"))
        s = lt_cosine_annealing_lr(o, (int64_t)num(spec, "T_max"), num(spec, "eta_min"));
    else if (!strcmp(type, "ExponentialLR"))
        s = lt_exponential_lr(o, num(spec, "gamma"));
    else if (!strcmp(type, "StepLR"))
        s = lt_step_lr(o, (int64_t)num(spec, "step_size"), num(spec, "gamma"));
    else if (!strcmp(type, "MultiStepLR")) {
        json_t *m = json_object_get(spec, "milestones");
        int64_t ms[8];
        for (size_t i = 0; i < json_array_size(m) && i < 8; i++)
            ms[i] = json_integer_value(json_array_get(m, i));
        s = lt_multistep_lr(o, ms, (int)json_array_size(m), num(spec, "gamma"));
    } else if (!strcmp(type, "SequentialLR")) {
        json_t *m = json_object_get(spec, "milestones");
        int64_t ms[8];
        for (size_t i = 0; i < json_array_size(m) && i < 8; i++)
            ms[i] = json_integer_value(json_array_get(m, i));
        int n = build_children(o, spec, c);
        s = lt_sequential_lr(o, c, n, ms);
    } else if (!strcmp(type, "ChainedScheduler")) {
        int n = build_children(o, spec, c);
        s = lt_chained_scheduler(c, n);
    }
    ck_assert_msg(s != NULL, "%s: %s", type, lt_last_error());
    ck_assert_str_eq(lt_scheduler_name(s), type);
    return s;
}

static void expect_lrs(const char *c, int64_t k, lt_optimizer_t *o, lt_scheduler_t *s,
                       const double *want) {
    for (int g = 0; g < 2; g++) {
        double got = lt_optimizer_group_lr(o, g);
        ck_assert_msg(memcmp(&got, &want[g], sizeof got) == 0,
                      "%s after step %lld: group %d lr %.17g, torch %.17g", c, (long long)k, g, got,
                      want[g]);
    }
    ck_assert_msg(lt_scheduler_last_lr(s) == want[0], "%s: last_lr %.17g, torch %.17g", c,
                  lt_scheduler_last_lr(s), want[0]);
}

/* Case c's scheduler on a two-group SGD: its lrs after each step equal torch's. */
static void check_trajectory(lt_st_file_t *f, const char *c, lt_arena_t *arena) {
    (void)arena;
    json_t *h = json_loads(lt_st_meta(f, c) ? lt_st_meta(f, c) : "", 0, NULL);
    const lt_st_tensor *lr = test_fixture_find(f, c, "lr");
    ck_assert_msg(h && lr && lr->dtype == LT_ST_F64 && lr->ndim == 2 && lr->shape[1] == 2,
                  "case %s is incomplete", c);
    const double *want = (const double *)lr->data;
    lt_optimizer_t *o = two_group_sgd();
    lt_scheduler_t *s = build(o, json_object_get(h, "scheduler"));
    expect_lrs(c, 0, o, s, want);
    for (int64_t k = 1; k < lr->shape[0]; k++) {
        ck_assert_msg(lt_scheduler_step(s) == LT_OK, "%s: %s", c, lt_last_error());
        expect_lrs(c, k, o, s, want + 2 * k);
    }
    ck_assert_int_eq(lt_scheduler_last_epoch(s), lr->shape[0] - 1);
    lt_scheduler_free(s);
    lt_optimizer_free(o);
    json_decref(h);
}

START_TEST(torch_trajectories) {
    test_open();
    test_fixture_each_case(test_dev, "sched_more.safetensors", "cases", 14, check_trajectory);
    test_close();
}
END_TEST

/* ---- checkpoints ------------------------------------------------------------------------ */

/* A module with one linear layer, its SGD and warmup (3) then cosine restarts, chained with
 * an exponential decay. */
static lt_ctx_t *module_with_schedule(uint64_t seed) {
    lt_clear_error();
    lt_ctx_t *ctx = lt_ctx_new(test_dev, "m", NULL, 0, seed);
    ck_assert_msg(ctx != NULL, "ctx: %s", lt_last_error());
    ck_assert_msg(lt_linear(ctx, "l1", 3, 2) != NULL, "%s", lt_last_error());
    ck_assert_int_eq(lt_ctx_materialize(ctx), LT_OK);
    lt_optimizer_t *o = lt_sgd(lt_parameters(ctx), 0.1);
    ck_assert_int_eq(lt_use_optimizer(ctx, o), LT_OK);
    lt_scheduler_t *seq = lt_sequential_lr(
        o,
        (lt_scheduler_t *[]){lt_linear_lr(o, 0.1, 1.0, 3), lt_cosine_warm_restarts(o, 2, 2, 0.01)},
        2, (int64_t[]){3});
    lt_scheduler_t *s =
        lt_chained_scheduler((lt_scheduler_t *[]){seq, lt_exponential_lr(o, 0.95)}, 2);
    ck_assert_msg(s == NULL, "a SequentialLR inside a ChainedScheduler is refused");
    seq = lt_sequential_lr(
        o,
        (lt_scheduler_t *[]){lt_linear_lr(o, 0.1, 1.0, 3), lt_cosine_warm_restarts(o, 2, 2, 0.01)},
        2, (int64_t[]){3});
    ck_assert_msg(seq != NULL, "%s", lt_last_error());
    ck_assert_int_eq(lt_use_scheduler(ctx, seq, NULL), LT_OK);
    return ctx;
}

START_TEST(composites_resume_exactly) {
    test_open();
    char path[64];
    snprintf(path, sizeof path, "/tmp/lt_sched_more_%d.ckpt", (int)getpid());
    lt_ctx_t *a = module_with_schedule(1), *b = module_with_schedule(2);
    lt_scheduler_t *sa = lt_ctx_scheduler(a, 0, NULL), *sb = lt_ctx_scheduler(b, 0, NULL);
    for (int k = 0; k < 5; k++) ck_assert_int_eq(lt_scheduler_step(sa), LT_OK);
    lt_ckpt_t *c = lt_ckpt_capture(a);
    ck_assert_msg(c && lt_ckpt_save(c, path) == LT_OK, "%s", lt_last_error());
    lt_ckpt_free(c);
    ck_assert_msg(lt_ckpt_open(path, &c) == LT_OK, "%s", lt_last_error());
    ck_assert_msg(lt_ckpt_restore_training(c, b) == LT_OK, "%s", lt_last_error());
    lt_ckpt_free(c);
    unlink(path);
    for (int k = 0; k < 8; k++) {
        ck_assert_double_eq(lt_optimizer_lr(lt_ctx_optimizer(b, 0)),
                            lt_optimizer_lr(lt_ctx_optimizer(a, 0)));
        ck_assert_int_eq(lt_scheduler_step(sa), LT_OK);
        ck_assert_int_eq(lt_scheduler_step(sb), LT_OK);
    }
    ck_assert_int_eq(lt_scheduler_last_epoch(sb), 13);
    lt_ctx_free(a);
    lt_ctx_free(b);
    test_close();
}
END_TEST

/* ---- arguments ----------------------------------------------------------------------------- */

static void refused(lt_scheduler_t *s, const char *needle) {
    ck_assert_msg(s == NULL, "accepted a bad argument (%s)", needle);
    ck_assert_msg(strstr(lt_last_error(), needle), "message lacks '%s': %s", needle,
                  lt_last_error());
}

START_TEST(bad_arguments) {
    test_open();
    lt_optimizer_t *o = two_group_sgd(), *other = two_group_sgd();
    refused(lt_linear_lr(o, 0.0, 1.0, 3), "start_factor");
    refused(lt_linear_lr(o, 0.5, 1.5, 3), "end_factor");
    refused(lt_linear_lr(o, 0.5, 1.0, 0), "total_iters");
    refused(lt_constant_lr(o, 0.0, 3), "factor");
    refused(lt_polynomial_lr(o, 5, -1.0), "power");
    refused(lt_cosine_warm_restarts(o, 0, 1, 0.0), "T_0");
    refused(lt_cosine_warm_restarts(o, 3, 0, 0.0), "T_mult");
    refused(lt_sequential_lr(o, NULL, 0, NULL), "expects 1 to 16");
    refused(lt_sequential_lr(
                o, (lt_scheduler_t *[]){lt_exponential_lr(o, 0.9), lt_exponential_lr(o, 0.8)}, 2,
                (int64_t[]){-1}),
            "milestones");
    refused(lt_chained_scheduler(
                (lt_scheduler_t *[]){lt_exponential_lr(o, 0.9), lt_exponential_lr(other, 0.9)}, 2),
            "drives another optimizer");
    lt_plateau_opts po = LT_PLATEAU_DEFAULTS;
    refused(lt_chained_scheduler((lt_scheduler_t *[]){lt_reduce_lr_on_plateau(o, &po)}, 1),
            "ReduceLROnPlateau");
    lt_optimizer_free(o);
    lt_optimizer_free(other);
    test_close();
}
END_TEST

Suite *suite_sched_more(void) {
    Suite *s = suite_create("sched_more");
    TCase *tc = tcase_create("sched_more");
    tcase_add_test(tc, torch_trajectories);
    tcase_add_test(tc, composites_resume_exactly);
    tcase_add_test(tc, bad_arguments);
    suite_add_tcase(s, tc);
    return s;
}
