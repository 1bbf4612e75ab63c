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

typedef struct lt_ctx lt_ctx_t;               /* opaque: the module's runtime `self` */
typedef struct lt_param_list lt_param_list_t; /* opaque list of parameters */
typedef struct lt_optimizer lt_optimizer_t;   /* opaque, see optim.h */

/* ---- hyper-parameters (become --model.NAME / --data.NAME flags) -------------- */

typedef enum { LT_HP_INT, LT_HP_FLOAT, LT_HP_STR, LT_HP_BOOL } lt_hparam_type;

typedef struct lt_hparam_desc {
    const char *name;
    lt_hparam_type type;
    int64_t i;     /* default of INT and BOOL */
    double f;      /* default of FLOAT */
    const char *s; /* default of STR */
    const char *help;
    const char *choices; /* STR only: "sgd|adam", or NULL for any string */
} lt_hparam_desc;

#define LT_HPARAM_INT(n, def, h)                                                                   \
    { .name = (n), .type = LT_HP_INT, .i = (def), .help = (h) }
#define LT_HPARAM_FLOAT(n, def, h)                                                                 \
    { .name = (n), .type = LT_HP_FLOAT, .f = (def), .help = (h) }
#define LT_HPARAM_BOOL(n, def, h)                                                                  \
    { .name = (n), .type = LT_HP_BOOL, .i = (def), .help = (h) }
#define LT_HPARAM_STR(n, def, h)                                                                   \
    { .name = (n), .type = LT_HP_STR, .s = (def), .help = (h) }
#define LT_HPARAM_CHOICE(n, def, ch, h)                                                            \
    { .name = (n), .type = LT_HP_STR, .s = (def), .help = (h), .choices = (ch) }
#define LT_HPARAM_END                                                                              \
    { .name = NULL }

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
 * ("encoder.0.weight"). Values are initialised from the seeded RNG after setup. Sizes
 * must be positive, and a module's parameters hold at most 2^48 floats in all: a shape
 * past that (or whose product overflows int64) is refused, naming the parameter. */
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

typedef struct lt_scheduler lt_scheduler_t; /* see scheduler.h */
typedef enum { LT_INTERVAL_EPOCH, LT_INTERVAL_STEP } lt_interval;
/* Lightning's lr_scheduler config dict: step every `frequency` epochs or optimizer
 * steps; `monitor` names the metric a ReduceLROnPlateau steps on (default val_loss). */
typedef struct lt_scheduler_config {
    uint32_t struct_size;
    lt_interval interval;
    int64_t frequency;
    const char *monitor;
} lt_scheduler_config;
#define LT_SCHEDULER_CONFIG(...)                                                                   \
    ((lt_scheduler_config){.struct_size = sizeof(lt_scheduler_config), .frequency = 1, __VA_ARGS__})

/* Hand a scheduler to the trainer (from configure_optimizers); ctx owns it. cfg NULL:
 * every epoch. */
LT_API lt_status lt_use_scheduler(lt_ctx_t *ctx, lt_scheduler_t *s, const lt_scheduler_config *cfg);

/* Hand an optimizer to the trainer (from configure_optimizers); ctx takes ownership. */
LT_API lt_status lt_use_optimizer(lt_ctx_t *ctx, lt_optimizer_t *opt);
/* LT_OK, or the error recorded since the hook began (use as a hook's return value). */
LT_API lt_status lt_ok(lt_ctx_t *ctx);
/* The arena where this step's tensors live. */
LT_API lt_arena_t *lt_ctx_arena(lt_ctx_t *ctx);
LT_API int64_t lt_current_epoch(lt_ctx_t *ctx);
LT_API int64_t lt_global_step(lt_ctx_t *ctx);

/* ---- the hook table ---------------------------------------------------------------- */

/* Fields a batch may have (data.h's lt_field_desc). */
#define LT_MAX_FIELDS 8

