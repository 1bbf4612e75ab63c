/* blas.c — OpenBLAS, loaded by the accelerator itself so that it runs the right kernels.
 *
 * OpenBLAS chooses its kernels once, in its library constructor, from the CPU model or
 * from OPENBLAS_CORETYPE; nothing can change them afterwards. So the plugin does not
 * link it: cpu_blas_open loads OpenBLAS on one thread (no worker thread runs its code
 * yet), and when its own choice is a generic fallback below what the CPU runs (the CPU's
 * features against blas_core.c's table), unloads it and loads it again with
 * OPENBLAS_CORETYPE set. The environment is restored at once; a user's own
 * OPENBLAS_CORETYPE is left alone, and refused when the CPU cannot run it (SkylakeX on an
 * AVX2 CPU dies of SIGILL in the first GEMM). isa.c reads the CPU's features.
 *
 * setenv is not safe against a getenv running on another thread (POSIX): lthost opens
 * its device before it starts any thread (load_plugins, before MPI and the loaders), and
 * a program embedding liblt should open its cpu device before starting threads too. */
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

static lt_status env_error(void) {
    return lt_set_error(LT_ERR_OOM, "cpu accelerator: out of memory setting the environment");
}

/* *fn = the function `name` of lib, or NULL. POSIX: dlsym's object pointer is the
 * function, so its bytes are the function pointer's. */
static void resolve(void *lib, const char *name, void *fn, size_t size) {
    void *sym = dlsym(lib, name);
    memcpy(fn, &sym, size);
}

/* OpenBLAS's workers spin 2^28 cycles (about 0.1 s) after each GEMM before they sleep,
 * taking the cores from the kernels (the pool's, oneDNN's) that run next: a 2-thread cnn
 * step ran no faster than a 1-thread one. 2^12 cycles: the cnn's 2-thread epoch went from
 * 1181 to 1809 samples/s and the 1024-wide MLP's from 3509 to 4761 (bench/RESULTS.md).
 * The user's own OPENBLAS_THREAD_TIMEOUT wins. */
#define CPU_OPENBLAS_SPIN "12"

/* dlopen OpenBLAS with OPENBLAS_CORETYPE=core (NULL: its own choice), one thread (so
 * that no worker thread runs its code yet and it can still be unloaded;
 * openblas_set_num_threads adds the workers later) and a short spin. */
static lt_status load(cpu_blas *b, const char *core) {
    env_patch threads, coretype = {0}, spin = {0};
    bool own_spin = getenv("OPENBLAS_THREAD_TIMEOUT") == NULL;
    if (!env_patch_set(&threads, "OPENBLAS_NUM_THREADS", "1")) return env_error();
    if ((core && !env_patch_set(&coretype, "OPENBLAS_CORETYPE", core)) ||
        (own_spin && !env_patch_set(&spin, "OPENBLAS_THREAD_TIMEOUT", CPU_OPENBLAS_SPIN))) {
        if (coretype.name) env_patch_restore(&coretype);
        env_patch_restore(&threads);
        return env_error();
    }
    b->lib = dlopen(CPU_OPENBLAS_LIB, RTLD_NOW | RTLD_LOCAL);
    if (own_spin) env_patch_restore(&spin);
    if (core) env_patch_restore(&coretype);
    env_patch_restore(&threads);
    if (!b->lib) return load_error(dlerror());
    resolve(b->lib, "cblas_sgemm", &b->sgemm, sizeof b->sgemm);
    resolve(b->lib, "openblas_set_num_threads", &b->set_num_threads, sizeof b->set_num_threads);
    resolve(b->lib, "openblas_get_corename", &b->get_corename, sizeof b->get_corename);
    resolve(b->lib, "openblas_get_config", &b->get_config, sizeof b->get_config);
    if (!b->sgemm || !b->set_num_threads || !b->get_corename || !b->get_config) {
        dlclose(b->lib);
        b->lib = NULL;
        return load_error("it lacks cblas_sgemm or an openblas_* call: not OpenBLAS?");
    }
    return LT_OK;
}

/* Keep the library mapped for good: its worker threads will run its code, and another
 * cpu device in this process finds it loaded. */
static void keep_loaded(void) {
    void *h = dlopen(CPU_OPENBLAS_LIB, RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE);
    if (h) dlclose(h);
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

static lt_status refuse_user_core(const char *user, const char *needs, const cpu_isa *isa) {
    return lt_set_error(LT_ERR_DEVICE,
                        "cpu accelerator: OPENBLAS_CORETYPE=%s needs %s, which this CPU lacks "
                        "(it runs %s); unset OPENBLAS_CORETYPE or set it to %s",
                        user, needs, cpu_isa_level_name(cpu_isa_best(isa)),
                        cpu_blas_best_core(isa));
}

/* OpenBLAS's own pick is a fallback below the CPU: unload it (one thread, nothing of it
 * runs) and load it again with `want`. */
static lt_status reload_with(cpu_blas *b, const char *want) {
    dlclose(b->lib);
    b->lib = NULL;
    void *still = dlopen(CPU_OPENBLAS_LIB, RTLD_NOW | RTLD_NOLOAD);
    if (still) { /* something else holds it: reloading would not re-run its choice */
        b->lib = still;
        return LT_OK;
    }
    return load(b, want);
}

lt_status cpu_blas_open(cpu_blas *b) {
    *b = (cpu_blas){0};
    cpu_isa_detect(&b->isa);
    const char *user = getenv("OPENBLAS_CORETYPE");
    if (user && !*user) user = NULL;
    const char *needs = cpu_blas_core_needs(user, &b->isa);
    if (needs) return refuse_user_core(user, needs, &b->isa);
    void *already = dlopen(CPU_OPENBLAS_LIB, RTLD_NOW | RTLD_NOLOAD);
    if (already) dlclose(already);
#ifdef CPU_TEST_PROBE_CORE
    /* The tests' fallback_cpu: OpenBLAS "picks" this core by itself, as Debian's 0.3.21
     * picks Prescott on CI's Xeon, so that the reload runs on any machine. */
    lt_status s = load(b, already || user ? NULL : CPU_TEST_PROBE_CORE);
#else
    lt_status s = load(b, NULL);
#endif
    char own[64] = "";
    const char *want = NULL;
    if (s == LT_OK && !user && !already) {
        snprintf(own, sizeof own, "%s", b->get_corename());
        want = cpu_blas_choose_core(own, &b->isa);
        if (want) s = reload_with(b, want);
    }
    if (s != LT_OK) return s;
    keep_loaded();
    describe(b, user, own, want, already != NULL);
    return LT_OK;
}

void cpu_blas_close(cpu_blas *b) {
    if (b->lib) dlclose(b->lib); /* kept loaded: drops our reference only */
    b->lib = NULL;
}
