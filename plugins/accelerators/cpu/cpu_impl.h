/* cpu_impl.h — what the files of the CPU accelerator share: the device state, the
 * parallel-for helper every kernel runs through, and the kernels each file hands to the
 * table in cpu.c. Nothing here is exported from the plugin (-fvisibility=hidden).
 *
 * Threading rule: a kernel splits its work into contiguous spans with cpu_parallel_for.
 * Every kernel computes each output element the same way whatever the split, so results
 * do not depend on the thread count, let alone differ run to run. */
#ifndef LT_CPU_IMPL_H
#define LT_CPU_IMPL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <cblas.h>
#include <lt/accelerator.h>

/* Below this much work (elements touched) a kernel runs on the calling thread: handing
 * chunks to the workers costs microseconds, more than a small loop (batch-64 MLP tensors). */
#define CPU_PAR_MIN 32768

/* Below this many multiply-adds a GEMM runs on one thread. OpenBLAS's threaded path
 * costs a heap buffer and a team wake-up per call, which at batch-64 MLP sizes made a
 * 2-thread epoch 3x slower than a 1-thread one (bench/RESULTS.md). */
#ifndef CPU_GEMM_SERIAL_WORK
#define CPU_GEMM_SERIAL_WORK (1 << 25)
#endif
/* From this many multiply-adds up to CPU_GEMM_SERIAL_WORK, gemm.c cuts C into blocks,
 * each a single-threaded call on the pool's threads. */
#ifndef CPU_GEMM_SPLIT_WORK
#define CPU_GEMM_SPLIT_WORK (1 << 20)
#endif

/* ---- blas_core.c: which OpenBLAS kernels the CPU runs (pure: unit-tested) ---- */

/* What cpuid says the CPU has and the OS saves (xgetbv); false off x86. */
typedef struct cpu_isa {
    bool amd; /* AuthenticAMD or HygonGenuine: OpenBLAS's Zen kernels over Haswell's */
    bool avx, avx2, fma, fma4;
    bool avx512f, avx512bw, avx512vl, avx512dq, avx512cd, avx512_bf16;
    bool amx_bf16;
} cpu_isa;

/* The instruction sets OpenBLAS's cores need, in order. */
typedef enum {
    CPU_ISA_SSE3,
    CPU_ISA_AVX,
    CPU_ISA_AVX2,        /* with FMA */
    CPU_ISA_AVX512,      /* F, BW, VL, DQ and CD: OpenBLAS's SkylakeX */
    CPU_ISA_AVX512_BF16, /* Cooperlake */
    CPU_ISA_AMX,         /* AMX-BF16 tiles: SapphireRapids */
    CPU_ISA_COUNT
} cpu_isa_level;

/* The highest level the CPU runs, and its name ("AVX2 and FMA"). */
cpu_isa_level cpu_isa_best(const cpu_isa *f);
const char *cpu_isa_level_name(cpu_isa_level level);
/* The OpenBLAS core with the fastest sgemm the CPU runs ("SkylakeX", "Zen", ...). */
const char *cpu_blas_best_core(const cpu_isa *f);
/* The core to force instead of OpenBLAS's own pick `own`, or NULL to keep it: its pick
 * stands unless it is a generic fallback below the CPU's level (Prescott on an AVX-512
 * Xeon); a name unknown here (a newer OpenBLAS's) stands too. */
const char *cpu_blas_choose_core(const char *own, const cpu_isa *f);
/* NULL when the CPU runs `core`'s kernels (or core is NULL or unknown), else what they
 * need that it lacks ("AVX-512 F/BW/VL/DQ/CD"). */
const char *cpu_blas_core_needs(const char *core, const cpu_isa *f);

/* ---- blas.c: OpenBLAS, loaded with the chosen kernels ---- */

typedef void (*cpu_sgemm_fn)(enum CBLAS_ORDER, enum CBLAS_TRANSPOSE, enum CBLAS_TRANSPOSE,
                             blasint m, blasint n, blasint k, float alpha, const float *a,
                             blasint lda, const float *b, blasint ldb, float beta, float *c,
                             blasint ldc);

