/* lt/optim.h — optimizers with PyTorch's update formulas. Each constructor takes
 * ownership of the parameter list (also on failure) and returns NULL on error. */
#ifndef LT_OPTIM_H
#define LT_OPTIM_H

#include "module.h"

/* An empty list, and appending a parameter tensor (for use outside a module). */
LT_API lt_param_list_t *lt_param_list_new(void);
LT_API lt_status lt_param_list_add(lt_param_list_t *list, lt_tensor_t *param);
LT_API int64_t lt_param_list_len(const lt_param_list_t *list);
LT_API void lt_param_list_free(lt_param_list_t *list);

/* torch.optim.SGD(params, lr) */
LT_API lt_optimizer_t *lt_sgd(lt_param_list_t *params, double lr);
/* torch.optim.SGD with every option. */
LT_API lt_optimizer_t *lt_sgd_ex(lt_param_list_t *params, double lr, double momentum,
                                 double dampening, double weight_decay, bool nesterov);
/* torch.optim.Adam(params, lr) with betas (0.9, 0.999), eps 1e-8. */
LT_API lt_optimizer_t *lt_adam(lt_param_list_t *params, double lr);
/* torch.optim.Adam with every option (weight decay added to the gradient). */
LT_API lt_optimizer_t *lt_adam_ex(lt_param_list_t *params, double lr, double beta1, double beta2,
                                  double eps, double weight_decay);
/* torch.optim.AdamW(params, lr, weight_decay) (decoupled weight decay). */
LT_API lt_optimizer_t *lt_adamw(lt_param_list_t *params, double lr, double weight_decay);
LT_API lt_optimizer_t *lt_adamw_ex(lt_param_list_t *params, double lr, double beta1, double beta2,
                                   double eps, double weight_decay);

/* One update of every parameter that has a gradient. */
LT_API lt_status lt_optimizer_step(lt_optimizer_t *opt);
/* Set the gradients of the optimizer's parameters to zero. */
LT_API lt_status lt_optimizer_zero_grad(lt_optimizer_t *opt);
/* The lr (of param group 0), and setting it (in every param group). */
LT_API double lt_optimizer_lr(const lt_optimizer_t *opt);
LT_API void lt_optimizer_set_lr(lt_optimizer_t *opt, double lr);
/* The momentum a scheduler may cycle: SGD's and RMSprop's momentum, beta1 of the
 * optimizers with betas (Adam, AdamW, Adamax, NAdam, RAdam); NaN for Adagrad. */
LT_API double lt_optimizer_momentum(const lt_optimizer_t *opt);
/* Set it (SGD, RMSprop: >= 0, and only when built with momentum > 0, as only then they
 * keep a momentum buffer; beta1: in [0, 1); Adagrad: an error). */
LT_API lt_status lt_optimizer_set_momentum(lt_optimizer_t *opt, double m);
/* "SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adamax", "NAdam", "RAdam" */
LT_API const char *lt_optimizer_name(const lt_optimizer_t *opt);
LT_API void lt_optimizer_free(lt_optimizer_t *opt);

/* Updates done so far (Lightning counts these as global_step). */
LT_API int64_t lt_optimizer_num_steps(const lt_optimizer_t *opt);
/* torch.nn.utils.clip_grad_norm_ over opt's parameters; the norm before clipping goes
 * to *total_norm when it is not NULL. A non-finite norm is an error. */
LT_API lt_status lt_clip_grad_norm(lt_optimizer_t *opt, double max_norm, double *total_norm);
/* torch.nn.utils.clip_grad_value_: every gradient element clamped to [-v, v]. */
LT_API lt_status lt_clip_grad_value(lt_optimizer_t *opt, double clip_value);

/* ---- #23: more of torch.optim (single-tensor formulas, all options) ----------------- */

/* torch.optim.RMSprop(params, lr): alpha 0.99, eps 1e-8, no weight decay or momentum. */
LT_API lt_optimizer_t *lt_rmsprop(lt_param_list_t *params, double lr);
/* RMSprop with every option: alpha (smoothing, >= 0), eps, weight_decay (added to the
 * gradient), momentum (>= 0; > 0 keeps a momentum_buffer), centered (normalise by the
 * estimated variance, keeping grad_avg). */
