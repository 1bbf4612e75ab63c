/* Command-line flags: Lightning's Trainer names, --model.X / --data.X for the
 * hyper-parameters the plugins declare (checked once the plugins are loaded), callbacks,
 * and --config files whose entries are applied where the flag stands (later flags win). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flags.h"

/* Where a value came from, for messages: "" on the command line, "cfg.yaml:7: " from a file. */
typedef struct parse_state {
    host_config *cfg;
    const char *where;
    const char *module_hint, *data_hint; /* --module / --data anywhere on the line */
    bool logger_seq;                     /* the config file entry before was trainer.logger[.KEY] */
} parse_state;

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
                   "as in --callbacks EarlyStopping --callbacks.%s %s",
                   ps->where, name, name, value);
        return false;
    }
    callback_spec *cb = &c->callbacks[c->n_callbacks - 1];
    return add_override(ps, cb->hp, &cb->n_hp, name, value, "callbacks.");
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

/* The hyper-parameter table of module or data plugin `name`, with the plugin left open in
 * *p (the caller closes it); NULL, quietly, when it cannot be opened. */
static const lt_hparam_desc *plugin_hparams(const host_config *cfg, lt_plugin_kind kind,
                                            const char *name, lt_plugin_t **p) {
    *p = NULL;
    if (!name || lt_plugin_open(kind, name, cfg->plugin_roots, p) != LT_OK) {
        lt_clear_error();
        return NULL;
    }
    return kind == LT_PLUGIN_MODULE ? ((const lt_module_desc *)lt_plugin_desc(*p))->hparams
                                    : ((const lt_datamodule_desc *)lt_plugin_desc(*p))->hparams;
}

/* Whether plugin `name` of `kind` declares a hyper-parameter called hp. */
static bool declares(const host_config *cfg, lt_plugin_kind kind, const char *name,
                     const char *hp) {
    lt_plugin_t *p;
    bool found = false;
    for (const lt_hparam_desc *d = plugin_hparams(cfg, kind, name, &p); d && d->name && !found; d++)
        found = !strcmp(d->name, hp);
    lt_plugin_close(p);
    return found;
}

/* --hidden for --model.hidden: a bare name the module or data plugin declares. */
static bool plugin_hparam_hint(const parse_state *ps, const char *name) {
    const char *module = ps->cfg->module ? ps->cfg->module : ps->module_hint;
    const char *data = ps->data_hint ? ps->data_hint : ps->cfg->data;
    const char *prefix = declares(ps->cfg, LT_PLUGIN_MODULE, module, name) ? "model."
                         : declares(ps->cfg, LT_PLUGIN_DATA, data, name)   ? "data."
                                                                           : NULL;
    if (!prefix) return false;
    host_error("%sunknown flag --%s; did you mean --%s%s? (a hyper-parameter of %s)", ps->where,
               name, prefix, name, *prefix == 'm' ? module : data);
    return true;
}

/* Lightning 2.6 Trainer arguments that name Python objects or services lthost has no
 * counterpart for. */
static const struct {
    const char *name, *why;
} python_only_flags[] = {
    {"plugins",
     "takes Lightning's precision, checkpoint-IO and cluster-environment objects; in lthost "
     "precision is --precision, checkpoints are safetensors files and mpirun is the cluster "
     "environment"},
    {"model_registry",
     "uploads to Lightning's cloud model registry (LitModels); lthost keeps checkpoints under "
     "--default_root_dir, copy them where you need them"},
};

static bool unknown_flag(const parse_state *ps, const char *name) {
    const char *bare = strncmp(name, "trainer.", 8) == 0 ? name + 8 : name;
    for (size_t i = 0; i < sizeof python_only_flags / sizeof *python_only_flags; i++)
        if (!strcmp(bare, python_only_flags[i].name)) {
            host_error("%s--%s %s; drop it", ps->where, name, python_only_flags[i].why);
            return false;
        }
    for (size_t i = 0; i < sizeof removed_flags / sizeof *removed_flags; i++)
        if (!strcmp(bare, removed_flags[i].name)) {
            host_error("%s--%s is a Lightning 1.x argument that Lightning 2.0 removed; use %s",
                       ps->where, name, removed_flags[i].instead);
            return false;
        }
    if (plugin_hparam_hint(ps, bare)) return false;
    const char *best = flag_suggest(bare);
    if (best)
        host_error("%sunknown flag --%s; did you mean --%s? (see lthost %s --help)", ps->where,
                   name, best, ps->cfg->command);
    else
        host_error("%sunknown flag --%s (see lthost %s --help)", ps->where, name, ps->cfg->command);
    return false;
}

