/* cublas_probe.c — cuBLAS alone at the GEMM-bound MLP's large layer (M = N = K = 8192 by
 * default): TFLOP/s of each operand/result type lthost's precisions use, in the three
 * products of a linear layer's step (forward x W^T, weight gradient g^T x, input gradient
 * g W), so bench/gpu_run.sh can tell cuBLAS's share of a step from lthost's own:
 *   bf16 -> bf16   torch autocast's matmul (the ceiling gpu_contenders.py measures)
 *   bf16 -> f32    lthost's 16-bit mixed precision: inputs cast to bf16, float32 result
 *   f32 fast-bf16  float32 in and out, cuBLAS rounding to bf16 inside (CUBLAS_COMPUTE_32F_FAST_16BF)
 *   f32 tf32       float32 in and out, TF32 tensor cores (--float32_matmul_precision high)
 * Usage: cublas_probe [N]; prints one line per type: its mean TFLOP/s over the three. */
#include <stdio.h>
#include <stdlib.h>

#include <cublas_v2.h>
#include <cuda_runtime.h>

#define CHECK(call, what)                                                                          \
    do {                                                                                           \
        if ((call) != 0) {                                                                         \
            fprintf(stderr, "cublas_probe: %s failed\n", what);                                    \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

typedef struct probe_type {
    const char *name;
    cudaDataType in, out;
    cublasComputeType_t compute;
} probe_type;

/* Row-major C(n, n) = op(A) op(B), asked of column-major cuBLAS as C^T = op(B)^T op(A)^T. */
static void gemm(cublasHandle_t h, const probe_type *t, int ta, int tb, int n, const void *a,
                 const void *b, void *c) {
    const float one = 1.0f, zero = 0.0f;
    CHECK(cublasGemmEx(h, tb ? CUBLAS_OP_T : CUBLAS_OP_N, ta ? CUBLAS_OP_T : CUBLAS_OP_N, n, n, n,
                       &one, b, t->in, n, a, t->in, n, &zero, c, t->out, n, t->compute,
                       CUBLAS_GEMM_DEFAULT),
          "cublasGemmEx");
}

/* Mean seconds of one product in pattern (ta, tb) over reps, after warm-ups. */
static double time_pattern(cublasHandle_t h, const probe_type *t, int ta, int tb, int n,
                           void *const bufs[3]) {
    enum { WARM = 3, REPS = 10 };
    cudaEvent_t e0, e1;
    CHECK(cudaEventCreate(&e0) || cudaEventCreate(&e1), "cudaEventCreate");
    for (int i = 0; i < WARM; i++) gemm(h, t, ta, tb, n, bufs[0], bufs[1], bufs[2]);
    CHECK(cudaEventRecord(e0, 0), "cudaEventRecord");
    for (int i = 0; i < REPS; i++) gemm(h, t, ta, tb, n, bufs[0], bufs[1], bufs[2]);
    CHECK(cudaEventRecord(e1, 0) || cudaEventSynchronize(e1), "cudaEventSynchronize");
    float ms = 0;
    CHECK(cudaEventElapsedTime(&ms, e0, e1), "cudaEventElapsedTime");
    cudaEventDestroy(e0);
    cudaEventDestroy(e1);
    return ms / 1e3 / REPS;
}

/* Inputs of small random values in whichever type: bytes that are finite in both. */
static void *random_buffer(size_t nbytes, unsigned seed) {
    unsigned char *host = malloc(nbytes);
    void *dev = NULL;
    if (!host) exit(1);
    srand(seed);
    /* 16-bit words 0x3c00..0x3fff: bf16 in [1, 2), f16 in [1, 2), f32 halves likewise finite */
    for (size_t i = 0; i + 1 < nbytes; i += 2) {
        const unsigned w = 0x3c00u | ((unsigned)rand() & 0x3ffu);
        host[i] = (unsigned char)(w & 0xff);
        host[i + 1] = (unsigned char)(w >> 8);
    }
    CHECK(cudaMalloc(&dev, nbytes), "cudaMalloc");
    CHECK(cudaMemcpy(dev, host, nbytes, cudaMemcpyHostToDevice), "cudaMemcpy");
    free(host);
    return dev;
}

int main(int argc, char **argv) {
    const int n = argc > 1 ? atoi(argv[1]) : 8192;
    if (n < 64 || n > 32768) {
        fprintf(stderr, "cublas_probe: N must be in [64, 32768] (got %s)\n", argv[1]);
        return 2;
    }
    static const probe_type types[] = {
        {"bf16 -> bf16", CUDA_R_16BF, CUDA_R_16BF, CUBLAS_COMPUTE_32F},
        {"bf16 -> f32", CUDA_R_16BF, CUDA_R_32F, CUBLAS_COMPUTE_32F},
        {"f32 fast-bf16", CUDA_R_32F, CUDA_R_32F, CUBLAS_COMPUTE_32F_FAST_16BF},
        {"f32 tf32", CUDA_R_32F, CUDA_R_32F, CUBLAS_COMPUTE_32F_FAST_TF32},
    };
    cublasHandle_t h;
    CHECK(cublasCreate(&h), "cublasCreate");
    const size_t bytes = (size_t)n * n * 4;
    void *bufs[3] = {random_buffer(bytes, 1), random_buffer(bytes, 2), random_buffer(bytes, 3)};
    const int patterns[3][2] = {{0, 1}, {1, 0}, {0, 0}}; /* x W^T, g^T x, g W */
    const double flop = 2.0 * n * (double)n * n;
    for (size_t t = 0; t < sizeof types / sizeof *types; t++) {
        double tf[3], sum = 0;
        for (int p = 0; p < 3; p++) {
            tf[p] =
                flop / time_pattern(h, &types[t], patterns[p][0], patterns[p][1], n, bufs) / 1e12;
            sum += tf[p];
        }
        printf("%-14s %4d: %6.1f TFLOP/s (x W^T %.1f, g^T x %.1f, g W %.1f)\n", types[t].name, n,
               sum / 3, tf[0], tf[1], tf[2]);
    }
    for (int i = 0; i < 3; i++) cudaFree(bufs[i]);
    cublasDestroy(h);
    return 0;
}
