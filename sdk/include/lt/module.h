/* lt/module.h — a LightningModule in C: hyper-parameters, parameters, hooks.
 *
 * A module is a struct of the user's (its `self`) plus a descriptor of hooks. The host
 * allocates `self` zeroed, calls setup() to declare parameters, then drives the
 * loops. Every hook gets `lt_ctx_t *ctx`: parameters, hparams, logging, epoch/step. */
#ifndef LT_MODULE_H
#define LT_MODULE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "status.h"
#include "tensor.h"

typedef struct lt_ctx lt_ctx_t;                 /* opaque: the module's runtime `self` */
typedef struct lt_param_list lt_param_list_t;   /* opaque list of parameters */
typedef struct lt_optimizer lt_optimizer_t;     /* opaque, see optim.h */

/* ---- hyper-parameters (become --model.NAME / --data.NAME flags) -------------- */

typedef enum { LT_HP_INT, LT_HP_FLOAT, LT_HP_STR, LT_HP_BOOL } lt_hparam_type;

typedef struct lt_hparam_desc {
    const char *name;
    lt_hparam_type type;
    int64_t i;           /* default of INT and BOOL */
    double f;            /* default of FLOAT */
    const char *s;       /* default of STR */
    const char *help;
    const char *choices; /* STR only: "sgd|adam", or NULL for any string */
} lt_hparam_desc;

#define LT_HPARAM_INT(n, def, h) {.name = (n), .type = LT_HP_INT, .i = (def), .help = (h)}
#define LT_HPARAM_FLOAT(n, def, h) {.name = (n), .type = LT_HP_FLOAT, .f = (def), .help = (h)}
#define LT_HPARAM_BOOL(n, def, h) {.name = (n), .type = LT_HP_BOOL, .i = (def), .help = (h)}
#define LT_HPARAM_STR(n, def, h) {.name = (n), .type = LT_HP_STR, .s = (def), .help = (h)}
#define LT_HPARAM_CHOICE(n, def, ch, h) \
    {.name = (n), .type = LT_HP_STR, .s = (def), .help = (h), .choices = (ch)}
#define LT_HPARAM_END {.name = NULL}

/* The current value of a declared hparam; an undeclared name or wrong type records an
 * error and returns 0 / NaN / NULL. */
LT_API int64_t lt_hparam_int(lt_ctx_t *ctx, const char *name);
LT_API double lt_hparam_float(lt_ctx_t *ctx, const char *name);
LT_API const char *lt_hparam_str(lt_ctx_t *ctx, const char *name);
LT_API bool lt_hparam_bool(lt_ctx_t *ctx, const char *name);

/* ---- parameters --------------------------------------------------------------- */

typedef enum {
    LT_INIT_CONST,           /* every element a */
    LT_INIT_UNIFORM,         /* U(a, b) */
    LT_INIT_NORMAL,          /* N(mean a, std b) */
    LT_INIT_KAIMING_UNIFORM, /* torch.nn.init.kaiming_uniform_(a=a), fan_in mode */
} lt_init_kind;

typedef struct lt_init {
    lt_init_kind kind;
    double a, b;
} lt_init;

#define LT_INIT_ZEROS ((lt_init){LT_INIT_CONST, 0.0, 0.0})
#define LT_INIT_ONES ((lt_init){LT_INIT_CONST, 1.0, 0.0})

/* Declare a parameter during setup(); `name` follows PyTorch state_dict keys
 * ("encoder.0.weight"). Values are initialised from the seeded RNG after setup. */
LT_API lt_tensor_t *lt_param(lt_ctx_t *ctx, const char *name, int ndim, const int64_t *shape,
                             lt_init init);

/* nn.Linear: weight (out, in) and bias (out), initialised as PyTorch does. */
typedef struct lt_linear {
    lt_tensor_t *weight; /* (out, in) */
    lt_tensor_t *bias;   /* (out) */
} lt_linear_t;

