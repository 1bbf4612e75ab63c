/* sgemm_peak — OpenBLAS sgemm throughput on exactly the GEMMs of one training step of
 * the 784-4096-4096-10 MLP at batch 512 (forward x W^T, backward g W and g^T x; the
 * input layer has no dx), best of several repetitions: the ceiling lthost and PyTorch
 * are measured against.   usage: sgemm_peak THREADS
 *
 * The ceiling is the machine's best, not OpenBLAS's default: a DYNAMIC_ARCH OpenBLAS may
 * pick generic kernels (Prescott on CI's AVX-512 Xeon, issue #20), so sgemm_peak measures
 * its default and every AVX2-or-wider kernel family this CPU runs (the cpu accelerator's
 * own table, plugins/accelerators/cpu/blas_core.c), each in a child process started with
 * OPENBLAS_CORETYPE (OpenBLAS fixes its kernels when it loads), and prints the best:
 * "GFLOP/s CORE (CORE GFLOP/s, ...)".   sgemm_peak THREADS core: this process's kernels.
 *
 * sgemm_peak THREADS probe — how well THREADS threads scale right now: the two big GEMMs
 * of one small-MLP step (batch 64, 784-128), timed on 1 thread and on THREADS; prints the
 * speed-up. bench/run waits for a speed-up near THREADS before each measurement: on a
 * shared virtual machine the cores sometimes run 2 threads no faster than 1 for minutes. */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cpu_impl.h"

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

/* GFLOP/s of this process's OpenBLAS kernels on the GEMM-bound step. */
static double gemm_bound_step(int threads) {
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
    if (!a || !b || !c) {
        free(a), free(b), free(c);
        return 0;
    }
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
    free(a), free(b), free(c);
    return flops / best / 1e9;
}

/* GFLOP/s of the kernels `core` (NULL: OpenBLAS's default) in a child process, and the
 * kernels it ran in got; 0 when they are not `core` (this OpenBLAS does not know it). */
static double measure_core(int threads, const char *core, char *got, size_t n) {
    int fd[2];
    if (pipe(fd) != 0) return 0;
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fd[1], 1);
        close(fd[0]), close(fd[1]);
        if (core)
            setenv("OPENBLAS_CORETYPE", core, 1);
        else
            unsetenv("OPENBLAS_CORETYPE");
        char arg[16];
        snprintf(arg, sizeof arg, "%d", threads);
        execl("/proc/self/exe", "sgemm_peak", arg, "core", (char *)NULL);
        _exit(127);
    }
    close(fd[1]);
    FILE *out = fdopen(fd[0], "r");
    double gflops = 0;
    char name[64] = "";
    if (!out || fscanf(out, "%lf %63s", &gflops, name) != 2) gflops = 0;
    if (out) fclose(out);
    if (pid > 0) waitpid(pid, NULL, 0);
    snprintf(got, n, "%s", name);
    return core && strcasecmp(core, name) ? 0 : gflops;
}

int main(int argc, char **argv) {
    int threads = argc > 1 ? atoi(argv[1]) : 1;
    if (argc > 2 && !strcmp(argv[2], "core")) { /* a child: these kernels only */
        double gflops = gemm_bound_step(threads);
        printf("%.2f %s\n", gflops, openblas_get_corename());
        return 0;
    }
    if (argc > 2) { /* probe */
        double one = small_step(1);
        printf("%.2f\n", one / small_step(threads));
        return 0;
    }
    static const char *const wide[] = {"Haswell", "Zen", "SkylakeX", "Cooperlake",
                                       "SapphireRapids"};
    cpu_isa isa;
    cpu_isa_detect(&isa);
    char best_core[64] = "", got[64], all[1024] = "";
    double best = measure_core(threads, NULL, best_core, sizeof best_core);
    snprintf(all, sizeof all, "default %s %.2f", best_core, best);
    for (size_t i = 0; i < sizeof wide / sizeof wide[0]; i++) {
        if (cpu_blas_core_needs(wide[i], &isa)) continue; /* SIGILL */
        double g = measure_core(threads, wide[i], got, sizeof got);
        if (g <= 0) continue;
        size_t len = strlen(all);
        snprintf(all + len, sizeof all - len, ", %s %.2f", wide[i], g);
        if (g > best) best = g, snprintf(best_core, sizeof best_core, "%s", wide[i]);
    }
    printf("%.2f %s (%s)\n", best, best_core, all);
    return best > 0 ? 0 : 1;
}
