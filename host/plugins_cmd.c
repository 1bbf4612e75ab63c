/* `lthost plugins`: every plugin found, with its kind and ABI, or why it was skipped. */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <lt/accelerator.h>

#include "host.h"

typedef struct {
    int found, skipped;
} scan_counts;

/* An accelerator that says what it runs (its describe slot) is started to say it:
 * "cpu: OpenBLAS 0.3.21 (Zen kernels), 2 threads", or why it cannot start. Others are
 * not started (a GPU's would create a context just to print nothing). */
static void print_accelerator_line(const char *path) {
    lt_plugin_t *p = NULL;
    if (lt_plugin_open(LT_PLUGIN_ACCELERATOR, path, NULL, &p) != LT_OK) {
        lt_clear_error();
        return;
    }
    const lt_accelerator_desc *k = lt_plugin_desc(p);
    if (!k->describe) {
        lt_plugin_close(p);
        return;
    }
    lt_device_t *dev = NULL;
    if (lt_device_from_plugin(p, 0, &dev) == LT_OK)
        printf("  %-12s %-16s runs %s\n", "", "", lt_device_describe(dev));
    else
        printf("  %-12s %-16s cannot start: %s\n", "", "", lt_last_error());
    lt_clear_error();
    lt_device_close(dev);
}

static void print_plugin(void *user, const lt_plugin_info *info) {
    scan_counts *c = user;
    if (info->ok) {
        printf("  %-12s %-16s ABI %u.%u  %s\n", lt_plugin_kind_name(info->kind), info->name,
               info->abi_major, info->abi_minor, info->path);
        if (info->kind == LT_PLUGIN_ACCELERATOR) print_accelerator_line(info->path);
        c->found++;
    } else {
        printf("  %-12s %-16s skipped: %s\n", "-", "-", info->why);
        c->skipped++;
    }
}

int plugins_command(const host_config *cfg) {
    scan_counts c = {0, 0};
    printf("plugins (kind, name, ABI, path); this lthost speaks plugin ABI %d.%d:\n", LT_ABI_MAJOR,
           LT_ABI_MINOR);
    lt_plugin_scan(cfg->plugin_roots, print_plugin, &c);
    printf("%d plugins found, %d skipped\n", c.found, c.skipped);
    printf("built into lthost:\n");
    int i = 0;
    for (const char *name; (name = builtin_callback_name(i)); i++)
        printf("  %-12s %-16s --callbacks %s\n", "callback", name, name);
    return 0;
}

/* The flag that takes each kind, for "pass it with --data". */
static const char *const kind_flag[LT_PLUGIN_KIND_COUNT] = {
    [LT_PLUGIN_MODULE] = "--module",     [LT_PLUGIN_ACCELERATOR] = "--accelerator",
    [LT_PLUGIN_STRATEGY] = "--strategy", [LT_PLUGIN_PROFILER] = "--profiler",
    [LT_PLUGIN_DATA] = "--data",         [LT_PLUGIN_CALLBACK] = "--callbacks",
};

/* The kind a plugin file is, when it is not `want` (LT_PLUGIN_KIND_COUNT: none). */
static lt_plugin_kind other_kind(const host_config *cfg, lt_plugin_kind want, const char *name) {
    struct stat st;
    if (stat(name, &st) != 0 || !S_ISREG(st.st_mode)) return LT_PLUGIN_KIND_COUNT;
    for (int k = 0; k < LT_PLUGIN_KIND_COUNT; k++) {
        lt_plugin_t *p = NULL;
        if (k != (int)want &&
            lt_plugin_open((lt_plugin_kind)k, name, cfg->plugin_roots, &p) == LT_OK) {
            lt_plugin_close(p);
            return (lt_plugin_kind)k;
        }
    }
    return LT_PLUGIN_KIND_COUNT;
}

bool host_open_plugin(const host_config *cfg, lt_plugin_kind kind, const char *name,
                      lt_plugin_t **out) {
    if (lt_plugin_open(kind, name, cfg->plugin_roots, out) == LT_OK) return true;
    char why[2048];
    snprintf(why, sizeof why, "%s", lt_last_error());
    lt_plugin_kind k = other_kind(cfg, kind, name);
    lt_clear_error();
    if (k == LT_PLUGIN_KIND_COUNT)
        host_error("%s", why);
    else
        host_error("%s (pass it with %s)", why, kind_flag[k]);
    return false;
}
