/* dnnl_matmul.c — the GEMMs of --precision bf16-mixed on the cpu: both operands rounded
 * to bf16 (ties to even, as torch's autocast and the cuda plugin round them), multiplied
 * by oneDNN's matmul with float32 accumulation into a float32 result, on the CPU's bf16
 * units: AMX tiles or AVX512-BF16 dot products (bench/RESULTS.md, a 2-core Xeon with AMX:
 * the matmul at 3-4x its float32 rate, the GEMM-bound MLP's training 2.2x). Offered only
 * where oneDNN runs bf16 natively; elsewhere the cpu refuses bf16-mixed at init, since
 * emulated bf16 would be slower than float32.
 *
 * The rounded operands are dense copies in two buffers grown to the largest GEMM seen;
 * primitives (one per shape, transposition, alpha/beta and batch layout: gemm_batched's
 * products are one primitive over 3-D memory) are kept in a small LRU cache with their
 * memory objects, whose data handles are set per call. oneDNN runs a large product on its
 * OpenMP team of st->threads, as dnnl_conv.c's large convolutions do, and a small one on
 * the calling thread. */
#include <immintrin.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <oneapi/dnnl/dnnl.h>

#include "cpu_impl.h"

#define BF16_PLANS 32 /* shapes x transpositions of a model's matmuls, with room */

/* All int64_t, so no padding: compared with memcmp. */
typedef struct mm_key {
    int64_t m, n, k, ta, tb, ldc;
    int64_t alpha_bits, beta_bits; /* the float's bits: 1 and 0 almost always */
    int64_t batch, stride_c;       /* products; C's spacing (0 for one) */
    int64_t a_once, b_once;        /* 1: every product reads the same A (B) */
} mm_key;

typedef struct mm_plan {
    mm_key key;
    uint64_t used; /* tick of its last call; 0: empty */
    dnnl_primitive_t prim;
    dnnl_memory_t src, wei, dst; /* made without data: handles set per call */
} mm_plan;

struct cpu_bf16 {
    dnnl_engine_t engine;
    dnnl_stream_t stream;
    uint64_t tick;
    uint16_t *buf[2]; /* A and B rounded */
    size_t cap[2];    /* elements */
    mm_plan plans[BF16_PLANS];
};

/* ---- lifecycle ----------------------------------------------------------------------- */

static void plan_free(mm_plan *p) {
    if (p->prim) dnnl_primitive_destroy(p->prim);
    dnnl_memory_t *mem[] = {&p->src, &p->wei, &p->dst};
    for (size_t i = 0; i < sizeof mem / sizeof *mem; i++)
        if (*mem[i]) dnnl_memory_destroy(*mem[i]);
    memset(p, 0, sizeof *p);
}

void cpu_bf16_close(cpu_state *st) {
    struct cpu_bf16 *b = st->bf16;
    if (!b) return;
    for (int i = 0; i < BF16_PLANS; i++) plan_free(&b->plans[i]);
    if (b->stream) dnnl_stream_destroy(b->stream);
    if (b->engine) dnnl_engine_destroy(b->engine);
    free(b->buf[0]);
    free(b->buf[1]);
    free(b);
    st->bf16 = NULL;
}

/* Whether oneDNN runs `want` here (dnnl_cpu_isa_t is a bit set: each ISA includes the
 * bits of the ones it extends; AVX512-BF16 is the first with native bf16, AMX extends it). */
static int has_isa(dnnl_cpu_isa_t want) {
    return ((unsigned)dnnl_get_effective_cpu_isa() & (unsigned)want) == (unsigned)want;
}

lt_status cpu_bf16_open(cpu_state *st) {
    const dnnl_cpu_isa_t isa = dnnl_get_effective_cpu_isa();
    if (!has_isa(dnnl_cpu_isa_avx512_core_bf16))
        return lt_set_error(
            LT_ERR_UNSUPPORTED,
            "the cpu accelerator runs bf16 precisions only on CPUs with AVX512-BF16 "
            "or AMX (oneDNN finds neither here: ISA 0x%x), where bf16 is faster "
            "than float32",
            (unsigned)isa);
    struct cpu_bf16 *b = calloc(1, sizeof *b);
    if (!b) return lt_set_error(LT_ERR_OOM, "cpu accelerator: out of host memory");
    st->bf16 = b;
    if (dnnl_engine_create(&b->engine, dnnl_cpu, 0) != dnnl_success ||
        dnnl_stream_create(&b->stream, b->engine, dnnl_stream_default_flags) != dnnl_success) {
        cpu_bf16_close(st);
        return lt_set_error(LT_ERR_PLUGIN, "cpu accelerator: oneDNN's engine did not open");
    }
    return LT_OK;
}

void cpu_bf16_describe(char *buf, size_t cap) {
    snprintf(buf, cap, ", bf16 matmuls on %s",
             has_isa(dnnl_cpu_isa_avx512_core_amx) ? "AMX" : "AVX512-BF16");
}

