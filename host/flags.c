/* The Trainer flags (flags.h): Lightning's names and defaults, how each value is parsed
 * into host_config, and how it prints back. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flags.h"

#define FIELD(field) offsetof(host_config, field), sizeof(((host_config *)0)->field)
#define FLAG(n, t, field, def, min, h)                                                             \
    { n, t, FIELD(field), def, min, NULL, h }
#define CHOICE(n, field, def, ch, h)                                                               \
    { n, F_CHOICE, FIELD(field), def, 0, ch, h }

static const flag flags[] = {
    FLAG("module", F_STR, module, NULL, 0, "model plugin: a name (mlp) or a path to a .so"),
    FLAG("data", F_STR, data, "fashion_mnist", 0, "data plugin"),
    FLAG("accelerator", F_STR, accel, "auto", 0,
         "auto (cuda when its plugin is installed and a GPU is visible, else cpu), cpu, cuda "
         "(gpu) or an accelerator .so"),
    FLAG("accel", F_STR, accel, "auto", 0, "same as --accelerator"),
    FLAG("strategy", F_STR, strategy, "auto", 0,
         "auto (ddp when devices x num_nodes > 1, else single), single, ddp (or Lightning's "
         "ddp_spawn, ddp_fork, ..._find_unused_parameters_true names) or a .so"),
    FLAG("strategy.bucket_cap_mb", F_DOUBLE, bucket_cap_mb, "25", 0,
         "ddp: gradients are averaged in buckets of this many MB"),
    FLAG("strategy.timeout", F_DOUBLE, strategy_timeout, "1800", 0,
         "ddp: seconds a collective may wait for the other ranks before the job ends "
         "(0: forever; 1800 is Lightning's)"),
    FLAG("devices", F_DEVICES, devices, "1", 1,
         "devices per node: N (GPUs 0..N-1 on cuda; processes on cpu), a list of GPU indices "
         "1,3 or [1,3] (one process each), or auto (1)"),
    FLAG("num_nodes", F_INT, num_nodes, "1", 1, "number of nodes"),
    FLAG("threads", F_OPT_INT, threads, NULL, 0,
         "CPU threads for kernels (unset: all cores, shared out among --devices processes)"),
    FLAG("max_epochs", F_OPT_INT, max_epochs, "null", -1,
         "stop after this many epochs (null: 1000 unless max_steps is set; -1: no limit)"),
    FLAG("min_epochs", F_OPT_INT, min_epochs, "null", -1,
         "train at least this many epochs, even if stopped early"),
    FLAG("max_steps", F_OPT_INT, max_steps, "null", -1,
         "stop after this many optimizer steps (-1: no limit)"),
    FLAG("seed_everything", F_SEED, seed, NULL, 0, "seed for initialisation and shuffling"),
    FLAG("limit_train_batches", F_LIMIT, limit_train, "1.0", 0,
         "int: batches per epoch; float: fraction"),
    FLAG("limit_val_batches", F_LIMIT, limit_val, "1.0", 0,
         "int or fraction of validation batches"),
    FLAG("limit_test_batches", F_LIMIT, limit_test, "1.0", 0, "int or fraction of test batches"),
    FLAG("limit_predict_batches", F_LIMIT, limit_predict, "1.0", 0,
         "int or fraction of predict batches"),
    FLAG("overfit_batches", F_LIMIT, overfit_batches, "0", 0,
         "int or fraction: train and validate on these same training batches, unshuffled"),
    FLAG("val_check_interval", F_LIMIT, val_check_interval, "1.0", 0,
         "float: validate this often within an epoch; int: every N training batches"),
    FLAG("check_val_every_n_epoch", F_OPT_INT, check_val_every_n_epoch, "1", 0,
         "validate every N epochs (null: only by val_check_interval)"),
    FLAG("num_sanity_val_steps", F_OPT_INT, num_sanity_val_steps, "2", -1,
         "validation batches run before training (-1: all)"),
    FLAG("accumulate_grad_batches", F_INT, accumulate_grad_batches, "1", 1,
         "step the optimizers every N batches, gradients summed"),
    FLAG("gradient_clip_val", F_DOUBLE, gradient_clip_val, "0", 0,
         "clip gradients at this value (0: off)"),
    CHOICE("gradient_clip_algorithm", gradient_clip_algorithm, "norm", "norm|value",
           "norm (total 2-norm) or value (each element)"),
    FLAG("deterministic", F_BOOL, deterministic, "false", 0,
         "reproducible kernels (the CPU ones always are)"),
    FLAG("default_root_dir", F_STR, default_root_dir, ".", 0, "where lightning_logs/ goes"),
    FLAG("enable_progress_bar", F_BOOL, enable_progress_bar, "true", 0,
         "progress bar on a terminal"),
    FLAG("enable_model_summary", F_BOOL, enable_model_summary, "true", 0,
         "print the layer table at fit start"),
    FLAG("log_every_n_steps", F_INT, log_every_n_steps, "50", 1,
         "write step metrics every N steps"),
    CHOICE("precision", precision, "32-true", "32-true|32|16-mixed|16|bf16-mixed|bf16|bf16-true",
           "32-true (32), 16-mixed (16: fp16 matmuls, loss scaling), bf16-mixed (bf16), bf16-true "
           "(bf16 weights too); below 32-true needs --accelerator cuda"),
    CHOICE("float32_matmul_precision", matmul_precision, "highest", "highest|high|medium",
           "torch.set_float32_matmul_precision for 32-true matmuls: highest (float32), high "
           "(TF32 allowed), medium (bf16 allowed)"),
    FLAG("logger", F_STR, logger, "true", 0,
         "true (csv + tensorboard), false, or a list of csv, tensorboard, mlflow, logger plugins "
         "(name or .so); options --logger.KEY VALUE (every logger that takes KEY) or "
         "--logger.NAME.KEY VALUE (logger NAME alone)"),
    FLAG("predict.output", F_STR, predict_output, NULL, 0,
         "predictions file: .npy (unset: predictions.npy) or .csv"),
    /* predict's sampling (issue 19, text models) */
    FLAG("predict.prompt", F_STR, predict_prompt, NULL, 0,
         "sample text after this prompt from the module's forward instead of predicting"),
    FLAG("predict.max_new_tokens", F_INT, predict_max_new_tokens, "200", 1,
         "tokens --predict.prompt samples"),
    FLAG("predict.temperature", F_DOUBLE, predict_temperature, "1", 0,
         "divides the logits before sampling (< 1: surer, > 1: more varied)"),
    FLAG("predict.top_k", F_INT, predict_top_k, "0", 0,
         "sample among the k likeliest tokens only (0: all)"),
    FLAG("predict.vocab", F_STR, predict_vocab, NULL, 0,
         "the --data.vocab_out JSON of the training text (unset: tokens are bytes)"),
    FLAG("test_after_fit", F_BOOL, test_after_fit, "true", 0, "run the test loop when fit ends"),
    FLAG("use_distributed_sampler", F_BOOL, use_distributed_sampler, "true", 0,
         "ddp: each rank reads its own shard of each split (false: the data module's whole "
         "split on every rank, for data modules that shard themselves)"),
    FLAG("fast_dev_run", F_BATCHES_OR_BOOL, fast_dev_run, "false", 0,
         "true or N: N batches (true: 1) of train, val and test, one epoch, no logs"),
    FLAG("enable_checkpointing", F_BOOL, enable_checkpointing, "true", 0,
         "save checkpoints with a default ModelCheckpoint"),
    FLAG("ckpt_path", F_STR, ckpt_path, NULL, 0,
         "PATH, last or best: fit resumes from it; validate/test/predict load its weights"),
    FLAG("init_weights", F_STR, init_weights, NULL, 0,
         "safetensors state dict (e.g. torch's save_file): initial weights for any command"),
    FLAG("submodule", F_STR, submodule, NULL, 0, "predict: run only this submodule (e.g. encoder)"),
    FLAG("strict", F_BOOL, strict, "true", 0,
         "loading weights: every parameter present and no extra key"),
    FLAG("profiler", F_STR, profiler, NULL, 0,
         "simple, advanced, trace or a profiler .so: time every hook and loop stage"),
    FLAG("profiler.dirpath", F_STR, profiler_dirpath, NULL, 0,
         "folder for the profiler's files (unset: the log dir)"),
    FLAG("profiler.filename", F_STR, profiler_filename, NULL, 0,
         "write the report to <dirpath>/<stage>-<filename>.txt instead of stdout"),
    /* ---- trainer flags (issue 23: wt-flags) ---- */
    FLAG("max_time", F_DURATION, max_time, "null", 0,
         "stop fit after this much training time: DD:HH:MM:SS or {hours: 1, minutes: 30} "
         "(a Timer callback, checked after each training batch; null: no limit)"),
    FLAG("min_steps", F_OPT_INT, min_steps, "null", -1,
         "train at least this many optimizer steps, even if stopped early"),
    FLAG("reload_dataloaders_every_n_epochs", F_INT, reload_dataloaders_every_n_epochs, "0", 0,
         "rebuild the train and val loaders from the data module's splits every N epochs "
         "(0: never)"),
    FLAG("detect_anomaly", F_BOOL, detect_anomaly, "false", 0,
         "fail at the first op whose output or gradient has NaN/inf, naming it and the hook "
         "(slow: reads every op's result)"),
    FLAG("inference_mode", F_BOOL, inference_mode, "true", 0,
         "accepted for Lightning configs: validate/test/predict never record autograd either "
         "way"),
    /* issue 19: sync batch norm */
    FLAG("sync_batchnorm", F_BOOL, sync_batchnorm, "false", 0,
         "ddp: batch norm layers normalise with the statistics of every rank's batch "
         "(torch's SyncBatchNorm); ignored with one process, as in Lightning"),
    /* ---- the rest of Lightning 2.6's Trainer arguments (issue #23) ---- */
    FLAG("barebones", F_BOOL, barebones, "false", 0,
         "turn off everything that costs speed (checkpoints, loggers, progress bar, summary, "
         "sanity check); lt_log is then an error, as Lightning's self.log"),
    FLAG("enable_autolog_hparams", F_BOOL, enable_autolog_hparams, "true", 0,
         "send the module's hyper-parameters to the loggers when the run starts"),
    CHOICE("benchmark", benchmark, "null", "null|true|false",
           "torch.backends.cudnn.benchmark: no effect on cpu (as in torch); on cuda only "
           "false/null (cuDNN's heuristics pick, deterministically)"),
    /* ---- LightningCLI's SaveConfigCallback (issue #23) ---- */
    FLAG("save_config", F_BOOL, save_config, "true", 0,
         "write the resolved configuration as config.yaml in the log folder"),
    FLAG("save_config_overwrite", F_BOOL, save_config_overwrite, "false", 0,
         "replace an existing config.yaml there instead of refusing to run"),
};
#define NFLAGS (sizeof flags / sizeof flags[0])
_Static_assert(NFLAGS <= LTHOST_MAX_FLAGS, "raise LTHOST_MAX_FLAGS: host_config.flag_given");

