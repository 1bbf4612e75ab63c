/* host_check.h — what cuda_host_check.c and host_conv.c share. */
#ifndef LT_HOST_CHECK_H
#define LT_HOST_CHECK_H

#include <stdint.h>

#include <lt/accelerator.h>

typedef struct host_check {
    const lt_accelerator_desc *k;
    void *st;
    int passed, failed;
} host_check;

/* One "ok: what (detail)" or "FAIL: ..." line, counted. */
void report(host_check *h, int ok, const char *what, long long detail);
/* n floats uniform in [-1, 1) from rand(), malloc'd. */
float *host_random_floats(int64_t n);
/* A device copy of n host floats. */
float *host_upload(host_check *h, const float *host, int64_t n);

/* host_conv.c: the conv2d slots through the fake libcudnn (FAKE_CUDNN, its path). */
void check_cudnn(host_check *h);
/* After the state's shutdown: no cuDNN handle or descriptor left. */
void check_cudnn_teardown(host_check *h);
/* host_gemm.c: gemm_bias through the fake libcublasLt (FAKE_CUBLASLT, its path). */
void check_gemm_bias(host_check *h);
/* After the state's shutdown: no cuBLASLt object left. */
void check_gemm_bias_teardown(host_check *h);
/* host_blas.c: gemm and gemm_batched through the fake libcublas (FAKE_CUBLAS), every
 * precision. */
void check_blas(host_check *h);
/* After the state's shutdown: no cuBLAS handle left. */
void check_blas_teardown(host_check *h);

#endif
