/* A run: load the plugins and callbacks, create contexts, apply flags, run the setup
 * hooks, dispatch to the loops, and tear everything down in reverse order. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "trainer.h"

void rank0_printf(const session *s, const char *fmt, ...) {
    if (s->group.rank != 0 || s->cfg->quiet) return;
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    fflush(stdout);
}

bool data_setup(session *s, const char *stage) {
    lt_clear_error();
    prof_start(s, s->prof.data_setup);
    lt_status st = s->data.desc->setup(s->data.ctx, lt_ctx_self(s->data.ctx), stage);
    if (st == LT_OK) st = lt_last_status(); /* recorded (lt_data_add_split), then dropped */
    prof_stop(s, s->prof.data_setup);
    if (st == LT_OK) return true;
    host_error("data plugin %s: setup('%s') failed: %s", s->data.desc->name, stage,
               *lt_last_error() ? lt_last_error() : lt_status_str(st));
    return false;
}

static bool open_plugin(session *s, lt_plugin_kind kind, const char *name, lt_plugin_t **out) {
    return host_open_plugin(s->cfg, kind, name, out);
}

/* A bad --model.X / --data.X / --callbacks.X is a bad command line: exit 2, as for any flag. */
static bool apply_overrides(session *s, lt_ctx_t *ctx, const hparam_override *o, int n,
                            const char *prefix) {
    for (int i = 0; i < n; i++) {
        if (lt_ctx_set_hparam(ctx, o[i].name, o[i].value) != LT_OK) {
            host_error("--%s%s: %s", prefix, o[i].name, lt_last_error());
            s->exit_code = 2;
            return false;
        }
    }
    return true;
}

/* --submodule NAME: predict runs that submodule's forward instead of the module's. */
static bool check_submodule(session *s) {
    const char *want = s->cfg->submodule;
    s->module.forward = s->module.desc->forward;
    if (!want) return true;
    if (strcmp(s->cfg->command, "predict") != 0) {
        host_error("--submodule %s: only `lthost predict` runs a submodule", want);
        return false;
    }
    if ((s->module.forward = lt_module_submodule(s->module.desc, want))) return true;
    host_error("--submodule %s: %s", want, lt_last_error());
    return false;
}

/* The hook a command needs that the module lacks, or NULL. */
static const char *missing_hook(const lt_module_desc *m, const char *cmd) {
    if (!m->setup) return "setup";
    if (!strcmp(cmd, "fit"))
        return !m->training_step          ? "training_step"
               : !m->configure_optimizers ? "configure_optimizers"
                                          : NULL;
    if (!strcmp(cmd, "validate")) return m->validation_step ? NULL : "validation_step";
    if (!strcmp(cmd, "test")) return m->test_step ? NULL : "test_step";
    return m->predict_step || m->forward ? NULL : "predict_step (or forward)";
}

/* What a command needs from the module; a missing hook is named with the fix. */
static bool check_module_hooks(session *s) {
    const lt_module_desc *m = s->module.desc;
    const char *cmd = s->cfg->command;
    const char *missing = missing_hook(m, cmd);
    if (!missing) return check_submodule(s);
    host_error("%s: module '%s' has no %s hook, which `lthost %s` needs; set .%s in "
               "LT_MODULE_EXPORT",
               s->module.file, m->name, missing, cmd, missing);
    return false;
}

static bool load_plugins(session *s) {
    const host_config *c = s->cfg;
    if (!open_plugin(s, LT_PLUGIN_MODULE, c->module, &s->module.plugin)) return false;
    s->module.desc = lt_plugin_desc(s->module.plugin);
    s->module.file = lt_plugin_path(s->module.plugin);
    if (!check_module_hooks(s)) return false;
    if (!open_plugin(s, LT_PLUGIN_DATA, c->data, &s->data.plugin)) return false;
    s->data.desc = lt_plugin_desc(s->data.plugin);
    if (!s->data.desc->setup) {
        host_error("%s: data plugin '%s' has no setup hook", lt_plugin_path(s->data.plugin),
                   s->data.desc->name);
        return false;
    }
    if (!open_plugin(s, LT_PLUGIN_STRATEGY, c->strategy, &s->group.plugin)) return false;
    s->group.desc = lt_plugin_desc(s->group.plugin);
    /* the device itself once the strategy gives this process its local rank */
    return open_plugin(s, LT_PLUGIN_ACCELERATOR, c->accel, &s->accel_plugin);
}

