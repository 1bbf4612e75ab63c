/* Predictions to a file. The .npy header is written last (its shape is only known at
 * the end), into a fixed 128-byte slot reserved at the start. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "predict_writer.h"
#include "trainer.h"

#define NPY_HEADER 128

struct predict_writer {
    FILE *f;
    char path[4096], tmp[4200];
    bool csv;
    lt_dtype dtype;
    int ndim;                   /* of each batch's output; 0 until the first batch */
    int64_t inner[LT_MAX_DIMS]; /* trailing shape */
    int64_t row_elems, rows;
    void *buf;
    size_t buf_cap;
};

static bool ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

predict_writer *predict_writer_open(const char *path, const char *root) {
    predict_writer *w = calloc(1, sizeof *w);
    if (!w) {
        host_error("out of host memory for the prediction writer");
        return NULL;
    }
    if (path)
        snprintf(w->path, sizeof w->path, "%s", path);
    else
        snprintf(w->path, sizeof w->path, "%s/predictions.npy", root);
    w->csv = ends_with(w->path, ".csv");
    if (!w->csv && !ends_with(w->path, ".npy")) {
        host_error("--predict.output %s: the file must end in .npy or .csv", w->path);
        free(w);
        return NULL;
    }
    snprintf(w->tmp, sizeof w->tmp, "%s.tmp", w->path);
    if (!(w->f = fopen(w->tmp, "wb"))) {
        host_error("cannot write predictions to %s: %m; pick a writable --predict.output", w->tmp);
        free(w);
        return NULL;
    }
    if (!w->csv) {
        static const char zeros[NPY_HEADER] = {0};
        fwrite(zeros, 1, NPY_HEADER, w->f);
    }
    return w;
}

static bool check_shape(predict_writer *w, const lt_tensor_t *out, int64_t idx) {
    int nd = lt_ndim(out);
    lt_dtype dt = lt_dtype_of(out);
    if (dt != LT_F32 && dt != LT_I64) {
        host_error("predict_step of batch %lld returned a %s tensor; return float32 or int64",
                   (long long)idx, lt_dtype_name(dt));
        return false;
    }
    if (w->ndim == 0) {
        w->ndim = nd < 1 ? 1 : nd;
        w->dtype = dt;
        w->row_elems = 1;
        for (int i = 1; i < nd; i++) w->row_elems *= (w->inner[i] = lt_dim(out, i));
        return true;
    }
    bool same = dt == w->dtype && (nd < 1 ? 1 : nd) == w->ndim;
    for (int i = 1; same && i < nd; i++) same = lt_dim(out, i) == w->inner[i];
    if (same) return true;
    host_error(
        "predict_step of batch %lld returned a different dtype or trailing shape than the "
        "first batch; every batch must return (N, ...) with the same dtype and trailing sizes",
        (long long)idx);
    return false;
}

static bool write_csv_rows(predict_writer *w, int64_t rows) {
    for (int64_t r = 0; r < rows; r++) {
        for (int64_t j = 0; j < w->row_elems; j++) {
            int64_t k = r * w->row_elems + j;
            if (w->dtype == LT_F32)
                fprintf(w->f, j ? ",%.9g" : "%.9g", ((float *)w->buf)[k]);
            else
                fprintf(w->f, j ? ",%lld" : "%lld", (long long)((int64_t *)w->buf)[k]);
        }
        fputc('\n', w->f);
    }
    return !ferror(w->f);
}

bool predict_writer_add(predict_writer *w, lt_tensor_t *out, int64_t idx) {
    if (!out) return true;
    if (!check_shape(w, out, idx)) return false;
    size_t bytes = (size_t)lt_numel(out) * (w->dtype == LT_F32 ? 4 : 8);
    if (bytes > w->buf_cap) {
        void *b = realloc(w->buf, bytes);
        if (!b) {
            host_error("out of host memory for predictions");
            return false;
        }
        w->buf = b, w->buf_cap = bytes;
    }
    if (lt_to_host(out, w->buf, bytes) != LT_OK) {
        host_error("reading predictions of batch %lld: %s", (long long)idx, lt_last_error());
        return false;
    }
    int64_t rows = lt_ndim(out) < 1 ? 1 : lt_dim(out, 0);
    bool ok = w->csv ? write_csv_rows(w, rows) : fwrite(w->buf, 1, bytes, w->f) == bytes;
    if (!ok) {
        host_error("writing predictions to %s failed: %m", w->tmp);
        return false;
    }
    w->rows += rows;
    return true;
}

/* numpy format 1.0: magic, version, header length, a Python dict padded to 128 bytes. */
static bool write_npy_header(predict_writer *w) {
    char shape[256];
    int n = snprintf(shape, sizeof shape, "(%lld,", (long long)w->rows);
    for (int i = 1; i < w->ndim; i++)
        n += snprintf(shape + n, sizeof shape - (size_t)n, "%s%lld", i > 1 ? ", " : " ",
                      (long long)w->inner[i]);
    snprintf(shape + n, sizeof shape - (size_t)n, ")");
    char dict[NPY_HEADER];
    int len = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': %s, }",
                       w->dtype == LT_I64 ? "<i8" : "<f4", shape);
    if (len < 0 || len > NPY_HEADER - 11) {
        host_error("the prediction shape %s is too long for the .npy header", shape);
        return false;
    }
    unsigned char head[NPY_HEADER];
    memcpy(head, "\x93NUMPY\x01\x00", 8);
    head[8] = (NPY_HEADER - 10) & 0xff, head[9] = (NPY_HEADER - 10) >> 8;
    memset(head + 10, ' ', NPY_HEADER - 10);
    memcpy(head + 10, dict, (size_t)len);
    head[NPY_HEADER - 1] = '\n';
    return fseek(w->f, 0, SEEK_SET) == 0 && fwrite(head, 1, NPY_HEADER, w->f) == NPY_HEADER;
}

bool predict_writer_close(predict_writer *w, struct session *s) {
    if (w->ndim == 0) w->ndim = 1; /* no batches: an empty (0,) float32 array */
    bool ok = (w->csv || write_npy_header(w)) && fflush(w->f) == 0;
    ok = fclose(w->f) == 0 && ok;
    w->f = NULL;
    if (ok && rename(w->tmp, w->path) != 0) ok = false;
    if (!ok) {
        host_error("writing predictions to %s failed: %m", w->path);
        predict_writer_abort(w);
        return false;
    }
    rank0_printf(s, "Predictions: %lld rows written to %s\n", (long long)w->rows, w->path);
    free(w->buf);
    free(w);
    return true;
}

void predict_writer_abort(predict_writer *w) {
    if (!w) return;
    if (w->f) fclose(w->f);
    remove(w->tmp);
    free(w->buf);
    free(w);
}
