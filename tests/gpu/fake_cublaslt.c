/* fake_cublaslt.c — a stand-in libcublasLt for cuda_host_check: the calls the cuda
 * plugin's gemm_lt.c makes, on host memory (the fake runtime's device memory), so its
 * transposition and layout mapping, bias epilogue, plan cache and teardown are checked
 * without a GPU.
 *
 * cublasLtMatmul computes D = alpha op(A) op(B) + beta C + bias in column-major order as
 * cuBLAS documents it (the bias is indexed by D's row), from the descriptors alone, in
 * double then rounded: a layout or transposition set up wrongly shows as a wrong result.
 * float32 only; the heuristic finds no algorithm for another type or when the check says
 * so. Every handle, descriptor, layout and preference is counted, so the check sees
 * whether shutdown destroyed them all. Before computing, the fake runtime's queued copies
 * are run through fake_cublaslt_flush, which the check sets. */
#include <stdlib.h>
#include <string.h>

#include <cublasLt.h>

/* What the check reads and sets (dlsym). */
long fake_cublaslt_live;           /* objects not destroyed */
long fake_cublaslt_heuristics;     /* heuristic queries (one per plan built) */
long fake_cublaslt_matmuls;        /* matmuls run */
int fake_cublaslt_no_algo;         /* the heuristic finds nothing */
void (*fake_cublaslt_flush)(void); /* runs the fake runtime's queue */

struct cublasLtContext {
    int unused;
};

/* What the fake keeps inside cuBLAS's opaque storage. */
typedef struct fake_desc {
    cublasComputeType_t compute;
    cudaDataType scale;
    cublasOperation_t op_a, op_b;
    cublasLtEpilogue_t epilogue;
    const float *bias;
} fake_desc;

typedef struct fake_layout {
    cudaDataType type;
    uint64_t rows, cols;
    int64_t ld;
} fake_layout;

_Static_assert(sizeof(fake_desc) <= sizeof(cublasLtMatmulDescOpaque_t), "descriptor fits");
_Static_assert(sizeof(fake_layout) <= sizeof(cublasLtMatrixLayoutOpaque_t), "layout fits");

static fake_desc *desc_of(cublasLtMatmulDesc_t d) { return (fake_desc *)d->data; }
static fake_layout *layout_of(cublasLtMatrixLayout_t l) { return (fake_layout *)l->data; }

static cublasStatus_t make(void **p, size_t size) {
    *p = calloc(1, size);
    if (!*p) return CUBLAS_STATUS_ALLOC_FAILED;
    fake_cublaslt_live++;
    return CUBLAS_STATUS_SUCCESS;
}

