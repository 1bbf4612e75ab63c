/* cuda.c — the CUDA accelerator: device state, errors, copies, sync, NVTX ranges and the
 * exported kernel table. Kernels live in the .cu files, GEMM in gemm.c, the caching
 * allocator in alloc.c, the profiler's event pool in timer.c.
 *
 * Loading the plugin calls nothing in CUDA: a machine without a GPU or driver can list
 * it (`lthost plugins`); init is the first CUDA call and fails fast there. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nvtx3/nvToolsExt.h>

#include "cuda_impl.h"

/* ---- errors ---------------------------------------------------------------------- */

void cuda_fail(cuda_state *st, const char *what, const char *detail) {
    if (st->error == LT_OK) {
        st->error = LT_ERR_DEVICE;
        snprintf(st->error_msg, sizeof st->error_msg, "cuda accelerator (GPU %d): %s: %s",
                 st->device, what, detail);
    }
    lt_set_error(st->error, "%s", st->error_msg);
}

int cuda_ok(cuda_state *st, cudaError_t e, const char *call) {
    if (e == cudaSuccess) return 1;
    cuda_fail(st, call, cudaGetErrorString(e));
    return 0;
}

void cuda_check_launch(cuda_state *st, const char *kernel) {
    cudaError_t e = cudaGetLastError();
    if (e == cudaSuccess) return;
    char what[96];
    snprintf(what, sizeof what, "launching kernel %s", kernel);
    cuda_fail(st, what, cudaGetErrorString(e));
}

/* The recorded error again (as lt_last_error), or LT_OK. */
static lt_status cuda_status(cuda_state *st) {
    if (st->error == LT_OK) return LT_OK;
    return lt_set_error(st->error, "%s", st->error_msg);
}

unsigned cuda_grid(const cuda_state *st, int64_t n, int threads) {
    int64_t b = n > 0 ? (n + threads - 1) / threads : 1;
    if (b > st->max_grid) b = st->max_grid;
    return b < 1 ? 1u : (unsigned)b;
}

/* ---- state ----------------------------------------------------------------------- */

/* Which GPU: opts->device_index (ABI 1.1), checked against what the node has. */
static lt_status pick_device(const lt_accel_opts *opts, int *device) {
    int count = 0;
    cudaError_t e = cudaGetDeviceCount(&count);
    if (e != cudaSuccess || count <= 0) {
        cudaGetLastError(); /* leave no error behind for a later caller */
        return lt_set_error(LT_ERR_DEVICE,
                            "cuda accelerator: no usable GPU (cudaGetDeviceCount: %s); run on a "
                            "machine with an NVIDIA GPU and its driver, or use --accelerator cpu",
                            e != cudaSuccess ? cudaGetErrorString(e) : "0 devices");
    }
    int index = LT_ACCEL_OPTS_HAS(opts, device_index) ? opts->device_index : 0;
    if (index < 0 || index >= count)
        return lt_set_error(LT_ERR_INVALID_ARG,
                            "cuda accelerator: GPU %d asked for, but this node has %d GPU(s) "
                            "(0..%d); use fewer --devices per node or a listed index",
                            index, count, count - 1);
    *device = index;
    return LT_OK;
}

/* Precision settings from opts, refusing values this plugin does not know. */
static lt_status read_precision(cuda_state *st, const lt_accel_opts *opts) {
    st->precision = LT_ACCEL_OPTS_HAS(opts, precision) ? opts->precision : LT_PRECISION_32_TRUE;
    st->matmul_precision =
        LT_ACCEL_OPTS_HAS(opts, matmul_precision) ? opts->matmul_precision : LT_MATMUL_HIGHEST;
    if ((unsigned)st->precision >= LT_PRECISION_COUNT)
        return lt_set_error(LT_ERR_INVALID_ARG, "cuda accelerator: unknown precision %d",
                            (int)st->precision);
    if ((unsigned)st->matmul_precision >= LT_MATMUL_COUNT)
        return lt_set_error(LT_ERR_INVALID_ARG, "cuda accelerator: unknown matmul precision %d",
                            (int)st->matmul_precision);
    return LT_OK;
}

/* The describe line's start, from the runtime and the GPU: "CUDA 13.0 (driver 13.0),
 * NVIDIA H200 (sm_90, 132 SMs, 140 GiB)"; init appends cuBLAS once it is open. */
