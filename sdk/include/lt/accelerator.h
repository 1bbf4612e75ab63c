/* lt/accelerator.h — the kernel table an accelerator plugin fills.
 *
 * liblt's ops check shapes and dtypes, then call these slots; a slot never sees a bad
 * argument. Pointers named d_* are device memory from alloc(). Every kernel may run
 * asynchronously; memcpy_d2h and sync wait. Tensors are contiguous, row-major. */
#ifndef LT_ACCELERATOR_H
#define LT_ACCELERATOR_H

#include <stddef.h>
#include <stdint.h>

#include "status.h"
#include "tensor.h"

typedef enum {
    LT_UN_NEG,
    LT_UN_RELU,
    LT_UN_GELU,
    LT_UN_TANH,
    LT_UN_SIGMOID,
    LT_UN_EXP,
    LT_UN_LOG,
    LT_UN_SQRT,
    LT_UN_SQUARE,
    LT_UN_COUNT
} lt_unary_op;

typedef enum {
    LT_BIN_ADD,
    LT_BIN_SUB,
    LT_BIN_MUL,
    LT_BIN_DIV,
    LT_BIN_RELU_BWD,    /* a = x,          b = dy: dy * (x > 0)        */
    LT_BIN_GELU_BWD,    /* a = x,          b = dy: dy * gelu'(x)       */
    LT_BIN_TANH_BWD,    /* a = y = tanh x, b = dy: dy * (1 - y^2)      */
    LT_BIN_SIGMOID_BWD, /* a = y = sig x,  b = dy: dy * y * (1 - y)    */
    LT_BIN_COUNT
} lt_binary_op;

/* Broadcast layout for a binary op: out has `shape`; element i of out reads a and b at
 * the offsets given by their element strides (0 along a broadcast dimension). */
typedef struct lt_bcast {
    int ndim;
    int64_t shape[LT_MAX_DIMS];
    int64_t a_stride[LT_MAX_DIMS];
    int64_t b_stride[LT_MAX_DIMS];
} lt_bcast;

/* Hyper-parameters are doubles, as in Python, so that 1 - beta2 is computed exactly
 * as torch computes it before it meets float32 data. */
typedef struct lt_sgd_hyper {
    double lr, momentum, dampening, weight_decay;
    int nesterov;
    int first_step; /* the momentum buffer is initialised to the gradient */
} lt_sgd_hyper;

typedef struct lt_adam_hyper {
    double lr, beta1, beta2, eps, weight_decay;
    int decoupled; /* AdamW: p *= 1 - lr * weight_decay before the Adam step */
    int64_t step;  /* 1 on the first update */
} lt_adam_hyper;

/* A 2-D sliding window (convolution or pooling) over x (N, C, H, W) giving (N, C', OH,
 * OW): output pixel (oy, ox) reads input rows oy*sh - ph + i*dh (i < kh) and columns
 * ox*sw - pw + j*dw (j < kw); positions outside [0, H) x [0, W) read as zero padding
 * (or are skipped by pooling). ph, pw pad the top and left; the bottom and right padding
 * follow from oh, ow (so "same" padding of an even kernel is asymmetric, as torch's). */
typedef struct lt_window2d {
    int64_t n, c, h, w;
    int64_t kh, kw, sh, sw, ph, pw, dh, dw;
    int64_t oh, ow;
} lt_window2d;

typedef enum {
    LT_POOL_MAX,         /* max (NaN wins), d_idx = argmax as y * W + x within the plane */
    LT_POOL_AVG,         /* avg_pool2d, count_include_pad=True (divisor over padded window) */
    LT_POOL_AVG_NOPAD,   /* avg_pool2d, count_include_pad=False */
    LT_POOL_ADAPTIVE_AVG /* adaptive_avg_pool2d: rows [floor(oy H/OH), ceil((oy+1) H/OH)) */
} lt_pool_mode;

/* copy_strided's layout: one shape walked in row-major order, read and written at
 * the given element strides. */
