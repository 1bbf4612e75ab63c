/* What the host's DDP needs from liblt: the grad-ready hook during lt_backward, the flat
 * value and gradient buffers, DistributedSampler's shards in the DataLoader, and the
 * trainer's collectives for hooks. */
#include <lt/runtime.h>
#include <string.h>

#include "test_util.h"

/* ---- a two-layer model -------------------------------------------------------------- */

#define IN 3
#define HID 4
#define OUT 2
#define BATCH 5
#define NPARAMS 4 /* l1.weight, l1.bias, l2.weight, l2.bias */

typedef struct mod {
    lt_ctx_t *ctx;
    lt_linear_t *l1, *l2;
} mod;

/* A materialized module; extra adds a parameter "unused" that forward never touches. */
static mod make_mod(bool extra) {
    lt_clear_error();
    mod m = {0};
    m.ctx = lt_ctx_new(test_dev, "m", NULL, 0, 7);
    ck_assert_msg(m.ctx != NULL, "%s", lt_last_error());
    m.l1 = lt_linear(m.ctx, "l1", IN, HID);
    m.l2 = lt_linear(m.ctx, "l2", HID, OUT);
    ck_assert_msg(m.l1 && m.l2, "%s", lt_last_error());
    if (extra)
        ck_assert_ptr_nonnull(
            lt_param(m.ctx, "unused", 1, (int64_t[]){2}, (lt_init){LT_INIT_CONST, 1.0, 0.0}));
    ck_assert_int_eq(lt_ctx_materialize(m.ctx), LT_OK);
    return m;
}

/* loss = mse(l2(tanh(l1(x))), y) on fixed data, then lt_backward. */
static void forward_backward(const mod *m) {
    lt_arena_t *a = lt_ctx_arena(m->ctx);
    float x[BATCH * IN], y[BATCH * OUT];
    test_fill(x, BATCH * IN, 11, -1.0f, 1.0f, 0.0f);
    test_fill(y, BATCH * OUT, 12, -1.0f, 1.0f, 0.0f);
    lt_tensor_t *tx = lt_from_host(a, LT_F32, 2, (int64_t[]){BATCH, IN}, x);
    lt_tensor_t *ty = lt_from_host(a, LT_F32, 2, (int64_t[]){BATCH, OUT}, y);
    lt_tensor_t *h = lt_tanh(lt_linear_forward(m->l1, tx));
    lt_tensor_t *loss = lt_mse_loss(lt_linear_forward(m->l2, h), ty);
    ck_assert_msg(loss != NULL, "%s", lt_last_error());
    ck_assert_int_eq(lt_backward(loss), LT_OK);
}

/* What the hook saw: the order of reports and each gradient at its report. */
typedef struct reports {
    lt_ctx_t *ctx;
    int order[16], n;
    int count[16];
    float *at_report[16];
} reports;

static void record(void *user, int i) {
    reports *r = user;
    ck_assert(i >= 0 && i < lt_ctx_num_params(r->ctx) && r->n < 16);
    r->order[r->n++] = i;
    r->count[i]++;
    free(r->at_report[i]);
    r->at_report[i] = test_host(lt_grad(lt_ctx_param(r->ctx, i, NULL)));
}

static void free_reports(reports *r) {
    for (int i = 0; i < 16; i++) free(r->at_report[i]);
}

static bool same_floats(const float *a, const float *b, int64_t n) {
    return memcmp(a, b, (size_t)n * sizeof *a) == 0;
}

START_TEST(grad_ready_reports_each_parameter_once_when_final) {
    mod m = make_mod(true);
    reports r = {.ctx = m.ctx};
    lt_ctx_set_grad_ready(m.ctx, record, &r);
    forward_backward(&m);
    ck_assert_int_eq(r.n, NPARAMS); /* "unused" is not on the tape: never reported */
    for (int i = 0; i < NPARAMS; i++) ck_assert_int_eq(r.count[i], 1);
    /* backward reaches layer 2 first: both of its parameters before either of layer 1's */
    ck_assert(r.order[0] >= 2 && r.order[1] >= 2 && r.order[2] < 2 && r.order[3] < 2);
    for (int i = 0; i < NPARAMS; i++) {
        lt_tensor_t *p = lt_ctx_param(m.ctx, i, NULL);
        float *final = test_host(lt_grad(p));
        ck_assert_msg(same_floats(r.at_report[i], final, lt_numel(p)),
                      "parameter %d changed after it was reported", i);
        free(final);
    }
    free_reports(&r);
    lt_ctx_free(m.ctx);
}
END_TEST

