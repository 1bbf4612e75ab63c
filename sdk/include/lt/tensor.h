/* lt/tensor.h — tensors, arenas, devices and the differentiable ops.
 *
 * Ownership: a tensor made by an op belongs to the arena of its first input and lives
 * until that arena is reset (the host resets a module's arena after every step). A
 * tensor kept past the reset is refused (LT_ERR_STATE) by the calls it is passed to in
 * the next step; keep a copy with lt_keep instead.
 * Ops return NULL on error (see lt_last_error()) and pass a NULL input straight
 * through, so a chain of calls stops at the first failure. Shapes in comments. */
#ifndef LT_TENSOR_H
#define LT_TENSOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "status.h"

#define LT_MAX_DIMS 8

/* LT_DTYPE_COUNT ends 1.0's dtypes (and is what lt_dtype_of(NULL) returns); the storage
 * dtypes of 1.1 come after it, so that its value stays. uint8, float16 and bfloat16
 * tensors hold data (a batch's images or half-precision features): they are created,
 * copied and read back, and lt_to_f32 makes float32 of them; other ops want float32. */
typedef enum {
    LT_F32 = 0,
    LT_I64 = 1,
    LT_DTYPE_COUNT,
    LT_U8 = 3,   /* (1.1) */
    LT_F16 = 4,  /* (1.1) IEEE binary16 */
    LT_BF16 = 5, /* (1.1) bfloat16: float32's top 16 bits */
} lt_dtype;

typedef struct lt_tensor lt_tensor_t; /* opaque */
typedef struct lt_arena lt_arena_t;   /* owns intermediates and the autograd tape */
typedef struct lt_device lt_device_t; /* an opened accelerator plugin */

/* ---- devices ---------------------------------------------------------------- */

/* Open an accelerator plugin by name ("cpu") or path; threads <= 0 means all cores. */
LT_API lt_status lt_device_open(const char *accel, int threads, lt_device_t **out);
/* Close a device; every arena and tensor on it must be freed first. */
LT_API void lt_device_close(lt_device_t *dev);
/* The accelerator's name, e.g. "cpu". */
LT_API const char *lt_device_name(const lt_device_t *dev);
/* Wait for all queued work on the device. */
LT_API lt_status lt_device_sync(lt_device_t *dev);
/* What the accelerator runs, in one line ("OpenBLAS 0.3.21 (Zen kernels), 2 threads"),
 * or "" when it does not say (no describe slot). */
LT_API const char *lt_device_describe(const lt_device_t *dev);

/* ---- arenas ----------------------------------------------------------------- */

/* A new arena whose tensors live on dev. */
LT_API lt_arena_t *lt_arena_new(lt_device_t *dev);
/* Free every tensor made in the arena and clear its tape; memory is kept for reuse. The
 * freed tensors are marked stale, and their slots reused only after the next reset, so
 * one kept into the next step is refused rather than read as another tensor. */
LT_API void lt_arena_reset(lt_arena_t *a);
/* Free the arena and everything in it. */
LT_API void lt_arena_free(lt_arena_t *a);
/* Disable (false) or re-enable gradient recording; returns the previous setting. */
LT_API bool lt_arena_set_grad(lt_arena_t *a, bool enabled);

/* ---- making and reading tensors --------------------------------------------- */

/* A zero-filled tensor in arena a. */
LT_API lt_tensor_t *lt_zeros(lt_arena_t *a, lt_dtype dt, int ndim, const int64_t *shape);
/* A tensor filled with value. */
LT_API lt_tensor_t *lt_full(lt_arena_t *a, int ndim, const int64_t *shape, float value);
/* A tensor holding a copy of host memory data (numel * element size bytes). */
LT_API lt_tensor_t *lt_from_host(lt_arena_t *a, lt_dtype dt, int ndim, const int64_t *shape,
                                 const void *data);