typedef struct lt_strided {
    int ndim;
    int64_t shape[LT_MAX_DIMS];
    int64_t src_stride[LT_MAX_DIMS];
    int64_t dst_stride[LT_MAX_DIMS];
} lt_strided;

/* gather / scatter_add's layout: x viewed as (outer, n, inner), the result as (outer, m,
 * inner), and where the index of result element (o, k, i) is (see the slots). */
typedef struct lt_gather_geom {
    int64_t outer, n, m, inner;
    int64_t idx_stride[3];
} lt_gather_geom;

/* Lightning's --precision: where float32 master weights meet lower-precision math. */
typedef enum {
    LT_PRECISION_32_TRUE,    /* float32 everywhere (the default) */
    LT_PRECISION_16_MIXED,   /* matmuls in fp16 with fp32 accumulation (torch autocast) */
    LT_PRECISION_BF16_MIXED, /* matmuls in bf16 with fp32 accumulation */
    LT_PRECISION_BF16_TRUE,  /* bf16 matmuls, parameters rounded to bf16 after each update */
    LT_PRECISION_COUNT
} lt_precision;

/* torch.set_float32_matmul_precision for 32-true matmuls. */
typedef enum {
    LT_MATMUL_HIGHEST, /* full float32 (the default, as in torch) */
    LT_MATMUL_HIGH,    /* TF32 (or bf16x3) tensor-core math allowed */
    LT_MATMUL_MEDIUM,  /* bf16 tensor-core math allowed */
    LT_MATMUL_COUNT
} lt_matmul_precision;

typedef struct lt_accel_opts {
    uint32_t struct_size;
    int threads; /* > 0: the thread budget for this process */
    /* -- ABI 1.1 (read them only when struct_size covers them; absent: 0) -- */
    int device_index;       /* which device of this node, 0-based (a rank's GPU) */
    lt_precision precision; /* init refuses one it cannot do, saying why */
    lt_matmul_precision matmul_precision;
} lt_accel_opts;

/* Memory statistics of a device (memory_stats slot), in bytes; 0 where unknown. The names
 * follow torch.cuda.memory_stats: allocated is what tensors hold now, reserved what the
 * caching allocator holds from the driver, and free/total the device's (cudaMemGetInfo). */
typedef struct lt_mem_stats {
    uint64_t allocated_bytes, allocated_peak_bytes;
    uint64_t reserved_bytes, reserved_peak_bytes;
    uint64_t num_device_alloc; /* allocations from the driver (cudaMalloc calls) so far */
    uint64_t free_bytes, total_bytes;
} lt_mem_stats;

/* Whether opts (from any host) carries field; older hosts pass a shorter struct. */
#define LT_ACCEL_OPTS_HAS(opts, field)                                                             \
    ((opts) && (opts)->struct_size >= offsetof(lt_accel_opts, field) + sizeof((opts)->field))

