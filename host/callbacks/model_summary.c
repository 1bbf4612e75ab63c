/* ModelSummary, as Lightning's: the layer table printed at fit start, max_depth levels of
 * submodules deep (1: the top-level ones, as the default summary; -1: all; 0: none).
 * With --enable_model_summary false a ModelSummary in --callbacks is refused, as
 * Lightning refuses it. */
#include "../trainer/trainer.h"

typedef struct model_summary {
    int unused;
} model_summary;

static const lt_hparam_desc ms_hparams[] = {
    LT_HPARAM_INT("max_depth", 1, "submodule levels shown (-1: all, 0: no summary)"),
    LT_HPARAM_END,
};

static lt_status ms_setup(lt_ctx_t *ctx, void *self) {
    (void)self;
    session *s = lt_trainer(ctx)->host;
    int64_t depth = lt_hparam_int(ctx, "max_depth");
    if (depth < -1)
        return lt_set_error(LT_ERR_INVALID_ARG,
                            "ModelSummary: --callbacks.max_depth %lld; give -1 (all), 0 (none) "
                            "or a depth >= 1",
                            (long long)depth);
    if (!s->cfg->enable_model_summary)
        return lt_set_error(LT_ERR_INVALID_ARG,
                            "Trainer was configured with --enable_model_summary false but found "
                            "ModelSummary in --callbacks; remove one of them");
    s->model_summary_depth = depth;
    return LT_OK;
}

const lt_callback_desc model_summary_callback = {
    .abi_major = LT_ABI_MAJOR,
    .abi_minor = LT_ABI_MINOR,
    .struct_size = sizeof(lt_callback_desc),
    .name = "ModelSummary",
    .self_size = sizeof(model_summary),
    .hparams = ms_hparams,
    .setup = ms_setup,
};
