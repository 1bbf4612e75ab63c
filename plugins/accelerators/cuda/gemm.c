/* gemm.c — row-major C(M,N) = alpha * op(A) op(B) + beta * C through cuBLAS.
 *
 * cuBLAS is column-major: a row-major matrix read column-major is its transpose, so we
 * ask for C^T = op(B)^T op(A)^T, which is the same memory as the row-major C we want.
 *
 * Precision (Lightning's --precision, torch.set_float32_matmul_precision):
 *   32-true + highest  float32 inputs, CUBLAS_COMPUTE_32F (no TF32)
 *   32-true + high     CUBLAS_COMPUTE_32F_FAST_TF32
 *   32-true + medium   CUBLAS_COMPUTE_32F_FAST_16BF
 *   16-mixed           inputs rounded to fp16 (our kernel, cached scratch), fp32
 *                      accumulation and output, as torch autocast's matmuls
 *   bf16-mixed/-true   the same with bf16 */
#include <dlfcn.h>
#include <string.h>

#include "cuda_impl.h"

#define CUDA_STR_(x) #x
#define CUDA_STR(x) CUDA_STR_(x)
#define CUDA_BLAS_LIB "libcublas.so." CUDA_STR(CUBLAS_VER_MAJOR)

const char *cuda_blas_soname = CUDA_BLAS_LIB;

static lt_status blas_error(cuda_state *st, cublasStatus_t s, const char *call) {
    cuda_fail(st, call, st->api.status_string(s));
    return LT_ERR_DEVICE;
}

/* ---- loading cuBLAS -------------------------------------------------------------- */