typedef struct lt_accelerator_desc {
    LT_DESC_HEADER_FIELDS
    /* Create the device state. */
    lt_status (*init)(const lt_accel_opts *opts, void **state);
    /* (optional) Release the device state; NULL: nothing to release. */
    void (*shutdown)(void *st);

    /* -- memory -- */
    /* nbytes of device memory, aligned to 64 bytes; NULL when out of memory. */
    void *(*alloc)(void *st, size_t nbytes);
    void (*free)(void *st, void *d_ptr);
    void (*memcpy_h2d)(void *st, void *d_dst, const void *src, size_t nbytes);
    /* Waits for pending work, then copies. */
    void (*memcpy_d2h)(void *st, void *dst, const void *d_src, size_t nbytes);
    void (*memcpy_d2d)(void *st, void *d_dst, const void *d_src, size_t nbytes);
    /* (optional) Wait for all queued work; NULL: the device runs synchronously. */
    lt_status (*sync)(void *st);

    /* -- float32 kernels -- */
    /* d_out[i] = value */
    void (*fill)(void *st, int64_t n, float value, float *d_out);
    /* d_out = alpha * d_x + beta (d_out may equal d_x) */
    void (*affine)(void *st, int64_t n, const float *d_x, float alpha, float beta, float *d_out);
    /* d_out = op(d_x) (in place allowed) */
    void (*unary)(void *st, lt_unary_op op, int64_t n, const float *d_x, float *d_out);
    /* d_out = op(d_a, d_b); bc NULL: all three have n elements; otherwise bc describes
     * the broadcast and n is the number of elements of d_out. In place allowed. */
    void (*binary)(void *st, lt_binary_op op, int64_t n, const float *d_a, const float *d_b,
                   float *d_out, const lt_bcast *bc);
    /* d_in viewed as (outer, mid, inner): d_out(outer, inner) = scale * sum over mid. */
    void (*reduce_sum)(void *st, int64_t outer, int64_t mid, int64_t inner, const float *d_in,
                       float scale, float *d_out);
    /* Row-major C(M,N) = alpha * op(A) op(B) + beta * C; op(X) = X^T when trans_x. */
    void (*gemm)(void *st, int trans_a, int trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                 const float *d_a, int64_t lda, const float *d_b, int64_t ldb, float beta,
                 float *d_c, int64_t ldc);
    /* Row-wise over (rows, cols). */
    void (*softmax)(void *st, int64_t rows, int64_t cols, const float *d_x, float *d_y);
    void (*log_softmax)(void *st, int64_t rows, int64_t cols, const float *d_x, float *d_y);
    /* dx = y * (dy - sum(dy * y)) */
    void (*softmax_bwd)(void *st, int64_t rows, int64_t cols, const float *d_y, const float *d_dy,
                        float *d_dx);
    /* dx = dy - exp(y) * sum(dy) */
    void (*log_softmax_bwd)(void *st, int64_t rows, int64_t cols, const float *d_y,
                            const float *d_dy, float *d_dx);
    /* Per-row loss -log softmax(x)[label] and the row's softmax in d_prob. Returns the
     * first row whose label is outside [0, cols), or -1 (an asynchronous device may
     * return -1 and write NaN for that row instead). */
    int64_t (*cross_entropy)(void *st, int64_t rows, int64_t cols, const float *d_x,
                             const int64_t *d_label, float *d_loss, float *d_prob);
    /* dx = (prob - onehot(label)) * d_dloss[row] */
    void (*cross_entropy_bwd)(void *st, int64_t rows, int64_t cols, const float *d_prob,
                              const int64_t *d_label, const float *d_dloss, float *d_dx);
    /* Index of each row's maximum (first on ties). */
    void (*argmax)(void *st, int64_t rows, int64_t cols, const float *d_x, int64_t *d_idx);
    /* d_out[i] = (d_a[i] == d_b[i]) ? 1 : 0 */
    void (*eq_i64)(void *st, int64_t n, const int64_t *d_a, const int64_t *d_b, float *d_out);

    /* -- optimizers, updating parameters in place (PyTorch's formulas) -- */
    void (*sgd_step)(void *st, int64_t n, float *d_p, const float *d_g, float *d_buf,
                     const lt_sgd_hyper *h);
    void (*adam_step)(void *st, int64_t n, float *d_p, const float *d_g, float *d_m, float *d_v,
                      const lt_adam_hyper *h);
    /* (optional) d_out = min(max(d_x, lo), hi) (in place allowed): gradient clipping by
     * value; NULL: lt_clip_grad_value returns LT_ERR_UNSUPPORTED. */
    void (*clamp)(void *st, int64_t n, const float *d_x, float lo, float hi, float *d_out);

    /* Device pointers are host memory the CPU may read and write (the cpu accelerator):
     * collectives then work on them in place. */
    bool host_memory;

    /* -- ABI 1.1: optional slots (NULL in older plugins) -- */
    /* Mixed precision's GradScaler (torch's _amp_foreach_non_finite_check_and_unscale_):
     * d_g *= inv_scale, and *d_found_inf (one device float) becomes 1 when any element of
     * d_g is inf or NaN (it is left alone otherwise). NULL: liblt uses affine and
     * reduce_sum. */
    void (*unscale_grads)(void *st, int64_t n, float *d_g, float inv_scale, float *d_found_inf);
    /* d_out = d_x rounded to the nearest bf16 (bf16 != 0) or fp16 value, ties to even,
     * kept as float32 (in place allowed): bf16-true's parameters after each update.
     * NULL: the accelerator does not offer bf16-true. */
    void (*round_half)(void *st, int64_t n, const float *d_x, int bf16, float *d_out);
    /* Named ranges around the host's profiled actions (NVTX on cuda), so a GPU timeline
     * shows "training_step", "backward", ... over the kernels; they nest. */
    void (*range_push)(void *st, const char *name);
    void (*range_pop)(void *st);

    /* -- ABI 1.1, layers (optional: an op that needs a missing one fails with a message
     * naming the slot and the accelerator) -- */
    /* Unfold windows into columns: d_col is (C*kh*kw, N*OH*OW), row (c*kh + i)*kw + j,
     * column (n*OH + oy)*OW + ox, zero where the window is outside the input. */
    void (*im2col)(void *st, const lt_window2d *g, const float *d_x, float *d_col);
    /* The adjoint of im2col: d_x (N, C, H, W) = the sum of every column entry into the
     * input element it was read from (overwrites d_x). */
    void (*col2im)(void *st, const lt_window2d *g, const float *d_col, float *d_x);
    /* d_y (N, C, OH, OW) = the pool of each window of d_x (N, C, H, W); LT_POOL_MAX also
     * writes d_idx (N, C, OH, OW) (d_idx is NULL for the other modes). For avg modes the
     * window is clipped as torch's avg_pool2d clips it (see lt_pool_mode). */
    void (*pool2d)(void *st, lt_pool_mode mode, const lt_window2d *g, const float *d_x, float *d_y,
                   int64_t *d_idx);
    /* d_dx (N, C, H, W) = the gradient of pool2d given d_dy (overwrites d_dx). */
    void (*pool2d_bwd)(void *st, lt_pool_mode mode, const lt_window2d *g, const float *d_dy,
                       const int64_t *d_idx, float *d_dx);
    /* Dropout's scaled keep mask: d_mask[i] = u_i < (float)(1 - p) ? 1.0f / (float)(1 - p)
     * : 0, where u_i = (r >> 8) * 2^-24 and r is word i % 4 of Philox4x32-10 with key
     * (seed low 32, seed high 32) and counter (i/4 low 32, i/4 high 32, stream low 32,
     * stream high 32): lt_rng_uniform's numbers of lt_rng_make(seed, stream), in order. */
    void (*dropout_mask)(void *st, int64_t n, double p, uint64_t seed, uint64_t stream,
                         float *d_mask);
    /* Batch norm in training mode over d_x viewed as (n, c, l), per channel: the batch's
     * mean and biased variance into d_mean, d_var (c), and d_y = (x - mean) * a + b' with
     * a = w / sqrt(var + eps), b' = b - mean * a (d_w, d_b NULL: 1 and 0). NULL (either
     * of the pair): liblt composes it of means and elementwise slots, more slowly. */
    void (*batch_norm)(void *st, int64_t n, int64_t c, int64_t l, const float *d_x,
                       const float *d_w, const float *d_b, double eps, float *d_y, float *d_mean,
                       float *d_var);
    /* Its backward, with xh = (x - mean) / sqrt(var + eps) and m = n * l: d_dw = sum dy xh,
     * d_db = sum dy, d_dx = w / sqrt(var + eps) * (dy - d_db / m - xh * d_dw / m); each
     * output written (not accumulated), and skipped when NULL; d_w NULL means 1. */
    void (*batch_norm_bwd)(void *st, int64_t n, int64_t c, int64_t l, const float *d_x,
                           const float *d_dy, const float *d_mean, const float *d_var,
                           const float *d_w, double eps, float *d_dx, float *d_dw, float *d_db);

    /* One line saying what runs, for the host's summary and `lthost plugins`: library,
     * kernels, threads ("OpenBLAS 0.3.21 (SkylakeX kernels), 2 threads"); the string lives
     * as long as st. NULL: the accelerator's name says it all. */
    const char *(*describe)(void *st);

    /* -- ABI 1.1, uint8 / half data (issue #21; optional: lt_to_f32 names it when NULL) -- */
    /* d_out[i] = (float)src[i] / divisor, src of n elements of src_dtype (an lt_dtype:
     * LT_U8, LT_F16, LT_BF16, LT_I64 or LT_F32), a true float32 division (divisor 1:
     * the exact widening). */
    void (*cast_f32)(void *st, int64_t n, int src_dtype, const void *d_src, float divisor,
                     float *d_out);
    /* -- ABI 1.1, tensor manipulation and attention (issue 19, text models; optional:
     * an op that needs a missing one fails with a message naming the slot) -- */
    /* d_dst[sum_d i_d dst_stride[d]] = d_src[sum_d i_d src_stride[d]] for every index
     * (i_0 .. i_{ndim-1}) of shape (strides in elements, >= 0; no two indices write one
     * destination element): transpose, permute, slices and concatenation. */
    void (*copy_strided)(void *st, const lt_strided *g, const float *d_src, float *d_dst);
    /* Rows along the middle axis of (outer, n, inner) views: d_out (outer, m, inner) with
     * d_out(o, k, i) = d_x(o, idx(o, k, i), i), idx(o, k, i) = d_idx[o idx_stride[0] +
     * k idx_stride[1] + i idx_stride[2]] (index_select: strides (0, 1, 0); gather: the
     * index's own). Returns the first position p (o m inner + k inner + i) whose index is
     * outside [0, n), writing 0 there, or -1 (an asynchronous device may return -1). */
    int64_t (*gather)(void *st, const lt_gather_geom *g, const float *d_x, const int64_t *d_idx,
                      float *d_out);
    /* Its adjoint, accumulating: d_dx(o, idx(o, k, i), i) += d_dy(o, k, i) for every
     * (o, k, i) whose index is in [0, n) and differs from skip (padding_idx; -1: none).
     * d_dx is (outer, n, inner) and not cleared first. */
    void (*scatter_add)(void *st, const lt_gather_geom *g, const float *d_dy, const int64_t *d_idx,
                        int64_t skip, float *d_dx);
    /* d_out[i] = mask != 0 ? value : x, with x = d_x and mask = d_mask read through bc as
     * a and b of a binary op (bc NULL: both have n elements). In place allowed. */
    void (*masked_fill)(void *st, int64_t n, const float *d_x, const float *d_mask, float value,
                        float *d_out, const lt_bcast *bc);

    /* -- ABI 1.1, direct 2-D convolution (issue 19; optional) -- */
    /* conv2d over window g (g->c input channels) with `groups` groups and o output
     * channels: d_x (N, C, H, W), d_w (O, C/groups, kh, kw), d_b (O) or NULL. Each returns
     * 0 when it wrote its outputs, or non-zero when it declines this shape or direction
     * (having written nothing); liblt then runs im2col and gemm, as it does when a slot is
     * NULL, so an accelerator offers these only where they beat that path. */
    /* d_y (N, O, OH, OW) = conv2d(x, w) + b (overwritten). */
    int (*conv2d)(void *st, const lt_window2d *g, int64_t groups, int64_t o, const float *d_x,
                  const float *d_w, const float *d_b, float *d_y);
    /* d_dx (N, C, H, W) = the input's gradient given d_dy (N, O, OH, OW) (overwritten). */
    int (*conv2d_bwd_data)(void *st, const lt_window2d *g, int64_t groups, int64_t o,
                           const float *d_dy, const float *d_w, float *d_dx);
    /* d_dw (O, C/groups, kh, kw) = the weight's gradient, and d_db (O) = the bias's when not
     * NULL (the sum of d_dy over N, OH, OW); both overwritten. */
    int (*conv2d_bwd_weights)(void *st, const lt_window2d *g, int64_t groups, int64_t o,
                              const float *d_x, const float *d_dy, float *d_dw, float *d_db);

    /* -- ABI 1.1, pinned host memory and memory statistics (issues 18, 21, 23; optional) -- */
    /* nbytes of host memory that memcpy_h2d may copy from asynchronously (page-locked:
     * cudaHostAlloc), for the DataLoader's batch buffers; NULL when out of memory. The
     * slots come as a pair: NULL means the host uses malloc. */
    void *(*host_alloc)(void *st, size_t nbytes);
    void (*host_free)(void *st, void *p);
    /* Wait until no copy memcpy_h2d queued from the host_alloc buffer p still reads it, so
     * it may be overwritten; may be called from another thread than the copies'. NULL:
     * memcpy_h2d is done with its source when it returns. */
    void (*host_wait)(void *st, void *p);
    /* Fill *out (zeroed by the caller) with the device's memory statistics; non-zero when
     * there are none. */
    int (*memory_stats)(void *st, lt_mem_stats *out);

    /* -- ABI 1.1, device timers for the per-op profiler (issue 18; optional, as a pair) --
     * A mark is a timestamp the device takes when the work queued before it has run (a
     * cudaEvent on the compute stream). liblt records one before and one after each op
     * while a profiler listens, and reads them back only where the host waits anyway
     * (see lt_device_flush_profiler), so profiling adds no host-device synchronisation.
     * Marks are numbered 0 .. LT_TIMER_MARKS - 1 and reused; recording mark m again
     * replaces its earlier timestamp. NULL: liblt waits for the device after each op and
     * times it with the host clock. */
    /* Record mark m after everything queued so far; non-zero (an error set) on failure. */
    int (*timer_mark)(void *st, uint32_t m);
    /* Wait until mark `to` has been reached, then *ms = its time minus mark from's, in
     * milliseconds; non-zero (an error set) when either was never recorded or the device
     * failed. */
    int (*timer_elapsed)(void *st, uint32_t from, uint32_t to, double *ms);

    /* -- ABI 1.1, a GEMM with the bias added in its epilogue (issue 18; optional) -- */
    /* Row-major C(M,N) = op(A) op(B) + bias, d_bias (N) added to every row, C overwritten;
     * each element is its accumulator plus the bias rounded once, as gemm then binary's add
     * round it. 0 when it wrote C; non-zero when it declines the call (having written
     * nothing): liblt then runs gemm and binary, as it does when the slot is NULL. */
    int (*gemm_bias)(void *st, int trans_a, int trans_b, int64_t m, int64_t n, int64_t k,
                     const float *d_a, int64_t lda, const float *d_b, int64_t ldb,
                     const float *d_bias, float *d_c, int64_t ldc);

    /* -- ABI 1.1, a batch of GEMMs in one call (issue 18; optional) -- */
    /* For i in [0, batch): C_i = alpha * op(A_i) op(B_i) + beta * C_i, each as gemm, with
     * X_i = d_x + i * stride_x (elements). An input's stride may be 0 (every product reads
     * the same matrix); the C_i never overlap. 0 when it wrote every C_i; non-zero when it
     * declines (having written nothing): liblt then calls gemm once per matrix. */
    int (*gemm_batched)(void *st, int trans_a, int trans_b, int64_t m, int64_t n, int64_t k,
                        float alpha, const float *d_a, int64_t lda, int64_t stride_a,
                        const float *d_b, int64_t ldb, int64_t stride_b, float beta, float *d_c,
                        int64_t ldc, int64_t stride_c, int64_t batch);

    /* -- ABI 1.1, layer norm in one pass (optional, as a pair; NULL: liblt composes it of
     * means and elementwise slots, a dozen passes over the input each way) -- */
    /* Each of `rows` rows of d floats of d_x: d_y = (x - mean) * rstd * w + b with the
     * row's mean and rstd = 1 / sqrt(var + eps) (biased variance), both written to d_mean
     * and d_rstd (rows floats) for the backward; d_w, d_b (d) NULL: 1 and 0. */
    void (*layer_norm)(void *st, int64_t rows, int64_t d, const float *d_x, const float *d_w,
                       const float *d_b, double eps, float *d_y, float *d_mean, float *d_rstd);
    /* Its backward with xh = (x - mean) * rstd and g = dy * w: d_dx = rstd * (g - mean(g)
     * - xh * mean(g xh)) per row, d_dw = sum over rows of dy xh, d_db = sum of dy; each
     * written (not accumulated) and skipped when NULL; d_w NULL means 1. */
    void (*layer_norm_bwd)(void *st, int64_t rows, int64_t d, const float *d_x, const float *d_dy,
                           const float *d_mean, const float *d_rstd, const float *d_w, float *d_dx,
                           float *d_dw, float *d_db);
} lt_accelerator_desc;

