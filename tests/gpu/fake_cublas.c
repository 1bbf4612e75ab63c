/* fake_cublas.c — a stand-in libcublas for cuda_host_check: the calls the cuda plugin's
 * gemm.c makes (the gemm and gemm_batched slots), on host memory (the fake runtime's
 * device memory), so their row-major to column-major mapping, leading dimensions, batch
 * strides and half-precision copies are checked without a GPU.
 *
 * cublasGemmEx and cublasGemmStridedBatchedEx compute C = alpha op(A) op(B) + beta C in
 * column-major order as cuBLAS documents them, with its argument checks (leading
 * dimensions, type and compute-type pairs): each element's sum in double, rounded, times
 * alpha, plus beta C read only when beta is not 0. A and B may be float32, fp16 or bf16
 * (decoded exactly); C is float32. The last call's types are kept for the check, and
 * handles are counted so it sees shutdown destroy them. Before computing, the fake
 * runtime's queued copies are run through fake_cublas_flush, which the check sets. */
#include <stdlib.h>
#include <string.h>

#include <cublas_v2.h>
#include <lt/tensor.h>

/* What the check reads and sets (dlsym). */
long fake_cublas_live;              /* handles not destroyed */
long fake_cublas_gemms;             /* cublasGemmEx calls that computed */
long fake_cublas_batched;           /* cublasGemmStridedBatchedEx calls that computed */
int fake_cublas_refuse;             /* the next call answers NOT_SUPPORTED */
cudaDataType fake_cublas_last_type; /* A's and B's type in the last call */
cublasComputeType_t fake_cublas_last_compute;
void (*fake_cublas_flush)(void); /* runs the fake runtime's queue */

struct cublasContext {
    cudaStream_t stream;
    void *workspace;
};

