/* Command-line flags: Lightning's Trainer names, --model.X / --data.X for the
 * hyper-parameters the plugins declare (checked once the plugins are loaded), callbacks,
 * and --config files whose entries are applied where the flag stands (later flags win). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "host.h"

typedef enum {
    F_STR, F_INT, F_OPT_INT, F_SEED, F_BOOL, F_LIMIT, F_BATCHES_OR_BOOL, F_DOUBLE, F_CHOICE,
} flag_type;

typedef struct flag {
    const char *name;
    flag_type type;
    size_t offset;       /* into host_config */
    int64_t min;         /* F_INT: smallest allowed value */
    const char *choices; /* F_CHOICE: "norm|value" */
    const char *help;
} flag;

#define FLAG(n, t, field, min, h) {n, t, offsetof(host_config, field), min, NULL, h}
#define CHOICE(n, field, ch, h) {n, F_CHOICE, offsetof(host_config, field), 0, ch, h}

static const flag flags[] = {
    FLAG("module", F_STR, module, 0, "model plugin: a name (mlp) or a path to a .so"),
    FLAG("data", F_STR, data, 0, "data plugin (default fashion_mnist)"),
    FLAG("accelerator", F_STR, accel, 0,
         "auto (default: cuda when its plugin is installed and a GPU is visible, else cpu), "
         "cpu, cuda (gpu) or an accelerator .so"),
    FLAG("accel", F_STR, accel, 0, "same as --accelerator"),
    FLAG("strategy", F_STR, strategy, 0,
         "auto (ddp when devices x num_nodes > 1, else single), single, ddp (or Lightning's "
         "ddp_spawn, ddp_fork, ..._find_unused_parameters_true names) or a .so"),
    FLAG("strategy.bucket_cap_mb", F_DOUBLE, bucket_cap_mb, 0,
         "ddp: gradients are averaged in buckets of this many MB (default 25)"),
    FLAG("strategy.timeout", F_DOUBLE, strategy_timeout, 0,
         "ddp: seconds a collective may wait for the other ranks before the job ends (default "
         "1800, Lightning's; 0: forever)"),
    FLAG("devices", F_INT, devices, 1, "devices per node (default 1; auto: 1 on the cpu accelerator)"),
    FLAG("num_nodes", F_INT, num_nodes, 1, "number of nodes (default 1)"),
    FLAG("threads", F_INT, threads, 1,
         "CPU threads for kernels (default: all cores, shared out among --devices processes)"),
    FLAG("max_epochs", F_OPT_INT, max_epochs, -1, "stop after this many epochs (default 1000, -1: no limit)"),
    FLAG("min_epochs", F_OPT_INT, min_epochs, -1, "train at least this many epochs, even if stopped early"),
    FLAG("max_steps", F_OPT_INT, max_steps, -1, "stop after this many optimizer steps (-1: no limit)"),
    FLAG("seed_everything", F_SEED, seed, 0, "seed for initialisation and shuffling"),
    FLAG("limit_train_batches", F_LIMIT, limit_train, 0, "int: batches per epoch; float: fraction"),
    FLAG("limit_val_batches", F_LIMIT, limit_val, 0, "int or fraction of validation batches"),
    FLAG("limit_test_batches", F_LIMIT, limit_test, 0, "int or fraction of test batches"),
    FLAG("limit_predict_batches", F_LIMIT, limit_predict, 0, "int or fraction of predict batches"),
    FLAG("overfit_batches", F_LIMIT, overfit_batches, 0,
         "int or fraction: train and validate on these same training batches, unshuffled"),
    FLAG("val_check_interval", F_LIMIT, val_check_interval, 0,
         "float: validate this often within an epoch; int: every N training batches"),
    FLAG("check_val_every_n_epoch", F_OPT_INT, check_val_every_n_epoch, 0,
         "validate every N epochs (default 1; null: only by val_check_interval)"),
    FLAG("num_sanity_val_steps", F_OPT_INT, num_sanity_val_steps, -1,
         "validation batches run before training (default 2, -1: all)"),
    FLAG("accumulate_grad_batches", F_INT, accumulate_grad_batches, 1,
         "step the optimizers every N batches, gradients summed (default 1)"),
    FLAG("gradient_clip_val", F_DOUBLE, gradient_clip_val, 0, "clip gradients at this value (0: off)"),
    CHOICE("gradient_clip_algorithm", gradient_clip_algorithm, "norm|value",
           "norm (total 2-norm, default) or value (each element)"),
    FLAG("deterministic", F_BOOL, deterministic, 0, "reproducible kernels (the CPU ones always are)"),
    FLAG("default_root_dir", F_STR, default_root_dir, 0, "where lightning_logs/ goes (default .)"),
    FLAG("enable_progress_bar", F_BOOL, enable_progress_bar, 0, "progress bar on a terminal (default true)"),
    FLAG("enable_model_summary", F_BOOL, enable_model_summary, 0, "print the layer table at fit start"),
    FLAG("log_every_n_steps", F_INT, log_every_n_steps, 1, "write step metrics every N steps (default 50)"),
    FLAG("precision", F_STR, precision, 0, "32-true (default; 32 is the same)"),
    FLAG("logger", F_STR, logger, 0, "true (csv + tensorboard), false, csv, tensorboard"),
    FLAG("predict.output", F_STR, predict_output, 0,
         "predictions file: .npy (default predictions.npy) or .csv"),
    FLAG("test_after_fit", F_BOOL, test_after_fit, 0, "run the test loop when fit ends (default true)"),
    FLAG("use_distributed_sampler", F_BOOL, use_distributed_sampler, 0,
         "ddp: each rank reads its own shard of each split (default true; false: the data "
         "module's whole split on every rank, for data modules that shard themselves)"),
    FLAG("fast_dev_run", F_BATCHES_OR_BOOL, fast_dev_run, 0,
         "true or N: N batches (true: 1) of train, val and test, one epoch, no logs"),
    FLAG("enable_checkpointing", F_BOOL, enable_checkpointing, 0,
         "save checkpoints with a default ModelCheckpoint (default true)"),
    FLAG("ckpt_path", F_STR, ckpt_path, 0,
         "PATH, last or best: fit resumes from it; validate/test/predict load its weights"),
    FLAG("init_weights", F_STR, init_weights, 0,
         "safetensors state dict (e.g. torch's save_file): initial weights for any command"),
    FLAG("submodule", F_STR, submodule, 0, "predict: run only this submodule (e.g. encoder)"),
    FLAG("strict", F_BOOL, strict, 0,
         "loading weights: every parameter present and no extra key (default true)"),
    FLAG("profiler", F_STR, profiler, 0,
         "simple, advanced, trace or a profiler .so: time every hook and loop stage"),
    FLAG("profiler.dirpath", F_STR, profiler_dirpath, 0,
         "folder for the profiler's files (default: the log dir)"),
    FLAG("profiler.filename", F_STR, profiler_filename, 0,
         "write the report to <dirpath>/<stage>-<filename>.txt instead of stdout"),
};
#define NFLAGS (sizeof flags / sizeof flags[0])

