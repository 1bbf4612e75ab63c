/* nn.ConvTranspose2d (issue 19, the generator's layer): declared with torch's default
 * initialisation so a torch state dict and ours line up name for name. */
#include <math.h>
#include <stdio.h>

#include "ctx_impl.h"

lt_conv_transpose2d_t *lt_conv_transpose2d(lt_ctx_t *ctx, const char *name, int64_t in, int64_t out,
                                           int64_t kh, int64_t kw,
                                           const lt_conv_transpose2d_opts *o) {
    if (!ctx || !name) {
        lt_set_error(LT_ERR_INVALID_ARG, "lt_conv_transpose2d: NULL context or name");
        return NULL;
    }
    if (o && o->struct_size < sizeof *o) {
        lt_set_error(LT_ERR_ABI,
                     "lt_conv_transpose2d %s: opts.struct_size is %u, expected %zu; make the "
                     "options with LT_CONV_TRANSPOSE2D_OPTS(...)",
                     name, o->struct_size, sizeof *o);
        return NULL;
    }
    lt_conv_transpose2d_opts opts = o ? *o : LT_CONV_TRANSPOSE2D_OPTS();
    int64_t groups = opts.groups > 0 ? opts.groups : 1;
    if (in <= 0 || out <= 0 || kh <= 0 || kw <= 0 || in % groups || out % groups) {
        lt_set_error(LT_ERR_INVALID_ARG,
                     "lt_conv_transpose2d %s: in (%lld) and out (%lld) channels must be positive "
                     "multiples of groups (%lld) and the kernel (%lldx%lld) positive",
                     name, (long long)in, (long long)out, (long long)groups, (long long)kh,
                     (long long)kw);
        return NULL;
    }
    lt_conv_transpose2d_t *l = lt__ctx_alloc(ctx, sizeof *l);
    if (!l) {
        lt_set_error(LT_ERR_OOM, "out of host memory for layer %s", name);
        return NULL;
    }
    l->opts = opts;
    /* torch's _calculate_fan_in_and_fan_out on the (in, out/groups, kh, kw) weight. */
    double fan_in = (double)(out / groups) * (double)kh * (double)kw;
    double bound = 1.0 / sqrt(fan_in);
    char buf[256];
    snprintf(buf, sizeof buf, "%s.weight", name);
    l->weight = lt_param(ctx, buf, 4, (int64_t[]){in, out / groups, kh, kw},
                         (lt_init){LT_INIT_KAIMING_UNIFORM, sqrt(5.0), 0.0});
    snprintf(buf, sizeof buf, "%s.bias", name);
    if (!opts.no_bias)
        l->bias = lt_param(ctx, buf, 1, &out, (lt_init){LT_INIT_UNIFORM, -bound, bound});
    if (!l->weight || (!opts.no_bias && !l->bias)) return NULL;
    for (int i = ctx->nparams - (opts.no_bias ? 1 : 2); i < ctx->nparams; i++)
        ctx->params[i].layer_type = "ConvTranspose2d";
    return l;
}

lt_tensor_t *lt_conv_transpose2d_forward(const lt_conv_transpose2d_t *l, lt_tensor_t *x) {
    if (!l) return NULL;
    return lt_conv_transpose2d_op(x, l->weight, l->bias, &l->opts);
}
