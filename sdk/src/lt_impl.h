/* lt_impl.h — liblt's internal structures, shared by sdk/src only. */
#ifndef LT_IMPL_H
#define LT_IMPL_H

#include <lt/accelerator.h>
#include <lt/amp.h>
#include <lt/lt.h>
#include <lt/profiler.h>
#include <lt/runtime.h>

/* ---- devices and the caching allocator ------------------------------------------ */

typedef struct lt_block {
    void *ptr;
    size_t size;
    struct lt_block *next;
} lt_block;

#define LT_POOL_BUCKETS 64

/* Freed blocks are kept per rounded size, so a steady-state step never allocates. */
typedef struct lt_pool {
    lt_block *free_by_size[LT_POOL_BUCKETS]; /* hash on rounded size, exact match */
    lt_block *spare;                         /* unused block headers */
    size_t cached_bytes;
    /* what tensors hold (torch's allocated), its peak, the cap on held + cached
     * (lt_device_set_memory_limit, 0: none) and the allocations that failed */
    uint64_t held_bytes, peak_bytes, limit_bytes, failed;
} lt_pool;

typedef struct lt_storage {
    lt_device_t *dev;
    void *data; /* device memory */
    size_t nbytes;
    int refcount;
    struct lt_storage *next_free;
} lt_storage;

struct lt_device {
    lt_accelerator_desc k; /* zero-extended copy of the plugin's table */
    void *state;
    lt_plugin_t *plugin;
    lt_pool pool;
    lt_storage *spare_storage; /* unused storage headers */
    lt_prof_span_fn prof_fn;   /* per-op spans (lt_device_set_profiler); NULL: off */
    void *prof_user;
    /* Ops timed by the accelerator's timer marks, waiting to be read back (core/
     * prof_timer.c); NULL: the accelerator has no timer slots, or no profiler was set. */
    struct lt_prof_timer *prof_timer;
    int device_index;       /* lt_accel_opts.device_index: the tid of device-timed spans */
    lt_precision precision; /* what init accepted (lt_device_from_plugin_opts) */
    /* --detect_anomaly (autograd/anomaly.c): check every recorded op's output and every
     * backward's gradients for NaN/inf; last_op is the latest span's name, the op to blame */
    bool detect_anomaly;
    const char *last_op;
};

/* A storage of nbytes from dev's pool (refcount 1); NULL + error when out of memory. */
lt_storage *lt__storage_new(lt_device_t *dev, size_t nbytes);
void lt__storage_retain(lt_storage *s);
void lt__storage_release(lt_storage *s);

/* ---- per-op profiling -------------------------------------------------------------
 *
 *     lt_device_t *dev = lt__dev(x);
 *     LT_KCALL(dev, "matmul", 2.0 * m * n * k, 4.0 * (m * k + k * n + m * n),
 *              gemm, ta, tb, m, n, k, ...);
 *
 * calls dev->k.gemm(dev->state, ta, tb, m, n, k, ...) as one profiler span. A logical op
 * made of a few kernel calls (or of one that returns a value) is one
 * LT_PROF_SPAN(dev, name, flops, bytes, statement). Every profiled kernel call goes
 * through these two, so a new op or kernel slot cannot forget half of the bracket.
 *
 * With no profiler set each is one well-predicted branch: no clock is read and the
 * flops/bytes expressions are not evaluated. A span covers one kernel call (or a few
 * that make one logical op); spans never nest, so their times add up. Names and the
 * FLOP/byte formulas are listed in core/prof.c; bytes are the logical traffic
 * (each input read once, each output written once, 4 bytes a float, 8 an index).
 * dev is evaluated more than once: pass a variable. */
#define LT_PROF_SPAN(dev, name, flops, bytes, ...)                                                 \
    do {                                                                                           \
        uint64_t lt_span_t0_ = LT_PROF_BEGIN(dev);                                                 \
        __VA_ARGS__;                                                                               \
        LT_PROF_END(dev, lt_span_t0_, name, flops, bytes);                                         \
    } while (0)
/* dev->k.slot(dev->state, args...) as one span; the slot's result is dropped. */
#define LT_KCALL(dev, name, flops, bytes, slot, ...)                                               \
    LT_PROF_SPAN(dev, name, flops, bytes, (dev)->k.slot((dev)->state, __VA_ARGS__))
