/* Lightning's launcher for DDP: `lthost fit --strategy ddp --devices 2` from a plain
 * shell starts itself again under `mpirun -np 2` with the same arguments; under mpirun
 * or srun (rank variables in the environment) it runs as the rank it was given. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "host.h"

static bool under_launcher(void) {
    static const char *const vars[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK",
                                       "SLURM_PROCID", "LTHOST_LAUNCHED"};
    for (size_t i = 0; i < sizeof vars / sizeof *vars; i++)
        if (getenv(vars[i])) return true;
    return false;
}

static bool is_ddp(const char *strategy) {
    const char *base = strrchr(strategy, '/');
    base = base ? base + 1 : strategy;
    return !strcmp(base, "ddp") || !strcmp(base, "ddp.so");
}

bool needs_launcher(const host_config *cfg) {
    return is_ddp(cfg->strategy) && cfg->devices * cfg->num_nodes > 1 && !under_launcher();
}

int launch_ranks(const host_config *cfg, int argc, char **argv) {
    if (cfg->num_nodes > 1) {
        host_error("--num_nodes %d: start lthost on every node with mpirun and a hostfile, or "
                   "with srun (docs/distributed.md shows both); from a plain shell lthost "
                   "launches the processes of one node only", cfg->num_nodes);
        return 2;
    }
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
    args[n++] = "--bind-to"; /* each rank runs its own thread team */
    args[n++] = "none";
    /* One node: shared memory only (skips probing network transports, ~0.2 s a rank) */
    args[n++] = "--mca";
    args[n++] = "btl";
    args[n++] = "self,vader";
    if (geteuid() == 0) args[n++] = "--allow-run-as-root";
    if (cfg->devices > sysconf(_SC_NPROCESSORS_ONLN)) args[n++] = "--oversubscribe";
    args[n++] = self;
    for (int i = 1; i < argc; i++) args[n++] = argv[i];
    setenv("LTHOST_LAUNCHED", "1", 1);
    printf("Launching %d processes: mpirun -np %s ... %s %s ...\n", cfg->devices, np, self, argv[1]);
    fflush(stdout);
    execvp(args[0], args);
    host_error("cannot run mpirun (%s); install Open MPI (apt-get install openmpi-bin) or start "
               "lthost under mpirun or srun yourself", strerror(errno));
    free(args);
    return 1;
}
