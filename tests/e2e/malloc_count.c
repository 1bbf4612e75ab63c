/* LD_PRELOAD shim for test_steady_state_malloc.sh: counts malloc/calloc/realloc calls
 * and prints the total at exit, so a test can compare runs of different lengths. */
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>

extern void *__libc_malloc(size_t n);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t n);

static atomic_long allocations;

__attribute__((visibility("default"))) void *malloc(size_t n) {
    atomic_fetch_add(&allocations, 1);
    return __libc_malloc(n);
}

__attribute__((visibility("default"))) void *calloc(size_t n, size_t size) {
    atomic_fetch_add(&allocations, 1);
    return __libc_calloc(n, size);
}

__attribute__((visibility("default"))) void *realloc(void *p, size_t n) {
    atomic_fetch_add(&allocations, 1);
    return __libc_realloc(p, n);
}

__attribute__((destructor)) static void report(void) {
    fprintf(stderr, "malloc_count: %ld\n", (long)atomic_load(&allocations));
}
