/* GradientAccumulationScheduler, as Lightning's: scheduling {epoch: n} sets the trainer's
 * accumulate_grad_batches at the start of each epoch (the factor of the latest listed
 * epoch at or before it; epoch 0 is 1 unless listed). Refused with manual optimization
 * and with --accumulate_grad_batches other than 1, as Lightning refuses them. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../trainer/trainer.h"

#define MAX_ENTRIES 64

typedef struct accum_scheduler {
    int n;
    int64_t epoch[MAX_ENTRIES], factor[MAX_ENTRIES]; /* sorted by epoch */
} accum_scheduler;

static const lt_hparam_desc gas_hparams[] = {
    LT_HPARAM_STR("scheduling", "",
                  "{epoch: factor, ...}, e.g. {0: 8, 4: 4, 8: 1} (YAML or JSON; epochs from 0)"),
    LT_HPARAM_END,
};

static const char *skip_blank(const char *p) {
    while (isspace((unsigned char)*p) || *p == '"' || *p == '\'') p++;
    return p;
}

/* One "epoch: factor" at *p; false with an error recorded. */
static lt_status parse_entry(accum_scheduler *g, const char **p) {
    char *end;
    const char *q = skip_blank(*p);
    long long e = strtoll(q, &end, 10);
    q = skip_blank(end);
    if (end == *p || *q != ':')
        return lt_set_error(LT_ERR_INVALID_ARG, "GradientAccumulationScheduler: --callbacks."
                                                "scheduling expects {epoch: factor, ...}, as "
                                                "{0: 8, 4: 4}");
    long long f = strtoll(q + 1, &end, 10);
    if (end == q + 1 || e < 0 || f < 1 || e > INT32_MAX || f > INT32_MAX)
        return lt_set_error(LT_ERR_INVALID_ARG,
                            "GradientAccumulationScheduler: epochs must be ints >= 0 and "
                            "accumulation factors ints > 0, got %lld: %lld",
                            e, f);
    for (int i = 0; i < g->n; i++)
        if (g->epoch[i] == e)
            return lt_set_error(LT_ERR_INVALID_ARG,
                                "GradientAccumulationScheduler: epoch %lld is listed twice", e);
    if (g->n == MAX_ENTRIES)
        return lt_set_error(LT_ERR_INVALID_ARG, "GradientAccumulationScheduler: at most %d entries",
                            MAX_ENTRIES);
    int i = g->n++;
    for (; i > 0 && g->epoch[i - 1] > e; i--)
        g->epoch[i] = g->epoch[i - 1], g->factor[i] = g->factor[i - 1];
    g->epoch[i] = e, g->factor[i] = f;
    *p = skip_blank(end);
    return LT_OK;
}

static lt_status gas_setup(lt_ctx_t *ctx, void *self) {
    accum_scheduler *g = self;
    const char *p = skip_blank(lt_hparam_str(ctx, "scheduling"));
    if (*p != '{' || !strchr(p, '}'))
        return lt_set_error(LT_ERR_INVALID_ARG, "GradientAccumulationScheduler needs "
                                                "--callbacks.scheduling {epoch: factor, ...}, as "
                                                "{0: 8, 4: 4}");
    const char *close = strrchr(p, '}');
    for (p = skip_blank(p + 1); p < close;) {
        if (parse_entry(g, &p) != LT_OK) return lt_last_status();
        p = skip_blank(*p == ',' ? p + 1 : p);
        if (p < close && !isdigit((unsigned char)*p))
            return lt_set_error(LT_ERR_INVALID_ARG,
                                "GradientAccumulationScheduler: unexpected "
                                "'%.20s' in --callbacks.scheduling",
                                p);
    }
    if (g->n == 0)
        return lt_set_error(LT_ERR_INVALID_ARG, "GradientAccumulationScheduler: an empty "
                                                "scheduling cannot be interpreted");
    return LT_OK;
}

static lt_status gas_on_train_start(lt_ctx_t *ctx, void *self) {
    (void)self;
    session *s = lt_trainer(ctx)->host;
    if (s->module.desc->manual_optimization)
        return lt_set_error(LT_ERR_STATE, "GradientAccumulationScheduler is not supported for "
                                          "manual optimization; remove the callback or use "
                                          "automatic optimization");
    if (s->cfg->accumulate_grad_batches != 1)
        return lt_set_error(LT_ERR_STATE, "You have set --accumulate_grad_batches and are using "
                                          "the GradientAccumulationScheduler callback. Either "
                                          "remove --accumulate_grad_batches or the callback");
    return LT_OK;
}

/* Lightning's get_accumulate_grad_batches: 1 before the first listed epoch. */
static lt_status gas_on_train_epoch_start(lt_ctx_t *ctx, void *self) {
    const accum_scheduler *g = self;
    session *s = lt_trainer(ctx)->host;
    int64_t epoch = lt_trainer_current_epoch(lt_trainer(ctx)), n = 1;
    for (int i = 0; i < g->n && g->epoch[i] <= epoch; i++) n = g->factor[i];
    s->accumulate_grad_batches = n;
    return LT_OK;
}

const lt_callback_desc grad_accum_scheduler_callback = {
    .abi_major = LT_ABI_MAJOR,
    .abi_minor = LT_ABI_MINOR,
    .struct_size = sizeof(lt_callback_desc),
    .name = "GradientAccumulationScheduler",
    .self_size = sizeof(accum_scheduler),
    .hparams = gas_hparams,
    .setup = gas_setup,
    .on_train_start = gas_on_train_start,
    .on_train_epoch_start = gas_on_train_epoch_start,
};
