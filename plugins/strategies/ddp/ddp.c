/* ddp — one process per device, the processes joined by MPI (OpenMPI): the collectives
 * of data-parallel training. Started by mpirun or srun (lthost re-launches itself under
 * mpirun when run from a plain shell). Every MPI call on the group returns its error
 * (MPI_ERRORS_RETURN), which becomes an lt error naming the rank and the collective.
 * CUDA memory goes through NCCL instead (nccl.c), once device_bind has set it up. */
#include <limits.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "ddp_impl.h"

/* The most elements one MPI call moves (MPI counts are int); larger buffers go in
 * chunks. Overridable at build time to test the chunking with small buffers. */
#ifndef DDP_MAX_COUNT
#define DDP_MAX_COUNT INT_MAX
#endif

// ----------------------------------------------------------------------------
// state

static int live_states; /* states alive in this process */
static bool owns_mpi;   /* this plugin called MPI_Init_thread, so it finalises */

// ----------------------------------------------------------------------------
// errors

lt_status ddp_mpi_error(const ddp_state *s, int err, const char *call) {
    char text[MPI_MAX_ERROR_STRING];
    int len = 0;
    if (MPI_Error_string(err, text, &len) != MPI_SUCCESS) len = 0;
    text[len] = '\0';
    return lt_set_error(LT_ERR_DEVICE, "ddp: %s failed on rank %d of %d: %s", call,
                        s ? s->rank : -1, s ? s->size : -1, len ? text : "unknown MPI error");
}

/* Launched by mpirun, srun or another PMI launcher (which mpirun's children see). The
 * host asks this too (the descriptor's .launched) before it starts mpirun itself. */
static int ddp_launched(void) {
    static const char *const vars[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK",
                                       "SLURM_NTASKS", "SLURM_PROCID"};
    for (size_t i = 0; i < sizeof vars / sizeof *vars; i++)
        if (getenv(vars[i])) return 1;
    return 0;
}

// ----------------------------------------------------------------------------
// init / shutdown

static lt_status start_mpi(void) {
    int inited = 0, finalized = 0;
    MPI_Initialized(&inited);
    MPI_Finalized(&finalized);
    if (finalized)
        return lt_set_error(LT_ERR_STATE,
                            "ddp: MPI was already finalised in this process; "
                            "the ddp strategy can join the process group once per process");
    if (inited) return LT_OK;
    int provided = 0;
    if (MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS)
        return lt_set_error(LT_ERR_DEVICE, "ddp: MPI_Init_thread failed; check that "
                                           "mpirun/srun started this process");
    owns_mpi = true;
    /* So that MPI_Comm_dup and friends below return errors instead of aborting. */
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    return LT_OK;
}

static void stop_mpi(void) {
    if (live_states == 0 && owns_mpi) {
        MPI_Finalize();
        owns_mpi = false;
    }
}

static int find_local_rank(ddp_state *s) {
    const char *v = getenv("OMPI_COMM_WORLD_LOCAL_RANK");
    if (v && *v) return atoi(v);
    MPI_Comm node;
    int r = -1;
    if (MPI_Comm_split_type(s->comm, MPI_COMM_TYPE_SHARED, s->rank, MPI_INFO_NULL, &node) !=
        MPI_SUCCESS)
        return -1;
    if (MPI_Comm_rank(node, &r) != MPI_SUCCESS) r = -1;
    MPI_Comm_free(&node);
    return r;
}

