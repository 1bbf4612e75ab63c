/* The model summary Lightning prints at fit start (ModelSummary, max_depth 1 unless a
 * ModelSummary callback sets it): one row per submodule down to that depth, from the
 * parameters' state_dict names ("l1.weight" -> l1, "encoder.0.weight" -> encoder, encoder.0). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "trainer.h"

#define MAX_ROWS 64

typedef struct summary_row {
    char name[64], type[32], params[32];
    int64_t count;
} summary_row;

/* Lightning's get_human_readable_count: "200 K", "32.9 K", "1.3 M". */
static void human_count(int64_t n, char *buf, size_t size) {
    static const char *const units[] = {" ", "K", "M", "B", "T"};
    int digits = n > 0 ? (int)floor(log10((double)n)) + 1 : 1;
    int groups = (digits + 2) / 3;
    if (groups > 5) groups = 5;
    double v = (double)n * pow(10.0, -3.0 * (groups - 1));
    if (groups - 1 < 1 || v >= 100)
        snprintf(buf, size, "%lld %s", (long long)v, units[groups - 1]);
    else
        snprintf(buf, size, "%.1f %s", v, units[groups - 1]);
}

/* The row of module `name` (its first len bytes), added (typed `type`) when new. */
static int row_of(summary_row *rows, int *nrows, const char *name, size_t len, const char *type) {
    int r = 0;
    while (r < *nrows && (strlen(rows[r].name) != len || strncmp(rows[r].name, name, len))) r++;
    if (r < *nrows || *nrows == MAX_ROWS) return r < *nrows ? r : -1;
    rows[(*nrows)++] = (summary_row){.count = 0};
    snprintf(rows[r].name, sizeof rows[r].name, "%.*s", (int)len, name);
    snprintf(rows[r].type, sizeof rows[r].type, "%s", type);
    return r;
}

/* ModelSummary(max_depth): a row per module up to depth levels down ("encoder",
 * "encoder.0"), parents before children, each with every parameter under it; a
 * parameter of the root itself is a row of its own. depth < 0: every level. */
/* Parameter pname (numel values, made by a layer of type `layer` or NULL) into the row
 * of each module on its path, down to depth levels. */
static void add_param(summary_row *rows, int *nrows, const char *pname, const char *layer,
                      int64_t numel, int64_t depth) {
    int levels = 0; /* modules on the parameter's path: "a.b.weight" has 2 */
    for (const char *c = pname; *c; c++) levels += *c == '.';
    if (levels == 0) {
        int r = row_of(rows, nrows, pname, strlen(pname), "Parameter");
        if (r >= 0) rows[r].count += numel;
        return;
    }
    size_t len = 0;
    for (int d = 1; d <= levels && (depth < 0 || d <= depth); d++) {
        len += strcspn(pname + len + (d > 1), ".") + (d > 1);
        const char *type = d == levels && layer ? layer : "Module";
        int r = row_of(rows, nrows, pname, len, type);
        if (r < 0) continue;
        if (d < levels || !layer) snprintf(rows[r].type, sizeof rows[r].type, "%s", type);
        rows[r].count += numel;
    }
}

static int collect_rows(session *s, summary_row *rows, int64_t depth) {
    int nrows = 0;
    for (int i = 0; i < lt_ctx_num_params(s->module.ctx); i++) {
        const char *pname;
        lt_tensor_t *t = lt_ctx_param(s->module.ctx, i, &pname);
        add_param(rows, &nrows, pname, lt_ctx_param_layer_type(s->module.ctx, i), lt_numel(t),
                  depth);
    }
    return nrows;
}

void print_model_summary(session *s) {
    summary_row rows[MAX_ROWS];
    if (s->model_summary_depth == 0) return; /* ModelSummary(max_depth=0) */
    int n = collect_rows(s, rows, s->model_summary_depth);
    int wi = n > 10 ? 2 : 1, wn = 4, wt = 4, wp = 6;
    for (int r = 0; r < n; r++) {
        human_count(rows[r].count, rows[r].params, sizeof rows[r].params);
        int ln = (int)strlen(rows[r].name), lt = (int)strlen(rows[r].type),
            lp = (int)strlen(rows[r].params);
        wn = ln > wn ? ln : wn, wt = lt > wt ? lt : wt, wp = lp > wp ? lp : wp;
    }
    int width = wi + wn + wt + wp + 5 + 4 * 3;
    rank0_printf(s, "\n%-*s | %-*s | %-*s | %-*s | Mode \n", wi, "", wn, "Name", wt, "Type", wp,
                 "Params");
    for (int i = 0; i < width; i++) rank0_printf(s, "-");
    rank0_printf(s, "\n");
    for (int r = 0; r < n; r++)
        rank0_printf(s, "%-*d | %-*s | %-*s | %-*s | train\n", wi, r, wn, rows[r].name, wt,
                     rows[r].type, wp, rows[r].params);
    for (int i = 0; i < width; i++) rank0_printf(s, "-");
    int64_t total = lt_num_parameters(s->module.ctx);
    char t[32], z[32];
    human_count(total, t, sizeof t);
    human_count(0, z, sizeof z);
    rank0_printf(s,
                 "\n%-10sTrainable params\n%-10sNon-trainable params\n%-10sTotal params\n"
                 "%-10.3fTotal estimated model params size (MB)\n%-10dModules in train mode\n"
                 "%-10dModules in eval mode\n\n",
                 t, z, t, (double)total * 4 / 1e6, n, 0);
}
