/* isa.c — what the CPU runs: cpuid's feature bits, each counted only when the OS saves
 * the registers it needs (xgetbv's XCR0), as a kernel would fault otherwise. */
#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

#include "cpu_impl.h"

#if defined(__x86_64__) || defined(__i386__)
/* XCR0: the register state the OS saves on a context switch. */
static uint64_t os_saved_state(unsigned ecx1) {
    if (!(ecx1 & (1u << 27))) return 0; /* OSXSAVE: xgetbv unavailable */
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return (uint64_t)hi << 32 | lo;
}

void cpu_isa_detect(cpu_isa *f) {
    *f = (cpu_isa){0};
    unsigned a, b, c, d;
    if (!__get_cpuid(0, &a, &b, &c, &d)) return;
    unsigned max_leaf = a;
    f->amd = (b == 0x68747541 && d == 0x69746e65 && c == 0x444d4163) || /* AuthenticAMD */
             (b == 0x6f677948 && d == 0x6e65476e && c == 0x656e6975);   /* HygonGenuine */
    __get_cpuid(1, &a, &b, &c, &d);
    uint64_t xcr0 = os_saved_state(c);
    bool ymm = (xcr0 & 0x6) == 0x6, zmm = ymm && (xcr0 & 0xe0) == 0xe0;
    bool tiles = (xcr0 & 0x60000) == 0x60000;
    f->avx = ymm && (c & bit_AVX);
    f->fma = ymm && (c & bit_FMA);
    if (__get_cpuid(0x80000001, &a, &b, &c, &d)) f->fma4 = ymm && (c & bit_FMA4);
    if (max_leaf < 7) return;
    __cpuid_count(7, 0, a, b, c, d);
    f->avx2 = ymm && (b & bit_AVX2);
    f->avx512f = zmm && (b & bit_AVX512F);
    f->avx512dq = zmm && (b & bit_AVX512DQ);
    f->avx512cd = zmm && (b & bit_AVX512CD);
    f->avx512bw = zmm && (b & bit_AVX512BW);
    f->avx512vl = zmm && (b & bit_AVX512VL);
    f->amx_bf16 = tiles && (d & (1u << 22)) && (d & (1u << 24)); /* AMX-BF16, AMX-TILE */
    unsigned subleaves = a;
    if (subleaves >= 1) {
        __cpuid_count(7, 1, a, b, c, d);
        f->avx512_bf16 = zmm && (a & (1u << 5));
    }
}
#else
/* Not x86: OpenBLAS's own choice stands (there is no table of ARM cores here yet). */
void cpu_isa_detect(cpu_isa *f) { *f = (cpu_isa){0}; }
#endif