void config_defaults(host_config *cfg, const char *command) {
    *cfg = (host_config){
        .command = command, .data = "fashion_mnist", .accel = "auto", .strategy = "auto",
        .bucket_cap_mb = 25, .strategy_timeout = 1800,
        .devices = 1, .num_nodes = 1, .max_epochs = -1, .min_epochs = -1, .max_steps = -1,
        .limit_train = {true, 1.0, 0}, .limit_val = {true, 1.0, 0}, .limit_test = {true, 1.0, 0},
        .limit_predict = {true, 1.0, 0}, .val_check_interval = {true, 1.0, 0},
        .check_val_every_n_epoch = 1, .num_sanity_val_steps = 2, .accumulate_grad_batches = 1,
        .gradient_clip_algorithm = "norm", .default_root_dir = ".", .enable_progress_bar = true,
        .enable_model_summary = true, .log_every_n_steps = 50, .precision = "32-true",
        .logger = "true", .test_after_fit = true, .use_distributed_sampler = true, .enable_checkpointing = true, .strict = true};
}

/* Where a value came from, for messages: "" on the command line, "cfg.yaml:7: " from a file. */
typedef struct parse_state {
    host_config *cfg;
    const char *where;
    const char *module_hint, *data_hint; /* --module / --data anywhere on the line */
} parse_state;

static bool parse_int(const char *s, int64_t *out) {
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (!*s || *end || errno) return false;
    *out = v;
    return true;
}

static bool is_null(const char *s) { return !strcmp(s, "null") || !strcmp(s, "None"); }

static bool parse_limit(const char *s, batch_limit *out) {
    int64_t n;
    if (parse_int(s, &n) && n >= 0) {
        *out = (batch_limit){.is_fraction = false, .count = n};
        return true;
    }
    char *end;
    double f = strtod(s, &end);
    if (!*s || *end || !(f >= 0.0 && f <= 1.0)) return false;
    *out = (batch_limit){.is_fraction = true, .fraction = f};
    return true;
}