static bool apply_config_file(parse_state *ps, const char *path, cfg_entries *store);

/* A config file's trainer.logger sequence: each entry joins the list ("csv,mlflow"). */
static bool append_logger(parse_state *ps, const char *value) {
    host_config *c = ps->cfg;
    if (!strcmp(value, "false") || !strcmp(value, "true") || !strcmp(c->logger, "false"))
        return flag_set(c, ps->where, flag_find("logger"), value);
    const char *head = !strcmp(c->logger, "true") ? "csv,tensorboard" : c->logger;
    char joined[sizeof c->logger_list];
    int n = snprintf(joined, sizeof joined, "%s,%s", head, value);
    if (n < 0 || (size_t)n >= sizeof joined) {
        host_error("%strainer.logger: the list of loggers is longer than %zu bytes", ps->where,
                   sizeof joined - 1);
        return false;
    }
    memcpy(c->logger_list, joined, (size_t)n + 1);
    c->logger = c->logger_list;
    return true;
}

/* One "--name value" (name without the dashes). */
static bool apply(parse_state *ps, const char *name, const char *value, cfg_entries *store) {
    host_config *c = ps->cfg;
    if (!strcmp(name, "config")) return apply_config_file(ps, value, store);
    if (!strcmp(name, "model.class_path"))
        name = "module";
    else if (!strcmp(name, "data.class_path"))
        name = "data";
    else if (!strncmp(name, "model.", 6))
        return add_override(ps, c->model_hp, &c->n_model_hp, name + 6, value, "model.");
    else if (!strncmp(name, "data.", 5))
        return add_override(ps, c->data_hp, &c->n_data_hp, name + 5, value, "data.");
    if (!strncmp(name, "trainer.", 8)) name += 8;
    if (!strncmp(name, "logger.", 7))
        return add_override(ps, c->logger_hp, &c->n_logger_hp, name + 7, value, "logger.");
    if (!strcmp(name, "logger") && ps->logger_seq) return append_logger(ps, value);
    if (!strcmp(name, "callbacks")) return add_callback(ps, "", value);
    if (!strncmp(name, "callbacks.", 10)) return add_callback(ps, name + 10, value);
    const flag *f = flag_find(name);
    if (!f) return unknown_flag(ps, name);
    size_t n;
    c->flag_given[f - flags_table(&n)] = 1;
    return flag_set(ps->cfg, ps->where, f, value);
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
        const char *key = store->items[i].key;
        bool ok = apply(ps, key, store->items[i].value, store);
        const char *bare = strncmp(key, "trainer.", 8) ? key : key + 8;
        ps->logger_seq = !strcmp(bare, "logger") || !strncmp(bare, "logger.", 7);
        ps->where = outer;
        if (!ok) return false;
    }
    ps->logger_seq = false;
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

/* --accelerator auto (Lightning's default): cuda when its plugin is found; the trainer
 * then opens the GPU device once, with this rank's index, and falls back to cpu (saying
 * why) when that fails. Probing here would create a CUDA context per process on GPU 0
 * just to close it again. */
static const char *pick_accelerator(host_config *cfg) {
    lt_plugin_t *p = NULL;
    bool found = lt_plugin_open(LT_PLUGIN_ACCELERATOR, "cuda", cfg->plugin_roots, &p) == LT_OK;
    lt_plugin_close(p);
    lt_clear_error();
    cfg->accel_auto_cpu = found ? NULL : "no cuda accelerator plugin is installed";
    return found ? "cuda" : "cpu";
}

lt_precision precision_of(const char *name) {
    if (!strcmp(name, "16-mixed") || !strcmp(name, "16")) return LT_PRECISION_16_MIXED;
    if (!strcmp(name, "bf16-mixed") || !strcmp(name, "bf16")) return LT_PRECISION_BF16_MIXED;
    if (!strcmp(name, "bf16-true")) return LT_PRECISION_BF16_TRUE;
    return LT_PRECISION_32_TRUE;
}

lt_matmul_precision matmul_precision_of(const char *name) {
    return !strcmp(name, "high")     ? LT_MATMUL_HIGH
           : !strcmp(name, "medium") ? LT_MATMUL_MEDIUM
                                     : LT_MATMUL_HIGHEST;
}

