/* Activations made of other front-end ops (so every accelerator runs them with the slots
 * it has, and autograd differentiates them): silu and leaky_relu, as torch defines them. */
#include "lt_impl.h"

lt_tensor_t *lt_silu(lt_tensor_t *x) { /* x * sigmoid(x) */
    if (!lt__check_f32(x, "lt_silu")) return NULL;
    return lt_mul(x, lt_sigmoid(x));
}

lt_tensor_t *lt_leaky_relu(lt_tensor_t *x, double negative_slope) {
    if (!lt__check_f32(x, "lt_leaky_relu")) return NULL;
    /* relu(x) + slope * (x - relu(x)): x where x > 0, slope * x elsewhere, both exactly;
     * at x == 0 relu's gradient is 0, so the gradient is slope, as torch's (x > 0 ? 1 :
     * slope) has it (relu(x) - slope * relu(-x) gave 0 there). */
    lt_tensor_t *r = lt_relu(x);
    return lt_add(r, lt_scale(lt_sub(x, r), (float)negative_slope));
}
