/* lt/model.h — a trained module in your own program: load a .ckpt with the module's
 * .so and run its forward (or one submodule's) for inference. Link with -llt. */
#ifndef LT_MODEL_H
#define LT_MODEL_H

#include <stdbool.h>
#include <stdint.h>

#include "tensor.h"

typedef struct lt_model lt_model_t; /* opaque */

typedef struct lt_model_opts {
    uint32_t struct_size;  /* sizeof(lt_model_opts) */
    const char *accel;     /* accelerator plugin, default "cpu" */
    int threads;           /* 0: the accelerator's default */
    const char *submodule; /* run only this lt_submodule_desc ("encoder"), or NULL */
    bool strict;           /* every parameter in the file and no extra (default true) */
} lt_model_opts;
#define LT_MODEL_OPTS(...)                                                                         \
    ((lt_model_opts){.struct_size = sizeof(lt_model_opts), .strict = true, __VA_ARGS__})

/* Load ckpt_path into the module plugin module_path (a path or an installed name) with
 * the checkpoint's hyper-parameters. NULL on failure, *err (if err is not NULL) then
 * says why; the text stays valid until the next liblt call on this thread. */
LT_API lt_model_t *lt_model_load(const char *ckpt_path, const char *module_path, const char **err);
LT_API lt_model_t *lt_model_load_ex(const char *ckpt_path, const char *module_path,
                                    const lt_model_opts *opts, const char **err);
/* Start an inference: forget the previous one's tensors, and copy data (float32 of
 * shape) to the model's device. */
LT_API lt_tensor_t *lt_model_input(lt_model_t *m, int ndim, const int64_t *shape,
                                   const float *data);
/* forward (or the submodule's) without gradients; read the result with lt_to_host. The
 * output lives until the next lt_model_input. NULL on error (lt_last_error). */
LT_API lt_tensor_t *lt_model_forward(lt_model_t *m, lt_tensor_t *input);
/* A hyper-parameter of the loaded module as text ("128"), or NULL if undeclared. */
LT_API const char *lt_model_hparam(lt_model_t *m, const char *name, char *buf, size_t n);
LT_API void lt_model_free(lt_model_t *m);

#endif