/* ---- rounding the operands ---------------------------------------------------------- */

typedef struct round_job {
    const float *x;
    int64_t rows, cols, ld, stride; /* each matrix's; stride: from one to the next */
    uint16_t *out;                  /* dense: the matrices' rows one after another */
} round_job;

/* Rows [lo, hi) sixteen floats at a time by the CPU's own conversion (VCVTNEPS2BF16: ties
 * to even, NaN kept quiet, as cpu_bf16_bits, but denormal inputs become zero), 7x the
 * integer rounding, which GCC does not vectorise. bf16-mixed is offered only where oneDNN
 * runs bf16 natively, so this CPU has the instruction. */
__attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16"))) static void round_rows(
    const void *p, int64_t lo, int64_t hi) {
    const round_job *j = p;
    for (int64_t r = lo; r < hi; r++) {
        const float *x = j->x + r / j->rows * j->stride + r % j->rows * j->ld;
        uint16_t *o = j->out + r * j->cols;
        for (int64_t c = 0; c < j->cols; c += 16) {
            const __mmask16 m = j->cols - c >= 16 ? 0xffff : (__mmask16)((1u << (j->cols - c)) - 1);
            const __m256bh h = _mm512_cvtneps_pbh(_mm512_maskz_loadu_ps(m, x + c));
            _mm256_mask_storeu_epi16(o + c, m, (__m256i)h);
        }
    }
}

/* `count` (rows, cols) matrices at x, x + stride, ... (leading dimension ld) rounded into
 * buffer `which`, dense; NULL when out of memory. */
static const uint16_t *rounded(cpu_state *st, int which, const float *x, int64_t count,
                               int64_t stride, int64_t rows, int64_t cols, int64_t ld) {
    struct cpu_bf16 *b = st->bf16;
    const size_t n = (size_t)count * (size_t)rows * (size_t)cols;
    if (n > b->cap[which]) {
        uint16_t *grown = realloc(b->buf[which], n * sizeof *grown);
        if (!grown) return NULL;
        b->buf[which] = grown, b->cap[which] = n;
    }
    const round_job j = {x, rows, cols, ld, stride, b->buf[which]};
    cpu_parallel_for(st, count * rows, cols, round_rows, &j);
    return b->buf[which];
}

/* ---- plans ------------------------------------------------------------------------------ */

/* `count` (rows, cols) matrices `stride` apart, each stored row-major, or transposed
 * (stored (cols, rows)); count 1 also stands for one matrix read by every product. */
static int md_of(dnnl_memory_desc_t *md, int64_t count, int64_t stride, int64_t rows, int64_t cols,
                 int trans, int64_t ld, dnnl_data_type_t type) {
    const dnnl_dims_t dims = {count, rows, cols};
    const dnnl_dims_t strides = {count > 1 ? stride : rows * cols, trans ? 1 : ld, trans ? ld : 1};
    return dnnl_memory_desc_init_by_strides(md, 3, dims, type, strides) == dnnl_success;
}

/* The primitive's team: a product under gemm.c's team threshold runs on the calling thread
 * alone. Waking oneDNN's OpenMP team costs more than it saves there, and the team races
 * our pool's spinning workers (a batched matmul of attention's heads ran at a fifth of the
 * rate). */
static int team_of(const cpu_state *st, const mm_key *k) {
    const double work = (double)k->batch * (double)k->m * (double)k->n * (double)k->k;
    return work < CPU_GEMM_SERIAL_WORK ? 1 : st->threads;
}

static int plan_build(cpu_state *st, mm_plan *p, const mm_key *k, float alpha, float beta) {
    struct cpu_bf16 *b = st->bf16;
    dnnl_memory_desc_t a, w, c;
    /* The rounded copies are dense: A (m, k) or, transposed, (k, m); B (k, n) or (n, k). */
    const int64_t na = k->a_once ? 1 : k->batch, nb = k->b_once ? 1 : k->batch;
    if (!md_of(&a, na, k->m * k->k, k->m, k->k, (int)k->ta, k->ta ? k->m : k->k, dnnl_bf16) ||
        !md_of(&w, nb, k->k * k->n, k->k, k->n, (int)k->tb, k->tb ? k->k : k->n, dnnl_bf16) ||
        !md_of(&c, k->batch, k->stride_c, k->m, k->n, 0, k->ldc, dnnl_f32))
        return 0;
    dnnl_matmul_desc_t md;
    dnnl_primitive_attr_t attr = NULL;
    dnnl_post_ops_t po = NULL;
    dnnl_primitive_desc_t pd = NULL;
    int ok = dnnl_matmul_desc_init(&md, &a, &w, NULL, &c) == dnnl_success &&
             dnnl_primitive_attr_create(&attr) == dnnl_success &&
             (alpha == 1.0f ||
              dnnl_primitive_attr_set_output_scales(attr, 1, 0, &alpha) == dnnl_success) &&
             dnnl_post_ops_create(&po) == dnnl_success &&
             (beta == 0.0f || dnnl_post_ops_append_sum(po, beta) == dnnl_success) &&
             dnnl_primitive_attr_set_post_ops(attr, po) == dnnl_success;
    omp_set_num_threads(team_of(st, k)); /* oneDNN sizes the primitive's team from this */
    ok = ok && dnnl_primitive_desc_create(&pd, &md, attr, b->engine, NULL) == dnnl_success &&
         dnnl_primitive_create(&p->prim, pd) == dnnl_success &&
         dnnl_memory_create(&p->src, &a, b->engine, DNNL_MEMORY_NONE) == dnnl_success &&
         dnnl_memory_create(&p->wei, &w, b->engine, DNNL_MEMORY_NONE) == dnnl_success &&
         dnnl_memory_create(&p->dst, &c, b->engine, DNNL_MEMORY_NONE) == dnnl_success;
    if (pd) dnnl_primitive_desc_destroy(pd);
    if (po) dnnl_post_ops_destroy(po);
    if (attr) dnnl_primitive_attr_destroy(attr);
    return ok;
}