START_TEST(grad_ready_changes_no_gradient) {
    mod with = make_mod(false), without = make_mod(false);
    reports r = {.ctx = with.ctx};
    lt_ctx_set_grad_ready(with.ctx, record, &r);
    forward_backward(&with);
    forward_backward(&without);
    for (int i = 0; i < NPARAMS; i++) {
        lt_tensor_t *p = lt_ctx_param(with.ctx, i, NULL), *q = lt_ctx_param(without.ctx, i, NULL);
        float *a = test_host(lt_grad(p)), *b = test_host(lt_grad(q));
        ck_assert(same_floats(a, b, lt_numel(p)));
        free(a);
        free(b);
    }
    /* unset: a second backward reports nothing more */
    lt_ctx_set_grad_ready(with.ctx, NULL, NULL);
    lt_arena_reset(lt_ctx_arena(with.ctx));
    forward_backward(&with);
    ck_assert_int_eq(r.n, NPARAMS);
    free_reports(&r);
    lt_ctx_free(with.ctx);
    lt_ctx_free(without.ctx);
}
END_TEST

/* The DDP host's pre-division: a seed of 1/2 gives exactly half of every gradient (a
 * power of two); set back to 1, it changes nothing. */
START_TEST(backward_scale_scales_every_gradient) {
    mod half = make_mod(false), one = make_mod(false), reset = make_mod(false);
    lt_ctx_set_backward_scale(half.ctx, 0.5f);
    lt_ctx_set_backward_scale(reset.ctx, 0.5f);
    lt_ctx_set_backward_scale(reset.ctx, 1.0f);
    forward_backward(&half);
    forward_backward(&one);
    forward_backward(&reset);
    int64_t nonzero = 0;
    for (int i = 0; i < NPARAMS; i++) {
        lt_tensor_t *p = lt_ctx_param(half.ctx, i, NULL);
        float *a = test_host(lt_grad(p)), *b = test_host(lt_grad(lt_ctx_param(one.ctx, i, NULL))),
              *c = test_host(lt_grad(lt_ctx_param(reset.ctx, i, NULL)));
        for (int64_t k = 0; k < lt_numel(p); k++) {
            ck_assert_float_eq(a[k], 0.5f * b[k]);
            nonzero += b[k] != 0.0f;
        }
        ck_assert(same_floats(b, c, lt_numel(p)));
        free(a), free(b), free(c);
    }
    ck_assert_int_gt(nonzero, 0);
    lt_ctx_free(half.ctx);
    lt_ctx_free(one.ctx);
    lt_ctx_free(reset.ctx);
}
END_TEST

/* A parameter taken twice by one op and again by a later one: one report, after the
 * earlier op (the lowest on the tape), once per backward. */
START_TEST(grad_ready_shared_parameter_once_per_backward) {
    lt_ctx_t *ctx = lt_ctx_new(test_dev, "m", NULL, 0, 3);
    lt_tensor_t *p = lt_param(ctx, "p", 1, (int64_t[]){3}, (lt_init){LT_INIT_CONST, 0.5, 0.0});
    ck_assert_ptr_nonnull(p);
    ck_assert_int_eq(lt_ctx_materialize(ctx), LT_OK);
    reports r = {.ctx = ctx};
    lt_ctx_set_grad_ready(ctx, record, &r);
    for (int step = 1; step <= 2; step++) {
        lt_arena_reset(lt_ctx_arena(ctx));
        lt_tensor_t *sq = lt_mul(p, p);
        ck_assert_int_eq(lt_backward(lt_sum(lt_add(sq, lt_mul(sq, p)))), LT_OK);
        ck_assert_int_eq(r.count[0], step);
        float *g = test_host(lt_grad(p));
        ck_assert(same_floats(r.at_report[0], g, 3));
        free(g);
    }
    free_reports(&r);
    lt_ctx_free(ctx);
}
END_TEST