/* Overwrite the tensor's elements from host memory; nbytes must equal its size. */
LT_API lt_status lt_from_host_into(lt_tensor_t *t, const void *src, size_t nbytes);
/* Copy the tensor's elements to host memory; nbytes must equal its size in bytes. */
LT_API lt_status lt_to_host(const lt_tensor_t *t, void *dst, size_t nbytes);
/* The single element of a one-element tensor, as a double (NaN on error). */
LT_API double lt_item(const lt_tensor_t *t);

LT_API int lt_ndim(const lt_tensor_t *t);
/* Size of dimension i; negative i counts from the end. */
LT_API int64_t lt_dim(const lt_tensor_t *t, int i);
LT_API int64_t lt_numel(const lt_tensor_t *t);
LT_API lt_dtype lt_dtype_of(const lt_tensor_t *t);
LT_API const char *lt_dtype_name(lt_dtype dt);
/* The gradient accumulated by lt_backward, or NULL. */
LT_API lt_tensor_t *lt_grad(const lt_tensor_t *t);
/* Mark a tensor as a leaf that receives a gradient. */
LT_API lt_status lt_set_requires_grad(lt_tensor_t *t, bool requires_grad);
LT_API bool lt_requires_grad(const lt_tensor_t *t);

/* ---- autograd --------------------------------------------------------------- */

/* Back-propagate from a one-element tensor; leaves' gradients accumulate. */
LT_API lt_status lt_backward(lt_tensor_t *loss);

/* ---- ops (float32 unless noted; broadcasting follows PyTorch) ---------------- */

LT_API lt_tensor_t *lt_add(lt_tensor_t *a, lt_tensor_t *b);
LT_API lt_tensor_t *lt_sub(lt_tensor_t *a, lt_tensor_t *b);
LT_API lt_tensor_t *lt_mul(lt_tensor_t *a, lt_tensor_t *b);
LT_API lt_tensor_t *lt_div(lt_tensor_t *a, lt_tensor_t *b);
/* x * s */
LT_API lt_tensor_t *lt_scale(lt_tensor_t *x, float s);
/* x + s */
LT_API lt_tensor_t *lt_add_scalar(lt_tensor_t *x, float s);
LT_API lt_tensor_t *lt_neg(lt_tensor_t *x);
LT_API lt_tensor_t *lt_relu(lt_tensor_t *x);
/* Exact (erf) GELU, PyTorch's default. */
LT_API lt_tensor_t *lt_gelu(lt_tensor_t *x);
LT_API lt_tensor_t *lt_tanh(lt_tensor_t *x);
LT_API lt_tensor_t *lt_sigmoid(lt_tensor_t *x);
LT_API lt_tensor_t *lt_exp(lt_tensor_t *x);
/* Natural logarithm (named lt_ln: lt_log is the logging call, as self.log). */
LT_API lt_tensor_t *lt_ln(lt_tensor_t *x);
/* (M, K) @ (K, N) -> (M, N) */
LT_API lt_tensor_t *lt_matmul(lt_tensor_t *a, lt_tensor_t *b);
/* x (..., in) @ w(out, in)^T + b(out) -> (..., out); b may be NULL */
LT_API lt_tensor_t *lt_linear_op(lt_tensor_t *x, lt_tensor_t *w, lt_tensor_t *b);
/* Sum or mean of all elements -> shape () */
LT_API lt_tensor_t *lt_sum(lt_tensor_t *x);
LT_API lt_tensor_t *lt_mean(lt_tensor_t *x);
/* Sum or mean over one dimension (negative counts from the end). */
LT_API lt_tensor_t *lt_sum_dim(lt_tensor_t *x, int dim, bool keepdim);
LT_API lt_tensor_t *lt_mean_dim(lt_tensor_t *x, int dim, bool keepdim);
/* Along the last dimension. */
LT_API lt_tensor_t *lt_softmax(lt_tensor_t *x);
LT_API lt_tensor_t *lt_log_softmax(lt_tensor_t *x);
/* logits (N, C), labels (N) int64 -> mean loss (); or logits (N, C, d1, ..., dK) and labels
 * (N, d1, ..., dK), the mean over every position (a label out of range is then reported by
 * its row in (N d1 .. dK) order). */
