/* nccl.c — the ddp strategy's transport for CUDA memory: one NCCL communicator over the
 * same ranks, its unique id sent from rank 0 over MPI (as torch's ProcessGroupNCCL).
 *
 * Collectives run on a stream of their own, after an event recorded on the legacy
 * default stream: that stream waits for all work queued in blocking streams, so a
 * reduction starts only once the gradients it reads have been written, without
 * blocking the host. Waiting polls the event and the communicator's asynchronous error,
 * so a failed or vanished peer becomes an error instead of a hang. */
#include <cuda_runtime.h>
#include <nccl.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "ddp_impl.h"

#if NCCL_VERSION_CODE < NCCL_VERSION(2, 10, 0)
#error "the ddp strategy needs NCCL 2.10 or newer (ncclAvg)"
#endif

struct ddp_nccl {
    ncclComm_t comm;
    cudaStream_t stream; /* where the collectives run */
    cudaEvent_t queued;  /* recorded on the legacy default stream before each collective */
};

// ----------------------------------------------------------------------------
// errors

static lt_status cuda_error(const ddp_state *s, cudaError_t e, const char *call) {
    int gpu = -1;
    cudaGetDevice(&gpu);
    return lt_set_error(LT_ERR_DEVICE, "ddp: %s failed on rank %d of %d (GPU %d): %s", call,
                        s->rank, s->size, gpu, cudaGetErrorString(e));
}

static lt_status nccl_error(const ddp_state *s, ncclResult_t r, const char *call) {
    const char *detail = ncclGetLastError(s->nccl ? s->nccl->comm : NULL);
    return lt_set_error(LT_ERR_DEVICE, "ddp: %s failed on rank %d of %d: %s%s%s", call, s->rank,
                        s->size, ncclGetErrorString(r), detail && *detail ? ": " : "",
                        detail ? detail : "");
}

// ----------------------------------------------------------------------------
// joining

lt_status ddp_nccl_prepare(ddp_state *s, int index) {
    int count = 0;
    cudaError_t e = cudaGetDeviceCount(&count);
    if (e != cudaSuccess || count == 0)
        return lt_set_error(LT_ERR_DEVICE,
                            "ddp: rank %d of %d has no usable GPU for --accel cuda "
                            "(cudaGetDeviceCount: %s); run on a machine with NVIDIA GPUs and "
                            "their driver",
                            s->rank, s->size,
                            e != cudaSuccess ? cudaGetErrorString(e) : "0 devices");
    if (index < 0 || index >= count)
        return lt_set_error(LT_ERR_INVALID_ARG,
                            "ddp: rank %d of %d wants GPU %d, but its node has "
                            "%d; start at most %d processes per node (--devices %d)",
                            s->rank, s->size, index, count, count, count);
    if ((e = cudaSetDevice(index)) != cudaSuccess) return cuda_error(s, e, "cudaSetDevice");
    return LT_OK;
}

/* Rank 0 makes the unique id; everyone gets it with a flag saying whether that worked,
 * so a failure there ends every rank's bind alike instead of hanging the others. */
static lt_status share_unique_id(ddp_state *s, ncclUniqueId *id) {
    struct {
        int ok;
        ncclUniqueId id;
    } msg = {.ok = 1};
    ncclResult_t r = ncclSuccess;
    if (s->rank == 0 && (r = ncclGetUniqueId(&msg.id)) != ncclSuccess) msg.ok = 0;
    int err = MPI_Bcast(&msg, (int)sizeof msg, MPI_BYTE, 0, s->comm);
    if (err != MPI_SUCCESS) return ddp_mpi_error(s, err, "MPI_Bcast of the NCCL unique id");
    if (!msg.ok)
        return s->rank == 0 ? nccl_error(s, r, "ncclGetUniqueId")
                            : lt_set_error(LT_ERR_DEVICE, "ddp: rank 0 could not create the NCCL "
                                                          "unique id (its error says why)");
    *id = msg.id;
    return LT_OK;
}

lt_status ddp_nccl_connect(ddp_state *s) {
    ncclUniqueId id;
    lt_status st = share_unique_id(s, &id);
    if (st != LT_OK) return st;
    ddp_nccl *n = calloc(1, sizeof *n);
    if (!n) return lt_set_error(LT_ERR_OOM, "ddp: out of memory joining NCCL");
    cudaError_t e = cudaStreamCreate(&n->stream);
    if (e == cudaSuccess) e = cudaEventCreateWithFlags(&n->queued, cudaEventDisableTiming);
    if (e != cudaSuccess) {
        if (n->stream) cudaStreamDestroy(n->stream);
        free(n);
        return cuda_error(s, e, "cudaStreamCreate/cudaEventCreate");
    }
    ncclResult_t r = ncclCommInitRank(&n->comm, s->size, id, s->rank);
    if (r != ncclSuccess) {
        cudaEventDestroy(n->queued);
        cudaStreamDestroy(n->stream);
        free(n);
        return nccl_error(s, r, "ncclCommInitRank");
    }
    s->nccl = n;
    return LT_OK;
}

