/* advanced — a profiler that keeps every duration of every action (so it can report
 * percentiles, not only means) and aggregates liblt's per-op and data-loader spans into
 * FLOP and byte rates.
 *
 * The report of a stage ("FIT Advanced Profiler Report") has three parts:
 *   - actions (hooks and loop stages), by total time: calls, mean, p50/p90/p99
 *     (nearest rank over the sorted durations), max, total, and the share of the
 *     stage's wall time = last stop - first start seen since the previous summary
 *     (actions nest, so the shares add up to more than 100 %);
 *   - operations (spans of kind "op"), by total time: calls, time, GFLOP, GFLOP/s, GB,
 *     GB/s and the share of all op time; on an accelerator with timer slots (cuda) the
 *     times are the device's own (tid < 0: cudaEvents around each op), not host time;
 *   - data loading (spans of kind "data"): batches, fill time, mean, bytes, threads.
 * Everything is reset after a summary, so each stage reports only its own work.
 *
 * start/stop come from the loop thread, spans from any thread: one mutex guards all. */
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <lt/profiler.h>

/* ---- tables ---------------------------------------------------------------------- */

/* One action, keyed by the host's pointer (stable until teardown, per the ABI). */
typedef struct action {
    const char *key;
    uint64_t *open; /* start times not stopped yet: a stack, the same action may nest */
    size_t nopen, cap_open;
    uint64_t *dur; /* durations since the last summary, ns */
    size_t n, cap;
} action;

/* One span name and kind, keyed by their text (the pointers live only during a call). */
typedef struct span_stat {
    char *name, *kind;
    uint64_t count, ns;
    double flops, bytes;
    uint64_t tids; /* threads seen, bit tid % 64 */
} span_stat;

typedef struct adv {
    pthread_mutex_t mu;
    int rank, world_size;
    action *acts; /* open addressing on the key's address; cap_acts a power of two */
    size_t cap_acts, nacts;
    span_stat *spans; /* open addressing on the hash of name and kind */
    size_t cap_spans, nspans;
    uint64_t first_start, last_stop; /* the stage's wall-clock window; 0: none yet */
    uint64_t dropped;                /* events lost to out-of-memory, reported rather than hidden */
    uint64_t device_ops; /* op spans timed on the device (tid < 0) since the last summary */
    int device;          /* the device of the latest of them */
} adv;

#define INITIAL_CAP 64

static size_t hash_ptr(const void *p) {
    uint64_t x = (uint64_t)(uintptr_t)p;
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    return (size_t)(x ^ (x >> 33));
}

static size_t hash_str2(const char *a, const char *b) {
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (; *a; a++) h = (h ^ (unsigned char)*a) * 1099511628211ULL;
    h = (h ^ 0xff) * 1099511628211ULL; /* a separator, so ("ab","c") != ("a","bc") */
    for (; *b; b++) h = (h ^ (unsigned char)*b) * 1099511628211ULL;
    return (size_t)h;
}

/* Grow a uint64_t array to hold one more; false when out of memory. */
static bool reserve_u64(uint64_t **v, size_t n, size_t *cap) {
    if (n < *cap) return true;
    size_t ncap = *cap ? 2 * *cap : 16;
    uint64_t *nv = realloc(*v, ncap * sizeof *nv);
    if (!nv) return false;
    *v = nv;
    *cap = ncap;
    return true;
}

/* The slot of key in acts (an empty one when absent). */
static action *act_slot(action *acts, size_t cap, const char *key) {
    for (size_t i = hash_ptr(key) & (cap - 1);; i = (i + 1) & (cap - 1))
        if (acts[i].key == key || !acts[i].key) return &acts[i];
}

static bool acts_grow(adv *p) {
    size_t ncap = p->cap_acts ? 2 * p->cap_acts : INITIAL_CAP;
    action *na = calloc(ncap, sizeof *na);
    if (!na) return false;
    for (size_t i = 0; i < p->cap_acts; i++)
        if (p->acts[i].key) *act_slot(na, ncap, p->acts[i].key) = p->acts[i];
    free(p->acts);
    p->acts = na;
    p->cap_acts = ncap;
    return true;
}

/* The record of key, created when new; NULL when out of memory. */
static action *act_get(adv *p, const char *key) {
    if (2 * (p->nacts + 1) > p->cap_acts && !acts_grow(p)) return NULL;
    action *a = act_slot(p->acts, p->cap_acts, key);
    if (!a->key) {
        a->key = key;
        p->nacts++;
    }
    return a;
}

static span_stat *span_slot(span_stat *v, size_t cap, const char *name, const char *kind) {
    for (size_t i = hash_str2(name, kind) & (cap - 1);; i = (i + 1) & (cap - 1))
        if (!v[i].name || (!strcmp(v[i].name, name) && !strcmp(v[i].kind, kind))) return &v[i];
}

