/* trace — every action and span as a Chrome trace-event JSON file, for Perfetto
 * (https://ui.perfetto.dev) and chrome://tracing:  --profiler trace.
 *
 * Actions (start/stop, on the loop thread) become complete ("X") events on tid 0; spans
 * (liblt's tensor ops and the loader's batch fills, from any thread) become "X" events
 * on their own tid with cat = span kind and args {"flops", "bytes"}; ops the accelerator
 * timed itself (tid < 0: cudaEvents on cuda) go to a process of their own, "GPU d" with
 * the thread "stream compute", at the times they ran on the device. Everything is kept
 * in memory until summary(), which sorts the events per thread and writes
 * <dirpath>/<stage>-<filename|trace>[-<rank>].json atomically (temp file + rename).
 *
 * Actions are stored by pointer (the host keeps them alive until teardown); span names
 * and kinds are only valid during the call, so they are interned once each. */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <lt/profiler.h>

/* ---- state ---------------------------------------------------------------------- */

typedef struct trace_event {
    const char *name; /* action pointer, or an interned span name */
    const char *cat;  /* "action", or an interned span kind */
    uint64_t start_ns, end_ns;
    double flops, bytes; /* written as args when is_span */
    size_t seq;          /* arrival order: ties sort stably */
    int tid;
    int is_span;
} trace_event;

typedef struct open_action {
    const char *action;
    uint64_t start_ns;
} open_action;

typedef struct trace_state {
    int rank, world_size;
    char *dirpath, *filename;

    /* the loop thread's open actions, innermost last (touched by start/stop only) */
    open_action *stack;
    size_t depth, stack_cap;

    pthread_mutex_t lock; /* guards everything below */
    trace_event *ev;
    size_t n, cap;
    size_t dropped; /* events lost to out-of-memory since the last summary */
    char **names;   /* interned strings: open addressing, power-of-two size */
    size_t names_n, names_cap;
} trace_state;

/* ---- interning (under lock) ----------------------------------------------------- */

static size_t hash_str(const char *s) {
    size_t h = 1469598103934665603u; /* FNV-1a */
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211u;
    return h;
}

static int names_grow(trace_state *t) {
    size_t cap = t->names_cap ? 2 * t->names_cap : 64;
    char **names = calloc(cap, sizeof *names);
    if (!names) return -1;
    for (size_t i = 0; i < t->names_cap; i++) {
        if (!t->names[i]) continue;
        size_t j = hash_str(t->names[i]) & (cap - 1);
        while (names[j]) j = (j + 1) & (cap - 1);
        names[j] = t->names[i];
    }
    free(t->names);
    t->names = names, t->names_cap = cap;
    return 0;
}

/* The one stored copy of s, or NULL when out of memory. */
static const char *intern(trace_state *t, const char *s) {
    if (2 * (t->names_n + 1) > t->names_cap && names_grow(t)) return NULL;
    size_t j = hash_str(s) & (t->names_cap - 1);
    for (; t->names[j]; j = (j + 1) & (t->names_cap - 1))
        if (strcmp(t->names[j], s) == 0) return t->names[j];
    if (!(t->names[j] = strdup(s))) return NULL;
    t->names_n++;
    return t->names[j];
}

/* ---- recording ------------------------------------------------------------------ */

/* Append e under the lock; an event that does not fit is counted, not recorded. */
static void record(trace_state *t, trace_event e, const char *name, const char *cat) {
    pthread_mutex_lock(&t->lock);
    if (e.is_span) name = intern(t, name), cat = intern(t, cat);
    if (t->n == t->cap) {
        size_t cap = t->cap ? 2 * t->cap : 4096;
        trace_event *ev = realloc(t->ev, cap * sizeof *ev);
        if (ev) t->ev = ev, t->cap = cap;
    }
    if (t->n < t->cap && name && cat) {
        e.name = name, e.cat = cat, e.seq = t->n;
        t->ev[t->n++] = e;
    } else {
        t->dropped++;
    }
    pthread_mutex_unlock(&t->lock);
}

static lt_status trace_init(const lt_profiler_opts *opts, void **state) {
    trace_state *t = calloc(1, sizeof *t);
    if (!t) return lt_set_error(LT_ERR_OOM, "trace profiler: out of memory");
    t->rank = opts->rank;
    t->world_size = opts->world_size;
    t->dirpath = strdup(opts->dirpath ? opts->dirpath : ".");
    t->filename = strdup(opts->filename ? opts->filename : "trace");
    if (!t->dirpath || !t->filename) {
        free(t->dirpath), free(t->filename), free(t);
        return lt_set_error(LT_ERR_OOM, "trace profiler: out of memory");
    }
    pthread_mutex_init(&t->lock, NULL);
    *state = t;
    return LT_OK;
}