static cublasStatus_t drop(void *p) {
    if (!p) return CUBLAS_STATUS_INVALID_VALUE;
    free(p);
    fake_cublaslt_live--;
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasLtCreate(cublasLtHandle_t *h) { return make((void **)h, sizeof **h); }
cublasStatus_t cublasLtDestroy(cublasLtHandle_t h) { return drop(h); }

cublasStatus_t cublasLtMatmulDescCreate(cublasLtMatmulDesc_t *d, cublasComputeType_t compute,
                                        cudaDataType_t scale) {
    cublasStatus_t s = make((void **)d, sizeof **d);
    if (s == CUBLAS_STATUS_SUCCESS)
        *desc_of(*d) =
            (fake_desc){compute, scale, CUBLAS_OP_N, CUBLAS_OP_N, CUBLASLT_EPILOGUE_DEFAULT, NULL};
    return s;
}
cublasStatus_t cublasLtMatmulDescDestroy(cublasLtMatmulDesc_t d) { return drop(d); }

cublasStatus_t cublasLtMatmulDescSetAttribute(cublasLtMatmulDesc_t d,
                                              cublasLtMatmulDescAttributes_t attr, const void *buf,
                                              size_t size) {
    fake_desc *f = desc_of(d);
    switch (attr) {
    case CUBLASLT_MATMUL_DESC_TRANSA:
        if (size != sizeof f->op_a) return CUBLAS_STATUS_INVALID_VALUE;
        memcpy(&f->op_a, buf, size);
        return CUBLAS_STATUS_SUCCESS;
    case CUBLASLT_MATMUL_DESC_TRANSB:
        if (size != sizeof f->op_b) return CUBLAS_STATUS_INVALID_VALUE;
        memcpy(&f->op_b, buf, size);
        return CUBLAS_STATUS_SUCCESS;
    case CUBLASLT_MATMUL_DESC_EPILOGUE:
        if (size != sizeof(uint32_t)) return CUBLAS_STATUS_INVALID_VALUE;
        memcpy(&f->epilogue, buf, size);
        return CUBLAS_STATUS_SUCCESS;
    case CUBLASLT_MATMUL_DESC_BIAS_POINTER:
        if (size != sizeof f->bias) return CUBLAS_STATUS_INVALID_VALUE;
        memcpy(&f->bias, buf, size);
        return CUBLAS_STATUS_SUCCESS;
    default: return CUBLAS_STATUS_NOT_SUPPORTED;
    }
}

cublasStatus_t cublasLtMatrixLayoutCreate(cublasLtMatrixLayout_t *l, cudaDataType type,
                                          uint64_t rows, uint64_t cols, int64_t ld) {
    if (rows < 1 || cols < 1 || ld < (int64_t)rows) return CUBLAS_STATUS_INVALID_VALUE;
    cublasStatus_t s = make((void **)l, sizeof **l);
    if (s == CUBLAS_STATUS_SUCCESS) *layout_of(*l) = (fake_layout){type, rows, cols, ld};
    return s;
}
cublasStatus_t cublasLtMatrixLayoutDestroy(cublasLtMatrixLayout_t l) { return drop(l); }

cublasStatus_t cublasLtMatmulPreferenceCreate(cublasLtMatmulPreference_t *p) {
    return make((void **)p, sizeof **p);
}
cublasStatus_t cublasLtMatmulPreferenceDestroy(cublasLtMatmulPreference_t p) { return drop(p); }
cublasStatus_t cublasLtMatmulPreferenceSetAttribute(cublasLtMatmulPreference_t p,
                                                    cublasLtMatmulPreferenceAttributes_t attr,
                                                    const void *buf, size_t size) {
    (void)p, (void)attr, (void)buf, (void)size;
    return CUBLAS_STATUS_SUCCESS;
}

/* op(X)'s (rows, cols) from its layout. */
static void op_dims(const fake_layout *l, cublasOperation_t op, uint64_t *rows, uint64_t *cols) {
    *rows = op == CUBLAS_OP_N ? l->rows : l->cols;
    *cols = op == CUBLAS_OP_N ? l->cols : l->rows;
}

/* The shapes agree, float32 throughout, D as C: what real cuBLASLt checks too. */
static int consistent(const fake_desc *f, const fake_layout *a, const fake_layout *b,
                      const fake_layout *c, const fake_layout *d) {
    uint64_t ar, ac, br, bc;
    op_dims(a, f->op_a, &ar, &ac);
    op_dims(b, f->op_b, &br, &bc);
    return ac == br && c->rows == ar && c->cols == bc && !memcmp(c, d, sizeof *c) &&
           a->type == CUDA_R_32F && b->type == CUDA_R_32F && c->type == CUDA_R_32F &&
           f->scale == CUDA_R_32F;
}

cublasStatus_t cublasLtMatmulAlgoGetHeuristic(cublasLtHandle_t h, cublasLtMatmulDesc_t desc,
                                              cublasLtMatrixLayout_t a, cublasLtMatrixLayout_t b,
                                              cublasLtMatrixLayout_t c, cublasLtMatrixLayout_t d,
                                              cublasLtMatmulPreference_t pref, int want,
                                              cublasLtMatmulHeuristicResult_t *out, int *found) {
    (void)h, (void)pref;
    fake_cublaslt_heuristics++;
    *found = 0;
    if (want < 1) return CUBLAS_STATUS_INVALID_VALUE;
    if (fake_cublaslt_no_algo ||
        !consistent(desc_of(desc), layout_of(a), layout_of(b), layout_of(c), layout_of(d)))
        return CUBLAS_STATUS_NOT_SUPPORTED; /* what cuBLASLt answers when it has none */
    memset(&out[0], 0, sizeof out[0]);
    out[0].algo.data[0] = 42;
    out[0].state = CUBLAS_STATUS_SUCCESS;
    *found = 1;
    return CUBLAS_STATUS_SUCCESS;
}

/* Element (i, j) of op(X), column-major. */
static double at(const float *x, const fake_layout *l, cublasOperation_t op, uint64_t i,
                 uint64_t j) {
    return op == CUBLAS_OP_N ? x[i + j * (uint64_t)l->ld] : x[j + i * (uint64_t)l->ld];
}

cublasStatus_t cublasLtMatmul(cublasLtHandle_t h, cublasLtMatmulDesc_t desc, const void *alpha,
                              const void *a, cublasLtMatrixLayout_t al, const void *b,
                              cublasLtMatrixLayout_t bl, const void *beta, const void *c,
                              cublasLtMatrixLayout_t cl, void *d, cublasLtMatrixLayout_t dl,
                              const cublasLtMatmulAlgo_t *algo, void *ws, size_t ws_bytes,
                              cudaStream_t stream) {
    (void)h, (void)ws, (void)ws_bytes, (void)stream;
    const fake_desc *f = desc_of(desc);
    const fake_layout *la = layout_of(al), *lb = layout_of(bl), *lc = layout_of(cl);
    if (!consistent(f, la, lb, lc, layout_of(dl)) || !algo || algo->data[0] != 42 ||
        (f->epilogue == CUBLASLT_EPILOGUE_BIAS && !f->bias))
        return CUBLAS_STATUS_INVALID_VALUE;
    if (!fake_cublaslt_flush) return CUBLAS_STATUS_NOT_INITIALIZED;
    fake_cublaslt_flush();
    fake_cublaslt_matmuls++;
    uint64_t rows, inner, cols, unused;
    op_dims(la, f->op_a, &rows, &inner);
    op_dims(lb, f->op_b, &unused, &cols);
    const float al_ = *(const float *)alpha, be = *(const float *)beta;
    for (uint64_t j = 0; j < cols; j++)
        for (uint64_t i = 0; i < rows; i++) {
            double acc = 0;
            for (uint64_t p = 0; p < inner; p++)
                acc += at(a, la, f->op_a, i, p) * at(b, lb, f->op_b, p, j);
            const uint64_t o = i + j * (uint64_t)lc->ld;
            float v = (float)(al_ * acc);
            if (be != 0.0f) v += be * ((const float *)c)[o];
            if (f->epilogue == CUBLASLT_EPILOGUE_BIAS) v += f->bias[i];
            ((float *)d)[o] = v;
        }
    return CUBLAS_STATUS_SUCCESS;
}