/* The two halves of a span, for the two macros above only. */
#define LT_PROF_BEGIN(dev) ((dev)->prof_fn || (dev)->detect_anomaly ? lt__prof_begin(dev) : 0)
/* Tests t0, already in a register, rather than loading prof_fn again. */
#define LT_PROF_END(dev, t0, name, flops, bytes)                                                   \
    do {                                                                                           \
        if (__builtin_expect((t0) != 0, 0))                                                        \
            lt__prof_emit((dev), (t0), (name), (double)(flops), (double)(bytes));                  \
    } while (0)
/* The span's start on the host clock; with timer slots also its start mark. */
uint64_t lt__prof_begin(lt_device_t *dev);
/* The span's end: with timer slots its end mark and a pending entry (name must outlive
 * liblt's use of it: the names are literals or static tables); without, wait for the
 * device (kernels may be asynchronous) and send the span to prof_fn (unless it was unset
 * since the span began). */
void lt__prof_emit(lt_device_t *dev, uint64_t t0, const char *name, double flops, double bytes);

/* ---- device-timed spans (core/prof_timer.c) ---- */
/* Start timing dev's ops with its timer slots (lt_device_set_profiler); false: it has
 * none, or no memory for the queue (then ops are timed on the host clock). */
bool lt__prof_timer_open(lt_device_t *dev);
/* Record the start mark of the next op; false when it could not (time it on the host). */
bool lt__prof_timer_begin(lt_device_t *dev);
/* Record the end mark of the op begun and queue it as pending. */
void lt__prof_timer_end(lt_device_t *dev, const char *name, double flops, double bytes);
/* Whether an op's start mark is recorded and its end not yet. */
bool lt__prof_timer_open_op(const lt_device_t *dev);
/* Read every pending op's times back (one wait) and send their spans to prof_fn. */
lt_status lt__prof_timer_resolve(lt_device_t *dev);
/* The queue's memory (lt_device_close; pending ops are dropped: resolve first). */
void lt__prof_timer_free(lt_device_t *dev);
/* After a call that waited for the device: deliver what is pending while it is cheap. */
static inline void lt__prof_synced(lt_device_t *dev) {
    if (__builtin_expect(dev->prof_timer != NULL, 0)) lt__prof_timer_resolve(dev);
}
/* 4 bytes per float, as a double so that sizes never overflow. */
#define LT_F32B(n) (4.0 * (double)(n))

/* ---- tensors and arenas ---------------------------------------------------------- */

typedef struct lt_node lt_node;

struct lt_tensor {
    lt_dtype dtype;
    int ndim;
    int64_t shape[LT_MAX_DIMS];
    int64_t numel;
    lt_storage *st;
    size_t offset;     /* bytes into st->data */
    lt_arena_t *arena; /* where results of ops on this tensor go */
    lt_node *grad_fn;  /* the op that made it; NULL for leaves */
    lt_tensor_t *grad;
    bool requires_grad;
    bool persistent; /* owned by whoever made it, not by the arena */
    bool stale;      /* its arena was reset: a step's tensor kept past its step */
    int param_id;    /* 1 + its index among its ctx's parameters; 0: not a parameter */
    size_t ready_at; /* lt_backward's scratch: the tape node after which its grad is final */
    /* zero_grad deferred (torch's set_to_none, the buffer kept): grad's old contents count
     * as 0, so the step's first gradient overwrites them (no zeroing pass) and a reader of
     * grad fills it with 0 first (lt__grad_settle). */
    bool grad_lazy;
};

#define LT_NODE_MAX_IN 3
typedef void (*lt_backward_fn)(lt_node *n, lt_tensor_t *gout);

struct lt_node {
    lt_backward_fn backward;
    lt_tensor_t *out;
    lt_tensor_t *in[LT_NODE_MAX_IN];
    lt_tensor_t *saved; /* an extra tensor the backward needs (e.g. softmax probs) */
    double s;           /* a scalar the backward needs */
    int64_t i;          /* an integer the backward needs */
    int64_t iv[8];      /* more of them (a convolution's or a pool's window) */
    const char *span;   /* --detect_anomaly: the op's profiler span name, for its errors */
    /* ONNX export (issue #22): what recorded the node, and a second scalar. */
    const char *op; /* the op's or its backward's name ("lt_add", "linear_bw"): export maps it */
    double s2;      /* a second scalar (the affine ops' beta) */
    lt_tensor_t *saved2; /* a second extra tensor (batch_norm's running_var) */
};

