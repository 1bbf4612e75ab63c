/* lt/profiler.h — the table a profiler plugin fills (--profiler NAME|path.so).
 *
 * The host calls start/stop around every hook and loop stage with Lightning's action
 * names ("run_training_epoch", "[LightningModule]mlp.training_step", ...), on the thread
 * that runs the loops, with CLOCK_MONOTONIC timestamps. A profiler that sets `span`
 * also gets liblt's per-op spans (matmul, ..., with FLOP and byte counts) and the data
 * loader's batch fills, from any thread. With no profiler nothing is timed. */
#ifndef LT_PROFILER_H
#define LT_PROFILER_H

#include <stdint.h>
#include <stdio.h>

#include "status.h"

typedef struct lt_profiler_opts {
    uint32_t struct_size;
    int rank, world_size;
    const char *dirpath;  /* where report files go: --profiler.dirpath, else the log dir */
    const char *filename; /* --profiler.filename, or NULL: print the report to `out` */
} lt_profiler_opts;

/* A finished span of work inside liblt. */
typedef struct lt_prof_span {
    const char *name; /* "matmul", "[_DataLoader].fill_batch"; valid during the call */
    const char *kind; /* "op" for tensor ops, "data" for loader work */
    uint64_t start_ns, end_ns;
    double flops, bytes; /* work done and memory moved (0 when not meaningful) */
    /* 0: the thread that runs the loops; 1, 2, ...: loader workers; negative: an op as
     * it ran on device -1 - tid's compute stream (LT_PROF_TID_DEVICE), timed by the
     * accelerator's timer marks and placed on the host clock (ABI 1.1, issue 18). */
    int tid;
} lt_prof_span;

/* The tid of a span timed on device `index` (0 for GPU 0), and back. */
#define LT_PROF_TID_DEVICE(index) (-1 - (int)(index))
#define LT_PROF_DEVICE_OF_TID(tid) (-1 - (int)(tid))

typedef struct lt_profiler_desc {
    LT_DESC_HEADER_FIELDS
    lt_status (*init)(const lt_profiler_opts *opts, void **state);
    /* action stays valid and unchanged until teardown, and an action always comes with
     * the same pointer (a profiler may key its tables on it). */
    void (*start)(void *st, const char *action, uint64_t t_ns);
    void (*stop)(void *st, const char *action, uint64_t t_ns);
    /* (optional) per-op and loader spans; may be called from several threads at once. */
    void (*span)(void *st, const lt_prof_span *span);
    /* The report of what was recorded since the last summary, for `stage` ("fit",
     * "validate", "test", "predict"). out is stdout, or <dirpath>/<stage>-<filename>.txt
     * when a filename is set, as Lightning's profilers do. */
    lt_status (*summary)(void *st, const char *stage, FILE *out);
    void (*teardown)(void *st);
} lt_profiler_desc;

#define LT_PROFILER_EXPORT(...) LT_PLUGIN_EXPORT_(lt_profiler_desc, lt_profiler_entry, __VA_ARGS__)

/* ---- for hosts: route liblt's spans to a profiler -------------------------------- */

struct lt_device;
struct lt_loader;
typedef void (*lt_prof_span_fn)(void *user, const lt_prof_span *span);
/* Per-op spans of every tensor op on dev go to fn(user, span) (NULL: off). */
/* On an accelerator with timer slots each op's span reaches fn later, with tid
 * LT_PROF_TID_DEVICE(i) and the device's times: after a call that waits for the device
 * anyway (lt_to_host, lt_item, lt_device_sync), when LT_TIMER_MARKS / 2 - 1 ops are
 * pending (one early wait), at lt_device_flush_profiler, and before fn is replaced. */
LT_API void lt_device_set_profiler(struct lt_device *dev, lt_prof_span_fn fn, void *user);
/* Deliver the spans of ops whose device times are still pending (one wait for the
 * device when there are any); LT_OK when there were none. A host calls it before a
 * profiler's summary. */
LT_API lt_status lt_device_flush_profiler(struct lt_device *dev);
/* The loader's batch fills ("[_DataLoader].fill_batch", one span per batch, on the
 * worker thread that filled it) go to fn(user, span) (NULL: off). Returns once no call
 * to the previous fn can still arrive. */
LT_API void lt_loader_set_profiler(struct lt_loader *l, lt_prof_span_fn fn, void *user);
/* Monotonic nanoseconds, the clock of every timestamp above. */
LT_API uint64_t lt_prof_now_ns(void);

#endif
