/* blas_core.c — which OpenBLAS kernels (its "core types") this CPU can run, and which one
 * to run: pure functions of a core name and the CPU's features, so that the choice is
 * tested on any machine (tests/unit/test_blas_core.c) with the features of the CPUs we
 * cannot run on.
 *
 * Why: a DYNAMIC_ARCH OpenBLAS picks its kernels from the CPU model, and a model it does
 * not know gets a generic core. Debian's 0.3.21 runs its SSE3 "Prescott" kernels on a
 * Sapphire Rapids Xeon with AVX-512 (4x slower than its SkylakeX kernels, issue #20).
 * The features cpuid reports are what decides which kernels can run, not the model. */
#include <stddef.h>
#include <strings.h>

#include "cpu_impl.h"

/* Every x86-64 core of OpenBLAS's DYNAMIC_ARCH list, with what its kernels need. Names as
 * openblas_get_corename() spells them; OPENBLAS_CORETYPE matches them in any case. */
typedef struct {
    const char *name;
    cpu_isa_level level;
    bool fma4; /* AMD's pre-Zen FMA4, which Intel CPUs lack */
} core_info;

static const core_info cores[] = {
    {"Prescott", CPU_ISA_SSE3, false},      {"Core2", CPU_ISA_SSE3, false},
    {"Penryn", CPU_ISA_SSE3, false},        {"Dunnington", CPU_ISA_SSE3, false},
    {"Nehalem", CPU_ISA_SSE3, false},       {"Atom", CPU_ISA_SSE3, false},
    {"Opteron", CPU_ISA_SSE3, false},       {"Opteron(SSE3)", CPU_ISA_SSE3, false},
    {"Barcelona", CPU_ISA_SSE3, false},     {"Nano", CPU_ISA_SSE3, false},
    {"Bobcat", CPU_ISA_SSE3, false},        {"Sandybridge", CPU_ISA_AVX, false},
    {"Bulldozer", CPU_ISA_AVX, true},       {"Piledriver", CPU_ISA_AVX, true},
    {"Steamroller", CPU_ISA_AVX, true},     {"Excavator", CPU_ISA_AVX, true},
    {"Haswell", CPU_ISA_AVX2, false},       {"Zen", CPU_ISA_AVX2, false},
    {"SkylakeX", CPU_ISA_AVX512, false},    {"Cooperlake", CPU_ISA_AVX512_BF16, false},
    {"SapphireRapids", CPU_ISA_AMX, false},
};

static const char *const level_names[CPU_ISA_COUNT] = {
    [CPU_ISA_SSE3] = "SSE3",
    [CPU_ISA_AVX] = "AVX",
    [CPU_ISA_AVX2] = "AVX2 and FMA",
    [CPU_ISA_AVX512] = "AVX-512 F/BW/VL/DQ/CD",
    [CPU_ISA_AVX512_BF16] = "AVX-512 with AVX512_BF16",
    [CPU_ISA_AMX] = "AMX-BF16",
};

static const core_info *core_find(const char *name) {
    for (size_t i = 0; name && i < sizeof cores / sizeof cores[0]; i++)
        if (!strcasecmp(cores[i].name, name)) return &cores[i];
    return NULL;
}

cpu_isa_level cpu_isa_best(const cpu_isa *f) {
    bool avx512 = f->avx512f && f->avx512bw && f->avx512vl && f->avx512dq && f->avx512cd;
    if (avx512 && f->avx512_bf16 && f->amx_bf16) return CPU_ISA_AMX;
    if (avx512 && f->avx512_bf16) return CPU_ISA_AVX512_BF16;
    if (avx512) return CPU_ISA_AVX512;
    if (f->avx2 && f->fma) return CPU_ISA_AVX2;
    return f->avx ? CPU_ISA_AVX : CPU_ISA_SSE3;
}

const char *cpu_isa_level_name(cpu_isa_level level) {
    return level >= 0 && level < CPU_ISA_COUNT ? level_names[level] : "?";
}

/* The fastest float32 GEMM kernels for a level. AMX multiplies only bf16 and int8 tiles,
 * so an AMX CPU's best sgemm is its AVX-512 one: Cooperlake's, which every OpenBLAS since
 * 0.3.11 knows (SapphireRapids only from 0.3.22). Zen's kernels are Haswell's with AMD's
 * cache sizes. */
const char *cpu_blas_best_core(const cpu_isa *f) {
    switch (cpu_isa_best(f)) {
    case CPU_ISA_AMX:
    case CPU_ISA_AVX512_BF16: return "Cooperlake";
    case CPU_ISA_AVX512: return "SkylakeX";
    case CPU_ISA_AVX2: return f->amd ? "Zen" : "Haswell";
    case CPU_ISA_AVX: return "Sandybridge";
    default: return "Prescott";
    }
}

const char *cpu_blas_choose_core(const char *own, const cpu_isa *f) {
    const core_info *c = core_find(own);
    /* A name we do not know comes from an OpenBLAS newer than this table: trust it. */
    if (own && *own && !c) return NULL;
    const char *best = cpu_blas_best_core(f);
    if (c && c->level >= core_find(best)->level) return NULL;
    return best;
}

const char *cpu_blas_core_needs(const char *core, const cpu_isa *f) {
    const core_info *c = core_find(core);
    if (!c) return NULL; /* unknown: OpenBLAS itself says what it does with it */
    if (c->fma4 && !f->fma4) return "AMD's FMA4";
    if (c->level > cpu_isa_best(f)) return level_names[c->level];
    return NULL;
}