static bool spans_grow(adv *p) {
    size_t ncap = p->cap_spans ? 2 * p->cap_spans : INITIAL_CAP;
    span_stat *nv = calloc(ncap, sizeof *nv);
    if (!nv) return false;
    for (size_t i = 0; i < p->cap_spans; i++)
        if (p->spans[i].name)
            *span_slot(nv, ncap, p->spans[i].name, p->spans[i].kind) = p->spans[i];
    free(p->spans);
    p->spans = nv;
    p->cap_spans = ncap;
    return true;
}

static span_stat *span_get(adv *p, const char *name, const char *kind) {
    if (2 * (p->nspans + 1) > p->cap_spans && !spans_grow(p)) return NULL;
    span_stat *s = span_slot(p->spans, p->cap_spans, name, kind);
    if (!s->name) {
        char *n = strdup(name), *k = strdup(kind);
        if (!n || !k) {
            free(n);
            free(k);
            return NULL;
        }
        s->name = n;
        s->kind = k;
        p->nspans++;
    }
    return s;
}

/* ---- recording ------------------------------------------------------------------- */

static lt_status adv_init(const lt_profiler_opts *opts, void **state) {
    adv *p = calloc(1, sizeof *p);
    if (!p) return lt_set_error(LT_ERR_OOM, "advanced profiler: out of memory");
    pthread_mutex_init(&p->mu, NULL);
    p->rank = opts ? opts->rank : 0;
    p->world_size = opts ? opts->world_size : 1;
    *state = p;
    return LT_OK;
}

static void adv_start(void *st, const char *key, uint64_t t_ns) {
    adv *p = st;
    pthread_mutex_lock(&p->mu);
    action *a = act_get(p, key);
    if (a && reserve_u64(&a->open, a->nopen, &a->cap_open))
        a->open[a->nopen++] = t_ns;
    else
        p->dropped++;
    if (!p->first_start || t_ns < p->first_start) p->first_start = t_ns;
    pthread_mutex_unlock(&p->mu);
}

static void adv_stop(void *st, const char *key, uint64_t t_ns) {
    adv *p = st;
    pthread_mutex_lock(&p->mu);
    action *a = act_get(p, key);
    if (a && a->nopen) { /* a stop without its start is ignored */
        uint64_t t0 = a->open[--a->nopen];
        if (reserve_u64(&a->dur, a->n, &a->cap))
            a->dur[a->n++] = t_ns > t0 ? t_ns - t0 : 0;
        else
            p->dropped++;
        if (t_ns > p->last_stop) p->last_stop = t_ns;
    }
    pthread_mutex_unlock(&p->mu);
}

static void adv_span(void *st, const lt_prof_span *sp) {
    adv *p = st;
    pthread_mutex_lock(&p->mu);
    span_stat *s = span_get(p, sp->name ? sp->name : "?", sp->kind ? sp->kind : "op");
    if (sp->tid < 0) {
        p->device_ops++;
        p->device = LT_PROF_DEVICE_OF_TID(sp->tid);
    }
    if (s) {
        s->count++;
        s->ns += sp->end_ns > sp->start_ns ? sp->end_ns - sp->start_ns : 0;
        s->flops += sp->flops;
        s->bytes += sp->bytes;
        s->tids |= 1ULL << ((unsigned)sp->tid % 64);
    } else {
        p->dropped++;
    }
    pthread_mutex_unlock(&p->mu);
}

/* ---- the report ------------------------------------------------------------------ */

static double sec(uint64_t ns) { return (double)ns * 1e-9; }
static double pct(double part, double whole) { return whole > 0.0 ? 100.0 * part / whole : 0.0; }

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* Nearest rank: the smallest duration with at least q % of them at or below it. */
static uint64_t percentile(const uint64_t *sorted, size_t n, unsigned q) {
    size_t rank = (q * n + 99) / 100; /* ceil(q / 100 * n) */
    return sorted[rank ? rank - 1 : 0];
}

static uint64_t total_of(const action *a) {
    uint64_t t = 0;
    for (size_t i = 0; i < a->n; i++) t += a->dur[i];
    return t;
}

/* Actions with calls, sorted by total time (descending); the caller frees. */
typedef struct act_row {
    const action *a;
    uint64_t total;
} act_row;

static int cmp_act_row(const void *x, const void *y) {
    const act_row *a = x, *b = y;
    if (a->total != b->total) return a->total < b->total ? 1 : -1;
    return strcmp(a->a->key, b->a->key);
}

