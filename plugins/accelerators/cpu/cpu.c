/* cpu.c — the CPU accelerator: device state, memory, the parallel-for helper, fill and
 * affine, and the exported kernel table. "Device memory" is host memory, so copies are
 * memcpy and every kernel has finished when it returns (sync has nothing to wait for). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* sched_getaffinity, CPU_COUNT (the build defines it already) */
#endif
#include <malloc.h>
#include <sched.h>
#ifdef CPU_TEST_RANGES
#include <stdatomic.h>
static void cpu_test_host_log(void);
#endif
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "cpu_impl.h"

#define CPU_ALIGN 64 /* a cache line; also what AVX-512 loads want */
#define CPU_HUGE_PAGE ((size_t)2 << 20)
#define CPU_HUGE_FROM ((size_t)512 << 10)

/* ---- state --------------------------------------------------------------------- */

/* Cores this process may run on: the affinity mask (respects taskset, mpirun --bind-to,
 * cgroups cpusets), else the online count. */
static int usable_cores(void) {
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0) return CPU_COUNT(&set);
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

/* How many bytes of freed blocks to keep: half the physical memory, at least 1 GB. */
static size_t block_cache_cap(void) {
    const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    const size_t floor = (size_t)1 << 30;
    if (pages <= 0 || page <= 0 || (size_t)pages > SIZE_MAX / (size_t)page) return floor;
    const size_t half = (size_t)pages * (size_t)page / 2;
    return half > floor ? half : floor;
}

/* The real plugin trains in 32-true, and in bf16-mixed and bf16-true where oneDNN runs
 * bf16 natively (dnnl_matmul.c; liblt rounds bf16-true's parameters with round_half); the
 * test twin built with CPU_EMULATE_HALF takes every precision and emulates the lower ones
 * in its GEMM (amp.c). */
static int half_format(lt_precision p) {
    return p == LT_PRECISION_16_MIXED  ? CPU_HALF_FP16
           : p == LT_PRECISION_32_TRUE ? CPU_HALF_NONE
                                       : CPU_HALF_BF16;
}

/* What the real plugin offers: 32-true, and bf16-mixed and bf16-true with oneDNN's bf16
 * matmuls. */
static lt_status precision_offered(cpu_state *st, lt_precision prec) {
#ifdef CPU_EMULATE_HALF
    (void)st, (void)prec;
    return LT_OK;
#else
    if (prec == LT_PRECISION_32_TRUE) return LT_OK;
#ifdef CPU_WITH_DNNL
    if (prec == LT_PRECISION_BF16_MIXED || prec == LT_PRECISION_BF16_TRUE) return cpu_bf16_open(st);
    return lt_set_error(LT_ERR_UNSUPPORTED,
                        "the cpu accelerator trains in 32-true, bf16-mixed and bf16-true");
#else
    (void)st;
    return lt_set_error(LT_ERR_UNSUPPORTED,
                        "the cpu accelerator trains in 32-true only (this build has no oneDNN "
                        "for bf16-mixed and bf16-true)");
#endif
#endif
}

static lt_status cpu_init(const lt_accel_opts *opts, void **state) {
    lt_precision prec = LT_ACCEL_OPTS_HAS(opts, precision) ? opts->precision : LT_PRECISION_32_TRUE;
    cpu_state *st = calloc(1, sizeof *st);
    if (!st) return lt_set_error(LT_ERR_OOM, "cpu accelerator: out of host memory");
    pthread_mutex_init(&st->cache_lock, NULL);
    st->cache_cap = block_cache_cap();
    lt_status s = cpu_blas_open(&st->blas);
    if (s != LT_OK) {
        free(st);
        return s;
    }
    char why[200];
    int small = cpu_small_choose(&st->blas.isa, getenv("LT_CPU_GEMM"), why, sizeof why);
    if (small < 0) {
        s = lt_set_error(LT_ERR_INVALID_ARG, "%s", why);
    } else {
        st->small = (cpu_small_isa)small;
        st->half = half_format(prec);
        s = precision_offered(st, prec);
    }
    if (s != LT_OK) {
        cpu_blas_close(&st->blas);
        pthread_mutex_destroy(&st->cache_lock);
        free(st);
        return s;
    }
#ifdef CPU_TEST_RANGES
    const char *log = getenv("LT_TEST_RANGE_LOG");
    st->range_log = log && *log ? fopen(log, "w") : NULL;
#endif
    int asked = 0;
    if (LT_ACCEL_OPTS_HAS(opts, threads)) asked = opts->threads;
    st->threads = asked > 0 ? asked : usable_cores();
    /* One budget: OpenBLAS's pool gets the same count as our loops. */
    st->blas.set_num_threads(st->threads);
    st->blas_threads = st->threads;
    st->pool = cpu_pool_create(st->threads); /* NULL: loops run on this thread only */
    char conv[160] = "";
#ifdef CPU_WITH_DNNL
    cpu_dnnl_open(st);
    cpu_dnnl_describe(st, conv, sizeof conv);
    if (st->bf16) cpu_bf16_describe(conv + strlen(conv), sizeof conv - strlen(conv));
#endif
    char small_line[64] = "";
    if (st->small != CPU_SMALL_NONE)
        snprintf(small_line, sizeof small_line, ", small GEMMs on own %s tiles",
                 cpu_small_isa_name(st->small));
    snprintf(st->description, sizeof st->description, "%s%s%s, %d thread%s", st->blas.line,
             small_line, conv, st->threads, st->threads == 1 ? "" : "s");
    *state = st;
    return LT_OK;
}

