/* blas.c — OpenBLAS, loaded by the accelerator itself so that it runs the right kernels.
 *
 * OpenBLAS chooses its kernels once, in its library constructor, from the CPU model or
 * from OPENBLAS_CORETYPE; nothing can change them afterwards. So the plugin does not
 * link it: cpu_blas_open reads the CPU's features (cpuid, and xgetbv for what the OS
 * saves), loads OpenBLAS once with one thread to hear its own choice, and when that is a
 * generic fallback below what the CPU runs (blas_core.c), unloads it and loads it again
 * with OPENBLAS_CORETYPE set. The environment is restored at once; a user's own
 * OPENBLAS_CORETYPE is left alone, and refused when the CPU cannot run it (SkylakeX on an
 * AVX2 CPU dies of SIGILL in the first GEMM). isa.c reads the CPU's features. */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu_impl.h"

/* The library's soname; overridable for an OpenBLAS installed under another name. */
#ifndef CPU_OPENBLAS_LIB
#define CPU_OPENBLAS_LIB "libopenblas.so.0"
#endif

/* ---- the environment, set for one dlopen and restored ------------------------------ */

typedef struct {
    const char *name;
    char *saved; /* the previous value (owned), NULL when it was unset */
} env_patch;

static bool env_patch_set(env_patch *p, const char *name, const char *value) {
    const char *old = getenv(name);
    *p = (env_patch){.name = name, .saved = old ? strdup(old) : NULL};
    if (old && !p->saved) return false;
    return setenv(name, value, 1) == 0;
}

static void env_patch_restore(env_patch *p) {
    if (p->saved)
        setenv(p->name, p->saved, 1);
    else
        unsetenv(p->name);
    free(p->saved);
    p->saved = NULL;
}

/* ---- loading ------------------------------------------------------------------------ */

static lt_status load_error(const char *what) {
    return lt_set_error(LT_ERR_DEVICE,
                        "cpu accelerator: cannot load " CPU_OPENBLAS_LIB " (%s); install "
                        "OpenBLAS: bash scripts/deps.sh (Debian: apt-get install libopenblas0)",
                        what);
}

/* The core OpenBLAS picks by itself, into own: loaded on one thread (no worker threads
 * to outlive the unload), asked, unloaded. */
static lt_status probe_own_core(char *own, size_t n) {
    env_patch threads;
    if (!env_patch_set(&threads, "OPENBLAS_NUM_THREADS", "1"))
        return lt_set_error(LT_ERR_OOM, "cpu accelerator: out of memory setting the environment");
#ifdef CPU_TEST_PROBE_CORE
    /* The tests' fallback_cpu: OpenBLAS "picks" this core by itself, as Debian's 0.3.21
     * picks Prescott on CI's Xeon, so that the reload runs on any machine. */
    env_patch fake;
    if (!env_patch_set(&fake, "OPENBLAS_CORETYPE", CPU_TEST_PROBE_CORE)) abort();
#endif
    void *lib = dlopen(CPU_OPENBLAS_LIB, RTLD_NOW | RTLD_LOCAL);
#ifdef CPU_TEST_PROBE_CORE
    env_patch_restore(&fake);
#endif
    env_patch_restore(&threads);
    if (!lib) return load_error(dlerror());
    char *(*corename)(void) = (char *(*)(void))dlsym(lib, "openblas_get_corename");
    snprintf(own, n, "%s", corename ? corename() : "");
    dlclose(lib);
    return corename ? LT_OK : load_error("it has no openblas_get_corename: not OpenBLAS?");
}

/* *fn = the function `name` of lib, or NULL. POSIX: dlsym's object pointer is the
 * function, so its bytes are the function pointer's. */
static void resolve(void *lib, const char *name, void *fn, size_t size) {
    void *sym = dlsym(lib, name);
    memcpy(fn, &sym, size);
}

