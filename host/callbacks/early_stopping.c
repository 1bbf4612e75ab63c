/* EarlyStopping, as Lightning's: stop fit when `monitor` has not improved by min_delta
 * for `patience` checks. It checks at the end of each training epoch when validation
 * runs once per epoch, else after each validation (Lightning's check_on_train_epoch_end
 * resolution). Built in, but written against the callback ABI like any plugin. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "../trainer/trainer.h"

typedef struct early_stopping {
    double best;
    int64_t wait;
    bool on_train_epoch_end;
} early_stopping;

static const lt_hparam_desc es_hparams[] = {
    LT_HPARAM_STR("monitor", "val_loss", "the logged metric to watch"),
    LT_HPARAM_FLOAT("min_delta", 0.0, "smallest change that counts as an improvement"),
    LT_HPARAM_INT("patience", 3, "checks with no improvement before stopping"),
    LT_HPARAM_CHOICE("mode", "min", "min|max", "whether the metric should go down or up"),
    LT_HPARAM_BOOL("strict", true, "error if the metric is missing"),
    LT_HPARAM_BOOL("check_finite", true, "stop when the metric becomes NaN or infinite"),
    LT_HPARAM_CHOICE("check_on_train_epoch_end", "auto", "auto|true|false",
                     "when to check (auto: epoch end if validation runs once per epoch)"),
    LT_HPARAM_END,
};

static lt_status es_setup(lt_ctx_t *ctx, void *self) {
    early_stopping *es = self;
    const session *s = lt_trainer(ctx)->host;
    bool max = !strcmp(lt_hparam_str(ctx, "mode"), "max");
    es->best = max ? -INFINITY : INFINITY;
    const char *when = lt_hparam_str(ctx, "check_on_train_epoch_end");
    const batch_limit *v = &s->cfg->val_check_interval;
    es->on_train_epoch_end = !strcmp(when, "auto") ? v->is_fraction && v->fraction == 1.0 &&
                                                         s->cfg->check_val_every_n_epoch == 1
                                                   : !strcmp(when, "true");
    return LT_OK;
}

static lt_status missing_metric(lt_ctx_t *ctx, lt_trainer_t *tr, const char *monitor) {
    char names[512] = "";
    size_t len = 0;
    for (int i = 0; i < lt_trainer_metric_count(tr); i++)
        len += (size_t)snprintf(names + len, len < sizeof names ? sizeof names - len : 0, "%s%s",
                                i ? "`, `" : "", lt_trainer_metric_at(tr, i, NULL));
    if (!lt_hparam_bool(ctx, "strict")) return LT_OK;
    return lt_set_error(LT_ERR_STATE,
                        "early stopping conditioned on metric `%s` which is not "
                        "available; set --callbacks.monitor to one of: `%s`",
                        monitor, len ? names : "(nothing is logged)");
}

static lt_status check(lt_ctx_t *ctx, early_stopping *es) {
    lt_trainer_t *tr = lt_trainer(ctx);
    const char *monitor = lt_hparam_str(ctx, "monitor");
    double cur;
    if (!lt_trainer_metric(tr, monitor, &cur)) return missing_metric(ctx, tr, monitor);
    bool max = !strcmp(lt_hparam_str(ctx, "mode"), "max");
    double delta = lt_hparam_float(ctx, "min_delta") * (max ? 1.0 : -1.0);
    char reason[256];
    if (lt_hparam_bool(ctx, "check_finite") && !isfinite(cur)) {
        snprintf(reason, sizeof reason,
                 "Monitored metric %s = %g is not finite. Previous best "
                 "value was %.3f. Signaling Trainer to stop.",
                 monitor, cur, es->best);
        lt_trainer_request_stop(tr, reason);
    } else if (max ? cur - delta > es->best : cur - delta < es->best) {
        es->best = cur;
        es->wait = 0;
    } else if (++es->wait >= lt_hparam_int(ctx, "patience")) {
        snprintf(reason, sizeof reason,
                 "Monitored metric %s did not improve in the last %lld "
                 "records. Best score: %.3f. Signaling Trainer to stop.",
                 monitor, (long long)es->wait, es->best);
        lt_trainer_request_stop(tr, reason);
    }
    return LT_OK;
}

static bool skip(lt_ctx_t *ctx) {
    lt_trainer_t *tr = lt_trainer(ctx);
    return strcmp(lt_trainer_stage(tr), "fit") != 0 || lt_trainer_sanity_checking(tr);
}

static lt_status es_on_train_epoch_end(lt_ctx_t *ctx, void *self) {
    early_stopping *es = self;
    return !es->on_train_epoch_end || skip(ctx) ? LT_OK : check(ctx, es);
}

static lt_status es_on_validation_end(lt_ctx_t *ctx, void *self) {
    early_stopping *es = self;
    return es->on_train_epoch_end || skip(ctx) ? LT_OK : check(ctx, es);
}

/* Lightning's EarlyStopping.state_dict: the wait count and the best score so far. */
static lt_status es_on_save_checkpoint(lt_ctx_t *ctx, void *self, lt_state_t *st) {
    const early_stopping *es = self;
    lt_status r = lt_state_set_int(st, "wait_count", es->wait);
    if (r == LT_OK) r = lt_state_set_float(st, "best_score", es->best);
    if (r == LT_OK) r = lt_state_set_int(st, "patience", lt_hparam_int(ctx, "patience"));
    return r;
}

static lt_status es_on_load_checkpoint(lt_ctx_t *ctx, void *self, lt_state_t *st) {
    (void)ctx;
    early_stopping *es = self;
    lt_state_get_int(st, "wait_count", &es->wait);
    lt_state_get_float(st, "best_score", &es->best);
    return LT_OK;
}

const lt_callback_desc early_stopping_callback = {
    .abi_major = LT_ABI_MAJOR,
    .abi_minor = LT_ABI_MINOR,
    .struct_size = sizeof(lt_callback_desc),
    .name = "EarlyStopping",
    .self_size = sizeof(early_stopping),
    .hparams = es_hparams,
    .setup = es_setup,
    .on_train_epoch_end = es_on_train_epoch_end,
    .on_validation_end = es_on_validation_end,
    .on_save_checkpoint = es_on_save_checkpoint,
    .on_load_checkpoint = es_on_load_checkpoint,
};
