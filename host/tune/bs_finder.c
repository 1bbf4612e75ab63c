/* `lthost tune --scale_batch_size power|binsearch`: Lightning's Tuner.scale_batch_size
 * (tuner/batch_size_scaling.py). A first run of no steps reads the batch size and the
 * training set's length; then each trial is a run of steps_per_trial training steps at one
 * size, set up as __scale_batch_reset_params sets the trainer (no logger, callbacks, sanity
 * check, checkpoint or test; limit_val_batches steps_per_trial). A trial that runs out of
 * memory fails: on cuda the device's own, on any accelerator the cap given as
 * --scale_batch_size.max_memory (what tensors hold plus liblt's cache, torch's reserved
 * memory). bs_search.c picks the sizes as Lightning does. Every trial starts from the same
 * seed, so from the same weights: there is no checkpoint to restore afterwards. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bs_finder.h"
#include "bs_search.h"

enum { MAX_TRIALS_LIMIT = 1000, MAX_STEPS_PER_TRIAL = 1000000 };

void bs_finder_defaults(bs_finder_opts *o) {
    *o = (bs_finder_opts){.steps_per_trial = 3,
                          .init_val = 2,
                          .max_trials = 25,
                          .batch_arg_name = "batch_size",
                          .margin = 0.05,
                          .max_val = 8192};
}

/* "2GiB", "512MiB", "1.5G", "300MB", "1000000": bytes (K/M/G/T binary, KB/MB/GB/TB decimal). */
static bool parse_bytes(const char *text, uint64_t *out) {
    static const struct {
        const char *suffix;
        double scale;
    } units[] = {{"", 1},
                 {"B", 1},
                 {"K", 1024},
                 {"KiB", 1024},
                 {"KB", 1e3},
                 {"M", 1048576.0},
                 {"MiB", 1048576.0},
                 {"MB", 1e6},
                 {"G", 1073741824.0},
                 {"GiB", 1073741824.0},
                 {"GB", 1e9},
                 {"T", 1099511627776.0},
                 {"TiB", 1099511627776.0},
                 {"TB", 1e12}};
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (end == text || errno || !(v > 0)) return false;
    for (size_t i = 0; i < sizeof units / sizeof *units; i++)
        if (!strcmp(end, units[i].suffix)) {
            double bytes = v * units[i].scale;
            if (!(bytes >= 1 && bytes < 1.8e19)) return false;
            *out = (uint64_t)bytes;
            return true;
        }
    return false;
}

static bool parse_int(const char *key, const char *text, int64_t lo, int64_t hi, int64_t *out) {
    char *end;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (end != text && !*end && !errno && v >= lo && v <= hi) {
        *out = v;
        return true;
    }
    host_error("--scale_batch_size.%s '%s': expected an integer from %lld to %lld", key, text,
               (long long)lo, (long long)hi);
    return false;
}

static bool set_margin(bs_finder_opts *o, const char *value) {
    char *end;
    double m = strtod(value, &end);
    if (end != value && !*end && m >= 0 && m < 1) {
        o->margin = m;
        return true;
    }
    host_error("--scale_batch_size.margin '%s': expected a number in [0, 1)", value);
    return false;
}

/* steps_per_trial, init_val, max_trials or max_val (*known); false after an error line, or
 * when key is none of them. */
static bool set_int(bs_finder_opts *o, const char *key, const char *value, bool *known) {
    static const struct {
        const char *key;
        int64_t hi;
    } ints[] = {{"steps_per_trial", MAX_STEPS_PER_TRIAL},
                {"init_val", 8192},
                {"max_trials", MAX_TRIALS_LIMIT},
                {"max_val", INT32_MAX}};
    int64_t v;
    for (size_t i = 0; i < sizeof ints / sizeof *ints; i++) {
        if (strcmp(key, ints[i].key)) continue;
        *known = true;
        if (!parse_int(key, value, 1, ints[i].hi, &v)) return false;
        if (i == 0) o->steps_per_trial = v;
        if (i == 1) o->init_val = v;
        if (i == 2) o->max_trials = (int)v;
        if (i == 3) o->max_val = v;
        return true;
    }
    return false;
}

