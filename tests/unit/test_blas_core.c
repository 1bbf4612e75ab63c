/* The cpu accelerator's choice of OpenBLAS kernels (plugins/accelerators/cpu/blas_core.c)
 * for the CPUs we meet, this one's included, and its cpuid reading against the kernel's
 * /proc/cpuinfo. Issue #20: Debian's OpenBLAS 0.3.21 runs Prescott kernels on CI's
 * AVX-512 Xeon. */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "cpu_impl.h"

/* Feature sets of the CPUs the choice must get right. */
static const cpu_isa sse_only = {.amd = false};
static const cpu_isa sandy_bridge = {.avx = true};
static const cpu_isa bulldozer = {.amd = true, .avx = true, .fma4 = true};
static const cpu_isa haswell = {.avx = true, .avx2 = true, .fma = true};
static const cpu_isa zen3 = {.amd = true, .avx = true, .avx2 = true, .fma = true};
static const cpu_isa skylake_x = {.avx = true,
                                  .avx2 = true,
                                  .fma = true,
                                  .avx512f = true,
                                  .avx512bw = true,
                                  .avx512vl = true,
                                  .avx512dq = true,
                                  .avx512cd = true};
/* CI's Xeon: avx512_bf16 and avx512_fp16 in /proc/cpuinfo, i.e. Sapphire Rapids (AMX). */
static const cpu_isa sapphire_rapids = {.avx = true,
                                        .avx2 = true,
                                        .fma = true,
                                        .avx512f = true,
                                        .avx512bw = true,
                                        .avx512vl = true,
                                        .avx512dq = true,
                                        .avx512cd = true,
                                        .avx512_bf16 = true,
                                        .amx_bf16 = true};

static void assert_choice(const char *own, const cpu_isa *f, const char *want) {
    const char *got = cpu_blas_choose_core(own, f);
    const char *shown = own ? own : "(none)";
    if (!want)
        ck_assert_msg(!got, "own core %s: expected it kept, got %s", shown, got ? got : "");
    else
        ck_assert_msg(got && !strcmp(got, want), "own core %s: expected %s, got %s", shown, want,
                      got ? got : "(kept)");
}

START_TEST(ci_xeon_prescott_fallback_gets_avx512) {
    assert_choice("Prescott", &sapphire_rapids, "Cooperlake");
    assert_choice("prescott", &sapphire_rapids, "Cooperlake"); /* OpenBLAS ignores case */
    assert_choice("Haswell", &sapphire_rapids, "Cooperlake");
    assert_choice("Prescott", &skylake_x, "SkylakeX");
    assert_choice("Sandybridge", &skylake_x, "SkylakeX");
}
END_TEST

START_TEST(own_pick_at_the_cpu_level_is_kept) {
    assert_choice("SkylakeX", &skylake_x, NULL);
    assert_choice("Cooperlake", &sapphire_rapids, NULL);
    assert_choice("SapphireRapids", &sapphire_rapids, NULL); /* OpenBLAS >= 0.3.22 */
    assert_choice("Zen", &zen3, NULL);
    assert_choice("Haswell", &zen3, NULL);
    assert_choice("Haswell", &haswell, NULL);
    assert_choice("Sandybridge", &sandy_bridge, NULL);
    assert_choice("Bulldozer", &bulldozer, NULL);
    assert_choice("Nehalem", &sse_only, NULL);
    assert_choice("Prescott", &sse_only, NULL);
    /* a name this table does not know is a newer OpenBLAS's: trusted */
    assert_choice("GraniteRapids", &haswell, NULL);
}
END_TEST

START_TEST(amd_and_intel_avx2_fallbacks) {
    assert_choice("Prescott", &zen3, "Zen");
    assert_choice("Prescott", &haswell, "Haswell");
    assert_choice("Sandybridge", &haswell, "Haswell");
    assert_choice("Prescott", &sandy_bridge, "Sandybridge");
    assert_choice(NULL, &zen3, "Zen");
    assert_choice("", &skylake_x, "SkylakeX");
}
END_TEST

