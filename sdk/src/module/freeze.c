/* Lightning's LightningModule.freeze() / unfreeze(), for the whole module or one of its
 * submodules (the parameters whose names start with "<prefix>."): requires_grad off, so
 * backward leaves them alone and the optimizers skip them as torch skips a parameter
 * without a gradient; and eval mode, so the whole module's dropout and batch norms, or
 * the submodule's batch norms, stop training. (issue #23) */
#include <stdio.h>
#include <string.h>

#include "ctx_impl.h"

/* name is prefix itself or lies under "prefix."; NULL or "" is the whole module. */
static bool under(const char *name, const char *prefix) {
    if (!prefix || !*prefix) return true;
    const size_t n = strlen(prefix);
    return !strncmp(name, prefix, n) && (name[n] == '\0' || name[n] == '.');
}

bool lt__ctx_frozen(const lt_ctx_t *ctx, const char *name) {
    if (ctx->frozen_all) return true;
    for (int i = 0; i < ctx->nfrozen; i++)
        if (under(name, ctx->frozen[i])) return true;
    return false;
}

/* Every parameter under prefix gets requires_grad on or off; an error naming the module
 * when there is none. */
static lt_status set_params(lt_ctx_t *ctx, const char *prefix, bool requires, const char *what) {
    int n = 0;
    for (int i = 0; i < ctx->nparams; i++)
        if (under(ctx->params[i].name, prefix)) {
            lt_set_requires_grad(ctx->params[i].t, requires);
            n++;
        }
    if (n > 0) return LT_OK;
    return lt_set_error(LT_ERR_INVALID_ARG,
                        "%s(\"%s\"): %s has no parameter named %s or %s.*; pass a submodule's "
                        "name as its parameters start (\"encoder\" for encoder.0.weight) or "
                        "NULL for the whole module",
                        what, prefix, ctx->plugin_name, prefix, prefix);
}

static int frozen_index(const lt_ctx_t *ctx, const char *prefix) {
    for (int i = 0; i < ctx->nfrozen; i++)
        if (!strcmp(ctx->frozen[i], prefix)) return i;
    return -1;
}

lt_status lt_freeze(lt_ctx_t *ctx, const char *prefix) {
    if (!ctx) return lt_set_error(LT_ERR_INVALID_ARG, "lt_freeze: ctx is NULL");
    const bool all = !prefix || !*prefix;
    if (!all && strlen(prefix) >= sizeof ctx->frozen[0])
        return lt_set_error(LT_ERR_INVALID_ARG,
                            "lt_freeze: a submodule name of %zu characters; "
                            "the most is 127",
                            strlen(prefix));
    if (!all && frozen_index(ctx, prefix) < 0 && ctx->nfrozen == LT_MAX_FROZEN)
        return lt_set_error(LT_ERR_INVALID_ARG,
                            "lt_freeze(\"%s\"): %d submodules are frozen already, the most there "
                            "may be; freeze their common parent instead",
                            prefix, LT_MAX_FROZEN);
    lt_status s = set_params(ctx, prefix, false, "lt_freeze");
    if (s != LT_OK) return s;
    if (all)
        ctx->frozen_all = true;
    else if (frozen_index(ctx, prefix) < 0)
        snprintf(ctx->frozen[ctx->nfrozen++], sizeof ctx->frozen[0], "%s", prefix);
    return LT_OK;
}

lt_status lt_unfreeze(lt_ctx_t *ctx, const char *prefix) {
    if (!ctx) return lt_set_error(LT_ERR_INVALID_ARG, "lt_unfreeze: ctx is NULL");
    lt_status s = set_params(ctx, prefix, true, "lt_unfreeze");
    if (s != LT_OK) return s;
    if (!prefix || !*prefix) { /* everything thaws, as Lightning's unfreeze() */
        ctx->frozen_all = false;
        ctx->nfrozen = 0;
        return LT_OK;
    }
    /* this submodule and any frozen one inside it */
    for (int i = 0; i < ctx->nfrozen;)
        if (under(ctx->frozen[i], prefix))
            memmove(ctx->frozen[i], ctx->frozen[--ctx->nfrozen], sizeof ctx->frozen[0]);
        else
            i++;
    return LT_OK;
}

bool lt_is_frozen(lt_ctx_t *ctx, const char *name) {
    if (!ctx || !name) return false;
    for (int i = 0; i < ctx->nparams; i++)
        if (!strcmp(ctx->params[i].name, name)) return !lt_requires_grad(ctx->params[i].t);
    return false;
}