/* The plan for key, built in the least recently used slot on a miss; NULL to decline. */
static mm_plan *plan_for(cpu_state *st, const mm_key *key, float alpha, float beta) {
    struct cpu_bf16 *b = st->bf16;
    mm_plan *victim = &b->plans[0];
    for (int i = 0; i < BF16_PLANS; i++) {
        mm_plan *p = &b->plans[i];
        if (p->used && !memcmp(&p->key, key, sizeof *key)) {
            p->used = ++b->tick;
            return p;
        }
        if (p->used < victim->used) victim = p;
    }
    plan_free(victim);
    if (!plan_build(st, victim, key, alpha, beta)) {
        plan_free(victim);
        return NULL;
    }
    victim->key = *key;
    victim->used = ++b->tick;
    return victim;
}

static int64_t float_bits(float x) {
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    return u;
}

/* ---- the GEMM ----------------------------------------------------------------------------- */

/* Plan p on the rounded copies and C: 0, or 1 when oneDNN refused (C untouched). */
static int plan_run(cpu_state *st, const mm_plan *p, const uint16_t *ra, const uint16_t *rb,
                    float *c) {
    if (dnnl_memory_set_data_handle(p->src, (void *)ra) != dnnl_success ||
        dnnl_memory_set_data_handle(p->wei, (void *)rb) != dnnl_success ||
        dnnl_memory_set_data_handle(p->dst, c) != dnnl_success)
        return 1;
    dnnl_exec_arg_t args[3] = {
        {DNNL_ARG_SRC, p->src}, {DNNL_ARG_WEIGHTS, p->wei}, {DNNL_ARG_DST, p->dst}};
    omp_set_num_threads(team_of(st, &p->key));
    return dnnl_primitive_execute(p->prim, st->bf16->stream, 3, args) == dnnl_success &&
                   dnnl_stream_wait(st->bf16->stream) == dnnl_success
               ? 0
               : 1;
}

int cpu_bf16_gemm_batched(cpu_state *st, int ta, int tb, int64_t m, int64_t n, int64_t k,
                          float alpha, const float *a, int64_t lda, int64_t stride_a,
                          const float *b, int64_t ldb, int64_t stride_b, float beta, float *c,
                          int64_t ldc, int64_t stride_c, int64_t batch) {
    if (!st->bf16 || m <= 0 || n <= 0 || k <= 0 || batch <= 0) return 1;
    /* one copy where every product reads the same matrix */
    const int64_t a_count = batch > 1 && stride_a != 0 ? batch : 1;
    const int64_t b_count = batch > 1 && stride_b != 0 ? batch : 1;
    const mm_key key = {.m = m,
                        .n = n,
                        .k = k,
                        .ta = ta,
                        .tb = tb,
                        .ldc = ldc,
                        .alpha_bits = float_bits(alpha),
                        .beta_bits = float_bits(beta),
                        .batch = batch,
                        .stride_c = batch > 1 ? stride_c : 0,
                        .a_once = a_count == 1,
                        .b_once = b_count == 1};
    const mm_plan *p = plan_for(st, &key, alpha, beta);
    const uint16_t *ra =
        p ? rounded(st, 0, a, a_count, stride_a, ta ? k : m, ta ? m : k, lda) : NULL;
    const uint16_t *rb =
        ra ? rounded(st, 1, b, b_count, stride_b, tb ? n : k, tb ? k : n, ldb) : NULL;
    return rb ? plan_run(st, p, ra, rb, c) : 1;
}

int cpu_bf16_gemm(cpu_state *st, int ta, int tb, int64_t m, int64_t n, int64_t k, float alpha,
                  const float *a, int64_t lda, const float *b, int64_t ldb, float beta, float *c,
                  int64_t ldc) {
    return cpu_bf16_gemm_batched(st, ta, tb, m, n, k, alpha, a, lda, 0, b, ldb, 0, beta, c, ldc, 0,
                                 1);
}