void ddp_nccl_close(ddp_state *s, bool abort) {
    ddp_nccl *n = s->nccl;
    if (!n) return;
    if (abort)
        ncclCommAbort(n->comm);
    else
        ncclCommDestroy(n->comm);
    cudaEventDestroy(n->queued);
    cudaStreamDestroy(n->stream);
    free(n);
    s->nccl = NULL;
}

// ----------------------------------------------------------------------------
// collectives

/* Make the collective stream wait for the work queued so far, without blocking. */
static lt_status after_queued_work(ddp_state *s) {
    ddp_nccl *n = s->nccl;
    cudaError_t e = cudaEventRecord(n->queued, cudaStreamLegacy);
    if (e == cudaSuccess) e = cudaStreamWaitEvent(n->stream, n->queued, 0);
    return e == cudaSuccess ? LT_OK : cuda_error(s, e, "cudaEventRecord/cudaStreamWaitEvent");
}

/* Poll: the event, and between polls the communicator's asynchronous error. */
static lt_status wait_event(ddp_state *s, cudaEvent_t ev, const char *what) {
    ddp_watch_begin(s, what);
    lt_status st = LT_OK;
    for (;;) {
        cudaError_t e = cudaEventQuery(ev);
        if (e == cudaSuccess) break;
        if (e != cudaErrorNotReady) {
            st = cuda_error(s, e, what);
            break;
        }
        ncclResult_t async = ncclSuccess;
        ncclResult_t r = ncclCommGetAsyncError(s->nccl->comm, &async);
        if (r != ncclSuccess || (async != ncclSuccess && async != ncclInProgress)) {
            st = nccl_error(s, r != ncclSuccess ? r : async, what);
            break;
        }
        sched_yield();
    }
    ddp_watch_end(s);
    return st;
}

lt_status ddp_nccl_mean_start(ddp_state *s, float *buf, int64_t n, lt_strategy_req *r) {
    cudaEvent_t done;
    cudaError_t e = cudaEventCreateWithFlags(&done, cudaEventDisableTiming);
    if (e != cudaSuccess) return cuda_error(s, e, "cudaEventCreate");
    lt_status st = after_queued_work(s);
    ncclResult_t nr = ncclSuccess;
    if (st == LT_OK && (nr = ncclAllReduce(buf, buf, (size_t)n, ncclFloat32, ncclAvg, s->nccl->comm,
                                           s->nccl->stream)) != ncclSuccess)
        st = nccl_error(s, nr, "ncclAllReduce");
    if (st == LT_OK && (e = cudaEventRecord(done, s->nccl->stream)) != cudaSuccess)
        st = cuda_error(s, e, "cudaEventRecord");
    if (st != LT_OK) {
        cudaEventDestroy(done);
        return st;
    }
    r->nccl_done = done;
    return LT_OK;
}

lt_status ddp_nccl_wait(ddp_state *s, lt_strategy_req *r) {
    cudaEvent_t done = r->nccl_done;
    lt_status st = wait_event(s, done, "ncclAllReduce");
    cudaEventDestroy(done);
    return st;
}

lt_status ddp_nccl_broadcast(ddp_state *s, void *buf, size_t nbytes, int root) {
    lt_status st = after_queued_work(s);
    if (st != LT_OK) return st;
    ncclResult_t r =
        ncclBroadcast(buf, buf, nbytes, ncclUint8, root, s->nccl->comm, s->nccl->stream);
    if (r != ncclSuccess) return nccl_error(s, r, "ncclBroadcast");
    cudaEvent_t done;
    cudaError_t e = cudaEventCreateWithFlags(&done, cudaEventDisableTiming);
    if (e == cudaSuccess && (e = cudaEventRecord(done, s->nccl->stream)) != cudaSuccess)
        cudaEventDestroy(done);
    if (e != cudaSuccess) return cuda_error(s, e, "cudaEventRecord");
    st = wait_event(s, done, "ncclBroadcast");
    cudaEventDestroy(done);
    return st;
}
