/* csv — a table of numbers as a DataModule: every column but the target is a float32
 * feature, the target column is a class index (int64) or a regression value (float32).
 * Train, val and test come from their own files or from a seeded split of the training
 * file. The files are untrusted: cells, columns and rows are bounded, and a bad cell is
 * one error naming file:line:column and the fix. */
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/datamodule.h"

#define CSV_MAX_COLUMNS 65536
#define CSV_MAX_CELL 255                 /* characters of one cell, spaces and quotes included */
#define CSV_MAX_CLASS ((int64_t)1 << 24) /* class indices must be below this */

static const lt_hparam_desc csv_hparams[] = {
    LT_HPARAM_STR("train", "", "CSV file to train on (and to split val/test from)"),
    LT_HPARAM_STR("val", "",
                  "CSV file to validate on (empty: --data.val_fraction of train); several, "
                  "comma-separated: one val dataloader each"),
    LT_HPARAM_STR("test", "",
                  "CSV file to test on (empty: --data.test_fraction of train); several, "
                  "comma-separated: one test dataloader each"),
    LT_HPARAM_STR("target", "-1",
                  "target column: its header name or index (negative counts from the end)"),
    LT_HPARAM_CHOICE("task", "classification", "classification|regression",
                     "classification: the target is a class index 0, 1, ... (int64); "
                     "regression: a number (float32)"),
    LT_HPARAM_CHOICE("header", "auto", "auto|true|false",
                     "is the first line column names? auto: yes if any of its cells is not a "
                     "number"),
    LT_HPARAM_STR("delimiter", ",", "the character between cells (\\t or tab for a tab)"),
    DM_LOADER_HPARAMS,
    DM_SPLIT_HPARAMS,
    LT_HPARAM_END,
};

/* One file's samples: features (rows, features) and targets (rows). */
/* What every file must agree on, fixed by the training file. */
typedef struct csv_layout {
    int64_t columns; /* cells per row */
    int64_t target;  /* the target's column */
    bool classify;
    char delim;
} csv_layout;

typedef struct csv_table {
    float *x;
    void *y; /* int64 class indices or float32 values */
    int64_t rows;
    const csv_layout *layout;
} csv_table;

typedef struct {
    csv_table table[DM_PARTS]; /* train, val, test files; val/test unused when split */
    csv_table more[DM_PARTS][LT_MAX_DATALOADERS - 1]; /* val/test files 2.. */
    dm_splits splits;
    csv_layout layout;
} csv_t;

/* ---- cells --------------------------------------------------------------------------- */

typedef struct cell {
    const char *p;
    size_t n;
} cell;

/* The reader of one file: the current line, cut into cells. */
typedef struct csv_reader {
    const char *path, *p, *end;
    const char *line_start; /* of the current line */
    int64_t line;           /* its 1-based number */
    char delim;
    cell *cells; /* CSV_MAX_COLUMNS + 1 */
    int64_t ncells;
} csv_reader;

static int64_t column_of(const csv_reader *r, const cell *c) {
    return (int64_t)(c->p - r->line_start) + 1;
}

/* The next line that is not blank (pandas' skip_blank_lines), without its \r\n; false at
 * the end of the file. */
static bool next_line(csv_reader *r, const char **le) {
    while (r->p < r->end) {
        const char *s = r->p, *nl = memchr(s, '\n', (size_t)(r->end - s));
        const char *e = nl ? nl : r->end;
        r->p = nl ? nl + 1 : r->end;
        r->line++;
        if (e > s && e[-1] == '\r') e--;
        if (e == s) continue;
        r->line_start = s;
        *le = e;
        return true;
    }
    return false;
}

/* Cut the current line at the delimiter; more than CSV_MAX_COLUMNS cells is an error. */
static lt_status split_line(csv_reader *r, const char *le) {
    const char *s = r->line_start;
    r->ncells = 0;
    for (;;) {
        const char *d = memchr(s, r->delim, (size_t)(le - s));
        const char *e = d ? d : le;
        if (r->ncells == CSV_MAX_COLUMNS)
            return lt_set_error(LT_ERR_FORMAT,
                                "%s:%lld:%lld: more than %d columns; a CSV row may have at most "
                                "%d (is --data.delimiter right?)",
                                r->path, (long long)r->line, (long long)(s - r->line_start) + 1,
                                CSV_MAX_COLUMNS, CSV_MAX_COLUMNS);
        r->cells[r->ncells++] = (cell){s, (size_t)(e - s)};
        if (!d) return LT_OK;
        s = d + 1;
    }
}

