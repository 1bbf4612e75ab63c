/* test_timer.c — the test twin fakecuda_cpu's timer slots (built only into it, with
 * CPU_TEST_RANGES), so liblt's device-timed spans and the profilers' GPU views run and
 * are checked on any machine.
 *
 * The emulated device has its own clock that ticks 1 microsecond per recorded mark and
 * starts far from the host's (at 10^6 s), so every op lasts exactly 1 us on it: a test
 * can tell device times from host times, and sees whether liblt placed them on the host
 * clock. A "wait" is a timer_elapsed whose `to` mark was recorded after the last wait or
 * sync, where a GPU would block. At shutdown $LT_TEST_TIMER_LOG gets
 *   "timer_mark M timer_elapsed E waits W sync S"
 * so a test can check that profiling no longer synchronises per op. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include "cpu_impl.h"

#define TICK_NS 1000ull
#define EPOCH_NS 1000000000000000ull /* 10^6 s: nowhere near CLOCK_MONOTONIC's values */

struct cpu_test_timer {
    uint64_t at[LT_TIMER_MARKS];  /* device time of each mark, ns; 0: never recorded */
    uint64_t seq[LT_TIMER_MARKS]; /* when it was recorded, in marks */
    uint64_t recorded;            /* marks recorded so far */
    uint64_t waited;              /* marks recorded before the last wait or sync */
};

static atomic_ullong test_marks, test_elapsed, test_waits, test_syncs;

int cpu_test_timer_mark(void *st, uint32_t m) {
    cpu_state *cs = st;
    if (m >= LT_TIMER_MARKS) {
        lt_set_error(LT_ERR_INVALID_ARG, "fakecuda_cpu: timer mark %u is not below %u", m,
                     LT_TIMER_MARKS);
        return 1;
    }
    if (!cs->timer && !(cs->timer = calloc(1, sizeof *cs->timer))) {
        lt_set_error(LT_ERR_OOM, "fakecuda_cpu: out of memory for the timer marks");
        return 1;
    }
    struct cpu_test_timer *t = cs->timer;
    t->recorded++;
    t->at[m] = EPOCH_NS + t->recorded * TICK_NS;
    t->seq[m] = t->recorded;
    test_marks++;
    return 0;
}

int cpu_test_timer_elapsed(void *st, uint32_t from, uint32_t to, double *ms) {
    struct cpu_test_timer *t = ((cpu_state *)st)->timer;
    if (!t || from >= LT_TIMER_MARKS || to >= LT_TIMER_MARKS || !t->at[from] || !t->at[to]) {
        lt_set_error(LT_ERR_STATE, "fakecuda_cpu: timer mark %u or %u was never recorded", from,
                     to);
        return 1;
    }
    test_elapsed++;
    if (t->seq[to] > t->waited) { /* the device may not be there yet: a GPU would block */
        test_waits++;
        t->waited = t->recorded;
    }
    *ms = ((double)t->at[to] - (double)t->at[from]) / 1e6;
    return 0;
}

void cpu_test_synced(cpu_state *cs) {
    test_syncs++;
    if (cs->timer) cs->timer->waited = cs->timer->recorded;
}

void cpu_test_timer_log(cpu_state *cs) {
    free(cs->timer);
    cs->timer = NULL;
    const char *path = getenv("LT_TEST_TIMER_LOG");
    FILE *f = path && *path ? fopen(path, "w") : NULL;
    if (!f) return;
    fprintf(f, "timer_mark %llu timer_elapsed %llu waits %llu sync %llu\n",
            atomic_load(&test_marks), atomic_load(&test_elapsed), atomic_load(&test_waits),
            atomic_load(&test_syncs));
    fclose(f);
}
