/* simple — Lightning's SimpleProfiler: the duration of every action, reported as its
 * "FIT Profiler Report" table (Action, Mean duration (s), Num calls, Total time (s),
 * Percentage %), byte for byte in Lightning's layout (tests/fixtures/
 * simple_profiler_report_fit_extended.txt). Durations are summed in integer
 * nanoseconds, so totals are exact. */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <lt/profiler.h>

typedef struct action {
    const char *name; /* the host's pointer: stable, and the table's key */
    uint64_t start_ns, total_ns;
    int64_t calls;
    int64_t order; /* when it first stopped: Lightning's sort keeps that order on ties */
    int running;
} action;

typedef struct simple {
    action *slots; /* open addressing on the name pointer; cap is a power of two */
    size_t cap, used;
    int64_t stops;
    uint64_t t0; /* start of the period the next report covers */
} simple;

static size_t slot_of(const simple *p, const char *name) {
    size_t h = ((uintptr_t)name >> 4) * 0x9E3779B97F4A7C15u, i = h & (p->cap - 1);
    while (p->slots[i].name && p->slots[i].name != name) i = (i + 1) & (p->cap - 1);
    return i;
}

static int grow(simple *p) {
    simple bigger = {.cap = p->cap ? 2 * p->cap : 256};
    if (!(bigger.slots = calloc(bigger.cap, sizeof *bigger.slots))) return -1;
    for (size_t i = 0; i < p->cap; i++)
        if (p->slots[i].name) bigger.slots[slot_of(&bigger, p->slots[i].name)] = p->slots[i];
    free(p->slots);
    p->slots = bigger.slots;
    p->cap = bigger.cap;
    return 0;
}

/* The entry of name, added when new; NULL only when out of memory. */
static action *find(simple *p, const char *name) {
    if (2 * (p->used + 1) > p->cap && grow(p) != 0) return NULL;
    action *a = &p->slots[slot_of(p, name)];
    if (!a->name) {
        a->name = name;
        a->order = -1;
        p->used++;
    }
    return a;
}

static lt_status init(const lt_profiler_opts *opts, void **state) {
    (void)opts;
    simple *p = calloc(1, sizeof *p);
    if (!p || grow(p) != 0) {
        free(p);
        return lt_set_error(LT_ERR_OOM, "simple profiler: out of host memory");
    }
    p->t0 = lt_prof_now_ns();
    *state = p;
    return LT_OK;
}

static void start(void *st, const char *name, uint64_t t) {
    action *a = find(st, name);
    if (a) {
        a->start_ns = t;
        a->running = 1;
    }
}

static void stop(void *st, const char *name, uint64_t t) {
    simple *p = st;
    action *a = find(p, name);
    if (!a || !a->running) return; /* a stop without a start is ignored */
    a->running = 0;
    a->total_ns += t - a->start_ns;
    a->calls++;
    if (a->order < 0) a->order = p->stops++;
}

/* Python's format(x, ".5"): 5 significant digits; fixed-point (with ".0" on integral
 * values) while that needs at most 5 digits, else exponent notation without trailing
 * zeros ("1e-05", "1.2345e+04"). */
static void py_format5(double x, char *out, size_t n) {
    char e[32];
    snprintf(e, sizeof e, "%.4e", x);
    char *mark = strchr(e, 'e');
    int exp = mark ? atoi(mark + 1) : 0;
    if (mark && (exp < -4 || exp >= 4)) {
        char *z = mark;
        while (z[-1] == '0') z--;
        if (z[-1] == '.') z--;
        memmove(z, mark, strlen(mark) + 1);
        snprintf(out, n, "%s", e);
        return;
    }
    snprintf(out, n, "%.5g", x);
    if (!strpbrk(out, ".einf")) strncat(out, ".0", n - strlen(out) - 1);
}

/* Columns after Python's str.expandtabs() (tab stops every 8). */
static size_t expanded_width(const char *s) {
    size_t col = 0;
    for (; *s; s++) col = *s == '\t' ? (col / 8 + 1) * 8 : col + 1;
    return col;
}

