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
                      bool *ok) {
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

/* The search, then the sweep at the size it found. */
static int tune_run(host_config *cfg, const tune_request *t) {
    bs_finder_result found;
    if (t->scale_batch_size && !bs_finder_run(cfg, &t->bs, &found)) return 1;
    return t->lr_find ? trainer_run(cfg) : 0;
}

int tune_main(host_config *cfg, int argc, char **argv) {
    char **args = calloc((size_t)argc + 16, sizeof *args);
    option_key *keys = calloc((size_t)argc + 1, sizeof *keys);
    if (!args || !keys) {
        free(args), free(keys);
        host_error("out of host memory");
        return 1;
    }
    tune_request t = {0};
    bs_finder_defaults(&t.bs);
    bool ok = true;
    int n = build_args(argc, argv, args, keys, &t, &ok);
    cfg_entries store = {0};
    int rc = 2;
    cfg->tune_lr_find = t.lr_find;
    if (!ok)
        ;
    else if (!t.lr_find && !t.scale_batch_size)
        host_error("lthost tune needs --lr_find or --scale_batch_size [power|binsearch] "
                   "(Lightning's Tuner); see docs/trainer.md");
    else if (!cli_parse(n, args, cfg, &store))
        ;
    else if (!cfg->module)
        host_error("lthost tune needs --module NAME|PATH");
    else if (cfg->devices * cfg->num_nodes > 1)
        host_error("lthost tune runs on one device, as Lightning's Tuner; drop --devices %d",
                   cfg->devices);
    else
        rc = tune_run(cfg, &t);
    cfg_entries_free(&store);
    free(args), free(keys);
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
        cli_parse(build_args(argc, argv, args, keys, &t, &ok), args, cfg, &store);
    cli_print_help(cfg);
    cfg_entries_free(&store);
    free(args), free(keys);
}