cublasStatus_t cublasCreate_v2(cublasHandle_t *h) {
    *h = calloc(1, sizeof **h);
    if (!*h) return CUBLAS_STATUS_ALLOC_FAILED;
    fake_cublas_live++;
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasDestroy_v2(cublasHandle_t h) {
    if (!h) return CUBLAS_STATUS_NOT_INITIALIZED;
    free(h);
    fake_cublas_live--;
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasSetStream_v2(cublasHandle_t h, cudaStream_t s) {
    if (!h) return CUBLAS_STATUS_NOT_INITIALIZED;
    h->stream = s;
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasSetWorkspace_v2(cublasHandle_t h, void *ws, size_t bytes) {
    if (!h) return CUBLAS_STATUS_NOT_INITIALIZED;
    if (bytes && !ws) return CUBLAS_STATUS_INVALID_VALUE;
    h->workspace = ws;
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasGetVersion_v2(cublasHandle_t h, int *version) {
    if (!h) return CUBLAS_STATUS_NOT_INITIALIZED;
    *version = 130100; /* cuBLAS 13.1.0 */
    return CUBLAS_STATUS_SUCCESS;
}

const char *cublasGetStatusString(cublasStatus_t s) {
    return s == CUBLAS_STATUS_SUCCESS ? "CUBLAS_STATUS_SUCCESS" : "CUBLAS_STATUS_FAKE_ERROR";
}

/* A matrix operand as cuBLAS reads it: column-major, ld apart, of one type. */
typedef struct operand {
    const void *p;
    cudaDataType type;
    int64_t ld;
    cublasOperation_t op;
} operand;

static double element(const operand *x, int64_t offset) {
    switch (x->type) {
    case CUDA_R_16F: return lt_f16_to_f32(((const uint16_t *)x->p)[offset]);
    case CUDA_R_16BF: return lt_bf16_to_f32(((const uint16_t *)x->p)[offset]);
    default: return ((const float *)x->p)[offset];
    }
}

/* Element (i, j) of op(X). */
static double at(const operand *x, int64_t i, int64_t j) {
    return element(x, x->op == CUBLAS_OP_N ? i + j * x->ld : j + i * x->ld);
}

/* The pairs cuBLAS's GemmEx table lists for these operand types with a float32 C. */
static int supported(cudaDataType ab, cudaDataType c, cublasComputeType_t compute) {
    if (c != CUDA_R_32F) return 0;
    if (ab == CUDA_R_32F)
        return compute == CUBLAS_COMPUTE_32F || compute == CUBLAS_COMPUTE_32F_FAST_TF32 ||
               compute == CUBLAS_COMPUTE_32F_FAST_16BF || compute == CUBLAS_COMPUTE_32F_FAST_16F;
    return (ab == CUDA_R_16F || ab == CUDA_R_16BF) && compute == CUBLAS_COMPUTE_32F;
}

/* cuBLAS's argument checks for one product. */
static int valid(cublasOperation_t ta, cublasOperation_t tb, int64_t m, int64_t n, int64_t k,
                 int64_t lda, int64_t ldb, int64_t ldc) {
    const int ops_ok =
        (ta == CUBLAS_OP_N || ta == CUBLAS_OP_T) && (tb == CUBLAS_OP_N || tb == CUBLAS_OP_T);
    const int64_t rows_a = ta == CUBLAS_OP_N ? m : k, rows_b = tb == CUBLAS_OP_N ? k : n;
    return ops_ok && m >= 0 && n >= 0 && k >= 0 && lda >= (rows_a > 1 ? rows_a : 1) &&
           ldb >= (rows_b > 1 ? rows_b : 1) && ldc >= (m > 1 ? m : 1);
}

static void product(const operand *a, const operand *b, int64_t m, int64_t n, int64_t k,
                    float alpha, float beta, float *c, int64_t ldc) {
    for (int64_t j = 0; j < n; j++)
        for (int64_t i = 0; i < m; i++) {
            double acc = 0;
            for (int64_t p = 0; p < k; p++) acc += at(a, i, p) * at(b, p, j);
            float v = (float)(alpha * acc);
            if (beta != 0.0f) v += beta * c[i + j * ldc];
            c[i + j * ldc] = v;
        }
}

/* Both entry points: batch products, each operand `stride` elements after the last. */
static cublasStatus_t gemm(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int64_t m,
                           int64_t n, int64_t k, const void *alpha, operand a, int64_t stride_a,
                           operand b, int64_t stride_b, const void *beta, void *c,
                           cudaDataType c_type, int64_t ldc, int64_t stride_c, int64_t batch,
                           cublasComputeType_t compute) {
    if (!h) return CUBLAS_STATUS_NOT_INITIALIZED;
    if (fake_cublas_refuse) {
        fake_cublas_refuse = 0;
        return CUBLAS_STATUS_NOT_SUPPORTED;
    }
    if (!valid(ta, tb, m, n, k, a.ld, b.ld, ldc) || batch < 0 || !alpha || !beta)
        return CUBLAS_STATUS_INVALID_VALUE;
    if (a.type != b.type || !supported(a.type, c_type, compute)) return CUBLAS_STATUS_NOT_SUPPORTED;
    if (!fake_cublas_flush) return CUBLAS_STATUS_NOT_INITIALIZED;
    fake_cublas_flush();
    fake_cublas_last_type = a.type;
    fake_cublas_last_compute = compute;
    a.op = ta, b.op = tb;
    const size_t size = a.type == CUDA_R_32F ? 4 : 2;
    for (int64_t i = 0; i < batch; i++) {
        operand ai = a, bi = b;
        ai.p = (const char *)a.p + (size_t)(i * stride_a) * size;
        bi.p = (const char *)b.p + (size_t)(i * stride_b) * size;
        product(&ai, &bi, m, n, k, *(const float *)alpha, *(const float *)beta,
                (float *)c + i * stride_c, ldc);
    }
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasGemmEx_64(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb,
                               int64_t m, int64_t n, int64_t k, const void *alpha, const void *a,
                               cudaDataType a_type, int64_t lda, const void *b, cudaDataType b_type,
                               int64_t ldb, const void *beta, void *c, cudaDataType c_type,
                               int64_t ldc, cublasComputeType_t compute, cublasGemmAlgo_t algo) {
    (void)algo;
    const cublasStatus_t s =
        gemm(h, ta, tb, m, n, k, alpha, (operand){a, a_type, lda, ta}, 0,
             (operand){b, b_type, ldb, tb}, 0, beta, c, c_type, ldc, 0, 1, compute);
    if (s == CUBLAS_STATUS_SUCCESS) fake_cublas_gemms++;
    return s;
}

cublasStatus_t cublasGemmStridedBatchedEx_64(cublasHandle_t h, cublasOperation_t ta,
                                             cublasOperation_t tb, int64_t m, int64_t n, int64_t k,
                                             const void *alpha, const void *a, cudaDataType a_type,
                                             int64_t lda, long long stride_a, const void *b,
                                             cudaDataType b_type, int64_t ldb, long long stride_b,
                                             const void *beta, void *c, cudaDataType c_type,
                                             int64_t ldc, long long stride_c, int64_t batch,
                                             cublasComputeType_t compute, cublasGemmAlgo_t algo) {
    (void)algo;
    const cublasStatus_t s = gemm(h, ta, tb, m, n, k, alpha, (operand){a, a_type, lda, ta},
                                  stride_a, (operand){b, b_type, ldb, tb}, stride_b, beta, c,
                                  c_type, ldc, stride_c, batch, compute);
    if (s == CUBLAS_STATUS_SUCCESS) fake_cublas_batched++;
    return s;
}
