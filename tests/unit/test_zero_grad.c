/* zero_grad's contract, whoever implements it: backward's first gradient after it is
 * the gradient, later ones add (gradient accumulation, a parameter used twice), and a
 * gradient nothing wrote reads as zeros (lt_grad, the optimizer, clipping, DDP's flat
 * buffer). zero_grad is deferred to the first write (issue #20): backward's first GEMM
 * into a gradient runs with beta 0, and a reader fills what nothing wrote. */
#include <lt/accelerator.h>
#include <lt/runtime.h>
#include <math.h>
#include <string.h>

#include "test_util.h"

#define IN 3
#define OUT 2
#define ROWS 4

typedef struct mod {
    lt_ctx_t *ctx;
    lt_linear_t *l;
    lt_tensor_t *unused; /* forward never touches it */
    lt_optimizer_t *opt; /* plain SGD over every parameter */
} mod;

static mod make_mod(void) {
    lt_clear_error();
    mod m = {0};
    m.ctx = lt_ctx_new(test_dev, "m", NULL, 0, 7);
    ck_assert_msg(m.ctx != NULL, "%s", lt_last_error());
    m.l = lt_linear(m.ctx, "l", IN, OUT);
    m.unused = lt_param(m.ctx, "unused", 1, (int64_t[]){2}, (lt_init){LT_INIT_CONST, 1.0, 0.0});
    ck_assert_msg(m.l && m.unused, "%s", lt_last_error());
    ck_assert_int_eq(lt_ctx_materialize(m.ctx), LT_OK);
    m.opt = lt_sgd(lt_parameters(m.ctx), 0.5);
    ck_assert_msg(m.opt != NULL, "%s", lt_last_error());
    return m;
}

static void free_mod(mod *m) {
    lt_optimizer_free(m->opt);
    lt_ctx_free(m->ctx);
}

/* loss = sum(l(x)) + sum(l(x2)): the layer used twice, so the weight's gradient is the
 * column sums of x and x2 together and the bias's 2 ROWS. */
static void backward_twice_used(const mod *m) {
    lt_arena_t *a = lt_ctx_arena(m->ctx);
    float x[ROWS * IN], x2[ROWS * IN];
    test_fill(x, ROWS * IN, 3, -1.0f, 1.0f, 0.0f);
    test_fill(x2, ROWS * IN, 4, -1.0f, 1.0f, 0.0f);
    const int64_t s[2] = {ROWS, IN};
    lt_tensor_t *y = lt_linear_forward(m->l, lt_from_host(a, LT_F32, 2, s, x));
    lt_tensor_t *y2 = lt_linear_forward(m->l, lt_from_host(a, LT_F32, 2, s, x2));
    lt_tensor_t *loss = lt_add(lt_sum(y), lt_sum(y2));
    ck_assert_msg(loss != NULL, "%s", lt_last_error());
    ck_assert_int_eq(lt_backward(loss), LT_OK);
}

/* The exact gradients of backward_twice_used, times k: weight (OUT, IN) then bias (OUT). */
static void expected(float k, float *w, float *b) {
    float x[ROWS * IN], x2[ROWS * IN];
    test_fill(x, ROWS * IN, 3, -1.0f, 1.0f, 0.0f);
    test_fill(x2, ROWS * IN, 4, -1.0f, 1.0f, 0.0f);
    for (int j = 0; j < IN; j++) {
        double s = 0.0;
        for (int r = 0; r < ROWS; r++) s += (double)x[r * IN + j] + x2[r * IN + j];
        for (int o = 0; o < OUT; o++) w[o * IN + j] = (float)(k * s);
    }
    for (int o = 0; o < OUT; o++) b[o] = k * 2.0f * ROWS;
}

static void expect_grads(const mod *m, float k) {
    float w[OUT * IN], b[OUT];
    expected(k, w, b);
    float *gw = test_host(lt_grad(lt_ctx_param(m->ctx, 0, NULL)));
    float *gb = test_host(lt_grad(lt_ctx_param(m->ctx, 1, NULL)));
    for (int i = 0; i < OUT * IN; i++)
        ck_assert_msg(fabsf(gw[i] - w[i]) <= 1e-5f * (1.0f + fabsf(w[i])),
                      "weight grad [%d] = %g, expected %g (x %g)", i, gw[i], w[i], k);
    for (int i = 0; i < OUT; i++)
        ck_assert_msg(gb[i] == b[i], "bias grad [%d] = %g, expected %g", i, gb[i], b[i]);
    free(gw);
    free(gb);
}

/* Scribble on the whole flat gradient buffer (host memory: the CPU device). */
static void scribble(mod *m) {
    int64_t n = 0;
    float *g = lt_ctx_grads_host(m->ctx, &n);
    ck_assert_ptr_nonnull(g);
    for (int64_t i = 0; i < n; i++) g[i] = 1000.0f + (float)i;
}

START_TEST(first_gradient_overwrites_later_ones_add) {
    mod m = make_mod();
    scribble(&m);
    ck_assert_int_eq(lt_optimizer_zero_grad(m.opt), LT_OK);
    backward_twice_used(&m);
    expect_grads(&m, 1.0f); /* a parameter used twice: overwritten once, then added */
    lt_arena_reset(lt_ctx_arena(m.ctx));
    backward_twice_used(&m); /* no zero_grad: gradient accumulation */
    expect_grads(&m, 2.0f);
    lt_arena_reset(lt_ctx_arena(m.ctx));
    ck_assert_int_eq(lt_optimizer_zero_grad(m.opt), LT_OK);
    backward_twice_used(&m);
    expect_grads(&m, 1.0f);
    free_mod(&m);
}
END_TEST

