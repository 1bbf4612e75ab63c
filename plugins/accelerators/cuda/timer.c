/* timer.c — the timer slots (issue 18): liblt's per-op profiler marks each op's start
 * and end with these instead of synchronising, and reads them back where the host waits
 * for the device anyway (sdk/src/core/prof_timer.c).
 *
 * A mark is a cudaEvent recorded on the compute stream. The pool holds LT_TIMER_MARKS of
 * them, each created the first time its mark is used and reused from then on, so a
 * steady-state step creates no event: the first read-back window creates what a window
 * needs, later ones record the same events again. Timing needs events created without
 * cudaEventDisableTiming, unlike the staging ring's. */
#include <stdio.h>
#include <stdlib.h>

#include "cuda_impl.h"

/* The event of mark m, created on first use; NULL (an error set) when it cannot be. */
static cudaEvent_t mark_event(cuda_state *st, uint32_t m) {
    cuda_timer *t = &st->timer;
    if (!t->ev && !(t->ev = calloc(LT_TIMER_MARKS, sizeof *t->ev))) {
        lt_set_error(LT_ERR_OOM, "cuda accelerator: out of host memory for the timer's events");
        return NULL;
    }
    if (!t->ev[m]) {
        if (!cuda_ok(st, cudaEventCreateWithFlags(&t->ev[m], cudaEventDefault),
                     "cudaEventCreateWithFlags (timer)")) {
            t->ev[m] = NULL;
            return NULL;
        }
        t->created++;
    }
    return t->ev[m];
}

int cuda_timer_mark(void *vst, uint32_t m) {
    cuda_state *st = vst;
    if (m >= LT_TIMER_MARKS) {
        lt_set_error(LT_ERR_INVALID_ARG, "cuda accelerator: timer mark %u is not below %u", m,
                     LT_TIMER_MARKS);
        return 1;
    }
    cudaEvent_t e = mark_event(st, m);
    if (!e || !cuda_ok(st, cudaEventRecord(e, st->stream), "cudaEventRecord (timer)")) return 1;
    st->timer.marks++;
    return 0;
}

int cuda_timer_elapsed(void *vst, uint32_t from, uint32_t to, double *ms) {
    cuda_state *st = vst;
    cuda_timer *t = &st->timer;
    if (!t->ev || from >= LT_TIMER_MARKS || to >= LT_TIMER_MARKS || !t->ev[from] || !t->ev[to]) {
        lt_set_error(LT_ERR_STATE, "cuda accelerator: timer mark %u or %u was never recorded", from,
                     to);
        return 1;
    }
    float f = 0.0f;
    if (!cuda_ok(st, cudaEventSynchronize(t->ev[to]), "cudaEventSynchronize (timer)") ||
        !cuda_ok(st, cudaEventElapsedTime(&f, t->ev[from], t->ev[to]),
                 "cudaEventElapsedTime (timer)"))
        return 1;
    *ms = f;
    return 0;
}

void cuda_timer_release(cuda_state *st) {
    cuda_timer *t = &st->timer;
    for (uint32_t m = 0; t->ev && m < LT_TIMER_MARKS; m++)
        if (t->ev[m]) cudaEventDestroy(t->ev[m]);
    free(t->ev);
    t->ev = NULL;
}
