/* Philox RNG: known-answer vectors, reproducibility, ranges, permutations. */
#include <check.h>
#include <lt/lt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

START_TEST(same_seed_same_numbers) {
    lt_rng_t a = lt_rng_make(42, 7), b = lt_rng_make(42, 7), c = lt_rng_make(42, 8);
    int differ = 0;
    for (int i = 0; i < 100; i++) {
        uint32_t x = lt_rng_u32(&a);
        ck_assert_uint_eq(x, lt_rng_u32(&b));
        differ += x != lt_rng_u32(&c);
    }
    ck_assert_int_gt(differ, 90);
}
END_TEST

START_TEST(philox_known_answer) {
    /* Random123's kat_vectors: philox4x32 R=10, key 0, counter 0 -> 6627e8d5 e169c58d
     * bc57ac4c 9b00dbd8. Our key is the seed and the counter (counter, stream). */
    lt_rng_t r = lt_rng_make(0, 0);
    ck_assert_uint_eq(lt_rng_u32(&r), 0x6627e8d5u);
    ck_assert_uint_eq(lt_rng_u32(&r), 0xe169c58du);
    ck_assert_uint_eq(lt_rng_u32(&r), 0xbc57ac4cu);
    ck_assert_uint_eq(lt_rng_u32(&r), 0x9b00dbd8u);
}
END_TEST

START_TEST(uniform_and_normal_moments) {
    lt_rng_t r = lt_rng_make(1, 0);
    double su = 0, sn = 0, sn2 = 0;
    const int n = 200000;
    for (int i = 0; i < n; i++) {
        float u = lt_rng_uniform(&r);
        ck_assert(u >= 0.0f && u < 1.0f);
        su += u;
        float z = lt_rng_normal(&r);
        ck_assert(isfinite(z));
        sn += z;
        sn2 += (double)z * z;
    }
    ck_assert_double_eq_tol(su / n, 0.5, 0.005);
    ck_assert_double_eq_tol(sn / n, 0.0, 0.01);
    ck_assert_double_eq_tol(sn2 / n, 1.0, 0.01);
}
END_TEST

START_TEST(randperm_is_a_permutation) {
    enum { N = 1000 };
    int64_t p[N];
    char seen[N];
    lt_rng_t r = lt_rng_make(3, 1);
    lt_randperm(&r, N, p);
    memset(seen, 0, sizeof seen);
    int moved = 0;
    for (int i = 0; i < N; i++) {
        ck_assert(p[i] >= 0 && p[i] < N);
        ck_assert(!seen[p[i]]);
        seen[p[i]] = 1;
        moved += p[i] != i;
    }
    ck_assert_int_gt(moved, N / 2);
    for (int i = 0; i < 1000; i++) ck_assert_uint_lt(lt_rng_below(&r, 7), 7);
}
END_TEST

Suite *suite_rng(void) {
    Suite *s = suite_create("rng");
    TCase *tc = tcase_create("philox");
    tcase_add_test(tc, same_seed_same_numbers);
    tcase_add_test(tc, philox_known_answer);
    tcase_add_test(tc, uniform_and_normal_moments);
    tcase_add_test(tc, randperm_is_a_permutation);
    suite_add_tcase(s, tc);
    return s;
}