/* ---- the flat buffers ---------------------------------------------------------------- */

START_TEST(flat_buffers_match_each_parameter) {
    mod m = make_mod(true);
    forward_backward(&m);
    int64_t nv = -1, ng = -1;
    float *values = lt_ctx_values_host(m.ctx, &nv), *grads = lt_ctx_grads_host(m.ctx, &ng);
    ck_assert_ptr_nonnull(values); /* the cpu accelerator's memory is host memory */
    ck_assert_ptr_nonnull(grads);
    ck_assert_int_eq(nv, lt_num_parameters(m.ctx));
    ck_assert_int_eq(ng, nv);
    int64_t nd = -1; /* on the cpu, the device pointers are these same buffers */
    ck_assert_ptr_eq(lt_ctx_values_device(m.ctx, &nd), values);
    ck_assert_int_eq(nd, nv);
    ck_assert_ptr_eq(lt_ctx_grads_device(m.ctx, NULL), grads);
    int64_t expect_off = 0;
    for (int i = 0; i < lt_ctx_num_params(m.ctx); i++) {
        lt_tensor_t *p = lt_ctx_param(m.ctx, i, NULL);
        int64_t off = lt_ctx_param_offset(m.ctx, i), n = lt_numel(p);
        ck_assert_int_eq(off, expect_off);
        expect_off += n;
        float *v = test_host(p), *g = test_host(lt_grad(p));
        ck_assert(same_floats(values + off, v, n));
        ck_assert(same_floats(grads + off, g, n));
        free(v);
        free(g);
    }
    ck_assert_int_eq(lt_ctx_param_offset(m.ctx, -1), -1);
    ck_assert_int_eq(lt_ctx_param_offset(m.ctx, lt_ctx_num_params(m.ctx)), -1);
    lt_ctx_free(m.ctx);
}
END_TEST

/* The cpu accelerator puts blocks of 512 KB and more on 2 MB pages (DDP's all-reduce
 * copies between ranks walk far fewer pages); smaller ones stay cache-line aligned. */
START_TEST(large_flat_buffers_start_on_huge_pages) {
    for (int64_t out = 64; out <= 256; out += 192) { /* 200 KB, then 800 KB of weights */
        lt_ctx_t *ctx = lt_ctx_new(test_dev, "big", NULL, 0, 7);
        ck_assert_ptr_nonnull(lt_linear(ctx, "l", 784, out));
        ck_assert_int_eq(lt_ctx_materialize(ctx), LT_OK);
        uintptr_t values = (uintptr_t)lt_ctx_values_host(ctx, NULL);
        uintptr_t grads = (uintptr_t)lt_ctx_grads_host(ctx, NULL);
        ck_assert(values % 64 == 0 && grads % 64 == 0);
        if (out == 256) ck_assert(values % (2u << 20) == 0 && grads % (2u << 20) == 0);
        lt_ctx_free(ctx);
    }
}
END_TEST

START_TEST(copy_flat_round_trips_and_checks_bounds) {
    mod m = make_mod(false);
    forward_backward(&m);
    int64_t n = 0;
    float *grads = lt_ctx_grads_host(m.ctx, &n);
    float *host = malloc((size_t)n * sizeof *host);
    ck_assert_int_eq(lt_ctx_copy_flat(m.ctx, false, true, 0, n, host), LT_OK);
    ck_assert(same_floats(host, grads, n));
    for (int64_t i = 0; i < n; i++) host[i] = (float)i;
    ck_assert_int_eq(lt_ctx_copy_flat(m.ctx, true, false, 2, n - 3, host), LT_OK);
    float *values = lt_ctx_values_host(m.ctx, NULL);
    ck_assert(same_floats(values + 2, host, n - 3));
    ck_assert_int_eq(lt_ctx_copy_flat(m.ctx, true, true, n - 1, 2, host), LT_ERR_INVALID_ARG);
    ck_assert_int_eq(lt_ctx_copy_flat(m.ctx, true, true, -1, 1, host), LT_ERR_INVALID_ARG);
    ck_assert_int_eq(lt_ctx_copy_flat(m.ctx, false, true, 0, -1, host), LT_ERR_INVALID_ARG);
    ck_assert_int_eq(lt_ctx_copy_flat(m.ctx, false, true, 0, 1, NULL), LT_ERR_INVALID_ARG);
    ck_assert_int_eq(lt_ctx_copy_flat(m.ctx, false, true, n, 0, NULL), LT_OK);
    free(host);
    lt_ctx_free(m.ctx);
}
END_TEST

