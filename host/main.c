/* lthost — trains LightningModules compiled as shared objects.
 * Top level: subcommand dispatch and the defaults of the configuration. */
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "host.h"

void host_error(const char *fmt, ...) {
    va_list ap;
    fputs("lthost: error: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

static void usage(FILE *out) {
    fprintf(out,
            "usage: lthost <command> [flags]\n\n"
            "commands:\n"
            "  fit       train a module (then test it, unless --test_after_fit false)\n"
            "  validate  run the validation loop\n"
            "  test      run the test loop\n"
            "  plugins   list the plugins found and why any was skipped\n\n"
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

static bool wants_help(int argc, char **argv) {
    for (int i = 0; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) return true;
    return false;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "--version")) {
        printf("lthost %s (liblt %s, plugin ABI %d.%d)\n", LT_VERSION_STRING, lt_version(),
               LT_ABI_MAJOR, LT_ABI_MINOR);
        return 0;
    }
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
        usage(stdout);
        return 0;
    }
    host_config cfg = {.command = cmd, .data = "fashion_mnist", .accel = "cpu",
                       .strategy = "single", .devices = 1, .num_nodes = 1, .max_epochs = 1000,
                       .limit_train = {true, 1.0, 0}, .limit_val = {true, 1.0, 0},
                       .limit_test = {true, 1.0, 0}, .test_after_fit = true};
    find_build_root(&cfg);
    if (!strcmp(cmd, "plugins")) return plugins_command(&cfg);
    if (strcmp(cmd, "fit") && strcmp(cmd, "validate") && strcmp(cmd, "test")) {
        host_error("unknown command '%s' (commands: fit, validate, test, plugins)", cmd);
        return 2;
    }
    if (wants_help(argc - 2, argv + 2)) {
        cli_print_help(cmd);
        return 0;
    }
    if (!cli_parse(argc - 2, argv + 2, &cfg)) return 2;
    if (!cfg.module) {
        host_error("lthost %s needs --module NAME|PATH (try --module mlp; lthost plugins lists them)", cmd);
        return 2;
    }
    return trainer_run(&cfg);
}