/* This rank's device on its node: its local rank, or that entry of a --devices list. */
static bool pick_device_index(session *s) {
    const host_config *c = s->cfg;
    int local = s->group.local_rank;
    s->device_index = local;
    if (!c->n_device_ids) return true;
    if (local >= 0 && local < c->n_device_ids) {
        s->device_index = c->device_ids[local];
        return true;
    }
    host_error("this process is local rank %d of its node, but --devices lists %d GPU(s): two "
               "ranks would share one GPU; start at most %d processes per node",
               local, c->n_device_ids, c->n_device_ids);
    return false;
}

/* What this run asks of its accelerator. */
static lt_accel_opts accel_opts(const session *s) {
    const host_config *c = s->cfg;
    return (lt_accel_opts){.struct_size = sizeof(lt_accel_opts),
                           .threads = threads_per_process(c),
                           .device_index = s->device_index,
                           .precision = precision_of(c->precision),
                           .matmul_precision = matmul_precision_of(c->matmul_precision)};
}

/* Open p's device with this run's options (p is the device's, also on failure); false
 * after one error line. */
static bool open_device(session *s, lt_plugin_t *p) {
    const host_config *c = s->cfg;
    lt_accel_opts o = accel_opts(s);
    bool is_cpu = !strcmp(lt_plugin_name(p), "cpu");
    lt_status st = lt_device_from_plugin_opts(p, &o, &s->dev);
    if (st == LT_OK) return true;
    if (st == LT_ERR_UNSUPPORTED && o.precision != LT_PRECISION_32_TRUE && is_cpu)
        host_error("--precision %s: %s; use --accelerator cuda (a GPU) or --precision 32-true",
                   c->precision, lt_last_error());
    else if (st == LT_ERR_UNSUPPORTED && o.precision != LT_PRECISION_32_TRUE)
        host_error("--precision %s: %s; use --precision 32-true or an accelerator that offers it",
                   c->precision, lt_last_error());
    else
        host_error("%s", lt_last_error());
    return false;
}

/* --accelerator auto: the GPU device when it opens, else cpu, saying why (rank 0). */
static bool open_auto_device(session *s) {
    const host_config *c = s->cfg;
    char why[512];
    snprintf(why, sizeof why, "%s", c->accel_auto_cpu ? c->accel_auto_cpu : "");
    if (!c->accel_auto_cpu) {
        lt_accel_opts o = accel_opts(s);
        lt_plugin_t *cuda = s->accel_plugin;
        s->accel_plugin = NULL;
        if (lt_device_from_plugin_opts(cuda, &o, &s->dev) == LT_OK) return true;
        snprintf(why, sizeof why, "%s", lt_last_error());
        lt_clear_error();
        if (!open_plugin(s, LT_PLUGIN_ACCELERATOR, "cpu", &s->accel_plugin)) return false;
    }
    if (s->group.rank == 0 && !c->print_config && !c->quiet) /* that prints the YAML alone */
        fprintf(stderr, "lthost: --accelerator auto: no usable GPU (%s); training on cpu\n", why);
    if (c->n_device_ids) {
        host_error("--devices [list]: --accelerator auto chose cpu (%s), which runs processes, not "
                   "GPUs; give a count (--devices %d)",
                   why, c->n_device_ids);
        return false;
    }
    lt_plugin_t *p = s->accel_plugin;
    s->accel_plugin = NULL;
    return open_device(s, p);
}

static bool start_device(session *s) {
    if (!pick_device_index(s)) return false;
    if (s->cfg->accel_auto) return open_auto_device(s);
    lt_plugin_t *p = s->accel_plugin;
    s->accel_plugin = NULL; /* the device owns it from here, even on failure */
    return open_device(s, p);
}

static bool start_strategy(session *s) {
    lt_strategy_opts o = {.struct_size = sizeof o,
                          .devices = s->cfg->devices,
                          .num_nodes = s->cfg->num_nodes,
                          .timeout_s = s->cfg->strategy_timeout};
    lt_clear_error();
    if (!s->group.desc->init || s->group.desc->init(&o, &s->group.state) != LT_OK) {
        host_error("--strategy %s: %s", s->group.desc->name,
                   *lt_last_error() ? lt_last_error() : "init failed (or is missing)");
        s->group.state = NULL;
        return false;
    }
    process_group *g = &s->group;
    g->rank = g->desc->rank(g->state);
    g->world = g->desc->world_size(g->state);
    g->local_rank = g->desc->local_rank ? g->desc->local_rank(g->state) : g->rank % s->cfg->devices;
    host_set_rank(g->rank, g->world);
    const lt_plugin_t *plugins[] = {s->module.plugin, s->data.plugin, s->group.plugin};
    return ddp_check_versions(s, plugins, 3);
}