typedef struct lt_batch {
    lt_tensor_t *x; /* (N, ...) float32 (or int64 tokens); the field named "x" */
    lt_tensor_t *y; /* (N) int64 labels, or (N, ...) float32 targets; the field "y" */
    int64_t size;   /* N */
    /* (1.1) Every field by name (Lightning's dict batch): read them with lt_batch_get. */
    int nfields;
    const char *names[LT_MAX_FIELDS];
    lt_tensor_t *fields[LT_MAX_FIELDS];
    /* (1.1) Lightning's dataloader_idx: which of the split's dataloaders the batch comes
     * from (lt_data_add_loader); 0 with one dataloader and in training. */
    int64_t dataloader_idx;
} lt_batch_t;

/* The batch's field `name` ((N, ...) tensor), or NULL with an LT_ERR_INVALID_ARG error
 * naming the fields it has. A batch built without fields (nfields 0) has "x" and "y". */
LT_API lt_tensor_t *lt_batch_get(const lt_batch_t *b, const char *name);

/* Hooks return LT_OK, or an error (recorded with lt_set_error) that stops the run. An
 * error an SDK call recorded during a hook or step stops the run too, even if the hook
 * returns LT_OK or the step a loss: the host checks lt_last_status() after each. In a
 * module `ctx` is the module's context; in a callback it is the callback's own (its
 * hparams and self), and lt_trainer(ctx) reaches the trainer's state. */
typedef lt_status (*lt_hook_fn)(lt_ctx_t *ctx, void *self);
typedef void (*lt_teardown_fn)(lt_ctx_t *ctx, void *self);
typedef lt_status (*lt_batch_start_fn)(lt_ctx_t *ctx, void *self, const lt_batch_t *batch,
                                       int64_t batch_idx);
/* outputs: what the step returned (the loss in training; NULL if it returned nothing). */
typedef lt_status (*lt_batch_end_fn)(lt_ctx_t *ctx, void *self, lt_tensor_t *outputs,
                                     const lt_batch_t *batch, int64_t batch_idx);
typedef lt_status (*lt_loss_hook_fn)(lt_ctx_t *ctx, void *self, lt_tensor_t *loss);
typedef lt_status (*lt_optimizer_hook_fn)(lt_ctx_t *ctx, void *self, lt_optimizer_t *opt);

/* ---- checkpoint state: what a module or callback keeps across save and resume ---- */

/* A JSON object of the checkpoint (Lightning's checkpoint dict / Callback.state_dict).
 * Keys are UTF-8; setting a key again replaces its value. A NULL state or key is an
 * LT_ERR_INVALID_ARG error (the getters then return false / NULL). */
typedef struct lt_state lt_state_t;
LT_API lt_status lt_state_set_int(lt_state_t *st, const char *key, int64_t v);
/* Finite doubles read back bit for bit (JSON reals with 17 digits); infinities and NaN
 * are stored as the strings "inf", "-inf", "nan" (a NaN's sign and payload are lost). */
LT_API lt_status lt_state_set_float(lt_state_t *st, const char *key, double v);
LT_API lt_status lt_state_set_str(lt_state_t *st, const char *key, const char *v);
/* The object under key, created empty when absent (NULL if key holds something else).
 * Borrowed: it belongs to st, is freed with it, and dies if key is set to a value. */
LT_API lt_state_t *lt_state_child(lt_state_t *st, const char *key);
/* false when key is absent or of another type (an int reads as a float too, a float
 * never as an int; get_float also reads "inf", "-inf", "nan"). v may be NULL. */
LT_API bool lt_state_get_int(const lt_state_t *st, const char *key, int64_t *v);
LT_API bool lt_state_get_float(const lt_state_t *st, const char *key, double *v);
LT_API const char *lt_state_get_str(const lt_state_t *st, const char *key);
/* The object under key, or NULL. */
LT_API const lt_state_t *lt_state_get_child(const lt_state_t *st, const char *key);
/* Keys in insertion order; lt_state_key is NULL when i is outside 0..count-1. */
LT_API int lt_state_count(const lt_state_t *st);
LT_API const char *lt_state_key(const lt_state_t *st, int i);
/* on_save_checkpoint fills state (the participant's own section of the checkpoint);
 * on_load_checkpoint reads it back before training resumes. */