/* How many timer marks an accelerator with timer slots keeps (see timer_mark). */
#define LT_TIMER_MARKS 8192u

/* Every slot of the table, in order, with whether an accelerator must fill it: the
 * loader refuses a table that leaves a REQUIRED slot NULL, and liblt calls an OPTIONAL
 * one only when it is set (each says above what NULL means). */
/* clang-format off */
#define LT_ACCELERATOR_SLOTS_1_0(X)                                                      \
    X(init, REQUIRED) X(shutdown, OPTIONAL)                                              \
    X(alloc, REQUIRED) X(free, REQUIRED) X(memcpy_h2d, REQUIRED) X(memcpy_d2h, REQUIRED) \
    X(memcpy_d2d, REQUIRED) X(sync, OPTIONAL)                                            \
    X(fill, REQUIRED) X(affine, REQUIRED) X(unary, REQUIRED) X(binary, REQUIRED)         \
    X(reduce_sum, REQUIRED) X(gemm, REQUIRED) X(softmax, REQUIRED)                       \
    X(log_softmax, REQUIRED) X(softmax_bwd, REQUIRED) X(log_softmax_bwd, REQUIRED)       \
    X(cross_entropy, REQUIRED) X(cross_entropy_bwd, REQUIRED) X(argmax, REQUIRED)        \
    X(eq_i64, REQUIRED) X(sgd_step, REQUIRED) X(adam_step, REQUIRED) X(clamp, OPTIONAL)
