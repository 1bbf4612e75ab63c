/* Timer, as Lightning's (callbacks/timer.py): measures the time each stage takes and,
 * with a duration, stops fit once training has taken that long, checked after every
 * training batch (interval step) or epoch (interval epoch) and once at fit start (a
 * resumed run whose time is spent stops at once). The stop is a request: the epoch ends
 * with its hooks, so ModelCheckpoint saves as at any epoch end. --max_time adds one
 * (interval step) unless --callbacks has a Timer. Its state, the time elapsed per stage,
 * goes into checkpoints; a resumed run counts on from the saved training time. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "../trainer/trainer.h"

/* Lightning's RunningStage values, the keys of its state_dict. */
enum { ST_TRAIN, ST_SANITY, ST_VALIDATE, ST_TEST, ST_PREDICT, NSTAGES };
static const char *const stage_keys[NSTAGES] = {"train", "sanity_check", "validate", "test",
                                                "predict"};

typedef struct timer {
    double duration; /* seconds; < 0: none */
    bool per_step, verbose;
    double start[NSTAGES], end[NSTAGES]; /* monotonic seconds; < 0: not yet */
    double offset;                       /* training time of the run resumed from */
} timer;

static const lt_hparam_desc timer_hparams[] = {
    LT_HPARAM_STR("duration", "null",
                  "DD:HH:MM:SS or {hours: 1, minutes: 30}: stop fit after this much training "
                  "time (null: only measure)"),
    LT_HPARAM_CHOICE("interval", "step", "step|epoch", "check after each batch or each epoch"),
    LT_HPARAM_BOOL("verbose", true, "say when the time limit stops training"),
    LT_HPARAM_END,
};

static lt_status timer_setup(lt_ctx_t *ctx, void *self) {
    timer *t = self;
    char why[256];
    const char *d = lt_hparam_str(ctx, "duration");
    if (!duration_parse(d, &t->duration, why, sizeof why))
        return lt_set_error(LT_ERR_INVALID_ARG, "Timer: --callbacks.duration '%s': %s", d, why);
    t->per_step = !strcmp(lt_hparam_str(ctx, "interval"), "step");
    t->verbose = lt_hparam_bool(ctx, "verbose");
    for (int i = 0; i < NSTAGES; i++) t->start[i] = t->end[i] = -1;
    return LT_OK;
}

/* Lightning's Timer.time_elapsed(stage). */
static double elapsed(const timer *t, int stage) {
    double offset = stage == ST_TRAIN ? t->offset : 0;
    if (t->start[stage] < 0) return offset;
    double end = t->end[stage] < 0 ? now_seconds() : t->end[stage];
    return end - t->start[stage] + offset;
}

/* Rank 0's clock decides for every rank (Lightning broadcasts it). */
static lt_status check_time(lt_ctx_t *ctx, timer *t) {
    if (t->duration < 0) return LT_OK;
    lt_trainer_t *tr = lt_trainer(ctx);
    float spent[1] = {lt_trainer_global_rank(tr) == 0 ? (float)(elapsed(t, ST_TRAIN) >= t->duration)
                                                      : 0};
    if (lt_trainer_world_size(tr) > 1 && lt_trainer_all_reduce(tr, spent, 1, false) != LT_OK)
        return lt_last_status();
    if (spent[0] == 0) return LT_OK;
    char reason[128] = "";
    long long s = (long long)elapsed(t, ST_TRAIN);
    if (t->verbose)
        snprintf(reason, sizeof reason,
                 "Time limit reached. Elapsed time is %lld:%02lld:%02lld. Signaling Trainer to "
                 "stop.",
                 s / 3600, s / 60 % 60, s % 60);
    lt_trainer_request_stop(tr, reason);
    return LT_OK;
}

static void mark(timer *t, int stage, bool start) {
    (start ? t->start : t->end)[stage] = now_seconds();
}