static bool bad_value(const parse_state *ps, const flag *f, const char *what, const char *value) {
    host_error("%s--%s expects %s, got '%s'", ps->where, f->name, what, value);
    return false;
}

static bool choice_ok(const char *choices, const char *value) {
    size_t n = strlen(value);
    for (const char *c = choices; *c;) {
        const char *bar = strchr(c, '|');
        size_t len = bar ? (size_t)(bar - c) : strlen(c);
        if (len == n && !strncmp(c, value, n)) return true;
        c += len + (bar != NULL);
    }
    return false;
}

/* The F_INT fields that are plain ints; the other counts are int64_t. */
static bool is_int_field(const flag *f) {
    return f->offset == offsetof(host_config, devices) || f->offset == offsetof(host_config, num_nodes) ||
           f->offset == offsetof(host_config, threads);
}

static bool set_flag(const parse_state *ps, const flag *f, const char *value) {
    void *field = (char *)ps->cfg + f->offset;
    int64_t n;
    char *end;
    switch (f->type) {
    case F_STR:
        *(const char **)field = value;
        return true;
    case F_CHOICE:
        if (!choice_ok(f->choices, value)) return bad_value(ps, f, f->choices, value);
        *(const char **)field = value;
        return true;
    case F_INT:
        if (f->offset == offsetof(host_config, devices) && !strcmp(value, "auto")) {
            ps->cfg->devices = 0; /* resolved by finish, once --accel is known */
            return true;
        }
        if (f->offset == offsetof(host_config, devices) && strpbrk(value, "[,")) {
            host_error("%s--devices %s: lthost takes a count, not a list of device indices; "
                       "pick the devices with CUDA_VISIBLE_DEVICES (e.g. CUDA_VISIBLE_DEVICES=1,3,5 "
                       "with --devices 3)", ps->where, value);
            return false;
        }
        if (!parse_int(value, &n) || n < f->min) {
            host_error("%s--%s expects an integer >= %lld, got '%s'", ps->where, f->name,
                       (long long)f->min, value);
            return false;
        }
        if (is_int_field(f))
            *(int *)field = (int)n;
        else
            *(int64_t *)field = n;
        return true;
    case F_OPT_INT: /* null (Lightning's None) is -1, or 0 for check_val_every_n_epoch */
        if (is_null(value)) n = f->min;
        else if (!parse_int(value, &n) || n < f->min)
            return bad_value(ps, f, f->min < 0 ? "an integer >= -1 or null" : "an integer >= 1 or null", value);
        if (f->min == 0 && n == 0 && !is_null(value)) return bad_value(ps, f, "an integer >= 1 or null", value);
        *(int64_t *)field = n;
        return true;
    case F_DOUBLE: {
        double d = strtod(value, &end);
        if (!*value || *end || !isfinite(d) || d < 0) return bad_value(ps, f, "a number >= 0", value);
        *(double *)field = d;
        return true;
    }
    case F_SEED:
        if (!parse_int(value, &n) || n < 0) return bad_value(ps, f, "a non-negative integer", value);
        ps->cfg->seed = (uint64_t)n;
        ps->cfg->seed_given = true;
        return true;
    case F_BOOL:
        if (strcmp(value, "true") && strcmp(value, "false")) return bad_value(ps, f, "true or false", value);
        *(bool *)field = value[0] == 't';
        return true;
    case F_BATCHES_OR_BOOL:
        if (!strcmp(value, "true") || !strcmp(value, "false")) n = value[0] == 't';
        else if (!parse_int(value, &n) || n < 0)
            return bad_value(ps, f, "true, false or a number of batches >= 0", value);
        *(int64_t *)field = n;
        return true;
    case F_LIMIT:
        if (!parse_limit(value, field))
            return bad_value(ps, f, "a batch count (int >= 0) or a fraction in [0.0, 1.0]", value);
        return true;
    }
    return false;
}

static bool add_override(const parse_state *ps, hparam_override *list, int *n, const char *name,
                         const char *value, const char *prefix) {
    if (!*name) {
        host_error("%s--%s needs a name, as in --%slr 1e-3", ps->where, prefix, prefix);
        return false;
    }
    if (*n == LTHOST_MAX_OVERRIDES) {
        host_error("%stoo many --%s flags (at most %d)", ps->where, prefix, LTHOST_MAX_OVERRIDES);
        return false;
    }
    list[(*n)++] = (hparam_override){name, value};
    return true;
}

