/* bench/allreduce_probe.c — mpirun -np 2 allreduce_probe FLOATS: the mean time of a
 * blocking in-place MPI_Allreduce (sum) of FLOATS floats, each after the buffer was
 * rewritten as backward rewrites gradients. bench/ddp_scaling.sh runs it before and after
 * its rounds: on a VM the cost of moving cache lines between two vCPUs changes with where
 * the host places them, and this number tells which state a run saw. */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    int rank;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    long n = argc > 1 ? atol(argv[1]) : 0;
    float *g = n > 0 ? malloc((size_t)n * sizeof *g) : NULL;
    if (!g) {
        if (rank == 0) fprintf(stderr, "usage: allreduce_probe FLOATS (> 0)\n");
        MPI_Abort(MPI_COMM_WORLD, 2);
    }
    const int warmup = 100, iters = 2000;
    double spent = 0;
    for (int it = 0; it < warmup + iters; it++) {
        for (long i = 0; i < n; i++) g[i] = (float)(i + it + rank);
        double t0 = MPI_Wtime();
        MPI_Allreduce(MPI_IN_PLACE, g, (int)n, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
        if (it >= warmup) spent += MPI_Wtime() - t0;
    }
    if (rank == 0) printf("%.0f\n", spent / iters * 1e6);
    free(g);
    MPI_Finalize();
    return 0;
}