#define COPY_HOOK_(type, name) p->fn[HOOK_##name] = (void (*)(void))d->name;

static participant *add_participant(session *s, const char *name, lt_ctx_t *ctx) {
    participant *p = &s->hooks.parts[s->hooks.n++];
    *p = (participant){.name = name, .ctx = ctx};
    lt_ctx_set_trainer(ctx, &s->tr);
    return p;
}

/* --callbacks NAME|PATH: a built-in by Lightning's class name, else a callback plugin. */
static bool add_callback(session *s, const callback_spec *spec, lt_ctx_t **ctx_out) {
    bool monitoring = false;
    lt_plugin_t *plugin = NULL;
    const lt_callback_desc *d = builtin_callback(spec->name, &monitoring);
    if (!d) {
        if (!open_callback_plugin(s->cfg, spec->name, &plugin)) return false;
        d = lt_plugin_desc(plugin);
    }
    lt_ctx_t *ctx = lt_ctx_new(NULL, d->name, d->hparams, d->self_size, s->seed);
    if (!ctx) {
        host_error("%s", lt_last_error());
        lt_plugin_close(plugin);
        return false;
    }
    participant *p = add_participant(s, d->name, ctx);
    p->plugin = plugin;
    p->monitoring = monitoring;
    p->is_checkpoint = d == &model_checkpoint_callback;
    s->callback_desc[s->hooks.n - 1] = d; /* issue 23: prediction writers */
    LT_HOOK_TABLE(COPY_HOOK_)
    *ctx_out = ctx;
    return apply_overrides(s, ctx, spec->hp, spec->n_hp, "callbacks.");
}

/* Lightning's default ModelCheckpoint: fit gets one, last, unless one is given. */
static bool add_default_checkpoint(session *s, lt_ctx_t **callback_ctx) {
    const host_config *c = s->cfg;
    bool given = false;
    for (int i = 0; i < s->hooks.n; i++) given |= s->hooks.parts[i].is_checkpoint;
    if (given && !c->enable_checkpointing) {
        host_error("--enable_checkpointing false, but a ModelCheckpoint is in --callbacks; "
                   "remove one of them");
        return false;
    }
    if (given || !c->enable_checkpointing || strcmp(c->command, "fit") != 0) return true;
    static const callback_spec spec = {.name = "ModelCheckpoint"};
    return add_callback(s, &spec, &callback_ctx[c->n_callbacks]);
}

/* --max_time: Lightning's _configure_timer_callback, a Timer checked every step, unless
 * --callbacks has a Timer already. */
static bool add_max_time_timer(session *s) {
    const host_config *c = s->cfg;
    if (c->max_time < 0 || strcmp(c->command, "fit") != 0) return true;
    for (int i = 0; i < s->hooks.n; i++)
        if (!strcmp(s->hooks.parts[i].name, "Timer")) {
            rank0_printf(s, "Ignoring `Trainer(max_time=...)`, callbacks list already contains a "
                            "Timer.\n");
            return true;
        }
    char text[64];
    duration_format(c->max_time, text, sizeof text);
    callback_spec spec = {.name = "Timer", .n_hp = 1};
    spec.hp[0] = (hparam_override){"duration", text};
    lt_ctx_t *unused;
    return add_callback(s, &spec, &unused);
}

/* "Name key=value key=value" -> spec; words point into buf. */
static bool parse_callback_request(const char *text, char *buf, size_t n, callback_spec *spec) {
    if (snprintf(buf, n, "%s", text) >= (int)n) return false;
    *spec = (callback_spec){.name = strtok(buf, " ")};
    for (char *w = strtok(NULL, " "); w; w = strtok(NULL, " ")) {
        char *eq = strchr(w, '=');
        if (!eq || eq == w || spec->n_hp == LTHOST_MAX_OVERRIDES) return false;
        *eq = 0;
        spec->hp[spec->n_hp++] = (hparam_override){w, eq + 1};
    }
    return spec->name != NULL;
}

/* A callback the module's configure_callbacks brings replaces the participants of its
 * class: they stay in the list (their options still print) but run no hook. */
static void retire_callbacks_named(session *s, const char *name) {
    for (int i = 0; i < s->hooks.n; i++) {
        participant *p = &s->hooks.parts[i];
        if (p->is_module || strcmp(p->name, name)) continue;
        memset(p->fn, 0, sizeof p->fn);
        p->is_checkpoint = false;
        s->callback_desc[i] = NULL; /* nor writes predictions */
    }
}

