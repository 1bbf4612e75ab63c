/* onnx_impl.h — the ONNX exporter's state, shared by its three files:
 *   onnx_trace.c  runs the forward once with every op recorded, walks the tape
 *   onnx_ops.c    maps each recorded op to ONNX nodes (onnx_norm.c: the normalisations,
 *                 onnx_ops2.c: the layout, indexing, attention and pointwise ops of #19)
 *   onnx_write.c  names values, encodes nodes, initializers and the ModelProto, writes
 * The protobuf is written by hand (io/pb_write.h); field numbers are onnx.proto's. */
#ifndef LT_ONNX_IMPL_H
#define LT_ONNX_IMPL_H

#include <lt/model.h>
#include <lt/runtime.h>

#include "../io/pb_write.h"
#include "lt_impl.h"

/* One named value of the graph: a traced tensor, or a temporary of a multi-node op
 * (t == NULL). */
typedef struct onnx_value {
    const lt_tensor_t *t;
    char *name;
} onnx_value;

/* A node output's shape in the other traced run (another batch size when dynamic). */
typedef struct onnx_shape {
    const lt_tensor_t *t; /* the tensor of the run being emitted */
    int ndim;
    int64_t shape[LT_MAX_DIMS];
} onnx_shape;

typedef struct onnx_exp {
    lt_ctx_t *ctx;
    int opset;
    bool dynamic; /* --dynamic_batch: traced on two batch sizes */
    lt_dtype input_dtype;
    const lt_tensor_t *input, *output;
    lt_pb_buf nodes; /* GraphProto.node entries, encoded */
    lt_pb_buf inits; /* GraphProto.initializer entries, encoded */
    onnx_value *vals;
    int nvals, cap_vals;
    int nconst, ntemp, nnodes, nnames;
    onnx_shape *other; /* per tape node: its output's shape in the first run */
    size_t nother;
    const char **cat_in; /* lt_cat's inputs so far (one recorded node per input) */
    int ncat, cap_cat;
} onnx_exp;

/* AttributeProto.type */
enum { ONNX_ATTR_FLOAT = 1, ONNX_ATTR_INT = 2, ONNX_ATTR_INTS = 7 };
/* TensorProto.data_type */
enum { ONNX_FLOAT = 1, ONNX_INT64 = 7 };

typedef struct onnx_attr {
    const char *name;
    int type;
    int64_t i;
    float f;
    const int64_t *ints;
    int nints;
} onnx_attr;
#define ONNX_INT(nm, v) ((onnx_attr){.name = (nm), .type = ONNX_ATTR_INT, .i = (v)})
#define ONNX_FLT(nm, v) ((onnx_attr){.name = (nm), .type = ONNX_ATTR_FLOAT, .f = (v)})
#define ONNX_INTS(nm, p, n)                                                                        \
    ((onnx_attr){.name = (nm), .type = ONNX_ATTR_INTS, .ints = (p), .nints = (n)})

/* ---- onnx_write.c ---- */

/* The name of t: known already, or a parameter/buffer (an initializer named as in the
 * state dict), or a constant made in the forward (an initializer "const_N"). NULL on
 * error (set). */
const char *lt__onnx_use(onnx_exp *e, const lt_tensor_t *t);
/* t's shape in the other traced run (t made by a recorded node), else NULL. */
const int64_t *lt__onnx_other_shape(const onnx_exp *e, const lt_tensor_t *t);
/* Name the output t of the node being emitted ("output" for the graph's output). */
const char *lt__onnx_define(onnx_exp *e, const lt_tensor_t *t);
/* A fresh name for an intermediate value of a multi-node op. */
const char *lt__onnx_temp(onnx_exp *e);
/* An initializer holding a float scalar, or int64 values of shape (n) (n < 0: a scalar). */
const char *lt__onnx_const_f32(onnx_exp *e, float v);
const char *lt__onnx_const_i64(onnx_exp *e, const int64_t *v, int n);
/* An initializer of shape (ndim, shape), every element v. */
const char *lt__onnx_const_fill(onnx_exp *e, int ndim, const int64_t *shape, float v);
/* Append NodeProto op(in...) -> out with attributes. */
void lt__onnx_node(onnx_exp *e, const char *op, const char *const *in, int nin, const char *out,
                   const onnx_attr *attrs, int nattrs);
/* The whole ModelProto (graph "name"), written to path via a temporary file. */
lt_status lt__onnx_write_model(onnx_exp *e, const char *path, const char *name);
void lt__onnx_free(onnx_exp *e);

/* ---- onnx_ops.c ---- */

/* Append the ONNX nodes of recorded node n. */
lt_status lt__onnx_emit(onnx_exp *e, const lt_node *n);
/* ---- onnx_norm.c ---- */

lt_status lt__onnx_batch_norm(onnx_exp *e, const lt_node *n);
lt_status lt__onnx_layer_norm(onnx_exp *e, const lt_node *n);

/* ---- onnx_ops2.c: the ops of issue #19 ---- */

lt_status lt__onnx_permute(onnx_exp *e, const lt_node *n);
lt_status lt__onnx_narrow(onnx_exp *e, const lt_node *n);
lt_status lt__onnx_cat(onnx_exp *e, const lt_node *n);
lt_status lt__onnx_gather(onnx_exp *e, const lt_node *n);
lt_status lt__onnx_one_hot(onnx_exp *e, const lt_node *n);
lt_status lt__onnx_to_f32(onnx_exp *e, const lt_node *n);
lt_status lt__onnx_bmm(onnx_exp *e, const lt_node *n);
lt_status lt__onnx_masked_fill(onnx_exp *e, const lt_node *n);
lt_status lt__onnx_clamp(onnx_exp *e, const lt_node *n);
lt_status lt__onnx_pow(onnx_exp *e, const lt_node *n);
lt_status lt__onnx_logsigmoid(onnx_exp *e, const lt_node *n);
lt_status lt__onnx_conv_transpose(onnx_exp *e, const lt_node *n);
/* The tensor node n reads besides in[] (a gather's index, a masked_fill's mask, one_hot's
 * labels, to_f32's input), or NULL. */
const lt_tensor_t *lt__onnx_extra_input(const lt_node *n);

/* "lt_add" -> "add", "linear_bw" -> "linear": the op's name in messages, into buf. */
const char *lt__onnx_op_key(const char *op, char *buf, size_t n);

/* ---- io/model.c ---- */

lt_ctx_t *lt__model_ctx(lt_model_t *m);
lt_forward_fn lt__model_forward_fn(lt_model_t *m);
const char *lt__model_name(const lt_model_t *m);

#endif