typedef lt_status (*lt_state_hook_fn)(lt_ctx_t *ctx, void *self, lt_state_t *state);

/* The hooks modules and callbacks share, in Lightning's names; the host calls each
 * callback's hook, then the module's. lt_stage(ctx) tells setup/teardown the stage. */
/* clang-format off */
#define LT_HOOK_TABLE(X)                                                                 \
    X(lt_hook_fn, setup)             /* module: declare parameters here */               \
    X(lt_teardown_fn, teardown)      /* free what setup made */                          \
    X(lt_hook_fn, on_fit_start) X(lt_hook_fn, on_fit_end)                                \
    X(lt_hook_fn, on_sanity_check_start) X(lt_hook_fn, on_sanity_check_end)              \
    X(lt_hook_fn, on_train_start) X(lt_hook_fn, on_train_end)                            \
    X(lt_hook_fn, on_train_epoch_start) X(lt_hook_fn, on_train_epoch_end)                \
    X(lt_batch_start_fn, on_train_batch_start) X(lt_batch_end_fn, on_train_batch_end)    \
    X(lt_hook_fn, on_validation_start) X(lt_hook_fn, on_validation_end)                  \
    X(lt_hook_fn, on_validation_epoch_start) X(lt_hook_fn, on_validation_epoch_end)      \
    X(lt_batch_start_fn, on_validation_batch_start)                                      \
    X(lt_batch_end_fn, on_validation_batch_end)                                          \
    X(lt_hook_fn, on_test_start) X(lt_hook_fn, on_test_end)                              \
    X(lt_hook_fn, on_test_epoch_start) X(lt_hook_fn, on_test_epoch_end)                  \
    X(lt_batch_start_fn, on_test_batch_start) X(lt_batch_end_fn, on_test_batch_end)      \
    X(lt_hook_fn, on_predict_start) X(lt_hook_fn, on_predict_end)                        \
    X(lt_hook_fn, on_predict_epoch_start) X(lt_hook_fn, on_predict_epoch_end)            \
    X(lt_batch_start_fn, on_predict_batch_start) X(lt_batch_end_fn, on_predict_batch_end)\
    X(lt_optimizer_hook_fn, on_before_zero_grad)                                         \
    X(lt_loss_hook_fn, on_before_backward) X(lt_hook_fn, on_after_backward)              \
    X(lt_optimizer_hook_fn, on_before_optimizer_step)                                    \
    X(lt_state_hook_fn, on_save_checkpoint) X(lt_state_hook_fn, on_load_checkpoint)
/* clang-format on */

#define LT_HOOK_FIELD_(type, name) type name;

/* ---- the module descriptor -------------------------------------------------------- */

/* Returns the loss (training: a one-element float32 tensor) or an output; NULL with no
 * error recorded skips the batch (training_step returning None: no optimizer step, and
 * the host warns once), NULL or not, an error recorded in the step fails the run. */
typedef lt_tensor_t *(*lt_step_fn)(lt_ctx_t *ctx, void *self, const lt_batch_t *batch,
                                   int64_t batch_idx);
/* Lightning 1.x's x_step_end: gets the step's output, returns what the loop uses. */
typedef lt_tensor_t *(*lt_step_end_fn)(lt_ctx_t *ctx, void *self, lt_tensor_t *step_output);
/* Lightning 1.x's x_epoch_end(outputs): every step's output of the epoch, in order. The
 * host keeps (detached copies of) the outputs only when this hook is set. */
typedef lt_status (*lt_epoch_end_fn)(lt_ctx_t *ctx, void *self, lt_tensor_t *const *outputs,
                                     int64_t n);

typedef struct lt_closure lt_closure_t;     /* training_step + zero_grad + backward */
typedef struct lt_scheduler lt_scheduler_t; /* lt/scheduler.h */