bool bs_finder_option(bs_finder_opts *o, const char *key, const char *value) {
    bool known = false, ok = set_int(o, key, value, &known);
    if (known) return ok;
    if (!strcmp(key, "mode") && (!strcmp(value, "power") || !strcmp(value, "binsearch"))) {
        o->binsearch = !strcmp(value, "binsearch");
        return true;
    }
    if (!strcmp(key, "mode")) {
        host_error("--scale_batch_size.mode '%s': expected power or binsearch", value);
        return false;
    }
    if (!strcmp(key, "batch_arg_name")) {
        o->batch_arg_name = value;
        return true;
    }
    if (!strcmp(key, "margin")) return set_margin(o, value);
    if (!strcmp(key, "max_memory") && parse_bytes(value, &o->max_memory)) return true;
    if (!strcmp(key, "max_memory"))
        host_error("--scale_batch_size.max_memory '%s': expected a size such as 2GiB, 512MiB or "
                   "300MB",
                   value);
    else
        host_error("unknown option --scale_batch_size.%s (options: mode, steps_per_trial, "
                   "init_val, max_trials, batch_arg_name, margin, max_val, max_memory)",
                   key);
    return false;
}

/* ---- the trials ------------------------------------------------------------------------- */

typedef struct finder {
    const host_config *base;
    const bs_finder_opts *o;
    run_probe probe;
    char value[32]; /* the trial's batch size, as the override's text */
    int n;          /* trials so far */
} finder;

bool bs_finder_set_size(host_config *cfg, bool module, const char *name, const char *value) {
    hparam_override *hp = module ? cfg->model_hp : cfg->data_hp;
    int *n = module ? &cfg->n_model_hp : &cfg->n_data_hp;
    for (int i = 0; i < *n; i++)
        if (!strcmp(hp[i].name, name)) {
            hp[i].value = value;
            return true;
        }
    if (*n >= LTHOST_MAX_OVERRIDES) {
        host_error("--scale_batch_size: too many --%s. options to add --%s.%s",
                   module ? "model" : "data", module ? "model" : "data", name);
        return false;
    }
    hp[(*n)++] = (hparam_override){name, value};
    return true;
}

/* The user's run as one trial of `steps` steps at batch size `size` (0: as configured). */
static bool trial_config(finder *f, int64_t size, int64_t steps, host_config *c) {
    *c = *f->base;
    c->command = "fit";
    c->max_steps = steps;
    c->limit_train = (batch_limit){.is_fraction = true, .fraction = 1.0};
    c->limit_val = (batch_limit){.count = steps};
    c->num_sanity_val_steps = 0;
    c->logger = "false";
    c->enable_checkpointing = c->test_after_fit = false;
    c->enable_progress_bar = c->enable_model_summary = false;
    c->save_config = false;
    c->n_callbacks = 0;
    c->profiler = NULL;
    c->memory_limit = f->o->max_memory;
    c->probe = &f->probe;
    c->quiet = true;
    if (f->probe.seed_known) c->seed_given = true, c->seed = f->probe.seed;
    if (!size) return true;
    snprintf(f->value, sizeof f->value, "%lld", (long long)size);
    return bs_finder_set_size(c, f->probe.batch_arg_owner == 'm', f->o->batch_arg_name, f->value);
}

/* One run, its error line kept back: true when it ran, else *oom says whether it ran out of
 * memory (the line dropped) or failed otherwise (the line printed). */
