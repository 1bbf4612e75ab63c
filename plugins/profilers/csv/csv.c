/* csv — the smallest useful profiler: one CSV row per finished action.
 *
 *   lthost fit --module mlp --profiler csv --profiler.dirpath out --profiler.filename prof
 *
 * writes out/prof.csv, a row each time an action stops (start_s counts from the first
 * action):
 *
 *   stage,action,start_s,duration_s
 *   fit,"[LightningDataModule]fashion_mnist.setup",0.000000,0.118185
 *   ...
 *   fit,"run_training_epoch",0.122713,0.050674
 *
 * It is the example walked through in docs/custom-profiler.md. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <lt/profiler.h>

enum { MAX_DEPTH = 64 }; /* deeper actions are not recorded */

typedef struct row {
    const char *action; /* the host's pointer: valid until teardown, no copy needed */
    uint64_t start_ns, end_ns;
} row;

typedef struct csv_state {
    FILE *f;
    char path[4096];
    uint64_t t0;         /* start of the first action: start_s is relative to it */
    row open[MAX_DEPTH]; /* actions started and not yet stopped, innermost last */
    int depth;
    row *done; /* finished actions since the last summary */
    size_t n, cap;
} csv_state;

static lt_status csv_init(const lt_profiler_opts *opts, void **state) {
    csv_state *c = calloc(1, sizeof *c);
    if (!c) return lt_set_error(LT_ERR_OOM, "csv profiler: out of memory");
    const char *dir = opts->dirpath ? opts->dirpath : ".";
    const char *name = opts->filename ? opts->filename : "profile";
    if (opts->world_size > 1) /* one file per rank */
        snprintf(c->path, sizeof c->path, "%s/%s-%d.csv", dir, name, opts->rank);
    else
        snprintf(c->path, sizeof c->path, "%s/%s.csv", dir, name);
    mkdir(dir, 0777); /* as Lightning does; if it fails, fopen says why */
    c->f = fopen(c->path, "w");
    if (!c->f) {
        lt_status s =
            lt_set_error(LT_ERR_IO, "csv profiler: cannot open %s: %s", c->path, strerror(errno));
        free(c);
        return s;
    }
    fputs("stage,action,start_s,duration_s\n", c->f);
    *state = c;
    return LT_OK;
}

/* start and stop come from the loop thread only, so no lock is needed here. */
static void csv_start(void *st, const char *action, uint64_t t_ns) {
    csv_state *c = st;
    if (c->t0 == 0) c->t0 = t_ns; /* the first action ever */
    if (c->depth < MAX_DEPTH) c->open[c->depth++] = (row){action, t_ns, 0};
}

static void csv_stop(void *st, const char *action, uint64_t t_ns) {
    csv_state *c = st;
    /* Actions nest, so the one stopping is the innermost open one: compare pointers. */
    if (c->depth == 0 || c->open[c->depth - 1].action != action) return;
    row r = c->open[--c->depth];
    r.end_ns = t_ns;
    if (c->n == c->cap) {
        size_t cap = c->cap ? 2 * c->cap : 1024;
        row *done = realloc(c->done, cap * sizeof *done);
        if (!done) return; /* out of memory: lose this row, keep profiling */
        c->done = done, c->cap = cap;
    }
    c->done[c->n++] = r;
}

/* Some action names hold commas ("[Callback]ModelCheckpoint{monitor=,mode=min,...}"),
 * so every name is quoted, with its quotes doubled, to stay one CSV field. */
static void put_field(FILE *f, const char *s) {
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"') fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

static lt_status csv_summary(void *st, const char *stage, FILE *out) {
    csv_state *c = st;
    for (size_t i = 0; i < c->n; i++) {
        const row *r = &c->done[i];
        fprintf(c->f, "%s,", stage);
        put_field(c->f, r->action);
        fprintf(c->f, ",%.6f,%.6f\n", (double)(r->start_ns - c->t0) / 1e9,
                (double)(r->end_ns - r->start_ns) / 1e9);
    }
    if (fflush(c->f) || ferror(c->f))
        return lt_set_error(LT_ERR_IO, "csv profiler: cannot write %s: %s", c->path,
                            strerror(errno));
    fprintf(out, "%zu actions written to %s\n", c->n, c->path);
    c->n = 0;
    return LT_OK;
}

static void csv_teardown(void *st) {
    csv_state *c = st;
    fclose(c->f);
    free(c->done);
    free(c);
}

LT_PROFILER_EXPORT(.name = "csv", .init = csv_init, .start = csv_start, .stop = csv_stop,
                   .summary = csv_summary, .teardown = csv_teardown)