LT_API lt_tensor_t *lt_cross_entropy(lt_tensor_t *logits, lt_tensor_t *labels);
/* mean((a - b)^2) -> () */
LT_API lt_tensor_t *lt_mse_loss(lt_tensor_t *a, lt_tensor_t *b);
/* Index of the maximum along the last dimension -> int64 (...); not differentiable. */
LT_API lt_tensor_t *lt_argmax(lt_tensor_t *x);
/* Share of rows whose argmax equals the label: logits (N, C), labels (N) -> () */
LT_API lt_tensor_t *lt_accuracy(lt_tensor_t *logits, lt_tensor_t *labels);
/* Same data, new shape (one entry may be -1). */
LT_API lt_tensor_t *lt_reshape(lt_tensor_t *x, int ndim, const int64_t *shape);
/* Collapse all dimensions from 1 on: (N, ...) -> (N, prod(...)) */
LT_API lt_tensor_t *lt_flatten(lt_tensor_t *x);
/* A copy that does not record history. */
LT_API lt_tensor_t *lt_detach(lt_tensor_t *x);
/* A detached copy that survives the arena's reset (e.g. a step's output kept for the
 * epoch); free it with lt_tensor_free. */
LT_API lt_tensor_t *lt_keep(const lt_tensor_t *t);
/* Free a tensor made by lt_keep. A tensor of an arena is freed by the arena: passing one
 * records an LT_ERR_INVALID_ARG error (the host stops the run with it) and frees nothing. */
LT_API void lt_tensor_free(lt_tensor_t *t);

/* ---- layers' ops (ABI 1.1): torch.nn.functional's names, arguments and defaults ---- */

/* Elementwise square root. */
LT_API lt_tensor_t *lt_sqrt(lt_tensor_t *x);
/* F.silu: x * sigmoid(x). */
LT_API lt_tensor_t *lt_silu(lt_tensor_t *x);
/* F.leaky_relu: x where x > 0, negative_slope * x elsewhere (torch's default slope 0.01).
 * At exactly 0 its gradient is 0 (torch's is negative_slope). */
LT_API lt_tensor_t *lt_leaky_relu(lt_tensor_t *x, double negative_slope);

/* F.conv2d's options; a zero stride, dilation or groups means 1, so
 * LT_CONV2D_OPTS(.padding = {1, 1}) is conv2d(..., padding=1). */
typedef struct lt_conv2d_opts {
    uint32_t struct_size; /* sizeof(lt_conv2d_opts): LT_CONV2D_OPTS sets it */
    int64_t stride[2];
    int64_t padding[2]; /* zeros added to each side (top/bottom, left/right) */
    int64_t dilation[2];
    int64_t groups;    /* in and out channels split into groups convolved apart */
    bool padding_same; /* padding="same" (stride 1): output as large as the input */
    bool no_bias;      /* for lt_conv2d layers: bias=False */
} lt_conv2d_opts;
#define LT_CONV2D_OPTS(...) ((lt_conv2d_opts){.struct_size = sizeof(lt_conv2d_opts), __VA_ARGS__})

/* x (N, C, H, W) * w (O, C/groups, kh, kw) + b (O) -> (N, O, OH, OW); b may be NULL and o
 * NULL means every default. */
LT_API lt_tensor_t *lt_conv2d_op(lt_tensor_t *x, lt_tensor_t *w, lt_tensor_t *b,
                                 const lt_conv2d_opts *o);

/* F.max_pool2d / F.avg_pool2d's options; kernel is required, a zero stride means the
 * kernel size (stride=None), a zero dilation 1. */