/* Lightning's configure_callbacks, merged before the module joins the hook list. */
static bool add_module_callbacks(session *s) {
    const lt_module_desc *m = s->module.desc;
    if (!LT_MODULE_HAS(m, configure_callbacks) || !m->configure_callbacks) return true;
    const char *const *req = m->configure_callbacks(s->module.ctx, lt_ctx_self(s->module.ctx));
    static char bufs[LTHOST_MAX_CALLBACKS][512];
    for (int i = 0; req && req[i]; i++) {
        callback_spec spec;
        int room = (int)(sizeof s->hooks.parts / sizeof *s->hooks.parts) - 1; /* the module's */
        if (i >= LTHOST_MAX_CALLBACKS || s->hooks.n >= room ||
            !parse_callback_request(req[i], bufs[i], sizeof bufs[i], &spec)) {
            host_error("%s.configure_callbacks: entry %d '%.80s' is not \"Name key=value ...\" "
                       "(at most %d callbacks in all, entries of 511 characters)",
                       m->name, i, req[i], LTHOST_MAX_CALLBACKS);
            return false;
        }
        bool monitoring;
        const lt_callback_desc *d = builtin_callback(spec.name, &monitoring);
        retire_callbacks_named(s, d ? d->name : spec.name);
        lt_ctx_t *unused;
        if (!add_callback(s, &spec, &unused)) return false;
    }
    return true;
}

bool session_make_contexts(session *s, lt_ctx_t **callback_ctx) {
    for (int i = 0; i < s->cfg->n_callbacks; i++)
        if (!add_callback(s, &s->cfg->callbacks[i], &callback_ctx[i])) return false;
    if (!s->cfg->print_config && !add_default_checkpoint(s, callback_ctx)) return false;
    if (!s->cfg->print_config && !add_max_time_timer(s)) return false;
    const lt_module_desc *m = s->module.desc;
    s->module.ctx = lt_ctx_new(s->dev, m->name, m->hparams, m->self_size, s->seed);
    if (s->module.ctx && s->resume.ckpt && ckpt_same_module(s)) {
        if (lt_ckpt_restore_hparams(s->resume.ckpt, s->module.ctx) != LT_OK) {
            host_error("--ckpt_path: %s", lt_last_error());
            return false;
        }
        ckpt_warn_undeclared_hparams(s);
    }
    const lt_datamodule_desc *dm = s->data.desc;
    s->data.ctx =
        s->module.ctx ? lt_ctx_new(NULL, dm->name, dm->hparams, dm->self_size, s->seed) : NULL;
    if (!s->module.ctx || !s->data.ctx) {
        host_error("%s", lt_last_error());
        return false;
    }
    if (!apply_overrides(s, s->module.ctx, s->cfg->model_hp, s->cfg->n_model_hp, "model.") ||
        !apply_overrides(s, s->data.ctx, s->cfg->data_hp, s->cfg->n_data_hp, "data.") ||
        (!s->cfg->print_config && !add_module_callbacks(s)))
        return false;
    participant *p = add_participant(s, s->module.desc->name, s->module.ctx);
    p->is_module = true;
    const lt_module_desc *d = s->module.desc;
    LT_HOOK_TABLE(COPY_HOOK_)
    lt_ctx_set_trainer(s->data.ctx, &s->tr);
    return true;
}

/* Lightning's _call_setup_hook: the data module, the callbacks, then the module (which
 * declares its parameters; they are laid out and initialised right after). */
bool session_setup(session *s) {
    const char *stage = s->cfg->command;
    if (!data_setup(s, stage) || !hooks_run(s, HOOK_setup, NULL)) return false;
    if (lt_ctx_materialize(s->module.ctx) != LT_OK) {
        host_error("%s: allocating parameters: %s", s->module.desc->name, lt_last_error());
        return false;
    }
    return ckpt_restore_weights(s) && ddp_check_model(s) && ddp_choose_path(s) &&
           ddp_broadcast_params(s) && ddp_plan_buckets(s);
}