const flag *flags_table(size_t *n) {
    *n = NFLAGS;
    return flags;
}

const flag *flag_find(const char *name) {
    for (size_t i = 0; i < NFLAGS; i++)
        if (strcmp(flags[i].name, name) == 0) return &flags[i];
    return NULL;
}

const char *flag_suggest(const char *name) {
    const char *names[NFLAGS + 3] = {"config", "callbacks", "print_config"};
    for (size_t i = 0; i < NFLAGS; i++) names[3 + i] = flags[i].name;
    return lt_did_you_mean(name, names, (int)(NFLAGS + 3));
}

void config_defaults(host_config *cfg, const char *command) {
    *cfg = (host_config){.command = command};
    for (size_t i = 0; i < NFLAGS; i++)
        if (flags[i].def && !flag_set(cfg, "the default of ", &flags[i], flags[i].def))
            abort(); /* a table typo */
}

/* ---- parsing ----------------------------------------------------------------------------- */

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

/* An integer field of either width the table gives. */
static void store_int(void *field, size_t size, int64_t v) {
    if (size == sizeof(int))
        *(int *)field = (int)v;
    else
        *(int64_t *)field = v;
}

static int64_t load_int(const void *field, size_t size) {
    return size == sizeof(int) ? *(const int *)field : *(const int64_t *)field;
}