static void cpu_shutdown(void *state) {
    cpu_state *st = state;
    if (st->range_log) fclose(st->range_log);
#ifdef CPU_TEST_RANGES
    cpu_test_host_log();
    cpu_test_timer_log(st);
#endif
#ifdef CPU_WITH_DNNL
    cpu_dnnl_close(st);
    cpu_bf16_close(st);
#endif
    cpu_pool_destroy(st->pool);
    cpu_blas_close(&st->blas);
    free(st->half_buf[0]);
    free(st->half_buf[1]);
    for (int i = 0; i < st->ncache; i++) free(st->cache[i].p);
    pthread_mutex_destroy(&st->cache_lock);
    free(st);
}

/* "OpenBLAS 0.3.21 (Zen kernels), 2 threads": what runs, for the host's summary line. */
static const char *cpu_describe(void *st) { return ((const cpu_state *)st)->description; }

/* ---- parallel for -------------------------------------------------------------- */

void cpu_parallel_for(const cpu_state *st, int64_t n, int64_t cost, cpu_span_fn fn,
                      const void *args) {
    if (n <= 0) return;
    int64_t nt = st->threads < n ? st->threads : n;
    if (nt <= 1 || n * cost < CPU_PAR_MIN) {
        fn(args, 0, n);
        return;
    }
    cpu_pool_run(st->pool, n, (int)nt, fn, args);
}

/* ---- memory -------------------------------------------------------------------- */

/* A cached block of at least size bytes and less than one huge page more (best fit), or
 * NULL. */
static void *cache_take(cpu_state *st, size_t size) {
    pthread_mutex_lock(&st->cache_lock);
    int best = -1;
    for (int i = 0; i < st->ncache; i++)
        if (st->cache[i].size >= size && st->cache[i].size - size < CPU_HUGE_PAGE &&
            (best < 0 || st->cache[i].size < st->cache[best].size))
            best = i;
    void *p = NULL;
    if (best >= 0) {
        p = st->cache[best].p;
        st->cache_bytes -= st->cache[best].size;
        st->cache[best] = st->cache[--st->ncache];
    }
    pthread_mutex_unlock(&st->cache_lock);
    return p;
}

/* Keeps a huge-page block for reuse; false when it is not one or the cache is full. */
static bool cache_put(cpu_state *st, void *p) {
    const size_t size = malloc_usable_size(p);
    if (size < CPU_HUGE_PAGE || (uintptr_t)p % CPU_HUGE_PAGE) return false;
    pthread_mutex_lock(&st->cache_lock);
    const bool room = st->ncache < CPU_BLOCK_CACHE && size <= st->cache_cap - st->cache_bytes;
    if (room) {
        st->cache[st->ncache++] = (cpu_block){.p = p, .size = size};
        st->cache_bytes += size;
    }
    pthread_mutex_unlock(&st->cache_lock);
    return room;
}