bool session_teardown(session *s) {
    prof_start(s, s->prof.data_teardown);
    if (s->data.ctx && s->data.desc->teardown)
        s->data.desc->teardown(s->data.ctx, lt_ctx_self(s->data.ctx));
    prof_stop(s, s->prof.data_teardown);
    if (s->tr.stage) hooks_run(s, HOOK_teardown, NULL);
    bool ok = profiler_report(s); /* as Lightning: after the teardown hooks */
    profiler_close(s);
    logging_close(s);
    for (int i = 0; i < s->hooks.n; i++) {
        if (s->hooks.parts[i].is_module) continue;
        lt_ctx_free(s->hooks.parts[i].ctx);
        lt_plugin_close(s->hooks.parts[i].plugin);
    }
    prediction_writers_free(s); /* kept predictions live in the module's device memory */
    lt_ctx_free(s->module.ctx);
    lt_grad_scaler_free(s->scaler); /* device memory: before the device closes */
    lt_ctx_free(s->data.ctx);
    lt_ckpt_free(s->resume.ckpt);
    ddp_free(s);
    lt_state_free(s->resume.loops);
    if (s->group.state) s->group.desc->shutdown(s->group.state);
    if (s->cfg->probe)
        lt_device_memory_usage(s->dev, NULL, &s->cfg->probe->peak_bytes,
                               &s->cfg->probe->failed_allocs);
    lt_device_close(s->dev);
    lt_plugin_close(s->accel_plugin); /* when the device never opened */
    lt_plugin_close(s->group.plugin);
    lt_plugin_close(s->data.plugin);
    lt_plugin_close(s->module.plugin);
    return ok;
}

void session_init(session *s, const host_config *cfg, uint64_t seed) {
    *s = (session){.cfg = cfg,
                   .seed = seed,
                   .accumulate_grad_batches = cfg->accumulate_grad_batches,
                   .model_summary_depth = 1};
    s->tr = (lt_trainer_t){.struct_size = sizeof(lt_trainer_t),
                           .max_epochs = cfg->max_epochs,
                           .estimated_stepping_batches = -1,
                           .manual_backward = manual_backward,
                           .log = trainer_log,
                           .log_image = trainer_log_image,
                           .log_histogram = trainer_log_histogram,
                           .print_line = bar_print_line,
                           .host = s,
                           .callback_metrics = s->log.callback_metrics};
}

static uint64_t pick_seed(const host_config *c) {
    if (c->seed_given) return c->seed;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return ((uint64_t)ts.tv_nsec ^ (uint64_t)getpid() * 2654435761u) % 4294967296u;
}

/* The run's seed and the value of probe->batch_arg_name, from the module's hyper-parameters
 * or else the data plugin's (Lightning's lightning_getattr looks in that order). */
static void probe_batch_size(const session *s, run_probe *p) {
    p->seed = s->seed;
    p->batch_arg_owner = 0;
    const lt_hparam_desc *tables[] = {s->module.desc->hparams, s->data.desc->hparams};
    lt_ctx_t *ctxs[] = {s->module.ctx, s->data.ctx};
    for (int i = 0; i < 2 && !p->batch_arg_owner; i++)
        for (const lt_hparam_desc *d = tables[i]; d && d->name; d++)
            if (!strcmp(d->name, p->batch_arg_name) && d->type == LT_HP_INT) {
                p->batch_arg_owner = i ? 'd' : 'm';
                p->batch_size = lt_hparam_int(ctxs[i], d->name);
                break;
            }
}

/* A tuner trial's memory cap and probe; --detect_anomaly (issue 23), with torch's warning;
 * --benchmark true, which only cuDNN would act on. False after one error line. */
static bool device_settings(session *s) {
    const host_config *cfg = s->cfg;
    if (!strcmp(cfg->benchmark, "true") && !lt_device_host_memory(s->dev)) {
        host_error("--benchmark true: lthost's cuDNN convolutions take the first deterministic "
                   "algorithm cuDNN's heuristics offer; autotuning (cudnnFind) is not there; "
                   "drop --benchmark or set it false");
        return false;
    }
    if (cfg->memory_limit) lt_device_set_memory_limit(s->dev, cfg->memory_limit);
    if (cfg->probe) probe_batch_size(s, cfg->probe);
    if (!cfg->detect_anomaly) return true;
    lt_device_set_detect_anomaly(s->dev, true);
    rank0_printf(s, "Anomaly Detection has been enabled. This mode will increase the runtime and "
                    "should only be enabled for debugging.\n");
    return true;
}