static bool add_callback(const parse_state *ps, const char *name, const char *value) {
    host_config *c = ps->cfg;
    if (!*name) {
        if (c->n_callbacks == LTHOST_MAX_CALLBACKS) {
            host_error("%stoo many --callbacks (at most %d)", ps->where, LTHOST_MAX_CALLBACKS);
            return false;
        }
        c->callbacks[c->n_callbacks++] = (callback_spec){.name = value};
        return true;
    }
    if (c->n_callbacks == 0) {
        host_error("%s--callbacks.%s comes before any --callbacks NAME; name the callback first, "
                   "as in --callbacks EarlyStopping --callbacks.%s %s", ps->where, name, name, value);
        return false;
    }
    callback_spec *cb = &c->callbacks[c->n_callbacks - 1];
    return add_override(ps, cb->hp, &cb->n_hp, name, value, "callbacks.");
}

static const flag *find_flag(const char *name) {
    for (size_t i = 0; i < NFLAGS; i++)
        if (strcmp(flags[i].name, name) == 0) return &flags[i];
    return NULL;
}

/* Trainer arguments that Lightning 2.0 removed, and what replaced them. */
static const struct {
    const char *name, *instead;
} removed_flags[] = {
    {"gpus", "--accelerator gpu --devices N (one process per GPU)"},
    {"num_processes", "--devices N (with --strategy ddp, or auto)"},
    {"tpu_cores", "--accelerator and --devices"},
    {"auto_select_gpus", "--devices N, with CUDA_VISIBLE_DEVICES for which ones"},
    {"distributed_backend", "--strategy"},
    {"resume_from_checkpoint", "--ckpt_path"},
    {"checkpoint_callback", "--enable_checkpointing"},
    {"progress_bar_refresh_rate", "--enable_progress_bar"},
    {"weights_summary", "--enable_model_summary"},
};

/* Whether plugin `name` of `kind` declares a hyper-parameter called hp. */
static bool declares(const host_config *cfg, lt_plugin_kind kind, const char *name, const char *hp) {
    lt_plugin_t *p = NULL;
    bool found = false;
    if (!name || lt_plugin_open(kind, name, cfg->plugin_roots, &p) != LT_OK) {
        lt_clear_error();
        return false;
    }
    const lt_hparam_desc *d = kind == LT_PLUGIN_MODULE ? ((const lt_module_desc *)lt_plugin_desc(p))->hparams
                                                       : ((const lt_datamodule_desc *)lt_plugin_desc(p))->hparams;
    for (; d && d->name && !found; d++) found = !strcmp(d->name, hp);
    lt_plugin_close(p);
    return found;
}

/* --hidden for --model.hidden: a bare name the module or data plugin declares. */
static bool plugin_hparam_hint(const parse_state *ps, const char *name) {
    const char *module = ps->cfg->module ? ps->cfg->module : ps->module_hint;
    const char *data = ps->data_hint ? ps->data_hint : ps->cfg->data;
    const char *prefix = declares(ps->cfg, LT_PLUGIN_MODULE, module, name) ? "model."
                       : declares(ps->cfg, LT_PLUGIN_DATA, data, name) ? "data." : NULL;
    if (!prefix) return false;
    host_error("%sunknown flag --%s; did you mean --%s%s? (a hyper-parameter of %s)", ps->where, name,
               prefix, name, *prefix == 'm' ? module : data);
    return true;
}

static bool unknown_flag(const parse_state *ps, const char *name) {
    const char *bare = strncmp(name, "trainer.", 8) == 0 ? name + 8 : name;
    for (size_t i = 0; i < sizeof removed_flags / sizeof *removed_flags; i++)
        if (!strcmp(bare, removed_flags[i].name)) {
            host_error("%s--%s is a Lightning 1.x argument that Lightning 2.0 removed; use %s",
                       ps->where, name, removed_flags[i].instead);
            return false;
        }
    if (plugin_hparam_hint(ps, bare)) return false;
    const char *names[NFLAGS + 4];
    for (size_t i = 0; i < NFLAGS; i++) names[i] = flags[i].name;
    names[NFLAGS] = "config", names[NFLAGS + 1] = "callbacks", names[NFLAGS + 2] = "print_config";
    names[NFLAGS + 3] = "ckpt_path";
    const char *best = lt_did_you_mean(bare, names, (int)(NFLAGS + 4));
    if (best)
        host_error("%sunknown flag --%s; did you mean --%s? (see lthost %s --help)", ps->where, name,
                   best, ps->cfg->command);
    else
        host_error("%sunknown flag --%s (see lthost %s --help)", ps->where, name, ps->cfg->command);
    return false;
}