/* --devices auto and lists, once the accelerator is known. */
static bool resolve_devices(host_config *cfg) {
    if (cfg->n_device_ids && !strcmp(cfg->accel, "cpu")) {
        host_error("--devices [list]: a list picks GPUs by index, but the cpu accelerator runs "
                   "processes, not GPUs; give a count (--devices %d) or use --accelerator cuda",
                   cfg->n_device_ids);
        return false;
    }
    if (cfg->devices != 0) return true;
    /* --devices auto: Lightning's CPUAccelerator.auto_device_count; with auto, one device */
    if (strcmp(cfg->accel, "cpu") && !cfg->accel_auto) {
        host_error("--devices auto: give the number of devices per node for --accel %s",
                   cfg->accel);
        return false;
    }
    cfg->devices = 1;
    return true;
}

/* Lightning's _parse_loop_limits: with a Timer (--max_time) max_epochs defaults to -1. */
static bool has_timer(const host_config *cfg) {
    if (cfg->max_time >= 0) return true;
    for (int i = 0; i < cfg->n_callbacks; i++) {
        const char *dot = strrchr(cfg->callbacks[i].name, '.');
        if (!strcmp(dot && !strchr(cfg->callbacks[i].name, '/') ? dot + 1 : cfg->callbacks[i].name,
                    "Timer"))
            return true;
    }
    return false;
}

/* --logger's shape; the names themselves are opened (plugins) when the run starts. */
static bool logger_list_ok(const host_config *cfg) {
    const char *l = cfg->logger;
    if (!strcmp(l, "true") || !strcmp(l, "false")) return true;
    if (*l && *l != ',' && l[strlen(l) - 1] != ',' && !strstr(l, ",,")) return true;
    host_error("--logger expects true, false, or a comma-separated list of csv, tensorboard, "
               "mlflow and logger plugins (a name or a .so path), got '%s'",
               l);
    return false;
}

static bool finish(host_config *cfg) {
    if (!strcmp(cfg->accel, "gpu")) cfg->accel = "cuda"; /* Lightning's name for CUDA (or MPS) */
    if ((cfg->accel_auto = !strcmp(cfg->accel, "auto"))) cfg->accel = pick_accelerator(cfg);
    if (!resolve_devices(cfg)) return false;
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
    if (cfg->max_epochs == -1 && cfg->max_steps == -1 && !has_timer(cfg)) cfg->max_epochs = 1000;
    return (!cfg->barebones || barebones_apply(cfg)) && logger_list_ok(cfg);
}