static bool run_quietly(const host_config *c, run_probe *p, bool *oom) {
    char err[4096];
    p->failed_allocs = p->peak_bytes = 0;
    host_error_capture(err, sizeof err);
    int rc = trainer_run(c);
    host_error_capture(NULL, 0);
    *oom = rc != 0 && p->failed_allocs > 0;
    if (rc && !*oom) fprintf(stderr, "%s\n", err);
    return rc == 0;
}

static int trial(void *user, int64_t size) {
    finder *f = user;
    host_config c;
    if (size < 1) {
        host_error("--scale_batch_size: even batch size 1 ran out of memory%s",
                   f->o->max_memory ? "; raise --scale_batch_size.max_memory" : "");
        return -1;
    }
    if (!trial_config(f, size, f->o->steps_per_trial, &c)) return -1;
    bool oom;
    f->n++;
    fflush(stdout); /* before the trial's own output, if any */
    if (run_quietly(&c, &f->probe, &oom)) {
        printf("Trial %d: batch size %lld fit, tensors peaked at %.1f MiB\n", f->n, (long long)size,
               (double)f->probe.peak_bytes / 1048576.0);
        return 1;
    }
    if (!oom) return -1;
    printf("Trial %d: batch size %lld ran out of memory\n", f->n, (long long)size);
    return 0;
}

/* The run of no steps: the seed, the batch size hyper-parameter and the training set. */
static bool probe_run(finder *f) {
    host_config c;
    trial_config(f, 0, 0, &c);
    bool oom;
    if (!run_quietly(&c, &f->probe, &oom)) {
        if (oom)
            host_error("--scale_batch_size: the model alone does not fit in memory%s",
                       f->o->max_memory ? "; raise --scale_batch_size.max_memory" : "");
        return false;
    }
    f->probe.seed_known = true;
    if (f->probe.batch_arg_owner) return true;
    host_error("--scale_batch_size: neither the module %s nor the data plugin %s declares an "
               "integer hyper-parameter '%s'; name the one that sets the batch size with "
               "--scale_batch_size.batch_arg_name",
               f->base->module, f->base->data ? f->base->data : "(the module's)",
               f->o->batch_arg_name);
    return false;
}

bool bs_finder_run(host_config *cfg, const bs_finder_opts *o, bs_finder_result *res) {
    finder f = {.base = cfg, .o = o, .probe = {.batch_arg_name = o->batch_arg_name}};
    res->found = 0;
    if (cfg->fast_dev_run > 0) {
        printf("Skipping batch size scaler since fast_dev_run is enabled.\n");
        return true;
    }
    if (!probe_run(&f)) return false;
    int64_t tried[MAX_TRIALS_LIMIT * 2 + 64];
    bs_search_opts so = {.init_val = o->init_val,
                         .max_trials = o->max_trials,
                         .binsearch = o->binsearch,
                         .margin = o->binsearch ? o->margin : 0,
                         .dataset_len = f.probe.train_len,
                         .start = f.probe.batch_size > 0 ? f.probe.batch_size : 1,
                         .max_val = o->max_val,
                         .log = stdout}; /* Lightning's rank_zero_info lines */
    bs_search_result r = {.tried = tried, .cap = (int)(sizeof tried / sizeof *tried)};
    if (bs_search_run(&so, trial, &f, &r) != 0) return false;
    const bool module = f.probe.batch_arg_owner == 'm';
    const char *prefix = module ? "model" : "data";
    res->found = r.found;
    res->module = module;
    snprintf(res->text, sizeof res->text, "%lld", (long long)r.found);
    printf("Finished batch size finder: %s.%s %lld (%s, %d trials%s); train with --%s.%s %lld\n",
           prefix, o->batch_arg_name, (long long)r.found, o->binsearch ? "binsearch" : "power",
           r.n_tried, o->max_memory ? ", within --scale_batch_size.max_memory" : "", prefix,
           o->batch_arg_name, (long long)r.found);
    fflush(stdout);
    return bs_finder_set_size(cfg, module, o->batch_arg_name, res->text);
}