/* A cell's text without surrounding spaces and one pair of double quotes, copied into
 * buf (CSV_MAX_CELL + 1 bytes); false when it is too long. */
static bool cell_text(cell c, char *buf) {
    while (c.n && (*c.p == ' ' || *c.p == '\t')) c.p++, c.n--;
    while (c.n && (c.p[c.n - 1] == ' ' || c.p[c.n - 1] == '\t')) c.n--;
    if (c.n >= 2 && c.p[0] == '"' && c.p[c.n - 1] == '"') c.p++, c.n -= 2;
    if (c.n > CSV_MAX_CELL) return false;
    memcpy(buf, c.p, c.n);
    buf[c.n] = '\0';
    return true;
}

/* A finite decimal number filling the whole cell (no hex, inf or nan). */
static bool parse_number(const char *s, double *v) {
    if (!*s || strpbrk(s, "xXnN")) return false; /* hex, inf, nan */
    char *end;
    errno = 0;
    *v = strtod(s, &end);
    return *end == '\0' && errno != ERANGE && isfinite(*v);
}

static lt_status bad_cell(const csv_reader *r, const cell *c, const char *text, const char *why) {
    return lt_set_error(LT_ERR_FORMAT, "%s:%lld:%lld: the cell '%.40s' %s", r->path,
                        (long long)r->line, (long long)column_of(r, c), text, why);
}

/* The common case without a copy or strtod: [-+]digits[.digits] with at most 19
 * significant digits and 22 decimals, an integer mantissa scaled by an exact power of ten
 * (Clinger's fast path: both operands are exact doubles, so the one division or
 * multiplication rounds correctly, the same double strtod returns). False: use strtod. */
static bool fast_number(const char *p, size_t n, double *v) {
    static const double pow10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                   1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                   1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
    const char *end = p + n;
    bool neg = p < end && *p == '-';
    p += p < end && (*p == '-' || *p == '+');
    uint64_t m = 0;
    int digits = 0, decimals = -1;
    for (; p < end; p++) {
        if (*p == '.' && decimals < 0) {
            decimals = 0;
            continue;
        }
        if (*p < '0' || *p > '9' || ++digits > 19) return false;
        m = m * 10 + (uint64_t)(*p - '0');
        decimals += decimals >= 0;
    }
    if (digits == 0 || decimals > 22 || m > ((uint64_t)1 << 53)) return false;
    *v = (double)m / pow10[decimals > 0 ? decimals : 0];
    if (neg) *v = -*v;
    return true;
}

static lt_status cell_number(const csv_reader *r, const cell *c, double *v) {
    cell t = *c;
    while (t.n && (*t.p == ' ' || *t.p == '\t')) t.p++, t.n--;
    while (t.n && (t.p[t.n - 1] == ' ' || t.p[t.n - 1] == '\t')) t.n--;
    if (t.n <= CSV_MAX_CELL && fast_number(t.p, t.n, v)) return LT_OK;
    char buf[CSV_MAX_CELL + 1];
    if (!cell_text(*c, buf))
        return lt_set_error(LT_ERR_FORMAT,
                            "%s:%lld:%lld: a cell of %zu characters; cells hold one number of "
                            "at most %d characters (is --data.delimiter right?)",
                            r->path, (long long)r->line, (long long)column_of(r, c), c->n,
                            CSV_MAX_CELL);
    if (memchr(c->p, '\0', c->n)) /* strtod would stop there and read "2\0junk" as 2 */
        return bad_cell(r, c, buf,
                        "holds a NUL byte; the file is binary or damaged (save it again as "
                        "text)");
    if (!buf[0]) return bad_cell(r, c, buf, "is empty; fill missing values before training");
    if (!parse_number(buf, v))
        return bad_cell(r, c, buf,
                        "is not a finite number; every column must be numeric (encode "
                        "categories as numbers, fill missing values)");
    return LT_OK;
}