static bool bad_value(const char *where, const flag *f, const char *what, const char *value) {
    host_error("%s--%s expects %s, got '%s'", where, f->name, what, value);
    return false;
}

/* The largest value an int field holds: --devices 5000000000 must not wrap. */
static int64_t int_max(const flag *f) { return f->size == sizeof(int) ? 2147483647 : INT64_MAX; }

static bool set_int(const char *where, const flag *f, const char *value, void *field) {
    int64_t n;
    char what[64];
    snprintf(what, sizeof what, "an integer >= %lld", (long long)f->min);
    if (!parse_int(value, &n) || n < f->min || n > int_max(f))
        return bad_value(where, f, what, value);
    store_int(field, f->size, n);
    return true;
}

/* null (Lightning's None) is stored as min: -1, or 0 where 0 itself is not allowed. */
static bool set_opt_int(const char *where, const flag *f, const char *value, void *field) {
    int64_t n = f->min;
    const char *what = f->min < 0 ? "an integer >= -1 or null" : "an integer >= 1 or null";
    if (!is_null(value) &&
        (!parse_int(value, &n) || n < f->min || n > int_max(f) || (f->min == 0 && n == 0)))
        return bad_value(where, f, what, value);
    store_int(field, f->size, n);
    return true;
}

/* One index of a --devices list at *p (digits, blanks around), advancing p. */
static bool device_id(const char **p, int *id) {
    const char *s = *p + strspn(*p, " ");
    if (*s < '0' || *s > '9') return false;
    long v = 0;
    while (*s >= '0' && *s <= '9' && v <= LTHOST_MAX_DEVICE_ID) v = v * 10 + (*s++ - '0');
    if (v > LTHOST_MAX_DEVICE_ID) return false;
    *id = (int)v;
    *p = s + strspn(s, " ");
    return true;
}