static void describe_device(cuda_state *st, const struct cudaDeviceProp *prop) {
    int runtime = 0, driver = 0;
    if (cudaRuntimeGetVersion(&runtime) != cudaSuccess ||
        cudaDriverGetVersion(&driver) != cudaSuccess)
        cudaGetLastError(); /* a version we cannot read shows as 0.0 */
    snprintf(st->description, sizeof st->description,
             "CUDA %d.%d (driver %d.%d), %s (sm_%d%d, %d SMs, %.0f GiB)", runtime / 1000,
             runtime % 1000 / 10, driver / 1000, driver % 1000 / 10, prop->name, prop->major,
             prop->minor, prop->multiProcessorCount, (double)prop->totalGlobalMem / (1 << 30));
}

/* ", cuBLAS 13.1.0, cuDNN 9.13.0" after the device's part (or why there is no cuDNN:
 * convolutions then run as im2col and cuBLAS). */
static void describe_libs(cuda_state *st) {
    const size_t used = strlen(st->description);
    const int v = st->blas_version;
    snprintf(st->description + used, sizeof st->description - used, ", cuBLAS %d.%d.%d, %s",
             v / 10000, v % 10000 / 100, v % 100, st->dnn_note);
}

/* The GPU's properties that the kernels and precisions depend on. */
static lt_status check_device(cuda_state *st) {
    struct cudaDeviceProp prop;
    if (!cuda_ok(st, cudaGetDeviceProperties(&prop, st->device), "cudaGetDeviceProperties"))
        return cuda_status(st);
    describe_device(st, &prop);
    st->sm_count = prop.multiProcessorCount > 0 ? prop.multiProcessorCount : 1;
    st->max_grid = st->sm_count * 16;
    cudaError_t e = cuda_kernels_usable();
    if (e != cudaSuccess) {
        cudaGetLastError();
        return lt_set_error(LT_ERR_DEVICE,
                            "cuda accelerator: the kernels of this build do not run on GPU %d "
                            "(%s, compute capability %d.%d): %s; rebuild with "
                            "-Dcuda-arch=%d%d",
                            st->device, prop.name, prop.major, prop.minor, cudaGetErrorString(e),
                            prop.major, prop.minor);
    }
    int bf16 = st->precision == LT_PRECISION_BF16_MIXED || st->precision == LT_PRECISION_BF16_TRUE;
    if (bf16 && prop.major < 8)
        return lt_set_error(LT_ERR_UNSUPPORTED,
                            "cuda accelerator: GPU %d (%s, compute capability %d.%d) has no bf16 "
                            "math; use --precision 16-mixed or 32-true",
                            st->device, prop.name, prop.major, prop.minor);
    return LT_OK;
}

/* LT_CUDA_STATS=1: what the allocator, the pinned buffers and cuDNN did, on stderr. */
static void print_stats(const cuda_state *st, int have_dnn, const cuda_dnn_stats *dnn) {
    const char *stats = getenv("LT_CUDA_STATS");
    if (!stats || strcmp(stats, "1")) return;
    fprintf(stderr,
            "cuda: %llu device allocations, %zu bytes peak, %llu pinned buffers, %llu "
            "copies from them (%llu on the copy stream)\n",
            (unsigned long long)st->cache.mallocs, st->cache.peak_bytes,
            (unsigned long long)st->pinned_allocs, (unsigned long long)st->pinned_copies,
            (unsigned long long)st->xfer_copies);
    if (st->timer.marks)
        fprintf(stderr, "cuda: profiler timer: %llu events created, %llu marks, %llu syncs\n",
                (unsigned long long)st->timer.created, (unsigned long long)st->timer.marks,
                (unsigned long long)st->syncs);
    if (have_dnn)
        fprintf(stderr,
                "cuda: cuDNN ran %llu convolutions, chose %llu algorithms, evicted %llu, "
                "declined %llu shapes\n",
                (unsigned long long)dnn->calls, (unsigned long long)dnn->builds,
                (unsigned long long)dnn->evictions, (unsigned long long)dnn->declined);
}

static void cuda_shutdown(void *vst) {
    cuda_state *st = vst;
    if (!st) return;
    cudaSetDevice(st->device);
    if (st->stream) cudaStreamSynchronize(st->stream);
    cuda_dnn_stats dnn;
    const int have_dnn = cuda_dnn_stats_of(st, &dnn);
    cuda_dnn_close(st);
    cuda_gemm_shutdown(st);
    for (int i = 0; i < CUDA_STAGE_SLOTS; i++)
        if (st->stage.slot[i].done) cudaEventDestroy(st->stage.slot[i].done);
    if (st->stage.buf) cudaFreeHost(st->stage.buf);
    cuda_pinned_release(st);
    cuda_xfer_release(st);
    cuda_timer_release(st);
    pthread_mutex_destroy(&st->pinned_mu);
    print_stats(st, have_dnn, &dnn);
    cuda_cache_release(st);
    if (st->stream) cudaStreamDestroy(st->stream);
    cudaGetLastError();
    free(st);
}

