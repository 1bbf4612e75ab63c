/* gemm_kernels — one sgemm library/kernel family on the GEMMs of one training step, for
 * bench/gemm_kernels.sh's side-by-side table (issue #20).
 *   usage: gemm_kernels blas|dnnl|avx512|avx2 small|big THREADS
 * blas: OpenBLAS with the kernels this process was started with (OPENBLAS_CORETYPE);
 * dnnl: oneDNN's dnnl_sgemm (built with -DWITH_DNNL); avx512, avx2: the cpu accelerator's
 * own small-GEMM tiles (plugins/accelerators/cpu/gemm_small.c) for the shapes it gives
 * them, OpenBLAS for the rest, one thread. small: the 784-128-10 MLP at batch
 * 64 (200 steps a repetition); big: the 784-4096-4096-10 MLP at batch 512. Forward x W^T,
 * backward g^T x and g W (the input layer has no dx). Prints the best repetition's
 * GFLOP/s by wall time and by process CPU time (which a loaded machine's time slicing
 * does not count), and the kernels that ran. */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cpu_impl.h" /* the accelerator's small-GEMM tiles */
#ifdef WITH_DNNL
#include <dnnl.h>
#include <omp.h>
#endif

typedef struct {
    int ta, tb, m, n, k;
} shape;

static double clock_s(clockid_t id) {
    struct timespec t;
    clock_gettime(id, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* dnnl: 1 for oneDNN; tiles: the accelerator's tiles (CPU_SMALL_NONE: OpenBLAS only). */
static void sgemm(int dnnl, cpu_small_isa tiles, const shape *g, const float *a, const float *b,
                  float *c) {
    int lda = g->ta ? g->m : g->k, ldb = g->tb ? g->k : g->n;
    if (cpu_small_gemm_takes(tiles, g->ta, g->tb, g->m, g->n, g->k, a, lda, b, ldb)) {
        cpu_small_gemm(tiles, g->ta, g->tb, g->m, g->n, g->k, 1.0f, a, lda, b, ldb, 0.0f, c, g->n);
        return;
    }
#ifdef WITH_DNNL
    if (dnnl) {
        dnnl_sgemm(g->ta ? 'T' : 'N', g->tb ? 'T' : 'N', g->m, g->n, g->k, 1.0f, a, lda, b, ldb,
                   0.0f, c, g->n);
        return;
    }
#endif
    (void)dnnl;
    cblas_sgemm(CblasRowMajor, g->ta ? CblasTrans : CblasNoTrans, g->tb ? CblasTrans : CblasNoTrans,
                g->m, g->n, g->k, 1.0f, a, lda, b, ldb, 0.0f, c, g->n);
}

/* The step's GEMMs into s; returns how many. */
static int step_shapes(int small, shape *s) {
    static const int big_w[4] = {784, 4096, 4096, 10}, small_w[3] = {784, 128, 10};
    const int *w = small ? small_w : big_w, layers = small ? 2 : 3, batch = small ? 64 : 512;
    int n = 0;
    for (int l = 0; l < layers; l++) {
        s[n++] = (shape){0, 1, batch, w[l + 1], w[l]};            /* y = x W^T */
        s[n++] = (shape){1, 0, w[l + 1], w[l], batch};            /* dW = g^T x */
        if (l > 0) s[n++] = (shape){0, 0, batch, w[l], w[l + 1]}; /* dx = g W */
    }
    return n;
}

int main(int argc, char **argv) {
    const char *lib = argc == 4 ? argv[1] : "";
    cpu_small_isa tiles = !strcmp(lib, "avx512") ? CPU_SMALL_AVX512
                          : !strcmp(lib, "avx2") ? CPU_SMALL_AVX2
                                                 : CPU_SMALL_NONE;
    if (strcmp(lib, "blas") && strcmp(lib, "dnnl") && tiles == CPU_SMALL_NONE) {
        fprintf(stderr, "usage: gemm_kernels blas|dnnl|avx512|avx2 small|big THREADS\n");
        return 2;
    }
    int dnnl = !strcmp(lib, "dnnl"), small = !strcmp(argv[2], "small"), threads = atoi(argv[3]);
#ifndef WITH_DNNL
    if (dnnl) {
        fprintf(stderr, "gemm_kernels: built without oneDNN (apt-get install libdnnl-dev)\n");
        return 2;
    }
#else
    omp_set_num_threads(threads);
#endif
    openblas_set_num_threads(threads);
    shape s[8];
    int n = step_shapes(small, s);
    size_t big = (size_t)4096 * 4096;
    /* on cache lines, as the accelerator allocates its tensors */
    float *a = aligned_alloc(64, big * 4), *b = aligned_alloc(64, big * 4);
    float *c = aligned_alloc(64, big * 4);
    if (!a || !b || !c) return 1;
    for (size_t i = 0; i < big; i++) a[i] = b[i] = (float)(i % 7) * 0.01f;
    double flop = 0, wall = 1e30, cpu = 1e30;
    for (int i = 0; i < n; i++) flop += 2.0 * s[i].m * s[i].n * s[i].k;
    int inner = small ? 200 : 1, reps = small ? 15 : 4;
    for (int rep = 0; rep < reps; rep++) {
        double w0 = clock_s(CLOCK_MONOTONIC), c0 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
        for (int it = 0; it < inner; it++)
            for (int i = 0; i < n; i++) sgemm(dnnl, tiles, &s[i], a, b, c);
        double w = (clock_s(CLOCK_MONOTONIC) - w0) / inner;
        double cp = (clock_s(CLOCK_PROCESS_CPUTIME_ID) - c0) / inner;
        wall = w < wall ? w : wall;
        cpu = cp < cpu ? cp : cpu;
    }
    printf("%.2f GFLOP/s wall, %.2f GFLOP per CPU-second, kernels %s\n", flop / wall / 1e9,
           flop / cpu / 1e9,
           dnnl                      ? "dnnl"
           : tiles != CPU_SMALL_NONE ? cpu_small_isa_name(tiles)
                                     : openblas_get_corename());
    free(a), free(b), free(c);
    return 0;
}
