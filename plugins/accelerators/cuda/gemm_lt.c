/* gemm_lt.c — the gemm_bias slot: a linear layer's x W^T + b as one cuBLASLt matmul whose
 * epilogue adds the bias (CUBLASLT_EPILOGUE_BIAS), as torch's addmm does on CUDA, instead
 * of a GEMM and a broadcast add: the add's pass over the output (a read and a write of
 * it) and its launch go away.
 *
 * The epilogue adds the float32 bias to the float32 accumulator and rounds once, as the
 * separate add does; the accumulation order is the algorithm's, as with cublasGemmEx.
 * Operand types and compute modes are gemm.c's (cuda_gemm_plan_for), half inputs its
 * cached copies. Plans (descriptors, layouts, the heuristic's first algorithm) are kept
 * per shape, precision and operand alignment in a small LRU cache, as cudnn.c keeps its
 * convolutions, so a steady-state step asks no heuristic and allocates nothing. The
 * slot declines (liblt then runs gemm and binary) where cuBLASLt is missing, has no
 * algorithm, or refuses the call. */
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

#include <cublasLt.h>

#include "cuda_impl.h"

#define BLASLT_PLANS 16 /* shapes x precisions of a model's linear layers, with room */
#define BLASLT_STR_(x) #x
#define BLASLT_STR(x) BLASLT_STR_(x)

const char *cuda_blaslt_soname = "libcublasLt.so." BLASLT_STR(CUBLAS_VER_MAJOR);

/* Each pointer has the type of the function it stands for. */
typedef struct blaslt_api {
    void *lib;
    __typeof__(&cublasLtCreate) create;
    __typeof__(&cublasLtDestroy) destroy;
    __typeof__(&cublasLtMatmulDescCreate) desc_create;
    __typeof__(&cublasLtMatmulDescDestroy) desc_destroy;
    __typeof__(&cublasLtMatmulDescSetAttribute) desc_set;
    __typeof__(&cublasLtMatrixLayoutCreate) layout_create;
    __typeof__(&cublasLtMatrixLayoutDestroy) layout_destroy;
    __typeof__(&cublasLtMatmulPreferenceCreate) pref_create;
    __typeof__(&cublasLtMatmulPreferenceDestroy) pref_destroy;
    __typeof__(&cublasLtMatmulPreferenceSetAttribute) pref_set;
    __typeof__(&cublasLtMatmulAlgoGetHeuristic) heuristic;
    __typeof__(&cublasLtMatmul) matmul;
} blaslt_api;

/* All int64_t, so no padding: compared with memcmp. */
typedef struct plan_key {
    int64_t m, n, k, lda, ldb, ldc;
    int64_t trans_a, trans_b, in_type, compute;
    int64_t align[4]; /* bytes: A, B, C, bias */
} plan_key;

typedef struct plan {
    plan_key key;
    uint64_t used; /* tick of its last call; 0: empty */
    int usable;    /* 0: the heuristic had no algorithm (the slot declines this key) */
    cublasLtMatmulDesc_t desc;
    cublasLtMatrixLayout_t a, b, c; /* cuBLAS's A (our B), B (our A), C = D */
    cublasLtMatmulAlgo_t algo;
} plan;

struct cuda_blaslt {
    blaslt_api api;
    cublasLtHandle_t handle;
    uint64_t tick;
    plan plans[BLASLT_PLANS];
};

/* ---- loading ------------------------------------------------------------------------- */

static int blaslt_syms(blaslt_api *a) {
    return CUDA_DLSYM(a, create, cublasLtCreate) && CUDA_DLSYM(a, destroy, cublasLtDestroy) &&
           CUDA_DLSYM(a, desc_create, cublasLtMatmulDescCreate) &&
           CUDA_DLSYM(a, desc_destroy, cublasLtMatmulDescDestroy) &&
           CUDA_DLSYM(a, desc_set, cublasLtMatmulDescSetAttribute) &&
           CUDA_DLSYM(a, layout_create, cublasLtMatrixLayoutCreate) &&
           CUDA_DLSYM(a, layout_destroy, cublasLtMatrixLayoutDestroy) &&
           CUDA_DLSYM(a, pref_create, cublasLtMatmulPreferenceCreate) &&
           CUDA_DLSYM(a, pref_destroy, cublasLtMatmulPreferenceDestroy) &&
           CUDA_DLSYM(a, pref_set, cublasLtMatmulPreferenceSetAttribute) &&
           CUDA_DLSYM(a, heuristic, cublasLtMatmulAlgoGetHeuristic) &&
           CUDA_DLSYM(a, matmul, cublasLtMatmul);
}

