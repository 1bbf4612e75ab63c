/* ddp_impl.h — what the ddp strategy's files share: the state, a request in flight,
 * and the NCCL transport for CUDA memory (nccl.c, built when CUDA and NCCL are found). */
#ifndef DDP_IMPL_H
#define DDP_IMPL_H

#include <lt/strategy.h>

#include <mpi.h>
#include <stdbool.h>

/* Whose memory the device_* collectives take, once device_bind succeeded. */
typedef enum {
    DDP_DEV_NONE, /* not bound */
    DDP_DEV_HOST, /* an accelerator whose device memory is host memory: MPI */
    DDP_DEV_NCCL, /* "cuda": NCCL */
} ddp_dev_kind;

typedef struct ddp_nccl ddp_nccl;         /* nccl.c */
typedef struct ddp_watchdog ddp_watchdog; /* watchdog.c */

struct lt_strategy_req {
    struct lt_strategy_req *next; /* in ddp_state.in_flight while not complete */
    int err;                      /* the first MPI error seen by progress, or MPI_SUCCESS */
    bool done;                    /* every request below has completed */
    float *mean_of;               /* a device mean over MPI: divided by the size once done */
    int64_t mean_n;
    void *nccl_done; /* an NCCL reduction: the cudaEvent_t recorded after it */
    int nreqs;
    MPI_Request reqs[]; /* (nreqs) one MPI_Iallreduce per chunk */
};

typedef struct {
    MPI_Comm comm; /* a duplicate of MPI_COMM_WORLD, errors returned */
    int rank, size, local_rank;
    lt_strategy_req *in_flight; /* started MPI reductions progress() still tests */
    ddp_dev_kind dev;
    ddp_nccl *nccl;         /* when dev is DDP_DEV_NCCL */
    ddp_watchdog *watchdog; /* NULL: no collective timeout */
} ddp_state;

/* An lt error naming the MPI call, the rank and MPI's reason. */
lt_status ddp_mpi_error(const ddp_state *s, int err, const char *call);

/* The collective timeout (watchdog.c): with timeout_s > 0, a thread ends the process
 * once one collective, bracketed by ddp_watch_begin/_end, has waited that long. */
lt_status ddp_watchdog_start(ddp_state *s, double timeout_s);
void ddp_watchdog_stop(ddp_state *s);
void ddp_watch_begin(ddp_state *s, const char *what);
void ddp_watch_end(ddp_state *s);

#ifdef DDP_HAVE_NCCL
/* Local checks before the group agrees: a GPU at `index`, made current. */
lt_status ddp_nccl_prepare(ddp_state *s, int index);
/* Collective: rank 0's unique id over MPI, then the communicator; sets s->nccl. */
lt_status ddp_nccl_connect(ddp_state *s);
/* Queue the in-place mean after the device's queued work; r->nccl_done marks the end. */
lt_status ddp_nccl_mean_start(ddp_state *s, float *buf, int64_t n, lt_strategy_req *r);
/* Until r's reduction has finished (or the communicator reports an error). */
lt_status ddp_nccl_wait(ddp_state *s, lt_strategy_req *r);
lt_status ddp_nccl_broadcast(ddp_state *s, void *buf, size_t nbytes, int root);
/* Free the communicator; abort: without waiting for the other ranks. */
void ddp_nccl_close(ddp_state *s, bool abort);
#endif

#endif
