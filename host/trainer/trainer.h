/* trainer.h — a run's plugins, contexts, callbacks and loop state, shared by the files
 * of host/trainer/. */
#ifndef LTHOST_TRAINER_H
#define LTHOST_TRAINER_H

#include <lt/checkpoint.h>
#include <lt/profiler.h>
#include <lt/strategy.h>
#include <time.h>

#include <lt/accelerator.h>
#include <lt/amp.h>
#include <lt/custom_op.h>

#include "../host.h"
#include "../loggers/loggers.h"
#include "../loggers/logger_set.h"

#define LT_MAX_LOGGED 64

/* lt_log scopes: each loop keeps its own metrics, as Lightning's result collections. */
typedef enum { SCOPE_TRAIN, SCOPE_VAL, SCOPE_TEST, SCOPE_PREDICT } log_scope;

/* The shared hook table, as ids. */
#define HOOK_ID_(type, name) HOOK_##name,
typedef enum { LT_HOOK_TABLE(HOOK_ID_) HOOK_COUNT } hook_id;
#undef HOOK_ID_

/* A callback or the module: whoever has hooks. */
typedef struct participant {
    const char *name; /* "EarlyStopping", "mlp" */
    bool is_module;
    bool monitoring; /* Lightning runs these callbacks' on_train_epoch_end after the module's */
    lt_ctx_t *ctx;
    void (*fn[HOOK_COUNT])(void);
    lt_plugin_t *plugin;            /* NULL for built-in callbacks */
    bool is_checkpoint;             /* a ModelCheckpoint: the host writes what it plans */
    const char *action[HOOK_COUNT]; /* profiler action names (with --profiler) */
} participant;

/* What a hook is called with (only what its signature takes is read). */
typedef struct hook_args {
    const lt_batch_t *batch;
    int64_t batch_idx;
    lt_tensor_t *tensor; /* outputs or loss */
    lt_optimizer_t *opt;
    lt_state_t *state; /* on_save_checkpoint / on_load_checkpoint */
} hook_args;

/* A split's loader and the number of batches the limits allow. */
typedef struct split_loader {
    lt_split split;
    int dataloader_idx; /* which of the split's dataloaders */
    lt_dataset ds;
    lt_loader_t *loader;
    int64_t batches;
} split_loader;

/* The dataloaders of an evaluation split (several val/test dataloaders): run in order. */
typedef struct eval_loaders {
    split_loader sl[LT_MAX_DATALOADERS];
    int n;
} eval_loaders;

/* A scheduler the module registered, with when to step it. */
typedef struct sched_entry {
    lt_scheduler_t *sched;
    lt_scheduler_config cfg;
} sched_entry;

typedef struct progress_bar {
    bool enabled, tty;
    const char *desc; /* "Epoch 3", "Validation", ... */
    int64_t total, done;
    double t_start, t_last_draw;
    int last_len;
} progress_bar;

typedef struct log_state {
    logger_set set;                /* --logger's loggers, loaded by logging_plan */
    const char *end_status;        /* finalize's "success", "failed" (set when the run ends) */
    lt_ctx_t *const *callback_ctx; /* the callbacks' options, for config.yaml */
    char version_dir[4096];        /* planned at start, created by logging_open */
    bool open;
    lt_metric_value callback_metrics[2 * LT_MAX_LOGGED];
    unsigned callback_flags[2 * LT_MAX_LOGGED]; /* LT_LOG_PROG_BAR etc. of each entry */
    int callback_scope[2 * LT_MAX_LOGGED];
    /* Lightning's step of an evaluation loop's step rows: batches seen per dataloader
     * (over every validation of a fit; from 0 for each stage) */
    int64_t eval_step[LT_MAX_DATALOADERS];
} log_state;

/* --profiler: the plugin and the action names the loops use. */
typedef struct profiling {
    lt_plugin_t *plugin;
    const lt_profiler_desc *d; /* NULL: not profiling */
    void *st;
    char dirpath[4096];
    const char *stage; /* whose report is due: "fit", "test", ... (NULL: none) */
    bool ranges;       /* the device takes named ranges (lt_device_range_push) */
    char **names;      /* interned action names */
    int nnames, capnames;
    const char *training_step, *validation_step, *test_step, *predict_step, *backward,
        *batch_to_device, *optimizer_step, *optimizer_zero_grad, *data_setup, *data_teardown,
        *configure_gradient_clipping, *on_before_batch_transfer, *transfer_batch_to_device,
        *on_after_batch_transfer, *reduce_gradients;
} profiling;