static bool apply_config_file(parse_state *ps, const char *path, cfg_entries *store);

/* One "--name value" (name without the dashes). */
static bool apply(parse_state *ps, const char *name, const char *value, cfg_entries *store) {
    host_config *c = ps->cfg;
    if (!strcmp(name, "config")) return apply_config_file(ps, value, store);
    if (!strcmp(name, "model.class_path")) name = "module";
    else if (!strcmp(name, "data.class_path")) name = "data";
    else if (!strncmp(name, "model.", 6))
        return add_override(ps, c->model_hp, &c->n_model_hp, name + 6, value, "model.");
    else if (!strncmp(name, "data.", 5))
        return add_override(ps, c->data_hp, &c->n_data_hp, name + 5, value, "data.");
    if (!strncmp(name, "trainer.", 8)) name += 8;
    if (!strcmp(name, "callbacks")) return add_callback(ps, "", value);
    if (!strncmp(name, "callbacks.", 10)) return add_callback(ps, name + 10, value);
    const flag *f = find_flag(name);
    return f ? set_flag(ps, f, value) : unknown_flag(ps, name);
}

/* A config file's entries, applied in file order; their strings live in `store`. */
static bool apply_config_file(parse_state *ps, const char *path, cfg_entries *store) {
    char err[512];
    int first = store->n;
    if (!cfg_read_file(path, store, err, sizeof err)) {
        host_error("--config %s", err);
        return false;
    }
    const char *outer = ps->where;
    for (int i = first; i < store->n; i++) {
        char where[600];
        snprintf(where, sizeof where, "%s:%d: ", path, store->items[i].line);
        ps->where = where;
        if (!strcmp(store->items[i].key, "config")) {
            host_error("%sa config file cannot include another (--config)", where);
            return false;
        }
        bool ok = apply(ps, store->items[i].key, store->items[i].value, store);
        ps->where = outer;
        if (!ok) return false;
    }
    return true;
}

/* Lightning's registry names for DDP variants. How its processes start (spawn, fork,
 * notebook) and find_unused_parameters mean nothing here: mpirun starts every rank, and
 * every gradient is averaged, an unused parameter's as zeros. */
static bool is_ddp_alias(const char *name) {
    static const char *const starts[] = {"ddp", "ddp_spawn", "ddp_fork", "ddp_notebook"};
    for (size_t i = 0; i < sizeof starts / sizeof *starts; i++) {
        size_t n = strlen(starts[i]);
        if (!strncmp(name, starts[i], n) &&
            (!name[n] || !strcmp(name + n, "_find_unused_parameters_true") ||
             !strcmp(name + n, "_find_unused_parameters_false")))
            return true;
    }
    return false;
}

/* --accelerator auto (Lightning's default): cuda when its plugin is found and can open a
 * device (a GPU is visible), else cpu. */
static const char *pick_accelerator(const host_config *cfg) {
    lt_plugin_t *p = NULL;
    lt_device_t *dev = NULL;
    bool cuda = lt_plugin_open(LT_PLUGIN_ACCELERATOR, "cuda", cfg->plugin_roots, &p) == LT_OK &&
                lt_device_from_plugin(p, 1, &dev) == LT_OK; /* the device owns p, even on failure */
    lt_device_close(dev);
    lt_clear_error();
    return cuda ? "cuda" : "cpu";
}

