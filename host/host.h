/* host.h — lthost's configuration and the entry points of its subcommands. */
#ifndef LTHOST_HOST_H
#define LTHOST_HOST_H

#include <lt/lt.h>
#include <lt/runtime.h>
#include <lt/amp.h>
#include <stdbool.h>

#include "config/config.h"

#define LTHOST_MAX_OVERRIDES 64
#define LTHOST_MAX_DEVICE_IDS 64  /* GPUs one --devices list may name */
#define LTHOST_MAX_DEVICE_ID 1023 /* the largest index it accepts */
#define LTHOST_MAX_FLAGS 128      /* rows of the Trainer flag table (flags.c) */

/* "--model.lr 1e-3": a value for a plugin's declared hyper-parameter. */
typedef struct hparam_override {
    const char *name; /* after the prefix */
    const char *value;
} hparam_override;

/* --limit_*_batches: an int count, or a fraction of the loader's batches. */
typedef struct batch_limit {
    bool is_fraction;
    double fraction; /* in [0, 1] */
    int64_t count;   /* >= 0 */
} batch_limit;

#define LTHOST_MAX_CALLBACKS 16

/* --callbacks NAME|PATH, then --callbacks.KEY VALUE for that callback's options. */
typedef struct callback_spec {
    const char *name;
    hparam_override hp[LTHOST_MAX_OVERRIDES];
    int n_hp;
} callback_spec;

/* What one run reports to `lthost tune --scale_batch_size` (host/tune/bs_finder.c). */
typedef struct run_probe {
    const char *batch_arg_name; /* the hyper-parameter that sets the batch size */
    char batch_arg_owner;       /* 'm' the module declares it, 'd' the data plugin, 0 neither */
    int64_t batch_size;         /* its value in the run */
    int64_t train_len;          /* the training set's samples; 0 before fit opened it */
    uint64_t seed;              /* the seed the run used */
    bool seed_known;            /* seed is set: later runs reuse it */
    uint64_t peak_bytes;        /* the most the device's tensors held */
    uint64_t failed_allocs;     /* allocations that failed: it ran out of memory */
    char log_dir[4096];         /* save_config_only: the log folder config.yaml went to */
} run_probe;