static lt_status on_train_start(lt_ctx_t *c, void *t) {
    (void)c;
    mark(t, ST_TRAIN, true);
    return LT_OK;
}
static lt_status on_train_end(lt_ctx_t *c, void *t) {
    (void)c;
    mark(t, ST_TRAIN, false);
    return LT_OK;
}
static int eval_stage(lt_ctx_t *c) {
    return lt_trainer_sanity_checking(lt_trainer(c)) ? ST_SANITY : ST_VALIDATE;
}
static lt_status on_val_start(lt_ctx_t *c, void *t) {
    mark(t, eval_stage(c), true);
    return LT_OK;
}
static lt_status on_val_end(lt_ctx_t *c, void *t) {
    mark(t, eval_stage(c), false);
    return LT_OK;
}
static lt_status on_test_start(lt_ctx_t *c, void *t) {
    (void)c;
    mark(t, ST_TEST, true);
    return LT_OK;
}
static lt_status on_test_end(lt_ctx_t *c, void *t) {
    (void)c;
    mark(t, ST_TEST, false);
    return LT_OK;
}
static lt_status on_predict_start(lt_ctx_t *c, void *t) {
    (void)c;
    mark(t, ST_PREDICT, true);
    return LT_OK;
}
static lt_status on_predict_end(lt_ctx_t *c, void *t) {
    (void)c;
    mark(t, ST_PREDICT, false);
    return LT_OK;
}

/* Checked after the state is restored, whatever the interval: a spent timer stops fit. */
static lt_status on_fit_start(lt_ctx_t *ctx, void *self) { return check_time(ctx, self); }

static lt_status on_train_batch_end(lt_ctx_t *ctx, void *self, lt_tensor_t *out,
                                    const lt_batch_t *b, int64_t i) {
    (void)out, (void)b, (void)i;
    timer *t = self;
    return t->per_step ? check_time(ctx, t) : LT_OK;
}

static lt_status on_train_epoch_end(lt_ctx_t *ctx, void *self) {
    timer *t = self;
    return t->per_step ? LT_OK : check_time(ctx, t);
}

/* Lightning's Timer.state_dict: {"time_elapsed": {stage: seconds}}. */
static lt_status on_save_checkpoint(lt_ctx_t *ctx, void *self, lt_state_t *st) {
    (void)ctx;
    const timer *t = self;
    lt_state_t *e = lt_state_child(st, "time_elapsed");
    lt_status r = e ? LT_OK : lt_last_status();
    for (int i = 0; i < NSTAGES && r == LT_OK; i++)
        r = lt_state_set_float(e, stage_keys[i], elapsed(t, i));
    return r;
}

static lt_status on_load_checkpoint(lt_ctx_t *ctx, void *self, lt_state_t *st) {
    (void)ctx;
    timer *t = self;
    const lt_state_t *e = lt_state_get_child(st, "time_elapsed");
    double v = 0;
    if (e && lt_state_get_float(e, "train", &v) && (!isfinite(v) || v < 0))
        return lt_set_error(LT_ERR_FORMAT,
                            "Timer state: time_elapsed.train is %g, expected a "
                            "number of seconds >= 0",
                            v);
    t->offset = v;
    return LT_OK;
}

const lt_callback_desc timer_callback = {
    .abi_major = LT_ABI_MAJOR,
    .abi_minor = LT_ABI_MINOR,
    .struct_size = sizeof(lt_callback_desc),
    .name = "Timer",
    .self_size = sizeof(timer),
    .hparams = timer_hparams,
    .setup = timer_setup,
    .on_fit_start = on_fit_start,
    .on_train_start = on_train_start,
    .on_train_end = on_train_end,
    .on_validation_start = on_val_start,
    .on_validation_end = on_val_end,
    .on_test_start = on_test_start,
    .on_test_end = on_test_end,
    .on_predict_start = on_predict_start,
    .on_predict_end = on_predict_end,
    .on_train_batch_end = on_train_batch_end,
    .on_train_epoch_end = on_train_epoch_end,
    .on_save_checkpoint = on_save_checkpoint,
    .on_load_checkpoint = on_load_checkpoint,
};