static bool finish(host_config *cfg) {
    if (!strcmp(cfg->accel, "gpu")) cfg->accel = "cuda"; /* Lightning's name for CUDA (or MPS) */
    if ((cfg->accel_auto = !strcmp(cfg->accel, "auto"))) cfg->accel = pick_accelerator(cfg);
    if (cfg->devices == 0) { /* --devices auto: Lightning's CPUAccelerator.auto_device_count */
        if (strcmp(cfg->accel, "cpu")) {
            host_error("--devices auto: give the number of devices per node for --accel %s", cfg->accel);
            return false;
        }
        cfg->devices = 1;
    }
    if (is_ddp_alias(cfg->strategy)) cfg->strategy = "ddp";
    if (!strcmp(cfg->strategy, "auto")) /* Lightning's: ddp for several devices */
        cfg->strategy = cfg->devices * cfg->num_nodes > 1 ? "ddp" : "single";
    if (cfg->fast_dev_run > 0) { /* as Lightning: it overrides the epoch and batch limits */
        batch_limit n = {.is_fraction = false, .count = cfg->fast_dev_run};
        cfg->limit_train = cfg->limit_val = cfg->limit_test = cfg->limit_predict = n;
        cfg->max_epochs = 1;
        cfg->max_steps = -1;
        cfg->num_sanity_val_steps = 0;
        cfg->val_check_interval = (batch_limit){true, 1.0, 0};
    }
    const batch_limit *ob = &cfg->overfit_batches;
    if (ob->is_fraction ? ob->fraction > 0 : ob->count > 0) {
        cfg->limit_train = cfg->limit_val = *ob; /* the validation loop reads the same batches */
    }
    if (cfg->max_epochs == -1 && cfg->max_steps == -1) cfg->max_epochs = 1000;
    if (strcmp(cfg->precision, "32") && strcmp(cfg->precision, "32-true")) {
        host_error("--precision %s: the %s accelerator trains in 32-true only; use --precision 32 "
                   "(mixed precision needs an accelerator that supports it)", cfg->precision, cfg->accel);
        return false;
    }
    static const char *const loggers[] = {"true", "false", "csv", "tensorboard", "csv,tensorboard",
                                          "tensorboard,csv"};
    for (size_t i = 0; i < sizeof loggers / sizeof *loggers; i++)
        if (!strcmp(cfg->logger, loggers[i])) return true;
    host_error("--logger expects true, false, csv, tensorboard or csv,tensorboard, got '%s'", cfg->logger);
    return false;
}

/* LightningCLI's --print_config[=flags]: comma-separated skip_null, skip_default. */
static bool print_config_flags(host_config *cfg, const char *list) {
    cfg->print_config = true;
    for (const char *f = list; *f;) {
        size_t n = strcspn(f, ",");
        if (n == 9 && !strncmp(f, "skip_null", n)) cfg->print_skip_null = true;
        else if (n == 12 && !strncmp(f, "skip_default", n)) cfg->print_skip_default = true;
        else {
            host_error("--print_config=%s: unknown option '%.*s'; lthost accepts --print_config, "
                       "--print_config=skip_null, --print_config=skip_default or both, comma-separated",
                       list, (int)n, f);
            return false;
        }
        f += n + (f[n] == ',');
    }
    return true;
}

/* The value of --NAME or --NAME=VALUE anywhere in argv, or NULL. */
static const char *find_value(int argc, char **argv, const char *name) {
    size_t n = strlen(name);
    for (int i = 0; i < argc; i++) {
        if (strncmp(argv[i], "--", 2) || strncmp(argv[i] + 2, name, n)) continue;
        if (argv[i][2 + n] == '=') return argv[i] + 3 + n;
        if (!argv[i][2 + n] && i + 1 < argc) return argv[i + 1];
    }
    return NULL;
}

bool cli_parse(int argc, char **argv, host_config *cfg, cfg_entries *store) {
    parse_state ps = {cfg, "", find_value(argc, argv, "module"), find_value(argc, argv, "data")};
    for (int i = 0; i < argc; i++) {
        char *arg = argv[i];
        if (strncmp(arg, "--", 2) != 0 || arg[2] == '\0') {
            host_error("unexpected argument '%s'; flags look like --max_epochs 5", arg);
            return false;
        }
        char *name = arg + 2, *eq = strchr(name, '='), *value;
        if (!strncmp(name, "print_config", 12) && (!name[12] || name[12] == '=')) {
            if (!print_config_flags(cfg, name[12] ? name + 13 : "")) return false;
            continue;
        }
        if (eq) {
            *eq = '\0';
            value = eq + 1;
        } else if (i + 1 < argc) {
            value = argv[++i];
        } else {
            host_error("--%s needs a value (see lthost %s --help)", name, cfg->command);
            return false;
        }
        if (!apply(&ps, name, value, store)) return false;
    }
    return finish(cfg);
}

static void print_hparams(const char *title, const char *prefix, const lt_hparam_desc *hp) {
    static const char *const types[] = {"int", "float", "str", "bool"};
    printf("\n%s:\n", title);
    for (; hp && hp->name; hp++) {
        char def[64], flag[96];
        snprintf(flag, sizeof flag, "%s%s", prefix, hp->name);
        if (hp->type == LT_HP_FLOAT) snprintf(def, sizeof def, "%g", hp->f);
        else if (hp->type == LT_HP_STR) snprintf(def, sizeof def, "%s", hp->s ? hp->s : "");
        else if (hp->type == LT_HP_BOOL) snprintf(def, sizeof def, "%s", hp->i ? "true" : "false");
        else snprintf(def, sizeof def, "%lld", (long long)hp->i);
        printf("  --%-22s %s (%s, default %s)\n", flag, hp->help ? hp->help : "",
               hp->choices ? hp->choices : types[hp->type], def);
    }
}

