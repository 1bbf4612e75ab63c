/* The trainer loops (host/trainer/) without lthost's command line or plugin files: a fake
 * module and data plugin defined here, the real cpu accelerator, and the real entry
 * points (session_init / session_make_contexts / session_setup, training_batch, run_fit).
 * Every hook of the module counts its calls, so each test checks what Lightning's loops
 * would have called: steps, validation scheduling, stopping rules, accumulation. */
#include <string.h>
#include <unistd.h>

#include "../../host/trainer/trainer.h"
#include "test_util.h"

enum { TRAIN_SAMPLES = 8, VAL_SAMPLES = 4, BATCH = 2, MAX_VALS = 64 };

/* What the fake module saw. */
static struct {
    int hook[HOOK_COUNT];
    int training_step, validation_step, configure_optimizers;
    int64_t val_at_step[MAX_VALS]; /* global_step at each on_validation_start of fit */
    int nval;
} seen;

/* What the fake module does besides counting; -1: nothing. */
static struct {
    int64_t stop_after_epoch; /* request a stop in on_train_epoch_end from this epoch on */
    int64_t stop_at_step;     /* request a stop in on_train_batch_end at this global step */
} knobs;

typedef struct fake {
    lt_tensor_t *w; /* (1), initialised to 1: loss = w * w, so each step's gradient is 2w */
} fake_t;

static void request_stop_if_due(lt_ctx_t *ctx, hook_id id) {
    lt_trainer_t *tr = lt_trainer(ctx);
    if (id == HOOK_on_train_epoch_end && knobs.stop_after_epoch >= 0 &&
        lt_trainer_current_epoch(tr) >= knobs.stop_after_epoch)
        lt_trainer_request_stop(tr, "test: stop at epoch end"); /* as EarlyStopping does */
    if (id == HOOK_on_train_batch_end && knobs.stop_at_step >= 0 &&
        lt_trainer_global_step(tr) == knobs.stop_at_step)
        lt_trainer_request_stop(tr, "test: stop after a batch");
}

/* Every hook: count it, then act as the test asked. */
static lt_status on_hook(lt_ctx_t *ctx, void *self, hook_id id) {
    seen.hook[id]++;
    lt_trainer_t *tr = lt_trainer(ctx);
    if (id == HOOK_setup) {
        const int64_t shape[1] = {1};
        ((fake_t *)self)->w = lt_param(ctx, "w", 1, shape, LT_INIT_ONES);
        return lt_ok(ctx);
    }
    if (id == HOOK_on_validation_start && !lt_trainer_sanity_checking(tr) && seen.nval < MAX_VALS)
        seen.val_at_step[seen.nval++] = lt_trainer_global_step(tr);
    request_stop_if_due(ctx, id);
    return LT_OK;
}

/* One counting function per hook of LT_HOOK_TABLE, of the hook's own type. */
#define COUNT_lt_hook_fn(name)                                                                     \
    static lt_status count_##name(lt_ctx_t *c, void *s) { return on_hook(c, s, HOOK_##name); }
#define COUNT_lt_teardown_fn(name)                                                                 \
    static void count_##name(lt_ctx_t *c, void *s) { on_hook(c, s, HOOK_##name); }
#define COUNT_lt_batch_start_fn(name)                                                              \
    static lt_status count_##name(lt_ctx_t *c, void *s, const lt_batch_t *b, int64_t i) {          \
        (void)b, (void)i;                                                                          \
        return on_hook(c, s, HOOK_##name);                                                         \
    }