START_TEST(flat_buffers_need_materialize) {
    lt_ctx_t *ctx = lt_ctx_new(test_dev, "m", NULL, 0, 1);
    ck_assert_ptr_nonnull(lt_linear(ctx, "l", 2, 2));
    int64_t n = 5;
    ck_assert_ptr_null(lt_ctx_grads_host(ctx, &n));
    ck_assert_int_eq(n, 0);
    n = 5;
    ck_assert_ptr_null(lt_ctx_values_device(ctx, &n));
    ck_assert_int_eq(n, 0);
    ck_assert_int_eq(lt_ctx_param_offset(ctx, 1), 4); /* the layout is known already */
    float host[1];
    ck_assert_int_eq(lt_ctx_copy_flat(ctx, false, true, 0, 1, host), LT_ERR_STATE);
    lt_ctx_free(ctx);
}
END_TEST

/* ---- DataLoader shards ----------------------------------------------------------------- */

/* Sample i has x = i. */
static lt_status index_fill(void *user, const int64_t *idx, int64_t n, float *x, void *y) {
    (void)user;
    for (int64_t i = 0; i < n; i++) {
        x[i] = (float)idx[i];
        ((int64_t *)y)[i] = idx[i];
    }
    return LT_OK;
}

static lt_loader_t *make_loader(int64_t len, int64_t bs, bool shuffle, bool drop_last,
                                int workers) {
    lt_dataset ds = {.struct_size = sizeof ds,
                     .length = len,
                     .x_ndim = 0,
                     .y_dtype = LT_I64,
                     .fill = index_fill};
    lt_loader_opts o = {.struct_size = sizeof o,
                        .batch_size = bs,
                        .shuffle = shuffle,
                        .drop_last = drop_last,
                        .num_workers = workers};
    lt_loader_t *l = NULL;
    ck_assert_msg(lt_loader_new(&ds, &o, 99, &l) == LT_OK, "%s", lt_last_error());
    return l;
}

/* The sample indices of one epoch, as delivered; returns how many. */
static int64_t epoch_indices(lt_loader_t *l, int64_t epoch, int64_t *out) {
    int64_t n = 0, b = 0;
    ck_assert_int_eq(lt_loader_start(l, epoch, -1), LT_OK);
    const lt_host_batch *hb;
    while (lt_loader_next(l, &hb) == LT_OK && hb) {
        ck_assert_int_eq(hb->index, b++);
        for (int64_t i = 0; i < hb->n; i++) out[n++] = (int64_t)hb->x[i];
    }
    ck_assert_int_eq(b, lt_loader_num_batches(l));
    return n;
}

START_TEST(shard_pads_with_the_first_indices) {
    static const int64_t want[3][4] = {{0, 3, 6, 9}, {1, 4, 7, 0}, {2, 5, 8, 1}};
    for (int rank = 0; rank < 3; rank++) {
        lt_loader_t *l = make_loader(10, 3, false, false, rank); /* 0..2 workers */
        ck_assert_int_eq(lt_loader_num_batches(l), 4);
        ck_assert_int_eq(lt_loader_set_shard(l, rank, 3), LT_OK);
        ck_assert_int_eq(lt_loader_num_batches(l), 2); /* 4 samples: batches of 3 and 1 */
        int64_t got[10];
        ck_assert_int_eq(epoch_indices(l, 0, got), 4);
        for (int k = 0; k < 4; k++) ck_assert_int_eq(got[k], want[rank][k]);
        lt_loader_free(l);
    }
}
END_TEST