START_TEST(isa_levels) {
    ck_assert_int_eq(cpu_isa_best(&sse_only), CPU_ISA_SSE3);
    ck_assert_int_eq(cpu_isa_best(&sandy_bridge), CPU_ISA_AVX);
    ck_assert_int_eq(cpu_isa_best(&zen3), CPU_ISA_AVX2);
    ck_assert_int_eq(cpu_isa_best(&skylake_x), CPU_ISA_AVX512);
    ck_assert_int_eq(cpu_isa_best(&sapphire_rapids), CPU_ISA_AMX);
    cpu_isa avx2_no_fma = haswell;
    avx2_no_fma.fma = false;
    ck_assert_int_eq(cpu_isa_best(&avx2_no_fma), CPU_ISA_AVX);
    cpu_isa knights = skylake_x; /* AVX-512F without BW/VL: not SkylakeX's kernels */
    knights.avx512bw = knights.avx512vl = false;
    ck_assert_int_eq(cpu_isa_best(&knights), CPU_ISA_AVX2);
    /* AMX has no float32 tiles: the best sgemm is still an AVX-512 one */
    ck_assert_str_eq(cpu_blas_best_core(&sapphire_rapids), "Cooperlake");
}
END_TEST

START_TEST(user_core_the_cpu_cannot_run_is_named) {
    const char *needs = cpu_blas_core_needs("SkylakeX", &zen3);
    ck_assert_msg(needs && strstr(needs, "AVX-512"), "SkylakeX on Zen 3: %s", needs);
    needs = cpu_blas_core_needs("cooperlake", &skylake_x);
    ck_assert_msg(needs && strstr(needs, "BF16"), "Cooperlake on Skylake-X: %s", needs);
    needs = cpu_blas_core_needs("Bulldozer", &haswell);
    ck_assert_msg(needs && strstr(needs, "FMA4"), "Bulldozer on Haswell: %s", needs);
    ck_assert_ptr_null(cpu_blas_core_needs("Haswell", &zen3));
    ck_assert_ptr_null(cpu_blas_core_needs("Prescott", &sse_only));
    ck_assert_ptr_null(cpu_blas_core_needs("SkylakeX", &sapphire_rapids));
    ck_assert_ptr_null(cpu_blas_core_needs("NoSuchCore", &sse_only));
    ck_assert_ptr_null(cpu_blas_core_needs(NULL, &sse_only));
}
END_TEST

/* Whether /proc/cpuinfo's first "flags" line lists flag (as a whole word). */
static bool cpuinfo_has(const char *line, const char *flag) {
    size_t n = strlen(flag);
    for (const char *p = strstr(line, flag); p; p = strstr(p + 1, flag))
        if (p[-1] == ' ' && (p[n] == ' ' || p[n] == '\n' || !p[n])) return true;
    return false;
}

START_TEST(cpuid_agrees_with_proc_cpuinfo) {
#if defined(__x86_64__)
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f) return; /* not Linux: nothing to compare with */
    char line[8192] = "";
    while (fgets(line, sizeof line, f) && strncmp(line, "flags", 5)) line[0] = 0;
    fclose(f);
    ck_assert_msg(line[0], "/proc/cpuinfo has no flags line");
    cpu_isa isa;
    cpu_isa_detect(&isa);
    /* The kernel lists a flag only when it enables the state, as our xgetbv check does. */
    ck_assert_int_eq(isa.avx, cpuinfo_has(line, "avx"));
    ck_assert_int_eq(isa.avx2, cpuinfo_has(line, "avx2"));
    ck_assert_int_eq(isa.fma, cpuinfo_has(line, "fma"));
    ck_assert_int_eq(isa.avx512f, cpuinfo_has(line, "avx512f"));
    ck_assert_int_eq(isa.avx512bw, cpuinfo_has(line, "avx512bw"));
    ck_assert_int_eq(isa.avx512vl, cpuinfo_has(line, "avx512vl"));
    ck_assert_int_eq(isa.avx512_bf16, cpuinfo_has(line, "avx512_bf16"));
    ck_assert_int_eq(isa.amx_bf16, cpuinfo_has(line, "amx_bf16") && cpuinfo_has(line, "amx_tile"));
#endif
}
END_TEST

Suite *suite_blas_core(void) {
    Suite *s = suite_create("blas_core");
    TCase *tc = tcase_create("choice");
    tcase_add_test(tc, ci_xeon_prescott_fallback_gets_avx512);
    tcase_add_test(tc, own_pick_at_the_cpu_level_is_kept);
    tcase_add_test(tc, amd_and_intel_avx2_fallbacks);
    tcase_add_test(tc, isa_levels);
    tcase_add_test(tc, user_core_the_cpu_cannot_run_is_named);
    tcase_add_test(tc, cpuid_agrees_with_proc_cpuinfo);
    suite_add_tcase(s, tc);
    return s;
}
