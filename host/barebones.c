/* Trainer(barebones=True), as Lightning 2.6 defines it (trainer/trainer.py): everything that
 * may cost speed is off, so that what remains is the trainer's own overhead. A flag that
 * would turn one of those features on, given explicitly, is refused with Lightning's reason;
 * unset, it is turned off. The module's lt_log calls become an error in the loops
 * (logging.c), as LightningModule.log raises under barebones. */
#include <string.h>

#include "flags.h"
#include "host.h"

/* Whether row `name` of the flag table was set from the command line, a config or the
 * environment (not left at lthost's default). */
static bool given(const host_config *cfg, const char *name) {
    size_t n;
    const flag *f = flag_find(name);
    return f && cfg->flag_given[f - flags_table(&n)];
}

static bool refuse(const char *flag, const char *value, const char *why) {
    host_error("--barebones true with --%s %s: %s can impact raw speed so it is disabled in "
               "barebones mode; drop one of the two",
               flag, value, why);
    return false;
}

bool barebones_apply(host_config *cfg) {
    if (given(cfg, "enable_checkpointing") && cfg->enable_checkpointing)
        return refuse("enable_checkpointing", "true", "checkpointing");
    if (given(cfg, "logger") && strcmp(cfg->logger, "false"))
        return refuse("logger", cfg->logger, "logging");
    if (given(cfg, "enable_progress_bar") && cfg->enable_progress_bar)
        return refuse("enable_progress_bar", "true", "the progress bar");
    if (given(cfg, "log_every_n_steps")) return refuse("log_every_n_steps", "N", "logging");
    if (given(cfg, "enable_model_summary") && cfg->enable_model_summary)
        return refuse("enable_model_summary", "true", "the model summary");
    if (given(cfg, "num_sanity_val_steps") && cfg->num_sanity_val_steps != 0)
        return refuse("num_sanity_val_steps", "N", "sanity checking");
    if (cfg->fast_dev_run > 0) return refuse("fast_dev_run", "N", "a development run");
    if (cfg->detect_anomaly) return refuse("detect_anomaly", "true", "anomaly detection");
    if (cfg->profiler) return refuse("profiler", cfg->profiler, "profiling");
    cfg->enable_checkpointing = cfg->enable_progress_bar = cfg->enable_model_summary = false;
    cfg->logger = "false";
    cfg->num_sanity_val_steps = 0;
    return true;
}