static lt_status join_group(ddp_state *s, const lt_strategy_opts *opts) {
    int err = MPI_Comm_dup(MPI_COMM_WORLD, &s->comm);
    if (err != MPI_SUCCESS) return s->comm = MPI_COMM_NULL, ddp_mpi_error(s, err, "MPI_Comm_dup");
    MPI_Comm_set_errhandler(s->comm, MPI_ERRORS_RETURN);
    if ((err = MPI_Comm_rank(s->comm, &s->rank)) != MPI_SUCCESS ||
        (err = MPI_Comm_size(s->comm, &s->size)) != MPI_SUCCESS)
        return ddp_mpi_error(s, err, "MPI_Comm_rank/size");
    long want = (long)opts->devices * opts->num_nodes;
    if (s->size != want)
        return lt_set_error(LT_ERR_INVALID_ARG,
                            "ddp: --devices %d --num_nodes %d expects %ld "
                            "processes, but mpirun started %d; start it with -np %ld, or pass "
                            "--devices/--num_nodes that multiply to %d",
                            opts->devices, opts->num_nodes, want, s->size, want, s->size);
    if ((s->local_rank = find_local_rank(s)) < 0)
        return lt_set_error(LT_ERR_DEVICE,
                            "ddp: rank %d of %d cannot find its rank within "
                            "the node (MPI_Comm_split_type failed)",
                            s->rank, s->size);
    return LT_OK;
}

static void ddp_shutdown(void *st);

static lt_status ddp_init(const lt_strategy_opts *opts, void **state) {
    *state = NULL;
    if (opts->devices < 1 || opts->num_nodes < 1)
        return lt_set_error(LT_ERR_INVALID_ARG,
                            "ddp: --devices %d --num_nodes %d: both must "
                            "be at least 1",
                            opts->devices, opts->num_nodes);
    long want = (long)opts->devices * opts->num_nodes;
    if (want > 1 && !ddp_launched())
        return lt_set_error(LT_ERR_STATE,
                            "ddp: --devices %d --num_nodes %d needs %ld processes, "
                            "but this one was not started by mpirun or srun; run it as "
                            "`mpirun -np %ld lthost ...`",
                            opts->devices, opts->num_nodes, want, want);
    ddp_state *s = calloc(1, sizeof *s);
    if (!s) return lt_set_error(LT_ERR_OOM, "ddp: out of memory");
    s->comm = MPI_COMM_NULL, s->rank = -1, s->size = -1;
    lt_status st = start_mpi();
    if (st != LT_OK) {
        free(s);
        return st;
    }
    live_states++;
    /* timeout_s arrived with a later lt_strategy_opts: older hosts get no watchdog */
    double timeout = opts->struct_size >= offsetof(lt_strategy_opts, timeout_s) + sizeof(double)
                         ? opts->timeout_s
                         : 0.0;
    if ((st = join_group(s, opts)) != LT_OK || (st = ddp_watchdog_start(s, timeout)) != LT_OK) {
        ddp_shutdown(s);
        return st;
    }
    *state = s;
    return LT_OK;
}

/* Reductions still in flight are the caller's bug: their memory is freed, but MPI may
 * not free a collective's request, so they are left to MPI_Finalize. */
static void ddp_shutdown(void *st) {
    ddp_state *s = st;
    if (!s) return;
    for (lt_strategy_req *r = s->in_flight, *next; r; r = next) next = r->next, free(r);
#ifdef DDP_HAVE_NCCL
    ddp_nccl_close(s, false);
#endif
    ddp_watchdog_stop(s);
    if (s->comm != MPI_COMM_NULL) MPI_Comm_free(&s->comm);
    free(s);
    live_states--;
    stop_mpi();
}

// ----------------------------------------------------------------------------
// the group

static int ddp_rank(void *st) { return ((ddp_state *)st)->rank; }
static int ddp_world_size(void *st) { return ((ddp_state *)st)->size; }
static int ddp_local_rank(void *st) { return ((ddp_state *)st)->local_rank; }

static int chunk_count(int64_t left) { return left > DDP_MAX_COUNT ? DDP_MAX_COUNT : (int)left; }

// ----------------------------------------------------------------------------
// blocking collectives