static void trace_start(void *st, const char *action, uint64_t t_ns) {
    trace_state *t = st;
    if (t->depth == t->stack_cap) {
        size_t cap = t->stack_cap ? 2 * t->stack_cap : 16;
        open_action *s = realloc(t->stack, cap * sizeof *s);
        if (!s) { /* its stop will find nothing to close */
            pthread_mutex_lock(&t->lock);
            t->dropped++;
            pthread_mutex_unlock(&t->lock);
            return;
        }
        t->stack = s, t->stack_cap = cap;
    }
    t->stack[t->depth++] = (open_action){action, t_ns};
}

static void trace_stop(void *st, const char *action, uint64_t t_ns) {
    trace_state *t = st;
    size_t i = t->depth;
    while (i > 0 && t->stack[i - 1].action != action) i--; /* innermost match */
    if (i == 0) return;                                    /* stop without start */
    uint64_t start_ns = t->stack[i - 1].start_ns;
    memmove(&t->stack[i - 1], &t->stack[i], (t->depth - i) * sizeof *t->stack);
    t->depth--;
    record(t, (trace_event){.start_ns = start_ns, .end_ns = t_ns, .tid = 0}, action, "action");
}

static void trace_span(void *st, const lt_prof_span *s) {
    trace_event e = {.start_ns = s->start_ns,
                     .end_ns = s->end_ns,
                     .tid = s->tid,
                     .is_span = 1,
                     .flops = s->flops,
                     .bytes = s->bytes};
    record(st, e, s->name ? s->name : "span", s->kind ? s->kind : "span");
}

/* ---- writing -------------------------------------------------------------------- */

/* Per thread, by start; at equal starts the longer (outer) event first. */
static int event_cmp(const void *pa, const void *pb) {
    const trace_event *a = pa, *b = pb;
    if (a->tid != b->tid) return a->tid < b->tid ? -1 : 1;
    if (a->start_ns != b->start_ns) return a->start_ns < b->start_ns ? -1 : 1;
    if (a->end_ns != b->end_ns) return a->end_ns > b->end_ns ? -1 : 1;
    return a->seq < b->seq ? -1 : a->seq > b->seq;
}

/* s as a JSON string: quotes, backslashes and control characters escaped. */
static void put_json_str(FILE *f, const char *s) {
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c == '\n')
            fputs("\\n", f);
        else if (c == '\t')
            fputs("\\t", f);
        else if (c < 0x20 || c == 0x7f)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

static double finite_or_0(double x) { return isfinite(x) ? x : 0.0; }

static void put_meta(FILE *f, int pid, int tid, const char *what, const char *key, const char *str,
                     int num) {
    fprintf(f,
            ",\n{\"name\":\"%s\",\"ph\":\"M\",\"ts\":0,\"pid\":%d,\"tid\":%d,"
            "\"args\":{\"%s\":",
            what, pid, tid, key);
    if (str)
        put_json_str(f, str);
    else
        fprintf(f, "%d", num);
    fputs("}}", f);
}

/* Device-timed ops (tid < 0: device -1 - tid) get a process of their own, after the
 * ranks' host processes: device d of rank r is pid (d + 1) * world_size + r. */
static int device_pid(const trace_state *t, int tid) {
    return (LT_PROF_DEVICE_OF_TID(tid) + 1) * t->world_size + t->rank;
}

/* "GPU 0" / "stream compute": the track of one device's compute stream, whose spans are
 * where the accelerator's timer saw each op run, placed on the host clock. */
static void put_device_meta(FILE *f, const trace_state *t, int tid) {
    char name[48];
    int pid = device_pid(t, tid);
    snprintf(name, sizeof name, "GPU %d", LT_PROF_DEVICE_OF_TID(tid));
    put_meta(f, pid, 0, "process_name", "name", name, 0);
    put_meta(f, pid, 0, "process_sort_index", "sort_index", NULL, pid);
    put_meta(f, pid, 0, "thread_name", "name", "stream compute", 0);
}

static void put_thread_meta(FILE *f, int pid, int tid) {
    char name[48];
    if (tid == 0)
        snprintf(name, sizeof name, "loops");
    else
        snprintf(name, sizeof name, "loader worker %d", tid);
    put_meta(f, pid, tid, "thread_name", "name", name, 0);
    put_meta(f, pid, tid, "thread_sort_index", "sort_index", NULL, tid);
}

/* One complete ("X") event, ts relative to base; a device-timed op goes to its device's
 * process (tid 0 there). */
static void put_event(FILE *f, const trace_state *t, const trace_event *e, uint64_t base) {
    bool device = e->tid < 0;
    uint64_t dur = e->end_ns > e->start_ns ? e->end_ns - e->start_ns : 0;
    fputs(",\n{\"name\":", f);
    put_json_str(f, e->name);
    fputs(",\"cat\":", f);
    put_json_str(f, e->cat);
    fprintf(f, ",\"ph\":\"X\",\"ts\":%.3f,\"dur\":%.3f,\"pid\":%d,\"tid\":%d",
            (double)(e->start_ns - base) / 1e3, (double)dur / 1e3,
            device ? device_pid(t, e->tid) : t->rank, device ? 0 : e->tid);
    if (e->is_span)
        fprintf(f, ",\"args\":{\"flops\":%.17g,\"bytes\":%.17g}", finite_or_0(e->flops),
                finite_or_0(e->bytes));
    fputc('}', f);
}

