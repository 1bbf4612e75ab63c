/* ddp — one process per device, the processes joined by MPI (OpenMPI): the collectives
 * of data-parallel training. Started by mpirun or srun (lthost re-launches itself under
 * mpirun when run from a plain shell). Every MPI call on the group returns its error
 * (MPI_ERRORS_RETURN), which becomes an lt error naming the rank and the collective. */
#include <lt/strategy.h>

#include <limits.h>
#include <mpi.h>
#include <stdbool.h>
#include <stdlib.h>

/* The most elements one MPI call moves (MPI counts are int); larger buffers go in
 * chunks. Overridable at build time to test the chunking with small buffers. */
#ifndef DDP_MAX_COUNT
#define DDP_MAX_COUNT INT_MAX
#endif

// ----------------------------------------------------------------------------
// state

struct lt_strategy_req {
    struct lt_strategy_req *next; /* in ddp_state.in_flight while not complete */
    int err;                      /* the first MPI error seen by progress, or MPI_SUCCESS */
    bool done;                    /* every request below has completed */
    int nreqs;
    MPI_Request reqs[];           /* (nreqs) one MPI_Iallreduce per chunk */
};

typedef struct {
    MPI_Comm comm;                /* a duplicate of MPI_COMM_WORLD, errors returned */
    int rank, size, local_rank;
    lt_strategy_req *in_flight;   /* started reductions progress() still tests */
} ddp_state;

static int live_states; /* states alive in this process */
static bool owns_mpi;   /* this plugin called MPI_Init_thread, so it finalises */

// ----------------------------------------------------------------------------
// errors

static lt_status mpi_error(const ddp_state *s, int err, const char *call) {
    char text[MPI_MAX_ERROR_STRING];
    int len = 0;
    if (MPI_Error_string(err, text, &len) != MPI_SUCCESS) len = 0;
    text[len] = '\0';
    return lt_set_error(LT_ERR_DEVICE, "ddp: %s failed on rank %d of %d: %s", call,
                        s ? s->rank : -1, s ? s->size : -1, len ? text : "unknown MPI error");
}

/* Launched by mpirun, srun or another PMI launcher (which mpirun's children see). */
static bool under_launcher(void) {
    static const char *const vars[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK",
                                       "SLURM_NTASKS", "SLURM_PROCID"};
    for (size_t i = 0; i < sizeof vars / sizeof *vars; i++)
        if (getenv(vars[i])) return true;
    return false;
}

// ----------------------------------------------------------------------------
// init / shutdown