static lt_status cuda_init(const lt_accel_opts *opts, void **state) {
    *state = NULL;
    int device = 0;
    lt_status s = pick_device(opts, &device);
    if (s != LT_OK) return s;
    cuda_state *st = calloc(1, sizeof *st);
    if (!st) return lt_set_error(LT_ERR_OOM, "cuda accelerator: out of host memory");
    st->device = device;
    if ((s = read_precision(st, opts)) != LT_OK) {
        free(st);
        return s;
    }
    pthread_mutex_init(&st->pinned_mu, NULL); /* destroyed by cuda_shutdown */
    /* cudaStreamCreate without flags: a blocking stream, which the legacy default stream
     * waits for and is waited by; the ddp strategy's NCCL path orders itself after our
     * kernels through the legacy stream (plugins/strategies/ddp/nccl.c). */
    if (!cuda_ok(st, cudaSetDevice(device), "cudaSetDevice") || (s = check_device(st)) != LT_OK ||
        !cuda_ok(st, cudaStreamCreate(&st->stream), "cudaStreamCreate") ||
        (s = cuda_gemm_init(st)) != LT_OK) {
        s = s != LT_OK ? s : cuda_status(st);
        cuda_shutdown(st);
        return s;
    }
    cuda_dnn_open(st);
    describe_libs(st);
    *state = st;
    return LT_OK;
}

/* ---- copies ---------------------------------------------------------------------- */

static int is_pinned(const void *p) {
    struct cudaPointerAttributes a;
    if (cudaPointerGetAttributes(&a, p) != cudaSuccess) {
        cudaGetLastError();
        return 0;
    }
    return a.type == cudaMemoryTypeHost;
}

/* Make the FIFO entries up to and including index k (0 = oldest) complete and drop them. */
static int stage_retire(cuda_state *st, int k) {
    cuda_stage *g = &st->stage;
    cuda_stage_slot *s = &g->slot[(g->first + k) % CUDA_STAGE_SLOTS];
    if (!cuda_ok(st, cudaEventSynchronize(s->done), "cudaEventSynchronize (staging)")) return 0;
    g->first = (g->first + k + 1) % CUDA_STAGE_SLOTS;
    g->count -= k + 1;
    return 1;
}

/* The newest in-flight copy whose source overlaps [lo, hi), or -1. */
static int stage_newest_overlap(const cuda_stage *g, size_t lo, size_t hi) {
    for (int k = g->count - 1; k >= 0; k--) {
        const cuda_stage_slot *s = &g->slot[(g->first + k) % CUDA_STAGE_SLOTS];
        if (s->lo < hi && lo < s->hi) return k;
    }
    return -1;
}

/* Pinned memory and events on first use; 0 when there are none (copy synchronously then).
 * Events made before a failure stay in their slots until shutdown destroys them. */
static int stage_ready(cuda_state *st) {
    cuda_stage *g = &st->stage;
    if (g->buf) return 1;
    if (g->failed) return 0;
    g->failed = 1; /* until everything below exists */
    for (int i = 0; i < CUDA_STAGE_SLOTS; i++) {
        if (g->slot[i].done) continue;
        if (cudaEventCreateWithFlags(&g->slot[i].done, cudaEventDisableTiming) != cudaSuccess) {
            g->slot[i].done = NULL;
            cudaGetLastError();
            return 0;
        }
    }
    if (cudaMallocHost((void **)&g->buf, CUDA_STAGE_BYTES) != cudaSuccess) {
        cudaGetLastError();
        g->buf = NULL;
        return 0;
    }
    g->failed = 0;
    return 1;
}

/* A free region of nbytes (<= half the ring) in the staging ring, waiting for the copies
 * that still read it; its offset, or SIZE_MAX on a device error. */
static size_t stage_take(cuda_state *st, size_t nbytes) {
    cuda_stage *g = &st->stage;
    size_t lo = g->head + nbytes <= CUDA_STAGE_BYTES ? g->head : 0;
    if (g->count == CUDA_STAGE_SLOTS && !stage_retire(st, 0)) return SIZE_MAX;
    for (int k; (k = stage_newest_overlap(g, lo, lo + nbytes)) >= 0;)
        if (!stage_retire(st, k)) return SIZE_MAX;
    g->head = (lo + nbytes + 255) & ~(size_t)255;
    return lo;
}