static void *cpu_alloc(void *state, size_t nbytes) {
    cpu_state *st = state;
    if (nbytes > SIZE_MAX - CPU_ALIGN) return NULL;
    /* aligned_alloc wants a multiple of the alignment; 0 bytes still gets a block so
     * NULL always means out of memory. */
    size_t size = (nbytes + CPU_ALIGN - 1) / CPU_ALIGN * CPU_ALIGN;
    if (nbytes < CPU_HUGE_FROM || nbytes > SIZE_MAX - CPU_HUGE_PAGE)
        return aligned_alloc(CPU_ALIGN, size ? size : CPU_ALIGN);
    /* Large blocks (the flat parameter and gradient buffers, big activations) on whole
     * 2 MB transparent huge pages: one TLB entry instead of 512, and DDP's all-reduce
     * over Open MPI shared memory pins one page instead of hundreds for its single-copy
     * transfer (a lone 0.94 MB all-reduce: ~100 -> ~70 us, bench/RESULTS.md). */
    size = (nbytes + CPU_HUGE_PAGE - 1) / CPU_HUGE_PAGE * CPU_HUGE_PAGE;
    void *p = cache_take(st, size);
    if (p) return p;
    p = aligned_alloc(CPU_HUGE_PAGE, size);
    if (p) madvise(p, size, MADV_HUGEPAGE); /* a hint: without THP, plain pages */
    return p;
}

static void cpu_free(void *st, void *d_ptr) {
    if (d_ptr && cache_put(st, d_ptr)) return;
    free(d_ptr);
}

/* memcpy with NULL pointers is undefined even for 0 bytes, hence the guards. */
static void cpu_memcpy_h2d(void *st, void *d_dst, const void *src, size_t nbytes) {
    (void)st;
    if (nbytes) memcpy(d_dst, src, nbytes);
}

static void cpu_memcpy_d2h(void *st, void *dst, const void *d_src, size_t nbytes) {
    (void)st;
    if (nbytes) memcpy(dst, d_src, nbytes);
}

/* memmove: a copy between views of one storage may overlap. */
static void cpu_memcpy_d2d(void *st, void *d_dst, const void *d_src, size_t nbytes) {
    (void)st;
    if (nbytes) memmove(d_dst, d_src, nbytes);
}

static lt_status cpu_sync(void *st) {
#ifdef CPU_TEST_RANGES
    cpu_test_synced(st);
#endif
    (void)st;
    return LT_OK;
}

/* ---- fill, affine -------------------------------------------------------------- */

typedef struct {
    float *out;
    float value;
} fill_args;

static void fill_span(const void *p, int64_t lo, int64_t hi) {
    const fill_args *a = p;
    float *restrict out = a->out;
    const float v = a->value;
    for (int64_t i = lo; i < hi; i++) out[i] = v;
}

/* zero_grad's fill of the flat gradient buffer (101,770 floats for bench/run's small MLP)
 * ran on the OpenMP team then: a futex wake-up for ~10 us of stores, and at 2 threads on a
 * loaded machine 24% of the epoch spent waiting for the helper (bench/RESULTS.md, #20).
 * A fill is bound by memory bandwidth, which a second thread only adds past the caches,
 * so it stays on the calling thread below 16 MiB; zeros go through memset, which uses the
 * CPU's widest stores (the plugin is built for baseline SSE2). Same bytes either way. */
#define CPU_FILL_PAR_MIN ((int64_t)1 << 22)

static void cpu_fill(void *st, int64_t n, float value, float *d_out) {
    uint32_t bits;
    memcpy(&bits, &value, sizeof bits);
    if (n > 0 && n < CPU_FILL_PAR_MIN && bits == 0) { /* +0.0f only: -0.0f keeps its sign */
        memset(d_out, 0, (size_t)n * sizeof *d_out);
        return;
    }
    const fill_args a = {.out = d_out, .value = value};
    if (n < CPU_FILL_PAR_MIN) {
        if (n > 0) fill_span(&a, 0, n);
        return;
    }
    cpu_parallel_for(st, n, 1, fill_span, &a);
}

typedef struct {
    float *out;
    const float *x;
    float alpha, beta;
} affine_args;

/* out may equal x: element i reads only x[i], so the simd loop stays correct. */
static void affine_span(const void *p, int64_t lo, int64_t hi) {
    const affine_args *a = p;
    float *out = a->out;
    const float *x = a->x;
    const float alpha = a->alpha, beta = a->beta;
#pragma omp simd
    for (int64_t i = lo; i < hi; i++) out[i] = alpha * x[i] + beta;
}