#define LT_SLAB_CHUNK 256

/* Fixed-size objects carved from chunks that are kept across resets. */
typedef struct lt_slab {
    void **chunks;
    size_t nchunks, cap_chunks, used, elem_size;
} lt_slab;

struct lt_arena {
    lt_device_t *dev;
    bool grad_enabled;
    lt_slab tensors; /* lt_tensor, creation order */
    /* The previous step's tensors, marked stale: slots are reused one reset later, so a
     * tensor kept into the next step is refused instead of aliasing a new one. */
    lt_slab retired;
    lt_slab nodes;               /* lt_node, creation order = a topological order of the tape */
    lt_grad_ready_fn grad_ready; /* lt_ctx_set_grad_ready's hook on the ctx's parameters */
    void *grad_ready_user;
    float backward_scale;          /* lt_backward's seed (lt_ctx_set_backward_scale), 1 */
    struct lt_grad_scaler *scaler; /* 16-mixed (lt_ctx_set_grad_scaler); NULL: none */
    bool in_backward; /* lt_backward is walking the tape: --detect_anomaly blames the node */
    /* ONNX export (issue #22): record every op, also of tensors that need no gradient, so
     * that one forward run is the whole graph (a buffer's reshape included). */
    bool record_all;
    /* issue 19: custom ops' function contexts, one per call (autograd/custom_op.c sets
     * elem_size on first use); cleared with the tape. */
    lt_slab custom_fns;
};

void *lt__slab_get(lt_slab *s, size_t i);
void *lt__slab_push(lt_slab *s);
void lt__slab_free(lt_slab *s);

/* Element size of a dtype. */
size_t lt__dtype_size(lt_dtype dt);
/* A tensor's storage: numel elements rounded up to whole 4-byte words (byte dtypes). */
static inline size_t lt__storage_bytes(lt_dtype dt, int64_t numel) {
    return ((size_t)numel * lt__dtype_size(dt) + 3) & ~(size_t)3;
}
/* A plugin's dataset struct as this liblt's: the fields past its struct_size read as 0;
 * LT_ERR_ABI when it is older than LT_DATASET_SIZE_1_0. */
lt_status lt__dataset_copy(const lt_dataset *in, lt_dataset *out, const char *who);
/* Device pointer to the first element. */
static inline void *lt__data(const lt_tensor_t *t) { return (char *)t->st->data + t->offset; }
static inline float *lt__f32(const lt_tensor_t *t) { return (float *)lt__data(t); }
static inline lt_device_t *lt__dev(const lt_tensor_t *t) { return t->arena->dev; }
#define LT_K(t) (lt__dev(t)->k)
#define LT_KST(t) (lt__dev(t)->state)

/* A new uninitialised tensor in arena a. */
lt_tensor_t *lt__tensor_new(lt_arena_t *a, lt_dtype dt, int ndim, const int64_t *shape);
/* A new uninitialised tensor owned by the caller (free with lt__tensor_free); results of
 * ops on it go to `arena`. */
lt_tensor_t *lt__tensor_new_persistent(lt_arena_t *arena, lt_dtype dt, int ndim,
                                       const int64_t *shape);
/* A persistent view of numel elements of storage st at byte offset. */
lt_tensor_t *lt__tensor_view_persistent(lt_arena_t *arena, lt_storage *st, size_t offset, int ndim,
                                        const int64_t *shape);
void lt__tensor_free(lt_tensor_t *t);
/* dst (NULL passes through: a failed allocation) = a device copy of src's elements. */
lt_tensor_t *lt__copy_into(lt_tensor_t *dst, const lt_tensor_t *src);
/* Checks shared by the ops: t non-NULL (else returns false silently), dtype. */
bool lt__check_f32(const lt_tensor_t *t, const char *op);
/* t non-NULL (else false silently) and not a tensor of a step that has ended. */
bool lt__check_live(const lt_tensor_t *t, const char *op);
bool lt__same_shape(const lt_tensor_t *a, const lt_tensor_t *b);
/* "(64, 784)" into buf. */
const char *lt__shape_str(const lt_tensor_t *t, char *buf, size_t n);
/* r is LT_REDUCTION_MEAN, _SUM or _NONE (else false with an error naming op). */
bool lt__check_reduction(lt_reduction r, const char *op);
/* A checked float32 (N, C, d1..dK) x and int64 (N, d1..dK) t as (N d1..dK, C) rows (the
 * class dimension moved last, differentiable) and (N d1..dK) labels; an error naming op
 * when the shapes do not correspond. */