static lt_status start_mpi(void) {
    int inited = 0, finalized = 0;
    MPI_Initialized(&inited);
    MPI_Finalized(&finalized);
    if (finalized)
        return lt_set_error(LT_ERR_STATE, "ddp: MPI was already finalised in this process; "
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
    if (err != MPI_SUCCESS) return s->comm = MPI_COMM_NULL, mpi_error(s, err, "MPI_Comm_dup");
    MPI_Comm_set_errhandler(s->comm, MPI_ERRORS_RETURN);
    if ((err = MPI_Comm_rank(s->comm, &s->rank)) != MPI_SUCCESS ||
        (err = MPI_Comm_size(s->comm, &s->size)) != MPI_SUCCESS)
        return mpi_error(s, err, "MPI_Comm_rank/size");
    long want = (long)opts->devices * opts->num_nodes;
    if (s->size != want)
        return lt_set_error(LT_ERR_INVALID_ARG, "ddp: --devices %d --num_nodes %d expects %ld "
                            "processes, but mpirun started %d; start it with -np %ld, or pass "
                            "--devices/--num_nodes that multiply to %d", opts->devices,
                            opts->num_nodes, want, s->size, want, s->size);
    if ((s->local_rank = find_local_rank(s)) < 0)
        return lt_set_error(LT_ERR_DEVICE, "ddp: rank %d of %d cannot find its rank within "
                            "the node (MPI_Comm_split_type failed)", s->rank, s->size);
    return LT_OK;
}

static void ddp_shutdown(void *st);

static lt_status ddp_init(const lt_strategy_opts *opts, void **state) {
    *state = NULL;
    if (opts->devices < 1 || opts->num_nodes < 1)
        return lt_set_error(LT_ERR_INVALID_ARG, "ddp: --devices %d --num_nodes %d: both must "
                            "be at least 1", opts->devices, opts->num_nodes);
    long want = (long)opts->devices * opts->num_nodes;
    if (want > 1 && !under_launcher())
        return lt_set_error(LT_ERR_STATE, "ddp: --devices %d --num_nodes %d needs %ld processes, "
                            "but this one was not started by mpirun or srun; run it as "
                            "`mpirun -np %ld lthost ...`", opts->devices, opts->num_nodes,
                            want, want);
    ddp_state *s = calloc(1, sizeof *s);
    if (!s) return lt_set_error(LT_ERR_OOM, "ddp: out of memory");
    s->comm = MPI_COMM_NULL, s->rank = -1, s->size = -1;
    lt_status st = start_mpi();
    if (st != LT_OK) {
        free(s);
        return st;
    }
    live_states++;
    if ((st = join_group(s, opts)) != LT_OK) {
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
        int err = MPI_Allreduce(MPI_IN_PLACE, buf + off, chunk_count(n - off), MPI_FLOAT,
                                MPI_SUM, s->comm);
        if (err != MPI_SUCCESS) return mpi_error(s, err, "MPI_Allreduce");
    }
    return LT_OK;
}

static lt_status ddp_broadcast(void *st, void *buf, size_t nbytes, int root) {
    ddp_state *s = st;
    if (root < 0 || root >= s->size)
        return lt_set_error(LT_ERR_INVALID_ARG, "ddp: broadcast from rank %d of %d", root, s->size);
    for (size_t off = 0; off < nbytes; off += DDP_MAX_COUNT) {
        int err = MPI_Bcast((char *)buf + off, chunk_count((int64_t)(nbytes - off)), MPI_BYTE,
                            root, s->comm);
        if (err != MPI_SUCCESS) return mpi_error(s, err, "MPI_Bcast");
    }
    return LT_OK;
}

static lt_status ddp_barrier(void *st) {
    ddp_state *s = st;
    int err = MPI_Barrier(s->comm);
    return err == MPI_SUCCESS ? LT_OK : mpi_error(s, err, "MPI_Barrier");
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

static lt_status ddp_all_reduce_sum_start(void *st, float *buf, int64_t n, lt_strategy_req **req) {
    ddp_state *s = st;
    *req = NULL;
    if (n < 0)
        return lt_set_error(LT_ERR_INVALID_ARG, "ddp: all_reduce_sum_start of %lld values",
                            (long long)n);
    int64_t nreqs = (n + DDP_MAX_COUNT - 1) / DDP_MAX_COUNT;
    lt_strategy_req *r = calloc(1, sizeof *r + (size_t)nreqs * sizeof(MPI_Request));
    if (!r) return lt_set_error(LT_ERR_OOM, "ddp: out of memory starting an all-reduce");
    r->err = MPI_SUCCESS;
    for (int64_t off = 0; off < n; off += DDP_MAX_COUNT, r->nreqs++) {
        int err = MPI_Iallreduce(MPI_IN_PLACE, buf + off, chunk_count(n - off), MPI_FLOAT,
                                 MPI_SUM, s->comm, &r->reqs[r->nreqs]);
        if (err != MPI_SUCCESS) {
            /* Chunks already started cannot be cancelled; finish them before returning. */
            MPI_Waitall(r->nreqs, r->reqs, MPI_STATUSES_IGNORE);
            free(r);
            return mpi_error(s, err, "MPI_Iallreduce");
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
    int err = r->err;
    if (!r->done) {
        unlink_req(s, r);
        err = MPI_Waitall(r->nreqs, r->reqs, MPI_STATUSES_IGNORE);
    }
    free(r);
    return err == MPI_SUCCESS ? LT_OK : mpi_error(s, err, "MPI_Iallreduce");
}

// ----------------------------------------------------------------------------
// abort

static void ddp_abort(void *st, int exit_code) {
    ddp_state *s = st;
    int inited = 0, finalized = 0;
    MPI_Initialized(&inited);
    MPI_Finalized(&finalized);
    if (inited && !finalized)
        MPI_Abort(s && s->comm != MPI_COMM_NULL ? s->comm : MPI_COMM_WORLD, exit_code);
    _Exit(exit_code); /* no group to tear down, or an MPI_Abort that returned */
}

LT_STRATEGY_EXPORT(.name                 = "ddp",
                   .init                 = ddp_init,
                   .shutdown             = ddp_shutdown,
                   .rank                 = ddp_rank,
                   .world_size           = ddp_world_size,
                   .all_reduce_sum       = ddp_all_reduce_sum,
                   .broadcast            = ddp_broadcast,
                   .barrier              = ddp_barrier,
                   .all_reduce_sum_start = ddp_all_reduce_sum_start,
                   .progress             = ddp_progress,
                   .wait                 = ddp_wait,
                   .abort                = ddp_abort,
                   .local_rank           = ddp_local_rank)
