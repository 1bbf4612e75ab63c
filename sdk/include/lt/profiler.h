/* lt/profiler.h — the table a profiler plugin fills. The host calls start/stop around
 * every hook and loop stage with Lightning's action names. */
#ifndef LT_PROFILER_H
#define LT_PROFILER_H

#include <stdint.h>
#include <stdio.h>

#include "status.h"

typedef struct lt_profiler_opts {
    uint32_t struct_size;
    int rank;
    const char *dirpath;  /* NULL: print the summary to stdout */
    const char *filename; /* NULL: default name */
} lt_profiler_opts;

typedef struct lt_profiler_desc {
    LT_DESC_HEADER_FIELDS
    lt_status (*init)(const lt_profiler_opts *opts, void **state);
    void (*start)(void *st, const char *action);
    void (*stop)(void *st, const char *action);
    /* Write the report for `stage` ("fit", "test", ...). */
    void (*summary)(void *st, const char *stage, FILE *out);
    void (*teardown)(void *st);
} lt_profiler_desc;

#define LT_PROFILER_EXPORT(...)                                                        \
    static const lt_profiler_desc lt_profiler_desc_ = {                               \
        .abi_major = LT_ABI_MAJOR, .abi_minor = LT_ABI_MINOR,                         \
        .struct_size = sizeof(lt_profiler_desc), __VA_ARGS__};                        \
    LT_EXPORT const lt_profiler_desc *lt_profiler_entry(void);                        \
    const lt_profiler_desc *lt_profiler_entry(void) { return &lt_profiler_desc_; }

#endif