START_TEST(shard_follows_torch_on_the_shuffled_order) {
    enum { N = 23, WORLD = 4, PER = (N + WORLD - 1) / WORLD };
    lt_loader_t *whole = make_loader(N, 5, true, false, 1);
    for (int64_t epoch = 0; epoch < 2; epoch++) {
        int64_t all[N], got[N];
        ck_assert_int_eq(epoch_indices(whole, epoch, all), N);
        int seen[N] = {0};
        for (int rank = 0; rank < WORLD; rank++) {
            lt_loader_t *l = make_loader(N, 5, true, false, 2);
            ck_assert_int_eq(lt_loader_set_shard(l, rank, WORLD), LT_OK);
            ck_assert_int_eq(epoch_indices(l, epoch, got), PER);
            for (int k = 0; k < PER; k++) { /* torch: padded[rank + k * world] */
                ck_assert_int_eq(got[k], all[(rank + k * WORLD) % N]);
                seen[got[k]]++;
            }
            lt_loader_free(l);
        }
        for (int i = 0; i < N; i++) ck_assert_int_ge(seen[i], 1);
    }
    lt_loader_free(whole);
}
END_TEST

START_TEST(shard_drop_last_and_resume) {
    /* 10 samples over 3 ranks: 4 each; batches of 3 with drop_last: one */
    lt_loader_t *l = make_loader(10, 3, false, true, 1);
    ck_assert_int_eq(lt_loader_set_shard(l, 1, 3), LT_OK);
    ck_assert_int_eq(lt_loader_num_batches(l), 1);
    int64_t got[10];
    ck_assert_int_eq(epoch_indices(l, 0, got), 3);
    lt_loader_free(l);
    /* a resumed epoch delivers the shard's batches from `first` on */
    l = make_loader(10, 1, false, false, 2);
    ck_assert_int_eq(lt_loader_set_shard(l, 2, 3), LT_OK);
    ck_assert_int_eq(lt_loader_start_at(l, 0, 2, -1), LT_OK);
    const lt_host_batch *hb;
    ck_assert_int_eq(lt_loader_next(l, &hb), LT_OK);
    ck_assert_int_eq(hb->index, 2);
    ck_assert_float_eq(hb->x[0], 8.0f);
    /* resharding mid-epoch ends that epoch; the next one uses the new shard */
    ck_assert_int_eq(lt_loader_set_shard(l, 0, 2), LT_OK);
    ck_assert_int_eq(lt_loader_next(l, &hb), LT_OK);
    ck_assert_ptr_null(hb);
    ck_assert_int_eq(lt_loader_num_batches(l), 5);
    ck_assert_int_eq(epoch_indices(l, 0, got), 5);
    for (int k = 0; k < 5; k++) ck_assert_int_eq(got[k], 2 * k);
    ck_assert_int_eq(lt_loader_set_shard(l, 0, 1), LT_OK); /* world 1: the whole dataset */
    ck_assert_int_eq(epoch_indices(l, 0, got), 10);
    lt_loader_free(l);
}
END_TEST

START_TEST(shard_bad_arguments) {
    lt_loader_t *l = make_loader(0, 2, true, false, 0);
    ck_assert_int_eq(lt_loader_set_shard(l, 0, 0), LT_ERR_INVALID_ARG);
    ck_assert_int_eq(lt_loader_set_shard(l, 2, 2), LT_ERR_INVALID_ARG);
    ck_assert_int_eq(lt_loader_set_shard(l, -1, 2), LT_ERR_INVALID_ARG);
    ck_assert_int_eq(lt_loader_set_shard(NULL, 0, 1), LT_ERR_INVALID_ARG);
    ck_assert_int_eq(lt_loader_set_shard(l, 1, 2), LT_OK); /* an empty dataset: empty shards */
    ck_assert_int_eq(lt_loader_num_batches(l), 0);
    int64_t got[1];
    ck_assert_int_eq(epoch_indices(l, 0, got), 0);
    lt_loader_free(l);
}
END_TEST