/* The whole trace; events sorted, n > 0 or not. Returns ferror-style nonzero. */
static int write_trace(FILE *f, const trace_state *t) {
    int pid = t->rank;
    char pname[48];
    snprintf(pname, sizeof pname, "lthost rank %d", t->rank);
    uint64_t base = UINT64_MAX;
    bool named0 = false; /* tid 0 is always named, device tracks or not */
    for (size_t i = 0; i < t->n; i++) {
        if (t->ev[i].start_ns < base) base = t->ev[i].start_ns;
        named0 |= t->ev[i].tid == 0;
    }

    fprintf(f,
            "{\"traceEvents\":[\n{\"name\":\"process_name\",\"ph\":\"M\",\"ts\":0,"
            "\"pid\":%d,\"tid\":0,\"args\":{\"name\":",
            pid);
    put_json_str(f, pname);
    fputs("}}", f);
    if (!named0) put_thread_meta(f, pid, 0);
    for (size_t i = 0; i < t->n; i++) {
        const trace_event *e = &t->ev[i];
        if (i == 0 || e->tid != t->ev[i - 1].tid) {
            if (e->tid < 0)
                put_device_meta(f, t, e->tid);
            else
                put_thread_meta(f, pid, e->tid);
        }
        put_event(f, t, e, base);
    }
    fputs("\n],\n\"displayTimeUnit\":\"ms\"}\n", f);
    return ferror(f);
}

/* mkdir -p dir; errors surface when the file is opened. */
static void make_dirs(const char *dir) {
    char *p = strdup(dir);
    if (!p) return;
    for (char *s = p + 1; *s; s++)
        if (*s == '/') *s = '\0', mkdir(p, 0777), *s = '/';
    mkdir(p, 0777);
    free(p);
}

/* Write the sorted events to path through path.tmp; LT_OK or an error naming path. */
static lt_status write_file(const trace_state *t, const char *path) {
    char *tmp = NULL;
    if (asprintf(&tmp, "%s.tmp", path) < 0)
        return lt_set_error(LT_ERR_OOM, "trace profiler: out of memory");
    make_dirs(t->dirpath);
    FILE *f = fopen(tmp, "w");
    int err = f ? 0 : errno;
    if (f) {
        if (write_trace(f, t) || fflush(f) || fsync(fileno(f))) err = errno ? errno : EIO;
        if (fclose(f) && !err) err = errno;
        if (!err && rename(tmp, path)) err = errno;
        if (err) unlink(tmp);
    }
    free(tmp);
    if (err)
        return lt_set_error(LT_ERR_IO,
                            "trace profiler: cannot write %s: %s; check that "
                            "--profiler.dirpath is a writable folder",
                            path, strerror(err));
    return LT_OK;
}

static lt_status trace_summary(void *st, const char *stage, FILE *out) {
    trace_state *t = st;
    char *path = NULL;
    int len = t->world_size > 1
                  ? asprintf(&path, "%s/%s-%s-%d.json", t->dirpath, stage, t->filename, t->rank)
                  : asprintf(&path, "%s/%s-%s.json", t->dirpath, stage, t->filename);
    if (len < 0) return lt_set_error(LT_ERR_OOM, "trace profiler: out of memory");

    pthread_mutex_lock(&t->lock);
    qsort(t->ev, t->n, sizeof *t->ev, event_cmp);
    lt_status s = write_file(t, path);
    size_t n = t->n, dropped = t->dropped;
    t->n = 0, t->dropped = 0;
    pthread_mutex_unlock(&t->lock);

    if (s == LT_OK) {
        fprintf(out,
                "Trace written to %s (open it in https://ui.perfetto.dev or "
                "chrome://tracing)\n",
                path);
        if (dropped)
            fprintf(out, "trace profiler: %zu of %zu events dropped (out of memory)\n", dropped,
                    n + dropped);
    }
    free(path);
    return s;
}

static void trace_teardown(void *st) {
    trace_state *t = st;
    if (!t) return;
    for (size_t i = 0; i < t->names_cap; i++) free(t->names[i]);
    free(t->names);
    free(t->ev);
    free(t->stack);
    free(t->dirpath);
    free(t->filename);
    pthread_mutex_destroy(&t->lock);
    free(t);
}

LT_PROFILER_EXPORT(.name = "trace", .init = trace_init, .start = trace_start, .stop = trace_stop,
                   .span = trace_span, .summary = trace_summary, .teardown = trace_teardown)