static bool line_is_numeric(const csv_reader *r) {
    char buf[CSV_MAX_CELL + 1];
    double v;
    for (int64_t i = 0; i < r->ncells; i++)
        if (!cell_text(r->cells[i], buf) || !parse_number(buf, &v)) return false;
    return true;
}

/* ---- the layout: columns, header, target ---------------------------------------------- */

static lt_status parse_delim(const char *s, char *out) {
    if (!strcmp(s, "\\t") || !strcmp(s, "tab")) s = "\t";
    if (strlen(s) != 1 || strchr("\"\r\n.-+0123456789eE ", s[0]))
        return lt_set_error(LT_ERR_INVALID_ARG,
                            "--data.delimiter '%s' must be one character that cannot be part of "
                            "a number (such as , ; | or tab)",
                            s);
    *out = s[0];
    return LT_OK;
}

/* --data.target as a column: an integer index, else a header name. */
static lt_status resolve_target(const csv_reader *r, bool header, const char *target,
                                int64_t *out) {
    char *end, buf[CSV_MAX_CELL + 1];
    long long i = strtoll(target, &end, 10);
    if (*target && !*end) {
        if (i < -r->ncells || i >= r->ncells)
            return lt_set_error(LT_ERR_INVALID_ARG,
                                "--data.target %lld: %s has %lld columns, so the index must be "
                                "in [%lld, %lld]",
                                i, r->path, (long long)r->ncells, -(long long)r->ncells,
                                (long long)r->ncells - 1);
        *out = i < 0 ? r->ncells + i : i;
        return LT_OK;
    }
    for (int64_t c = 0; header && c < r->ncells; c++)
        if (cell_text(r->cells[c], buf) && !strcmp(buf, target)) return *out = c, LT_OK;
    return lt_set_error(LT_ERR_INVALID_ARG,
                        "--data.target '%s' is no column of %s%s; give a column index or one "
                        "of its header's names",
                        target, r->path, header ? "" : " (it has no header line)");
}

/* Reads the first line: a header or not (--data.header), and the column count. Returns
 * whether it was a header through *header. */
static lt_status read_first_line(lt_ctx_t *ctx, csv_reader *r, bool *header) {
    const char *le;
    if (!next_line(r, &le))
        return lt_set_error(LT_ERR_FORMAT, "%s: the file has no rows; give a CSV file with data",
                            r->path);
    lt_status s = split_line(r, le);
    if (s != LT_OK) return s;
    const char *h = lt_hparam_str(ctx, "header");
    *header = !strcmp(h, "true") || (!strcmp(h, "auto") && !line_is_numeric(r));
    if (*header) return LT_OK;
    r->p = r->line_start; /* the first line is data: read it again as a row */
    r->line--;
    return LT_OK;
}

/* ---- rows ------------------------------------------------------------------------------ */

static lt_status store_target(const csv_reader *r, const csv_layout *lay, csv_table *t,
                              int64_t row) {
    const cell *c = &r->cells[lay->target];
    double v;
    lt_status s = cell_number(r, c, &v);
    if (s != LT_OK) return s;
    if (!lay->classify) {
        ((float *)t->y)[row] = (float)v;
        return LT_OK;
    }
    if (v != floor(v) || v < 0 || v >= (double)CSV_MAX_CLASS) {
        char buf[CSV_MAX_CELL + 1];
        cell_text(*c, buf);
        return bad_cell(r, c, buf,
                        "is no class index (an integer in [0, 16777216)); for a numeric "
                        "target use --data.task regression");
    }
    ((int64_t *)t->y)[row] = (int64_t)v;
    return LT_OK;
}

static lt_status parse_row(const csv_reader *r, const csv_layout *lay, csv_table *t, int64_t row) {
    if (r->ncells != lay->columns) {
        const cell *last = &r->cells[r->ncells - 1];
        return lt_set_error(
            LT_ERR_FORMAT,
            "%s:%lld:%lld: this row has %lld cells, the training file's first row %lld; "
            "every row needs the same columns (a ragged row, or a wrong "
            "--data.delimiter)",
            r->path, (long long)r->line, (long long)(column_of(r, last) + last->n),
            (long long)r->ncells, (long long)lay->columns);
    }
    float *x = t->x + row * (lay->columns - 1);
    for (int64_t c = 0; c < lay->columns; c++) {
        if (c == lay->target) continue;
        double v;
        lt_status s = cell_number(r, &r->cells[c], &v);
        if (s != LT_OK) return s;
        if (fabs(v) > FLT_MAX) {
            char buf[CSV_MAX_CELL + 1];
            cell_text(r->cells[c], buf);
            return bad_cell(r, &r->cells[c], buf, "does not fit a float32 (|v| > 3.4e38)");
        }
        *x++ = (float)v;
    }
    return store_target(r, lay, t, row);
}

