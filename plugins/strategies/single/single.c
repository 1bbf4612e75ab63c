/* single — one process, one device: every collective is the identity. */
#include <lt/strategy.h>
#include <stdlib.h>

typedef struct {
    int devices;
} single_state;

static lt_status single_init(const lt_strategy_opts *opts, void **state) {
    if (opts->devices > 1 || opts->num_nodes > 1)
        return lt_set_error(LT_ERR_INVALID_ARG,
                            "strategy 'single' runs one process on one "
                            "device, got --devices %d --num_nodes %d; use --strategy ddp",
                            opts->devices, opts->num_nodes);
    single_state *s = calloc(1, sizeof *s);
    if (!s) return lt_set_error(LT_ERR_OOM, "out of memory");
    s->devices = 1;
    *state = s;
    return LT_OK;
}

static void single_shutdown(void *st) { free(st); }
static int single_rank(void *st) {
    (void)st;
    return 0;
}
static int single_world_size(void *st) {
    (void)st;
    return 1;
}

static lt_status single_all_reduce_sum(void *st, float *buf, int64_t n) {
    (void)st, (void)buf, (void)n; /* the sum over one rank is the value itself */
    return LT_OK;
}

static lt_status single_broadcast(void *st, void *buf, size_t nbytes, int root) {
    (void)st, (void)buf, (void)nbytes;
    return root == 0 ? LT_OK
                     : lt_set_error(LT_ERR_INVALID_ARG, "broadcast from rank %d of 1", root);
}

static lt_status single_barrier(void *st) {
    (void)st;
    return LT_OK;
}

LT_STRATEGY_EXPORT(.name = "single", .init = single_init, .shutdown = single_shutdown,
                   .rank = single_rank, .world_size = single_world_size,
                   .all_reduce_sum = single_all_reduce_sum, .broadcast = single_broadcast,
                   .barrier = single_barrier, .class_name = "SingleDeviceStrategy")