/* A named part of the module with its own forward ("encoder"): `lthost predict
 * --submodule encoder` and lt_model_opts.submodule run only it. */
typedef struct lt_submodule_desc {
    const char *name;
    lt_tensor_t *(*forward)(lt_ctx_t *ctx, void *self, lt_tensor_t *x);
} lt_submodule_desc;

typedef struct lt_module_desc {
    LT_DESC_HEADER_FIELDS
    size_t self_size;              /* sizeof the module's struct; the host zeroes it */
    const lt_hparam_desc *hparams; /* terminated by LT_HPARAM_END; may be NULL */
    /* Lightning's automatic_optimization = False: training_step does its own
     * lt_manual_backward / lt_optimizer_step (see lt_optimizers). */
    bool manual_optimization;
    lt_hook_fn configure_optimizers;                                    /* required for fit */
    lt_tensor_t *(*forward)(lt_ctx_t *ctx, void *self, lt_tensor_t *x); /* (optional) */
    lt_step_fn training_step;                                           /* required for fit */
    lt_step_fn validation_step; /* (optional) every other hook is optional */
    lt_step_fn test_step;
    lt_step_fn predict_step; /* default: forward(batch.x) */
    lt_step_end_fn training_step_end, validation_step_end, test_step_end;
    lt_epoch_end_fn training_epoch_end, validation_epoch_end, test_epoch_end;
    /* Overridable steps of automatic optimization; NULL does what Lightning's default
     * does. optimizer_step must run the closure (lt_closure_run) then step opt. */
    lt_status (*optimizer_step)(lt_ctx_t *ctx, void *self, lt_optimizer_t *opt, int opt_idx,
                                lt_closure_t *closure);
    lt_optimizer_hook_fn optimizer_zero_grad;
    lt_loss_hook_fn backward;
    /* Notifications around evaluation; the host itself switches train/eval mode. */
    lt_hook_fn on_validation_model_eval, on_validation_model_train, on_validation_model_zero_grad;
    lt_hook_fn on_test_model_eval, on_test_model_train, on_predict_model_eval;
    LT_HOOK_TABLE(LT_HOOK_FIELD_)
    const lt_submodule_desc *submodules; /* terminated by {NULL}; may be NULL */
    /* -- #23: LightningModule overrides, appended (the host reads them only when
     * struct_size covers them); NULL: Lightning's default -- */
    /* lr_scheduler_step(scheduler, metric): called when the trainer steps a scheduler (at
     * its interval and frequency); metric is the monitored value for ReduceLROnPlateau,
     * NULL (None) otherwise. Default: lt_scheduler_step / lt_scheduler_step_metric. */
    lt_status (*lr_scheduler_step)(lt_ctx_t *ctx, void *self, lt_scheduler_t *scheduler,
                                   const double *metric);
    /* configure_gradient_clipping(optimizer, gradient_clip_val, gradient_clip_algorithm):
     * every automatic-optimization step after on_before_optimizer_step, with the trainer's
     * --gradient_clip_val (0 when unset) and --gradient_clip_algorithm ("norm", "value").
     * Default: lt_clip_gradients(optimizer, gradient_clip_val, gradient_clip_algorithm). */
    lt_status (*configure_gradient_clipping)(lt_ctx_t *ctx, void *self, lt_optimizer_t *opt,
                                             double gradient_clip_val,
                                             const char *gradient_clip_algorithm);
    /* configure_callbacks(): the callbacks the module brings, a NULL-terminated array of
     * "Name" or "Name key=value key=value" (as --callbacks Name --callbacks.key value),
     * living as long as the module. Called once its hparams are set; a --callbacks entry
     * (or the default ModelCheckpoint) of the same class is replaced, as Lightning's
     * _attach_model_callbacks. */
    const char *const *(*configure_callbacks)(lt_ctx_t *ctx, void *self);
} lt_module_desc;