#define COUNT_lt_batch_end_fn(name)                                                                \
    static lt_status count_##name(lt_ctx_t *c, void *s, lt_tensor_t *o, const lt_batch_t *b,       \
                                  int64_t i) {                                                     \
        (void)o, (void)b, (void)i;                                                                 \
        return on_hook(c, s, HOOK_##name);                                                         \
    }
#define COUNT_lt_loss_hook_fn(name)                                                                \
    static lt_status count_##name(lt_ctx_t *c, void *s, lt_tensor_t *loss) {                       \
        (void)loss;                                                                                \
        return on_hook(c, s, HOOK_##name);                                                         \
    }
#define COUNT_lt_optimizer_hook_fn(name)                                                           \
    static lt_status count_##name(lt_ctx_t *c, void *s, lt_optimizer_t *opt) {                     \
        (void)opt;                                                                                 \
        return on_hook(c, s, HOOK_##name);                                                         \
    }
#define COUNT_lt_state_hook_fn(name)                                                               \
    static lt_status count_##name(lt_ctx_t *c, void *s, lt_state_t *st) {                          \
        (void)st;                                                                                  \
        return on_hook(c, s, HOOK_##name);                                                         \
    }
#define DEFINE_COUNT_(type, name) COUNT_##type(name)
LT_HOOK_TABLE(DEFINE_COUNT_)
#undef DEFINE_COUNT_

static lt_status configure_optimizers(lt_ctx_t *ctx, void *self) {
    (void)self;
    seen.configure_optimizers++;
    return lt_use_optimizer(ctx, lt_sgd(lt_parameters(ctx), 0.1));
}

static lt_tensor_t *training_step(lt_ctx_t *ctx, void *self, const lt_batch_t *b, int64_t i) {
    (void)ctx, (void)b, (void)i;
    seen.training_step++;
    fake_t *f = self;
    return lt_sum(lt_mul(f->w, f->w));
}

static lt_tensor_t *validation_step(lt_ctx_t *ctx, void *self, const lt_batch_t *b, int64_t i) {
    (void)ctx, (void)b, (void)i;
    seen.validation_step++;
    fake_t *f = self;
    return lt_sum(lt_mul(f->w, f->w));
}

#define HOOK_SLOT_(type, name) .name = count_##name,
static const lt_module_desc fake_module = {.abi_major = LT_ABI_MAJOR,
                                           .abi_minor = LT_ABI_MINOR,
                                           .struct_size = sizeof(lt_module_desc),
                                           .name = "fake",
                                           .self_size = sizeof(fake_t),
                                           .configure_optimizers = configure_optimizers,
                                           .training_step = training_step,
                                           .validation_step = validation_step,
                                           LT_HOOK_TABLE(HOOK_SLOT_)};
#undef HOOK_SLOT_

/* Sample i: x = i, label 0. */
static lt_status fill(void *user, const int64_t *idx, int64_t n, float *x, void *y) {
    (void)user;
    for (int64_t i = 0; i < n; i++) {
        x[i] = (float)idx[i];
        ((int64_t *)y)[i] = 0;
    }
    return LT_OK;
}

static lt_status data_setup_fake(lt_ctx_t *ctx, void *self, const char *stage) {
    (void)self, (void)stage;
    lt_dataset ds = {.struct_size = sizeof ds,
                     .length = TRAIN_SAMPLES,
                     .x_ndim = 1,
                     .x_shape = {1},
                     .y_dtype = LT_I64,
                     .fill = fill};
    lt_loader_opts opts = {.struct_size = sizeof opts, .batch_size = BATCH};
    lt_status st = lt_data_add_split(ctx, LT_SPLIT_TRAIN, &ds, &opts);
    ds.length = VAL_SAMPLES;
    return st == LT_OK ? lt_data_add_split(ctx, LT_SPLIT_VAL, &ds, &opts) : st;
}

static const lt_datamodule_desc fake_data = {.abi_major = LT_ABI_MAJOR,
                                             .abi_minor = LT_ABI_MINOR,
                                             .struct_size = sizeof(lt_datamodule_desc),
                                             .name = "fake_data",
                                             .setup = data_setup_fake};

/* ---- the rig: a session of the fake plugins, as trainer_run makes one ---------------- */

static host_config cfg;
static session *s;
static char last_error[1024];
static int saved_stdout = -1;

/* The defaults of `lthost fit`, minus what writes files or draws; stdout (epoch lines)
 * goes to /dev/null while the loops run. */
static void rig_open(void) {
    memset(&seen, 0, sizeof seen);
    knobs.stop_after_epoch = knobs.stop_at_step = -1;
    config_defaults(&cfg, "fit");
    cfg.logger = "false";
    cfg.enable_checkpointing = cfg.enable_progress_bar = cfg.enable_model_summary = false;
    cfg.test_after_fit = false;
    cfg.max_epochs = 1;
    host_error_capture(last_error, sizeof last_error);
    fflush(stdout);
    saved_stdout = dup(STDOUT_FILENO);
    ck_assert(freopen("/dev/null", "w", stdout) != NULL);
}

static void rig_close(void) {
    if (s) {
        session_teardown(s);
        free(s);
        s = NULL;
    }
    host_error_capture(NULL, 0);
    fflush(stdout);
    dup2(saved_stdout, STDOUT_FILENO);
    close(saved_stdout);
}

/* After the test set cfg: plugins in place, contexts, setup hooks, parameters. */
static void start(void) {
    s = calloc(1, sizeof *s);
    ck_assert_ptr_nonnull(s);
    session_init(s, &cfg, 7);
    s->module.desc = &fake_module;
    s->data.desc = &fake_data;
    s->module.file = "test_trainer.c";
    s->group.world = 1;
    ck_assert_msg(lt_device_open("cpu", 1, &s->dev) == LT_OK, "%s", lt_last_error());
    lt_ctx_t *callback_ctx[LTHOST_MAX_CALLBACKS + 1] = {0};
    ck_assert_msg(session_make_contexts(s, callback_ctx), "%s", last_error);
    s->tr.module = s->module.ctx;
    ddp_serve_trainer(s);
    s->tr.stage = "fit";
    ck_assert_msg(session_setup(s), "%s", last_error);
}

static void fit(void) {
    start();
    ck_assert_msg(run_fit(s), "%s", last_error);
}

static float weight(void) {
    float w = 0;
    ck_assert_int_eq(lt_to_host(((fake_t *)lt_ctx_self(s->module.ctx))->w, &w, sizeof w), LT_OK);
    return w;
}

/* A batch of two samples, as make_batch builds one. */
static lt_batch_t batch(void) {
    const float x[BATCH] = {0, 1};
    const int64_t y[BATCH] = {0, 0}, xs[2] = {BATCH, 1}, ys[1] = {BATCH};
    lt_arena_t *a = lt_ctx_arena(s->module.ctx);
    lt_batch_t b = {.x = lt_from_host(a, LT_F32, 2, xs, x),
                    .y = lt_from_host(a, LT_I64, 1, ys, y),
                    .size = BATCH};
    ck_assert(b.x && b.y);
    return b;
}

/* ---- training_batch ----------------------------------------------------------------- */

/* One batch of automatic optimization: zero_grad, backward and one SGD update, each hook
 * once; w = 1 - 0.1 * 2w = 0.8. */
START_TEST(training_batch_steps_once) {
    start();
    ck_assert(module_hook(s, "configure_optimizers", s->module.desc->configure_optimizers));
    lt_batch_t b = batch();
    lt_tensor_t *loss = NULL;
    ck_assert_msg(training_batch(s, &b, 0, false, &loss), "%s", last_error);
    ck_assert_ptr_nonnull(loss);
    ck_assert_int_eq(seen.training_step, 1);
    ck_assert_int_eq(s->tr.global_step, 1);
    ck_assert_int_eq(seen.hook[HOOK_on_before_zero_grad], 1);
    ck_assert_int_eq(seen.hook[HOOK_on_before_backward], 1);
    ck_assert_int_eq(seen.hook[HOOK_on_after_backward], 1);
    ck_assert_int_eq(seen.hook[HOOK_on_before_optimizer_step], 1);
    ck_assert_float_eq_tol(weight(), 0.8f, 1e-6f);
}
END_TEST

/* accumulate_grad_batches 2: the first batch only adds its gradient (scaled by 1/2), the
 * second steps with the sum: w = 1 - 0.1 * (1 + 1) = 0.8, one update, one zero_grad. */
START_TEST(training_batch_accumulates) {
    cfg.accumulate_grad_batches = 2;
    start();
    ck_assert(module_hook(s, "configure_optimizers", s->module.desc->configure_optimizers));
    lt_batch_t b = batch();
    lt_tensor_t *loss = NULL;
    ck_assert_msg(training_batch(s, &b, 0, false, &loss), "%s", last_error);
    ck_assert_int_eq(s->tr.global_step, 0);
    ck_assert_int_eq(seen.hook[HOOK_on_before_optimizer_step], 0);
    ck_assert_float_eq_tol(weight(), 1.0f, 1e-6f);
    ck_assert_msg(training_batch(s, &b, 1, false, &loss), "%s", last_error);
    ck_assert_int_eq(s->tr.global_step, 1);
    ck_assert_int_eq(seen.training_step, 2);
    ck_assert_int_eq(seen.hook[HOOK_on_before_zero_grad], 1);
    ck_assert_int_eq(seen.hook[HOOK_on_before_backward], 2);
    ck_assert_int_eq(seen.hook[HOOK_on_before_optimizer_step], 1);
    ck_assert_float_eq_tol(weight(), 0.8f, 1e-6f);
}
END_TEST

/* The last batch of an epoch steps even inside an unfinished accumulation window. */
START_TEST(training_batch_steps_at_epoch_end) {
    cfg.accumulate_grad_batches = 4;
    start();
    ck_assert(module_hook(s, "configure_optimizers", s->module.desc->configure_optimizers));
    lt_batch_t b = batch();
    lt_tensor_t *loss = NULL;
    ck_assert_msg(training_batch(s, &b, 0, true, &loss), "%s", last_error);
    ck_assert_int_eq(s->tr.global_step, 1);
    ck_assert_int_eq(seen.hook[HOOK_on_before_optimizer_step], 1);
}
END_TEST

/* ---- run_fit: the epochs, validation and their hooks ------------------------------------ */

/* 2 epochs of 4 batches, 2 validation batches: sanity check (2), then validation at each
 * epoch's end; every hook as often as Lightning calls it. */
START_TEST(fit_runs_every_hook_in_count) {
    cfg.max_epochs = 2;
    fit();
    ck_assert_int_eq(seen.hook[HOOK_setup], 1);
    ck_assert_int_eq(seen.configure_optimizers, 1);
    ck_assert_int_eq(seen.hook[HOOK_on_fit_start], 1);
    ck_assert_int_eq(seen.hook[HOOK_on_train_start], 1);
    ck_assert_int_eq(seen.hook[HOOK_on_sanity_check_start], 1);
    ck_assert_int_eq(seen.hook[HOOK_on_sanity_check_end], 1);
    ck_assert_int_eq(seen.hook[HOOK_on_train_epoch_start], 2);
    ck_assert_int_eq(seen.hook[HOOK_on_train_epoch_end], 2);
    ck_assert_int_eq(seen.hook[HOOK_on_train_batch_start], 8);
    ck_assert_int_eq(seen.hook[HOOK_on_train_batch_end], 8);
    ck_assert_int_eq(seen.training_step, 8);
    ck_assert_int_eq(seen.hook[HOOK_on_before_optimizer_step], 8);
    ck_assert_int_eq(s->tr.global_step, 8);
    ck_assert_int_eq(seen.hook[HOOK_on_validation_start], 3);
    ck_assert_int_eq(seen.hook[HOOK_on_validation_batch_end], 6);
    ck_assert_int_eq(seen.validation_step, 6);
    ck_assert_int_eq(seen.hook[HOOK_on_train_end], 1);
    ck_assert_int_eq(seen.hook[HOOK_on_fit_end], 1);
    ck_assert_int_eq(s->tr.current_epoch, 2); /* finished epochs, as Lightning after fit */
    ck_assert_int_eq(seen.nval, 2);
    ck_assert_int_eq(seen.val_at_step[0], 4);
    ck_assert_int_eq(seen.val_at_step[1], 8);
}
END_TEST

/* val_check_interval 0.5 of 4 batches: after batches 2 and 4 of the epoch. */
START_TEST(fit_validates_at_a_fraction_of_the_epoch) {
    cfg.val_check_interval = (batch_limit){.is_fraction = true, .fraction = 0.5};
    fit();
    ck_assert_int_eq(seen.nval, 2);
    ck_assert_int_eq(seen.val_at_step[0], 2);
    ck_assert_int_eq(seen.val_at_step[1], 4);
}
END_TEST

/* val_check_interval 3 with check_val_every_n_epoch null: every 3 batches counted across
 * epochs (8 batches: after 3 and 6). */
START_TEST(fit_validates_every_n_batches_across_epochs) {
    cfg.max_epochs = 2;
    cfg.val_check_interval = (batch_limit){.count = 3};
    cfg.check_val_every_n_epoch = 0;
    fit();
    ck_assert_int_eq(seen.nval, 2);
    ck_assert_int_eq(seen.val_at_step[0], 3);
    ck_assert_int_eq(seen.val_at_step[1], 6);
}
END_TEST

/* An int interval within the epoch: every batch, 4 validations an epoch. */
START_TEST(fit_validates_every_batch) {
    cfg.val_check_interval = (batch_limit){.count = 1};
    fit();
    ck_assert_int_eq(seen.nval, 4);
    for (int i = 0; i < 4; i++) ck_assert_int_eq(seen.val_at_step[i], i + 1);
}
END_TEST

/* check_val_every_n_epoch 2 over 4 epochs: after epochs 2 and 4 only. */
START_TEST(fit_validates_every_other_epoch) {
    cfg.max_epochs = 4;
    cfg.check_val_every_n_epoch = 2;
    fit();
    ck_assert_int_eq(seen.nval, 2);
    ck_assert_int_eq(seen.val_at_step[0], 8);
    ck_assert_int_eq(seen.val_at_step[1], 16);
}
END_TEST

/* limit_val_batches 0: no validation at all, not even the sanity check. */
START_TEST(fit_without_validation_batches) {
    cfg.max_epochs = 2;
    cfg.limit_val = (batch_limit){.count = 0};
    fit();
    ck_assert_int_eq(seen.validation_step, 0);
    ck_assert_int_eq(seen.hook[HOOK_on_validation_start], 0);
    ck_assert_int_eq(seen.hook[HOOK_on_sanity_check_start], 0);
    ck_assert_int_eq(s->tr.global_step, 8);
}
END_TEST

/* num_sanity_val_steps 0: validation without the sanity check. */
START_TEST(fit_without_sanity_check) {
    cfg.num_sanity_val_steps = 0;
    fit();
    ck_assert_int_eq(seen.hook[HOOK_on_sanity_check_start], 0);
    ck_assert_int_eq(seen.validation_step, 2);
}
END_TEST

/* ---- stopping rules -------------------------------------------------------------------- */

/* max_steps 5 with no max_epochs: stops inside the second epoch. */
START_TEST(fit_stops_at_max_steps) {
    cfg.max_epochs = -1;
    cfg.max_steps = 5;
    fit();
    ck_assert_int_eq(s->tr.global_step, 5);
    ck_assert_int_eq(seen.training_step, 5);
    ck_assert_int_eq(seen.hook[HOOK_on_train_epoch_start], 2);
    ck_assert_int_eq(seen.hook[HOOK_on_train_end], 1);
}
END_TEST

/* A stop requested at the end of the first epoch (EarlyStopping) ends fit there. */
START_TEST(fit_stops_when_a_hook_asks) {
    cfg.max_epochs = 5;
    knobs.stop_after_epoch = 0;
    fit();
    ck_assert_int_eq(seen.hook[HOOK_on_train_epoch_start], 1);
    ck_assert_int_eq(s->tr.global_step, 4);
    ck_assert(s->tr.should_stop);
}
END_TEST

/* min_epochs 3 overrules a stop asked for after every epoch until 3 have run. */
START_TEST(fit_runs_min_epochs_despite_a_stop) {
    cfg.max_epochs = 5;
    cfg.min_epochs = 3;
    knobs.stop_after_epoch = 0;
    fit();
    ck_assert_int_eq(seen.hook[HOOK_on_train_epoch_start], 3);
    ck_assert_int_eq(s->tr.global_step, 12);
}
END_TEST

/* A stop asked for after a batch ends the epoch after that batch; the epoch still ends
 * with its hooks (and validation), and no further epoch starts. */
START_TEST(fit_stops_after_the_batch_that_asks) {
    cfg.max_epochs = 5;
    knobs.stop_at_step = 2;
    fit();
    ck_assert_int_eq(s->tr.global_step, 2);
    ck_assert_int_eq(seen.training_step, 2);
    ck_assert_int_eq(seen.hook[HOOK_on_train_epoch_start], 1);
    ck_assert_int_eq(seen.hook[HOOK_on_train_epoch_end], 1);
}
END_TEST

/* accumulate_grad_batches 3 of 4 batches an epoch: a step after batch 3, another at the
 * epoch's last batch; two epochs, four steps. */
START_TEST(fit_steps_per_accumulation_window) {
    cfg.max_epochs = 2;
    cfg.accumulate_grad_batches = 3;
    fit();
    ck_assert_int_eq(seen.training_step, 8);
    ck_assert_int_eq(s->tr.global_step, 4);
    ck_assert_int_eq(seen.hook[HOOK_on_before_optimizer_step], 4);
    ck_assert_int_eq(seen.hook[HOOK_on_before_zero_grad], 4);
}
END_TEST

Suite *suite_trainer(void) {
    Suite *su = suite_create("trainer");
    TCase *tc = tcase_create("trainer");
    tcase_add_checked_fixture(tc, rig_open, rig_close);
    tcase_add_test(tc, training_batch_steps_once);
    tcase_add_test(tc, training_batch_accumulates);
    tcase_add_test(tc, training_batch_steps_at_epoch_end);
    tcase_add_test(tc, fit_runs_every_hook_in_count);
    tcase_add_test(tc, fit_validates_at_a_fraction_of_the_epoch);
    tcase_add_test(tc, fit_validates_every_n_batches_across_epochs);
    tcase_add_test(tc, fit_validates_every_batch);
    tcase_add_test(tc, fit_validates_every_other_epoch);
    tcase_add_test(tc, fit_without_validation_batches);
    tcase_add_test(tc, fit_without_sanity_check);
    tcase_add_test(tc, fit_stops_at_max_steps);
    tcase_add_test(tc, fit_stops_when_a_hook_asks);
    tcase_add_test(tc, fit_runs_min_epochs_despite_a_stop);
    tcase_add_test(tc, fit_stops_after_the_batch_that_asks);
    tcase_add_test(tc, fit_steps_per_accumulation_window);
    suite_add_tcase(su, tc);
    return su;
}