/* Lightning's list form: "1,3", "[1, 3]", "1," (just GPU 1). */
static bool set_device_list(host_config *cfg, const char *where, const char *value) {
    const char *p = value + strspn(value, " ");
    bool bracket = *p == '[';
    int n = 0;
    p += bracket;
    while (*p && *p != ']') {
        int id;
        if (n == LTHOST_MAX_DEVICE_IDS || !device_id(&p, &id) || (*p && *p != ',' && *p != ']')) {
            host_error("%s--devices %s: a list of GPU indices looks like 1,3 or [1,3] (at most %d "
                       "indices, each 0 to %d)",
                       where, value, LTHOST_MAX_DEVICE_IDS, LTHOST_MAX_DEVICE_ID);
            return false;
        }
        for (int i = 0; i < n; i++)
            if (cfg->device_ids[i] == id) {
                host_error("%s--devices %s names GPU %d twice: two ranks cannot share one GPU; "
                           "list each GPU once",
                           where, value, id);
                return false;
            }
        cfg->device_ids[n++] = id;
        p += *p == ',';
    }
    const char *rest = bracket && *p == ']' ? p + 1 : p;
    rest += strspn(rest, " ");
    if (n == 0 || (bracket && *p != ']') || *rest) {
        host_error("%s--devices %s: a list of GPU indices looks like 1,3 or [1,3]", where, value);
        return false;
    }
    cfg->n_device_ids = n;
    cfg->devices = n;
    return true;
}

static bool set_devices(host_config *cfg, const char *where, const flag *f, const char *value,
                        void *field) {
    cfg->n_device_ids = 0;
    if (!strcmp(value, "auto")) {
        store_int(field, f->size, 0); /* resolved once --accel is known */
        return true;
    }
    if (strpbrk(value, "[,")) return set_device_list(cfg, where, value);
    return set_int(where, f, value, field);
}

