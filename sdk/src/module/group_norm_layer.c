/* nn.GroupNorm: the layer's parameters (torch's names and initial values) around
 * lt_group_norm. */
#include <stdio.h>

#include "ctx_impl.h"

lt_groupnorm_t *lt_groupnorm(lt_ctx_t *ctx, const char *name, int64_t num_groups,
                             int64_t num_channels, bool affine) {
    if (!ctx || !name) {
        lt_set_error(LT_ERR_INVALID_ARG, "lt_groupnorm: NULL context or name");
        return NULL;
    }
    if (num_groups < 1 || num_channels < 1 || num_channels % num_groups != 0) {
        lt_set_error(LT_ERR_INVALID_ARG,
                     "lt_groupnorm %s: num_groups (%lld) must be positive and divide "
                     "num_channels (%lld)",
                     name, (long long)num_groups, (long long)num_channels);
        return NULL;
    }
    lt_groupnorm_t *l = lt__ctx_alloc(ctx, sizeof *l);
    if (!l) {
        lt_set_error(LT_ERR_OOM, "out of host memory for layer %s", name);
        return NULL;
    }
    l->num_groups = num_groups;
    l->eps = 1e-5;
    if (!affine) return l;
    char buf[256];
    snprintf(buf, sizeof buf, "%s.weight", name);
    l->weight = lt_param(ctx, buf, 1, &num_channels, LT_INIT_ONES);
    snprintf(buf, sizeof buf, "%s.bias", name);
    l->bias = lt_param(ctx, buf, 1, &num_channels, LT_INIT_ZEROS);
    if (!l->weight || !l->bias) return NULL;
    for (int i = ctx->nparams - 2; i < ctx->nparams; i++) ctx->params[i].layer_type = "GroupNorm";
    return l;
}

lt_tensor_t *lt_groupnorm_forward(const lt_groupnorm_t *l, lt_tensor_t *x) {
    if (!l) return NULL;
    return lt_group_norm(x, l->num_groups, l->weight, l->bias, l->eps);
}
