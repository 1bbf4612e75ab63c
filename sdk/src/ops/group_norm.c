/* F.group_norm, written with the front-end ops as layer_norm is (norm.c): x (N, C, L)
 * viewed as (N, G, C/G * L), normalised over the last dimension with the biased variance,
 * then weight and bias per channel. The tape gives the backward; every accelerator runs
 * it with the slots it already has. */
#include "lt_impl.h"

static bool channel_vector_ok(const lt_tensor_t *t, int64_t c) {
    return !t || (lt__check_live(t, "lt_group_norm") && t->dtype == LT_F32 && t->ndim == 1 &&
                  t->shape[0] == c);
}

static bool group_norm_args_ok(const lt_tensor_t *x, int64_t g, const lt_tensor_t *w,
                               const lt_tensor_t *b) {
    char sx[96];
    const char *why = NULL;
    if (x->ndim < 2)
        why = "the input must be (N, C, ...)";
    else if (g < 1 || x->shape[1] % g != 0)
        why = "num_groups must be positive and divide the channels C";
    else if (!channel_vector_ok(w, x->shape[1]) || !channel_vector_ok(b, x->shape[1]))
        why = "weight and bias must be float32 (C)";
    if (why)
        lt_set_error(LT_ERR_SHAPE, "lt_group_norm: %s (input %s, num_groups %lld)", why,
                     lt__shape_str(x, sx, sizeof sx), (long long)g);
    return !why;
}

lt_tensor_t *lt_group_norm(lt_tensor_t *x, int64_t num_groups, lt_tensor_t *weight,
                           lt_tensor_t *bias, double eps) {
    if (!lt__check_f32(x, "lt_group_norm")) return NULL;
    if (!group_norm_args_ok(x, num_groups, weight, bias)) return NULL;
    int64_t n = x->shape[0], c = x->shape[1], l = n * c != 0 ? x->numel / (n * c) : 0;
    int64_t gs[3] = {n, num_groups, -1}, cs[3] = {n, c, l}, ws[3] = {1, c, 1};
    lt_tensor_t *xg = lt_reshape(x, 3, gs);
    lt_tensor_t *mean = lt_mean_dim(xg, 2, true);
    lt_tensor_t *xc = lt_sub(xg, mean);
    lt_tensor_t *var = lt_mean_dim(lt_mul(xc, xc), 2, true);
    lt_tensor_t *y = lt_reshape(lt_div(xc, lt_sqrt(lt_add_scalar(var, (float)eps))), 3, cs);
    if (weight) y = lt_mul(y, lt_reshape(weight, 3, ws));
    if (bias) y = lt_add(y, lt_reshape(bias, 3, ws));
    return lt_reshape(y, x->ndim, x->shape);
}
