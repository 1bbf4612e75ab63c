/* The callbacks lthost ships, by Lightning's class names (with or without the module
 * path, as LightningCLI accepts them). */
#include <string.h>

#include "../trainer/trainer.h"

extern const lt_callback_desc early_stopping_callback, lr_monitor_callback;

static const char *const builtin_names[] = {"EarlyStopping", "LearningRateMonitor",
                                            "ModelCheckpoint", NULL};

const char *const *builtin_callback_names(void) { return builtin_names; }

const lt_callback_desc *builtin_callback(const char *name, bool *monitoring) {
    const char *dot = strrchr(name, '.');
    const char *base = dot && !strchr(name, '/') ? dot + 1 : name;
    if (!strcmp(base, "EarlyStopping")) {
        *monitoring = true;
        return &early_stopping_callback;
    }
    if (!strcmp(base, "ModelCheckpoint")) {
        *monitoring = true;
        return &model_checkpoint_callback;
    }
    if (!strcmp(base, "LearningRateMonitor")) {
        *monitoring = false;
        return &lr_monitor_callback;
    }
    return NULL;
}

const char *builtin_callback_suggest(const char *name) {
    const char *dot = strrchr(name, '.');
    if (strchr(name, '/')) return NULL;
    return lt_did_you_mean(dot ? dot + 1 : name, builtin_names,
                           sizeof builtin_names / sizeof *builtin_names - 1);
}

bool open_callback_plugin(const host_config *cfg, const char *name, lt_plugin_t **out) {
    const char *best = builtin_callback_suggest(name);
    if (!best) return host_open_plugin(cfg, LT_PLUGIN_CALLBACK, name, out);
    if (lt_plugin_open(LT_PLUGIN_CALLBACK, name, cfg->plugin_roots, out) == LT_OK) return true;
    host_error("--callbacks %s: no built-in callback or callback plugin of that name; did you "
               "mean %s? (built-ins: EarlyStopping, LearningRateMonitor, ModelCheckpoint)",
               name, best);
    return false;
}
