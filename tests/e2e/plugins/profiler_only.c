/* Test plugin: a valid profiler that counts start/stop calls. Opening it as a module
 * must fail with "is a profiler plugin ... pass it with --profiler"; opening it as a
 * profiler must work. */
#include <stdlib.h>

#include <lt/profiler.h>

typedef struct counts {
    long starts, stops;
} counts;

static lt_status init(const lt_profiler_opts *opts, void **state) {
    (void)opts;
    *state = calloc(1, sizeof(counts));
    return *state ? LT_OK : LT_ERR_OOM;
}

static void start(void *st, const char *action, uint64_t t_ns) {
    (void)action, (void)t_ns;
    ((counts *)st)->starts++;
}

static void stop(void *st, const char *action, uint64_t t_ns) {
    (void)action, (void)t_ns;
    ((counts *)st)->stops++;
}

static lt_status summary(void *st, const char *stage, FILE *out) {
    const counts *c = st;
    fprintf(out, "profiler_only %s: %ld starts, %ld stops\n", stage, c->starts, c->stops);
    return LT_OK;
}

static void teardown(void *st) { free(st); }

LT_PROFILER_EXPORT(.name = "profiler_only", .init = init, .start = start, .stop = stop,
                   .summary = summary, .teardown = teardown);