/* Rows after the header, allocated for an upper bound (the newlines + 1). */
static lt_status read_rows(csv_reader *r, const csv_layout *lay, csv_table *t) {
    int64_t cap = 1, feats = lay->columns - 1, xb;
    for (const char *q = r->p; (q = memchr(q, '\n', (size_t)(r->end - q))); q++) cap++;
    if (__builtin_mul_overflow(cap, feats * (int64_t)sizeof(float), &xb) || cap > INT64_MAX / 8 ||
        !(t->x = malloc((size_t)xb + 1)) || !(t->y = malloc((size_t)cap * 8)))
        return lt_set_error(LT_ERR_OOM, "%s: out of memory for %lld rows of %lld features", r->path,
                            (long long)cap, (long long)feats);
    const char *le;
    for (t->rows = 0; next_line(r, &le); t->rows++) {
        lt_status s = split_line(r, le);
        if (s == LT_OK) s = parse_row(r, lay, t, t->rows);
        if (s != LT_OK) return s;
    }
    if (t->rows == 0)
        return lt_set_error(LT_ERR_FORMAT, "%s: no data rows after the header; give it samples",
                            r->path);
    return LT_OK;
}

static void table_free(csv_table *t) {
    free(t->x);
    free(t->y);
    *t = (csv_table){0};
}

/* Reads one file into t; `train` fixes the layout, later files must match it. */
static lt_status read_file(lt_ctx_t *ctx, const char *path, const char *flag, bool train,
                           csv_layout *lay, csv_table *t) {
    dm_map m;
    lt_status s = dm_map_open(path, flag, &m);
    if (s != LT_OK) return s;
    csv_reader r = {.path = m.path,
                    .p = (const char *)m.data,
                    .end = (const char *)m.data + m.size,
                    .delim = lay->delim,
                    .cells = malloc((CSV_MAX_COLUMNS + 1) * sizeof(cell))};
    bool header = false;
    if (!r.cells) s = lt_set_error(LT_ERR_OOM, "csv: out of memory");
    if (s == LT_OK) s = read_first_line(ctx, &r, &header);
    if (s == LT_OK && train)
        s = resolve_target(&r, header, lt_hparam_str(ctx, "target"), &lay->target);
    if (s == LT_OK && train && (lay->columns = r.ncells) < 2)
        s = lt_set_error(LT_ERR_FORMAT,
                         "%s: one column; a sample needs at least one feature and the target "
                         "(is --data.delimiter right?)",
                         m.path);
    if (s == LT_OK && header && r.ncells != lay->columns)
        s = lt_set_error(LT_ERR_FORMAT,
                         "%s:%lld: a header of %lld columns; the training file has %lld", m.path,
                         (long long)r.line, (long long)r.ncells, (long long)lay->columns);
    if (s == LT_OK) s = read_rows(&r, lay, t);
    free(r.cells);
    dm_map_close(&m);
    if (s != LT_OK) table_free(t);
    return s;
}

/* ---- the DataModule -------------------------------------------------------------------- */

/* Called from loader threads: reads only the immutable tables. */
static lt_status csv_fill(void *user, const int64_t *idx, int64_t n, float *x, void *y) {
    const dm_part *p = user;
    const csv_table *t = p->source;
    int64_t feats = t->layout->columns - 1;
    size_t ysize = t->layout->classify ? 8 : 4;
    for (int64_t i = 0; i < n; i++) {
        int64_t row = dm_row(p, idx[i]);
        memcpy(x + i * feats, t->x + row * feats, (size_t)feats * sizeof(float));
        memcpy((char *)y + (size_t)i * ysize, (const char *)t->y + (size_t)row * ysize, ysize);
    }
    return LT_OK;
}

