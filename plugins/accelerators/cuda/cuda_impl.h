/* cuda_impl.h — what the files of the CUDA accelerator share: the device state, the
 * caching allocator, error recording, and the slots each file hands to the table in
 * cuda.c. Included by the C files (gcc) and by the kernels (nvcc, as C++), hence the
 * extern "C" block. Nothing here is exported from the plugin (-fvisibility=hidden).
 *
 * One compute stream runs everything in issue order, so a block freed by one kernel and
 * handed to the next is safe to reuse without events: the stream orders the two. */
#ifndef LT_CUDA_IMPL_H
#define LT_CUDA_IMPL_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <lt/accelerator.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- caching allocator (alloc.c) ----------------------------------------------- */

#define CUDA_SMALL_LIMIT ((size_t)1 << 20) /* below: 512-byte classes; above: 2 MiB ones */
#define CUDA_SMALL_ROUND ((size_t)512)
#define CUDA_LARGE_ROUND ((size_t)2 << 20)
#define CUDA_SMALL_CLASSES (CUDA_SMALL_LIMIT / CUDA_SMALL_ROUND + 1)

typedef struct cuda_block {
    void *ptr;
    size_t size;                  /* its class size: what cudaMalloc was asked for */
    int in_use;                   /* handed out and not freed yet */
    struct cuda_block *hash_next; /* chain of its bucket in cuda_cache.by_ptr */
    struct cuda_block *free_next; /* next free block of its class */
} cuda_block;

typedef struct cuda_cache {
    cuda_block **by_ptr;                        /* every block, hashed by address */
    size_t buckets;                             /* power of two */
    size_t blocks;                              /* count in by_ptr */
    cuda_block *small_free[CUDA_SMALL_CLASSES]; /* free blocks by size / 512 */
    cuda_block *large_free;                     /* free blocks over 1 MiB, any size */
    uint64_t mallocs;                           /* cudaMalloc calls that succeeded */
    size_t device_bytes, peak_bytes;            /* held from cudaMalloc now, at most */
    size_t in_use_bytes, in_use_peak;           /* handed out now, at most (class sizes) */
} cuda_cache;

/* A pinned host buffer (host_mem.c), with the event recorded after each copy out of it. */
typedef struct cuda_pinned {
    char *ptr;
    size_t size;
    cudaEvent_t copied;
    struct cuda_pinned *next;
} cuda_pinned;

/* ---- device state ---------------------------------------------------------------- */

#define CUDA_STAGE_BYTES ((size_t)32 << 20) /* pinned ring for pageable host-to-device copies */
#define CUDA_STAGE_SLOTS 64                 /* copies in flight through the ring at most */
#define CUDA_ERROR_MAX 512

typedef struct cuda_stage_slot {
    cudaEvent_t done; /* recorded on the stream after the copy out of [lo, hi) */
    size_t lo, hi;
} cuda_stage_slot;

/* The copy stream's device ring (xfer.c) and its FIFO of uploads not known consumed. */
#define CUDA_XFER_BYTES ((size_t)128 << 20)
#define CUDA_XFER_SLOTS 64

typedef struct cuda_xfer_slot {
    cudaEvent_t copied;   /* on the copy stream, after the upload into [lo, hi) */
    cudaEvent_t consumed; /* on the compute stream, after the copy out of [lo, hi) */
    size_t lo, hi;
} cuda_xfer_slot;

typedef struct cuda_xfer {
    cudaStream_t stream; /* non-blocking: it waits for nothing but its events */
    char *ring;          /* CUDA_XFER_BYTES of device memory; NULL: not made yet / off */
    int off;             /* LT_CUDA_COPY_STREAM=0, or making the above failed */
    size_t head;
    cuda_xfer_slot slot[CUDA_XFER_SLOTS];
    int first, count;
} cuda_xfer;

typedef struct cuda_stage {
    char *buf;   /* CUDA_STAGE_BYTES of pinned host memory; NULL: not made yet / failed */
    int failed;  /* cudaMallocHost failed once: copy synchronously from then on */
    size_t head; /* where the next staged copy goes */
    cuda_stage_slot slot[CUDA_STAGE_SLOTS]; /* a FIFO of copies not known to be done */
    int first, count;
} cuda_stage;