static void row(FILE *out, int key, const char *a, const char *mean, const char *calls,
                const char *total, const char *pct) {
    fprintf(out, "\n|  %-*s\t|  %-15s\t|  %-15s\t|  %-15s\t|  %-15s\t|", key, a, mean, calls, total,
            pct);
}

static int by_total_desc(const void *x, const void *y) {
    const action *a = *(action *const *)x, *b = *(action *const *)y;
    if (a->total_ns != b->total_ns) return a->total_ns < b->total_ns ? 1 : -1;
    return a->order < b->order ? -1 : a->order > b->order;
}

static void print_table(action **rows, size_t n, double total_s, FILE *out) {
    int key = 0;
    int64_t calls = 0;
    for (size_t i = 0; i < n; i++) {
        int len = (int)strlen(rows[i]->name);
        key = len > key ? len : key;
        calls += rows[i]->calls;
    }
    char header[1024], dashes[1024];
    snprintf(header, sizeof header, "|  %-*s\t|  %-15s\t|  %-15s\t|  %-15s\t|  %-15s\t|", key,
             "Action", "Mean duration (s)", "Num calls", "Total time (s)", "Percentage %");
    size_t w = expanded_width(header) + 1; /* Lightning measures it with its leading newline */
    if (w >= sizeof dashes) w = sizeof dashes - 1;
    memset(dashes, '-', w);
    dashes[w] = '\0';
    char mean[32], num[32], tot[32], pct[32];
    fprintf(out, "\n%s", dashes);
    row(out, key, "Action", "Mean duration (s)", "Num calls", "Total time (s)", "Percentage %");
    fprintf(out, "\n%s", dashes);
    snprintf(num, sizeof num, "%lld", (long long)calls);
    py_format5(total_s, tot, sizeof tot);
    row(out, key, "Total", "-", num, tot, "100 %");
    fprintf(out, "\n%s", dashes);
    for (size_t i = 0; i < n; i++) {
        double sum = (double)rows[i]->total_ns * 1e-9;
        py_format5(sum / (double)rows[i]->calls, mean, sizeof mean);
        snprintf(num, sizeof num, "%lld", (long long)rows[i]->calls);
        py_format5(sum, tot, sizeof tot);
        py_format5(100.0 * sum / total_s, pct, sizeof pct);
        row(out, key, rows[i]->name, mean, num, tot, pct);
    }
    fprintf(out, "\n%s", dashes);
}

/* The report of everything since the previous one, then a fresh start. */
static lt_status summary(void *st, const char *stage, FILE *out) {
    simple *p = st;
    uint64_t now = lt_prof_now_ns();
    action **rows = calloc(p->used ? p->used : 1, sizeof *rows);
    if (!rows) return lt_set_error(LT_ERR_OOM, "simple profiler: out of host memory");
    size_t n = 0;
    for (size_t i = 0; i < p->cap; i++)
        if (p->slots[i].name && p->slots[i].calls) rows[n++] = &p->slots[i];
    qsort(rows, n, sizeof *rows, by_total_desc);
    for (const char *c = stage; *c; c++) fputc(toupper((unsigned char)*c), out);
    fputs(" Profiler Report\n", out);
    if (n) print_table(rows, n, (double)(now - p->t0) * 1e-9, out);
    fputc('\n', out);
    free(rows);
    for (size_t i = 0; i < p->cap; i++) /* running actions carry over */
        if (p->slots[i].name)
            p->slots[i].total_ns = 0, p->slots[i].calls = 0, p->slots[i].order = -1;
    p->stops = 0;
    p->t0 = now;
    return LT_OK;
}

static void teardown(void *st) {
    simple *p = st;
    free(p->slots);
    free(p);
}

LT_PROFILER_EXPORT(.name = "simple", .init = init, .start = start, .stop = stop, .summary = summary,
                   .teardown = teardown);
