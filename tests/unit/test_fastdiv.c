/* The cuda accelerator's division by a launch-time divisor (plugins/accelerators/cuda/
 * fastdiv.h), on the host, where it runs the same arithmetic as on the GPU (a 32x32
 * multiply-high): every divisor up to 2^16 against a spread of dividends, random pairs
 * below 2^31, and the edges (0, d - 1, d, the largest dividend, divisors at powers of
 * two and one past them, the largest divisor). */
#include <stdint.h>

#include "fastdiv.h"
#include "test_list.h"
#include "test_util.h"

#define FASTDIV_MAX 0x7fffffffu /* dividends and divisors below 2^31 */

static void expect_div(uint32_t n, uint32_t d) {
    const uint32_t got = cuda_fastdiv_div(cuda_fastdiv_make(d), n);
    ck_assert_msg(got == n / d, "%u / %u: %u, want %u", n, d, got, n / d);
}

/* Dividends that stress the rounding: around multiples of d and the top of the range. */
static void expect_edges(uint32_t d) {
    const uint32_t ns[] = {0,
                           1,
                           d - 1,
                           d,
                           d + 1,
                           2 * d - 1 <= FASTDIV_MAX ? 2 * d - 1 : d,
                           FASTDIV_MAX,
                           FASTDIV_MAX - 1,
                           FASTDIV_MAX / d * d,
                           FASTDIV_MAX / d * d - 1};
    for (size_t i = 0; i < sizeof ns / sizeof *ns; i++) expect_div(ns[i], d);
}

START_TEST(fastdiv_small_divisors) {
    for (uint32_t d = 1; d <= 1u << 16; d++) {
        expect_edges(d);
        for (uint32_t n = d / 3; n < FASTDIV_MAX - 7919u * 4099u; n += 7919u * 4099u)
            expect_div(n, d);
    }
}
END_TEST

START_TEST(fastdiv_large_and_random) {
    for (uint32_t s = 17; s <= 31; s++) { /* powers of two, and one either side */
        const uint32_t p = s == 31 ? FASTDIV_MAX : 1u << s;
        expect_edges(p - 1), expect_edges(p), expect_edges(p == FASTDIV_MAX ? p : p + 1);
    }
    uint64_t x = 0x9e3779b97f4a7c15ull;
    for (int i = 0; i < 2000000; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17; /* xorshift64 */
        const uint32_t d = (uint32_t)(x >> 33) % FASTDIV_MAX + 1, n = (uint32_t)x & FASTDIV_MAX;
        expect_div(n, d);
        expect_div(n, d >> (x & 31) ? d >> (x & 31) : 1); /* small divisors as often */
    }
}
END_TEST

Suite *suite_fastdiv(void) {
    Suite *s = suite_create("fastdiv");
    TCase *tc = tcase_create("host");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, fastdiv_small_divisors);
    tcase_add_test(tc, fastdiv_large_and_random);
    suite_add_tcase(s, tc);
    return s;
}