/* Whether module descriptor m (from any plugin) has field: older plugins are shorter. */
#define LT_MODULE_HAS(m, field)                                                                    \
    ((m)->struct_size >= offsetof(lt_module_desc, field) + sizeof((m)->field))

/* Export a module: LT_MODULE_EXPORT(my_t, .name = "my", .setup = my_setup, ...). */
#define LT_MODULE_EXPORT(self_type, ...)                                                           \
    LT_PLUGIN_EXPORT_(lt_module_desc, lt_module_entry, .self_size = sizeof(self_type), __VA_ARGS__)

/* A callback (Lightning's Callback): its own hparams and self, the shared hook table.
 * Load with --callbacks NAME|path.so; options with --callbacks.NAME VALUE. */
/* (1.1) Lightning's BasePredictionWriter: `lthost predict` hands the predictions to
 * the callback instead of writing predictions.npy (unless --predict.output names a file).
 * Called on rank 0 (every rank predicts the whole split here). prediction: what
 * predict_step returned for batch batch_idx; predictions[0..n): every batch's, in order
 * (kept only when the interval includes epoch). */
typedef lt_status (*lt_write_batch_fn)(lt_ctx_t *ctx, void *self, lt_tensor_t *prediction,
                                       const lt_batch_t *batch, int64_t batch_idx);
typedef lt_status (*lt_write_epoch_fn)(lt_ctx_t *ctx, void *self, lt_tensor_t *const *predictions,
                                       int64_t n);

typedef struct lt_callback_desc {
    LT_DESC_HEADER_FIELDS
    size_t self_size;
    const lt_hparam_desc *hparams;
    LT_HOOK_TABLE(LT_HOOK_FIELD_)
    /* (1.1, optional) a prediction writer: write_interval "batch", "epoch" or
     * "batch_and_epoch" (NULL: not a writer), and the hook(s) it names. */
    const char *write_interval;
    lt_write_batch_fn write_on_batch_end;
    lt_write_epoch_fn write_on_epoch_end;
} lt_callback_desc;

#define LT_CALLBACK_EXPORT(self_type, ...)                                                         \
    LT_PLUGIN_EXPORT_(lt_callback_desc, lt_callback_entry, .self_size = sizeof(self_type),         \
                      __VA_ARGS__)

/* ---- manual optimization and the closure ------------------------------------------ */

/* Number of optimizers configure_optimizers registered, and optimizer i. */
LT_API int lt_num_optimizers(lt_ctx_t *ctx);
LT_API lt_optimizer_t *lt_optimizers(lt_ctx_t *ctx, int i);
/* Lightning's manual_backward: runs on_before_backward/backward/on_after_backward. */
LT_API lt_status lt_manual_backward(lt_ctx_t *ctx, lt_tensor_t *loss);
/* Make only opt's parameters require gradients (Lightning's toggle_optimizer), and undo. */
LT_API lt_status lt_toggle_optimizer(lt_ctx_t *ctx, lt_optimizer_t *opt);
LT_API lt_status lt_untoggle_optimizer(lt_ctx_t *ctx, lt_optimizer_t *opt);
/* Run training_step, zero_grad and backward for the optimizer being stepped. */
LT_API lt_status lt_closure_run(lt_closure_t *closure);

/* "fit", "validate", "test" or "predict": the stage the trainer runs. */
LT_API const char *lt_stage(lt_ctx_t *ctx);
/* Whether the module is in training mode (false during validation, test, predict). */
LT_API bool lt_training(lt_ctx_t *ctx);

/* ---- layers and buffers (ABI 1.1) --------------------------------------------------- */

/* Declare a buffer during setup(): state that is saved, loaded and exported with the
 * parameters (a torch register_buffer: "bn.running_mean") but never trained. Every element
 * starts at value; dt is LT_F32 or LT_I64. The ctx owns it. */
LT_API lt_tensor_t *lt_buffer(lt_ctx_t *ctx, const char *name, lt_dtype dt, int ndim,
                              const int64_t *shape, double value);