/* Declare `name.weight` and `name.bias`; the layer is owned by ctx. */
LT_API lt_linear_t *lt_linear(lt_ctx_t *ctx, const char *name, int64_t in, int64_t out);
/* x (..., in) -> (..., out) */
LT_API lt_tensor_t *lt_linear_forward(const lt_linear_t *l, lt_tensor_t *x);

/* All parameters, in declaration order (a new list the caller hands to an optimizer). */
LT_API lt_param_list_t *lt_parameters(lt_ctx_t *ctx);
/* Parameters whose name starts with prefix ("encoder."). */
LT_API lt_param_list_t *lt_parameters_with_prefix(lt_ctx_t *ctx, const char *prefix);
/* Number of elements over all parameters. */
LT_API int64_t lt_num_parameters(lt_ctx_t *ctx);

/* ---- during a hook --------------------------------------------------------------- */

/* Hand an optimizer to the trainer (from configure_optimizers); ctx takes ownership. */
LT_API lt_status lt_use_optimizer(lt_ctx_t *ctx, lt_optimizer_t *opt);
/* LT_OK, or the error recorded since the hook began (use as a hook's return value). */
LT_API lt_status lt_ok(lt_ctx_t *ctx);
/* The arena where this step's tensors live. */
LT_API lt_arena_t *lt_ctx_arena(lt_ctx_t *ctx);
LT_API int64_t lt_current_epoch(lt_ctx_t *ctx);
LT_API int64_t lt_global_step(lt_ctx_t *ctx);

/* ---- the module descriptor -------------------------------------------------------- */

typedef struct lt_batch {
    lt_tensor_t *x; /* (N, ...) float32 */
    lt_tensor_t *y; /* (N) int64 labels, or (N, ...) float32 targets */
    int64_t size;   /* N */
} lt_batch_t;

typedef lt_status (*lt_hook_fn)(lt_ctx_t *ctx, void *self);
/* Returns the loss (training) or NULL; a NULL with an error recorded fails the run. */
typedef lt_tensor_t *(*lt_step_fn)(lt_ctx_t *ctx, void *self, const lt_batch_t *batch,
                                   int64_t batch_idx);

typedef struct lt_module_desc {
    LT_DESC_HEADER_FIELDS
    size_t self_size;              /* sizeof the module's struct; the host zeroes it */
    const lt_hparam_desc *hparams; /* terminated by LT_HPARAM_END; may be NULL */
    lt_hook_fn setup;                /* declare parameters (required) */
    lt_hook_fn configure_optimizers; /* required for fit */
    lt_tensor_t *(*forward)(lt_ctx_t *ctx, void *self, lt_tensor_t *x); /* (optional) */
    lt_step_fn training_step;        /* required for fit */
    lt_step_fn validation_step;      /* (optional) */
    lt_step_fn test_step;            /* (optional) */
    lt_step_fn predict_step;         /* (optional) */
    lt_hook_fn on_fit_start;         /* (optional) */
    lt_hook_fn on_fit_end;           /* (optional) */
    lt_hook_fn on_train_epoch_start; /* (optional) */
    lt_hook_fn on_train_epoch_end;   /* (optional) */
    lt_hook_fn on_validation_epoch_end; /* (optional) */
    lt_hook_fn on_test_epoch_end;    /* (optional) */
    void (*teardown)(lt_ctx_t *ctx, void *self); /* (optional) free what setup made */
} lt_module_desc;

/* Export a module: LT_MODULE_EXPORT(my_t, .name = "my", .setup = my_setup, ...). */
#define LT_MODULE_EXPORT(self_type, ...)                                              \
    static const lt_module_desc lt_module_desc_ = {                                   \
        .abi_major = LT_ABI_MAJOR, .abi_minor = LT_ABI_MINOR,                         \
        .struct_size = sizeof(lt_module_desc), .self_size = sizeof(self_type),        \
        __VA_ARGS__};                                                                 \
    LT_EXPORT const lt_module_desc *lt_module_entry(void);                            \
    const lt_module_desc *lt_module_entry(void) { return &lt_module_desc_; }

#endif
