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

/* ---- ONNX export and plain state dicts (ABI 1.1 additions) ------------------------- */

/* Like lt_model_load_ex, from a plain safetensors state dict (torch's
 * safetensors.torch.save_file(model.state_dict())) instead of a checkpoint: the module's
 * default hyper-parameters, overridden by hparams, a NULL-terminated list of
 * "name=value" strings (or NULL). */
LT_API lt_model_t *lt_model_load_weights(const char *weights_path, const char *module_path,
                                         const char *const *hparams, const lt_model_opts *opts,
                                         const char **err);

typedef struct lt_onnx_opts {
    uint32_t struct_size;       /* sizeof(lt_onnx_opts) */
    int ndim;                   /* the example input's shape (1 to LT_MAX_DIMS sizes) */
    const int64_t *input_shape; /* e.g. {1, 784}: the forward runs once on such an input */
    bool dynamic_batch;         /* dimension 0 of input and output is "batch", any size */
    int opset;                  /* ONNX opset, 13 to 21; 0: 17 */
    /* (1.1) the input's dtype: LT_F32 (0, the default), or LT_I64 for token ids (the
     * example input holds 0s and 1s, valid for any embedding) */
    lt_dtype input_dtype;
} lt_onnx_opts;
#define LT_ONNX_OPTS(...) ((lt_onnx_opts){.struct_size = sizeof(lt_onnx_opts), __VA_ARGS__})

/* Write the model's forward (or the submodule chosen at load) as an ONNX model at path:
 * the forward runs once, in eval mode without gradients, on a random input of
 * opts->input_shape, and every op it records becomes ONNX nodes; parameters and buffers
 * become initializers named as in the state dict. The file is written to a temporary
 * name and renamed into place; a directory at path is refused. An op with no ONNX
 * mapping is an error that names it. LT_OK, or a status and *err (if err is not NULL),
 * valid until the next liblt call on this thread. */
LT_API lt_status lt_model_export_onnx(lt_model_t *m, const char *path, const lt_onnx_opts *opts,
                                      const char **err);

#endif