static lt_status ddp_all_reduce_sum(void *st, float *buf, int64_t n) {
    ddp_state *s = st;
    if (n < 0)
        return lt_set_error(LT_ERR_INVALID_ARG, "ddp: all_reduce_sum of %lld values", (long long)n);
    for (int64_t off = 0; off < n; off += DDP_MAX_COUNT) {
        ddp_watch_begin(s, "MPI_Allreduce");
        int err = MPI_Allreduce(MPI_IN_PLACE, buf + off, chunk_count(n - off), MPI_FLOAT, MPI_SUM,
                                s->comm);
        ddp_watch_end(s);
        if (err != MPI_SUCCESS) return ddp_mpi_error(s, err, "MPI_Allreduce");
    }
    return LT_OK;
}

static lt_status ddp_all_gather(void *st, const float *in, int64_t n, float *out) {
    ddp_state *s = st;
    if (n < 0 || n > DDP_MAX_COUNT)
        return lt_set_error(LT_ERR_INVALID_ARG,
                            "ddp: all_gather of %lld values per rank (at most %d)", (long long)n,
                            DDP_MAX_COUNT);
    ddp_watch_begin(s, "MPI_Allgather");
    int err = MPI_Allgather(in, (int)n, MPI_FLOAT, out, (int)n, MPI_FLOAT, s->comm);
    ddp_watch_end(s);
    return err == MPI_SUCCESS ? LT_OK : ddp_mpi_error(s, err, "MPI_Allgather");
}

static lt_status ddp_broadcast(void *st, void *buf, size_t nbytes, int root) {
    ddp_state *s = st;
    if (root < 0 || root >= s->size)
        return lt_set_error(LT_ERR_INVALID_ARG, "ddp: broadcast from rank %d of %d", root, s->size);
    for (size_t off = 0; off < nbytes; off += DDP_MAX_COUNT) {
        ddp_watch_begin(s, "MPI_Bcast");
        int err = MPI_Bcast((char *)buf + off, chunk_count((int64_t)(nbytes - off)), MPI_BYTE, root,
                            s->comm);
        ddp_watch_end(s);
        if (err != MPI_SUCCESS) return ddp_mpi_error(s, err, "MPI_Bcast");
    }
    return LT_OK;
}

static lt_status ddp_barrier(void *st) {
    ddp_state *s = st;
    ddp_watch_begin(s, "MPI_Barrier");
    int err = MPI_Barrier(s->comm);
    ddp_watch_end(s);
    return err == MPI_SUCCESS ? LT_OK : ddp_mpi_error(s, err, "MPI_Barrier");
}

// ----------------------------------------------------------------------------
// non-blocking all-reduce: start, progress, wait

static void unlink_req(ddp_state *s, lt_strategy_req *r) {
    for (lt_strategy_req **p = &s->in_flight; *p; p = &(*p)->next)
        if (*p == r) {
            *p = r->next;
            return;
        }
}

/* MPI_Iallreduce over buf in chunks; the request joins those progress() tests. */
static lt_status ddp_all_reduce_sum_start(void *st, float *buf, int64_t n, lt_strategy_req **req) {
    ddp_state *s = st;
    *req = NULL;
    if (n < 0)
        return lt_set_error(LT_ERR_INVALID_ARG, "ddp: all-reduce of %lld values", (long long)n);
    int64_t nreqs = (n + DDP_MAX_COUNT - 1) / DDP_MAX_COUNT;
    lt_strategy_req *r = calloc(1, sizeof *r + (size_t)nreqs * sizeof(MPI_Request));
    if (!r) return lt_set_error(LT_ERR_OOM, "ddp: out of memory starting an all-reduce");
    r->err = MPI_SUCCESS;
    for (int64_t off = 0; off < n; off += DDP_MAX_COUNT, r->nreqs++) {
        int err = MPI_Iallreduce(MPI_IN_PLACE, buf + off, chunk_count(n - off), MPI_FLOAT, MPI_SUM,
                                 s->comm, &r->reqs[r->nreqs]);
        if (err != MPI_SUCCESS) {
            /* Chunks already started cannot be cancelled; finish them before returning. */
            MPI_Waitall(r->nreqs, r->reqs, MPI_STATUSES_IGNORE);
            free(r);
            return ddp_mpi_error(s, err, "MPI_Iallreduce");
        }
    }
    r->next = s->in_flight;
    s->in_flight = r;
    *req = r;
    return LT_OK;
}