/* A plugin's hparams, when it can be loaded; help still prints if it cannot. */
static void print_plugin_hparams(const host_config *cfg, lt_plugin_kind kind, const char *name,
                                 const char *prefix) {
    lt_plugin_t *p = NULL;
    if (!name || lt_plugin_open(kind, name, cfg->plugin_roots, &p) != LT_OK) return;
    const lt_hparam_desc *hp = kind == LT_PLUGIN_MODULE
                                   ? ((const lt_module_desc *)lt_plugin_desc(p))->hparams
                                   : ((const lt_datamodule_desc *)lt_plugin_desc(p))->hparams;
    char title[256];
    snprintf(title, sizeof title, "%s hyper-parameters of %s (--%sNAME VALUE)",
             kind == LT_PLUGIN_MODULE ? "model" : "data", name, prefix);
    print_hparams(title, prefix, hp);
    lt_plugin_close(p);
}

void cli_print_help(const host_config *cfg) {
    printf("usage: lthost %s --module NAME|PATH [--config cfg.yaml] [flags]\n\ntrainer flags:\n",
           cfg->command);
    for (size_t i = 0; i < NFLAGS; i++) printf("  --%-22s %s\n", flags[i].name, flags[i].help);
    printf("  --%-22s %s\n", "config FILE", "a LightningCLI-style YAML file; later flags override it");
    printf("  --%-22s %s\n", "print_config[=FLAGS]", "print the resolved configuration as YAML and "
           "exit; FLAGS: skip_null, skip_default (comma-separated)");
    printf("  --%-22s %s\n", "callbacks NAME|PATH", "add a callback (EarlyStopping, "
           "LearningRateMonitor, ModelCheckpoint, or a .so); --callbacks.KEY VALUE sets its options");
    printf("  --%-22s %s\n", "model.NAME VALUE", "a hyper-parameter the model declares");
    printf("  --%-22s %s\n", "data.NAME VALUE", "a hyper-parameter the data plugin declares");
    printf("\nEvery flag may be written --flag=value, and Trainer flags also as --trainer.flag.\n");
    print_plugin_hparams(cfg, LT_PLUGIN_MODULE, cfg->module, "model.");
    print_plugin_hparams(cfg, LT_PLUGIN_DATA, cfg->data, "data.");
}

/* ---- --print_config ------------------------------------------------------------------ */

static cfg_node *limit_node(const batch_limit *l) {
    char buf[64];
    if (!l->is_fraction) {
        snprintf(buf, sizeof buf, "%lld", (long long)l->count);
        return cfg_scalar(buf, CFG_INT);
    }
    snprintf(buf, sizeof buf, "%.17g", l->fraction);
    if (!strpbrk(buf, ".e")) strcat(buf, ".0");
    return cfg_scalar(buf, CFG_FLOAT);
}

static cfg_node *int_node(int64_t v) {
    char buf[32];
    snprintf(buf, sizeof buf, "%lld", (long long)v);
    return cfg_scalar(buf, CFG_INT);
}

static cfg_node *flag_node(const host_config *c, const flag *f) {
    const void *field = (const char *)c + f->offset;
    char buf[64];
    switch (f->type) {
    case F_STR:
    case F_CHOICE: {
        const char *v = *(const char *const *)field;
        return v ? cfg_scalar(v, CFG_STR) : cfg_scalar("null", CFG_NULL);
    }
    case F_INT:
        if (f->offset == offsetof(host_config, threads) && *(const int *)field == 0)
            return cfg_scalar("null", CFG_NULL); /* unset: all cores */
        return int_node(is_int_field(f) ? *(const int *)field : *(const int64_t *)field);
    case F_OPT_INT: {
        int64_t v = *(const int64_t *)field;
        return v == f->min ? cfg_scalar("null", CFG_NULL) : int_node(v);
    }
    case F_DOUBLE:
        snprintf(buf, sizeof buf, "%.17g", *(const double *)field);
        if (!strpbrk(buf, ".e")) strcat(buf, ".0");
        return cfg_scalar(buf, CFG_FLOAT);
    case F_SEED: return c->seed_given ? int_node((int64_t)c->seed) : cfg_scalar("null", CFG_NULL);
    case F_BOOL: return cfg_scalar(*(const bool *)field ? "true" : "false", CFG_BOOL);
    case F_BATCHES_OR_BOOL: {
        int64_t v = *(const int64_t *)field;
        return v <= 1 ? cfg_scalar(v ? "true" : "false", CFG_BOOL) : int_node(v);
    }
    case F_LIMIT: return limit_node(field);
    }
    return NULL;
}