typedef struct host_config {
    const char *command; /* fit, validate, test, predict */
    const char *module, *data, *accel, *strategy;
    bool accel_auto;            /* --accelerator auto chose accel */
    const char *accel_auto_cpu; /* auto: why it is cpu (no cuda plugin), NULL: try cuda */
    int devices, num_nodes, threads;
    int device_ids[LTHOST_MAX_DEVICE_IDS];     /* --devices 1,3: GPU of local rank i */
    int n_device_ids;                          /* 0: --devices is a count */
    int64_t max_epochs, min_epochs, max_steps; /* -1: unset, as Lightning's None */
    uint64_t seed;
    bool seed_given;
    batch_limit limit_train, limit_val, limit_test, limit_predict;
    batch_limit overfit_batches; /* count 0: off */
    batch_limit val_check_interval;
    int64_t check_val_every_n_epoch; /* 0: None (validate by val_check_interval only) */
    int64_t num_sanity_val_steps;    /* -1: the whole validation set */
    int64_t accumulate_grad_batches;
    double gradient_clip_val;            /* 0: off */
    const char *gradient_clip_algorithm; /* norm | value */
    bool deterministic;
    const char *default_root_dir;
    bool enable_progress_bar, enable_model_summary;
    int64_t log_every_n_steps;
    const char *precision;        /* as given: 32-true, 32, 16-mixed, 16, bf16-mixed, ... */
    const char *matmul_precision; /* --float32_matmul_precision: highest, high, medium */
    const char
        *logger; /* "true" (csv + tensorboard), "false", or a list "csv,tensorboard,mlflow,x.so" */
    const char *predict_output; /* --predict.output: .npy (default) or .csv */
    /* -- predict's sampling (issue 19, text models: host/trainer/generate.c) -- */
    const char *predict_prompt; /* set: sample text after it instead of the predict loop */
    int64_t predict_max_new_tokens;
    double predict_temperature;
    int64_t predict_top_k;     /* 0: every token */
    const char *predict_vocab; /* --data.vocab_out's JSON; NULL: tokens are bytes */
    bool test_after_fit;
    bool use_distributed_sampler; /* ddp: each rank reads its shard of every split */
    int64_t fast_dev_run;         /* > 0: run this many batches of each loop, one epoch */
    bool print_config;
    bool print_skip_null, print_skip_default; /* --print_config=skip_null,skip_default */
    bool enable_checkpointing;                /* a default ModelCheckpoint unless one is given */
    const char *ckpt_path;    /* fit: resume from; validate/test/predict: weights; PATH|last|best */
    const char *init_weights; /* safetensors weights to start fit from */
    const char *submodule;    /* predict: run only this submodule's forward */
    bool strict;              /* loading weights: every key must match */
    double bucket_cap_mb;     /* --strategy.bucket_cap_mb: DDP's gradient bucket size */
    double strategy_timeout;  /* --strategy.timeout: seconds one collective may wait */
    const char *profiler;     /* simple, advanced, trace or a .so; NULL: none */
    const char *profiler_dirpath, *profiler_filename;
    hparam_override model_hp[LTHOST_MAX_OVERRIDES], data_hp[LTHOST_MAX_OVERRIDES];
    int n_model_hp, n_data_hp;
    callback_spec callbacks[LTHOST_MAX_CALLBACKS];
    int n_callbacks;
    /* issue 19 */
    bool sync_batchnorm;         /* --sync_batchnorm: ddp batch norm over every rank's batch */
    const char *plugin_roots[2]; /* extra roots (the build tree), NULL-terminated */
    char build_root[4096];
    /* ---- trainer flags (issue 23: wt-flags) ---- */
    double max_time;                           /* --max_time in seconds; < 0: None */
    int64_t min_steps;                         /* -1: None */
    int64_t reload_dataloaders_every_n_epochs; /* 0: never */
    bool detect_anomaly;                       /* NaN/inf in an op's output fails the step */
    bool inference_mode;                       /* accepted; eval loops never record a tape */
    /* ---- loggers (issue #23): --logger.KEY VALUE options, and the list a config file's
     * trainer.logger sequence builds ("csv,mlflow"), which cfg->logger then points to ---- */
    hparam_override logger_hp[LTHOST_MAX_OVERRIDES];
    int n_logger_hp;
    char logger_list[1024];
    bool save_config, save_config_overwrite; /* SaveConfigCallback: config.yaml in the log dir */
    bool tune_lr_find;                       /* lthost tune --lr_find: LearningRateFinder runs */
    /* ---- Trainer(barebones=, enable_autolog_hparams=, benchmark=) (issue #23) ---- */
    bool barebones;              /* every feature that costs speed off; lt_log an error */
    bool enable_autolog_hparams; /* the module's hparams to the loggers at the start */
    const char *benchmark;       /* null, true or false (torch.backends.cudnn.benchmark) */
    unsigned char flag_given[LTHOST_MAX_FLAGS]; /* row i of the flag table set by a user */
    /* ---- lthost tune --scale_batch_size: its trials' runs ---- */
    uint64_t memory_limit; /* bytes the device's tensors may hold (0: no cap) */
    run_probe *probe;      /* set: the run fills it in */
    bool save_config_only; /* write the log folder (config.yaml, hparams) and stop */
    /* what config.yaml records instead of this run's flags (lthost tune: the user's, not
     * the sweep's), with this run's hyper-parameters; NULL: this run's */
    const struct host_config *config_to_save;
    bool quiet; /* a trial: rank 0 prints nothing but errors */
} host_config;

/* --barebones true: refuses the flags given that it turns off, then turns them off
 * (barebones.c); false after one error line. */
bool barebones_apply(host_config *cfg);

/* Lightning's defaults, for main() and --print_config. */
void config_defaults(host_config *cfg, const char *command);

