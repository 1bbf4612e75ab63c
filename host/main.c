/* lthost — trains LightningModules compiled as shared objects.
 * Top level: subcommand dispatch and the defaults of the configuration. */
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "host.h"
#include "tune/tune.h"

static void usage(FILE *out) {
    fprintf(
        out,
        "usage: lthost [command] [flags]\n\n"
        "commands:\n"
        "  fit       train a module (then test it, unless --test_after_fit false)\n"
        "  validate  run the validation loop\n"
        "  test      run the test loop\n"
        "  predict   run predict_step over the predict split, write the outputs (.npy)\n"
        "  tune      --scale_batch_size: the largest batch size that fits; --lr_find: sweep the\n"
        "            learning rate, print the suggestion (Lightning's Tuner; lthost tune --help)\n"
        "  plugins   list the plugins found and why any was skipped\n"
        "  export    write a trained module as an ONNX model (lthost export --help)\n\n"
        "With no command, lthost runs fit: lthost --module mymodel.so --accel cuda --devices 2\n"
        "  lthost --version | lthost <command> --help\n");
}

/* Plugins in the build tree sit in <build>/plugins; lthost is <build>/host/lthost. */
static void find_build_root(host_config *cfg) {
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) return;
    exe[n] = '\0';
    snprintf(cfg->build_root, sizeof cfg->build_root, "%s/../plugins", dirname(exe));
    cfg->plugin_roots[0] = cfg->build_root;
}

/* Removes --help/-h from argv; true if there was one. */
static bool take_help(int *argc, char **argv) {
    bool found = false;
    int n = 0;
    for (int i = 0; i < *argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
            found = true;
        else
            argv[n++] = argv[i];
    }
    *argc = n;
    return found;
}

/* OpenMP's team (libgomp: oneDNN's convolutions in the cpu accelerator) spins between
 * parallel regions by default (OMP_WAIT_POLICY unset: ~300k spins). When the cores are
 * shared, a spinning worker holds the core the loop thread needs: the 2-thread demo MLP
 * epoch ran 10-15x slower than the 1-thread one when its loops were on OpenMP
 * (bench/RESULTS.md, #20); passive waiting made it as fast.
 * libgomp reads this once, when the cpu plugin loads it, so it is set here, before any
 * plugin is opened and before any thread starts; the user's own setting wins. */
static void default_omp_wait_policy(void) {
    if (!getenv("OMP_WAIT_POLICY") && !getenv("GOMP_SPINCOUNT"))
        setenv("OMP_WAIT_POLICY", "passive", 0);
}

static bool is_run_command(const char *cmd) {
    return !strcmp(cmd, "fit") || !strcmp(cmd, "validate") || !strcmp(cmd, "test") ||
           !strcmp(cmd, "predict");
}

int main(int argc, char **argv) {
    default_omp_wait_policy();
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    int first_flag = 2;
    if (!strncmp(cmd, "--", 2) && strcmp(cmd, "--version") && strcmp(cmd, "--help"))
        cmd = "fit", first_flag = 1; /* flags alone: fit, as the design card's command line */
    if (!strcmp(cmd, "--version")) {
        printf("lthost %s (liblt %s, plugin ABI %d.%d)\n", LT_VERSION_STRING, lt_version(),
               LT_ABI_MAJOR, LT_ABI_MINOR);
        return 0;
    }
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
        usage(stdout);
        return 0;
    }
    host_config cfg;
    config_defaults(&cfg, cmd);
    find_build_root(&cfg);
    if (!strcmp(cmd, "plugins")) return plugins_command(&cfg);
    if (!strcmp(cmd, "export")) return export_command(&cfg, argc - 2, argv + 2);
    if (!strcmp(cmd, "tune")) {
        config_defaults(&cfg, "fit");
        find_build_root(&cfg);
        int nargs = argc - first_flag;
        if (!take_help(&nargs, argv + first_flag)) return tune_main(&cfg, nargs, argv + first_flag);
        tune_print_help(&cfg, nargs, argv + first_flag);
        return 0;
    }
    if (!is_run_command(cmd)) {
        host_error(
            "unknown command '%s' (commands: fit, validate, test, predict, tune, plugins, export)",
            cmd);
        return 2;
    }
    int nargs = argc - first_flag;
    cfg_entries store = {0}; /* strings of --config files, referenced by cfg */
    if (take_help(&nargs, argv + first_flag)) {
        cli_parse(nargs, argv + first_flag, &cfg, &store); /* best effort: to find --module */
        cli_print_help(&cfg);
        cfg_entries_free(&store);
        return 0;
    }
    int rc = 2;
    if (!cli_parse(nargs, argv + first_flag, &cfg, &store)) goto out;
    if (!cfg.module) {
        host_error(
            "lthost %s needs --module NAME|PATH (try --module mlp; lthost plugins lists them)",
            cmd);
        goto out;
    }
    if (needs_launcher(&cfg)) {
        rc = launch_ranks(&cfg, argc, argv);
        goto out;
    }
    /* Past a file size limit (ulimit -f) writes fail with EFBIG and checkpoints report
     * it, instead of the process dying half-way through a file. */
    signal(SIGXFSZ, SIG_IGN);
    rc = trainer_run(&cfg);
out:
    cfg_entries_free(&store);
    return rc;
}