/* DDP's gradient buckets: ranges of the flat gradient buffer reduced as one. */
typedef struct grad_bucket {
    int64_t first, n;    /* floats */
    int params, pending; /* parameters in it, and those whose gradient is not final yet */
    bool started;
    lt_strategy_req *req;
} grad_bucket;

/* How gradients and parameters reach the strategy's collectives. */
typedef enum {
    DDP_UNDECIDED,
    DDP_IN_HOST,   /* the device's memory is host memory: reduced in place */
    DDP_ON_DEVICE, /* the strategy reaches the device's memory (NCCL for cuda) */
    DDP_STAGED,    /* neither: host copies, reduced in one piece after backward */
} ddp_path;

typedef struct ddp_state {
    ddp_path path;
    grad_bucket *buckets;
    int nbuckets;
    int *bucket_of; /* parameter -> bucket */
    float *grads;   /* the flat gradient buffer while buckets are armed (NULL: staged) */
    bool failed;
    bool sync_grads; /* the next backward's gradients go to an optimizer step */
} ddp_state;

/* The module: its plugin, descriptor and context (its hyper-parameters and parameters). */
typedef struct module_part {
    lt_plugin_t *plugin;
    const lt_module_desc *desc;
    const char *file; /* for messages */
    lt_ctx_t *ctx;
    lt_forward_fn forward; /* predict's default (the --submodule's forward) */
} module_part;

/* The data plugin and its context (its splits). */
typedef struct data_part {
    lt_plugin_t *plugin;
    const lt_datamodule_desc *desc;
    lt_ctx_t *ctx;
} data_part;

/* The strategy, this process's place in its group, and DDP's gradient state. */
typedef struct process_group {
    lt_plugin_t *plugin;
    const lt_strategy_desc *desc;
    void *state;
    int rank, world, local_rank;
    ddp_state ddp;
} process_group;

/* Whoever has hooks: the callbacks in order, then the module. */
typedef struct hook_set {
    /* --callbacks, the default ModelCheckpoint and --max_time's Timer, then the module */
    participant parts[LTHOST_MAX_CALLBACKS + 3];
    int n;
} hook_set;

/* Where fit stands, as a checkpoint records it: batches_done of epoch finished, and
 * whether the epoch's end (hooks, schedulers) has run too. */
typedef struct fit_position {
    int64_t batches_done, total_batch_idx;
    bool epoch_done;
    int64_t batches_that_stepped; /* Lightning's logging step */
} fit_position;

/* --ckpt_path: the checkpoint the run starts from. */
typedef struct resume_state {
    lt_ckpt_t *ckpt;   /* open for the run; NULL: none */
    char file[4096];   /* its resolved path */
    bool active;       /* fit continues from ckpt's position (until it reaches it) */
    lt_state_t *loops; /* the checkpoint's loop state, until fit applies it */
} resume_state;

/* The accelerator's pinned host buffers as the loaders' allocator (batches.c): set up by
 * the first loader, living as long as the session, so past every loader. */
typedef struct pinned_buffers {
    const lt_accelerator_desc *k; /* NULL until the first loader */
    void *st;
    lt_host_alloc ha;
} pinned_buffers;

/* One run, grouped by concern: each file of host/trainer/ reads the parts it needs. */
typedef struct session {
    const host_config *cfg;
    uint64_t seed;
    module_part module;
    data_part data;
    lt_device_t *dev;
    lt_plugin_t *accel_plugin; /* opened by load_plugins, owned by dev once it is open */
    int device_index;          /* this rank's device on its node (its GPU) */
    pinned_buffers pinned;
    lt_grad_scaler_t *scaler; /* 16-mixed's GradScaler (fit only); NULL otherwise */
    process_group group;
    hook_set hooks;
    lt_trainer_t tr; /* what hooks see through lt_trainer(ctx) */
    fit_position pos;
    resume_state resume;
    log_state log;
    progress_bar bar;
    profiling prof;
    int exit_code;         /* non-zero overrides the run's 0/1 (signals: 128 + signo) */
    bool warned_null_step; /* Lightning warns once that training_step returned None */
    /* ---- trainer flags (issue 23: wt-flags) ---- */
    int64_t accumulate_grad_batches; /* in effect: the flag, or GradientAccumulationScheduler's */
    int64_t model_summary_depth;     /* ModelSummary's max_depth (1; -1: all; 0: none) */
    const lt_callback_desc *callback_desc[LTHOST_MAX_CALLBACKS + 3]; /* of hooks.parts[i] */
    struct outputs_list *writer_outputs; /* predictions kept for write_on_epoch_end */
    bool lr_by_callback; /* StochasticWeightAveraging's SWALR replaced the module's schedulers */
    /* StochasticWeightAveraging's batch-norm epoch: fit runs extra_epochs past max_epochs,
     * and while forward_only training batches run training_step without zero_grad or
     * backward (Lightning's _skip_backward, accumulating past the epoch's end); only the
     * last batch steps, on the gradients the parameters still hold, as Lightning's does. */
    int64_t extra_epochs;
    bool forward_only;
} session;