/* The unused parameter's old gradient counts as 0 everywhere it is read. */
START_TEST(unwritten_gradient_reads_zero) {
    mod m = make_mod();
    scribble(&m);
    ck_assert_int_eq(lt_optimizer_zero_grad(m.opt), LT_OK);
    backward_twice_used(&m);
    float host[2] = {-1.0f, -1.0f};
    ck_assert_int_eq(lt_ctx_copy_flat(m.ctx, false, true, OUT * IN + OUT, 2, host), LT_OK);
    ck_assert(host[0] == 0.0f && host[1] == 0.0f);
    int64_t n = 0;
    const float *flat = lt_ctx_grads_host(m.ctx, &n); /* what DDP all-reduces */
    ck_assert_int_eq(n, OUT * IN + OUT + 2);
    ck_assert(flat[n - 2] == 0.0f && flat[n - 1] == 0.0f);
    /* the same through lt_grad, after another zero_grad */
    scribble(&m);
    ck_assert_int_eq(lt_optimizer_zero_grad(m.opt), LT_OK);
    float *g = test_host(lt_grad(m.unused));
    ck_assert(g[0] == 0.0f && g[1] == 0.0f);
    free(g);
    free_mod(&m);
}
END_TEST

/* zero_grad, then no backward: SGD steps with zero gradients (no change) and clipping
 * sees a norm of 0, as when zero_grad filled the buffers. */
START_TEST(step_and_clip_after_zero_grad_see_zeros) {
    mod m = make_mod();
    backward_twice_used(&m);
    scribble(&m);
    float *before = test_host(lt_ctx_param(m.ctx, 0, NULL));
    ck_assert_int_eq(lt_optimizer_zero_grad(m.opt), LT_OK);
    double norm = -1.0;
    ck_assert_int_eq(lt_clip_grad_norm(m.opt, 1.0, &norm), LT_OK);
    ck_assert(norm == 0.0);
    ck_assert_int_eq(lt_optimizer_zero_grad(m.opt), LT_OK);
    ck_assert_int_eq(lt_optimizer_step(m.opt), LT_OK);
    float *after = test_host(lt_ctx_param(m.ctx, 0, NULL));
    ck_assert(memcmp(before, after, OUT * IN * sizeof(float)) == 0);
    free(before);
    free(after);
    free_mod(&m);
}
END_TEST

/* A frozen layer gets no gradient; the other parameters' are unaffected by it. */
START_TEST(frozen_parameter_keeps_zero) {
    mod m = make_mod();
    scribble(&m);
    ck_assert_int_eq(lt_optimizer_zero_grad(m.opt), LT_OK);
    ck_assert_int_eq(lt_set_requires_grad(lt_ctx_param(m.ctx, 0, NULL), false), LT_OK);
    backward_twice_used(&m);
    float *gw = test_host(lt_grad(lt_ctx_param(m.ctx, 0, NULL)));
    for (int i = 0; i < OUT * IN; i++) ck_assert(gw[i] == 0.0f);
    free(gw);
    float *gb = test_host(lt_grad(lt_ctx_param(m.ctx, 1, NULL)));
    for (int i = 0; i < OUT; i++) ck_assert(gb[i] == 2.0f * ROWS);
    free(gb);
    free_mod(&m);
}
END_TEST

/* The cpu fill slot zero_grad runs (#20): +0 through memset on the calling thread below
 * 2^22 floats, other values by the loop, 2^22 and up on the team. Every element over
 * garbage, nothing past the end, and -0.0f keeps its sign bit. */
static void check_fill(const lt_accelerator_desc *k, void *st, int64_t n, float value) {
    float *buf = malloc((size_t)(n + 1) * sizeof *buf);
    ck_assert_ptr_nonnull(buf);
    for (int64_t i = 0; i <= n; i++) buf[i] = NAN;
    k->fill(st, n, value, buf);
    for (int64_t i = 0; i < n; i++)
        if (memcmp(&buf[i], &value, sizeof value) != 0)
            ck_abort_msg("fill %g over %ld floats: element %ld is %g", value, (long)n, (long)i,
                         buf[i]);
    ck_assert_msg(isnan(buf[n]), "fill %g over %ld floats wrote past the end", value, (long)n);
    free(buf);
}

START_TEST(cpu_fill_slot_every_size) {
    lt_device_t *dev = NULL;
    ck_assert_msg(lt_device_open("cpu", 2, &dev) == LT_OK, "%s", lt_last_error());
    void *st = NULL;
    const lt_accelerator_desc *k = lt_device_kernels(dev, &st);
    ck_assert_ptr_nonnull(k);
    const int64_t sizes[] = {1, 7, 101770, ((int64_t)1 << 22) - 1, ((int64_t)1 << 22) + 5};
    const float values[] = {0.0f, -0.0f, 2.5f};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        for (size_t j = 0; j < sizeof values / sizeof values[0]; j++)
            check_fill(k, st, sizes[i], values[j]);
    k->fill(st, 0, 1.0f, NULL); /* nothing to fill: no write, no crash */
    lt_device_close(dev);
}
END_TEST

Suite *suite_zero_grad(void) {
    Suite *s = suite_create("zero_grad");
    TCase *tc = tcase_create("deferred");
    tcase_add_checked_fixture(tc, test_open, test_close);
    tcase_add_test(tc, first_gradient_overwrites_later_ones_add);
    tcase_add_test(tc, unwritten_gradient_reads_zero);
    tcase_add_test(tc, step_and_clip_after_zero_grad_see_zeros);
    tcase_add_test(tc, frozen_parameter_keeps_zero);
    suite_add_tcase(s, tc);
    TCase *fill = tcase_create("cpu_fill");
    tcase_set_timeout(fill, 60);
    tcase_add_test(fill, cpu_fill_slot_every_size);
    suite_add_tcase(s, fill);
    return s;
}
