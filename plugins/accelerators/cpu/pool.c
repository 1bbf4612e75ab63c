/* pool.c — the cpu accelerator's own worker threads for cpu_parallel_for (issue #20).
 *
 * A training step of a small model runs a parallel loop every few tens of microseconds
 * (the GEMM blocks, Adam). libgomp's team either sleeps between them (passive: a futex
 * wake-up each time, which on a VM means an inter-processor interrupt to a halted vCPU) or
 * spins without yielding (active: when another process needs that core, the spinner holds
 * it for a whole time slice and the epoch collapses; bench/RESULTS.md). These workers spin
 * for CPU_POOL_SPIN_NS after each job, calling sched_yield every few dozen checks so that
 * any other runnable thread on their core goes first, then sleep on a futex.
 *
 * A job is cut into a few chunks per thread, which the caller claims one at a time from
 * the front and the workers from the back: a worker that the data loader's thread holds
 * off its core for a while leaves its chunks to the caller instead of making the job
 * wait, and otherwise each side keeps the same part of the data from job to job (Adam's
 * state stays in that core's L2). Chunk boundaries depend only on n and the thread count,
 * and every kernel computes an element the same way whichever span it falls in
 * (cpu_impl.h), so who ran which chunk never changes a result.
 *
 * When another process holds a worker's core for long, chunks it claimed arrive late and
 * jobs take longer than running every chunk on the caller. The pool measures that on each
 * job, then runs jobs inline for a while, trying the workers again after
 * CPU_POOL_SOLO_MIN jobs, twice as many each time they are still late.
 *
 * One job at a time: a second thread that finds the pool busy runs its loop inline, and so
 * does a loop started from inside a job. */
#include <immintrin.h>
#include <limits.h>
#include <linux/futex.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "cpu_impl.h"

/* How long an idle worker stays awake: longer than the gaps between a step's parallel
 * loops, short enough that a finished fit leaves no core busy. */
#define CPU_POOL_SPIN_NS 200000
#define CPU_POOL_YIELD_EVERY 64 /* checks between sched_yield calls */
/* Jobs run inline once the workers measured late: doubling while they stay late. */
#define CPU_POOL_SOLO_MIN 32
#define CPU_POOL_SOLO_MAX 2048
/* The slowdown the workers start from, and get again when they are tried after an inline
 * run: under 1, so that a job or two they make late do not send it back inline. */
#define CPU_POOL_SLOWDOWN_START 0.8

/* The claim word: job number (32 bits), then the unclaimed chunks [lo, hi) (16 bits
 * each). Threads claim with a compare-and-swap on the whole word, so none takes a chunk
 * of a job other than the one whose fields it then reads. */
#define CLAIM(job, lo, hi) ((uint64_t)(job) << 32 | (uint64_t)(lo) << 16 | (uint64_t)(hi))
#define CLAIM_JOB(c) ((uint32_t)((c) >> 32))
#define CLAIM_LO(c) ((int64_t)(((c) >> 16) & 0xffff))
#define CLAIM_HI(c) ((int64_t)((c)&0xffff))

struct cpu_pool {
    pthread_mutex_t busy;   /* held by the thread whose job runs */
    _Atomic uint32_t gen;   /* job number; the futex workers sleep on */
    _Atomic uint64_t claim; /* CLAIM(gen, first unclaimed chunk, last + 1) */
    _Atomic int done;       /* chunks of the current job finished */
    _Atomic int sleepers;   /* workers in (or about to enter) futex_wait */
    _Atomic bool stop;
    int workers; /* threads besides the caller */
    pthread_t *tids;
    /* the current job, written before the claim word announces it */
    cpu_span_fn fn;
    const void *args;
    int64_t n, chunks;
    /* the busy holder's: a job's time over its time inline (estimated from the caller's
     * chunks), a moving average; jobs left to run inline, and how many the next inline
     * run lasts */
    double slowdown;
    int solo_left, solo_next;
};

static _Thread_local bool in_job; /* this thread is running a chunk: nested loops go inline */

static int64_t now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static void futex_wait(_Atomic uint32_t *word, uint32_t seen) {
    syscall(SYS_futex, word, FUTEX_WAIT_PRIVATE, seen, NULL, NULL, 0);
}