/* ---- ddp.c (no-ops with one process) ------------------------------------------------ */
/* Every rank loaded the same lthost and plugin files. */
bool ddp_check_versions(session *s, const lt_plugin_t *const *plugins, int n);
/* Every rank built the same parameters (names and shapes). */
bool ddp_check_model(session *s);
bool ddp_choose_path(session *s);
bool ddp_broadcast_params(session *s);
bool ddp_plan_buckets(session *s);
/* Around a backward whose gradients an optimizer step uses: average them over ranks. */
bool ddp_before_backward(session *s);
bool ddp_after_backward(session *s);
void ddp_free(session *s);
/* sync_dist metrics of m[0..n): the weighted mean over all ranks. */
bool ddp_sync_metrics(session *s, lt_metric_reading *m, int n);
/* *any = whether any rank passed true. */
bool ddp_any(session *s, bool mine, bool *any);
/* Every rank has the same n (of what), or all of them stop naming the counts: ranks that
 * step a different number of times would wait for each other in the all-reduces. */
bool ddp_same_count(session *s, int64_t n, const char *what);
/* Give hooks the process group (lt_trainer_world_size, _all_reduce, _barrier, ...). */
void ddp_serve_trainer(session *s);

/* ---- profiling.c ------------------------------------------------------------------ */
bool profiler_open(session *s);
/* The profiler's report of the stage that ran (prof.stage), to stdout or
 * --profiler.filename's file; then no stage is pending. */
