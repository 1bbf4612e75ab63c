/* `lthost tune --module M [--scale_batch_size [power|binsearch]] [--lr_find] [options]
 * [fit flags]`: Lightning's Tuner. --scale_batch_size searches the largest batch size that
 * fits (bs_finder.c); --lr_find then runs a fit of num_training steps with the
 * LearningRateFinder callback (lr_finder.c), no validation, sanity check, checkpoint or
 * test, on one device, as Lightning's _lr_find arranges its trainer, at the batch size
 * found. The fit flags given still apply. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../host.h"
#include "bs_finder.h"
#include "tune.h"

typedef char option_key[96];

/* What `lthost tune` was asked for besides fit flags. */
typedef struct tune_request {
    bool lr_find, scale_batch_size;
    bs_finder_opts bs;
} tune_request;

/* --scale_batch_size [MODE] or --scale_batch_size=MODE at argv[*i]; true when it is one. */
static bool take_scale_flag(int argc, char **argv, int *i, tune_request *t, bool *ok) {
    const char *a = argv[*i], *mode = NULL;
    if (!strcmp(a, "--scale_batch_size")) {
        if (*i + 1 < argc && strncmp(argv[*i + 1], "--", 2)) mode = argv[++*i];
    } else if (!strncmp(a, "--scale_batch_size=", 19)) {
        mode = a + 19;
    } else {
        return false;
    }
    t->scale_batch_size = true;
    if (mode && !bs_finder_option(&t->bs, "mode", mode)) *ok = false;
    return true;
}

/* --lr_find.KEY VALUE: the callback's --callbacks.KEY (into key); num_training is the
 * sweep's length. */
static void lr_find_option(const char *name, const char *value, option_key key,
                           const char **steps) {
    if (!strcmp(name, "num_training")) *steps = value;
    snprintf(key, sizeof(option_key), "--callbacks.%s", name);
}

/* argv with the tuner's flags taken out: --lr_find's options turned into the callback's
 * (--callbacks.KEY, spelt into keys) and the fit flags the sweep needs after the user's
 * (later flags win); --scale_batch_size's into t->bs. out has room for argc + 16 entries. */
static int build_args(int argc, char **argv, char **out, option_key *keys, tune_request *t,
                      bool *ok, int *n_user) {
    int n = 0, nkeys = 0;
    const char *steps = "100";
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--lr_find")) {
            t->lr_find = true;
        } else if (!strncmp(argv[i], "--lr_find.", 10) && i + 1 < argc) {
            lr_find_option(argv[i] + 10, argv[i + 1], keys[nkeys++], &steps);
            i++;
        } else if (take_scale_flag(argc, argv, &i, t, ok)) {
        } else if (!strncmp(argv[i], "--scale_batch_size.", 19) && i + 1 < argc) {
            if (!bs_finder_option(&t->bs, argv[i] + 19, argv[i + 1])) *ok = false;
            i++;
        } else {
            out[n++] = argv[i];
        }
    }
    *n_user = n;
    if (!t->lr_find) return n;
    const char *forced[] = {"--max_epochs",
                            "-1",
                            "--limit_val_batches",
                            "0",
                            "--num_sanity_val_steps",
                            "0",
                            "--enable_checkpointing",
                            "false",
                            "--test_after_fit",
                            "false",
                            "--max_steps",
                            steps,
                            "--callbacks",
                            "LearningRateFinder"};
    for (size_t i = 0; i < sizeof forced / sizeof *forced; i++) out[n++] = (char *)forced[i];
    for (int i = 0, k = 0; i < argc; i++)
        if (!strncmp(argv[i], "--lr_find.", 10) && i + 1 < argc) {
            out[n++] = keys[k++];
            out[n++] = argv[++i];
        }
    return n;
}

/* Without --lr_find: a run that only writes the log folder, its config.yaml the user's
 * flags with the size found. */
static int save_found(const host_config *user, const char *batch_arg_name) {
    host_config *c = malloc(sizeof *c);
    run_probe p = {.batch_arg_name = batch_arg_name}; /* the run reads it back too */
    if (!c) {
        host_error("out of host memory");
        return 1;
    }
    *c = *user;
    c->save_config_only = c->quiet = true;
    c->probe = &p;
    int rc = trainer_run(c);
    if (!rc && *p.log_dir)
        printf("Saved the configuration with the batch size found to %s/config.yaml\n", p.log_dir);
    free(c);
    return rc;
}

/* The search, then the sweep at the size it found. config.yaml records the user's flags
 * (user: the command line without the sweep's), so `lthost fit --config` trains with it. */
static int tune_run(host_config *cfg, host_config *user, const tune_request *t) {
    bs_finder_result found = {0};
    if (t->scale_batch_size && !bs_finder_run(cfg, &t->bs, &found)) return 1;
    if (found.found > 0 &&
        !bs_finder_set_size(user, found.module, t->bs.batch_arg_name, found.text))
        return 1;
    cfg->config_to_save = user;
    if (t->lr_find) return trainer_run(cfg);
    return found.found > 0 && user->save_config ? save_found(user, t->bs.batch_arg_name) : 0;
}

