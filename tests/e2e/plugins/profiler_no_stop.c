/* Test plugin: a profiler without a stop function; lthost --profiler must refuse it
 * with a message naming the missing function. */
#include <lt/profiler.h>

static lt_status init(const lt_profiler_opts *opts, void **state) {
    (void)opts;
    *state = NULL;
    return LT_OK;
}
static void start(void *st, const char *action, uint64_t t_ns) {
    (void)st, (void)action, (void)t_ns;
}
static lt_status summary(void *st, const char *stage, FILE *out) {
    (void)st, (void)stage, (void)out;
    return LT_OK;
}

LT_PROFILER_EXPORT(.name = "no_stop", .init = init, .start = start, .summary = summary);