/* Parse argv after the subcommand and apply flags that imply others (fast_dev_run);
 * prints the error and returns false on a bad flag. */
bool cli_parse(int argc, char **argv, host_config *cfg, cfg_entries *store);
/* Trainer flags, and the hparams of the module and data plugin when they are given. */
void cli_print_help(const host_config *cfg);
/* The fully resolved configuration as YAML (re-usable with --config); callback_ctx[i]
 * holds the options of cfg->callbacks[i]. */
bool print_resolved_config(const host_config *cfg, lt_ctx_t *model_ctx, lt_ctx_t *data_ctx,
                           lt_ctx_t *const *callback_ctx);
/* The same YAML into out, with seed_everything set to the seed the run uses (LightningCLI
 * saves the seed it drew), for config.yaml. */
bool emit_resolved_config(FILE *out, const host_config *cfg, uint64_t seed, lt_ctx_t *model_ctx,
                          lt_ctx_t *data_ctx, lt_ctx_t *const *callback_ctx);

/* --precision and --float32_matmul_precision as the accelerator's enums. */
lt_precision precision_of(const char *name);
lt_matmul_precision matmul_precision_of(const char *name);

/* `lthost plugins` */
int plugins_command(const host_config *cfg);

/* fit / validate / test / predict; returns the process exit code. */
int trainer_run(const host_config *cfg);

/* Errors name the rank once a run has several processes. */
void host_set_rank(int rank, int world);

/* launch.c: whether this run needs several processes that no launcher started (DDP
 * from a plain shell), and starting them under mpirun with the same arguments. */
bool needs_launcher(const host_config *cfg);
int launch_ranks(const host_config *cfg, int argc, char **argv);
/* Kernel threads of one process (0: all cores): --threads, else the node's cores shared
 * out among --devices processes (torchrun's OMP_NUM_THREADS rule). */
int threads_per_process(const host_config *cfg);

/* The built-in callback named name ("EarlyStopping", "LearningRateMonitor"), or NULL. */
const lt_callback_desc *builtin_callback(const char *name, bool *monitoring);
/* Open a plugin of kind for lthost; false after one error line (naming the flag that
 * takes the file when it is a plugin of another kind). */
bool host_open_plugin(const host_config *cfg, lt_plugin_kind kind, const char *name,
                      lt_plugin_t **out);
/* The name of built-in callback i (0, 1, ...), NULL past the last. */
const char *builtin_callback_name(int i);
/* --callbacks NAME|PATH that is not a built-in: its plugin, or false after one error line
 * (naming the built-in a misspelt name meant). */
bool open_callback_plugin(const host_config *cfg, const char *name, lt_plugin_t **out);
/* Open (and close) every plugin the run names, as a rank would: false after one error
 * line. The launcher checks them once before it starts any process. */
bool plugins_preflight(const host_config *cfg);

/* Print "lthost: error: ..." on stderr (error.c). */
void host_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* For tests: each later host_error line replaces the text of buf[0..n) instead of going to
 * stderr; n == 0 sends them to stderr again. */
void host_error_capture(char *buf, size_t n);

/* ---- trainer flags (issue 23: wt-flags) ---- */
/* Lightning's Timer durations: "DD:HH:MM:SS", a timedelta dict ("{hours: 1, minutes: 30}",
 * JSON too) or null (-1). false with the reason in why. */
bool duration_parse(const char *text, double *seconds, char *why, size_t n);
/* seconds as "DD:HH:MM:SS" (whole seconds) or "{seconds: S}", re-readable by the above. */
void duration_format(double seconds, char *out, size_t n);
/* Lightning's _defaults_from_env_vars: PL_TRAINER_<FLAG> for each Trainer argument, applied
 * after the defaults and before --config and the command line (which override it); false
 * after one error line. Strings it keeps live in store. */
bool apply_env_defaults(host_config *cfg, cfg_entries *store);
/* ---- ONNX export (issue #22) ---- */
/* `lthost export` with the flags after the command; the exit status (export_cmd.c). */
int export_command(const host_config *cfg, int argc, char **argv);

#endif
