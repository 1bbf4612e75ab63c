/* `lthost plugins`: every plugin found, with its kind and ABI, or why it was skipped. */
#include <stdio.h>

#include "host.h"

typedef struct {
    int found, skipped;
} scan_counts;

static void print_plugin(void *user, const lt_plugin_info *info) {
    scan_counts *c = user;
    if (info->ok) {
        printf("  %-12s %-16s ABI %u.%u  %s\n", lt_plugin_kind_name(info->kind), info->name,
               info->abi_major, info->abi_minor, info->path);
        c->found++;
    } else {
        printf("  %-12s %-16s skipped: %s\n", "-", "-", info->why);
        c->skipped++;
    }
}

int plugins_command(const host_config *cfg) {
    scan_counts c = {0, 0};
    printf("plugins (kind, name, ABI, path); this lthost speaks plugin ABI %d.%d:\n",
           LT_ABI_MAJOR, LT_ABI_MINOR);
    lt_plugin_scan(cfg->plugin_roots, print_plugin, &c);
    printf("%d plugins found, %d skipped\n", c.found, c.skipped);
    printf("built into lthost:\n");
    for (const char *const *name = builtin_callback_names(); *name; name++)
        printf("  %-12s %-16s --callbacks %s\n", "callback", *name, *name);
    return 0;
}