typedef struct cpu_blas {
    void *lib; /* dlopen handle of OpenBLAS */
    cpu_sgemm_fn sgemm;
    void (*set_num_threads)(int);
    char *(*get_corename)(void);
    char *(*get_config)(void);
    cpu_isa isa;
    char line[320]; /* "OpenBLAS 0.3.21 (Zen kernels)" and why those */
} cpu_blas;

/* Detect the CPU's features into f. */
void cpu_isa_detect(cpu_isa *f);
/* Load OpenBLAS with the kernels blas_core.c chooses (or OPENBLAS_CORETYPE's, refused
 * when the CPU cannot run them); sets lt_last_error on failure. */
lt_status cpu_blas_open(cpu_blas *b);
void cpu_blas_close(cpu_blas *b);

/* ---- gemm_small.c: unpacked GEMM kernels for small shapes ---- */

typedef enum { CPU_SMALL_NONE, CPU_SMALL_AVX2, CPU_SMALL_AVX512 } cpu_small_isa;

/* The tiles to use on this CPU given $LT_CPU_GEMM (env), or -1 with a one-line error in
 * why when env is unknown or names tiles the CPU cannot run. */
int cpu_small_choose(const cpu_isa *f, const char *env, char *why, size_t cap);
const char *cpu_small_isa_name(cpu_small_isa isa);
/* Whether the small kernels compute this whole GEMM (its shape and operands, not a
 * block's). */
bool cpu_small_gemm_takes(cpu_small_isa isa, int ta, int tb, int64_t m, int64_t n, int64_t k,
                          const float *a, int64_t lda, const float *b, int64_t ldb);
/* Row-major C(m, n) = alpha op(A) op(B) + beta C, for a shape cpu_small_gemm_takes. */
void cpu_small_gemm(cpu_small_isa isa, int ta, int tb, int64_t m, int64_t n, int64_t k, float alpha,
                    const float *a, int64_t lda, const float *b, int64_t ldb, float beta, float *c,
                    int64_t ldc);

enum { CPU_HALF_NONE, CPU_HALF_FP16, CPU_HALF_BF16 };

/* float32 to bf16 bits: add half an ulp of the kept part (minus one when the kept lsb is
 * 0: ties to even) and cut; carries into the exponent are right, up to inf. A NaN stays a
 * (quiet) NaN. dnnl_matmul.c's conversion instruction gives the same bits but for
 * denormal inputs, which it reads as zero. */
static inline uint16_t cpu_bf16_bits(float x) {
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    const uint32_t nan = u | 0x00400000u, rounded = u + 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)((x != x ? nan : rounded) >> 16); /* a select: loops of it vectorise */
}

/* Large blocks freed by the host, kept for the next step's same-size allocation: the
 * arena releases every activation at each reset, and handing them back to the kernel
 * made every step fault (and zero, and compact for huge pages) them in again. A step's
 * activations are the bound: chargpt's are 1.2 GB in ~1,000 blocks, and a cache of 128
 * blocks and 1 GB made a fifth of its step the kernel clearing pages (bench/RESULTS.md).
 * Up to half the machine's memory is kept (cpu.c). */
#define CPU_BLOCK_CACHE 4096
typedef struct cpu_block {
    void *p;
    size_t size; /* bytes, a multiple of the huge page */
} cpu_block;

typedef struct cpu_pool cpu_pool;