typedef struct lt_pool2d_opts {
    uint32_t struct_size; /* sizeof(lt_pool2d_opts): LT_POOL2D_OPTS sets it */
    int64_t kernel[2];
    int64_t stride[2];
    int64_t padding[2];  /* at most half the kernel, as torch requires */
    int64_t dilation[2]; /* max_pool2d only */
    bool ceil_mode;
    bool exclude_pad; /* avg_pool2d's count_include_pad=False */
} lt_pool2d_opts;
#define LT_POOL2D_OPTS(...) ((lt_pool2d_opts){.struct_size = sizeof(lt_pool2d_opts), __VA_ARGS__})

/* (N, C, H, W) -> (N, C, OH, OW) */
LT_API lt_tensor_t *lt_max_pool2d(lt_tensor_t *x, const lt_pool2d_opts *o);
LT_API lt_tensor_t *lt_avg_pool2d(lt_tensor_t *x, const lt_pool2d_opts *o);
/* (N, C, H, W) -> (N, C, oh, ow), windows as torch's adaptive_avg_pool2d places them. */
LT_API lt_tensor_t *lt_adaptive_avg_pool2d(lt_tensor_t *x, int64_t oh, int64_t ow);

/* F.batch_norm over x (N, C, ...): per channel C, normalised with the batch's statistics
 * when training (then running_mean/var, if given, move towards them by momentum, the
 * variance unbiased, in place and outside autograd) or with the running ones when not.
 * weight, bias (C) may be NULL; running_* (C) may be NULL only when training. */
LT_API lt_tensor_t *lt_batch_norm(lt_tensor_t *x, lt_tensor_t *running_mean,
                                  lt_tensor_t *running_var, lt_tensor_t *weight, lt_tensor_t *bias,
                                  bool training, double momentum, double eps);
/* F.layer_norm: x (..., normalized_shape) normalised over its last nnorm dimensions;
 * weight, bias (normalized_shape) may be NULL. */
LT_API lt_tensor_t *lt_layer_norm(lt_tensor_t *x, int nnorm, const int64_t *normalized_shape,
                                  lt_tensor_t *weight, lt_tensor_t *bias, double eps);
/* F.dropout with an explicit random stream: when training, each element is zeroed with
 * probability p and the rest scaled by 1 / (1 - p), the mask drawn from Philox (seed,
 * stream) (lt/rng.h); otherwise x itself is returned. In a module use lt_dropout
 * (lt/module.h), which picks the stream and the mode. */
LT_API lt_tensor_t *lt_dropout_ex(lt_tensor_t *x, double p, bool training, uint64_t seed,
                                  uint64_t stream);

/* ---- issue 19 (gen): conv_transpose2d, binary cross-entropy ---------------------- */

/* F.conv_transpose2d's options; a zero stride, dilation or groups means 1. */
typedef struct lt_conv_transpose2d_opts {
    uint32_t struct_size; /* sizeof(lt_conv_transpose2d_opts): LT_CONV_TRANSPOSE2D_OPTS sets it */
    int64_t stride[2];
    int64_t padding[2];        /* dilation * (k - 1) - padding zeros around the input */
    int64_t output_padding[2]; /* added to one side of the output; < stride or dilation */
    int64_t dilation[2];
    int64_t groups;
    bool no_bias; /* for lt_conv_transpose2d layers: bias=False */
} lt_conv_transpose2d_opts;
#define LT_CONV_TRANSPOSE2D_OPTS(...)                                                              \
    ((lt_conv_transpose2d_opts){.struct_size = sizeof(lt_conv_transpose2d_opts), __VA_ARGS__})

/* x (N, Cin, H, W), w (Cin, Cout/groups, kh, kw), b (Cout) -> (N, Cout, OH, OW) with
 * OH = (H - 1) stride - 2 padding + dilation (kh - 1) + output_padding + 1: the gradient
 * of conv2d with respect to its input. b may be NULL and o NULL means every default. */