static void futex_wake_all(_Atomic uint32_t *word) {
    syscall(SYS_futex, word, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
}

static void relax(unsigned i) {
    if (i % CPU_POOL_YIELD_EVERY == CPU_POOL_YIELD_EVERY - 1)
        sched_yield();
    else
        _mm_pause();
}

/* Run chunks of job `job`, from the front or the back, until none is left; returns how
 * many this thread ran. */
static int run_chunks(cpu_pool *p, uint32_t job, bool front) {
    int ran = 0;
    uint64_t c = atomic_load_explicit(&p->claim, memory_order_acquire);
    for (;;) {
        if (CLAIM_JOB(c) != job || CLAIM_LO(c) >= CLAIM_HI(c)) return ran;
        const uint64_t taken = front ? c + ((uint64_t)1 << 16) : c - 1;
        if (!atomic_compare_exchange_weak_explicit(&p->claim, &c, taken, memory_order_acquire,
                                                   memory_order_acquire))
            continue; /* c now holds the current word */
        const int64_t i = front ? CLAIM_LO(c) : CLAIM_HI(c) - 1;
        p->fn(p->args, p->n * i / p->chunks, p->n * (i + 1) / p->chunks);
        atomic_fetch_add_explicit(&p->done, 1, memory_order_release);
        ran++;
        c = atomic_load_explicit(&p->claim, memory_order_acquire);
    }
}

/* The next job number after `seen`: spin (yielding) for a while, then sleep. */
static uint32_t wait_job(cpu_pool *p, uint32_t seen) {
    const int64_t until = now_ns() + CPU_POOL_SPIN_NS;
    for (unsigned i = 1;; i++) {
        uint32_t g = atomic_load_explicit(&p->gen, memory_order_acquire);
        if (g != seen) return g;
        if (i % 256 == 0 && now_ns() > until) break;
        relax(i);
    }
    atomic_fetch_add(&p->sleepers, 1); /* before the futex re-checks gen: no lost wake-up */
    uint32_t g;
    while ((g = atomic_load(&p->gen)) == seen) futex_wait(&p->gen, seen);
    atomic_fetch_sub(&p->sleepers, 1);
    return g;
}

static void *worker_main(void *arg) {
    cpu_pool *p = arg;
    in_job = true; /* a worker never starts a job of its own */
    uint32_t seen = 0;
    for (;;) {
        seen = wait_job(p, seen);
        if (atomic_load(&p->stop)) return NULL;
        run_chunks(p, seen, false);
    }
}

/* Fold one job's slowdown into the average (~16 jobs; a sample counts at most 2, so a
 * few jobs that a page fault delayed do not stop the workers) and go inline when it
 * passes 1. */
static void note_slowdown(cpu_pool *p, double x) {
    p->slowdown += ((x < 2.0 ? x : 2.0) - p->slowdown) / 16.0;
    if (p->slowdown < 0.7) p->solo_next = CPU_POOL_SOLO_MIN; /* the workers keep up */
    if (p->slowdown > 1.0) {
        p->solo_left = p->solo_next;
        if (p->solo_next < CPU_POOL_SOLO_MAX) p->solo_next *= 2;
    }
}

cpu_pool *cpu_pool_create(int threads) {
    if (threads < 2) return NULL;
    cpu_pool *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->tids = calloc((size_t)threads - 1, sizeof *p->tids);
    if (!p->tids) {
        free(p);
        return NULL;
    }
    pthread_mutex_init(&p->busy, NULL);
    p->slowdown = CPU_POOL_SLOWDOWN_START;
    p->solo_next = CPU_POOL_SOLO_MIN;
    for (int w = 0; w < threads - 1; w++) {
        if (pthread_create(&p->tids[w], NULL, worker_main, p) != 0) break; /* fewer workers */
        p->workers = w + 1;
    }
    if (p->workers == 0) {
        cpu_pool_destroy(p);
        return NULL;
    }
    return p;
}

void cpu_pool_destroy(cpu_pool *p) {
    if (!p) return;
    atomic_store(&p->stop, true);
    atomic_fetch_add(&p->gen, 1);
    futex_wake_all(&p->gen);
    for (int w = 0; w < p->workers; w++) pthread_join(p->tids[w], NULL);
    pthread_mutex_destroy(&p->busy);
    free(p->tids);
    free(p);
}

void cpu_pool_run(cpu_pool *p, int64_t n, int nt, cpu_span_fn fn, const void *args) {
    if (!p || nt < 2 || in_job || pthread_mutex_trylock(&p->busy) != 0) {
        fn(args, 0, n);
        return;
    }
    if (p->solo_left > 0) {
        if (--p->solo_left == 0) p->slowdown = CPU_POOL_SLOWDOWN_START; /* try them again */
        pthread_mutex_unlock(&p->busy);
        fn(args, 0, n);
        return;
    }
    int64_t chunks = (int64_t)nt * CPU_CHUNKS_PER_THREAD;
    if (chunks > n) chunks = n;
    if (chunks > 0xffff) chunks = 0xffff;
    p->fn = fn, p->args = args, p->n = n, p->chunks = chunks;
    atomic_store_explicit(&p->done, 0, memory_order_relaxed);
    const uint32_t job = atomic_load_explicit(&p->gen, memory_order_relaxed) + 1;
    atomic_store_explicit(&p->claim, CLAIM(job, 0, chunks), memory_order_release);
    atomic_store(&p->gen, job); /* seq_cst: ordered before the sleepers check below */
    if (atomic_load(&p->sleepers) > 0) futex_wake_all(&p->gen);
    const int64_t t0 = now_ns();
    in_job = true;
    const int mine = run_chunks(p, job, true);
    in_job = false;
    const int64_t t1 = now_ns();
    for (unsigned i = 1; atomic_load_explicit(&p->done, memory_order_acquire) < chunks; i++)
        relax(i);
    /* inline, the job would take about chunks times the caller's mean chunk */
    note_slowdown(p, (double)(now_ns() - t0) * mine / ((double)(t1 - t0) * (double)chunks + 1.0));
    pthread_mutex_unlock(&p->busy);
}
