/* lt/amp.h — what a host needs for Lightning's --precision and device choice: a device
 * opened with the accelerator's full options (which GPU, which precision), named ranges
 * for a GPU timeline, and torch.amp.GradScaler for 16-mixed. Plugins never need it. */
#ifndef LT_AMP_H
#define LT_AMP_H

#include <stdbool.h>
#include <stdint.h>

#include "accelerator.h"
#include "module.h"
#include "plugin.h"

/* ---- devices with options --------------------------------------------------------- */

/* lt_device_from_plugin with every option (opts->struct_size set by the caller); takes
 * ownership of p, also on failure. An accelerator that cannot train in opts->precision
 * refuses with LT_ERR_UNSUPPORTED; bf16-true also needs the round_half slot. */
LT_API lt_status lt_device_from_plugin_opts(lt_plugin_t *p, const lt_accel_opts *opts,
                                            lt_device_t **out);
/* Whether the device's memory is host memory the CPU may touch (the cpu accelerator):
 * reading a value back then costs no synchronisation with an asynchronous device. */
LT_API bool lt_device_host_memory(const lt_device_t *dev);
/* The precision the device was opened with (32-true for lt_device_from_plugin). */
LT_API lt_precision lt_device_precision(const lt_device_t *dev);
/* "32-true", "16-mixed", "bf16-mixed", "bf16-true" (Lightning's names). */
LT_API const char *lt_precision_name(lt_precision p);
/* Named ranges around a host's profiled actions (NVTX on cuda); no-ops when the
 * accelerator has no range slots. Pops must match pushes. */
LT_API bool lt_device_has_ranges(const lt_device_t *dev);
LT_API void lt_device_range_push(lt_device_t *dev, const char *name);
LT_API void lt_device_range_pop(lt_device_t *dev);
/* bf16-true: round every parameter of ctx to bf16 (kept as float32) when ctx's device
 * was opened with LT_PRECISION_BF16_TRUE; nothing otherwise. lt_ctx_materialize and
 * lt_optimizer_step do it themselves; call it after loading weights from a file. */
LT_API lt_status lt_ctx_apply_precision(lt_ctx_t *ctx);

/* ---- GradScaler (torch.amp.GradScaler's rules) ----------------------------------- */

/* torch's defaults: scale 2^16, doubled after 2000 consecutive steps with finite
 * gradients, halved (and the optimizer step skipped) on an inf or NaN gradient. */
#define LT_GRAD_SCALER_INIT_SCALE 65536.0
#define LT_GRAD_SCALER_GROWTH_FACTOR 2.0
#define LT_GRAD_SCALER_BACKOFF_FACTOR 0.5
#define LT_GRAD_SCALER_GROWTH_INTERVAL 2000

typedef struct lt_grad_scaler lt_grad_scaler_t;

/* A scaler for gradients on dev; NULL with an error unless init_scale is finite and
 * > 0, growth_factor > 1, backoff_factor in (0, 1) and growth_interval >= 1 (torch's
 * rules). At most 32 optimizers may use one scaler. */
LT_API lt_grad_scaler_t *lt_grad_scaler_new(lt_device_t *dev, double init_scale,
                                            double growth_factor, double backoff_factor,
                                            int64_t growth_interval);
/* Detach it from every ctx first (lt_ctx_set_grad_scaler(ctx, NULL)). NULL: no-op. */
LT_API void lt_grad_scaler_free(lt_grad_scaler_t *sc);
/* Attach sc to ctx (NULL detaches): lt_backward on ctx's tensors seeds the loss's
 * gradient with the scale (times lt_ctx_set_backward_scale's), lt_clip_grad_* unscale
 * first, and lt_optimizer_step on ctx's parameters becomes Lightning's MixedPrecision
 * step: unscale (unless done), skip the update when a gradient is inf or NaN, update
 * the scale. sc must be on ctx's device. */
LT_API lt_status lt_ctx_set_grad_scaler(lt_ctx_t *ctx, lt_grad_scaler_t *sc);
/* torch's scaler.unscale_(opt): opt's gradients *= 1 / scale, recording whether any is
 * inf or NaN; a second call before opt's step does nothing. */
LT_API lt_status lt_grad_scaler_unscale(lt_grad_scaler_t *sc, lt_optimizer_t *opt);
/* torch's scaler.step(opt): unscale if not done, then opt's update unless a gradient
 * was inf or NaN (*stepped says which; reads one float back from the device). */
LT_API lt_status lt_grad_scaler_step(lt_grad_scaler_t *sc, lt_optimizer_t *opt, bool *stepped);
/* torch's scaler.update(): backoff on a found inf since the last update, else growth
 * after growth_interval clean steps. Nothing recorded since the last update: no-op. */
LT_API lt_status lt_grad_scaler_update(lt_grad_scaler_t *sc);
LT_API double lt_grad_scaler_get_scale(const lt_grad_scaler_t *sc);
/* Clean steps since the last growth or backoff (torch's _growth_tracker). */
LT_API int64_t lt_grad_scaler_growth_tracker(const lt_grad_scaler_t *sc);
/* Optimizer steps skipped for inf/NaN gradients so far (not saved in checkpoints). */
LT_API int64_t lt_grad_scaler_skipped_steps(const lt_grad_scaler_t *sc);
/* torch's state_dict(): scale, growth_factor, backoff_factor, growth_interval,
 * _growth_tracker, into st. */
LT_API lt_status lt_grad_scaler_save(const lt_grad_scaler_t *sc, lt_state_t *st);
/* Load what lt_grad_scaler_save wrote; every value is checked first (finite, > 0, the
 * factors and interval as lt_grad_scaler_new requires) and nothing changes on an error,
 * which names where.key. */
LT_API lt_status lt_grad_scaler_load(lt_grad_scaler_t *sc, const lt_state_t *st, const char *where);

#endif