/* ---- the trainer's collectives, over a fake group of 3 where we are rank 1 ------------ */

static int fake_calls;
static lt_status fake_sum(lt_trainer_t *tr, float *v, int64_t n) {
    (void)tr;
    fake_calls++;
    for (int64_t i = 0; i < n; i++) v[i] += 1000.0f + (float)i; /* the other ranks' share */
    return LT_OK;
}
static lt_status fake_broken(lt_trainer_t *tr, float *v, int64_t n) {
    (void)tr, (void)v, (void)n;
    return lt_set_error(LT_ERR_IO, "peer gone");
}
static lt_status fake_barrier(lt_trainer_t *tr) {
    (void)tr;
    fake_calls++;
    return LT_OK;
}

START_TEST(trainer_collectives_reach_the_group) {
    lt_trainer_t tr = {.global_rank = 1,
                       .world_size = 3,
                       .local_rank = 1,
                       .all_reduce_sum = fake_sum,
                       .barrier = fake_barrier};
    ck_assert_int_eq(lt_trainer_world_size(&tr), 3);
    ck_assert_int_eq(lt_trainer_local_rank(&tr), 1);
    float sum[2] = {1, 2}, mean[2] = {1, 2}, out[6] = {-1, -1, -1, -1, -1, -1};
    fake_calls = 0;
    ck_assert_int_eq(lt_trainer_all_reduce(&tr, sum, 2, false), LT_OK);
    ck_assert_float_eq(sum[0], 1001.0f);
    ck_assert_float_eq(sum[1], 1003.0f);
    ck_assert_int_eq(lt_trainer_all_reduce(&tr, mean, 2, true), LT_OK);
    ck_assert_float_eq_tol(mean[1], 1003.0f / 3, 1e-4);
    const float mine[2] = {7, 8};
    ck_assert_int_eq(lt_trainer_all_gather(&tr, mine, 2, out), LT_OK);
    const float want[6] = {1000, 1001, 7 + 1002, 8 + 1003, 1004, 1005}; /* our slot is 1 */
    for (int i = 0; i < 6; i++) ck_assert_float_eq(out[i], want[i]);
    ck_assert_int_eq(lt_trainer_barrier(&tr), LT_OK);
    ck_assert_int_eq(fake_calls, 4);
    tr.all_reduce_sum = fake_broken;
    ck_assert_int_eq(lt_trainer_all_reduce(&tr, sum, 2, false), LT_ERR_IO);
    ck_assert_int_eq(lt_trainer_all_gather(&tr, mine, 2, out), LT_ERR_IO);
}
END_TEST

static lt_status fake_gather(lt_trainer_t *tr, const float *v, int64_t n, float *out) {
    fake_calls++;
    for (int r = 0; r < tr->world_size; r++)
        for (int64_t i = 0; i < n; i++)
            out[r * n + i] = r == tr->global_rank ? v[i] : (float)(100 * r + i);
    return LT_OK;
}

/* The host's all_gather when it has one; the padded sum when it has none, or when the
 * embedding program's struct predates the slot (struct_size stops before it). */
START_TEST(trainer_all_gather_uses_the_host_slot) {
    lt_trainer_t tr = {.struct_size = sizeof tr,
                       .global_rank = 2,
                       .world_size = 3,
                       .all_reduce_sum = fake_sum,
                       .all_gather = fake_gather};
    const float mine[2] = {7, 8};
    float out[6];
    fake_calls = 0;
    ck_assert_int_eq(lt_trainer_all_gather(&tr, mine, 2, out), LT_OK);
    const float want[6] = {0, 1, 100, 101, 7, 8};
    for (int i = 0; i < 6; i++) ck_assert_float_eq(out[i], want[i]);
    tr.struct_size = (uint32_t)LT_TRAINER_SIZE_1_0; /* an older program: the slot is not read */
    ck_assert_int_eq(lt_trainer_all_gather(&tr, mine, 2, out), LT_OK);
    ck_assert_float_eq(out[4], 7 + 1004.0f);
    ck_assert_int_eq(fake_calls, 2); /* one gather, then one sum */
}
END_TEST