/* Pageable memory may be reused by the caller as soon as we return: copy it into the
 * pinned ring, then let the device take it from there asynchronously. */
static int stage_copy(cuda_state *st, void *d_dst, const void *src, size_t nbytes) {
    if (nbytes > CUDA_STAGE_BYTES / 2 || !stage_ready(st)) return 0;
    size_t lo = stage_take(st, nbytes);
    if (lo == SIZE_MAX) return 1; /* recorded: the copy is lost with the device */
    cuda_stage *g = &st->stage;
    memcpy(g->buf + lo, src, nbytes);
    cuda_stage_slot *s = &g->slot[(g->first + g->count) % CUDA_STAGE_SLOTS];
    if (cuda_ok(st, cudaMemcpyAsync(d_dst, g->buf + lo, nbytes, cudaMemcpyHostToDevice, st->stream),
                "cudaMemcpyAsync (host to device)") &&
        cuda_ok(st, cudaEventRecord(s->done, st->stream), "cudaEventRecord (staging)")) {
        s->lo = lo;
        s->hi = lo + nbytes;
        g->count++;
    }
    return 1;
}

static void cuda_memcpy_h2d(void *vst, void *d_dst, const void *src, size_t nbytes) {
    cuda_state *st = vst;
    if (!nbytes) return;
    if (cuda_pinned_copy(st, d_dst, src, nbytes)) return; /* a loader's batch buffer */
    if (is_pinned(src)) { /* the caller keeps a pinned buffer alive until the step syncs */
        cuda_ok(st, cudaMemcpyAsync(d_dst, src, nbytes, cudaMemcpyHostToDevice, st->stream),
                "cudaMemcpyAsync (host to device)");
        return;
    }
    if (stage_copy(st, d_dst, src, nbytes)) return;
    /* Too large to stage (parameters at setup): copy and wait, so src is free to reuse. */
    if (cuda_ok(st, cudaMemcpyAsync(d_dst, src, nbytes, cudaMemcpyHostToDevice, st->stream),
                "cudaMemcpyAsync (host to device)"))
        cuda_ok(st, cudaStreamSynchronize(st->stream), "cudaStreamSynchronize");
}

static void cuda_memcpy_d2h(void *vst, void *dst, const void *d_src, size_t nbytes) {
    cuda_state *st = vst;
    if (!nbytes) return;
    cuda_check_launch(st, "(an earlier one)");
    if (st->error == LT_OK &&
        cuda_ok(st, cudaMemcpyAsync(dst, d_src, nbytes, cudaMemcpyDeviceToHost, st->stream),
                "cudaMemcpyAsync (device to host)") &&
        cuda_ok(st, cudaStreamSynchronize(st->stream), "cudaStreamSynchronize"))
        return;
    /* All ones: NaN as floats, -1 as labels, so no stale value passes for a result. */
    memset(dst, 0xff, nbytes);
    cuda_status(st);
}

/* Views of one storage may overlap (the cpu accelerator uses memmove): through a temporary
 * then, since cudaMemcpy's result is undefined for overlapping ranges. */
static void cuda_memcpy_d2d(void *vst, void *d_dst, const void *d_src, size_t nbytes) {
    cuda_state *st = vst;
    if (!nbytes || d_dst == d_src) return;
    const char *d = d_dst, *s = d_src;
    if (d < s + nbytes && s < d + nbytes) {
        void *tmp = cuda_cache_alloc(st, nbytes);
        if (!tmp) {
            cuda_fail(st, "memcpy_d2d", "out of device memory for an overlapping copy");
            return;
        }
        cuda_ok(st, cudaMemcpyAsync(tmp, d_src, nbytes, cudaMemcpyDeviceToDevice, st->stream),
                "cudaMemcpyAsync (device to device)");
        d_src = tmp;
        cuda_ok(st, cudaMemcpyAsync(d_dst, d_src, nbytes, cudaMemcpyDeviceToDevice, st->stream),
                "cudaMemcpyAsync (device to device)");
        cuda_cache_free(st, tmp); /* stream order: the next user runs after this copy */
        return;
    }
    cuda_ok(st, cudaMemcpyAsync(d_dst, d_src, nbytes, cudaMemcpyDeviceToDevice, st->stream),
            "cudaMemcpyAsync (device to device)");
}