/* nn.Conv2d: weight (out, in/groups, kh, kw) kaiming_uniform(a=sqrt(5)), bias (out)
 * U(+-1/sqrt(fan_in)), as torch initialises them; o NULL means every default. */
typedef struct lt_conv2d {
    lt_tensor_t *weight; /* (out, in/groups, kh, kw) */
    lt_tensor_t *bias;   /* (out), or NULL with opts.no_bias */
    lt_conv2d_opts opts;
} lt_conv2d_t;
LT_API lt_conv2d_t *lt_conv2d(lt_ctx_t *ctx, const char *name, int64_t in, int64_t out, int64_t kh,
                              int64_t kw, const lt_conv2d_opts *o);
/* x (N, in, H, W) -> (N, out, OH, OW) */
LT_API lt_tensor_t *lt_conv2d_forward(const lt_conv2d_t *l, lt_tensor_t *x);

/* nn.BatchNorm1d/2d: weight (ones), bias (zeros), and the buffers running_mean (zeros),
 * running_var (ones), num_batches_tracked (int64 0). The module's train/eval mode picks
 * batch or running statistics. */
typedef struct lt_batchnorm {
    lt_tensor_t *weight, *bias;              /* (C) */
    lt_tensor_t *running_mean, *running_var; /* (C) buffers */
    lt_tensor_t *num_batches_tracked;        /* () int64 buffer */
    double momentum, eps;                    /* 0.1 and 1e-5; may be changed in setup */
    lt_ctx_t *ctx;                           /* whose mode it follows */
    int64_t batches;                         /* num_batches_tracked, on the host */
} lt_batchnorm_t;
LT_API lt_batchnorm_t *lt_batchnorm(lt_ctx_t *ctx, const char *name, int64_t features);
/* x (N, C, ...) -> same shape; in training mode also updates the running statistics. */
LT_API lt_tensor_t *lt_batchnorm_forward(lt_batchnorm_t *bn, lt_tensor_t *x);

/* nn.LayerNorm(normalized_shape): weight (ones) and bias (zeros) of that shape. */
typedef struct lt_layernorm {
    lt_tensor_t *weight, *bias;
    int ndim;
    int64_t shape[LT_MAX_DIMS];
    double eps; /* 1e-5 */
} lt_layernorm_t;
LT_API lt_layernorm_t *lt_layernorm(lt_ctx_t *ctx, const char *name, int ndim,
                                    const int64_t *shape);
LT_API lt_tensor_t *lt_layernorm_forward(const lt_layernorm_t *l, lt_tensor_t *x);

/* F.dropout(x, p, training=self.training): identity in eval mode; in training mode the
 * mask comes from the run's seed, the global step and the call's place in the step, so
 * a run and a resumed run drop the same elements. */
LT_API lt_tensor_t *lt_dropout(lt_ctx_t *ctx, lt_tensor_t *x, double p);

/* ---- issue 19 (gen): nn.ConvTranspose2d ------------------------------------------- */

/* nn.ConvTranspose2d: weight (in, out/groups, kh, kw) kaiming_uniform(a=sqrt(5)) and bias
 * (out) U(+-1/sqrt(fan_in)), fan_in = out/groups * kh * kw, as torch initialises them. */
typedef struct lt_conv_transpose2d {
    lt_tensor_t *weight; /* (in, out/groups, kh, kw) */
    lt_tensor_t *bias;   /* (out), or NULL with opts.no_bias */
    lt_conv_transpose2d_opts opts;
} lt_conv_transpose2d_t;
LT_API lt_conv_transpose2d_t *lt_conv_transpose2d(lt_ctx_t *ctx, const char *name, int64_t in,
                                                  int64_t out, int64_t kh, int64_t kw,
                                                  const lt_conv_transpose2d_opts *o);
