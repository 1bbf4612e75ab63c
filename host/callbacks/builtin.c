/* The callbacks lthost ships, by Lightning's class names (with or without the module
 * path, as LightningCLI accepts them). */
#include <stdio.h>
#include <string.h>

#include "../trainer/trainer.h"

extern const lt_callback_desc early_stopping_callback, lr_monitor_callback;
/* trainer flags (issue 23: wt-flags) */
extern const lt_callback_desc timer_callback, grad_accum_scheduler_callback, on_exception_callback,
    model_summary_callback, device_stats_callback;
extern const lt_callback_desc lr_finder_callback;         /* issue #23: lthost tune --lr_find */
extern const lt_callback_desc swa_callback, ema_callback; /* issue #23: weight averaging */

/* One row per built-in: the lookup, the did-you-mean and `lthost plugins` read it. */
static const struct {
    const char *name;
    const lt_callback_desc *desc;
    bool monitoring; /* runs after the module's on_train_epoch_end, as Lightning's */
} builtins[] = {
    {"EarlyStopping", &early_stopping_callback, true},
    {"LearningRateMonitor", &lr_monitor_callback, false},
    {"ModelCheckpoint", &model_checkpoint_callback, true},
    /* trainer flags (issue 23: wt-flags) */
    {"Timer", &timer_callback, false},
    {"GradientAccumulationScheduler", &grad_accum_scheduler_callback, false},
    {"OnExceptionCheckpoint", &on_exception_callback, false},
    {"ModelSummary", &model_summary_callback, false},
    {"DeviceStatsMonitor", &device_stats_callback, false},
    {"LearningRateFinder", &lr_finder_callback, false},
    {"StochasticWeightAveraging", &swa_callback, false},
    {"EMAWeightAveraging", &ema_callback, false},
};
#define NBUILTINS (sizeof builtins / sizeof *builtins)

/* "lightning.pytorch.callbacks.EarlyStopping" -> "EarlyStopping"; a path stays whole. */
static const char *class_name(const char *name) {
    const char *dot = strrchr(name, '.');
    return dot && !strchr(name, '/') ? dot + 1 : name;
}

const char *builtin_callback_name(int i) {
    return i >= 0 && i < (int)NBUILTINS ? builtins[i].name : NULL;
}

const lt_callback_desc *builtin_callback(const char *name, bool *monitoring) {
    for (size_t i = 0; i < NBUILTINS; i++)
        if (!strcmp(class_name(name), builtins[i].name)) {
            *monitoring = builtins[i].monitoring;
            return builtins[i].desc;
        }
    return NULL;
}

bool open_callback_plugin(const host_config *cfg, const char *name, lt_plugin_t **out) {
    const char *names[NBUILTINS];
    char list[256] = "";
    for (size_t i = 0; i < NBUILTINS; i++) {
        names[i] = builtins[i].name;
        snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? ", " : "", names[i]);
    }
    const char *best =
        strchr(name, '/') ? NULL : lt_did_you_mean(class_name(name), names, (int)NBUILTINS);
    if (!best) return host_open_plugin(cfg, LT_PLUGIN_CALLBACK, name, out);
    if (lt_plugin_open(LT_PLUGIN_CALLBACK, name, cfg->plugin_roots, out) == LT_OK) return true;
    host_error("--callbacks %s: no built-in callback or callback plugin of that name; did you "
               "mean %s? (built-ins: %s)",
               name, best, list);
    return false;
}