static void announce(session *s) {
    const host_config *cfg = s->cfg;
    rank0_printf(s, "Seed set to %llu\n", (unsigned long long)s->seed);
    if (cfg->barebones) /* Lightning's two notices */
        rank0_printf(s, "You are running in `Trainer(barebones=True)` mode. All features that may "
                        "impact raw speed have been disabled to facilitate analyzing the Trainer "
                        "overhead.\n`Trainer(barebones=True)` started running. The progress bar "
                        "is disabled so you might want to manually print the progress in your "
                        "model.\n");
    if (cfg->fast_dev_run > 0)
        rank0_printf(s,
                     "Running in `fast_dev_run` mode: will run the requested loop using %lld "
                     "batch(es). Logging and checkpointing is suppressed.\n",
                     (long long)cfg->fast_dev_run);
    int64_t n = lt_num_parameters(s->module.ctx);
    char where[64] = "", prec[64] = "";
    if (!lt_device_host_memory(s->dev))
        snprintf(where, sizeof where, " on device %d", s->device_index);
    if (lt_device_precision(s->dev) != LT_PRECISION_32_TRUE)
        snprintf(prec, sizeof prec, ", precision %s",
                 lt_precision_name(lt_device_precision(s->dev)));
    rank0_printf(
        s, "%s: %d tensors, %lld parameters (%.2f MB), %s accelerator%s%s, %s strategy%s\n",
        s->module.desc->name, lt_ctx_num_params(s->module.ctx), (long long)n, (double)n * 4 / 1e6,
        lt_device_name(s->dev), cfg->accel_auto ? " (auto)" : "", where, s->group.desc->name, prec);
    const char *runs = lt_device_describe(s->dev);
    if (*runs) rank0_printf(s, "%s accelerator: %s\n", lt_device_name(s->dev), runs);
}

static bool dispatch(session *s) {
    const char *cmd = s->cfg->command;
    if (!strcmp(cmd, "fit")) return run_fit(s);
    if (!strcmp(cmd, "validate")) return run_eval_stage(s, LT_SPLIT_VAL);
    if (!strcmp(cmd, "test")) return run_eval_stage(s, LT_SPLIT_TEST);
    if (s->cfg->predict_prompt) return run_generate(s); /* generate.c */
    return run_eval_stage(s, LT_SPLIT_PREDICT);
}

/* Runs that stop once the contexts exist: --print_config, and lthost tune's log folder
 * with the batch size found (save_config_only: config.yaml, the loggers' hparams). -1: go
 * on to the loops; else the exit code, the session torn down. */
static int end_early(session *s, bool ok, lt_ctx_t *const *callback_ctx) {
    const host_config *cfg = s->cfg;
    if (!ok || (!cfg->print_config && !cfg->save_config_only)) return -1;
    if (cfg->print_config) {
        ok = print_resolved_config(cfg, s->module.ctx, s->data.ctx, callback_ctx);
        session_teardown(s);
        return ok ? 0 : 1;
    }
    ok = logging_open(s);
    if (ok && cfg->probe && s->log.open)
        snprintf(cfg->probe->log_dir, sizeof cfg->probe->log_dir, "%s", s->log.version_dir);
    s->log.end_status = ok ? "success" : "failed";
    return session_teardown(s) && ok ? 0 : 1;
}

int trainer_run(const host_config *cfg) {
    session *s = calloc(1, sizeof *s);
    if (!s) {
        host_error("out of host memory");
        return 1;
    }
    session_init(s, cfg, pick_seed(cfg));
    lt_ctx_t *callback_ctx[LTHOST_MAX_CALLBACKS + 1] = {0};
    bool ok = load_plugins(s) && start_strategy(s) && start_device(s) && ckpt_open(s) &&
              session_make_contexts(s, callback_ctx);
    s->tr.module = s->module.ctx;
    s->log.callback_ctx = callback_ctx;
    ddp_serve_trainer(s);
    ok = ok && device_settings(s);
    int early = end_early(s, ok, callback_ctx);
    if (early >= 0) {
        free(s);
        return early;
    }
    if (ok) s->tr.stage = cfg->command;
    /* The log folder's name first: a profiler writes its reports there. */
    ok = ok && (!strcmp(cfg->command, "predict") || logging_plan(s)) && profiler_open(s) &&
         session_setup(s);
    if (ok) announce(s);
    ok = ok && dispatch(s);
    if (!ok && !s->exit_code && s->group.world > 1 && s->group.desc->abort) {
        /* the other ranks may wait in a collective for this one: take the group down */
        fflush(NULL);
        s->group.desc->abort(s->group.state, 1);
    }
    s->log.end_status = ok ? "success" : "failed";
    ok = session_teardown(s) && ok;
    int code = s->exit_code ? s->exit_code : ok ? 0 : 1;
    free(s);
    return code;
}