static void ddp_progress(void *st) {
    ddp_state *s = st;
    for (lt_strategy_req **p = &s->in_flight; *p;) {
        lt_strategy_req *r = *p;
        int flag = 0;
        int err = MPI_Testall(r->nreqs, r->reqs, &flag, MPI_STATUSES_IGNORE);
        if (err != MPI_SUCCESS || flag) {
            r->err = err, r->done = true;
            *p = r->next; /* complete (or failed): nothing left to test */
        } else {
            p = &r->next;
        }
    }
}

static lt_status ddp_wait(void *st, lt_strategy_req *r) {
    ddp_state *s = st;
    if (!r) return lt_set_error(LT_ERR_INVALID_ARG, "ddp: wait on a NULL request");
#ifdef DDP_HAVE_NCCL
    if (r->nccl_done) {
        lt_status nst = ddp_nccl_wait(s, r);
        free(r);
        return nst;
    }
#endif
    int err = r->err;
    if (!r->done) {
        unlink_req(s, r);
        ddp_watch_begin(s, "MPI_Iallreduce");
        err = MPI_Waitall(r->nreqs, r->reqs, MPI_STATUSES_IGNORE);
        ddp_watch_end(s);
    }
    const float inv = 1.0f / (float)s->size; /* the mean, as the gradient path's */
    for (int64_t i = 0; err == MPI_SUCCESS && i < r->mean_n; i++) r->mean_of[i] *= inv;
    free(r);
    return err == MPI_SUCCESS ? LT_OK : ddp_mpi_error(s, err, "MPI_Iallreduce");
}

// ----------------------------------------------------------------------------
// collectives on device memory

/* This rank's side of device_bind: LT_OK, LT_ERR_UNSUPPORTED (no transport for that
 * memory) or another error (fatal). */
static lt_status bind_here(ddp_state *s, const char *accel, int index, ddp_dev_kind *kind) {
    if (!strcmp(accel, "cpu")) { /* its device memory is host memory */
        *kind = DDP_DEV_HOST;
        return LT_OK;
    }
    if (!strcmp(accel, "cuda")) {
        *kind = DDP_DEV_NCCL;
#ifdef DDP_HAVE_NCCL
        return ddp_nccl_prepare(s, index);
#else
        (void)s, (void)index;
        return lt_set_error(LT_ERR_UNSUPPORTED, "ddp: this ddp.so was built without NCCL (CUDA "
                                                "and NCCL were not found when it was compiled)");
#endif
    }
    return lt_set_error(LT_ERR_UNSUPPORTED,
                        "ddp: no collectives for the memory of accelerator "
                        "'%s' (ddp knows cpu and cuda)",
                        accel);
}

static lt_status ddp_device_bind(void *st, const char *accel, int index) {
    ddp_state *s = st;
    if (s->dev != DDP_DEV_NONE)
        return lt_set_error(LT_ERR_STATE, "ddp: device_bind called twice on rank %d", s->rank);
    ddp_dev_kind kind = DDP_DEV_NONE;
    if (!accel) accel = "";
    lt_status mine = bind_here(s, accel, index, &kind);
    /* Agree: 0 every rank can, 1 some cannot (the host stages), 2 some failed. */
    int verdict = mine == LT_OK ? 0 : mine == LT_ERR_UNSUPPORTED ? 1 : 2, worst = 2;
    ddp_watch_begin(s, "MPI_Allreduce (device_bind)");
    int err = MPI_Allreduce(&verdict, &worst, 1, MPI_INT, MPI_MAX, s->comm);
    ddp_watch_end(s);
    if (err != MPI_SUCCESS) return ddp_mpi_error(s, err, "MPI_Allreduce (device_bind)");
    if (worst != verdict) /* some rank fares worse than this one */
        return lt_set_error(worst == 1 ? LT_ERR_UNSUPPORTED : LT_ERR_DEVICE,
                            "ddp: another rank "
                            "cannot reach its %s device %s (its error says why)",
                            accel, worst == 1 ? "memory" : "at all");
    if (mine != LT_OK) return mine;
#ifdef DDP_HAVE_NCCL
    if (kind == DDP_DEV_NCCL && (mine = ddp_nccl_connect(s)) != LT_OK) return mine;
#endif
    s->dev = kind;
    return LT_OK;
}