/* Slots after host_memory: appended by later minors, so every one is OPTIONAL. */
#define LT_ACCELERATOR_SLOTS_1_1(X)                                                      \
    X(unscale_grads, OPTIONAL) X(round_half, OPTIONAL)                                   \
    X(range_push, OPTIONAL) X(range_pop, OPTIONAL)                                       \
    X(im2col, OPTIONAL) X(col2im, OPTIONAL) X(pool2d, OPTIONAL) X(pool2d_bwd, OPTIONAL)  \
    X(dropout_mask, OPTIONAL) X(batch_norm, OPTIONAL) X(batch_norm_bwd, OPTIONAL)       \
    X(describe, OPTIONAL)                                                                \
    X(cast_f32, OPTIONAL)                                                                \
    X(copy_strided, OPTIONAL) X(gather, OPTIONAL) X(scatter_add, OPTIONAL)               \
    X(masked_fill, OPTIONAL)                                                             \
    X(conv2d, OPTIONAL) X(conv2d_bwd_data, OPTIONAL) X(conv2d_bwd_weights, OPTIONAL)     \
    X(host_alloc, OPTIONAL) X(host_free, OPTIONAL) X(host_wait, OPTIONAL)                \
    X(memory_stats, OPTIONAL)                                                            \
    X(timer_mark, OPTIONAL) X(timer_elapsed, OPTIONAL)                                   \
    X(gemm_bias, OPTIONAL) X(gemm_batched, OPTIONAL)                                     \
    X(layer_norm, OPTIONAL) X(layer_norm_bwd, OPTIONAL)
#define LT_ACCELERATOR_SLOTS(X) LT_ACCELERATOR_SLOTS_1_0(X) LT_ACCELERATOR_SLOTS_1_1(X)
/* clang-format on */

/* Export the accelerator: LT_ACCELERATOR_EXPORT(.name = "cpu", .init = ..., ...). */
#define LT_ACCELERATOR_EXPORT(...)                                                                 \
    LT_PLUGIN_EXPORT_(lt_accelerator_desc, lt_accelerator_entry, __VA_ARGS__)

#endif