static void cpu_affine(void *st, int64_t n, const float *d_x, float alpha, float beta,
                       float *d_out) {
    const affine_args a = {.out = d_out, .x = d_x, .alpha = alpha, .beta = beta};
    cpu_parallel_for(st, n, 1, affine_span, &a);
}

typedef struct {
    float *out;
    const float *x;
    float lo, hi;
} clamp_args;

static void clamp_span(const void *p, int64_t lo, int64_t hi) {
    const clamp_args *a = p;
    float *out = a->out;
    const float *x = a->x;
    const float l = a->lo, h = a->hi;
#pragma omp simd
    for (int64_t i = lo; i < hi; i++) out[i] = x[i] < l ? l : x[i] > h ? h : x[i];
}

static void cpu_clamp(void *st, int64_t n, const float *d_x, float lo, float hi, float *d_out) {
    const clamp_args a = {.out = d_out, .x = d_x, .lo = lo, .hi = hi};
    cpu_parallel_for(st, n, 1, clamp_span, &a);
}

/* ---- named ranges (the test twin's stand-in for NVTX) ------------------------------ */

#ifdef CPU_TEST_RANGES
static void cpu_range_push(void *st, const char *name) {
    cpu_state *cs = st;
    if (cs->range_log) fprintf(cs->range_log, "push %s\n", name);
}

static void cpu_range_pop(void *st) {
    cpu_state *cs = st;
    if (cs->range_log) fprintf(cs->range_log, "pop\n");
}
#define CPU_RANGE_SLOTS , .range_push = cpu_range_push, .range_pop = cpu_range_pop

/* fakecuda_cpu has the cuda plugin's pinned-buffer, memory-statistics and timer slots
 * (test_timer.c) too, with counters, so the host's paths for them run on any machine: host_alloc is malloc, the
 * statistics count this plugin's allocations (malloc_usable_size), and at shutdown
 * $LT_TEST_HOST_LOG gets "host_alloc A host_free F host_wait W". */
static atomic_llong test_host[3]; /* host_alloc, host_free, host_wait calls */
static atomic_ullong test_bytes, test_peak, test_allocs; /* device allocations */

static void *cpu_test_host_alloc(void *st, size_t nbytes) {
    (void)st;
    void *p = malloc(nbytes ? nbytes : 1);
    if (p) test_host[0]++;
    return p;
}

static void cpu_test_host_free(void *st, void *p) {
    (void)st;
    test_host[1]++;
    free(p);
}

static void cpu_test_host_wait(void *st, void *p) {
    (void)st, (void)p;
    test_host[2]++;
}

static void *cpu_test_alloc(void *st, size_t nbytes) {
    void *p = cpu_alloc(st, nbytes);
    if (!p) return NULL;
    unsigned long long size = malloc_usable_size(p);
    unsigned long long now = atomic_fetch_add(&test_bytes, size) + size;
    unsigned long long peak = atomic_load(&test_peak);
    while (now > peak && !atomic_compare_exchange_weak(&test_peak, &peak, now)) continue;
    test_allocs++;
    return p;
}

static void cpu_test_free(void *st, void *p) {
    if (p) test_bytes -= malloc_usable_size(p);
    cpu_free(st, p);
}

static int cpu_test_memory_stats(void *st, lt_mem_stats *out) {
    (void)st;
    out->allocated_bytes = out->reserved_bytes = atomic_load(&test_bytes);
    out->allocated_peak_bytes = out->reserved_peak_bytes = atomic_load(&test_peak);
    out->num_device_alloc = atomic_load(&test_allocs);
    return 0;
}

static void cpu_test_host_log(void) {
    const char *path = getenv("LT_TEST_HOST_LOG");
    FILE *f = path && *path ? fopen(path, "w") : NULL;
    if (!f) return;
    fprintf(f, "host_alloc %lld host_free %lld host_wait %lld\n", atomic_load(&test_host[0]),
            atomic_load(&test_host[1]), atomic_load(&test_host[2]));
    fclose(f);
}
#define CPU_ALLOC_SLOT cpu_test_alloc
#define CPU_FREE_SLOT cpu_test_free
#define CPU_HOST_SLOTS                                                                             \
    , .host_alloc = cpu_test_host_alloc, .host_free = cpu_test_host_free,                          \
      .host_wait = cpu_test_host_wait, .memory_stats = cpu_test_memory_stats,                      \
      .timer_mark = cpu_test_timer_mark, .timer_elapsed = cpu_test_timer_elapsed
