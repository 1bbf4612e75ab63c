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
    int tid;             /* 0: the thread that runs the loops; 1, 2, ...: loader workers */
} lt_prof_span;

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
LT_API void lt_device_set_profiler(struct lt_device *dev, lt_prof_span_fn fn, void *user);
/* The loader's batch fills ("[_DataLoader].fill_batch", one span per batch, on the
 * worker thread that filled it) go to fn(user, span) (NULL: off). Returns once no call
 * to the previous fn can still arrive. */
LT_API void lt_loader_set_profiler(struct lt_loader *l, lt_prof_span_fn fn, void *user);
/* Monotonic nanoseconds, the clock of every timestamp above. */
LT_API uint64_t lt_prof_now_ns(void);

#endif