bool lt__class_rows(lt_tensor_t *x, lt_tensor_t *t, lt_tensor_t **xr, lt_tensor_t **tr,
                    const char *op);

/* ---- conv2d and conv_transpose2d (ops/conv.c) ---------------------------------------- */

/* w's gradient += a (R, NP) @ b^T per group, b (G*K, NP), R = w->shape[0] / groups and
 * K = w's other dims: into a parameter's own gradient (the GEMM accumulates, as linear's
 * does), else into a new tensor on `arena` accumulated into w. */
void lt__conv_weight_grad(lt_device_t *dev, lt_arena_t *arena, int64_t groups, lt_tensor_t *w,
                          const lt_tensor_t *a, const lt_tensor_t *b);

/* ---- autograd ---------------------------------------------------------------------- */

/* Record out = op(inputs) on the tape when grad is enabled and an input needs it (or the
 * arena records everything, for export); returns the node (to fill saved/s/i) or NULL
 * when nothing is recorded. `op` names the op for ONNX export; lt__record passes the
 * backward function's own name. */
lt_node *lt__record_op(lt_tensor_t *out, lt_backward_fn bw, const char *op, lt_tensor_t *a,
                       lt_tensor_t *b, lt_tensor_t *c);
#define lt__record(out, bw, a, b, c) lt__record_op((out), (bw), #bw, (a), (b), (c))
/* ONNX export: while the arena records everything (record_all), replace the nodes
 * recorded since `mark` (arena->nodes.used before the parts of a composed op ran) by one
 * node `op` on a, b, c, so that the op exports as one ONNX node (BatchNormalization,
 * LayerNormalization). The node cannot be differentiated. NULL when not recording so. */
lt_node *lt__record_composite(lt_tensor_t *out, size_t mark, const char *op, lt_tensor_t *a,
                              lt_tensor_t *b, lt_tensor_t *c);
/* ONNX export: while the arena records everything, record out = op(saved) for an op with
 * no gradient (lt_one_hot, lt_to_f32: integer inputs), saved being the tensor it reads;
 * NULL (nothing recorded) otherwise, so training never sees the node. */
lt_node *lt__record_export_only(lt_tensor_t *out, const char *op, lt_tensor_t *saved);
/* --detect_anomaly (anomaly.c): false, with an LT_ERR_NUMERIC error naming the op, when
 * op output `out` holds NaN/inf (the first anomaly of a step is kept: once an error is
 * recorded nothing more is checked); likewise for the input gradients node n's backward
 * produced. */
bool lt__anomaly_forward(const lt_tensor_t *out);
bool lt__anomaly_backward(const lt_node *n);
/* Add g into t's gradient, reducing broadcast dimensions first. */
void lt__accum_grad(lt_tensor_t *t, lt_tensor_t *g);
/* g summed down to shape (ndim, shape) (PyTorch's sum_to_size). */
lt_tensor_t *lt__sum_to(lt_tensor_t *g, int ndim, const int64_t *shape);
/* (M,K)x(K,N) with transposes, no recording: used by matmul's backward; `name` is the
 * profiler span's ("matmul", "matmul_backward", ...). */
lt_tensor_t *lt__gemm(lt_tensor_t *a, bool ta, lt_tensor_t *b, bool tb, const char *name);
/* lt_matmul of inputs with batch dimensions (bmm.c; a, b checked float32, >= 2-D). */
lt_tensor_t *lt__matmul_batched(lt_tensor_t *a, lt_tensor_t *b);

/* Whether dev fills the optional slot `slot`; when not, records an error naming op, the
 * slot and the accelerator. */
bool lt__has_slot(const lt_device_t *dev, bool present, const char *slot_name, const char *op);
#define LT_NEED_SLOT(dev, slot, op) lt__has_slot((dev), (dev)->k.slot != NULL, #slot, (op))

/* ---- parameters (shared by ctx and optimizers) ----------------------------------- */

struct lt_param_list {
    lt_tensor_t **items;
    int64_t len, cap;
};

/* The parameters an optimizer updates. */
const lt_param_list_t *lt__optimizer_params(const lt_optimizer_t *opt);