/* dlsym of `symbol` from api->lib into api->field, a pointer of the function's own type
 * (gemm.c, gemm_lt.c, cudnn.c open their libraries with dlopen); true when found. */
#define CUDA_DLSYM(api, field, symbol)                                                             \
    ((*(void **)&(api)->field = dlsym((api)->lib, #symbol)) != NULL)

/* cuBLAS, opened by init (gemm.c) rather than linked: loading the plugin then costs only
 * the CUDA runtime, so `--accelerator auto` on a machine without a GPU stays fast. Each
 * pointer has the type of the function it stands for. */
typedef struct cuda_blas_api {
    void *lib; /* dlopen handle of libcublas.so.<major> */
    __typeof__(&cublasCreate_v2) create;
    __typeof__(&cublasDestroy_v2) destroy;
    __typeof__(&cublasSetStream_v2) set_stream;
    __typeof__(&cublasSetWorkspace_v2) set_workspace;
    __typeof__(&cublasGemmEx_64) gemm_ex;
    __typeof__(&cublasGemmStridedBatchedEx_64) gemm_strided;
    __typeof__(&cublasGetStatusString) status_string;
    __typeof__(&cublasGetVersion_v2) get_version;
} cuda_blas_api;

/* The timer slots' events (timer.c): mark m is ev[m], created on first use. */
typedef struct cuda_timer {
    cudaEvent_t *ev;  /* LT_TIMER_MARKS of them; NULL until the first mark */
    uint64_t created; /* cudaEventCreate calls (LT_CUDA_STATS: none in steady state) */
    uint64_t marks;   /* cudaEventRecord calls */
} cuda_timer;

typedef struct cuda_state {
    int device;          /* the GPU of this state (cudaSetDevice) */
    int sm_count;        /* multiprocessors: sizes the grids */
    int max_grid;        /* blocks for a grid-stride elementwise kernel */
    cudaStream_t stream; /* the compute stream: blocking, so it orders with the legacy one */
    cuda_blas_api api;
    cublasHandle_t blas;
    int blas_version; /* cublasGetVersion: major * 10000 + minor * 100 + patch; 0 unknown */
    void *blas_workspace;
    lt_precision precision;
    lt_matmul_precision matmul_precision;
    cuda_cache cache;
    cuda_stage stage;
    /* Pinned batch buffers (host_alloc): the list is read by loader worker threads. */
    pthread_mutex_t pinned_mu;
    cuda_pinned *pinned;
    uint64_t pinned_allocs, pinned_copies; /* for LT_CUDA_STATS and the checks */
    cuda_xfer xfer;                        /* the copy stream for pinned uploads */
    uint64_t xfer_copies;                  /* uploads that went through it */
    cuda_timer timer;                      /* the profiler's marks */
    uint64_t syncs;                        /* sync slot calls (LT_CUDA_STATS) */
    /* Half-precision copies of GEMM inputs (16-mixed, bf16-*), grown as needed. */
    void *half_a, *half_b;
    size_t half_a_bytes, half_b_bytes;
    /* The first device error, kept: slots return void, so sync and memcpy_d2h report it. */
    lt_status error;
    char error_msg[CUDA_ERROR_MAX];
    /* The describe slot's line, made by init: "CUDA 13.0, NVIDIA H200 (sm_90, ...)". */
    char description[CUDA_ERROR_MAX];
    /* cuBLASLt for gemm_bias (gemm_lt.c), opened at its first call; NULL: not yet, or
     * (blaslt_failed) missing, and the slot declines. */
    struct cuda_blaslt *blaslt;
    int blaslt_failed;
    /* cuDNN for the conv2d slots (cudnn.c); NULL: they decline, dnn_note says why. */
    struct cuda_dnn *dnn;
    char dnn_note[256];
} cuda_state;

/* ---- errors (cuda.c) ------------------------------------------------------------- */

/* Records the first failure (later ones are consequences) and sets lt_last_error. */
void cuda_fail(cuda_state *st, const char *what, const char *detail);
/* After a kernel launch: records a launch error (bad configuration, no kernel image). */
void cuda_check_launch(cuda_state *st, const char *kernel);
/* Records e when it is an error; returns e == cudaSuccess. */
int cuda_ok(cuda_state *st, cudaError_t e, const char *call);

/* ---- allocator (alloc.c) --------------------------------------------------------- */

void *cuda_cache_alloc(cuda_state *st, size_t nbytes);
void cuda_cache_free(cuda_state *st, void *d_ptr);
/* cudaFree of every block (shutdown). */
void cuda_cache_release(cuda_state *st);

/* ---- pinned host buffers, memory statistics (host_mem.c) ------------------------- */

void *cuda_host_alloc(void *st, size_t nbytes);
void cuda_host_free(void *st, void *p);
void cuda_host_wait(void *st, void *p);
/* memcpy_h2d from a host_alloc buffer: an asynchronous copy and the buffer's event;
 * returns 0 (having done nothing) when src is not in one. */
int cuda_pinned_copy(cuda_state *st, void *d_dst, const void *src, size_t nbytes);
/* An upload from pinned src on the copy stream (xfer.c), src_done recorded after it
 * there; 0 (having done nothing) when the copy stream is off or nbytes too large. */
int cuda_xfer_copy(cuda_state *st, void *d_dst, const void *src, size_t nbytes,
                   cudaEvent_t src_done);
/* Its stream, ring and events (shutdown, after the compute stream's sync). */
void cuda_xfer_release(cuda_state *st);
/* host_free of the buffers still held (shutdown). */
void cuda_pinned_release(cuda_state *st);
int cuda_memory_stats(void *st, lt_mem_stats *out);

/* ---- timer slots (timer.c) ------------------------------------------------------ */

int cuda_timer_mark(void *st, uint32_t m);
int cuda_timer_elapsed(void *st, uint32_t from, uint32_t to, double *ms);
/* Destroy the events (shutdown, after the stream's sync). */
void cuda_timer_release(cuda_state *st);

/* A grid of at most max_grid blocks of `threads` for n items, at least one. */
unsigned cuda_grid(const cuda_state *st, int64_t n, int threads);

/* ---- kernels (elementwise.cu) ---------------------------------------------------- */

void cuda_fill(void *st, int64_t n, float value, float *d_out);
void cuda_affine(void *st, int64_t n, const float *d_x, float alpha, float beta, float *d_out);
void cuda_unary(void *st, lt_unary_op op, int64_t n, const float *d_x, float *d_out);
void cuda_binary(void *st, lt_binary_op op, int64_t n, const float *d_a, const float *d_b,
                 float *d_out, const lt_bcast *bc);
void cuda_clamp(void *st, int64_t n, const float *d_x, float lo, float hi, float *d_out);
void cuda_unscale_grads(void *st, int64_t n, float *d_g, float inv_scale, float *d_found_inf);
void cuda_round_half(void *st, int64_t n, const float *d_x, int bf16, float *d_out);
/* uint8 / half data to float32 (#21) */
void cuda_cast_f32(void *st, int64_t n, int src_dtype, const void *d_src, float divisor,
                   float *d_out);
/* d_out (rows, cols dense) = the (rows, cols) matrix at d_x with leading dimension ld,
 * rounded to fp16 (bf16 == 0) or bf16: GEMM inputs under mixed precision. */
void cuda_to_half(cuda_state *st, int64_t rows, int64_t cols, const float *d_x, int64_t ld,
                  int bf16, void *d_out);
/* C(m, n) with leading dimension ldc = beta * C (beta == 0 writes zeros, NaN included). */
void cuda_scale_matrix(cuda_state *st, int64_t m, int64_t n, float beta, float *d_c, int64_t ldc);
/* cudaSuccess when this build's kernels run on the current device. */
cudaError_t cuda_kernels_usable(void);

/* ---- kernels (reduce.cu) --------------------------------------------------------- */

void cuda_reduce_sum(void *st, int64_t outer, int64_t mid, int64_t inner, const float *d_in,
                     float scale, float *d_out);
void cuda_argmax(void *st, int64_t rows, int64_t cols, const float *d_x, int64_t *d_idx);
void cuda_eq_i64(void *st, int64_t n, const int64_t *d_a, const int64_t *d_b, float *d_out);

/* ---- kernels (softmax.cu) -------------------------------------------------------- */

void cuda_softmax(void *st, int64_t rows, int64_t cols, const float *d_x, float *d_y);
void cuda_log_softmax(void *st, int64_t rows, int64_t cols, const float *d_x, float *d_y);
void cuda_softmax_bwd(void *st, int64_t rows, int64_t cols, const float *d_y, const float *d_dy,
                      float *d_dx);
void cuda_log_softmax_bwd(void *st, int64_t rows, int64_t cols, const float *d_y, const float *d_dy,
                          float *d_dx);
int64_t cuda_cross_entropy(void *st, int64_t rows, int64_t cols, const float *d_x,
                           const int64_t *d_label, float *d_loss, float *d_prob);
void cuda_cross_entropy_bwd(void *st, int64_t rows, int64_t cols, const float *d_prob,
                            const int64_t *d_label, const float *d_dloss, float *d_dx);

/* ---- layers (window.cu: convolution windows, pooling; norm.cu: dropout, batch norm) --- */

void cuda_im2col(void *st, const lt_window2d *g, const float *d_x, float *d_col);
void cuda_col2im(void *st, const lt_window2d *g, const float *d_col, float *d_x);
void cuda_pool2d(void *st, lt_pool_mode mode, const lt_window2d *g, const float *d_x, float *d_y,
                 int64_t *d_idx);
void cuda_pool2d_bwd(void *st, lt_pool_mode mode, const lt_window2d *g, const float *d_dy,
                     const int64_t *d_idx, float *d_dx);
void cuda_dropout_mask(void *st, int64_t n, double p, uint64_t seed, uint64_t stream,
                       float *d_mask);
void cuda_batch_norm(void *st, int64_t n, int64_t c, int64_t l, const float *d_x, const float *d_w,
                     const float *d_b, double eps, float *d_y, float *d_mean, float *d_var);
void cuda_batch_norm_bwd(void *st, int64_t n, int64_t c, int64_t l, const float *d_x,
                         const float *d_dy, const float *d_mean, const float *d_var,
                         const float *d_w, double eps, float *d_dx, float *d_dw, float *d_db);

/* ---- optimizers (optim.c computes the factors, optim.cu applies them) ------------- */

/* The float factors of one update, computed in double on the host exactly as the cpu
 * accelerator computes them (plugins/accelerators/cpu/optim.c). */
typedef struct cuda_sgd_args {
    float wd, momentum, damp_alpha, neg_lr;
    int use_wd, mode, nesterov; /* mode: 0 plain, 1 first step, 2 momentum */
} cuda_sgd_args;

typedef struct cuda_adam_args {
    float decay, wd, w1, beta2, c2, bc2_sqrt, eps, neg_step;
    int use_wd, small_w;
} cuda_adam_args;

void cuda_sgd_step(void *st, int64_t n, float *d_p, const float *d_g, float *d_buf,
                   const lt_sgd_hyper *h);
void cuda_adam_step(void *st, int64_t n, float *d_p, const float *d_g, float *d_m, float *d_v,
                    const lt_adam_hyper *h);
void cuda_launch_sgd(cuda_state *st, int64_t n, float *d_p, const float *d_g, float *d_buf,
                     const cuda_sgd_args *a);
void cuda_launch_adam(cuda_state *st, int64_t n, float *d_p, const float *d_g, float *d_m,
                      float *d_v, const cuda_adam_args *a);

/* ---- gemm.c, gemm_lt.c ------------------------------------------------------------ */

#define CUDA_BLAS_WORKSPACE ((size_t)32 << 20) /* what cuBLAS suggests for Hopper */

/* The cuBLAS init opens (a test may point it elsewhere before init). */
extern const char *cuda_blas_soname;
lt_status cuda_gemm_init(cuda_state *st);
void cuda_gemm_shutdown(cuda_state *st);
void cuda_gemm(void *st, int trans_a, int trans_b, int64_t m, int64_t n, int64_t k, float alpha,
               const float *d_a, int64_t lda, const float *d_b, int64_t ldb, float beta, float *d_c,
               int64_t ldc);
/* The operand type and compute mode of the state's precision (gemm.c's table). */
typedef struct cuda_gemm_plan {
    cudaDataType in_type;
    cublasComputeType_t compute;
} cuda_gemm_plan;
cuda_gemm_plan cuda_gemm_plan_for(const cuda_state *st);
/* Half precisions: *a and *b replaced by dense fp16/bf16 copies (cached scratch, *lda
 * and *ldb their widths); float32 leaves them. 0 when out of memory (recorded). */
int cuda_gemm_inputs(cuda_state *st, cuda_gemm_plan plan, int trans_a, int trans_b, int64_t m,
                     int64_t n, int64_t k, const void **a, int64_t *lda, const void **b,
                     int64_t *ldb);
int cuda_gemm_batched(void *st, int trans_a, int trans_b, int64_t m, int64_t n, int64_t k,
                      float alpha, const float *d_a, int64_t lda, int64_t stride_a,
                      const float *d_b, int64_t ldb, int64_t stride_b, float beta, float *d_c,
                      int64_t ldc, int64_t stride_c, int64_t batch);
int cuda_gemm_bias(void *st, int trans_a, int trans_b, int64_t m, int64_t n, int64_t k,
                   const float *d_a, int64_t lda, const float *d_b, int64_t ldb,
                   const float *d_bias, float *d_c, int64_t ldc);
/* The library gemm_bias opens (a test may point it elsewhere). */
extern const char *cuda_blaslt_soname;
/* cuBLASLt's plans, handle and library (shutdown, after the stream's sync). */
void cuda_blaslt_close(cuda_state *st);

/* ---- cudnn.c: the conv2d slots through cuDNN, opened with dlopen ---------------- */

/* What the convolution cache did, for LT_CUDA_STATS and the checks. */
typedef struct cuda_dnn_stats {
    uint64_t calls;     /* convolutions cuDNN ran */
    uint64_t builds;    /* descriptors + algorithm made (cache misses) */
    uint64_t evictions; /* entries dropped for a new shape */
    uint64_t declined;  /* shapes cuDNN had no deterministic algorithm for */
    int64_t live;       /* entries held now */
} cuda_dnn_stats;

/* The library init opens (a test may point it elsewhere before init). */
extern const char *cuda_dnn_soname;
/* Opens cuDNN unless LT_CUDA_CUDNN=0; never fails (without it the slots decline), and
 * writes dnn_note for the describe line. */
void cuda_dnn_open(cuda_state *st);
/* Its descriptors, handle and buffers (shutdown, after the stream's sync). */
void cuda_dnn_close(cuda_state *st);
/* 1 and *out when cuDNN is open, else 0. */
int cuda_dnn_stats_of(const cuda_state *st, cuda_dnn_stats *out);
int cuda_conv2d(void *st, const lt_window2d *g, int64_t groups, int64_t o, const float *d_x,
                const float *d_w, const float *d_b, float *d_y);
int cuda_conv2d_bwd_data(void *st, const lt_window2d *g, int64_t groups, int64_t o,
                         const float *d_dy, const float *d_w, float *d_dx);
int cuda_conv2d_bwd_weights(void *st, const lt_window2d *g, int64_t groups, int64_t o,
                            const float *d_x, const float *d_dy, float *d_dw, float *d_db);

/* ---- index.cu: tensor manipulation (issue 19, text models) ---- */
void cuda_copy_strided(void *st, const lt_strided *g, const float *d_src, float *d_dst);
int64_t cuda_gather(void *st, const lt_gather_geom *g, const float *d_x, const int64_t *d_idx,
                    float *d_out);
void cuda_scatter_add(void *st, const lt_gather_geom *g, const float *d_dy, const int64_t *d_idx,
                      int64_t skip, float *d_dx);
void cuda_masked_fill(void *st, int64_t n, const float *d_x, const float *d_mask, float value,
                      float *d_out, const lt_bcast *bc);

#ifdef __cplusplus
}
#endif

#endif
