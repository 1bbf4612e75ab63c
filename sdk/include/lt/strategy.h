/* lt/strategy.h — the table a strategy plugin fills: the process group and its
 * collectives (--strategy single|ddp|path.so). Buffers are host memory, except for the
 * device_* calls, which take an accelerator's own memory (a GPU's, through NCCL). */
#ifndef LT_STRATEGY_H
#define LT_STRATEGY_H

#include <stdint.h>

#include "status.h"
#include "tensor.h"

typedef struct lt_strategy_opts {
    uint32_t struct_size;
    int devices;      /* --devices: processes per node */
    int num_nodes;    /* --num_nodes */
    double timeout_s; /* > 0: a collective that waits this long ends the job (a stuck rank) */
} lt_strategy_opts;

typedef struct lt_strategy_req lt_strategy_req; /* an all-reduce in flight */

typedef struct lt_strategy_desc {
    LT_DESC_HEADER_FIELDS
    /* Join the process group (its size must be devices * num_nodes). */
    lt_status (*init)(const lt_strategy_opts *opts, void **state);
    /* Leave it and free the state. */
    void (*shutdown)(void *st);
    int (*rank)(void *st);
    int (*world_size)(void *st);
    /* In place, over n float32 values: the sum over all ranks. */
    lt_status (*all_reduce_sum)(void *st, float *buf, int64_t n);
    /* In place, nbytes from rank root to all. */
    lt_status (*broadcast)(void *st, void *buf, size_t nbytes, int root);
    lt_status (*barrier)(void *st);
    /* (optional) Start an in-place sum like all_reduce_sum and return at once; buf
     * must stay untouched until wait(*req) returns. NULL: the host uses the blocking one. */
    lt_status (*all_reduce_sum_start)(void *st, float *buf, int64_t n, lt_strategy_req **req);
    /* (optional, with _start) Let started reductions advance (called between kernels). */
    void (*progress)(void *st);
    /* (with _start) Finish req and free it. */
    lt_status (*wait)(void *st, lt_strategy_req *req);
    /* (optional) Tear the whole group down after a fatal error on this rank, so no other
     * rank waits forever; does not return. */
    void (*abort)(void *st, int exit_code);
    /* (optional) The rank within this node (device index); NULL: rank % devices. */
    int (*local_rank)(void *st);

    /* -- collectives on device memory (optional; all three or none). Without them, or
     * when device_bind fails, the host reduces host copies of device buffers. -- */
    /* Collective (every rank calls it, all get the same answer): reach the memory of
     * device `index` of accelerator `accel` ("cuda": NCCL); an error says why not. */
    lt_status (*device_bind)(void *st, const char *accel, int index);
    /* In place over n float32 values of the bound device: the mean over ranks. Starts
     * after the work already queued on the device and returns at once; wait(*req)
     * returns when buf holds the result. */
    lt_status (*device_all_reduce_mean_start)(void *st, float *buf, int64_t n,
                                              lt_strategy_req **req);
    /* In place, nbytes of the bound device's memory from rank root to all (blocking). */
    lt_status (*device_broadcast)(void *st, void *buf, size_t nbytes, int root);

    /* (optional) out[r*n + i] = rank r's in[i], for every rank r (lt_trainer_all_gather);
     * NULL: the host sums zero-padded buffers with all_reduce_sum. */
    lt_status (*all_gather)(void *st, const float *in, int64_t n, float *out);

    /* -- how its processes start (optional) -- */
    /* Lightning's class name, for profiler actions ("[Strategy]DDPStrategy.x"); NULL: name. */
    const char *class_name;
    /* LT_LAUNCH_MPIRUN: a process asked for several (devices x num_nodes > 1) that no
     * launcher started re-runs itself under `mpirun -np devices`; LT_LAUNCH_NONE: never. */
    uint32_t launcher;
    /* Whether this process is a rank a launcher started (mpirun, srun); NULL: never. */
    int (*launched)(void);
} lt_strategy_desc;

enum { LT_LAUNCH_NONE = 0, LT_LAUNCH_MPIRUN = 1 };

#define LT_STRATEGY_EXPORT(...) LT_PLUGIN_EXPORT_(lt_strategy_desc, lt_strategy_entry, __VA_ARGS__)

#endif