/* The user's own flags (args[0..n) before the sweep's) into user, parsed from copies
 * (cli_parse cuts "--flag=value" in place, and args are parsed again after), which the
 * parsed config points into: the caller frees copy[0..n) after the runs. */
static bool parse_user(int n, char **args, char **copy, host_config *user, cfg_entries *store) {
    for (int i = 0; i < n; i++)
        if (!(copy[i] = strdup(args[i]))) {
            host_error("out of host memory");
            return false;
        }
    return cli_parse(n, copy, user, store);
}

/* The tuner's refusals once the flags parsed, then its runs. */
static int checked_run(host_config *cfg, host_config *user, const tune_request *t) {
    if (!cfg->module) {
        host_error("lthost tune needs --module NAME|PATH");
        return 2;
    }
    if (cfg->devices * cfg->num_nodes > 1) {
        host_error("lthost tune runs on one device, as Lightning's Tuner; drop --devices %d",
                   cfg->devices);
        return 2;
    }
    return tune_run(cfg, user, t);
}

int tune_main(host_config *cfg, int argc, char **argv) {
    char **args = calloc((size_t)argc + 16, sizeof *args),
         **copy = calloc((size_t)argc + 1, sizeof *copy);
    option_key *keys = calloc((size_t)argc + 1, sizeof *keys);
    host_config *user = malloc(sizeof *user);
    if (!args || !keys || !copy || !user) {
        free(args), free(keys), free(copy), free(user);
        host_error("out of host memory");
        return 1;
    }
    tune_request t = {0};
    bs_finder_defaults(&t.bs);
    bool ok = true;
    int n_user = 0, n = build_args(argc, argv, args, keys, &t, &ok, &n_user);
    cfg_entries store = {0}, user_store = {0};
    int rc = 2;
    *user = *cfg;       /* the defaults, before the tuner's flags */
    user->quiet = true; /* its flags are parsed again into cfg, which warns */
    cfg->tune_lr_find = t.lr_find;
    if (!ok)
        ;
    else if (!t.lr_find && !t.scale_batch_size)
        host_error("lthost tune needs --lr_find or --scale_batch_size [power|binsearch] "
                   "(Lightning's Tuner); see docs/trainer.md");
    else if (parse_user(n_user, args, copy, user, &user_store) && cli_parse(n, args, cfg, &store))
        rc = checked_run(cfg, user, &t);
    cfg_entries_free(&store), cfg_entries_free(&user_store);
    for (int i = 0; i < n_user; i++) free(copy[i]);
    free(args), free(keys), free(copy), free(user);
    return rc;
}

void tune_print_help(host_config *cfg, int argc, char **argv) {
    static const char *const lines[][2] = {
        {"scale_batch_size [MODE]", "BatchSizeFinder: power (default) or binsearch"},
        {"scale_batch_size.steps_per_trial N", "training steps per trial (3)"},
        {"scale_batch_size.init_val N", "the first batch size tried (2)"},
        {"scale_batch_size.max_trials N", "at most this many trials (25)"},
        {"scale_batch_size.batch_arg_name NAME",
         "the hyper-parameter of the module, else the data plugin, that sets it (batch_size)"},
        {"scale_batch_size.margin X", "binsearch: keep this fraction below the found size (0.05)"},
        {"scale_batch_size.max_val N", "no size at or over N is tried (8192)"},
        {"scale_batch_size.max_memory SIZE",
         "a trial past SIZE (2GiB, 512MiB) of tensor memory is out of memory (default: the "
         "device's own)"},
        {"lr_find", "LearningRateFinder: sweep the learning rate (after the batch size search)"},
        {"lr_find.min_lr X", "the learning rate of the first step (1e-8)"},
        {"lr_find.max_lr X", "the learning rate the sweep ends at (1)"},
        {"lr_find.num_training N", "steps of the sweep (100)"},
        {"lr_find.mode MODE", "exponential (default) or linear"},
        {"lr_find.early_stop_threshold X",
         "stop once the loss passes X times the best (4; 0: never)"},
    };
    printf("usage: lthost tune --module NAME|PATH [--scale_batch_size [MODE]] [--lr_find] "
           "[options] [fit flags]\n\ntuner options (Lightning's Tuner):\n");
    for (size_t i = 0; i < sizeof lines / sizeof *lines; i++)
        printf("  --%-36s %s\n", lines[i][0], lines[i][1]);
    printf("\n");
    char **args = calloc((size_t)argc + 16, sizeof *args);
    option_key *keys = calloc((size_t)argc + 1, sizeof *keys);
    tune_request t = {0};
    bool ok = true;
    cfg_entries store = {0};
    bs_finder_defaults(&t.bs);
    if (args && keys) /* best effort: to find --module and --data */
        cli_parse(build_args(argc, argv, args, keys, &t, &ok, &(int){0}), args, cfg, &store);
    cli_print_help(cfg);
    cfg_entries_free(&store);
    free(args), free(keys);
}