#else
#define CPU_RANGE_SLOTS
#define CPU_ALLOC_SLOT cpu_alloc
#define CPU_FREE_SLOT cpu_free
#define CPU_HOST_SLOTS
#endif

/* ---- the table ----------------------------------------------------------------- */

/* The tests build this table a second time under another name and with host_memory
 * false, as a GPU's would be, so that the host's paths for device memory (copies,
 * staged or device collectives) run and are checked on any machine. */
#ifndef CPU_TEST_NAME
#define CPU_TEST_NAME "cpu"
#define CPU_HOST_MEMORY true
#else
#define CPU_HOST_MEMORY false
#endif
/* The tests' tables that leave slots NULL (-DCPU_TEST_NULL_SLOTS=",.gemm=NULL"): what the
 * loader refuses and what liblt does without an optional slot. */
#ifndef CPU_TEST_NULL_SLOTS
#define CPU_TEST_NULL_SLOTS
#else
#pragma GCC diagnostic ignored "-Woverride-init"
#endif

LT_ACCELERATOR_EXPORT(.name = CPU_TEST_NAME,
                      /* lifecycle */
                      .init = cpu_init, .shutdown = cpu_shutdown,
                      /* memory: plain malloc'd host memory, which collectives may use in place */
                      .host_memory = CPU_HOST_MEMORY, .alloc = CPU_ALLOC_SLOT,
                      .free = CPU_FREE_SLOT, .memcpy_h2d = cpu_memcpy_h2d,
                      .memcpy_d2h = cpu_memcpy_d2h, .memcpy_d2d = cpu_memcpy_d2d, .sync = cpu_sync,
                      /* elementwise (cpu.c, elementwise.c) */
                      .fill = cpu_fill, .affine = cpu_affine, .unary = cpu_unary,
                      .binary = cpu_binary, .clamp = cpu_clamp,
                      /* reductions (reduce.c) */
                      .reduce_sum = cpu_reduce_sum,
                      /* matmul (gemm.c) */
                      .gemm = cpu_gemm, .gemm_batched = cpu_gemm_batched,
                      /* softmax and loss (softmax.c) */
                      .softmax = cpu_softmax, .log_softmax = cpu_log_softmax,
                      .softmax_bwd = cpu_softmax_bwd, .log_softmax_bwd = cpu_log_softmax_bwd,
                      .cross_entropy = cpu_cross_entropy,
                      .cross_entropy_bwd = cpu_cross_entropy_bwd,
                      /* metrics (reduce.c) */
                      .argmax = cpu_argmax, .eq_i64 = cpu_eq_i64,
                      /* optimizers (optim.c) */
                      .sgd_step = cpu_sgd_step, .adam_step = cpu_adam_step,
                      /* mixed precision (amp.c) */
                      .unscale_grads = cpu_unscale_grads, .round_half = cpu_round_half,
                      /* layers: convolution and pooling windows (window.c), dropout
                       * (random.c), batch and layer norm (norm.c) */
                      .im2col = cpu_im2col, .col2im = cpu_col2im, .pool2d = cpu_pool2d,
                      .pool2d_bwd = cpu_pool2d_bwd, .dropout_mask = cpu_dropout_mask,
                      .batch_norm = cpu_batch_norm, .batch_norm_bwd = cpu_batch_norm_bwd,
                      .layer_norm = cpu_layer_norm, .layer_norm_bwd = cpu_layer_norm_bwd,
                      /* what runs (blas.c) */
                      .describe = cpu_describe,
                      /* uint8 / half data (cast.c, #21) */
                      .cast_f32 = cpu_cast_f32,
                      /* tensor manipulation and attention masks (index.c) */
                      .copy_strided = cpu_copy_strided, .gather = cpu_gather,
                      .scatter_add = cpu_scatter_add,
                      .masked_fill = cpu_masked_fill CPU_RANGE_SLOTS CPU_HOST_SLOTS
                          /* direct convolution (dnnl_conv.c) */
                          CPU_CONV_SLOTS CPU_TEST_NULL_SLOTS)
