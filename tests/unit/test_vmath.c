/* The cpu accelerator's vectorisable exp and GELU (plugins/accelerators/cpu/vmath.h)
 * against double precision: e^x within 2 ulp over its whole range (subnormal results within
 * 2 of the smallest subnormal), the overflow and underflow edges, infinities and NaN; GELU's
 * normal CDF within 4e-7 (Abramowitz and Stegun's 1.5e-7 on erf, plus rounding); GELU and its
 * backward within the same over [-12, 12]. */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "test_list.h"
#include "test_util.h"
#include "vmath.h"

/* Distance in units in the last place between two finite floats of the same sign. */
static int64_t ulp_distance(float a, float b) {
    int32_t ia, ib;
    memcpy(&ia, &a, sizeof ia);
    memcpy(&ib, &b, sizeof ib);
    return ia > ib ? (int64_t)ia - ib : (int64_t)ib - ia;
}

START_TEST(expf_within_two_ulp) {
    int64_t worst = 0;
    float worst_x = 0.0f;
    for (float x = -103.9f; x < 88.72f; x += 0.000731f) {
        const double want = exp((double)x);
        const float got = cpu_expf_v(x), ref = (float)want;
        if (ref < FLT_MIN) { /* subnormal results: an absolute bound */
            ck_assert_msg(fabs(got - want) <= 2.0 * 0x1p-149, "exp(%a) = %a, want %a", x, got,
                          want);
            continue;
        }
        const int64_t d = ulp_distance(got, ref);
        if (d > worst) worst = d, worst_x = x;
    }
    ck_assert_msg(worst <= 2, "exp(%a): %lld ulp from the correctly rounded value", worst_x,
                  (long long)worst);
    ck_assert(cpu_expf_v(0.0f) == 1.0f);
    ck_assert(cpu_expf_v(88.72283f) > 3.4e38f && isfinite(cpu_expf_v(88.72283f)));
    ck_assert(isinf(cpu_expf_v(88.7229f)) && isinf(cpu_expf_v(INFINITY)));
    ck_assert(cpu_expf_v(-104.0f) == 0.0f && cpu_expf_v(-INFINITY) == 0.0f);
    ck_assert(cpu_expf_v(-103.9f) > 0.0f);
    volatile float nan = NAN; /* at run time, where UBSan watches the conversions */
    ck_assert(isnan(cpu_expf_v(nan)) && isnan(cpu_expf_v(-nan)));
}
END_TEST

START_TEST(gelu_within_4e_7) {
    double worst_cdf = 0, worst_y = 0, worst_dx = 0;
    for (float x = -12.0f; x <= 12.0f; x += 0.000377f) {
        const double xd = x, cdf = 0.5 * (1.0 + erf(xd / sqrt(2.0)));
        const double pdf = exp(-0.5 * xd * xd) / 2.5066282746310002 /* sqrt(2 pi) */;
        worst_cdf = fmax(worst_cdf, fabs(cpu_gelu_cdf_v(x) - cdf));
        worst_y = fmax(worst_y, fabs(cpu_gelu_v(x) - xd * cdf) / (1.0 + fabs(xd)));
        worst_dx = fmax(worst_dx, fabs(cpu_gelu_bwd_v(x, 0.5f) - 0.5 * (cdf + xd * pdf)));
    }
    ck_assert_msg(worst_cdf <= 4e-7, "Phi: %g from erf in double", worst_cdf);
    ck_assert_msg(worst_y <= 4e-7, "GELU: %g (relative to 1 + |x|)", worst_y);
    ck_assert_msg(worst_dx <= 4e-7, "GELU backward: %g", worst_dx);
    ck_assert(cpu_gelu_cdf_v(INFINITY) == 1.0f && cpu_gelu_cdf_v(-INFINITY) == 0.0f);
    ck_assert(cpu_gelu_v(0.0f) == 0.0f && cpu_gelu_v(30.0f) == 30.0f);
    volatile float nan = NAN;
    ck_assert(isnan(cpu_gelu_v(nan)) && isnan(cpu_gelu_bwd_v(nan, 1.0f)));
}
END_TEST

Suite *suite_vmath(void) {
    Suite *s = suite_create("vmath");
    TCase *tc = tcase_create("double");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, expf_within_two_ulp);
    tcase_add_test(tc, gelu_within_4e_7);
    suite_add_tcase(s, tc);
    return s;
}