typedef struct cpu_state {
    int threads;         /* thread budget shared by OpenBLAS, oneDNN and our loops */
    cpu_pool *pool;      /* our loops' workers (pool.c); NULL with one thread */
    int blas_threads;    /* what OpenBLAS is set to now */
    cpu_small_isa small; /* gemm_small.c's tiles for small GEMMs; NONE: OpenBLAS only */
    /* Mixed precision's GEMM inputs rounded to fp16 or bf16 into these buffers first:
     * the test twin's emulation (CPU_EMULATE_HALF), and the real plugin's bf16-mixed when
     * oneDNN declines a GEMM. CPU_HALF_NONE in 32-true. */
    int half;
    float *half_buf[2];
    size_t half_cap[2]; /* floats */
    /* The test twin's named ranges (CPU_TEST_RANGES): one line per push and pop into
     * $LT_TEST_RANGE_LOG, so the e2e tests see what a GPU timeline would. NULL: none. */
    void *range_log; /* FILE * */
    /* The test twin's emulated device timer (test_timer.c); NULL until the first mark. */
    struct cpu_test_timer *timer;
    cpu_blas blas;
    struct cpu_dnnl *dnnl;      /* oneDNN's engine and primitive cache (dnnl_conv.c); NULL: none */
    struct cpu_bf16 *bf16;      /* bf16-mixed's oneDNN matmuls (dnnl_matmul.c); NULL: none */
    char description[400];      /* the describe slot's line */
    pthread_mutex_t cache_lock; /* alloc and free may come from the host's threads */
    cpu_block cache[CPU_BLOCK_CACHE];
    int ncache;
    size_t cache_bytes, cache_cap; /* held, and the most to hold: half the physical memory */
} cpu_state;

/* The test twin's timer slots and counters (test_timer.c, CPU_TEST_RANGES only). */
int cpu_test_timer_mark(void *st, uint32_t m);
int cpu_test_timer_elapsed(void *st, uint32_t from, uint32_t to, double *ms);
/* sync was called: every mark so far is reached. */
void cpu_test_synced(cpu_state *cs);
/* Free the marks and write $LT_TEST_TIMER_LOG (shutdown). */
void cpu_test_timer_log(cpu_state *cs);

/* fn(args, lo, hi) handles items [lo, hi). */
/* Compiled for the CPU's widest vectors, chosen once at load (GCC's function
 * multi-versioning): the plugin is built for baseline x86-64 (SSE2), and loops such as
 * Adam's sqrt and divisions or Philox's multiplies are bound by vector width. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define CPU_WIDEST __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define CPU_WIDEST
#endif

/* Kernels written in AVX-512 intrinsics (gemm_small.c, random.c, window.c) are compiled
 * for it function by function, and run only where st->blas.isa.avx512f says the CPU and
 * the OS have it. */
#if defined(__x86_64__) && defined(__GNUC__)
#define CPU_AVX512_BUILT 1
#define CPU_AVX512 __attribute__((target("avx512f")))
#else
#define CPU_AVX512_BUILT 0
#endif

typedef void (*cpu_span_fn)(const void *args, int64_t lo, int64_t hi);

/* ---- pool.c: the worker threads cpu_parallel_for runs on ---- */

/* Chunks a job is cut into per thread, claimed one at a time (pool.c). */
#define CPU_CHUNKS_PER_THREAD 4

/* threads - 1 workers that spin briefly (yielding) between jobs, then sleep; NULL when
 * threads < 2 or none could start. */
cpu_pool *cpu_pool_create(int threads);
void cpu_pool_destroy(cpu_pool *p);
/* fn over [0, n) as nt * CPU_CHUNKS_PER_THREAD chunks (fixed by n and nt), each run by
 * whichever thread claims it, the caller included; all inline when p is NULL, busy with
 * another thread's job, called from inside a job, or while the workers run late. */
void cpu_pool_run(cpu_pool *p, int64_t n, int nt, cpu_span_fn fn, const void *args);

/* Run fn over items [0, n), each costing about `cost` elements of work: inline when the
 * total is small, else in chunks on the pool. (cpu.c) */
void cpu_parallel_for(const cpu_state *st, int64_t n, int64_t cost, cpu_span_fn fn,
                      const void *args);

/* ---- elementwise.c ---- */
void cpu_unary(void *st, lt_unary_op op, int64_t n, const float *d_x, float *d_out);
void cpu_binary(void *st, lt_binary_op op, int64_t n, const float *d_a, const float *d_b,
                float *d_out, const lt_bcast *bc);