/* x (N, in, H, W) -> (N, out, OH, OW) */
LT_API lt_tensor_t *lt_conv_transpose2d_forward(const lt_conv_transpose2d_t *l, lt_tensor_t *x);
/* ---- issue 19: nn.GroupNorm (ABI 1.1) ------------------------------------------------ */

/* nn.GroupNorm(num_groups, num_channels, eps=1e-5, affine): with affine, weight (ones) and
 * bias (zeros) of (num_channels); without, none. num_groups must divide num_channels. */
typedef struct lt_groupnorm {
    lt_tensor_t *weight, *bias; /* (C), or NULL without affine */
    int64_t num_groups;
    double eps; /* 1e-5; may be changed in setup */
} lt_groupnorm_t;
LT_API lt_groupnorm_t *lt_groupnorm(lt_ctx_t *ctx, const char *name, int64_t num_groups,
                                    int64_t num_channels, bool affine);
/* x (N, C, ...) -> same shape */
LT_API lt_tensor_t *lt_groupnorm_forward(const lt_groupnorm_t *l, lt_tensor_t *x);
/* ---- #23: freeze / unfreeze (Lightning's LightningModule.freeze) -------------------- */

/* ---- #23: float32 arrays in checkpoint state ---------------------------------------- */

/* The most values one array may hold (16 GiB of float32). */
#define LT_STATE_MAX_F32 ((int64_t)1 << 32)
/* Store n float32 values (copied) under key. In a checkpoint the array is a tensor of the
 * file, named by its key path ("callbacks.<state key>.<key>"), not JSON text. */
LT_API lt_status lt_state_set_f32(lt_state_t *st, const char *key, const float *v, int64_t n);
/* The length of the float32 array under key, or -1 when key is absent or not one. */
LT_API int64_t lt_state_f32_len(const lt_state_t *st, const char *key);
/* Copy the array under key into out when it holds exactly n values; false otherwise
 * (absent, another type, or another length: a checkpoint's sizes are not trusted). */
LT_API bool lt_state_get_f32(const lt_state_t *st, const char *key, float *out, int64_t n);

/* Freeze the whole module (submodule NULL or "") or the submodule whose parameters are
 * named "<submodule>.*": their requires_grad goes off, so backward and the optimizers leave
 * them alone; and eval mode: the whole module's dropout and batch norms, or the
 * submodule's batch norms, stop training (a submodule's lt_dropout cannot tell it apart
 * and keeps dropping). It lasts until lt_unfreeze; a name no parameter has is an error. */
LT_API lt_status lt_freeze(lt_ctx_t *ctx, const char *submodule);
/* Undo it for the submodule (and any frozen submodule inside it); NULL: everything. */
LT_API lt_status lt_unfreeze(lt_ctx_t *ctx, const char *submodule);
/* Whether parameter param_name is frozen (requires_grad off). */
LT_API bool lt_is_frozen(lt_ctx_t *ctx, const char *param_name);
/* ---- embedding and attention layers (ABI 1.1, issue 19: text models) --------------- */

/* nn.Embedding: weight (num, dim) drawn from N(0, 1) as torch does, its padding_idx row
 * zero (LT_NO_PADDING_IDX: none). */
typedef struct lt_embedding {
    lt_tensor_t *weight; /* (num, dim) */
    int64_t padding_idx;
} lt_embedding_t;
LT_API lt_embedding_t *lt_embedding(lt_ctx_t *ctx, const char *name, int64_t num, int64_t dim,
                                    int64_t padding_idx);
/* idx (...) int64 -> (..., dim) */
LT_API lt_tensor_t *lt_embedding_forward(const lt_embedding_t *e, lt_tensor_t *idx);
/* F.scaled_dot_product_attention(q, k, v, dropout_p=p if self.training else 0): o's
 * dropout applies in training mode only, its mask drawn as lt_dropout's. */
LT_API lt_tensor_t *lt_attention(lt_ctx_t *ctx, lt_tensor_t *q, lt_tensor_t *k, lt_tensor_t *v,
                                 const lt_sdpa_opts *o);

#endif
