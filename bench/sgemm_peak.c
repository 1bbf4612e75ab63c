/* sgemm_peak — OpenBLAS sgemm throughput on exactly the GEMMs of one training step of
 * the 784-4096-4096-10 MLP at batch 512 (forward x W^T, backward g W and g^T x; the
 * input layer has no dx), best of several repetitions: the ceiling lthost and PyTorch
 * are measured against.   usage: sgemm_peak THREADS
 *
 * sgemm_peak THREADS probe — how well THREADS threads scale right now: the two big GEMMs
 * of one small-MLP step (batch 64, 784-128), timed on 1 thread and on THREADS; prints the
 * speed-up. bench/run waits for a speed-up near THREADS before each measurement: on a
 * shared virtual machine the cores sometimes run 2 threads no faster than 1 for minutes. */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

typedef struct {
    int ta, tb, m, n, k;
} shape;

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double small_step(int threads) {
    static float a[128 * 784], b[128 * 784], c[128 * 784];
    openblas_set_num_threads(threads);
    double best = 1e30;
    for (int rep = 0; rep < 5; rep++) {
        double t0 = now();
        for (int i = 0; i < 20; i++) {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, 64, 128, 784, 1.0f, a, 784, b, 784,
                        0.0f, c, 128);
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, 128, 784, 64, 1.0f, a, 128, b, 784,
                        0.0f, c, 784);
        }
        double t = now() - t0;
        if (t < best) best = t;
    }
    return best;
}

int main(int argc, char **argv) {
    int threads = argc > 1 ? atoi(argv[1]) : 1;
    if (argc > 2) { /* probe */
        double one = small_step(1);
        printf("%.2f\n", one / small_step(threads));
        return 0;
    }
    openblas_set_num_threads(threads);
    enum { B = 512 };
    const int width[4] = {784, 4096, 4096, 10};
    shape s[9];
    int n = 0;
    for (int l = 0; l < 3; l++) {
        int in = width[l], out = width[l + 1];
        s[n++] = (shape){0, 1, B, out, in};            /* y = x W^T */
        s[n++] = (shape){1, 0, out, in, B};            /* dW = g^T x */
        if (l > 0) s[n++] = (shape){0, 0, B, in, out}; /* dx = g W */
    }
    size_t big = (size_t)4096 * 4096;
    float *a = malloc(big * 4), *b = malloc(big * 4), *c = malloc(big * 4);
    if (!a || !b || !c) return 1;
    for (size_t i = 0; i < big; i++) a[i] = b[i] = (float)(i % 7) * 0.01f;
    double flops = 0, best = 1e30;
    for (int i = 0; i < n; i++) flops += 2.0 * s[i].m * s[i].n * s[i].k;
    for (int rep = 0; rep < 5; rep++) {
        double t0 = now();
        for (int i = 0; i < n; i++) {
            const shape *g = &s[i];
            int lda = g->ta ? g->m : g->k, ldb = g->tb ? g->k : g->n;
            cblas_sgemm(CblasRowMajor, g->ta ? CblasTrans : CblasNoTrans,
                        g->tb ? CblasTrans : CblasNoTrans, g->m, g->n, g->k, 1.0f, a, lda, b, ldb,
                        0.0f, c, g->n);
        }
        double t = now() - t0;
        if (t < best) best = t;
    }
    printf("%.2f\n", flops / best / 1e9);
    free(a), free(b), free(c);
    return 0;
}
