/* Custom ops (lt/custom_op.h): a module's forward and backward functions on the tape.
 * Each call gets a function context from its arena (kept until the arena's reset, like
 * the tape's nodes); the node records the inputs and the context's index, and its
 * backward checks what the module's backward returned before accumulating it. */
#include <math.h>
#include <string.h>

#include "lt_impl.h"

struct lt_custom_fn_ctx {
    const lt_custom_op_desc *op;
    void *user;
    int nin, nsaved, nscalars;
    lt_tensor_t *in[LT_CUSTOM_OP_MAX_INPUTS];
    bool needs_grad[LT_CUSTOM_OP_MAX_INPUTS];
    lt_tensor_t *saved[LT_CUSTOM_OP_MAX_SAVED];
    double scalars[LT_CUSTOM_OP_MAX_SAVED];
};

static const char *op_name(const lt_custom_op_desc *op) {
    return op && op->name ? op->name : "(unnamed)";
}

/* Why the descriptor cannot be used, or NULL. */
static const char *desc_problem(const lt_custom_op_desc *op) {
    if (!op) return "the descriptor is NULL";
    if (op->struct_size < sizeof *op)
        return "its struct_size is too small (make it with LT_CUSTOM_OP_DESC(...))";
    if (!op->name || !op->name[0]) return "it has no name";
    if (op->num_inputs < 1 || op->num_inputs > LT_CUSTOM_OP_MAX_INPUTS)
        return "num_inputs must be 1 to LT_CUSTOM_OP_MAX_INPUTS (3)";
    if (!op->forward || !op->backward) return "forward and backward must both be set";
    return NULL;
}

static bool apply_args_ok(const lt_custom_op_desc *op, int n, lt_tensor_t *const *in) {
    const char *why = desc_problem(op);
    if (why) {
        lt_set_error(LT_ERR_INVALID_ARG, "lt_custom_op_apply: custom op '%s': %s", op_name(op),
                     why);
        return false;
    }
    if (n != op->num_inputs || !in) {
        lt_set_error(LT_ERR_INVALID_ARG, "custom op '%s' takes %d inputs, it was given %d",
                     op->name, op->num_inputs, in ? n : 0);
        return false;
    }
    for (int i = 0; i < n; i++) {
        if (!in[i]) return false; /* an earlier op failed: its error stands */
        if (!lt__check_live(in[i], op->name)) return false;
        if (in[i]->arena->dev != in[0]->arena->dev) {
            lt_set_error(LT_ERR_INVALID_ARG, "custom op '%s': input %d is on another device",
                         op->name, i);
            return false;
        }
    }
    return true;
}

static lt_custom_fn_ctx_t *fn_ctx_new(lt_arena_t *a, const lt_custom_op_desc *op, void *user,
                                      lt_tensor_t *const *in) {
    if (!a->custom_fns.elem_size) a->custom_fns.elem_size = sizeof(lt_custom_fn_ctx_t);
    lt_custom_fn_ctx_t *fn = lt__slab_push(&a->custom_fns);
    if (!fn) {
        lt_set_error(LT_ERR_OOM, "out of host memory for custom op '%s'", op->name);
        return NULL;
    }
    memset(fn, 0, sizeof *fn);
    fn->op = op;
    fn->user = user;
    fn->nin = op->num_inputs;
    for (int i = 0; i < fn->nin; i++) {
        fn->in[i] = in[i];
        fn->needs_grad[i] = a->grad_enabled && in[i]->requires_grad;
    }
    return fn;
}

/* A gradient the module's backward returned for input i: NULL, or float32 of its shape. */
static bool grad_ok(const lt_custom_fn_ctx_t *fn, int i, const lt_tensor_t *g) {
    if (!g) return true;
    if (!lt__check_live(g, fn->op->name)) return false;
    const lt_tensor_t *x = fn->in[i];
    if (g->dtype == LT_F32 && lt__same_shape(g, x)) return true;
    char sg[96], sx[96];
    lt_set_error(LT_ERR_SHAPE,
                 "custom op '%s': backward returned a %s %s gradient for input %d, which is "
                 "%s %s (return a float32 tensor of the input's shape, or NULL)",
                 fn->op->name, lt_dtype_name(g->dtype), lt__shape_str(g, sg, sizeof sg), i,
                 lt_dtype_name(x->dtype), lt__shape_str(x, sx, sizeof sx));
    return false;
}

static void custom_bw(lt_node *n, lt_tensor_t *g) {
    lt_custom_fn_ctx_t *fn = lt__slab_get(&n->out->arena->custom_fns, (size_t)n->i);
    lt_tensor_t *grads[LT_CUSTOM_OP_MAX_INPUTS] = {NULL};
    int got = fn->op->backward(fn, g, grads, fn->user);
    if (lt_last_status() != LT_OK) return;
    if (got < 0) {
        lt_set_error(LT_ERR_INVALID_ARG,
                     "custom op '%s': backward returned -1 without recording why (call "
                     "lt_set_error before returning -1)",
                     fn->op->name);
        return;
    }
    if (got != fn->nin) {
        lt_set_error(LT_ERR_SHAPE,
                     "custom op '%s': backward returned %d gradients, but the op has %d "
                     "inputs (return one per input, NULL where there is none)",
                     fn->op->name, got, fn->nin);
        return;
    }
    for (int i = 0; i < fn->nin; i++)
        if (!grad_ok(fn, i, grads[i])) return;
    for (int i = 0; i < fn->nin; i++)
        if (fn->needs_grad[i]) lt__accum_grad(fn->in[i], grads[i]);
}

