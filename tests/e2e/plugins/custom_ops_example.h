/* The worked custom-op example of docs/writing-a-model.md ("Custom ops"), shared by the
 * custom_op_model plugin (tests/e2e/test_custom_op.sh) and tests/unit/test_custom_op.c:
 *
 *   swish_beta  y = x * sigmoid(beta * x) with a learnable beta (1): made of lt_* ops,
 *               its gradients written by hand;
 *   round_ste   y = round(x) (half to even, as torch.round) by the op's own loop over host
 *               memory, with the straight-through gradient dy/dx = 1. */
#ifndef CUSTOM_OPS_EXAMPLE_H
#define CUSTOM_OPS_EXAMPLE_H

#include <lt/lt.h>
#include <math.h>

/* in: x (N, F), beta (1). Saves x, beta and s = sigmoid(beta x) for backward. */
static lt_tensor_t *swish_beta_forward(lt_custom_fn_ctx_t *fn, lt_tensor_t *const *in, void *user) {
    (void)user;
    lt_tensor_t *x = in[0], *beta = in[1];
    lt_tensor_t *s = lt_sigmoid(lt_mul(x, beta));
    lt_save_for_backward(fn, x);
    lt_save_for_backward(fn, beta);
    lt_save_for_backward(fn, s);
    return lt_mul(x, s);
}

/* dy/dx = s + beta x s (1 - s); dy/dbeta = x^2 s (1 - s), summed over every element. */
static int swish_beta_backward(lt_custom_fn_ctx_t *fn, lt_tensor_t *g, lt_tensor_t **grad_in,
                               void *user) {
    (void)user;
    lt_tensor_t *x = lt_saved_tensor(fn, 0), *beta = lt_saved_tensor(fn, 1);
    lt_tensor_t *s = lt_saved_tensor(fn, 2);
    lt_tensor_t *ds = lt_mul(s, lt_add_scalar(lt_neg(s), 1.0f)); /* s (1 - s) */
    if (lt_needs_input_grad(fn, 0)) grad_in[0] = lt_mul(g, lt_add(s, lt_mul(lt_mul(beta, x), ds)));
    if (lt_needs_input_grad(fn, 1)) {
        const int64_t one = 1;
        grad_in[1] = lt_reshape(lt_sum(lt_mul(g, lt_mul(lt_mul(x, x), ds))), 1, &one);
    }
    return 2; /* one gradient per input */
}

static const lt_custom_op_desc swish_beta_op =
    LT_CUSTOM_OP_DESC(.name = "swish_beta", .num_inputs = 2, .forward = swish_beta_forward,
                      .backward = swish_beta_backward);

static lt_tensor_t *swish_beta(lt_tensor_t *x, lt_tensor_t *beta) {
    lt_tensor_t *in[2] = {x, beta};
    return lt_custom_op_apply(&swish_beta_op, NULL, 2, in);
}

/* Its own kernel: a loop over the input's memory, where the CPU can reach it. */
static lt_tensor_t *round_ste_forward(lt_custom_fn_ctx_t *fn, lt_tensor_t *const *in, void *user) {
    (void)fn, (void)user;
    lt_tensor_t *x = in[0];
    if (!lt_tensor_host_memory(x)) {
        lt_set_error(LT_ERR_UNSUPPORTED, "round_ste: this example's kernel loops over host "
                                         "memory; run it with --accelerator cpu");
        return NULL;
    }
    int64_t shape[LT_MAX_DIMS];
    for (int d = 0; d < lt_ndim(x); d++) shape[d] = lt_dim(x, d);
    lt_tensor_t *y = lt_zeros(lt_tensor_arena(x), LT_F32, lt_ndim(x), shape);
    const float *px = lt_tensor_data(x);
    float *py = lt_tensor_data(y);
    if (!px || !py) return NULL;
    for (int64_t i = 0; i < lt_numel(x); i++) py[i] = nearbyintf(px[i]);
    return y;
}

static int round_ste_backward(lt_custom_fn_ctx_t *fn, lt_tensor_t *g, lt_tensor_t **grad_in,
                              void *user) {
    (void)fn, (void)user;
    grad_in[0] = g; /* straight through */
    return 1;
}

static const lt_custom_op_desc round_ste_op =
    LT_CUSTOM_OP_DESC(.name = "round_ste", .num_inputs = 1, .forward = round_ste_forward,
                      .backward = round_ste_backward);

static lt_tensor_t *round_ste(lt_tensor_t *x) {
    return lt_custom_op_apply(&round_ste_op, NULL, 1, &x);
}

#endif