static act_row *sorted_actions(const adv *p, size_t *n) {
    act_row *rows = malloc((p->nacts ? p->nacts : 1) * sizeof *rows);
    *n = 0;
    if (!rows) return NULL;
    for (size_t i = 0; i < p->cap_acts; i++) {
        if (!p->acts[i].key || !p->acts[i].n) continue;
        rows[*n] = (act_row){&p->acts[i], total_of(&p->acts[i])};
        qsort(p->acts[i].dur, p->acts[i].n, sizeof *p->acts[i].dur, cmp_u64);
        (*n)++;
    }
    qsort(rows, *n, sizeof *rows, cmp_act_row);
    return rows;
}

static void rule(FILE *out, int width) {
    for (int i = 0; i < width; i++) fputc('-', out);
    fputc('\n', out);
}

/* Width of the first column: the longest label, at least `min`. */
static int label_width(const act_row *rows, size_t n, int min) {
    int w = min;
    for (size_t i = 0; i < n; i++) {
        int l = (int)strlen(rows[i].a->key);
        if (l > w) w = l;
    }
    return w;
}

static void print_actions(const adv *p, FILE *out) {
    size_t n;
    act_row *rows = sorted_actions(p, &n);
    if (!rows) {
        fprintf(out, "(out of memory sorting the actions)\n");
        return;
    }
    uint64_t wall = p->last_stop > p->first_start ? p->last_stop - p->first_start : 0;
    int w = label_width(rows, n, (int)strlen("Total (wall)")), width = w + 3 + 8 * 14 + 3;
    static const char *const cols[] = {"Calls",   "Mean (s)", "p50 (s)",   "p90 (s)",
                                       "p99 (s)", "Max (s)",  "Total (s)", "Percentage %"};
    rule(out, width);
    fprintf(out, "|  %-*s", w, "Action");
    for (int c = 0; c < 8; c++) fprintf(out, " | %*s", c == 7 ? 12 : 11, cols[c]);
    fprintf(out, " |\n");
    rule(out, width);
    fprintf(out, "|  %-*s | %11s | %11s | %11s | %11s | %11s | %11s | %11.6f | %12.1f |\n", w,
            "Total (wall)", "-", "-", "-", "-", "-", "-", sec(wall), 100.0);
    rule(out, width);
    for (size_t i = 0; i < n; i++) {
        const action *a = rows[i].a;
        fprintf(out,
                "|  %-*s | %11zu | %11.6f | %11.6f | %11.6f | %11.6f | %11.6f | %11.6f | "
                "%12.1f |\n",
                w, a->key, a->n, sec(rows[i].total) / (double)a->n,
                sec(percentile(a->dur, a->n, 50)), sec(percentile(a->dur, a->n, 90)),
                sec(percentile(a->dur, a->n, 99)), sec(a->dur[a->n - 1]), sec(rows[i].total),
                pct((double)rows[i].total, (double)wall));
    }
    rule(out, width);
    free(rows);
}

/* Spans of one kind with calls, by total time (descending); the caller frees. */
static int cmp_span(const void *x, const void *y) {
    const span_stat *a = *(const span_stat *const *)x, *b = *(const span_stat *const *)y;
    if (a->ns != b->ns) return a->ns < b->ns ? 1 : -1;
    return strcmp(a->name, b->name);
}

static const span_stat **sorted_spans(const adv *p, bool data, size_t *n) {
    const span_stat **v = malloc((p->nspans ? p->nspans : 1) * sizeof *v);
    *n = 0;
    if (!v) return NULL;
    for (size_t i = 0; i < p->cap_spans; i++) {
        const span_stat *s = &p->spans[i];
        if (s->name && s->count && (strcmp(s->kind, "data") == 0) == data) v[(*n)++] = s;
    }
    qsort(v, *n, sizeof *v, cmp_span);
    return v;
}

static void print_op_row(FILE *out, int w, const char *name, uint64_t calls, uint64_t ns,
                         double flops, double bytes, double share) {
    double s = sec(ns), rate = s > 0.0 ? 1.0 / s : 0.0;
    fprintf(out, "|  %-*s | %11llu | %11.6f | %11.3f | %11.2f | %11.3f | %11.2f | %12.1f |\n", w,
            name, (unsigned long long)calls, s, flops * 1e-9, flops * 1e-9 * rate, bytes * 1e-9,
            bytes * 1e-9 * rate, share);
}