LT_API lt_tensor_t *lt_conv_transpose2d_op(lt_tensor_t *x, lt_tensor_t *w, lt_tensor_t *b,
                                           const lt_conv_transpose2d_opts *o);

/* A loss's reduction= argument: the mean (torch's default), the sum, or no reduction
 * (the elementwise losses, shaped like the input). */
typedef enum { LT_REDUCTION_MEAN = 0, LT_REDUCTION_SUM = 1, LT_REDUCTION_NONE = 2 } lt_reduction;

/* F.logsigmoid: log(sigmoid(x)) = min(x, 0) - log1p(exp(-|x|)), stable for any x. */
LT_API lt_tensor_t *lt_logsigmoid(lt_tensor_t *x);
/* F.binary_cross_entropy: -weight (target log(input) + (1 - target) log(1 - input)),
 * each log clamped at -100 as torch does; input (probabilities in [0, 1]) and target
 * the same shape, weight (NULL: none) broadcast to it. The input's gradient is torch's,
 * weight (input - target) / max(input (1 - input), 1e-12); the target's too. */
LT_API lt_tensor_t *lt_binary_cross_entropy(lt_tensor_t *input, lt_tensor_t *target,
                                            lt_tensor_t *weight, lt_reduction reduction);
/* F.binary_cross_entropy_with_logits: weight ((1 - target) input - lw logsigmoid(input))
 * with lw = 1 + (pos_weight - 1) target; input and target the same shape, weight and
 * pos_weight (NULL: none) broadcast to it (pos_weight (C) weighs each class's positives). */
LT_API lt_tensor_t *lt_binary_cross_entropy_with_logits(lt_tensor_t *input, lt_tensor_t *target,
                                                        lt_tensor_t *weight,
                                                        lt_tensor_t *pos_weight,
                                                        lt_reduction reduction);
/* ---- issue 19: group_norm and torch's loss options (ABI 1.1) ------------------------ */

/* F.group_norm: x (N, C, ...) with its C channels split into num_groups groups (C must be
 * a multiple), each sample's group normalised over its channels and positions with the
 * biased variance; weight, bias (C) may be NULL. */
LT_API lt_tensor_t *lt_group_norm(lt_tensor_t *x, int64_t num_groups, lt_tensor_t *weight,
                                  lt_tensor_t *bias, double eps);

/* (lt_reduction: above, with the binary cross-entropy losses.) */
/* torch's default ignore_index: no class has it, so by default nothing is ignored. */
#define LT_IGNORE_INDEX (-100)

/* F.nll_loss: input (N, C) (log-probabilities), target (N) int64 -> loss_i =
 * -weight[t_i] * input[i, t_i], 0 where t_i == ignore_index; MEAN divides the sum by the
 * sum of weight[t_i] over the rows not ignored (NaN when all are), NONE returns (N). As
 * torch, input (N, C, d1, ..., dK) with target (N, d1, ..., dK) is the same loss at every
 * position (NONE returns (N, d1, ..., dK), MEAN divides by the weights summed over all
 * positions not ignored); lt_cross_entropy_ex likewise. weight
 * (C) may be NULL (all 1) and gets no gradient. A target outside [0, C) that is not
 * ignore_index is an error (on accelerators whose memory the CPU cannot read, that row's
 * loss is NaN instead, as lt_cross_entropy does). */
LT_API lt_tensor_t *lt_nll_loss(lt_tensor_t *input, lt_tensor_t *target, lt_tensor_t *weight,
                                int64_t ignore_index, lt_reduction reduction);
/* F.cross_entropy with class-index targets: nll_loss of log_softmax(input), and with
 * label_smoothing e in [0, 1]: (1 - e) nll + e / C * the mean over classes of -weight_c
 * log p_c, reduced as torch does. lt_cross_entropy(x, y) is lt_cross_entropy_ex(x, y,
 * NULL, LT_IGNORE_INDEX, LT_REDUCTION_MEAN, 0) minus the ignore_index (faster: one kernel). */
