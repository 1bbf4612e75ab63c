/* `lthost tune --module M --lr_find [--lr_find.KEY VALUE ...] [fit flags]`: Lightning's
 * Tuner.lr_find. The run is a fit of num_training steps with the LearningRateFinder
 * callback (lr_finder.c), no validation, sanity check, checkpoint or test, on one device,
 * as Lightning's _lr_find arranges its trainer; the fit flags given still apply. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../host.h"
#include "tune.h"

typedef char option_key[96];

/* argv with --lr_find taken out, its --lr_find.KEY V options turned into the callback's
 * (--callbacks.KEY, spelt into keys), and the fit flags the sweep needs after the user's
 * (later flags win). out has room for argc + 16 entries. */
static int build_args(int argc, char **argv, char **out, option_key *keys, bool *lr_find) {
    int n = 0, nkeys = 0;
    const char *steps = "100";
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--lr_find")) {
            *lr_find = true;
        } else if (!strncmp(argv[i], "--lr_find.", 10) && i + 1 < argc) {
            if (!strcmp(argv[i] + 10, "num_training")) steps = argv[i + 1];
            snprintf(keys[nkeys++], sizeof *keys, "--callbacks.%s", argv[i] + 10);
            i++;
        } else {
            out[n++] = argv[i];
        }
    }
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

int tune_main(host_config *cfg, int argc, char **argv) {
    char **args = calloc((size_t)argc + 16, sizeof *args);
    option_key *keys = calloc((size_t)argc + 1, sizeof *keys);
    if (!args || !keys) {
        free(args), free(keys);
        host_error("out of host memory");
        return 1;
    }
    bool lr_find = false;
    int n = build_args(argc, argv, args, keys, &lr_find);
    cfg_entries store = {0};
    int rc = 2;
    cfg->tune_lr_find = true;
    if (!lr_find)
        host_error("lthost tune needs --lr_find (Lightning's Tuner.lr_find); see docs/trainer.md");
    else if (!cli_parse(n, args, cfg, &store))
        ;
    else if (!cfg->module)
        host_error("lthost tune needs --module NAME|PATH");
    else if (cfg->devices * cfg->num_nodes > 1)
        host_error("lthost tune runs on one device, as Lightning's Tuner; drop --devices %d",
                   cfg->devices);
    else
        rc = trainer_run(cfg);
    cfg_entries_free(&store);
    free(args), free(keys);
    return rc;
}