/* The update itself, without a GradScaler (lt_optimizer_step goes through the scaler of
 * the parameters' arena when there is one). */
lt_status lt__optimizer_update(lt_optimizer_t *opt);
/* lt_backward's seed multiplier from a's scaler: its scale, or 1. */
float lt__grad_scaler_seed(const struct lt_grad_scaler *sc);
lt_device_t *lt__grad_scaler_device(const struct lt_grad_scaler *sc);
/* bf16-true: round n floats at d_x to bf16 in place when dev was opened so. */
void lt__round_params(lt_device_t *dev, float *d_x, int64_t n);

/* Set t's gradient to zeros (allocating it when missing). */
lt_status lt__zero_grad(lt_tensor_t *t);
/* A persistent tensor's grad buffer for a gradient about to be written: made when missing
 * (then lazily zero); true when the write must overwrite (beta 0) instead of accumulate. */
bool lt__grad_overwrite(lt_tensor_t *t, bool *overwrite);
/* Fill a deferred zero_grad before grad is read (optimizer, clipping, DDP, lt_grad). */
void lt__grad_settle(lt_tensor_t *t);

/* ---- checkpoint support (optimizer.c, scheduler.c; used by io/checkpoint.c) ------- */

/* Per-parameter state buffers: "momentum_buffer" (SGD with momentum) or "exp_avg",
 * "exp_avg_sq" (Adam, AdamW); none before the first step. */
int lt__optimizer_num_slots(const lt_optimizer_t *o);
const char *lt__optimizer_slot_name(const lt_optimizer_t *o, int k);
bool lt__optimizer_has_state(const lt_optimizer_t *o);
void lt__optimizer_clear_state(lt_optimizer_t *o); /* as before the first step */
/* Slot k of parameter p (its position in the optimizer's list), to or from host floats. */
void lt__optimizer_slot_get(const lt_optimizer_t *o, int k, int64_t p, float *dst);
lt_status lt__optimizer_slot_set(lt_optimizer_t *o, int k, int64_t p, const void *src);
/* torch's param_groups entry and step count, into st; check then load them back. */
/* Whether st holds key, of any type (to tell a missing key from one of the wrong type). */
bool lt__state_has(const lt_state_t *st, const char *key);
lt_status lt__optimizer_save(const lt_optimizer_t *o, lt_state_t *st);
lt_status lt__optimizer_check(const lt_optimizer_t *o, const lt_state_t *st, const char *where);
void lt__optimizer_load(lt_optimizer_t *o, const lt_state_t *st);
/* A scheduler's position (torch's state_dict), the same way. */
lt_status lt__scheduler_save(const lt_scheduler_t *s, lt_state_t *st);
lt_status lt__scheduler_check(const lt_scheduler_t *s, const lt_state_t *st, const char *where);
void lt__scheduler_load(lt_scheduler_t *s, const lt_state_t *st);

/* ---- issue 19: batch norm's running statistics, shared with sync batch norm ---------- */

/* torch: running_mean <- (1 - m) running_mean + m mean, running_var likewise with the
 * unbiased variance n / (n - 1) * var (var biased, over n values); mean and var are c
 * device floats. In place, outside autograd. */
void lt__batch_norm_update_running(lt_tensor_t *rm, lt_tensor_t *rv, const float *mean,
                                   const float *var, double momentum, int64_t n);
/* --sync_batchnorm (module/sync_batchnorm.c): bn's training-mode forward with statistics
 * over every rank of tr, or NULL when it does not apply (one process, flag off, eval). */
bool lt__sync_batchnorm_applies(const lt_batchnorm_t *bn);
/* The factor the running statistics move by: bn->momentum, or the cumulative average's
 * 1 / num_batches_tracked under lt_ctx_batchnorm_cumulative. */
double lt__batchnorm_momentum(const lt_batchnorm_t *bn);
/* lt_state_set_f32's arrays inside a state (a jansson json_t): whether j is one, a new
 * one holding n bytes, and its bytes (NULL if j is none). */
struct json_t;
bool lt__state_is_f32(const struct json_t *j);
struct json_t *lt__state_f32_new(const void *bytes, size_t n);
const void *lt__state_f32_data(const struct json_t *j, size_t *nbytes);
lt_tensor_t *lt__sync_batchnorm_forward(lt_batchnorm_t *bn, lt_tensor_t *x);

#endif