static bool set_other(host_config *cfg, const char *where, const flag *f, const char *value,
                      void *field) {
    int64_t n;
    char *end;
    double d;
    switch (f->type) {
    case F_SEED:
        if (!parse_int(value, &n) || n < 0)
            return bad_value(where, f, "a non-negative integer", value);
        cfg->seed = (uint64_t)n;
        cfg->seed_given = true;
        return true;
    case F_BOOL:
        if (strcmp(value, "true") && strcmp(value, "false"))
            return bad_value(where, f, "true or false", value);
        *(bool *)field = value[0] == 't';
        return true;
    case F_BATCHES_OR_BOOL:
        if (!strcmp(value, "true") || !strcmp(value, "false"))
            n = value[0] == 't';
        else if (!parse_int(value, &n) || n < 0)
            return bad_value(where, f, "true, false or a number of batches >= 0", value);
        *(int64_t *)field = n;
        return true;
    case F_LIMIT:
        return parse_limit(value, field) ||
               bad_value(where, f, "a batch count (int >= 0) or a fraction in [0.0, 1.0]", value);
    case F_DOUBLE:
        d = strtod(value, &end);
        if (!*value || *end || !isfinite(d) || d < 0)
            return bad_value(where, f, "a number >= 0", value);
        *(double *)field = d;
        return true;
    case F_DURATION: {
        char why[256];
        return duration_parse(value, field, why, sizeof why) || bad_value(where, f, why, value);
    }
    default: return false;
    }
}

bool flag_set(host_config *cfg, const char *where, const flag *f, const char *value) {
    void *field = (char *)cfg + f->offset;
    switch (f->type) {
    case F_STR: *(const char **)field = value; return true;
    case F_CHOICE:
        if (!choice_ok(f->choices, value)) return bad_value(where, f, f->choices, value);
        *(const char **)field = value;
        return true;
    case F_INT: return set_int(where, f, value, field);
    case F_OPT_INT: return set_opt_int(where, f, value, field);
    case F_DEVICES: return set_devices(cfg, where, f, value, field);
    default: return set_other(cfg, where, f, value, field);
    }
}

/* ---- printing back --------------------------------------------------------------------- */

static cfg_node *float_node(double v) {
    char buf[64];
    snprintf(buf, sizeof buf, "%.17g", v);
    if (!strpbrk(buf, ".e")) strcat(buf, ".0");
    return cfg_scalar(buf, CFG_FLOAT);
}

static cfg_node *int_node(int64_t v) {
    char buf[32];
    snprintf(buf, sizeof buf, "%lld", (long long)v);
    return cfg_scalar(buf, CFG_INT);
}

/* A --devices list as Lightning's "[1, 3]" (a string that reads back the same). */
static cfg_node *devices_node(const host_config *c) {
    char buf[LTHOST_MAX_DEVICE_IDS * 8 + 4] = "[";
    size_t len = 1;
    for (int i = 0; i < c->n_device_ids; i++)
        len +=
            (size_t)snprintf(buf + len, sizeof buf - len, "%s%d", i ? ", " : "", c->device_ids[i]);
    snprintf(buf + len, sizeof buf - len, "]");
    return cfg_scalar(buf, CFG_STR);
}

cfg_node *flag_node(const host_config *c, const flag *f) {
    const void *field = (const char *)c + f->offset;
    const batch_limit *l = field;
    int64_t v;
    switch (f->type) {
    case F_STR:
    case F_CHOICE: {
        const char *s = *(const char *const *)field;
        return s ? cfg_scalar(s, CFG_STR) : cfg_scalar("null", CFG_NULL);
    }
    case F_DEVICES: return c->n_device_ids ? devices_node(c) : int_node(load_int(field, f->size));
    case F_INT: return int_node(load_int(field, f->size));
    case F_OPT_INT:
        v = load_int(field, f->size);
        return v == f->min ? cfg_scalar("null", CFG_NULL) : int_node(v);
    case F_DOUBLE: return float_node(*(const double *)field);
    case F_SEED: return c->seed_given ? int_node((int64_t)c->seed) : cfg_scalar("null", CFG_NULL);
    case F_BOOL: return cfg_scalar(*(const bool *)field ? "true" : "false", CFG_BOOL);
    case F_BATCHES_OR_BOOL:
        v = *(const int64_t *)field;
        return v <= 1 ? cfg_scalar(v ? "true" : "false", CFG_BOOL) : int_node(v);
    case F_LIMIT: return l->is_fraction ? float_node(l->fraction) : int_node(l->count);
    case F_DURATION: {
        char text[64];
        double d = *(const double *)field;
        duration_format(d, text, sizeof text);
        return d < 0 ? cfg_scalar("null", CFG_NULL) : cfg_scalar(text, CFG_STR);
    }
    }
    return NULL;
}
