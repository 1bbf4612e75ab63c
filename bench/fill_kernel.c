/* fill_kernel — the cpu accelerator's fill slot as zero_grad calls it (issue #20): zeros
 * over bench/run's small-MLP gradient buffer (101,770 floats), through the accelerator
 * table, at T threads. Prints wall and CPU microseconds per call (CPU sums all threads).
 *   fill_kernel THREADS [FLOATS] [CALLS]      (built and run by bench/fill_kernel.sh) */
#include <lt/accelerator.h>
#include <lt/lt.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double seconds(clockid_t clock) {
    struct timespec t;
    clock_gettime(clock, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s THREADS [FLOATS] [CALLS]\n", argv[0]);
        return 2;
    }
    int threads = atoi(argv[1]);
    long n = argc > 2 ? atol(argv[2]) : 101770, calls = argc > 3 ? atol(argv[3]) : 20000;
    lt_device_t *dev = NULL;
    if (threads < 1 || n < 1 || calls < 1) {
        fprintf(stderr, "fill_kernel: THREADS, FLOATS and CALLS must be >= 1\n");
        return 2;
    }
    if (lt_device_open("cpu", threads, &dev) != LT_OK) {
        fprintf(stderr, "fill_kernel: %s\n", lt_last_error());
        return 1;
    }
    void *st = NULL;
    const lt_accelerator_desc *k = lt_device_kernels(dev, &st);
    float *buf = malloc((size_t)n * sizeof *buf);
    if (!k || !buf) return 1;
    for (int i = 0; i < 100; i++) k->fill(st, n, 0.0f, buf); /* warm the pages and the team */
    double w0 = seconds(CLOCK_MONOTONIC), c0 = seconds(CLOCK_PROCESS_CPUTIME_ID);
    for (long i = 0; i < calls; i++) k->fill(st, n, 0.0f, buf);
    double w1 = seconds(CLOCK_MONOTONIC), c1 = seconds(CLOCK_PROCESS_CPUTIME_ID);
    printf("threads %d: fill 0 over %ld floats: %.2f us wall, %.2f us CPU per call\n", threads, n,
           (w1 - w0) / (double)calls * 1e6, (c1 - c0) / (double)calls * 1e6);
    free(buf);
    lt_device_close(dev);
    return 0;
}