LT_API lt_tensor_t *lt_cross_entropy_ex(lt_tensor_t *input, lt_tensor_t *target,
                                        lt_tensor_t *weight, int64_t ignore_index,
                                        lt_reduction reduction, double label_smoothing);
/* F.smooth_l1_loss: per element 0.5 d^2 / beta where |d| < beta, else |d| - 0.5 beta, with
 * d = input - target (same shape); beta 0 is the L1 loss; beta < 0 is refused. */
LT_API lt_tensor_t *lt_smooth_l1_loss(lt_tensor_t *input, lt_tensor_t *target,
                                      lt_reduction reduction, double beta);
/* F.huber_loss: delta * smooth_l1(beta = delta); delta must be positive. */
LT_API lt_tensor_t *lt_huber_loss(lt_tensor_t *input, lt_tensor_t *target, lt_reduction reduction,
                                  double delta);
/* ---- uint8 and half-precision data (1.1, issue #21) -------------------------------- */

/* A float32 copy of x divided by divisor, on x's device: 1 widens float16 / bfloat16 (or
 * converts int64, uint8) exactly; 255 turns uint8 pixels into [0, 1] as torchvision's
 * ToTensor and torch's x.float() / 255 do, bit for bit (a true division, not a multiply
 * by 1/255). No gradient flows to x. Needs the accelerator's cast_f32 slot. */
LT_API lt_tensor_t *lt_to_f32(lt_tensor_t *x, float divisor);
/* Host conversions of one value (a data plugin's fill, a test). Rounding to half is to
 * the nearest, ties to even; NaN stays NaN. */
LT_API float lt_f16_to_f32(uint16_t h);
LT_API float lt_bf16_to_f32(uint16_t h);
LT_API uint16_t lt_f32_to_f16(float f);
LT_API uint16_t lt_f32_to_bf16(float f);
/* ---- tensor manipulation and attention (ABI 1.1, issue 19: text models) ----------------
 * torch's names and arguments. A dim may be negative (counted from the end). Layout ops
 * return contiguous copies where torch returns views. Indices are int64 tensors. */

/* torch.permute: out dimension d is x's dimension dims[d] (dims lists each once). */
LT_API lt_tensor_t *lt_permute(lt_tensor_t *x, const int *dims);
/* torch.transpose: dimensions dim0 and dim1 swapped. */
LT_API lt_tensor_t *lt_transpose(lt_tensor_t *x, int dim0, int dim1);
/* torch.narrow (x[..., start:start+length, ...] along dim); a negative start counts from
 * the end. */
LT_API lt_tensor_t *lt_narrow(lt_tensor_t *x, int dim, int64_t start, int64_t length);
/* torch.split(x, split_size, dim) (lt_split names the data splits): pieces of split_size along dim (the last may be
 * shorter) into out[0..]; returns their number, or -1 (error set) when there would be
 * more than max_out. */
LT_API int lt_split_tensor(lt_tensor_t *x, int64_t split_size, int dim, lt_tensor_t **out,
                           int max_out);
/* torch.cat: n tensors joined along dim (same sizes elsewhere). */
LT_API lt_tensor_t *lt_cat(int n, lt_tensor_t *const *xs, int dim);
/* torch.stack: n same-shaped tensors joined along a new dimension dim. */
LT_API lt_tensor_t *lt_stack(int n, lt_tensor_t *const *xs, int dim);
/* torch.bmm: (B, M, K) @ (B, K, N) -> (B, M, N). lt_matmul takes any inputs of 2 or more
 * dimensions as torch.matmul does: (..., M, K) @ (..., K, N), batch dimensions broadcast. */
LT_API lt_tensor_t *lt_bmm(lt_tensor_t *a, lt_tensor_t *b);