static lt_status not_bound(const ddp_state *s, const char *call) {
    return lt_set_error(LT_ERR_STATE, "ddp: %s on rank %d before a successful device_bind", call,
                        s->rank);
}

static lt_status ddp_device_all_reduce_mean_start(void *st, float *buf, int64_t n,
                                                  lt_strategy_req **req) {
    ddp_state *s = st;
    *req = NULL;
    if (s->dev == DDP_DEV_HOST) {
        lt_status r = ddp_all_reduce_sum_start(s, buf, n, req);
        if (r == LT_OK) (*req)->mean_of = buf, (*req)->mean_n = n;
        return r;
    }
#ifdef DDP_HAVE_NCCL
    if (s->dev == DDP_DEV_NCCL) {
        if (n < 0)
            return lt_set_error(LT_ERR_INVALID_ARG, "ddp: all-reduce of %lld values", (long long)n);
        lt_strategy_req *r = calloc(1, sizeof *r);
        if (!r) return lt_set_error(LT_ERR_OOM, "ddp: out of memory starting an all-reduce");
        lt_status st2 = ddp_nccl_mean_start(s, buf, n, r);
        if (st2 != LT_OK) return free(r), st2;
        *req = r;
        return LT_OK;
    }
#endif
    return not_bound(s, "device_all_reduce_mean_start");
}

static lt_status ddp_device_broadcast(void *st, void *buf, size_t nbytes, int root) {
    ddp_state *s = st;
    if (s->dev == DDP_DEV_HOST) return ddp_broadcast(s, buf, nbytes, root);
    if (root < 0 || root >= s->size)
        return lt_set_error(LT_ERR_INVALID_ARG, "ddp: broadcast from rank %d of %d", root, s->size);
#ifdef DDP_HAVE_NCCL
    if (s->dev == DDP_DEV_NCCL) return ddp_nccl_broadcast(s, buf, nbytes, root);
#endif
    return not_bound(s, "device_broadcast");
}

// ----------------------------------------------------------------------------
// abort

static void ddp_abort(void *st, int exit_code) {
    ddp_state *s = st;
    int inited = 0, finalized = 0;
    MPI_Initialized(&inited);
    MPI_Finalized(&finalized);
#ifdef DDP_HAVE_NCCL
    if (s) ddp_nccl_close(s, true); /* no rank may stay inside an NCCL kernel */
#endif
    if (inited && !finalized)
        MPI_Abort(s && s->comm != MPI_COMM_NULL ? s->comm : MPI_COMM_WORLD, exit_code);
    _Exit(exit_code); /* no group to tear down, or an MPI_Abort that returned */
}

LT_STRATEGY_EXPORT(.name = "ddp", .init = ddp_init, .shutdown = ddp_shutdown, .rank = ddp_rank,
                   .world_size = ddp_world_size, .all_reduce_sum = ddp_all_reduce_sum,
                   .broadcast = ddp_broadcast, .barrier = ddp_barrier,
                   .all_reduce_sum_start = ddp_all_reduce_sum_start, .progress = ddp_progress,
                   .wait = ddp_wait, .abort = ddp_abort, .local_rank = ddp_local_rank,
                   .device_bind = ddp_device_bind,
                   .device_all_reduce_mean_start = ddp_device_all_reduce_mean_start,
                   .device_broadcast = ddp_device_broadcast, .all_gather = ddp_all_gather,
                   .class_name = "DDPStrategy", .launcher = LT_LAUNCH_MPIRUN,
                   .launched = ddp_launched)