static void print_ops(const adv *p, FILE *out) {
    size_t n;
    const span_stat **v = sorted_spans(p, false, &n);
    if (!v || !n) {
        free(v);
        return;
    }
    span_stat all = {.name = "Total"};
    int w = 6;
    for (size_t i = 0; i < n; i++) {
        all.count += v[i]->count;
        all.ns += v[i]->ns;
        all.flops += v[i]->flops;
        all.bytes += v[i]->bytes;
        if ((int)strlen(v[i]->name) > w) w = (int)strlen(v[i]->name);
    }
    uint64_t wall = p->last_stop > p->first_start ? p->last_stop - p->first_start : 0;
    int width = w + 3 + 7 * 14 + 3;
    static const char *const cols[] = {"Calls", "Total (s)", "GFLOP",       "GFLOP/s",
                                       "GB",    "GB/s",      "Percentage %"};
    /* Device-timed ops (the accelerator's timer marks: cudaEvents) ran on the device;
     * the others were timed on the host around a call that waited for the device. */
    if (p->device_ops)
        fprintf(out,
                "\nOperations (device time on device %d's compute stream, from the accelerator's "
                "timer: %.6f s, %.1f %% of the stage's wall time)\n",
                p->device, sec(all.ns), pct((double)all.ns, (double)wall));
    else
        fprintf(out,
                "\nOperations (liblt per-op spans: %.6f s, %.1f %% of the stage's wall time)\n",
                sec(all.ns), pct((double)all.ns, (double)wall));
    rule(out, width);
    fprintf(out, "|  %-*s", w, "Op");
    for (int c = 0; c < 7; c++) fprintf(out, " | %*s", c == 6 ? 12 : 11, cols[c]);
    fprintf(out, " |\n");
    rule(out, width);
    print_op_row(out, w, all.name, all.count, all.ns, all.flops, all.bytes, 100.0);
    rule(out, width);
    for (size_t i = 0; i < n; i++)
        print_op_row(out, w, v[i]->name, v[i]->count, v[i]->ns, v[i]->flops, v[i]->bytes,
                     pct((double)v[i]->ns, (double)all.ns));
    rule(out, width);
    free(v);
}

/* One line per data span name; fills run on worker threads, so their time overlaps the
 * loop's and is not a share of the wall time. */
static void print_data(const adv *p, FILE *out) {
    size_t n;
    const span_stat **v = sorted_spans(p, true, &n);
    for (size_t i = 0; v && i < n; i++) {
        const span_stat *s = v[i];
        fprintf(out,
                "\nData loading (%s): %llu batches on %d thread%s, fill time %.6f s total, "
                "%.3f ms mean, %.3f GB written (%.2f GB/s per thread)\n",
                s->name, (unsigned long long)s->count, __builtin_popcountll(s->tids),
                __builtin_popcountll(s->tids) == 1 ? "" : "s", sec(s->ns),
                1e3 * sec(s->ns) / (double)s->count, s->bytes * 1e-9,
                s->ns ? s->bytes / (double)s->ns : 0.0);
    }
    free(v);
}

/* Forget what was recorded; open actions stay open (their stop lands in the next stage). */
static void reset(adv *p) {
    for (size_t i = 0; i < p->cap_acts; i++) p->acts[i].n = 0;
    for (size_t i = 0; i < p->cap_spans; i++) {
        span_stat *s = &p->spans[i];
        s->count = s->ns = s->tids = 0;
        s->flops = s->bytes = 0.0;
    }
    p->first_start = p->last_stop = 0;
    p->dropped = 0;
    p->device_ops = 0;
}

static void print_title(const adv *p, const char *stage, FILE *out) {
    for (const char *c = stage ? stage : "run"; *c; c++)
        fputc(*c >= 'a' && *c <= 'z' ? *c - 'a' + 'A' : *c, out);
    fprintf(out, " Advanced Profiler Report");
    if (p->world_size > 1) fprintf(out, " (rank %d)", p->rank);
    fprintf(out, "\n\n");
}

static lt_status adv_summary(void *st, const char *stage, FILE *out) {
    adv *p = st;
    pthread_mutex_lock(&p->mu);
    print_title(p, stage, out);
    print_actions(p, out);
    print_ops(p, out);
    print_data(p, out);
    if (p->dropped)
        fprintf(out, "\n%llu events were not recorded (out of memory)\n",
                (unsigned long long)p->dropped);
    reset(p);
    pthread_mutex_unlock(&p->mu);
    if (fflush(out) != 0 || ferror(out))
        return lt_set_error(LT_ERR_IO, "advanced profiler: cannot write the %s report",
                            stage ? stage : "run");
    return LT_OK;
}

static void adv_teardown(void *st) {
    adv *p = st;
    if (!p) return;
    for (size_t i = 0; i < p->cap_acts; i++) {
        free(p->acts[i].open);
        free(p->acts[i].dur);
    }
    for (size_t i = 0; i < p->cap_spans; i++) {
        free(p->spans[i].name);
        free(p->spans[i].kind);
    }
    free(p->acts);
    free(p->spans);
    pthread_mutex_destroy(&p->mu);
    free(p);
}

LT_PROFILER_EXPORT(.name = "advanced", .init = adv_init, .start = adv_start, .stop = adv_stop,
                   .span = adv_span, .summary = adv_summary, .teardown = adv_teardown)