START_TEST(trainer_struct_size_is_checked) {
    lt_ctx_t *ctx = lt_ctx_new(NULL, "m", NULL, 0, 1);
    lt_trainer_t old = {.struct_size = 16}, ok = {.struct_size = sizeof ok};
    ck_assert_int_eq(lt_ctx_set_trainer(ctx, &old), LT_ERR_ABI);
    ck_assert_ptr_nonnull(strstr(lt_last_error(), "struct_size is 16"));
    ck_assert_ptr_null(lt_trainer(ctx));
    ck_assert_int_eq(lt_ctx_set_trainer(ctx, &ok), LT_OK);
    ck_assert_ptr_eq(lt_trainer(ctx), &ok);
    lt_ctx_free(ctx);
}
END_TEST

START_TEST(trainer_collectives_alone_and_misused) {
    lt_trainer_t alone = {0}; /* one process: no services, nothing to wait for */
    float v[2] = {3, 4}, out[2];
    ck_assert_int_eq(lt_trainer_world_size(&alone), 1);
    ck_assert_int_eq(lt_trainer_all_reduce(&alone, v, 2, true), LT_OK);
    ck_assert_float_eq(v[0], 3.0f);
    ck_assert_int_eq(lt_trainer_all_gather(&alone, v, 2, out), LT_OK);
    ck_assert_float_eq(out[1], 4.0f);
    ck_assert_int_eq(lt_trainer_barrier(&alone), LT_OK);
    ck_assert_int_eq(lt_trainer_all_reduce(NULL, v, 2, true), LT_ERR_STATE);
    ck_assert_ptr_nonnull(strstr(lt_last_error(), "outside a trainer"));
    ck_assert_int_eq(lt_trainer_all_reduce(&alone, v, -1, true), LT_ERR_INVALID_ARG);
    ck_assert_int_eq(lt_trainer_all_reduce(&alone, NULL, 2, true), LT_ERR_INVALID_ARG);
    ck_assert_int_eq(lt_trainer_all_gather(&alone, v, 2, NULL), LT_ERR_INVALID_ARG);
    lt_trainer_t serviceless = {.world_size = 2}; /* a host that forgot its collectives */
    ck_assert_int_eq(lt_trainer_all_reduce(&serviceless, v, 2, false), LT_ERR_STATE);
    ck_assert_int_eq(lt_trainer_barrier(&serviceless), LT_ERR_STATE);
}
END_TEST

Suite *suite_ddp_support(void) {
    Suite *s = suite_create("ddp_support");
    TCase *tc = tcase_create("grad_ready");
    tcase_add_checked_fixture(tc, test_open, test_close);
    tcase_add_test(tc, grad_ready_reports_each_parameter_once_when_final);
    tcase_add_test(tc, grad_ready_changes_no_gradient);
    tcase_add_test(tc, backward_scale_scales_every_gradient);
    tcase_add_test(tc, grad_ready_shared_parameter_once_per_backward);
    tcase_add_test(tc, flat_buffers_match_each_parameter);
    tcase_add_test(tc, large_flat_buffers_start_on_huge_pages);
    tcase_add_test(tc, copy_flat_round_trips_and_checks_bounds);
    tcase_add_test(tc, flat_buffers_need_materialize);
    suite_add_tcase(s, tc);
    tc = tcase_create("shard");
    tcase_add_test(tc, shard_pads_with_the_first_indices);
    tcase_add_test(tc, shard_follows_torch_on_the_shuffled_order);
    tcase_add_test(tc, shard_drop_last_and_resume);
    tcase_add_test(tc, shard_bad_arguments);
    tcase_add_test(tc, trainer_collectives_reach_the_group);
    tcase_add_test(tc, trainer_collectives_alone_and_misused);
    tcase_add_test(tc, trainer_all_gather_uses_the_host_slot);
    tcase_add_test(tc, trainer_struct_size_is_checked);
    suite_add_tcase(s, tc);
    return s;
}