/* ---- reduce.c ---- */
void cpu_reduce_sum(void *st, int64_t outer, int64_t mid, int64_t inner, const float *d_in,
                    float scale, float *d_out);
void cpu_argmax(void *st, int64_t rows, int64_t cols, const float *d_x, int64_t *d_idx);
void cpu_eq_i64(void *st, int64_t n, const int64_t *d_a, const int64_t *d_b, float *d_out);

/* ---- gemm.c ---- */
void cpu_gemm(void *st, int trans_a, int trans_b, int64_t m, int64_t n, int64_t k, float alpha,
              const float *d_a, int64_t lda, const float *d_b, int64_t ldb, float beta, float *d_c,
              int64_t ldc);
int cpu_gemm_batched(void *st, int trans_a, int trans_b, int64_t m, int64_t n, int64_t k,
                     float alpha, const float *d_a, int64_t lda, int64_t stride_a, const float *d_b,
                     int64_t ldb, int64_t stride_b, float beta, float *d_c, int64_t ldc,
                     int64_t stride_c, int64_t batch);

/* ---- softmax.c ---- */
void cpu_softmax(void *st, int64_t rows, int64_t cols, const float *d_x, float *d_y);
void cpu_log_softmax(void *st, int64_t rows, int64_t cols, const float *d_x, float *d_y);
void cpu_softmax_bwd(void *st, int64_t rows, int64_t cols, const float *d_y, const float *d_dy,
                     float *d_dx);
void cpu_log_softmax_bwd(void *st, int64_t rows, int64_t cols, const float *d_y, const float *d_dy,
                         float *d_dx);
int64_t cpu_cross_entropy(void *st, int64_t rows, int64_t cols, const float *d_x,
                          const int64_t *d_label, float *d_loss, float *d_prob);
void cpu_cross_entropy_bwd(void *st, int64_t rows, int64_t cols, const float *d_prob,
                           const int64_t *d_label, const float *d_dloss, float *d_dx);

/* ---- optim.c ---- */
void cpu_sgd_step(void *st, int64_t n, float *d_p, const float *d_g, float *d_buf,
                  const lt_sgd_hyper *h);
void cpu_adam_step(void *st, int64_t n, float *d_p, const float *d_g, float *d_m, float *d_v,
                   const lt_adam_hyper *h);

/* ---- amp.c ---- */
void cpu_unscale_grads(void *st, int64_t n, float *d_g, float inv_scale, float *d_found_inf);
void cpu_round_half(void *st, int64_t n, const float *d_x, int bf16, float *d_out);
/* ---- cast.c (uint8 / half data, #21) ---- */
void cpu_cast_f32(void *st, int64_t n, int src_dtype, const void *d_src, float divisor,
                  float *d_out);
/* d_x (n floats), or a copy rounded to cs->half's format in buffer `which` (0: A, 1: B). */
const float *cpu_half_input(cpu_state *cs, int which, const float *d_x, int64_t n);

/* ---- window.c ---- */
void cpu_im2col(void *st, const lt_window2d *g, const float *d_x, float *d_col);
void cpu_col2im(void *st, const lt_window2d *g, const float *d_col, float *d_x);
void cpu_pool2d(void *st, lt_pool_mode mode, const lt_window2d *g, const float *d_x, float *d_y,
                int64_t *d_idx);
void cpu_pool2d_bwd(void *st, lt_pool_mode mode, const lt_window2d *g, const float *d_dy,
                    const int64_t *d_idx, float *d_dx);

/* ---- norm.c ---- */
void cpu_batch_norm(void *st, int64_t n, int64_t c, int64_t l, const float *d_x, const float *d_w,
                    const float *d_b, double eps, float *d_y, float *d_mean, float *d_var);
void cpu_batch_norm_bwd(void *st, int64_t n, int64_t c, int64_t l, const float *d_x,
                        const float *d_dy, const float *d_mean, const float *d_var,
                        const float *d_w, double eps, float *d_dx, float *d_dw, float *d_db);
void cpu_layer_norm(void *st, int64_t rows, int64_t d, const float *d_x, const float *d_w,
                    const float *d_b, double eps, float *d_y, float *d_mean, float *d_rstd);
