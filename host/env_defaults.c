/* Lightning's _defaults_from_env_vars (utilities/argparse.py): a Trainer argument NAME
 * takes its default from the environment variable PL_TRAINER_<NAME> when that is set and
 * not empty; arguments given explicitly (here --config and the command line) win. Values
 * go through Python's literal_eval there: True/False/None and quoted strings are read
 * the same way here. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flags.h"

/* Lightning 2.6's Trainer arguments (callbacks and plugins excepted: objects). */
static const char *const trainer_args[] = {"accelerator",
                                           "strategy",
                                           "devices",
                                           "num_nodes",
                                           "precision",
                                           "logger",
                                           "fast_dev_run",
                                           "max_epochs",
                                           "min_epochs",
                                           "max_steps",
                                           "min_steps",
                                           "max_time",
                                           "limit_train_batches",
                                           "limit_val_batches",
                                           "limit_test_batches",
                                           "limit_predict_batches",
                                           "overfit_batches",
                                           "val_check_interval",
                                           "check_val_every_n_epoch",
                                           "num_sanity_val_steps",
                                           "log_every_n_steps",
                                           "enable_checkpointing",
                                           "enable_progress_bar",
                                           "enable_model_summary",
                                           "accumulate_grad_batches",
                                           "gradient_clip_val",
                                           "gradient_clip_algorithm",
                                           "deterministic",
                                           "benchmark",
                                           "inference_mode",
                                           "use_distributed_sampler",
                                           "profiler",
                                           "detect_anomaly",
                                           "barebones",
                                           "sync_batchnorm",
                                           "reload_dataloaders_every_n_epochs",
                                           "default_root_dir",
                                           "enable_autolog_hparams",
                                           "model_registry"};

/* A copy of value in store (which frees it with the config files' strings). */
static const char *keep(cfg_entries *store, const char *key, const char *value) {
    if (store->n == store->cap) {
        int cap = store->cap ? 2 * store->cap : 16;
        cfg_entry *items = realloc(store->items, (size_t)cap * sizeof *items);
        if (!items) return NULL;
        store->items = items;
        store->cap = cap;
    }
    char *k = strdup(key), *v = strdup(value);
    if (!k || !v) {
        free(k);
        free(v);
        return NULL;
    }
    store->items[store->n++] = (cfg_entry){.key = k, .value = v, .line = 0};
    return v;
}

/* literal_eval's spelling as ours: True -> true, 'cpu' -> cpu. */
static const char *as_flag_value(cfg_entries *store, const char *key, const char *v) {
    if (!strcmp(v, "True")) return "true";
    if (!strcmp(v, "False")) return "false";
    size_t n = strlen(v);
    if (n >= 2 && (v[0] == '\'' || v[0] == '"') && v[n - 1] == v[0]) {
        const char *copy = keep(store, key, v + 1);
        if (copy) ((char *)copy)[n - 2] = '\0';
        return copy;
    }
    return v;
}

bool apply_env_defaults(host_config *cfg, cfg_entries *store) {
    for (size_t i = 0; i < sizeof trainer_args / sizeof *trainer_args; i++) {
        char var[96] = "PL_TRAINER_";
        size_t len = strlen(var);
        for (const char *c = trainer_args[i]; *c && len + 1 < sizeof var; c++)
            var[len++] = (char)toupper((unsigned char)*c);
        var[len] = '\0';
        const char *raw = getenv(var);
        if (!raw || !*raw) continue;
        const flag *f = flag_find(trainer_args[i]);
        if (!f) {
            if (!cfg->quiet) /* quiet: a second parse of the same flags (lthost tune) */
                fprintf(stderr, "lthost: warning: %s is set, but lthost has no --%s; ignored\n",
                        var, trainer_args[i]);
            continue;
        }
        const char *value = as_flag_value(store, var, raw);
        char where[128];
        snprintf(where, sizeof where, "%s=%.40s: ", var, raw);
        if (!value) {
            host_error("%sout of host memory", where);
            return false;
        }
        size_t n;
        cfg->flag_given[f - flags_table(&n)] = 1; /* a Trainer argument, as passed */
        if (!flag_set(cfg, where, f, value)) return false;
    }
    return true;
}
