/* Lightning's launcher for DDP: `lthost fit --strategy ddp --devices 2` from a plain
 * shell starts itself again under `mpirun -np 2` with the same arguments; under mpirun
 * or srun (rank variables in the environment) it runs as the rank it was given. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <lt/strategy.h>

#include "host.h"
#include "loggers/logger_set.h"

/* The launcher's one piece of state for its signal handler: the mpirun it waits for. */
static volatile sig_atomic_t mpirun_pid, forwarded;

static void forward(int sig) {
    forwarded = sig;
    if (mpirun_pid > 0) kill((pid_t)mpirun_pid, sig);
}

/* Run mpirun and wait; SIGTERM / SIGINT go on to it (and so to every rank, which saves
 * last.ckpt), and the launcher then exits 128 + signal like the ranks do. */
static int run_and_wait(char **args) {
    pid_t pid = fork();
    if (pid < 0) {
        host_error("cannot start mpirun: %s", strerror(errno));
        return 1;
    }
    if (pid == 0) {
        execvp(args[0], args);
        host_error("cannot run mpirun (%s); install Open MPI (apt-get install openmpi-bin) or "
                   "start lthost under mpirun or srun yourself",
                   strerror(errno));
        _exit(127);
    }
    mpirun_pid = pid;
    struct sigaction sa = {.sa_handler = forward};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
    int rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return forwarded && rc != 0 ? 128 + forwarded : rc == 127 ? 1 : rc;
}

int threads_per_process(const host_config *cfg) {
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    if (cfg->threads || cfg->devices < 2) return cfg->threads;
    return cores / cfg->devices > 1 ? (int)(cores / cfg->devices) : 1;
}

static bool plugin_opens(const host_config *cfg, lt_plugin_kind kind, const char *name) {
    lt_plugin_t *p = NULL;
    if (!name) return true;
    bool ok = host_open_plugin(cfg, kind, name, &p);
    lt_plugin_close(p);
    return ok;
}

bool plugins_preflight(const host_config *cfg) {
    bool monitoring;
    if (!plugin_opens(cfg, LT_PLUGIN_MODULE, cfg->module) ||
        !plugin_opens(cfg, LT_PLUGIN_DATA, cfg->data) ||
        !plugin_opens(cfg, LT_PLUGIN_STRATEGY, cfg->strategy) ||
        !plugin_opens(cfg, LT_PLUGIN_ACCELERATOR, cfg->accel) ||
        !plugin_opens(cfg, LT_PLUGIN_PROFILER, cfg->profiler))
        return false;
    for (int i = 0; i < cfg->n_callbacks; i++) {
        lt_plugin_t *p = NULL;
        if (builtin_callback(cfg->callbacks[i].name, &monitoring)) continue;
        if (!open_callback_plugin(cfg, cfg->callbacks[i].name, &p)) return false;
        lt_plugin_close(p);
    }
    return logger_set_check(cfg);
}

/* The strategy says whether it needs a launcher and whether one started this process;
 * LTHOST_LAUNCHED (set for the ranks lthost starts) keeps a rank from launching again. */
bool needs_launcher(const host_config *cfg) {
    lt_plugin_t *p = NULL;
    if (cfg->devices * cfg->num_nodes < 2 || getenv("LTHOST_LAUNCHED") ||
        lt_plugin_open(LT_PLUGIN_STRATEGY, cfg->strategy, cfg->plugin_roots, &p) != LT_OK) {
        lt_clear_error(); /* a strategy that does not open is reported by the run itself */
        return false;
    }
    const lt_strategy_desc *d = lt_plugin_desc(p);
    bool needs = d->launcher == LT_LAUNCH_MPIRUN && !(d->launched && d->launched());
    lt_plugin_close(p);
    return needs;
}

int launch_ranks(const host_config *cfg, int argc, char **argv) {
    if (cfg->num_nodes > 1) {
        host_error("--num_nodes %d: start lthost on every node with mpirun and a hostfile, or "
                   "with srun (docs/distributed.md shows both); from a plain shell lthost "
                   "launches the processes of one node only",
                   cfg->num_nodes);
        return 2;
    }
    if (!plugins_preflight(cfg)) return 1;
    char self[4096], np[16];
    ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
    if (len <= 0) {
        host_error("cannot find the lthost executable to launch (%s)", strerror(errno));
        return 1;
    }
    self[len] = '\0';
    snprintf(np, sizeof np, "%d", cfg->devices);
    char **args = calloc((size_t)argc + 12, sizeof *args);
    if (!args) {
        host_error("out of host memory launching %d processes", cfg->devices);
        return 1;
    }
    int n = 0;
    args[n++] = "mpirun";
    args[n++] = "-np";
    args[n++] = np;
    /* A one-thread rank gets a core of its own, as mpirun binds up to 2 ranks by default
     * (no migrations, and its DataLoader fills inline: LT_LOADER_WORKERS_AUTO); a thread
     * team stays unbound, since binding would put the whole team on one core. */
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    args[n++] = "--bind-to";
    args[n++] = threads_per_process(cfg) == 1 && cfg->devices <= cores ? "core" : "none";
    /* One node: shared memory only (skips probing network transports, ~0.2 s a rank) */
    args[n++] = "--mca";
    args[n++] = "btl";
    args[n++] = "self,vader";
    if (geteuid() == 0) args[n++] = "--allow-run-as-root";
    if (cfg->devices > cores) args[n++] = "--oversubscribe";
    args[n++] = self;
    for (int i = 1; i < argc; i++) args[n++] = argv[i];
    setenv("LTHOST_LAUNCHED", "1", 1);
    setenv("LTHOST_STDOUT_TTY", isatty(STDOUT_FILENO) ? "1" : "0",
           1); /* the ranks' is always a pty */
    printf("Launching %d processes: mpirun -np %s ... %s %s ...\n", cfg->devices, np, self,
           cfg->command);
    fflush(stdout);
    int rc = run_and_wait(args);
    free(args);
    return rc;
}
