/* LearningRateMonitor, as Lightning's: logs each optimizer's learning rate as
 * lr-<Optimizer> (lr-Adam, lr-Adam-1 for a second Adam; lr-Adam/pg1, lr-Adam/pg2 for the
 * param groups of one with several), at every logging step for
 * optimizers whose scheduler steps per batch, at every epoch start for the others
 * (logging_interval none); or all of them at one interval when it is step or epoch. */
#include <stdio.h>
#include <string.h>

#include "../trainer/trainer.h"

typedef struct lr_monitor {
    int unused;
} lr_monitor;

static const lt_hparam_desc lrm_hparams[] = {
    LT_HPARAM_CHOICE("logging_interval", "none", "none|step|epoch",
                     "when to log (none: as each optimizer's scheduler steps)"),
    LT_HPARAM_BOOL("log_momentum", false,
                   "also log momentum (SGD) / beta1 (Adam) as momentum-<Optimizer>"),
    LT_HPARAM_END,
};

/* The interval of opt's scheduler, or epoch when it has none. */
static lt_interval interval_of(lt_ctx_t *module, lt_optimizer_t *opt) {
    for (int i = 0; i < lt_ctx_num_schedulers(module); i++) {
        lt_scheduler_config c;
        lt_scheduler_t *sch = lt_ctx_scheduler(module, i, &c);
        if (lt_scheduler_optimizer(sch) == opt) return c.interval;
    }
    return LT_INTERVAL_EPOCH;
}

static void metric_name(lt_trainer_t *tr, int i, const char *what, char *buf, size_t n) {
    const char *name = lt_optimizer_name(lt_trainer_optimizer(tr, i));
    int same = 0;
    for (int j = 0; j < i; j++)
        same += !strcmp(lt_optimizer_name(lt_trainer_optimizer(tr, j)), name);
    if (same)
        snprintf(buf, n, "%s-%s-%d", what, name, same);
    else
        snprintf(buf, n, "%s-%s", what, name);
}

/* lr-<Optimizer>, and with several param groups lr-<Optimizer>/pg<k> for each (k from 1),
 * as Lightning names them. */
static lt_status log_groups(lt_trainer_t *tr, int i, const char *what,
                            double (*value)(int g, void *), void *opt) {
    char name[96], base[80];
    metric_name(tr, i, what, base, sizeof base);
    const int n = lt_optimizer_num_groups(opt);
    lt_status st = LT_OK;
    for (int g = 0; g < n && st == LT_OK; g++) {
        if (n > 1)
            snprintf(name, sizeof name, "%s/pg%d", base, g + 1);
        else
            snprintf(name, sizeof name, "%s", base);
        st = lt_trainer_log(tr, name, value(g, opt));
    }
    return st;
}

static double group_lr(int g, void *opt) { return lt_optimizer_group_lr(opt, g); }
static double group_momentum(int g, void *opt) {
    (void)g; /* shared by every group */
    return lt_optimizer_momentum(opt);
}

static lt_status log_rates(lt_ctx_t *ctx, lt_interval when) {
    lt_trainer_t *tr = lt_trainer(ctx);
    const char *mode = lt_hparam_str(ctx, "logging_interval");
    for (int i = 0; i < lt_trainer_num_optimizers(tr); i++) {
        lt_optimizer_t *opt = lt_trainer_optimizer(tr, i);
        bool due = !strcmp(mode, "none") ? interval_of(tr->module, opt) == when
                                         : (when == LT_INTERVAL_STEP) == !strcmp(mode, "step");
        if (!due) continue;
        lt_status st = log_groups(tr, i, "lr", group_lr, opt);
        if (st == LT_OK && lt_hparam_bool(ctx, "log_momentum"))
            st = log_groups(tr, i, "momentum", group_momentum, opt);
        if (st != LT_OK) return st;
    }
    return LT_OK;
}

static lt_status lrm_on_train_start(lt_ctx_t *ctx, void *self) {
    (void)self;
    const session *s = lt_trainer(ctx)->host;
    if (!strcmp(s->cfg->logger, "false"))
        return lt_set_error(LT_ERR_STATE, "LearningRateMonitor needs a logger, but --logger is "
                                          "false; drop --logger false or the callback");
    return LT_OK;
}

static lt_status lrm_on_train_batch_start(lt_ctx_t *ctx, void *self, const lt_batch_t *b,
                                          int64_t i) {
    (void)self, (void)b, (void)i;
    const session *s = lt_trainer(ctx)->host;
    if ((s->pos.batches_that_stepped + 1) % s->cfg->log_every_n_steps != 0) return LT_OK;
    return log_rates(ctx, LT_INTERVAL_STEP);
}

static lt_status lrm_on_train_epoch_start(lt_ctx_t *ctx, void *self) {
    (void)self;
    return log_rates(ctx, LT_INTERVAL_EPOCH);
}

const lt_callback_desc lr_monitor_callback = {
    .abi_major = LT_ABI_MAJOR,
    .abi_minor = LT_ABI_MINOR,
    .struct_size = sizeof(lt_callback_desc),
    .name = "LearningRateMonitor",
    .self_size = sizeof(lr_monitor),
    .hparams = lrm_hparams,
    .on_train_start = lrm_on_train_start,
    .on_train_batch_start = lrm_on_train_batch_start,
    .on_train_epoch_start = lrm_on_train_epoch_start,
};
