/* Device-timed spans: on an accelerator with timer slots (timer_mark, timer_elapsed:
 * cudaEvents on cuda) every profiled op gets a mark before and after it, and its span
 * waits in a bounded queue until the host waits for the device anyway (lt_to_host,
 * lt_item, lt_device_sync: the trainer's loss read every log_every_n_steps and at epoch
 * end), at lt_device_flush_profiler (before a profiler's summary), or before the
 * profiler is replaced. Synchronising per op, as timing with the host clock needs,
 * would serialise the host with the device and hide the very overlap a GPU step has.
 *
 * Marks: op i of the queue has 2i (start) and 2i + 1 (end); the last mark is the
 * calibration mark, recorded when the queue is read back: the host clock read right
 * after waiting for it is its time on the host clock, and every op is placed that many
 * milliseconds before it (one calibration pair per read-back, so the device clock's
 * drift against the host's never accumulates). A full queue is read back at once (one
 * early wait) rather than losing ops. */
#include <math.h>
#include <stdlib.h>

#include "lt_impl.h"

#define PENDING_MAX (LT_TIMER_MARKS / 2 - 1) /* 4095 ops, marks 0 .. 8189 */
#define CAL_MARK (LT_TIMER_MARKS - 1)        /* 8191 */

typedef struct pending_op {
    const char *name; /* a literal or a static table's entry */
    double flops, bytes;
} pending_op;

typedef struct lt_prof_timer {
    uint32_t n;           /* ops queued */
    bool open;            /* op n's start mark is recorded, its end not yet */
    bool broken;          /* a timer slot failed: time on the host clock from now on */
    uint64_t last_end_ns; /* where the latest delivered span ended (host clock) */
    pending_op op[PENDING_MAX];
} lt_prof_timer;

bool lt__prof_timer_open(lt_device_t *dev) {
    if (dev->prof_timer) return !dev->prof_timer->broken;
    if (!dev->k.timer_mark || !dev->k.timer_elapsed) return false;
    dev->prof_timer = calloc(1, sizeof *dev->prof_timer);
    return dev->prof_timer != NULL;
}

void lt__prof_timer_free(lt_device_t *dev) {
    free(dev->prof_timer);
    dev->prof_timer = NULL;
}

bool lt__prof_timer_open_op(const lt_device_t *dev) {
    return dev->prof_timer && dev->prof_timer->open;
}

bool lt__prof_timer_begin(lt_device_t *dev) {
    lt_prof_timer *t = dev->prof_timer;
    if (!t || t->broken) return false;
    if (t->n == PENDING_MAX && lt__prof_timer_resolve(dev) != LT_OK) return false;
    if (dev->k.timer_mark(dev->state, 2 * t->n) != 0) {
        t->broken = true;
        return false;
    }
    t->open = true;
    return true;
}

void lt__prof_timer_end(lt_device_t *dev, const char *name, double flops, double bytes) {
    lt_prof_timer *t = dev->prof_timer;
    t->open = false;
    if (!dev->prof_fn) return; /* unset inside the op: nobody wants it */
    if (dev->k.timer_mark(dev->state, 2 * t->n + 1) != 0) {
        t->broken = true;
        return;
    }
    t->op[t->n++] = (pending_op){.name = name, .flops = flops, .bytes = bytes};
}

/* Milliseconds from the device's timer as nanoseconds (never negative). */
static uint64_t ms_to_ns(double ms) { return ms > 0.0 ? (uint64_t)llround(ms * 1e6) : 0; }

/* The span of queued op i, placed before the calibration mark reached at cal_ns: its end
 * from the distance to that mark, its length measured directly (the more precise). */
static bool op_span(lt_device_t *dev, uint32_t i, uint64_t cal_ns, lt_prof_span *sp) {
    double dur = 0.0, back = 0.0;
    if (dev->k.timer_elapsed(dev->state, 2 * i, 2 * i + 1, &dur) != 0 ||
        dev->k.timer_elapsed(dev->state, 2 * i + 1, CAL_MARK, &back) != 0)
        return false;
    uint64_t back_ns = ms_to_ns(back), dur_ns = ms_to_ns(dur);
    sp->end_ns = cal_ns > back_ns ? cal_ns - back_ns : 0;
    sp->start_ns = sp->end_ns > dur_ns ? sp->end_ns - dur_ns : 0;
    return true;
}

/* One stream runs its ops in order, so no span may start before the previous one ended.
 * The host clock read after the wait is late by the wait's own latency, which varies
 * from one read-back to the next, and a float timer rounds: a read-back that would
 * start before the last one's end moves later as a whole, and a rounding overlap inside
 * one is cut from the later span. Returns cal_ns, moved when op 0 needs it. */
static uint64_t keep_order(lt_prof_timer *t, uint32_t i, uint64_t cal_ns, lt_prof_span *sp) {
    if (sp->start_ns >= t->last_end_ns) return cal_ns;
    uint64_t late = t->last_end_ns - sp->start_ns;
    if (i == 0) {
        sp->start_ns += late, sp->end_ns += late;
        return cal_ns + late;
    }
    sp->start_ns = t->last_end_ns < sp->end_ns ? t->last_end_ns : sp->end_ns;
    return cal_ns;
}

lt_status lt__prof_timer_resolve(lt_device_t *dev) {
    lt_prof_timer *t = dev->prof_timer;
    /* Inside an op (a kernel slot that syncs) its start mark holds a slot: wait. */
    if (!t || !t->n || t->open) return LT_OK;
    uint32_t n = t->n;
    t->n = 0;
    double unused;
    if (dev->k.timer_mark(dev->state, CAL_MARK) != 0 ||
        dev->k.timer_elapsed(dev->state, CAL_MARK, CAL_MARK, &unused) != 0) {
        t->broken = true;
        return lt_set_error(LT_ERR_DEVICE,
                            "profiler: accelerator '%s' could not read its timer back, so %u "
                            "ops have no device time: %s",
                            dev->k.name, n, *lt_last_error() ? lt_last_error() : "no reason given");
    }
    uint64_t cal_ns = lt_prof_now_ns();
    lt_prof_span sp = {.kind = "op", .tid = LT_PROF_TID_DEVICE(dev->device_index)};
    for (uint32_t i = 0; i < n; i++) {
        if (!op_span(dev, i, cal_ns, &sp)) {
            t->broken = true;
            return lt_set_error(LT_ERR_DEVICE,
                                "profiler: accelerator '%s' has no time for op %u of %u (%s): %s",
                                dev->k.name, i, n, t->op[i].name,
                                *lt_last_error() ? lt_last_error() : "no reason given");
        }
        cal_ns = keep_order(t, i, cal_ns, &sp);
        t->last_end_ns = sp.end_ns;
        sp.name = t->op[i].name;
        sp.flops = t->op[i].flops;
        sp.bytes = t->op[i].bytes;
        if (dev->prof_fn) dev->prof_fn(dev->prof_user, &sp);
    }
    return LT_OK;
}

lt_status lt_device_flush_profiler(lt_device_t *dev) {
    if (!dev) return lt_set_error(LT_ERR_INVALID_ARG, "lt_device_flush_profiler: device is NULL");
    return lt__prof_timer_resolve(dev);
}
