/* bench_time.h — the clock and the median the kernel benchmarks share (header-only: each
 * bench program is compiled on its own by its script). */
#ifndef LT_BENCH_TIME_H
#define LT_BENCH_TIME_H

#include <stdlib.h>
#include <time.h>

/* Milliseconds on the monotonic clock, or on the process's CPU clock when LT_BENCH_CPU_CLOCK
 * is set: at one thread on a shared, loaded machine that is the fairer before/after measure
 * (it sums all threads' time, so at 2 threads it is not wall time). */
static inline double bench_now_ms(void) {
    static int cpu = -1;
    if (cpu < 0) cpu = getenv("LT_BENCH_CPU_CLOCK") != NULL;
    struct timespec t;
    clock_gettime(cpu ? CLOCK_PROCESS_CPUTIME_ID : CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static inline int bench_cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The median of v[0..n) (sorts v in place). */
static inline double bench_median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, bench_cmp_double);
    return v[n / 2];
}

#endif
