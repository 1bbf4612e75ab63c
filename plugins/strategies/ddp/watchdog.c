/* watchdog.c — the collective timeout (Lightning's DDPStrategy(timeout=...), 30 minutes
 * by default): a thread that ends this process when it has waited in one collective for
 * longer than the timeout. A blocking MPI call cannot be interrupted, and a rank that is
 * stuck (an endless loop, a deadlock) or skipped a collective would otherwise leave the
 * others waiting forever; once this process exits, mpirun ends the rest of the job. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "ddp_impl.h"

struct ddp_watchdog {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t wake;
    bool stop; /* under mu */
    double timeout_s;
    int rank;
    _Atomic int64_t since_ns; /* when the current collective began; 0: none */
    const char *_Atomic what; /* its name */
};

static int64_t now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static void *watch(void *arg) {
    ddp_watchdog *w = arg;
    /* Checks a few times per timeout, at most once a second. */
    double period = w->timeout_s / 4 < 1.0 ? w->timeout_s / 4 : 1.0;
    pthread_mutex_lock(&w->mu);
    while (!w->stop) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        int64_t ns = until.tv_nsec + (int64_t)(period * 1e9);
        until.tv_sec += (time_t)(ns / 1000000000), until.tv_nsec = (long)(ns % 1000000000);
        pthread_cond_timedwait(&w->wake, &w->mu, &until);
        int64_t since = atomic_load(&w->since_ns);
        if (w->stop || !since || (double)(now_ns() - since) < w->timeout_s * 1e9) continue;
        fprintf(stderr,
                "lthost: error: [rank %d] --strategy ddp: %s has waited %.0f s for the "
                "other ranks: one of them is stuck (an endless loop, a deadlock) or skipped a "
                "collective; ending every rank (raise --strategy.timeout if a step really takes "
                "that long)\n",
                w->rank, atomic_load(&w->what), w->timeout_s);
        fflush(stderr);
        _exit(1); /* MPI may only be called from the main thread; mpirun ends the others */
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

lt_status ddp_watchdog_start(ddp_state *s, double timeout_s) {
    s->watchdog = NULL;
    if (timeout_s <= 0) return LT_OK;
    ddp_watchdog *w = calloc(1, sizeof *w);
    if (!w) return lt_set_error(LT_ERR_OOM, "ddp: out of memory for the collective watchdog");
    w->timeout_s = timeout_s, w->rank = s->rank;
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->wake, NULL);
    if (pthread_create(&w->thread, NULL, watch, w) != 0) {
        pthread_cond_destroy(&w->wake);
        pthread_mutex_destroy(&w->mu);
        free(w);
        return lt_set_error(LT_ERR_STATE, "ddp: cannot start the collective watchdog thread");
    }
    s->watchdog = w;
    return LT_OK;
}

void ddp_watchdog_stop(ddp_state *s) {
    ddp_watchdog *w = s->watchdog;
    if (!w) return;
    pthread_mutex_lock(&w->mu);
    w->stop = true;
    pthread_cond_signal(&w->wake);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->thread, NULL);
    pthread_cond_destroy(&w->wake);
    pthread_mutex_destroy(&w->mu);
    free(w);
    s->watchdog = NULL;
}

void ddp_watch_begin(ddp_state *s, const char *what) {
    ddp_watchdog *w = s->watchdog;
    if (!w) return;
    atomic_store(&w->what, what);
    atomic_store(&w->since_ns, now_ns());
}

void ddp_watch_end(ddp_state *s) {
    if (s->watchdog) atomic_store(&s->watchdog->since_ns, 0);
}
