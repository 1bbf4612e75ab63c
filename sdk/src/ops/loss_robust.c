/* Robust regression losses — smooth_l1_loss and huber_loss — composed of elementwise
 * ops, so their backward comes from the tape: with a = |d| = relu(d) + relu(-d) and
 * m = min(a, beta) = a - relu(a - beta), smooth_l1 = 0.5 m^2 / beta + relu(a - beta)
 * (0.5 d^2 / beta inside the band, |d| - 0.5 beta outside), and its gradient at d = 0 is
 * 0, as torch's sign(0). */
#include "lt_impl.h"

static bool pair_ok(const lt_tensor_t *x, const lt_tensor_t *t, lt_reduction r, const char *name) {
    if (!lt__check_f32(x, name) || !lt__check_f32(t, name)) return false;
    char sx[96], st[96];
    if (!lt__same_shape(x, t)) {
        lt_set_error(LT_ERR_SHAPE, "%s: input %s and target %s differ in shape", name,
                     lt__shape_str(x, sx, sizeof sx), lt__shape_str(t, st, sizeof st));
        return false;
    }
    return lt__check_reduction(r, name);
}

static lt_tensor_t *reduce_elems(lt_tensor_t *l, lt_reduction r) {
    return r == LT_REDUCTION_NONE ? l : r == LT_REDUCTION_SUM ? lt_sum(l) : lt_mean(l);
}

/* k * smooth_l1(d, beta) elementwise (huber_loss: k = beta = delta). */
static lt_tensor_t *smooth_l1(lt_tensor_t *d, double beta, double k) {
    lt_tensor_t *a = lt_add(lt_relu(d), lt_relu(lt_neg(d)));
    if (beta == 0.0) return k == 1.0 ? a : lt_scale(a, (float)k);
    lt_tensor_t *over = lt_relu(lt_add_scalar(a, (float)-beta));
    lt_tensor_t *m = lt_sub(a, over);
    lt_tensor_t *band = lt_scale(lt_mul(m, m), (float)(0.5 * k / beta));
    return lt_add(band, k == 1.0 ? over : lt_scale(over, (float)k));
}

lt_tensor_t *lt_smooth_l1_loss(lt_tensor_t *input, lt_tensor_t *target, lt_reduction reduction,
                               double beta) {
    if (!pair_ok(input, target, reduction, "lt_smooth_l1_loss")) return NULL;
    if (!(beta >= 0.0)) {
        lt_set_error(LT_ERR_INVALID_ARG, "lt_smooth_l1_loss: beta is %g; it must be >= 0", beta);
        return NULL;
    }
    return reduce_elems(smooth_l1(lt_sub(input, target), beta, 1.0), reduction);
}

lt_tensor_t *lt_huber_loss(lt_tensor_t *input, lt_tensor_t *target, lt_reduction reduction,
                           double delta) {
    if (!pair_ok(input, target, reduction, "lt_huber_loss")) return NULL;
    if (!(delta > 0.0)) {
        lt_set_error(LT_ERR_INVALID_ARG, "lt_huber_loss: delta is %g; it must be > 0", delta);
        return NULL;
    }
    return reduce_elems(smooth_l1(lt_sub(input, target), delta, delta), reduction);
}
