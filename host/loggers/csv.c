/* Lightning's CSVLogger (lightning/fabric/loggers/csv_logs.py, _ExperimentWriter) in C.
 *
 * Each log call is one row {metric: value, "step": step}; rows wait in memory until a
 * save. A save merges the rows' keys into the header (sorted), and when that brings new
 * columns to a file that already exists, rewrites the file under the new header first —
 * Lightning re-reads it with csv.DictReader and writes it back with csv.DictWriter, so
 * old rows get empty cells in the new columns. Text is Python's: repr() of floats, str()
 * of ints, the excel dialect (",", '"' quoting when needed, "\r\n" line ends). */
#define LOGGERS_IMPL
#include "loggers.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Lightning's flush_logs_every_n_steps default: a save when (step + 1) % 100 == 0. */
enum { CSV_FLUSH_EVERY = 100 };

/* ---- Python's repr(float) ---- */

/* The digits and decimal exponent of the shortest %e text that reads back as v: glibc
 * rounds correctly, so the first precision that round-trips gives Python's digits (short
 * of a rare tie at a power of two, where Python may pick the neighbour one digit shorter). */
static int shortest_digits(double v, char *digits) {
    char sci[40];
    for (int p = 0; p < 17; p++) {
        snprintf(sci, sizeof sci, "%.*e", p, v);
        if (strtod(sci, NULL) == v) break;
    }
    int nd = 0;
    const char *s = sci + (sci[0] == '-');
    for (; *s != 'e'; s++)
        if (*s != '.') digits[nd++] = *s;
    while (nd > 1 && digits[nd - 1] == '0') nd--;
    digits[nd] = '\0';
    return atoi(s + 1);
}

static char *put_zeros(char *o, int n) {
    for (int i = 0; i < n; i++) *o++ = '0';
    *o = '\0';
    return o;
}

/* float_repr_style "short": exponent form below 1e-4 and from 1e16 on, else plain with at
 * least one decimal ("2.0"); exponents have a sign and two digits or more ("1e-05"). */
char *logs__float_repr(double v, char *buf) {
    if (isnan(v)) return strcpy(buf, "nan");
    if (isinf(v)) return strcpy(buf, v < 0 ? "-inf" : "inf");
    char d[24];
    int e = shortest_digits(v, d), nd = (int)strlen(d), whole = e + 1;
    char *o = buf;
    if (signbit(v)) *o++ = '-';
    if (e < -4 || e >= 16) {
        sprintf(o, "%c%s%se%c%02d", d[0], nd > 1 ? "." : "", d + 1, e < 0 ? '-' : '+', abs(e));
    } else if (e < 0) {
        strcpy(put_zeros(stpcpy(o, "0."), -e - 1), d);
    } else if (nd <= whole) {
        strcpy(put_zeros(stpcpy(o, d), whole - nd), ".0");
    } else {
        sprintf(o, "%.*s.%s", whole, d, d + whole);
    }
    return buf;
}

/* ---- the logger ---- */

typedef struct {
    char *name;
    char text[32];
} csv_cell; /* text: a repr, 24 chars at most */
typedef struct {
    csv_cell *cells;
    int n;
} csv_row;

typedef struct {
    logger base;
    char *path;  /* dir/metrics.csv */
    char **keys; /* the header: every key saved so far, sorted */
    int nkeys;
    csv_row *rows; /* logged, not yet saved */
    int nrows, cap;
    int64_t flush_every; /* flush_logs_every_n_steps */
} csv_logger;

static void free_row(csv_row *r) {
    for (int i = 0; i < r->n; i++) free(r->cells[i].name);
    free(r->cells);
}

static void free_rows(csv_logger *c) {
    for (int i = 0; i < c->nrows; i++) free_row(&c->rows[i]);
    c->nrows = 0;
}

static void csv_free(logger *lg) {
    csv_logger *c = (csv_logger *)lg;
    free_rows(c);
    free(c->rows);
    for (int i = 0; i < c->nkeys; i++) free(c->keys[i]);
    free(c->keys);
    free(c->path);
    free(c);
}

/* A row cell named name: the existing one (a dict keeps one value per key), else a new one. */
static csv_cell *row_cell(csv_row *r, const char *name) {
    for (int i = 0; i < r->n; i++)
        if (strcmp(r->cells[i].name, name) == 0) return &r->cells[i];
    csv_cell *cell = &r->cells[r->n];
    cell->name = strdup(name);
    if (!cell->name) return NULL;
    r->n++;
    return cell;
}

