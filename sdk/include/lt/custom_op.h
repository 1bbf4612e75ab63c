/* lt/custom_op.h — ops a module writes itself, with their own gradient: the analogue of
 * torch.autograd.Function (ABI 1.1).
 *
 * A descriptor names the op and its forward and backward functions; lt_custom_op_apply
 * runs forward and records backward on the autograd tape, as a built-in op does:
 *
 *     static lt_tensor_t *round_fwd(lt_custom_fn_ctx_t *fn, lt_tensor_t *const *in, void *u);
 *     static int round_bwd(lt_custom_fn_ctx_t *fn, lt_tensor_t *g, lt_tensor_t **gin, void *u);
 *     static const lt_custom_op_desc round_ste = LT_CUSTOM_OP_DESC(
 *         .name = "round_ste", .num_inputs = 1, .forward = round_fwd, .backward = round_bwd);
 *     ...
 *     y = lt_custom_op_apply(&round_ste, NULL, 1, (lt_tensor_t *[]){x});
 *
 * forward runs without recording (torch's Function.forward is under no_grad): it may call
 * any lt_* op, or write its own loops into lt_tensor_data() where lt_tensor_host_memory()
 * says the CPU can reach the memory; it keeps what backward needs with
 * lt_save_for_backward / lt_save_scalar (ctx.save_for_backward, ctx.x = ...). backward gets
 * the output's gradient and returns one gradient per input (NULL where an input takes
 * none), each of its input's shape; lt_needs_input_grad says which ones are wanted. The
 * descriptor is the registration: a static const struct of the module, checked on every
 * apply (cheap), owned by nobody. See docs/writing-a-model.md, "Custom ops". */
#ifndef LT_CUSTOM_OP_H
#define LT_CUSTOM_OP_H

#include <stdbool.h>
#include <stdint.h>

#include "status.h"
#include "tensor.h"

/* A custom op takes 1 to 3 tensors and returns one float32 tensor. */
#define LT_CUSTOM_OP_MAX_INPUTS 3
/* Tensors and scalars one call may save for its backward (each). */
#define LT_CUSTOM_OP_MAX_SAVED 8

typedef struct lt_custom_fn_ctx lt_custom_fn_ctx_t; /* opaque: torch's ctx of one call */

typedef struct lt_custom_op_desc {
    uint32_t struct_size; /* sizeof(lt_custom_op_desc): LT_CUSTOM_OP_DESC sets it */
    const char *name;     /* for errors: "custom op 'swish_beta': ..." */
    int num_inputs;       /* 1 .. LT_CUSTOM_OP_MAX_INPUTS */
    /* The output, made from in[0 .. num_inputs) with lt_* ops or own kernels; NULL with an
     * error recorded (lt_set_error) on failure. user: what lt_custom_op_apply was given. */
    lt_tensor_t *(*forward)(lt_custom_fn_ctx_t *fn, lt_tensor_t *const *in, void *user);
    /* Fill grad_in[i] with d loss / d in[i] (in[i]'s shape, float32) or NULL, given
     * grad_out (the output's shape); return how many entries it filled, one per input
     * (num_inputs), or -1 with an error recorded. */
    int (*backward)(lt_custom_fn_ctx_t *fn, lt_tensor_t *grad_out, lt_tensor_t **grad_in,
                    void *user);
} lt_custom_op_desc;
#define LT_CUSTOM_OP_DESC(...)                                                                     \
    ((lt_custom_op_desc){.struct_size = sizeof(lt_custom_op_desc), __VA_ARGS__})

/* op's forward on in[0 .. n) (n must be op->num_inputs; the inputs live on one device),
 * recorded so that lt_backward calls op's backward. A NULL input passes through (NULL,
 * the earlier error kept). The result belongs to in[0]'s arena. */
LT_API lt_tensor_t *lt_custom_op_apply(const lt_custom_op_desc *op, void *user, int n,
                                       lt_tensor_t *const *in);

/* ---- inside forward and backward ----------------------------------------------------- */

/* Keep t for backward (ctx.save_for_backward): an input, the output or any tensor of the
 * step; read back in order with lt_saved_tensor. At most LT_CUSTOM_OP_MAX_SAVED. */
LT_API lt_status lt_save_for_backward(lt_custom_fn_ctx_t *fn, lt_tensor_t *t);
LT_API lt_tensor_t *lt_saved_tensor(const lt_custom_fn_ctx_t *fn, int i);
/* Keep a number for backward (ctx.alpha = alpha); read back in order. */
LT_API lt_status lt_save_scalar(lt_custom_fn_ctx_t *fn, double v);
LT_API double lt_saved_scalar(const lt_custom_fn_ctx_t *fn, int i);
/* ctx.needs_input_grad[i]: whether input i takes a gradient in this call. */
LT_API bool lt_needs_input_grad(const lt_custom_fn_ctx_t *fn, int i);

/* ---- raw memory, for an op's own kernels --------------------------------------------- */

/* The tensor's first element in its accelerator's memory (float * for float32, int64_t *
 * for int64; contiguous, row-major); NULL with an error for a stale or NULL tensor. */
LT_API void *lt_tensor_data(lt_tensor_t *t);
/* Whether lt_tensor_data's pointer is host memory the CPU may read and write now (the cpu
 * accelerator: its kernels have finished when an op returns); false on a GPU. */
LT_API bool lt_tensor_host_memory(const lt_tensor_t *t);
/* The arena a tensor's results go to: make an op's output there (lt_zeros, lt_full). */
LT_API lt_arena_t *lt_tensor_arena(const lt_tensor_t *t);
/* The device a tensor lives on (lt_device_name(dev) says which accelerator). */
LT_API lt_device_t *lt_tensor_device(const lt_tensor_t *t);
/* The accelerator's kernel table (<lt/accelerator.h>) and, in *state, the state its slots
 * take first: an op may call a slot on lt_tensor_data pointers, on any accelerator
 * (k->fill(state, n, 0.0f, d_out)). Slots run on the accelerator's queue in order with
 * liblt's own calls; an optional slot is NULL where the accelerator lacks it. NULL for a
 * NULL dev. */
typedef struct lt_accelerator_desc lt_accelerator_desc;
LT_API const lt_accelerator_desc *lt_device_kernels(lt_device_t *dev, void **state);

#endif
