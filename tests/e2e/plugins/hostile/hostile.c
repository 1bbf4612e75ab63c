/* Test plugins for issue #15's hostile descriptors and loads: one module plugin per
 * HOSTILE_* macro (tests/e2e/plugins/hostile/meson.build), each wrong in one way. The
 * first group hands the loader strings, tables or sizes it must bound; the second
 * runs code at load time that must not take `lthost plugins` down with it. */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <lt/module.h>

/* Declares nothing: enough that the host walks the rest of the descriptor. */
__attribute__((unused)) static lt_status setup_nothing(lt_ctx_t *ctx, void *self) {
    (void)ctx;
    (void)self;
    return LT_OK;
}

__attribute__((unused)) static lt_module_desc desc = {
    .abi_major = LT_ABI_MAJOR,
    .abi_minor = LT_ABI_MINOR,
    .struct_size = sizeof(lt_module_desc),
    .self_size = 8,
    .name = "hostile",
    .setup = setup_nothing,
};

/* A readable page followed by one that cannot be read: a string filling the first has
 * no NUL before the fault. */
__attribute__((unused)) static char *page_then_guard(char fill) {
    long page = sysconf(_SC_PAGESIZE);
    char *p =
        mmap(NULL, 2 * (size_t)page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED || mprotect(p + page, (size_t)page, PROT_NONE) != 0) abort();
    memset(p, fill, (size_t)page);
    return p;
}

__attribute__((unused)) static const char *guard_page(void) {
    return page_then_guard('G') + sysconf(_SC_PAGESIZE);
}

#if defined(HOSTILE_HPARAMS_TOO_MANY)
static lt_hparam_desc many[300];
static char many_names[300][8];
#endif
#if defined(HOSTILE_NAME_1MIB)
static char huge_name[1 << 20];
#endif

__attribute__((unused)) static void make_hostile(void) {
#if defined(HOSTILE_NAME_UNTERMINATED)
    desc.name = page_then_guard('A');
#elif defined(HOSTILE_NAME_1MIB)
    memset(huge_name, 'A', sizeof huge_name - 1);
    desc.name = huge_name;
#elif defined(HOSTILE_NAME_UNREADABLE)
    desc.name = guard_page();
#elif defined(HOSTILE_NAME_CONTROL)
    desc.name = "evil\033[2Jname";
#elif defined(HOSTILE_SELF_SIZE_HUGE)
    desc.self_size = SIZE_MAX;
#elif defined(HOSTILE_HPARAMS_TOO_MANY)
    for (int i = 0; i < 299; i++) { /* many[299] stays {NULL}: an end past the bound */
        snprintf(many_names[i], sizeof many_names[i], "h%d", i);
        many[i] = (lt_hparam_desc)LT_HPARAM_INT(many_names[i], 1, "one of many");
    }
    desc.hparams = many;
#elif defined(HOSTILE_HPARAM_HELP_UNTERMINATED)
    static lt_hparam_desc hp[2] = {LT_HPARAM_INT("width", 1, NULL), LT_HPARAM_END};
    hp[0].help = page_then_guard('B');
    desc.hparams = hp;
#elif defined(HOSTILE_HPARAM_BAD_TYPE)
    static lt_hparam_desc hp[2] = {LT_HPARAM_INT("width", 1, "a width"), LT_HPARAM_END};
    hp[0].type = (lt_hparam_type)42;
    desc.hparams = hp;
#elif defined(HOSTILE_HPARAMS_UNREADABLE)
    desc.hparams = (const lt_hparam_desc *)guard_page();
#elif defined(HOSTILE_SUBMODULE_NAME_UNTERMINATED)
    static lt_submodule_desc sm[2] = {{NULL, NULL}, {NULL, NULL}};
    sm[0].name = page_then_guard('S');
    desc.submodules = sm;
#endif
}

#if defined(HOSTILE_CTOR_CRASH)
__attribute__((constructor)) static void crash_on_load(void) { raise(SIGSEGV); }
#elif defined(HOSTILE_CTOR_EXIT)
__attribute__((constructor)) static void exit_on_load(void) { exit(0); }
#endif

LT_EXPORT const lt_module_desc *lt_module_entry(void);
const lt_module_desc *lt_module_entry(void) {
#if defined(HOSTILE_ENTRY_GARBAGE)
    return (const lt_module_desc *)(uintptr_t)0xdeadbeef; /* not a descriptor, not mapped */
#else
    make_hostile();
    return &desc;
#endif
}