/* Lightning logs the epoch as a Python int ("0"), every other metric as a float ("0.5"). */
static void cell_text(char *text, size_t n, const char *name, double v) {
    if (strcmp(name, "epoch") == 0 && v == floor(v) && fabs(v) < 1e15)
        snprintf(text, n, "%lld", (long long)v);
    else
        logs__float_repr(v, text);
}

/* The row {metrics..., "step": step}: Lightning sets "step" last, over any metric of that name. */
static bool build_row(csv_row *r, const metric_kv *m, int n, int64_t step) {
    r->n = 0;
    r->cells = malloc((size_t)(n + 1) * sizeof *r->cells);
    if (!r->cells) return false;
    for (int i = 0; i <= n; i++) {
        const char *name = i < n ? m[i].name : "step";
        if (i < n && strcmp(name, "step") == 0) continue;
        csv_cell *cell = row_cell(r, name);
        if (!cell) return false;
        if (i == n)
            snprintf(cell->text, sizeof cell->text, "%lld", (long long)step);
        else
            cell_text(cell->text, sizeof cell->text, name, m[i].value);
    }
    return true;
}

static bool csv_save(csv_logger *c, char *err, size_t errn);

static bool csv_log(logger *lg, const metric_kv *m, int n, int64_t step, char *err, size_t errn) {
    csv_logger *c = (csv_logger *)lg;
    if (c->nrows == c->cap) {
        int cap = c->cap ? 2 * c->cap : 16;
        csv_row *rows = realloc(c->rows, (size_t)cap * sizeof *rows);
        if (!rows) goto oom;
        c->rows = rows;
        c->cap = cap;
    }
    csv_row *r = &c->rows[c->nrows];
    if (!build_row(r, m, n, step)) {
        free_row(r);
        goto oom;
    }
    c->nrows++;
    return (step + 1) % c->flush_every != 0 || csv_save(c, err, errn);
oom:
    logs__err(err, errn, "%s: out of memory buffering a row", c->path);
    return false;
}

/* ---- the header ---- */