/* Split k's files (several: one dataloader each), read in order. */
static lt_status load_eval_files(lt_ctx_t *ctx, csv_t *c, int k, const char *value,
                                 const char *flag) {
    char buf[8192];
    const char *paths[LT_MAX_DATALOADERS];
    int n = 0;
    lt_status s = dm_split_paths(value, flag, buf, sizeof buf, paths, &n);
    for (int i = 0; i < n && s == LT_OK; i++) {
        csv_table *t = i ? &c->more[k][i - 1] : &c->table[k];
        t->layout = &c->layout;
        s = read_file(ctx, paths[i], flag, false, &c->layout, t);
        dm_part part = {t, NULL, 0, t->rows};
        if (s != LT_OK) break;
        if (i)
            c->splits.more[k][c->splits.nmore[k]++] = part;
        else
            c->splits.part[k] = part;
    }
    return s;
}

/* The training file, and val and test from their own files (read in order) or from a
 * seeded split of it. */
static lt_status load_files(lt_ctx_t *ctx, csv_t *c) {
    static const char *const names[DM_PARTS] = {"train", "val", "test"};
    const char *val = lt_hparam_str(ctx, "val"), *test = lt_hparam_str(ctx, "test");
    lt_status s = read_file(ctx, lt_hparam_str(ctx, "train"), "--data.train", true, &c->layout,
                            &c->table[DM_TRAIN]);
    if (s == LT_OK)
        s = dm_split_seeded(ctx, &c->table[DM_TRAIN], c->table[DM_TRAIN].rows, !*val, !*test,
                            &c->splits);
    for (int k = DM_VAL; k < DM_PARTS && s == LT_OK; k++) {
        char flag[32];
        snprintf(flag, sizeof flag, "--data.%s", names[k]);
        s = load_eval_files(ctx, c, k, k == DM_VAL ? val : test, flag);
    }
    return s;
}

static lt_status register_splits(lt_ctx_t *ctx, csv_t *c, const char *stage) {
    lt_dataset proto = {.x_ndim = 1,
                        .x_shape = {c->layout.columns - 1},
                        .x_dtype = LT_F32,
                        .y_dtype = c->layout.classify ? LT_I64 : LT_F32,
                        .fill = csv_fill};
    return dm_register(ctx, stage, &c->splits, &proto);
}

static void csv_teardown(lt_ctx_t *ctx, void *self) {
    (void)ctx;
    csv_t *c = self;
    for (int k = 0; k < DM_PARTS; k++) {
        table_free(&c->table[k]);
        for (int i = 0; i < LT_MAX_DATALOADERS - 1; i++) table_free(&c->more[k][i]);
    }
    free(c->splits.perm);
    memset(c, 0, sizeof *c);
}

static lt_status csv_setup(lt_ctx_t *ctx, void *self, const char *stage) {
    csv_t *c = self;
    lt_status s = dm_check_loader(ctx);
    if (s != LT_OK || c->table[DM_TRAIN].x) /* read once per run, as fit's test reuses it */
        return s == LT_OK ? register_splits(ctx, c, stage) : s;
    c->layout.classify = !strcmp(lt_hparam_str(ctx, "task"), "classification");
    for (int k = 0; k < DM_PARTS; k++) c->table[k].layout = &c->layout;
    s = parse_delim(lt_hparam_str(ctx, "delimiter"), &c->layout.delim);
    if (s == LT_OK) s = load_files(ctx, c);
    if (s == LT_OK) return register_splits(ctx, c, stage);
    csv_teardown(ctx, c); /* a later setup starts over from nothing */
    return s;
}

/* The split in checkpoints: a resume on other data or another split is refused. */
static lt_status csv_state_dict(lt_ctx_t *ctx, void *self, lt_state_t *st) {
    const csv_t *c = self;
    return dm_state_dict(ctx, &c->splits, st);
}

static lt_status csv_load_state_dict(lt_ctx_t *ctx, void *self, lt_state_t *st) {
    const csv_t *c = self;
    return dm_load_state_dict(ctx, &c->splits, st);
}

LT_DATAMODULE_EXPORT(csv_t, .name = "csv", .hparams = csv_hparams, .setup = csv_setup,
                     .teardown = csv_teardown, .state_dict = csv_state_dict,
                     .load_state_dict = csv_load_state_dict)