static bool hparam_is_default(lt_ctx_t *ctx, const lt_hparam_desc *d) {
    switch (d->type) {
    case LT_HP_INT: return lt_hparam_int(ctx, d->name) == d->i;
    case LT_HP_FLOAT: return lt_hparam_float(ctx, d->name) == d->f;
    case LT_HP_STR: return !strcmp(lt_hparam_str(ctx, d->name), d->s ? d->s : "");
    case LT_HP_BOOL: return lt_hparam_bool(ctx, d->name) == (d->i != 0);
    }
    return false;
}

/* class_path + init_args holding every hparam's current value (skip_default: those set). */
static cfg_node *plugin_node(const char *class_path, lt_ctx_t *ctx, bool skip_default) {
    static const cfg_scalar_type types[] = {CFG_INT, CFG_FLOAT, CFG_STR, CFG_BOOL};
    cfg_node *n = cfg_map(), *args = cfg_map();
    for (int i = 0; ctx && i < lt_ctx_hparam_count(ctx); i++) {
        char text[256];
        const lt_hparam_desc *d = lt_ctx_hparam_desc(ctx, i);
        if (skip_default && hparam_is_default(ctx, d)) continue;
        cfg_map_add(args, d->name, cfg_scalar(lt_ctx_hparam_text(ctx, i, text, sizeof text), types[d->type]));
    }
    cfg_map_add(n, "class_path", cfg_scalar(class_path, CFG_STR));
    cfg_map_add(n, "init_args", args);
    return n;
}

/* Flags of lthost itself rather than of Lightning's Trainer (ckpt_path is a top-level
 * key of LightningCLI too); they are printed only when set. */
static const char *const not_trainer[] = {"module", "data", "accel", "seed_everything",
                                          "predict.output", "ckpt_path", "init_weights",
                                          "submodule"};

static bool is_trainer_flag(const flag *f) {
    for (size_t i = 0; i < sizeof not_trainer / sizeof *not_trainer; i++)
        if (!strcmp(f->name, not_trainer[i])) return false;
    return true;
}

/* A flag's entry, or nothing under --print_config=skip_null / skip_default. */
static void add_flag(cfg_node *map, const host_config *cfg, const flag *f) {
    host_config defaults;
    config_defaults(&defaults, cfg->command);
    cfg_node *v = flag_node(cfg, f), *d = cfg->print_skip_default ? flag_node(&defaults, f) : NULL;
    if ((cfg->print_skip_null && cfg_scalar_is_null(v)) || (d && cfg_scalar_equal(v, d)))
        cfg_node_free(v);
    else
        cfg_map_add(map, f->name, v);
    cfg_node_free(d);
}

bool print_resolved_config(const host_config *cfg, lt_ctx_t *model_ctx, lt_ctx_t *data_ctx,
                           lt_ctx_t *const *callback_ctx) {
    cfg_node *root = cfg_map(), *trainer = cfg_map(), *cbs = cfg_seq();
    bool skip = cfg->print_skip_default;
    add_flag(root, cfg, find_flag("seed_everything"));
    for (size_t i = 0; i < NFLAGS; i++)
        if (is_trainer_flag(&flags[i])) add_flag(trainer, cfg, &flags[i]);
    for (int i = 0; i < cfg->n_callbacks; i++)
        cfg_seq_add(cbs, plugin_node(cfg->callbacks[i].name, callback_ctx[i], skip));
    cfg_map_add(trainer, "callbacks", cbs);
    cfg_map_add(root, "trainer", trainer);
    cfg_map_add(root, "model", plugin_node(cfg->module, model_ctx, skip));
    cfg_map_add(root, "data", plugin_node(cfg->data, data_ctx, skip));
    const char *top[][2] = {{"predict.output", cfg->predict_output}, {"ckpt_path", cfg->ckpt_path},
                            {"init_weights", cfg->init_weights}, {"submodule", cfg->submodule}};
    for (size_t i = 0; i < sizeof top / sizeof *top; i++)
        if (top[i][1]) cfg_map_add(root, top[i][0], cfg_scalar(top[i][1], CFG_STR));
    char err[512];
    bool ok = root && cfg_emit(stdout, root, err, sizeof err);
    if (!ok) host_error("%s", root ? err : "out of host memory printing the config");
    cfg_node_free(root);
    return ok;
}