LT_API lt_optimizer_t *lt_rmsprop_ex(lt_param_list_t *params, double lr, double alpha, double eps,
                                     double weight_decay, double momentum, bool centered);
/* torch.optim.Adagrad(params, lr): lr_decay 0, weight_decay 0, initial accumulator 0,
 * eps 1e-10. */
LT_API lt_optimizer_t *lt_adagrad(lt_param_list_t *params, double lr);
LT_API lt_optimizer_t *lt_adagrad_ex(lt_param_list_t *params, double lr, double lr_decay,
                                     double weight_decay, double initial_accumulator_value,
                                     double eps);
/* torch.optim.Adamax(params, lr): betas (0.9, 0.999), eps 1e-8. */
LT_API lt_optimizer_t *lt_adamax(lt_param_list_t *params, double lr);
LT_API lt_optimizer_t *lt_adamax_ex(lt_param_list_t *params, double lr, double beta1, double beta2,
                                    double eps, double weight_decay);
/* torch.optim.NAdam(params, lr): betas (0.9, 0.999), eps 1e-8, momentum_decay 4e-3. */
LT_API lt_optimizer_t *lt_nadam(lt_param_list_t *params, double lr);
/* decoupled_weight_decay: p *= 1 - lr * weight_decay (AdamW's), else added to the gradient. */
LT_API lt_optimizer_t *lt_nadam_ex(lt_param_list_t *params, double lr, double beta1, double beta2,
                                   double eps, double weight_decay, double momentum_decay,
                                   bool decoupled_weight_decay);
/* torch.optim.RAdam(params, lr): betas (0.9, 0.999), eps 1e-8. */
LT_API lt_optimizer_t *lt_radam(lt_param_list_t *params, double lr);
LT_API lt_optimizer_t *lt_radam_ex(lt_param_list_t *params, double lr, double beta1, double beta2,
                                   double eps, double weight_decay, bool decoupled_weight_decay);
/* An optimizer chosen by name (a module's hparam): "sgd", "adam", "adamw" (weight decay
 * 1e-2, torch's default), "rmsprop", "adagrad", "adamax", "nadam", "radam", any case, with
 * torch's defaults and this lr. An unknown name is an error listing the known ones. */
LT_API lt_optimizer_t *lt_optimizer_by_name(lt_param_list_t *params, const char *name, double lr);

/* ---- #23: param groups (torch's optimizer.param_groups) ---------------------------- */

/* The module's parameters whose names match (match true) or match none (false) of the
 * '|'-separated glob patterns (fnmatch: *, ?, [...]), in declaration order; for example
 * "*.bias|*norm*" to keep biases and norms out of weight decay. */
LT_API lt_param_list_t *lt_parameters_where(lt_ctx_t *ctx, const char *patterns, bool match);
/* torch's optimizer.add_param_group: params (owned, also on failure) become group
 * lt_optimizer_num_groups(opt) - 1 with their own lr and weight_decay (NAN: the
 * optimizer's); the other hyper-parameters are shared. Only before the first step; a
 * parameter already in a group is an error. Group 0 is the constructor's. */
LT_API lt_status lt_optimizer_add_param_group(lt_optimizer_t *opt, lt_param_list_t *params,
                                              double lr, double weight_decay);
LT_API int lt_optimizer_num_groups(const lt_optimizer_t *opt);
/* Group g's lr / weight decay (NaN for a group that does not exist). lt_optimizer_lr is
 * group 0's, and lt_optimizer_set_lr sets every group's. */
LT_API double lt_optimizer_group_lr(const lt_optimizer_t *opt, int group);
LT_API double lt_optimizer_group_weight_decay(const lt_optimizer_t *opt, int group);
LT_API lt_status lt_optimizer_set_group_lr(lt_optimizer_t *opt, int group, double lr);

/* Lightning's LightningModule.clip_gradients(optimizer, gradient_clip_val,
 * gradient_clip_algorithm), for a configure_gradient_clipping override: nothing when
 * clip_val <= 0 (None); algorithm "norm" (or NULL) clips the total 2-norm, "value" each
 * element. */
LT_API lt_status lt_clip_gradients(lt_optimizer_t *opt, double clip_val, const char *algorithm);

#endif