/* LightningCLI's --print_config[=flags]: comma-separated skip_null, skip_default. */
static bool print_config_flags(host_config *cfg, const char *list) {
    cfg->print_config = true;
    for (const char *f = list; *f;) {
        size_t n = strcspn(f, ",");
        if (n == 9 && !strncmp(f, "skip_null", n))
            cfg->print_skip_null = true;
        else if (n == 12 && !strncmp(f, "skip_default", n))
            cfg->print_skip_default = true;
        else {
            host_error(
                "--print_config=%s: unknown option '%.*s'; lthost accepts --print_config, "
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

static bool parse_argv(int argc, char **argv, host_config *cfg, cfg_entries *store) {
    parse_state ps = {cfg, "", find_value(argc, argv, "module"), find_value(argc, argv, "data"),
                      false};
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

/* PL_TRAINER_* first: --config and the command line override them. */
bool cli_parse(int argc, char **argv, host_config *cfg, cfg_entries *store) {
    return apply_env_defaults(cfg, store) && parse_argv(argc, argv, cfg, store);
}

static void print_hparams(const char *title, const char *prefix, const lt_hparam_desc *hp) {
    static const char *const types[] = {"int", "float", "str", "bool"};
    printf("\n%s:\n", title);
    for (; hp && hp->name; hp++) {
        char def[64], flag[96];
        snprintf(flag, sizeof flag, "%s%s", prefix, hp->name);
        if (hp->type == LT_HP_FLOAT)
            snprintf(def, sizeof def, "%g", hp->f);
        else if (hp->type == LT_HP_STR)
            snprintf(def, sizeof def, "%s", hp->s ? hp->s : "");
        else if (hp->type == LT_HP_BOOL)
            snprintf(def, sizeof def, "%s", hp->i ? "true" : "false");
        else
            snprintf(def, sizeof def, "%lld", (long long)hp->i);
        printf("  --%-22s %s (%s, default %s)\n", flag, hp->help ? hp->help : "",
               hp->choices ? hp->choices : types[hp->type], def);
    }
}

/* A plugin's hparams, when it can be loaded; help still prints if it cannot. */
static void print_plugin_hparams(const host_config *cfg, lt_plugin_kind kind, const char *name,
                                 const char *prefix) {
    lt_plugin_t *p;
    const lt_hparam_desc *hp = plugin_hparams(cfg, kind, name, &p);
    if (!p) return;
    char title[256];
    snprintf(title, sizeof title, "%s hyper-parameters of %s (--%sNAME VALUE)",
             kind == LT_PLUGIN_MODULE ? "model" : "data", name, prefix);
    print_hparams(title, prefix, hp);
    lt_plugin_close(p);
}

void cli_print_help(const host_config *cfg) {
    printf("usage: lthost %s --module NAME|PATH [--config cfg.yaml] [flags]\n\ntrainer flags:\n",
           cfg->command);
    size_t n;
    const flag *table = flags_table(&n);
    for (const flag *f = table; f < table + n; f++)
        printf("  --%-22s %s%s%s%s\n", f->name, f->help, f->def ? " (default " : "",
               f->def ? f->def : "", f->def ? ")" : "");
    printf("  --%-22s %s\n", "config FILE",
           "a LightningCLI-style YAML file; later flags override it");
    printf("  --%-22s %s\n", "print_config[=FLAGS]",
           "print the resolved configuration as YAML and "
           "exit; FLAGS: skip_null, skip_default (comma-separated)");
    printf("  --%-22s %s\n", "callbacks NAME|PATH",
           "add a callback (EarlyStopping, LearningRateMonitor, ModelCheckpoint, Timer, "
           "GradientAccumulationScheduler, OnExceptionCheckpoint, ModelSummary, "
           "DeviceStatsMonitor, StochasticWeightAveraging, EMAWeightAveraging, or a .so: a "
           "callback plugin, a BasePredictionWriter when it sets write_interval); "
           "--callbacks.KEY VALUE sets its options. LearningRateFinder and BatchSizeFinder run "
           "under `lthost tune` (lthost tune --help)");
    printf("  --%-22s %s\n", "model.NAME VALUE", "a hyper-parameter the model declares");
    printf("  --%-22s %s\n", "data.NAME VALUE", "a hyper-parameter the data plugin declares");
    printf("\nEvery flag may be written --flag=value, and Trainer flags also as --trainer.flag.\n"
           "A Trainer flag's default may come from the environment, as LightningCLI's: "
           "PL_TRAINER_<FLAG>=value\n(PL_TRAINER_MAX_EPOCHS=5); --config and the command line "
           "override it. See docs/trainer.md.\n");
    print_plugin_hparams(cfg, LT_PLUGIN_MODULE, cfg->module, "model.");
    print_plugin_hparams(cfg, LT_PLUGIN_DATA, cfg->data, "data.");
}

/* ---- --print_config ------------------------------------------------------------------ */

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
        cfg_map_add(args, d->name,
                    cfg_scalar(lt_ctx_hparam_text(ctx, i, text, sizeof text), types[d->type]));
    }
    cfg_map_add(n, "class_path", cfg_scalar(class_path, CFG_STR));
    cfg_map_add(n, "init_args", args);
    return n;
}

/* Flags of lthost itself rather than of Lightning's Trainer (ckpt_path is a top-level
 * key of LightningCLI too); they are printed only when set. */
static const char *const not_trainer[] = {"module", "data", "accel", "seed_everything",
                                          "predict.output", "ckpt_path", "init_weights",
                                          "submodule", "float32_matmul_precision",
                                          /* predict's sampling (issue 19, text models) */
                                          "predict.prompt", "predict.max_new_tokens",
                                          "predict.temperature", "predict.top_k", "predict.vocab"};

static bool is_trainer_flag(const flag *f) {
    for (size_t i = 0; i < sizeof not_trainer / sizeof *not_trainer; i++)
        if (!strcmp(f->name, not_trainer[i])) return false;
    return true;
}

/* A flag's entry, or nothing under --print_config=skip_null / skip_default. */
static void add_flag(cfg_node *map, const host_config *cfg, const host_config *defaults,
                     const flag *f) {
    cfg_node *v = flag_node(cfg, f), *d = cfg->print_skip_default ? flag_node(defaults, f) : NULL;
    if ((cfg->print_skip_null && cfg_scalar_is_null(v)) || (d && cfg_scalar_equal(v, d)))
        cfg_node_free(v);
    else
        cfg_map_add(map, f->name, v);
    cfg_node_free(d);
}

static bool emit_config(FILE *out, const host_config *cfg, const host_config *values,
                        lt_ctx_t *model_ctx, lt_ctx_t *data_ctx, lt_ctx_t *const *callback_ctx);

bool print_resolved_config(const host_config *cfg, lt_ctx_t *model_ctx, lt_ctx_t *data_ctx,
                           lt_ctx_t *const *callback_ctx) {
    return emit_config(stdout, cfg, cfg, model_ctx, data_ctx, callback_ctx);
}

bool emit_resolved_config(FILE *out, const host_config *cfg, uint64_t seed, lt_ctx_t *model_ctx,
                          lt_ctx_t *data_ctx, lt_ctx_t *const *callback_ctx) {
    host_config *seeded = malloc(sizeof *seeded);
    if (!seeded) {
        host_error("out of host memory writing the config");
        return false;
    }
    *seeded = *cfg;
    seeded->seed = seed;
    seeded->seed_given = true;
    bool ok = emit_config(out, cfg, seeded, model_ctx, data_ctx, callback_ctx);
    free(seeded);
    return ok;
}

/* --logger.KEY VALUE options as trainer entries "logger.KEY" (read back by apply()). */
static void add_logger_options(cfg_node *trainer, const host_config *cfg) {
    for (int i = 0; i < cfg->n_logger_hp; i++) {
        char key[128];
        snprintf(key, sizeof key, "logger.%s", cfg->logger_hp[i].name);
        cfg_map_add(trainer, key, cfg_scalar(cfg->logger_hp[i].value, CFG_STR));
    }
}

static bool emit_config(FILE *out, const host_config *cfg, const host_config *values,
                        lt_ctx_t *model_ctx, lt_ctx_t *data_ctx, lt_ctx_t *const *callback_ctx) {
    cfg_node *root = cfg_map(), *trainer = cfg_map(), *cbs = cfg_seq();
    bool skip = cfg->print_skip_default;
    size_t n;
    const flag *table = flags_table(&n);
    host_config defaults, shown = *values;
    config_defaults(&defaults, cfg->command);
    /* auto stays auto: what it picked (cuda when its plugin is installed) is this
     * machine's choice, and the printed file must also run where there is no GPU. */
    if (cfg->accel_auto) shown.accel = "auto";
    add_flag(root, &shown, &defaults, flag_find("seed_everything"));
    for (const flag *f = table; f < table + n; f++)
        if (is_trainer_flag(f)) add_flag(trainer, &shown, &defaults, f);
    add_logger_options(trainer, cfg);
    for (int i = 0; i < cfg->n_callbacks; i++)
        cfg_seq_add(cbs, plugin_node(cfg->callbacks[i].name, callback_ctx[i], skip));
    cfg_map_add(trainer, "callbacks", cbs);
    cfg_map_add(root, "trainer", trainer);
    cfg_map_add(root, "model", plugin_node(cfg->module, model_ctx, skip));
    cfg_map_add(root, "data", plugin_node(cfg->data, data_ctx, skip));
    const char *matmul = strcmp(cfg->matmul_precision, "highest") ? cfg->matmul_precision : NULL;
    const char *top[][2] = {
        {"float32_matmul_precision", matmul}, {"predict.output", cfg->predict_output},
        {"ckpt_path", cfg->ckpt_path},        {"init_weights", cfg->init_weights},
        {"submodule", cfg->submodule},        {"predict.prompt", cfg->predict_prompt},
        {"predict.vocab", cfg->predict_vocab}};
    for (size_t i = 0; i < sizeof top / sizeof *top; i++)
        if (top[i][1]) cfg_map_add(root, top[i][0], cfg_scalar(top[i][1], CFG_STR));
    char err[512];
    bool ok = root && cfg_emit(out, root, err, sizeof err);
    if (!ok) host_error("%s", root ? err : "out of host memory printing the config");
    cfg_node_free(root);
    return ok;
}
