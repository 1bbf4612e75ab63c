/* ddp_device_check DDP_SO — the ddp strategy's collectives on CUDA memory (NCCL), run
 * by test_ddp_nccl.sh under `mpirun -np N`, one GPU per rank. Every rank checks: a
 * memory no strategy knows is refused alike on all ranks (LT_ERR_UNSUPPORTED); then
 * device_bind("cuda", local rank) either works and broadcast / mean are exact (also
 * right after an asynchronous copy into the buffer, and with several in flight), or,
 * with no GPU or too few, fails with the reason on every rank. Prints "ok: ..." lines,
 * "skip: ..." when there is no GPU for the collectives, "FAIL: ..." and exits 1. */
#include <cuda_runtime.h>
#include <lt/lt.h>
#include <lt/plugin.h>
#include <lt/strategy.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int rank = -1;

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "FAIL: rank %d: ", rank);                                              \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fprintf(stderr, " (%s:%d)\n", __FILE__, __LINE__);                                     \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

#define CUDA(call)                                                                                 \
    do {                                                                                           \
        cudaError_t e_ = (call);                                                                   \
        CHECK(e_ == cudaSuccess, "%s: %s", #call, cudaGetErrorString(e_));                         \
    } while (0)

static const lt_strategy_desc *t;
static void *st;
static int size;

/* In place from root: rank root's bytes everywhere. */
static void check_broadcast(size_t nbytes, int root) {
    unsigned char *host = malloc(nbytes), *dev = NULL;
    for (size_t i = 0; i < nbytes; i++) host[i] = rank == root ? (unsigned char)(i * 7 + 3) : 0;
    CUDA(cudaMalloc((void **)&dev, nbytes));
    CUDA(cudaMemcpy(dev, host, nbytes, cudaMemcpyHostToDevice));
    CHECK(t->device_broadcast(st, dev, nbytes, root) == LT_OK, "device_broadcast: %s",
          lt_last_error());
    memset(host, 0, nbytes);
    CUDA(cudaMemcpy(host, dev, nbytes, cudaMemcpyDeviceToHost));
    for (size_t i = 0; i < nbytes; i++)
        CHECK(host[i] == (unsigned char)(i * 7 + 3), "broadcast from %d: byte %zu is %u", root, i,
              host[i]);
    cudaFree(dev);
    free(host);
}

static float value(int r, int64_t i) { return (float)(r + 1) * (float)((i % 97) - 48) * 0.25f; }

/* Several means in flight at once, each started right after an asynchronous copy of its
 * input (pinned memory) that the reduction has to wait for; waited in reverse order. */
static void check_means(void) {
    enum { NBUF = 3 };
    const int64_t n[NBUF] = {1, 1000, (3 << 20) + 7};
    float *host[NBUF], *dev[NBUF];
    lt_strategy_req *req[NBUF];
    for (int b = 0; b < NBUF; b++) {
        CUDA(cudaMallocHost((void **)&host[b], (size_t)n[b] * sizeof(float)));
        CUDA(cudaMalloc((void **)&dev[b], (size_t)n[b] * sizeof(float)));
        for (int64_t i = 0; i < n[b]; i++) host[b][i] = value(rank, i);
        CUDA(cudaMemcpyAsync(dev[b], host[b], (size_t)n[b] * sizeof(float), cudaMemcpyHostToDevice,
                             cudaStreamLegacy));
        CHECK(t->device_all_reduce_mean_start(st, dev[b], n[b], &req[b]) == LT_OK,
              "device_all_reduce_mean_start: %s", lt_last_error());
    }
    for (int b = NBUF - 1; b >= 0; b--) {
        CHECK(t->wait(st, req[b]) == LT_OK, "wait: %s", lt_last_error());
        CUDA(cudaMemcpy(host[b], dev[b], (size_t)n[b] * sizeof(float), cudaMemcpyDeviceToHost));
        for (int64_t i = 0; i < n[b]; i++) {
            double want = 0;
            for (int r = 0; r < size; r++) want += value(r, i);
            want /= size;
            CHECK(fabs(host[b][i] - want) <= 1e-6 * fabs(want) + 1e-7,
                  "mean of %lld floats: [%lld] "
                  "is %.9g, want %.9g",
                  (long long)n[b], (long long)i, host[b][i], want);
        }
        cudaFree(dev[b]);
        cudaFreeHost(host[b]);
    }
}

/* A 25 MB bucket (the default bucket_cap_mb), as the trainer reduces it. */
static double bucket_gbps(void) {
    const int64_t n = 25 << 18;
    float *dev = NULL;
    CUDA(cudaMalloc((void **)&dev, (size_t)n * sizeof(float)));
    CUDA(cudaMemset(dev, 0, (size_t)n * sizeof(float)));
    struct timespec a, b;
    for (int it = -3; it < 20; it++) { /* 3 warm-up rounds */
        if (it == 0) clock_gettime(CLOCK_MONOTONIC, &a);
        lt_strategy_req *r;
        CHECK(t->device_all_reduce_mean_start(st, dev, n, &r) == LT_OK && t->wait(st, r) == LT_OK,
              "timed mean: %s", lt_last_error());
    }
    clock_gettime(CLOCK_MONOTONIC, &b);
    cudaFree(dev);
    double sec = (double)(b.tv_sec - a.tv_sec) + 1e-9 * (double)(b.tv_nsec - a.tv_nsec);
    return 20.0 * (double)n * sizeof(float) / sec / 1e9;
}

int main(int argc, char **argv) {
    CHECK(argc == 2, "usage: mpirun -np N ddp_device_check path/to/ddp.so");
    const char *np = getenv("OMPI_COMM_WORLD_SIZE");
    lt_plugin_t *plugin = NULL;
    CHECK(lt_plugin_open(LT_PLUGIN_STRATEGY, argv[1], NULL, &plugin) == LT_OK, "%s",
          lt_last_error());
    t = lt_plugin_desc(plugin);
    CHECK(t->device_bind && t->device_all_reduce_mean_start && t->device_broadcast,
          "%s has no device collectives", argv[1]);
    lt_strategy_opts o = {.struct_size = sizeof o, .devices = np ? atoi(np) : 1, .num_nodes = 1};
    CHECK(t->init(&o, &st) == LT_OK, "init: %s", lt_last_error());
    rank = t->rank(st), size = t->world_size(st);
    int local = t->local_rank(st);

    lt_clear_error();
    CHECK(t->device_bind(st, "opaque", local) == LT_ERR_UNSUPPORTED &&
              strstr(lt_last_error(), "opaque"),
          "binding memory ddp does not know: %s", lt_last_error());
    if (rank == 0) printf("ok: unknown device memory refused on every rank: %s\n", lt_last_error());

    int gpus = 0;
    if (cudaGetDeviceCount(&gpus) != cudaSuccess) gpus = 0;
    lt_clear_error();
    lt_status bound = t->device_bind(st, "cuda", local);
    if (gpus == 0 || gpus < size) { /* every rank must be refused, with the reason */
        CHECK(bound == LT_ERR_DEVICE || bound == LT_ERR_INVALID_ARG,
              "device_bind(cuda) with %d GPU(s) for "
              "%d ranks returned %s: %s",
              gpus, size, lt_status_name(bound), lt_last_error());
        printf("ok: rank %d: %d GPU(s) for %d rank(s): device_bind(cuda) refused: %s\n", rank, gpus,
               size, lt_last_error());
        if (rank == 0)
            printf("skip: NCCL collectives need %d GPU(s), this node has %d\n", size, gpus);
    } else {
        CHECK(bound == LT_OK, "device_bind(cuda, %d): %s", local, lt_last_error());
        check_broadcast(4099, 0);
        check_broadcast(1 << 20, size - 1);
        check_means();
        double gbps = bucket_gbps();
        if (rank == 0)
            printf(
                "ok: NCCL on %d rank(s): broadcast and mean exact; 25 MB bucket mean %.1f GB/s\n",
                size, gbps);
    }
    t->shutdown(st);
    lt_plugin_close(plugin);
    return 0;
}