static lt_status cuda_sync(void *vst) {
    cuda_state *st = vst;
    st->syncs++;
    cuda_check_launch(st, "(an earlier one)");
    if (st->error == LT_OK) cuda_ok(st, cudaStreamSynchronize(st->stream), "cudaStreamSynchronize");
    return cuda_status(st);
}

static void *cuda_alloc(void *st, size_t nbytes) { return cuda_cache_alloc(st, nbytes); }

static void cuda_free(void *st, void *d_ptr) { cuda_cache_free(st, d_ptr); }

/* ---- profiler ranges ------------------------------------------------------------- */

/* NVTX does nothing unless a tool (nsys, ncu) injected itself into the process. */
static void cuda_range_push(void *st, const char *name) {
    (void)st;
    nvtxRangePushA(name);
}

static void cuda_range_pop(void *st) {
    (void)st;
    nvtxRangePop();
}

static const char *cuda_describe(void *st) { return ((const cuda_state *)st)->description; }

/* ---- the table ------------------------------------------------------------------- */

LT_ACCELERATOR_EXPORT(.name = "cuda",
                      /* lifecycle */
                      .init = cuda_init, .shutdown = cuda_shutdown,
                      /* memory: device memory the host may not touch */
                      .host_memory = false, .alloc = cuda_alloc, .free = cuda_free,
                      .memcpy_h2d = cuda_memcpy_h2d, .memcpy_d2h = cuda_memcpy_d2h,
                      .memcpy_d2d = cuda_memcpy_d2d, .sync = cuda_sync,
                      /* elementwise (elementwise.cu) */
                      .fill = cuda_fill, .affine = cuda_affine, .unary = cuda_unary,
                      .binary = cuda_binary, .clamp = cuda_clamp,
                      /* reductions (reduce.cu) */
                      .reduce_sum = cuda_reduce_sum,
                      /* matmul (gemm.c) */
                      .gemm = cuda_gemm, .gemm_batched = cuda_gemm_batched,
                      /* softmax and loss (softmax.cu) */
                      .softmax = cuda_softmax, .log_softmax = cuda_log_softmax,
                      .softmax_bwd = cuda_softmax_bwd, .log_softmax_bwd = cuda_log_softmax_bwd,
                      .cross_entropy = cuda_cross_entropy,
                      .cross_entropy_bwd = cuda_cross_entropy_bwd,
                      /* metrics (reduce.cu) */
                      .argmax = cuda_argmax, .eq_i64 = cuda_eq_i64,
                      /* optimizers (optim.c, optim.cu) */
                      .sgd_step = cuda_sgd_step, .adam_step = cuda_adam_step,
                      /* ABI 1.1: mixed precision (elementwise.cu), NVTX ranges */
                      .unscale_grads = cuda_unscale_grads, .round_half = cuda_round_half,
                      .range_push = cuda_range_push, .range_pop = cuda_range_pop,
                      /* ABI 1.1: layers (window.cu, norm.cu), the summary line */
                      .im2col = cuda_im2col, .col2im = cuda_col2im, .pool2d = cuda_pool2d,
                      .pool2d_bwd = cuda_pool2d_bwd, .dropout_mask = cuda_dropout_mask,
                      .batch_norm = cuda_batch_norm, .batch_norm_bwd = cuda_batch_norm_bwd,
                      .describe = cuda_describe,
                      /* uint8 / half data (elementwise.cu, #21) */
                      .cast_f32 = cuda_cast_f32,
                      /* tensor manipulation and attention masks (index.cu) */
                      .copy_strided = cuda_copy_strided, .gather = cuda_gather,
                      .scatter_add = cuda_scatter_add, .masked_fill = cuda_masked_fill,
                      /* direct convolution through cuDNN (cudnn.c; declines without it) */
                      .conv2d = cuda_conv2d, .conv2d_bwd_data = cuda_conv2d_bwd_data,
                      .conv2d_bwd_weights = cuda_conv2d_bwd_weights,
                      /* pinned batch buffers and memory statistics (host_mem.c) */
                      .host_alloc = cuda_host_alloc, .host_free = cuda_host_free,
                      .host_wait = cuda_host_wait, .memory_stats = cuda_memory_stats,
                      /* the profiler's device timer: pooled cudaEvents (timer.c) */
                      .timer_mark = cuda_timer_mark, .timer_elapsed = cuda_timer_elapsed,
                      /* a linear layer's bias in the GEMM's epilogue (gemm_lt.c) */
                      .gemm_bias = cuda_gemm_bias)