/* Load for good (never unloaded: its worker threads run its code), with core set. */
static lt_status load_with_core(cpu_blas *b, const char *core) {
    env_patch coretype = {0};
    if (core && !env_patch_set(&coretype, "OPENBLAS_CORETYPE", core))
        return lt_set_error(LT_ERR_OOM, "cpu accelerator: out of memory setting the environment");
    b->lib = dlopen(CPU_OPENBLAS_LIB, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
    if (core) env_patch_restore(&coretype);
    if (!b->lib) return load_error(dlerror());
    resolve(b->lib, "cblas_sgemm", &b->sgemm, sizeof b->sgemm);
    resolve(b->lib, "openblas_set_num_threads", &b->set_num_threads, sizeof b->set_num_threads);
    resolve(b->lib, "openblas_get_corename", &b->get_corename, sizeof b->get_corename);
    resolve(b->lib, "openblas_get_config", &b->get_config, sizeof b->get_config);
    if (!b->sgemm || !b->set_num_threads || !b->get_corename || !b->get_config) {
        cpu_blas_close(b);
        return load_error("it lacks cblas_sgemm or an openblas_* call: not OpenBLAS?");
    }
    return LT_OK;
}

/* "OpenBLAS 0.3.21" from "OpenBLAS 0.3.21 NO_LAPACKE DYNAMIC_ARCH ...". */
static void library_version(const cpu_blas *b, char *out, size_t n) {
    const char *cfg = b->get_config();
    const char *sp = cfg ? strchr(cfg, ' ') : NULL;
    size_t len = sp ? strcspn(sp + 1, " ") + (size_t)(sp + 1 - cfg) : cfg ? strlen(cfg) : 0;
    snprintf(out, n, "%.*s", (int)len, cfg ? cfg : "");
}

/* What runs and why, for the describe slot: "OpenBLAS 0.3.21 (Zen kernels)". */
static void describe(cpu_blas *b, const char *user, const char *own, const char *want,
                     bool loaded_before) {
    char lib[64];
    library_version(b, lib, sizeof lib);
    const char *now = b->get_corename();
    char why[160] = "";
    if (user)
        snprintf(why, sizeof why, ", from OPENBLAS_CORETYPE=%s", user);
    else if (loaded_before && cpu_blas_choose_core(now, &b->isa))
        snprintf(why, sizeof why,
                 "; OpenBLAS was loaded before the cpu accelerator: "
                 "set OPENBLAS_CORETYPE=%s for the CPU's best",
                 cpu_blas_best_core(&b->isa));
    else if (want && strcasecmp(now, want))
        snprintf(why, sizeof why, "; %s asked, which this OpenBLAS does not run", want);
    else if (want)
        snprintf(why, sizeof why, " for this CPU's %s, not its %s fallback",
                 cpu_isa_level_name(cpu_isa_best(&b->isa)), own);
    snprintf(b->line, sizeof b->line, "%s (%s kernels%s)", lib, now, why);
}

lt_status cpu_blas_open(cpu_blas *b) {
    *b = (cpu_blas){0};
    cpu_isa_detect(&b->isa);
    const char *user = getenv("OPENBLAS_CORETYPE");
    if (user && !*user) user = NULL;
    const char *needs = cpu_blas_core_needs(user, &b->isa);
    if (needs)
        return lt_set_error(LT_ERR_DEVICE,
                            "cpu accelerator: OPENBLAS_CORETYPE=%s needs %s, which this CPU "
                            "lacks (it runs %s); unset OPENBLAS_CORETYPE or set it to %s",
                            user, needs, cpu_isa_level_name(cpu_isa_best(&b->isa)),
                            cpu_blas_best_core(&b->isa));
    void *already = dlopen(CPU_OPENBLAS_LIB, RTLD_NOW | RTLD_NOLOAD);
    if (already) dlclose(already);
    char own[64] = "";
    const char *want = NULL;
    if (!user && !already) {
        lt_status s = probe_own_core(own, sizeof own);
        if (s != LT_OK) return s;
        want = cpu_blas_choose_core(own, &b->isa);
    }
    lt_status s = load_with_core(b, want);
    if (s != LT_OK) return s;
    describe(b, user, own, want, already != NULL);
    return LT_OK;
}

void cpu_blas_close(cpu_blas *b) {
    if (b->lib) dlclose(b->lib); /* RTLD_NODELETE: drops our reference, keeps the code */
    b->lib = NULL;
}