static int key_cmp(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The header slot of name, or NULL (bsearch must not see the NULL of an empty header). */
static char **find_key(const csv_logger *c, const char *name) {
    return c->nkeys ? bsearch(&name, c->keys, (size_t)c->nkeys, sizeof *c->keys, key_cmp) : NULL;
}

static bool has_key(const csv_logger *c, const char *name) { return find_key(c, name) != NULL; }

/* Adds key to the sorted header (new keys are rare: a realloc each is fine). */
static bool add_key(csv_logger *c, const char *name) {
    char **keys = realloc(c->keys, (size_t)(c->nkeys + 1) * sizeof *keys);
    if (!keys) return false;
    c->keys = keys;
    if (!(c->keys[c->nkeys] = strdup(name))) return false;
    c->nkeys++;
    qsort(c->keys, (size_t)c->nkeys, sizeof *c->keys, key_cmp);
    return true;
}

/* Adds the pending rows' new keys to the header; *added says whether there were any. */
static bool merge_keys(csv_logger *c, bool *added) {
    int old = c->nkeys;
    for (int i = 0; i < c->nrows; i++) {
        for (int j = 0; j < c->rows[i].n; j++) {
            const char *name = c->rows[i].cells[j].name;
            if (!has_key(c, name) && !add_key(c, name)) return false;
        }
    }
    *added = c->nkeys > old;
    return true;
}

/* ---- writing: the excel dialect ---- */

static void put_field(FILE *f, const char *s, bool first) {
    if (!first) fputc(',', f);
    if (!strpbrk(s, ",\"\r\n")) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"') fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

static void put_header(FILE *f, char *const *keys, int n) {
    for (int i = 0; i < n; i++) put_field(f, keys[i], i == 0);
    fputs("\r\n", f);
}

static const char *row_text(const csv_row *r, const char *key) {
    for (int i = 0; i < r->n; i++)
        if (strcmp(r->cells[i].name, key) == 0) return r->cells[i].text;
    return "";
}

static void put_row(FILE *f, const csv_logger *c, const csv_row *r) {
    for (int k = 0; k < c->nkeys; k++) put_field(f, row_text(r, c->keys[k]), k == 0);
    fputs("\r\n", f);
}

/* fclose that reports the first error of the stream's life (ENOSPC shows up here). */
static bool close_checked(FILE *f, const char *path, char *err, size_t errn) {
    bool bad = ferror(f);
    if (fclose(f) != 0 || bad) {
        logs__err(err, errn, "cannot write %s: %s", path, strerror(errno ? errno : EIO));
        return false;
    }
    return true;
}

/* ---- the rewrite under a new header: a csv.DictReader of the old file ---- */

typedef struct {
    char *buf; /* the fields, each ending in '\0' */
    size_t len, cap;
    size_t *start; /* where field i begins in buf */
    int n, ncap;
} record;

static bool rec_put(record *r, char ch) {
    if (r->len == r->cap) {
        size_t cap = r->cap ? 2 * r->cap : 256;
        char *b = realloc(r->buf, cap);
        if (!b) return false;
        r->buf = b;
        r->cap = cap;
    }
    r->buf[r->len++] = ch;
    return true;
}

static bool rec_field(record *r) {
    if (r->n == r->ncap) {
        int cap = r->ncap ? 2 * r->ncap : 16;
        size_t *s = realloc(r->start, (size_t)cap * sizeof *s);
        if (!s) return false;
        r->start = s;
        r->ncap = cap;
    }
    r->start[r->n++] = r->len;
    return true;
}

/* The end of an unquoted stretch: a line end ("\r\n", "\n" or "\r") or end of file. */
static bool at_line_end(FILE *f, int ch) {
    if (ch == '\r') {
        int next = getc(f);
        if (next != '\n' && next != EOF) ungetc(next, f);
    }
    return ch == '\r' || ch == '\n' || ch == EOF;
}

/* One record into r (r->n fields; none for a blank line): 1, or 0 at end of file, -1 out of memory. */
static int read_record(FILE *f, record *r) {
    r->n = 0;
    r->len = 0;
    int ch = getc(f);
    if (ch == EOF) return 0;
    if (at_line_end(f, ch)) return 1;
    bool quoted = false, ok = rec_field(r);
    for (; ok; ch = getc(f)) {
        if (quoted && ch == '"') {
            ch = getc(f);
            quoted = ch == '"'; /* "" is a quote; anything else ends the quoting */
            if (quoted) {
                ok = rec_put(r, '"');
                continue;
            }
        }
        if (quoted && ch != EOF)
            ok = rec_put(r, (char)ch);
        else if (at_line_end(f, ch))
            break;
        else if (ch == ',')
            ok = rec_put(r, '\0') && rec_field(r);
        else if (ch == '"' && r->len == r->start[r->n - 1])
            quoted = true;
        else
            ok = rec_put(r, (char)ch);
    }
    return ok && rec_put(r, '\0') ? 1 : -1;
}

static int key_index(const csv_logger *c, const char *name) {
    char **hit = find_key(c, name);
    return hit ? (int)(hit - c->keys) : -1;
}

/* Old header -> columns of the new one; fails on a name the new header lacks, as
 * DictWriter would. map has nkeys slots; -1 marks a new column. */
static bool map_header(const csv_logger *c, const record *hdr, int *map, char *err, size_t errn) {
    for (int k = 0; k < c->nkeys; k++) map[k] = -1;
    for (int i = 0; i < hdr->n; i++) {
        int k = key_index(c, hdr->buf + hdr->start[i]);
        if (k < 0) {
            logs__err(err, errn, "%s: column '%s' is not in the header", c->path,
                      hdr->buf + hdr->start[i]);
            return false;
        }
        map[k] = i;
    }
    return true;
}

/* Copies the rows of in to out under the new header (map from map_header). */
static bool copy_rows(const csv_logger *c, FILE *in, FILE *out, const int *map, record *r) {
    int got;
    while ((got = read_record(in, r)) > 0) {
        if (r->n == 0) continue; /* DictReader skips blank lines */
        for (int k = 0; k < c->nkeys; k++) {
            bool have = map[k] >= 0 && map[k] < r->n;
            put_field(out, have ? r->buf + r->start[map[k]] : "", k == 0);
        }
        fputs("\r\n", out);
    }
    return got == 0 && !ferror(in);
}

/* Old rows under the new header, into tmp. */
static bool rewrite_into(const csv_logger *c, FILE *in, FILE *out, int *map, char *err,
                         size_t errn) {
    record r = {0};
    bool ok = read_record(in, &r) >= 0;
    if (!ok) logs__err(err, errn, "cannot rewrite %s: out of memory", c->path);
    if (ok) ok = map_header(c, &r, map, err, errn);
    if (ok) {
        put_header(out, c->keys, c->nkeys);
        ok = copy_rows(c, in, out, map, &r);
        if (!ok) logs__err(err, errn, "cannot read %s back to rewrite it", c->path);
    }
    free(r.buf);
    free(r.start);
    return ok;
}

/* Writes path.tmp under the new header and renames it over path: a crash leaves either
 * the old file or the new one, never half of each. */
static bool rewrite(csv_logger *c, char *err, size_t errn) {
    char *tmp = malloc(strlen(c->path) + sizeof ".tmp");
    int *map = malloc((size_t)c->nkeys * sizeof *map);
    FILE *in = NULL, *out = NULL;
    bool ok = false;
    if (tmp) sprintf(tmp, "%s.tmp", c->path);
    if (!tmp || !map)
        logs__err(err, errn, "cannot rewrite %s: out of memory", c->path);
    else if (!(in = fopen(c->path, "rb")))
        logs__err(err, errn, "cannot read %s: %s", c->path, strerror(errno));
    else if (!(out = fopen(tmp, "wb")))
        logs__err(err, errn, "cannot create %s: %s", tmp, strerror(errno));
    else
        ok = rewrite_into(c, in, out, map, err, errn);
    if (out && !close_checked(out, tmp, ok ? err : NULL, errn)) ok = false;
    if (in) fclose(in);
    if (ok && rename(tmp, c->path) != 0) {
        logs__err(err, errn, "cannot replace %s: %s", c->path, strerror(errno));
        ok = false;
    }
    if (!ok && out) unlink(tmp);
    free(tmp);
    free(map);
    return ok;
}

/* ---- save: Lightning's _ExperimentWriter.save ---- */

static bool csv_save(csv_logger *c, char *err, size_t errn) {
    if (c->nrows == 0) return true;
    bool added;
    if (!merge_keys(c, &added)) {
        logs__err(err, errn, "%s: out of memory merging the header", c->path);
        return false;
    }
    struct stat st;
    bool exists = stat(c->path, &st) == 0 && S_ISREG(st.st_mode);
    if (added && exists && !rewrite(c, err, errn)) return false;
    FILE *f = fopen(c->path, exists ? "ab" : "wb");
    if (!f) {
        logs__err(err, errn, "cannot open %s: %s", c->path, strerror(errno));
        return false;
    }
    if (!exists) put_header(f, c->keys, c->nkeys);
    for (int i = 0; i < c->nrows; i++) put_row(f, c, &c->rows[i]);
    if (!close_checked(f, c->path, err, errn)) return false;
    free_rows(c);
    return true;
}

static bool csv_flush(logger *lg, char *err, size_t errn) {
    return csv_save((csv_logger *)lg, err, errn);
}

static const struct logger_ops csv_ops = {
    /* .name  = */ "csv",
    /* .log   = */ csv_log,
    /* .flush = */ csv_flush,
    /* .free  = */ csv_free,
    /* .log_image = */ NULL, /* metrics.csv holds no images */
};

/* Like Lightning, an old metrics.csv in dir goes now: this run's rows replace it. */
logger *csv_logger_open(const char *dir, char *err, size_t errn) {
    struct stat st;
    if (!dir || stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        logs__err(err, errn, "CSV logger: %s is not a directory", dir ? dir : "(null)");
        return NULL;
    }
    csv_logger *c = calloc(1, sizeof *c);
    if (c && (c->path = malloc(strlen(dir) + sizeof "/metrics.csv")) != NULL)
        sprintf(c->path, "%s/metrics.csv", dir);
    if (!c || !c->path) {
        logs__err(err, errn, "CSV logger for %s: out of memory", dir);
        free(c);
        return NULL;
    }
    c->base.ops = &csv_ops;
    c->flush_every = CSV_FLUSH_EVERY;
    if (unlink(c->path) != 0 && errno != ENOENT) {
        logs__err(err, errn, "cannot remove the old %s: %s", c->path, strerror(errno));
        csv_free(&c->base);
        return NULL;
    }
    return &c->base;
}

bool csv_logger_set_flush_every(logger *lg, int64_t n) {
    if (!lg || lg->ops != &csv_ops || n < 1) return false;
    ((csv_logger *)lg)->flush_every = n;
    return true;
}