/* dlsym into a typed pointer; false (and the error set) when the symbol is missing. */
#define BLAS_SYM(api, field, symbol)                                                               \
    (CUDA_DLSYM(api, field, symbol) ||                                                             \
     lt_set_error(LT_ERR_PLUGIN,                                                                   \
                  "cuda accelerator: " CUDA_BLAS_LIB " has no %s; install the cuBLAS of "          \
                  "CUDA %d",                                                                       \
                  #symbol, CUBLAS_VER_MAJOR) == LT_OK)

static lt_status blas_load(cuda_blas_api *api) {
    dlerror();
    /* NODELETE: a later device (a program may close one and open another) finds it
     * loaded instead of mapping and registering its kernels again. */
    api->lib = dlopen(cuda_blas_soname, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
    if (!api->lib) {
        const char *why = dlerror();
        return lt_set_error(LT_ERR_PLUGIN,
                            "cuda accelerator: cannot load cuBLAS (%s); install the CUDA "
                            "toolkit's cuBLAS %d or add its folder to LD_LIBRARY_PATH",
                            why ? why : cuda_blas_soname, CUBLAS_VER_MAJOR);
    }
    if (BLAS_SYM(api, create, cublasCreate_v2) && BLAS_SYM(api, destroy, cublasDestroy_v2) &&
        BLAS_SYM(api, set_stream, cublasSetStream_v2) &&
        BLAS_SYM(api, set_workspace, cublasSetWorkspace_v2) &&
        BLAS_SYM(api, gemm_ex, cublasGemmEx_64) &&
        BLAS_SYM(api, gemm_strided, cublasGemmStridedBatchedEx_64) &&
        BLAS_SYM(api, status_string, cublasGetStatusString) &&
        BLAS_SYM(api, get_version, cublasGetVersion_v2))
        return LT_OK;
    dlclose(api->lib);
    memset(api, 0, sizeof *api);
    return LT_ERR_PLUGIN;
}

lt_status cuda_gemm_init(cuda_state *st) {
    lt_status ls = blas_load(&st->api);
    if (ls != LT_OK) return ls;
    cublasStatus_t s = st->api.create(&st->blas);
    if (s != CUBLAS_STATUS_SUCCESS) {
        st->blas = NULL;
        return blas_error(st, s, "cublasCreate");
    }
    if ((s = st->api.get_version(st->blas, &st->blas_version)) != CUBLAS_STATUS_SUCCESS)
        return blas_error(st, s, "cublasGetVersion");
    if ((s = st->api.set_stream(st->blas, st->stream)) != CUBLAS_STATUS_SUCCESS)
        return blas_error(st, s, "cublasSetStream");
    /* Our own workspace, so cuBLAS allocates nothing behind the allocator's back. */
    st->blas_workspace = cuda_cache_alloc(st, CUDA_BLAS_WORKSPACE);
    if (!st->blas_workspace) {
        cuda_fail(st, "cublasSetWorkspace", "out of device memory for cuBLAS's workspace");
        return LT_ERR_OOM;
    }
    s = st->api.set_workspace(st->blas, st->blas_workspace, CUDA_BLAS_WORKSPACE);
    return s == CUBLAS_STATUS_SUCCESS ? LT_OK : blas_error(st, s, "cublasSetWorkspace");
}

void cuda_gemm_shutdown(cuda_state *st) {
    cuda_blaslt_close(st);
    if (st->blas) st->api.destroy(st->blas);
    st->blas = NULL;
    if (st->api.lib) dlclose(st->api.lib);
    memset(&st->api, 0, sizeof st->api);
    /* The blocks themselves go back to the driver with the cache. */
    cuda_cache_free(st, st->blas_workspace);
    cuda_cache_free(st, st->half_a);
    cuda_cache_free(st, st->half_b);
    st->blas_workspace = st->half_a = st->half_b = NULL;
}

/* ---- mixed precision ------------------------------------------------------------- */

/* A scratch buffer of at least nbytes, grown by replacing it (stream order keeps the old
 * one alive for the GEMM already queued on it). */
static void *scratch(cuda_state *st, void **buf, size_t *have, size_t nbytes) {
    if (*have >= nbytes) return *buf;
    cuda_cache_free(st, *buf);
    *buf = cuda_cache_alloc(st, nbytes);
    *have = *buf ? nbytes : 0;
    if (!*buf) cuda_fail(st, "gemm", "out of device memory for half-precision inputs");
    return *buf;
}

/* The operand at d_x (rows, cols with leading dimension *ld) as a dense half copy; *ld
 * becomes cols. NULL on failure (recorded). */
static const void *half_operand(cuda_state *st, int which, int64_t rows, int64_t cols,
                                const void *d_x, int64_t *ld, int bf16) {
    size_t nbytes = (size_t)rows * (size_t)cols * 2;
    void *d = which == 0 ? scratch(st, &st->half_a, &st->half_a_bytes, nbytes)
                         : scratch(st, &st->half_b, &st->half_b_bytes, nbytes);
    if (!d) return NULL;
    cuda_to_half(st, rows, cols, d_x, *ld, bf16, d);
    *ld = cols;
    return d;
}

/* ---- the call -------------------------------------------------------------------- */

cuda_gemm_plan cuda_gemm_plan_for(const cuda_state *st) {
    switch (st->precision) {
    case LT_PRECISION_16_MIXED: return (cuda_gemm_plan){CUDA_R_16F, CUBLAS_COMPUTE_32F};
    case LT_PRECISION_BF16_MIXED:
    case LT_PRECISION_BF16_TRUE: return (cuda_gemm_plan){CUDA_R_16BF, CUBLAS_COMPUTE_32F};
    default: break;
    }
    switch (st->matmul_precision) {
    case LT_MATMUL_HIGH: return (cuda_gemm_plan){CUDA_R_32F, CUBLAS_COMPUTE_32F_FAST_TF32};
    case LT_MATMUL_MEDIUM: return (cuda_gemm_plan){CUDA_R_32F, CUBLAS_COMPUTE_32F_FAST_16BF};
    default: return (cuda_gemm_plan){CUDA_R_32F, CUBLAS_COMPUTE_32F};
    }
}

int cuda_gemm_inputs(cuda_state *st, cuda_gemm_plan plan, int trans_a, int trans_b, int64_t m,
                     int64_t n, int64_t k, const void **a, int64_t *lda, const void **b,
                     int64_t *ldb) {
    if (plan.in_type == CUDA_R_32F) return 1;
    const int bf16 = plan.in_type == CUDA_R_16BF;
    /* Row-major A is (k, m) when transposed, else (m, k); B likewise (n, k) / (k, n). */
    *a = half_operand(st, 0, trans_a ? k : m, trans_a ? m : k, *a, lda, bf16);
    *b = half_operand(st, 1, trans_b ? n : k, trans_b ? k : n, *b, ldb, bf16);
    return *a && *b;
}

void cuda_gemm(void *vst, int trans_a, int trans_b, int64_t m, int64_t n, int64_t k, float alpha,
               const float *d_a, int64_t lda, const float *d_b, int64_t ldb, float beta, float *d_c,
               int64_t ldc) {
    cuda_state *st = vst;
    if (m <= 0 || n <= 0) return;
    if (k <= 0) { /* C = beta C; BLAS's rule: beta == 0 overwrites, NaN included */
        cuda_scale_matrix(st, m, n, beta, d_c, ldc);
        return;
    }
    const cuda_gemm_plan plan = cuda_gemm_plan_for(st);
    const void *a = d_a, *b = d_b;
    if (!cuda_gemm_inputs(st, plan, trans_a, trans_b, m, n, k, &a, &lda, &b, &ldb)) return;
    cublasStatus_t s = st->api.gemm_ex(st->blas, trans_b ? CUBLAS_OP_T : CUBLAS_OP_N,
                                       trans_a ? CUBLAS_OP_T : CUBLAS_OP_N, n, m, k, &alpha, b,
                                       plan.in_type, ldb, a, plan.in_type, lda, &beta, d_c,
                                       CUDA_R_32F, ldc, plan.compute, CUBLAS_GEMM_DEFAULT);
    if (s != CUBLAS_STATUS_SUCCESS) blas_error(st, s, "cublasGemmEx");
}

/* One operand of a batch as dense half copies: `batch` (rows, cols) matrices *stride apart
 * (0: one read by every product) cast in one call, so they must be contiguous; *x, *ld and
 * *stride become the copy's. 0 when not contiguous or out of memory (recorded). */
static int half_batch(cuda_state *st, int which, int64_t batch, int64_t rows, int64_t cols,
                      const void **x, int64_t *ld, int64_t *stride, int bf16) {
    const int64_t count = *stride && batch > 1 ? batch : 1;
    if (count > 1 && *stride != rows * *ld) return 0;
    *x = half_operand(st, which, count * rows, cols, *x, ld, bf16);
    *stride = count > 1 ? rows * cols : 0;
    return *x != NULL;
}

/* One cublasGemmStridedBatchedEx: one launch for the batch where liblt's loop of gemm
 * made one per matrix. Half precisions cast each operand's batch in one call, so a batched
 * input must be contiguous (stride = rows x ld) or shared (stride 0); others decline. */
int cuda_gemm_batched(void *vst, int trans_a, int trans_b, int64_t m, int64_t n, int64_t k,
                      float alpha, const float *d_a, int64_t lda, int64_t stride_a,
                      const float *d_b, int64_t ldb, int64_t stride_b, float beta, float *d_c,
                      int64_t ldc, int64_t stride_c, int64_t batch) {
    cuda_state *st = vst;
    if (m <= 0 || n <= 0 || batch <= 0) return 0; /* no C to write */
    if (k <= 0 || st->error != LT_OK) return 1;
    const cuda_gemm_plan plan = cuda_gemm_plan_for(st);
    const void *a = d_a, *b = d_b;
    const int bf16 = plan.in_type == CUDA_R_16BF;
    /* Row-major A is (k, m) when transposed, else (m, k); B likewise (n, k) / (k, n). */
    if (plan.in_type != CUDA_R_32F &&
        !(half_batch(st, 0, batch, trans_a ? k : m, trans_a ? m : k, &a, &lda, &stride_a, bf16) &&
          half_batch(st, 1, batch, trans_b ? n : k, trans_b ? k : n, &b, &ldb, &stride_b, bf16)))
        return 1; /* C untouched; liblt's loop of gemm meets a recorded error too */
    /* C^T_i = op(B_i)^T op(A_i)^T, as gemm. */
    const cublasStatus_t s = st->api.gemm_strided(
        st->blas, trans_b ? CUBLAS_OP_T : CUBLAS_OP_N, trans_a ? CUBLAS_OP_T : CUBLAS_OP_N, n, m, k,
        &alpha, b, plan.in_type, ldb, stride_b, a, plan.in_type, lda, stride_a, &beta, d_c,
        CUDA_R_32F, ldc, stride_c, batch, plan.compute, CUBLAS_GEMM_DEFAULT);
    return s == CUBLAS_STATUS_SUCCESS ? 0 : 1; /* refused at the call: C untouched */
}