bool profiler_report(session *s);
void profiler_close(session *s);
/* "[LightningModule]mlp.<hook>" and "[Strategy]SingleDeviceStrategy.<what>", interned. */
const char *prof_module_action(session *s, const char *hook);
/* A run-long copy of the formatted name; the same text always gives the same pointer. */
const char *prof_intern(session *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Forwards liblt's spans (lt_device_set_profiler / lt_loader_set_profiler) to the plugin. */
void prof_span(void *user, const lt_prof_span *span);
const char *prof_strategy_action(session *s, const char *what);
/* With the accelerator's range slots, each action is also a named range on the device's
 * timeline (NVTX under nsys), opened before the clock is read and closed after. */
static inline void prof_start(session *s, const char *action) {
    if (!s->prof.d || !action) return;
    if (s->prof.ranges) lt_device_range_push(s->dev, action);
    s->prof.d->start(s->prof.st, action, lt_prof_now_ns());
}
static inline void prof_stop(session *s, const char *action) {
    if (!s->prof.d || !action) return;
    s->prof.d->stop(s->prof.st, action, lt_prof_now_ns());
    if (s->prof.ranges) lt_device_range_pop(s->dev);
}

/* ---- checkpoint.c ------------------------------------------------------------------ */
/* Resolve and open --ckpt_path (PATH, last, best) before the contexts exist. */
bool ckpt_open(session *s);
/* Whether the checkpoint was saved by this module (else a warning: its hparams are
 * not applied). */
bool ckpt_same_module(session *s);
/* Warn about hyper-parameters the checkpoint saved that the module no longer declares. */
void ckpt_warn_undeclared_hparams(session *s);
/* After setup: the checkpoint's weights (or --init_weights). */
bool ckpt_restore_weights(session *s);
/* fit, after configure_optimizers and logging_open: optimizers, schedulers, callback and
 * module state, loop position. */
bool ckpt_restore_training(session *s);
/* After the sanity check: the callback_metrics the checkpoint had. */
void ckpt_restore_metrics(session *s);
/* The checkpoint folder: dirpath if set, else <version dir>/checkpoints, else
 * <default_root_dir>/checkpoints; created if missing. */
bool checkpoint_dir(session *s, const char *dirpath, char *out, size_t n);
/* Capture the run's state once and write it atomically to each path. */
bool checkpoint_write(session *s, const char *const *paths, int n);
/* data_state.c: the data module's state_dict into checkpoint c, and its load_state_dict
 * from the --ckpt_path checkpoint (after the data module's setup). */
bool datamodule_state_save(session *s, lt_ckpt_t *c);
bool datamodule_state_load(session *s);
/* Lightning's state_key of callback participant i (checkpoint sections, profiler names). */
void callback_state_key(const session *s, int i, char *out, size_t n);
/* Write what ModelCheckpoint callbacks planned (at a consistent point of fit). */
bool checkpoints_flush(session *s);
/* fit: catch SIGTERM / SIGINT; a caught signal is acted on between batches. */
void signals_install(void);
void signals_restore(void);
/* true when no signal came; else save last.ckpt, say how to resume, set the exit code
 * and return false. */
bool stop_if_signalled(session *s);

/* ---- checkpoint_folder.c: what a run may delete there ---------------------------------- */
/* The rule for every removal: in dir once both are resolved (realpath), a plain file name,
 * a regular file (not a symlink), not the checkpoint this run resumed from (resumed may be
 * ""). Outside dir: KEEP_OUTSIDE with the reason in why (a book resumed from another run's
 * folder is skipped quietly, as Lightning does); gone, or the resumed file: KEEP_QUIETLY;
 * a link or special file in dir: KEEP_AND_SAY with the reason in why. */
typedef enum removal { REMOVE, KEEP_OUTSIDE, KEEP_QUIETLY, KEEP_AND_SAY } removal;
removal checkpoint_file_removable(const char *path, const char *dir, const char *resumed, char *why,
                                  size_t n);
/* Remove the temp files of saves whose process died (SIGKILL); says each; the count. */
int checkpoint_folder_clean_temps(const char *dir);

/* ---- hooks.c -------------------------------------------------------------------- */
/* Call hook id on every callback, then the module; false after printing which failed. */
bool hooks_run(session *s, hook_id id, const hook_args *a);
/* on_train_epoch_end: plain callbacks, the module, then monitoring callbacks. */
bool hooks_run_train_epoch_end(session *s);
/* Hook id of one participant (the state hooks are called one by one). */
bool participant_hook(session *s, participant *p, hook_id id, const hook_args *a);
/* A module-only hook (lt_hook_fn). */
bool module_hook(session *s, const char *name, lt_hook_fn fn);
/* A module hook Lightning calls only when the module overrides it (on_*_model_train). */
bool module_override(session *s, const char *name, lt_hook_fn fn);
/* Report a failed module hook or step: "mlp.training_step failed at ...". */
bool step_failed(session *s, const char *hook, int64_t batch);

/* ---- trainer.c -------------------------------------------------------------------- */
/* A new run of cfg: nothing loaded yet, the lt_trainer_t its hooks see wired to s. */
void session_init(session *s, const host_config *cfg, uint64_t seed);
/* Once the module, data plugin and device are there: the callbacks' contexts (into
 * callback_ctx, for --print_config), the module's and the data plugin's, the module
 * last among the participants, and the --model.X / --data.X overrides. */
bool session_make_contexts(session *s, lt_ctx_t **callback_ctx);
/* Lightning's _call_setup_hook: the data module, the callbacks, then the module (which
 * declares its parameters; they are laid out and initialised right after). */
bool session_setup(session *s);
/* Teardown hooks, profiler report, then free everything in reverse order (the device
 * too); false when the last profiler report could not be written. */
bool session_teardown(session *s);
bool data_setup(session *s, const char *stage);
void rank0_printf(const session *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- batches.c: what the loops read -------------------------------------------------- */
/* Step outputs kept (as lt_keep copies) for an x_epoch_end hook. */
typedef struct outputs_list {
    lt_tensor_t **items;
    int64_t n, cap;
} outputs_list;
bool outputs_push(outputs_list *l, lt_tensor_t *t);
void outputs_clear(outputs_list *l);
/* "train", "val", "test", "predict". */
const char *split_name(lt_split split);
/* A loader over split with the batches lim allows; unshuffled when in_order. */
bool open_split(session *s, lt_split split, const batch_limit *lim, bool in_order,
                split_loader *sl);
/* Every dataloader of split (val, test: several), each with the batches lim allows. */
bool open_eval_loaders(session *s, lt_split split, const batch_limit *lim, bool in_order,
                       eval_loaders *el);
void eval_loaders_free(eval_loaders *el);
/* The host batch as tensors in the module's arena, in Lightning's batch_to_device. */
bool make_batch(session *s, const split_loader *sl, const lt_host_batch *hb, lt_batch_t *b);

/* ---- loops (fit_loop.c, eval_loop.c) ---------------------------------------------- */
static inline double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

bool run_fit(session *s);
/* validate / test / predict as a stage of its own. */
bool run_eval_stage(session *s, lt_split split);
/* One validation pass inside fit (sanity check when s->tr.sanity_checking). */
bool run_validation(session *s, eval_loaders *val);

/* ---- optimization.c --------------------------------------------------------------- */
/* fit under 16-mixed: the GradScaler (torch.amp's defaults) on the module; else nothing. */
bool precision_setup_fit(session *s);
/* One training batch under automatic or manual optimization; *loss is what the step
 * returned (NULL if it skipped). */
bool training_batch(session *s, const lt_batch_t *b, int64_t batch_idx, bool last_in_epoch,
                    lt_tensor_t **loss);
lt_status manual_backward(lt_trainer_t *tr, lt_tensor_t *loss);

/* ---- logging.c -------------------------------------------------------------------- */
bool logging_open(session *s);
/* Name the run's version folder without creating it (the profiler writes there); the
 * folder appears only once a loop starts, so a run that fails at start-up leaves none. */
bool logging_plan(session *s);
void logging_close(session *s);
/* After a training batch: step metrics to the loggers every log_every_n_steps. */
bool log_train_step(session *s);
/* Epoch metrics of scope into callback_metrics, and (write) to the loggers unless sanity
 * checking. */
bool log_epoch_end(session *s, log_scope scope, bool write);
/* After an evaluation batch: its on_step values (NAME_step/dataloader_idx_K) to the
 * loggers at the dataloader's eval_step, as Lightning's update_eval_step_metrics. */
bool log_eval_step(session *s, log_scope scope, int dataloader);
/* Refresh callback_metrics from the module's step values (reads the device). */
bool refresh_step_metrics(session *s);
lt_status trainer_log(lt_trainer_t *tr, const char *name, double value);
/* issue 23 (gen): lt_log_image's host service (log_image.c). */
lt_status trainer_log_image(lt_trainer_t *tr, const char *name, int64_t height, int64_t width,
                            const uint8_t *rgb);
/* SaveConfigCallback: config.yaml in the log folder (save_config.c). */
bool save_config_file(session *s);
lt_status trainer_log_histogram(lt_trainer_t *tr, const char *name, const float *v, int64_t n);
/* "  name=value" for each callback metric, train loop first (the NAME of NAME_step/_epoch). */
void print_metric_line(session *s);
/* "Test:  name=value ...  [N batches, S s]": the metrics of the stage's loop. */
void print_results(session *s, const char *title, int64_t batches, double seconds);

/* ---- progress.c / summary.c ------------------------------------------------------- */
/* stdout is the user's terminal (never under DDP: see progress.c). */
bool stdout_is_terminal(const session *s);
void bar_start(session *s, const char *desc, int64_t total);
void bar_update(session *s, int64_t done);
/* Whether the bar will redraw on the next update (at most ten times a second). */
bool bar_due(const session *s);
void bar_finish(session *s);
/* lt_print's host service: text on its own line, the progress bar redrawn after it. */
void bar_print_line(lt_trainer_t *tr, const char *text);
void print_model_summary(session *s);

/* ---- callbacks (host/callbacks/) ---------------------------------------------------- */
extern const lt_callback_desc model_checkpoint_callback;
bool model_checkpoint_flush(session *s, participant *p);
/* trainer flags (issue 23: wt-flags): fit failed after training began; each
 * OnExceptionCheckpoint callback saves its checkpoint (on_exception.c). */
void on_exception_save(session *s);
/* logging.c: one row of n values to the loggers at the current logging step (a
 * callback's trainer.logger.log_metrics, as DeviceStatsMonitor's); false after one error line. */
bool trainer_log_row(session *s, const char *const *names, const double *values, int n);
/* prediction_writer.c: BasePredictionWriter callbacks in predict (rank 0 calls them). */
bool prediction_writers_present(const session *s);
bool prediction_writers_batch(session *s, lt_tensor_t *out, const lt_batch_t *b, int64_t idx);
bool prediction_writers_epoch(session *s); /* and frees the kept predictions */
void prediction_writers_free(session *s);

/* ---- generate.c: predict --predict.prompt (issue 19, text models) ------------------ */
bool run_generate(session *s);

#endif