/* F.embedding's "no padding_idx" (padding_idx=None). */
#define LT_NO_PADDING_IDX INT64_MIN
/* F.embedding: idx (...) int64, weight (V, D) -> (..., D); rows idx equal to padding_idx
 * (in [-V, V), negative counts from the end) get no gradient. */
LT_API lt_tensor_t *lt_embedding_op(lt_tensor_t *idx, lt_tensor_t *weight, int64_t padding_idx);
/* torch.index_select: the entries index (K) int64 of x along dim -> dim of size K. */
LT_API lt_tensor_t *lt_index_select(lt_tensor_t *x, int dim, lt_tensor_t *index);
/* torch.gather: out[...][i][...] = x[...][index[...][i][...]][...] along dim; index has
 * x's shape except along dim. */
LT_API lt_tensor_t *lt_gather(lt_tensor_t *x, int dim, lt_tensor_t *index);
/* F.one_hot: labels (...) int64 -> (..., num_classes), as float32 (torch's is int64);
 * not differentiable. A label outside [0, num_classes) is refused. */
LT_API lt_tensor_t *lt_one_hot(lt_tensor_t *labels, int64_t num_classes);

/* Tensor.masked_fill: x with value where mask (float32, nonzero = true, broadcastable to
 * x) is set; value may be -INFINITY. */
LT_API lt_tensor_t *lt_masked_fill(lt_tensor_t *x, lt_tensor_t *mask, float value);
/* The positions a causal attention hides: (L, S) float32, 1 where column j > row i (the
 * complement of torch.ones(L, S).tril()), 0 elsewhere. */
LT_API lt_tensor_t *lt_causal_mask(lt_arena_t *a, int64_t l, int64_t s);

/* F.scaled_dot_product_attention's options; zeros are torch's defaults. */
typedef struct lt_sdpa_opts {
    uint32_t struct_size;   /* sizeof(lt_sdpa_opts): LT_SDPA_OPTS sets it */
    lt_tensor_t *attn_mask; /* float32 added to the scores (broadcast to (..., L, S)); NULL */
    double dropout_p;       /* of the attention weights (applied whenever > 0, as torch) */
    bool is_causal;         /* query i sees keys j <= i (lt_causal_mask) */
    double scale;           /* 0: 1 / sqrt(E) */
    uint64_t seed, stream;  /* the Philox stream of the dropout mask (lt_dropout_ex); in a
                                module lt_attention picks them */
} lt_sdpa_opts;
#define LT_SDPA_OPTS(...) ((lt_sdpa_opts){.struct_size = sizeof(lt_sdpa_opts), __VA_ARGS__})
/* softmax(q k^T * scale + mask) v: q (..., L, E), k (..., S, E), v (..., S, Ev) -> (..., L,
 * Ev), batch dimensions broadcast; o NULL means every default. */
LT_API lt_tensor_t *lt_scaled_dot_product_attention(lt_tensor_t *q, lt_tensor_t *k, lt_tensor_t *v,
                                                    const lt_sdpa_opts *o);

/* F.softplus: log(1 + exp(beta x)) / beta (torch's defaults: beta 1, threshold 20). */
LT_API lt_tensor_t *lt_softplus(lt_tensor_t *x, double beta, double threshold);
/* torch.clamp: min(max(x, min), max); -INFINITY / INFINITY for no bound. The gradient
 * passes where min < x < max (at x exactly min or max torch's passes too). */
LT_API lt_tensor_t *lt_clamp(lt_tensor_t *x, double min, double max);
/* torch.pow(x, exponent) with a scalar exponent; x < 0 gives NaN unless it is an integer. */
LT_API lt_tensor_t *lt_pow(lt_tensor_t *x, double exponent);
/* torch.rsqrt: 1 / sqrt(x). */
LT_API lt_tensor_t *lt_rsqrt(lt_tensor_t *x);

#endif