/* The library and its handle at the first call; NULL when either is missing (the slot
 * then declines for good: blaslt_failed). */
static struct cuda_blaslt *blaslt_ready(cuda_state *st) {
    if (st->blaslt || st->blaslt_failed) return st->blaslt;
    st->blaslt_failed = 1;
    struct cuda_blaslt *l = calloc(1, sizeof *l);
    if (!l) return NULL;
    /* NODELETE, as cuBLAS (gemm.c): a later device finds it mapped. */
    l->api.lib = dlopen(cuda_blaslt_soname, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
    if (!l->api.lib || !blaslt_syms(&l->api) ||
        l->api.create(&l->handle) != CUBLAS_STATUS_SUCCESS) {
        if (l->api.lib) dlclose(l->api.lib);
        free(l);
        return NULL;
    }
    st->blaslt_failed = 0;
    return st->blaslt = l;
}

static void plan_free(struct cuda_blaslt *l, plan *p) {
    if (p->desc) l->api.desc_destroy(p->desc);
    if (p->a) l->api.layout_destroy(p->a);
    if (p->b) l->api.layout_destroy(p->b);
    if (p->c) l->api.layout_destroy(p->c);
    memset(p, 0, sizeof *p);
}

void cuda_blaslt_close(cuda_state *st) {
    struct cuda_blaslt *l = st->blaslt;
    if (!l) return;
    for (int i = 0; i < BLASLT_PLANS; i++) plan_free(l, &l->plans[i]);
    l->api.destroy(l->handle);
    dlclose(l->api.lib);
    free(l);
    st->blaslt = NULL;
}

/* ---- plans ------------------------------------------------------------------------------ */

/* The largest power of two up to 16 dividing the address: what the heuristic may assume. */
static int64_t alignment(const void *p) {
    const uintptr_t a = (uintptr_t)p;
    int64_t b = 16;
    while (b > 1 && a % (uintptr_t)b) b /= 2;
    return b;
}

static int set_attr(struct cuda_blaslt *l, plan *p, cublasLtMatmulDescAttributes_t attr,
                    const void *v, size_t size) {
    return l->api.desc_set(p->desc, attr, v, size) == CUBLAS_STATUS_SUCCESS;
}

/* The layout of a column-major operand whose op is (rows, cols) in the product: stored
 * so unless transposed, (cols, rows) if it is. */
static int layout(struct cuda_blaslt *l, cublasLtMatrixLayout_t *out, cudaDataType type,
                  int64_t rows, int64_t cols, int trans, int64_t ld) {
    return l->api.layout_create(out, type, (uint64_t)(trans ? cols : rows),
                                (uint64_t)(trans ? rows : cols), ld) == CUBLAS_STATUS_SUCCESS;
}

/* Descriptors, layouts and the heuristic's first algorithm for p->key. 0 when a call
 * failed (the slot declines); p->usable = 0 when there was no algorithm. */
static int plan_build(struct cuda_blaslt *l, plan *p) {
    const plan_key *k = &p->key;
    /* Column-major cuBLAS computes our row-major C as C^T (N x M) = op(B)^T op(A)^T: its
     * A is our B, op'd to (N x K), its B our A, op'd to (K x M), as in gemm.c. */
    const cublasOperation_t op_a = k->trans_b ? CUBLAS_OP_T : CUBLAS_OP_N;
    const cublasOperation_t op_b = k->trans_a ? CUBLAS_OP_T : CUBLAS_OP_N;
    const cublasLtEpilogue_t epilogue = CUBLASLT_EPILOGUE_BIAS;
    const cudaDataType in = (cudaDataType)k->in_type;
    if (l->api.desc_create(&p->desc, (cublasComputeType_t)k->compute, CUDA_R_32F) !=
            CUBLAS_STATUS_SUCCESS ||
        !set_attr(l, p, CUBLASLT_MATMUL_DESC_TRANSA, &op_a, sizeof op_a) ||
        !set_attr(l, p, CUBLASLT_MATMUL_DESC_TRANSB, &op_b, sizeof op_b) ||
        !set_attr(l, p, CUBLASLT_MATMUL_DESC_EPILOGUE, &epilogue, sizeof epilogue) ||
        !layout(l, &p->a, in, k->n, k->k, k->trans_b, k->ldb) ||
        !layout(l, &p->b, in, k->k, k->m, k->trans_a, k->lda) ||
        !layout(l, &p->c, CUDA_R_32F, k->n, k->m, 0, k->ldc))
        return 0;
    cublasLtMatmulPreference_t pref;
    if (l->api.pref_create(&pref) != CUBLAS_STATUS_SUCCESS) return 0;
    const uint64_t ws = CUDA_BLAS_WORKSPACE;
    const uint32_t al[4] = {(uint32_t)k->align[1], (uint32_t)k->align[0], (uint32_t)k->align[2],
                            (uint32_t)k->align[2]}; /* cuBLAS's A, B, C, D */
    const cublasLtMatmulPreferenceAttributes_t which[4] = {
        CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES,
        CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES};
    int ok = l->api.pref_set(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws, sizeof ws) ==
             CUBLAS_STATUS_SUCCESS;
    for (int i = 0; ok && i < 4; i++)
        ok = l->api.pref_set(pref, which[i], &al[i], sizeof al[i]) == CUBLAS_STATUS_SUCCESS;
    cublasLtMatmulHeuristicResult_t r;
    int found = 0;
    if (ok && l->api.heuristic(l->handle, p->desc, p->a, p->b, p->c, p->c, pref, 1, &r, &found) !=
                  CUBLAS_STATUS_SUCCESS)
        found = 0;
    l->api.pref_destroy(pref);
    if (!ok) return 0;
    p->usable = found > 0 && r.state == CUBLAS_STATUS_SUCCESS && r.workspaceSize <= ws;
    if (p->usable) p->algo = r.algo;
    return 1;
}

/* The plan for key, built on a miss in the least recently used slot; NULL to decline. */
static plan *plan_for(struct cuda_blaslt *l, const plan_key *key) {
    plan *victim = &l->plans[0];
    for (int i = 0; i < BLASLT_PLANS; i++) {
        plan *p = &l->plans[i];
        if (p->used && !memcmp(&p->key, key, sizeof *key)) {
            p->used = ++l->tick;
            return p->usable ? p : NULL;
        }
        if (p->used < victim->used) victim = p;
    }
    plan_free(l, victim);
    victim->key = *key;
    if (!plan_build(l, victim)) {
        plan_free(l, victim); /* a failed call: asked again next time */
        return NULL;
    }
    victim->used = ++l->tick;
    return victim->usable ? victim : NULL;
}

/* ---- the slot --------------------------------------------------------------------------- */

int cuda_gemm_bias(void *vst, int trans_a, int trans_b, int64_t m, int64_t n, int64_t k,
                   const float *d_a, int64_t lda, const float *d_b, int64_t ldb,
                   const float *d_bias, float *d_c, int64_t ldc) {
    cuda_state *st = vst;
    if (m <= 0 || n <= 0 || k <= 0 || st->error != LT_OK) return 1;
    struct cuda_blaslt *l = blaslt_ready(st);
    if (!l) return 1;
    const cuda_gemm_plan gp = cuda_gemm_plan_for(st);
    const int half = gp.in_type != CUDA_R_32F; /* then A and B are dense copies (gemm.c) */
    const plan_key key = {m,
                          n,
                          k,
                          half ? (trans_a ? m : k) : lda,
                          half ? (trans_b ? k : n) : ldb,
                          ldc,
                          trans_a,
                          trans_b,
                          gp.in_type,
                          gp.compute,
                          {half ? 16 : alignment(d_a), half ? 16 : alignment(d_b), alignment(d_c),
                           alignment(d_bias)}};
    plan *p = plan_for(l, &key);
    if (!p || !set_attr(l, p, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &d_bias, sizeof d_bias)) return 1;
    const void *a = d_a, *b = d_b;
    if (!cuda_gemm_inputs(st, gp, trans_a, trans_b, m, n, k, &a, &lda, &b, &ldb))
        return 0; /* recorded: the step fails at its next sync */
    const float one = 1.0f, zero = 0.0f;
    const cublasStatus_t s =
        l->api.matmul(l->handle, p->desc, &one, b, p->a, a, p->b, &zero, d_c, p->c, d_c, p->c,
                      &p->algo, st->blas_workspace, CUDA_BLAS_WORKSPACE, st->stream);
    if (s != CUBLAS_STATUS_SUCCESS) { /* refused at the call: nothing queued but the casts */
        p->usable = 0;                /* and not asked again for this key */
        return 1;
    }
    return 0;
}