/* The forward's result as a new tensor of in[0]'s arena that no one else records into. */
static lt_tensor_t *own_output(lt_custom_fn_ctx_t *fn, lt_tensor_t *out, lt_arena_t *a) {
    if (!out) {
        if (lt_last_status() == LT_OK)
            lt_set_error(LT_ERR_INVALID_ARG,
                         "custom op '%s': forward returned no tensor and recorded no error",
                         fn->op->name);
        return NULL;
    }
    if (!lt__check_live(out, fn->op->name)) return NULL;
    if (out->dtype != LT_F32) {
        lt_set_error(LT_ERR_DTYPE, "custom op '%s': forward returned %s; it must return float32",
                     fn->op->name, lt_dtype_name(out->dtype));
        return NULL;
    }
    bool shared = out->persistent || out->grad_fn || out->arena != a || out->requires_grad;
    for (int i = 0; i < fn->nin; i++) shared = shared || out->st == fn->in[i]->st;
    return shared ? lt__copy_into(lt__tensor_new(a, LT_F32, out->ndim, out->shape), out) : out;
}

lt_tensor_t *lt_custom_op_apply(const lt_custom_op_desc *op, void *user, int n,
                                lt_tensor_t *const *in) {
    if (!apply_args_ok(op, n, in)) return NULL;
    lt_arena_t *a = in[0]->arena;
    lt_custom_fn_ctx_t *fn = fn_ctx_new(a, op, user, in);
    if (!fn) return NULL;
    size_t index = a->custom_fns.used - 1;
    bool prev = lt_arena_set_grad(a, false); /* forward is not recorded, as under no_grad */
    lt_tensor_t *out = op->forward(fn, in, user);
    lt_arena_set_grad(a, prev);
    if (lt_last_status() != LT_OK) return NULL;
    out = own_output(fn, out, a);
    if (!out) return NULL;
    lt_node *node = lt__record(out, custom_bw, in[0], n > 1 ? in[1] : NULL, n > 2 ? in[2] : NULL);
    if (node) node->i = (int64_t)index;
    return out;
}

/* ---- the function context -------------------------------------------------------------- */

lt_status lt_save_for_backward(lt_custom_fn_ctx_t *fn, lt_tensor_t *t) {
    if (!fn) return lt_set_error(LT_ERR_INVALID_ARG, "lt_save_for_backward: NULL context");
    if (!t) return lt_last_status() ? lt_last_status() : LT_ERR_INVALID_ARG;
    if (fn->nsaved == LT_CUSTOM_OP_MAX_SAVED)
        return lt_set_error(LT_ERR_INVALID_ARG,
                            "custom op '%s': more than %d tensors saved for backward", fn->op->name,
                            LT_CUSTOM_OP_MAX_SAVED);
    fn->saved[fn->nsaved++] = t;
    return LT_OK;
}

lt_tensor_t *lt_saved_tensor(const lt_custom_fn_ctx_t *fn, int i) {
    if (fn && i >= 0 && i < fn->nsaved) return fn->saved[i];
    lt_set_error(LT_ERR_INVALID_ARG, "custom op '%s': no saved tensor %d (%d were saved)",
                 fn ? fn->op->name : "?", i, fn ? fn->nsaved : 0);
    return NULL;
}

lt_status lt_save_scalar(lt_custom_fn_ctx_t *fn, double v) {
    if (!fn) return lt_set_error(LT_ERR_INVALID_ARG, "lt_save_scalar: NULL context");
    if (fn->nscalars == LT_CUSTOM_OP_MAX_SAVED)
        return lt_set_error(LT_ERR_INVALID_ARG, "custom op '%s': more than %d scalars saved",
                            fn->op->name, LT_CUSTOM_OP_MAX_SAVED);
    fn->scalars[fn->nscalars++] = v;
    return LT_OK;
}

double lt_saved_scalar(const lt_custom_fn_ctx_t *fn, int i) {
    if (fn && i >= 0 && i < fn->nscalars) return fn->scalars[i];
    lt_set_error(LT_ERR_INVALID_ARG, "custom op '%s': no saved scalar %d (%d were saved)",
                 fn ? fn->op->name : "?", i, fn ? fn->nscalars : 0);
    return NAN;
}

bool lt_needs_input_grad(const lt_custom_fn_ctx_t *fn, int i) {
    return fn && i >= 0 && i < fn->nin && fn->needs_grad[i];
}

/* ---- raw memory ---------------------------------------------------------------------- */

void *lt_tensor_data(lt_tensor_t *t) {
    if (!lt__check_live(t, "lt_tensor_data")) return NULL;
    if (!t->st) {
        lt_set_error(LT_ERR_STATE, "lt_tensor_data: the tensor has no memory yet (a parameter "
                                   "before lt_ctx_materialize)");
        return NULL;
    }
    return lt__data(t);
}

bool lt_tensor_host_memory(const lt_tensor_t *t) { return t && t->arena->dev->k.host_memory; }

lt_arena_t *lt_tensor_arena(const lt_tensor_t *t) { return t ? t->arena : NULL; }

lt_device_t *lt_tensor_device(const lt_tensor_t *t) { return t ? t->arena->dev : NULL; }

const lt_accelerator_desc *lt_device_kernels(lt_device_t *dev, void **state) {
    if (state) *state = dev ? dev->state : NULL;
    return dev ? &dev->k : NULL;
}
