/* Activations made of other front-end ops (so every accelerator runs them with the slots
 * it has, and autograd differentiates them): silu and leaky_relu, as torch defines them. */
#include "lt_impl.h"

lt_tensor_t *lt_silu(lt_tensor_t *x) { /* x * sigmoid(x) */
    if (!lt__check_f32(x, "lt_silu")) return NULL;
    return lt_mul(x, lt_sigmoid(x));
}

lt_tensor_t *lt_leaky_relu(lt_tensor_t *x, double negative_slope) {
    if (!lt__check_f32(x, "lt_leaky_relu")) return NULL;
    /* relu(x) - slope * relu(-x): x where x > 0, slope * x elsewhere */
    return lt_sub(lt_relu(x), lt_scale(lt_relu(lt_neg(x)), (float)negative_slope));
}