void cpu_layer_norm_bwd(void *st, int64_t rows, int64_t d, const float *d_x, const float *d_dy,
                        const float *d_mean, const float *d_rstd, const float *d_w, float *d_dx,
                        float *d_dw, float *d_db);

/* ---- random.c ---- */
void cpu_dropout_mask(void *st, int64_t n, double p, uint64_t seed, uint64_t stream, float *d_mask);

/* ---- index.c: tensor manipulation (issue 19, text models) ---- */
void cpu_copy_strided(void *st, const lt_strided *g, const float *d_src, float *d_dst);
int64_t cpu_gather(void *st, const lt_gather_geom *g, const float *d_x, const int64_t *d_idx,
                   float *d_out);
void cpu_scatter_add(void *st, const lt_gather_geom *g, const float *d_dy, const int64_t *d_idx,
                     int64_t skip, float *d_dx);
void cpu_masked_fill(void *st, int64_t n, const float *d_x, const float *d_mask, float value,
                     float *d_out, const lt_bcast *bc);

/* ---- dnnl_conv.c: direct convolution through oneDNN (built when libdnnl is found) ---- */
#ifdef CPU_WITH_DNNL
/* The directions (bits: 1 forward, 4 backward data, 8 backward weights) that run in
 * oneDNN unless LT_CPU_DNNL says otherwise. */
#ifndef CPU_DNNL_DEFAULT_DIRS
#define CPU_DNNL_DEFAULT_DIRS 13u
#endif
/* Open the engine (on failure st->dnnl stays NULL and every conv slot declines). */
void cpu_dnnl_open(cpu_state *st);
void cpu_dnnl_close(cpu_state *st);
/* What runs in oneDNN, for the describe line ("" when nothing). */
void cpu_dnnl_describe(const cpu_state *st, char *buf, size_t cap);
/* --precision bf16-mixed (dnnl_matmul.c): LT_ERR_UNSUPPORTED (an error set) unless oneDNN
 * runs bf16 natively here; cpu_bf16_gemm is cpu_gemm's bf16 path, 0 when it wrote C and
 * 1 when it declined (having written nothing). */
lt_status cpu_bf16_open(cpu_state *st);
void cpu_bf16_close(cpu_state *st);
/* ", bf16 matmuls on AMX" (or AVX512-BF16), for the describe line. */
void cpu_bf16_describe(char *buf, size_t cap);
int cpu_bf16_gemm(cpu_state *st, int ta, int tb, int64_t m, int64_t n, int64_t k, float alpha,
                  const float *a, int64_t lda, const float *b, int64_t ldb, float beta, float *c,
                  int64_t ldc);
/* cpu_gemm_batched's bf16 path: one oneDNN matmul over the batch. */
int cpu_bf16_gemm_batched(cpu_state *st, int ta, int tb, int64_t m, int64_t n, int64_t k,
                          float alpha, const float *a, int64_t lda, int64_t stride_a,
                          const float *b, int64_t ldb, int64_t stride_b, float beta, float *c,
                          int64_t ldc, int64_t stride_c, int64_t batch);
int cpu_conv2d(void *st, const lt_window2d *g, int64_t groups, int64_t o, const float *d_x,
               const float *d_w, const float *d_b, float *d_y);
int cpu_conv2d_bwd_data(void *st, const lt_window2d *g, int64_t groups, int64_t o,
                        const float *d_dy, const float *d_w, float *d_dx);
int cpu_conv2d_bwd_weights(void *st, const lt_window2d *g, int64_t groups, int64_t o,
                           const float *d_x, const float *d_dy, float *d_dw, float *d_db);
#define CPU_CONV_SLOTS                                                                             \
    , .conv2d = cpu_conv2d, .conv2d_bwd_data = cpu_conv2d_bwd_data,                                \
      .conv2d_bwd_weights = cpu_conv2d_bwd_weights
#else
#define CPU_CONV_SLOTS
#endif

#endif
