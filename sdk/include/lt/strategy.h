/* lt/strategy.h — the table a strategy plugin fills (process group, collectives). */
#ifndef LT_STRATEGY_H
#define LT_STRATEGY_H

#include <stdint.h>

#include "status.h"
#include "tensor.h"

typedef struct lt_strategy_opts {
    uint32_t struct_size;
    int devices;   /* --devices */
    int num_nodes; /* --num_nodes */
} lt_strategy_opts;

typedef struct lt_strategy_desc {
    LT_DESC_HEADER_FIELDS
    /* Join the process group. */
    lt_status (*init)(const lt_strategy_opts *opts, void **state);
    /* Leave it and free the state. */
    void (*shutdown)(void *st);
    int (*rank)(void *st);
    int (*world_size)(void *st);
    /* In place, over n float32 values in host memory: the sum over all ranks. */
    lt_status (*all_reduce_sum)(void *st, float *buf, int64_t n);
    /* In place, nbytes in host memory, from rank root to all. */
    lt_status (*broadcast)(void *st, void *buf, size_t nbytes, int root);
    lt_status (*barrier)(void *st);
} lt_strategy_desc;

#define LT_STRATEGY_EXPORT(...)                                                        \
    static const lt_strategy_desc lt_strategy_desc_ = {                               \
        .abi_major = LT_ABI_MAJOR, .abi_minor = LT_ABI_MINOR,                         \
        .struct_size = sizeof(lt_strategy_desc), __VA_ARGS__};                        \
    LT_EXPORT const lt_strategy_desc *lt_strategy_entry(void);                        \
    const lt_strategy_desc *lt_strategy_entry(void) { return &lt_strategy_desc_; }

#endif
