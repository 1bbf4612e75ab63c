/* TensorBoard histograms as torch.utils.tensorboard's add_histogram(tag, values, step)
 * writes them with its default bins="tensorflow" (torch/utils/tensorboard/summary.py
 * make_histogram): bucket edges 0 and +-1e-12 * 1.1^k up to 1e20, numpy.histogram's counts
 * (a value v falls in [edge i, edge i+1), the last bucket closed), trimmed to the buckets
 * from one before the first non-empty one to the last non-empty one, each bucket
 * described by its right edge.
 *
 *   Summary.Value  { string tag = 1; HistogramProto histo = 5; }
 *   HistogramProto { double min = 1, max = 2, num = 3, sum = 4, sum_squares = 5;
 *                    repeated double bucket_limit = 6 [packed]; repeated double bucket = 7 [packed]; }
 */
#define LOGGERS_IMPL
#include "loggers.h"
#include "pb_write.h"

#include <stdlib.h>
#include <string.h>

/* 1e-12 * 1.1^k < 1e20 for k = 0..773; default_edges stops at 1e20, so a few spare. */
enum { POS_EDGES = 780, EDGES = 2 * POS_EDGES + 1 };

/* torch's _default_bins(): -v..., 0, ...v for v = 1e-12, 1e-12*1.1, ... while v < 1e20. */
static int default_edges(double *e) {
    double pos[POS_EDGES];
    int n = 0;
    for (double v = 1e-12; v < 1e20 && n < POS_EDGES; v *= 1.1) pos[n++] = v;
    for (int i = 0; i < n; i++) e[i] = -pos[n - 1 - i];
    e[n] = 0;
    for (int i = 0; i < n; i++) e[n + 1 + i] = pos[i];
    return 2 * n + 1;
}

/* numpy's searchsorted(edges, v, 'right') - 1, with v == last edge in the last bucket; -1
 * when v lies outside the edges (numpy leaves it out). */
static int bucket_of(const double *e, int ne, double v) {
    if (v < e[0] || v > e[ne - 1]) return -1;
    if (v == e[ne - 1]) return ne - 2;
    int lo = 0, hi = ne; /* first edge > v */
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (e[mid] > v)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo - 1;
}

/* A packed repeated double field (wire type LEN, 8 little-endian bytes a value). */
static void put_packed(lt_pb_buf *b, int field, const double *v, int n) {
    lt__pb_put_key(b, field, LT_PB_LEN);
    lt__pb_put_varint(b, (uint64_t)n * 8);
    for (int i = 0; i < n; i++) {
        uint64_t bits;
        memcpy(&bits, &v[i], sizeof bits);
        lt__pb_put_le(b, bits, 8);
    }
}

/* ---- the histogram ---- */

typedef struct {
    double min, max, num, sum, sum_sq;
    double *limits, *counts; /* EDGES each */
    int n;
} histo;

/* Counts over the default edges, trimmed as make_histogram trims them; false if no value
 * fell inside the edges (torch raises "The histogram is empty"). */
static bool fill_histo(histo *h, const double *e, int ne, const float *v, int64_t n,
                       double *counts) {
    h->min = h->max = v[0];
    for (int64_t i = 0; i < n; i++) {
        double x = v[i];
        h->min = x < h->min ? x : h->min;
        h->max = x > h->max ? x : h->max;
        h->sum += x;
        h->sum_sq += x * x;
        int k = bucket_of(e, ne, x);
        if (k >= 0) counts[k] += 1;
    }
    h->num = (double)n;
    int first = -1, last = -1;
    for (int k = 0; k < ne - 1; k++)
        if (counts[k] > 0) {
            if (first < 0) first = k;
            last = k;
        }
    if (first < 0) return false;
    int start = first; /* make_histogram: counts[start-1 : end], limits[start : end+1] */
    h->n = 0;
    if (start == 0) {
        h->counts[h->n] = 0;
        h->limits[h->n++] = e[0];
        for (int k = 0; k <= last; k++) {
            h->counts[h->n] = counts[k];
            h->limits[h->n++] = e[k + 1];
        }
        return true;
    }
    for (int k = start - 1; k <= last; k++) {
        h->counts[h->n] = counts[k];
        h->limits[h->n++] = e[k + 1];
    }
    return true;
}

static bool encode_value(lt_pb_buf *out, const char *tag, const histo *h) {
    lt_pb_buf hb = {0};
    lt__pb_put_double(&hb, 1, h->min);
    lt__pb_put_double(&hb, 2, h->max);
    lt__pb_put_double(&hb, 3, h->num);
    lt__pb_put_double(&hb, 4, h->sum);
    lt__pb_put_double(&hb, 5, h->sum_sq);
    put_packed(&hb, 6, h->limits, h->n);
    put_packed(&hb, 7, h->counts, h->n);
    lt__pb_put_string(out, 1, tag);
    lt__pb_put_message(out, 5, &hb);
    lt__pb_free(&hb);
    return !out->oom;
}

bool tb_log_histogram(logger *lg, const char *tag, const float *v, int64_t n, int64_t step,
                      char *err, size_t errn) {
    if (!lg || !tag || !v || n < 1 || strcmp(logger_name(lg), "tensorboard")) {
        logs__err(err, errn, "tb_log_histogram: needs a TensorBoard logger, a tag and values");
        return false;
    }
    double *mem = calloc(3 * (size_t)EDGES, sizeof *mem); /* limits, counts, raw counts */
    double e[EDGES + 16];
    int ne = default_edges(e);
    histo h = {.limits = mem, .counts = mem ? mem + EDGES : NULL};
    lt_pb_buf value = {0};
    bool ok = mem != NULL;
    if (!ok) {
        logs__err(err, errn, "histogram '%s': out of memory", tag);
    } else if (!fill_histo(&h, e, ne, v, n, mem + 2 * EDGES)) {
        logs__err(err, errn,
                  "histogram '%s': every value lies beyond +-1e20, outside TensorBoard's "
                  "buckets",
                  tag);
        ok = false;
    } else if (!encode_value(&value, tag, &h)) {
        logs__err(err, errn, "histogram '%s': out of memory", tag);
        ok = false;
    }
    ok = ok && logs__tb_queue_value(lg, value.p, value.len, step, err, errn);
    lt__pb_free(&value);
    free(mem);
    return ok;
}
