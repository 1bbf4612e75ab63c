/* Helpers shared by the unit tests: a CPU device per test case, host round-trips. */
#ifndef LT_TEST_UTIL_H
#define LT_TEST_UTIL_H

#include <check.h>
#include <lt/lt.h>
#include <stdio.h>
#include <stdlib.h>

/* The CPU device (found through LT_PLUGIN_PATH, one thread) and an arena on it, opened
 * by test_open and closed by test_close: a checked fixture of the tensor tests. */
extern lt_device_t *test_dev;
extern lt_arena_t *test_arena;
void test_open(void);
void test_close(void);

/* The tensor's floats in a new host buffer (caller frees). */
static inline float *test_host(const lt_tensor_t *t) {
    ck_assert_msg(t != NULL, "tensor is NULL: %s", lt_last_error());
    float *v = malloc((size_t)lt_numel(t) * sizeof *v);
    ck_assert_int_eq(lt_to_host(t, v, (size_t)lt_numel(t) * sizeof *v), LT_OK);
    return v;
}

/* Deterministic pseudo-random values in [lo, hi), kept away from 0 by `gap`. */
static inline void test_fill(float *v, int64_t n, uint64_t seed, float lo, float hi, float gap) {
    lt_rng_t r = lt_rng_make(seed, 99);
    for (int64_t i = 0; i < n; i++) {
        float x;
        do x = lo + (hi - lo) * lt_rng_uniform(&r);
        while (x > -gap && x < gap);
        v[i] = x;
    }
}

#endif
