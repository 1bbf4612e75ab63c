/* The ONNX file: value names, initializers, NodeProto encoding, the ModelProto, and the
 * atomic write. Messages and field numbers as in onnx.proto:
 *   ModelProto       { ir_version = 1; producer_name = 2; producer_version = 3;
 *                      graph = 7; opset_import = 8 (OperatorSetIdProto {domain = 1; version = 2}) }
 *   GraphProto       { node = 1; name = 2; initializer = 5; input = 11; output = 12 }
 *   NodeProto        { input = 1; output = 2; name = 3; op_type = 4; attribute = 5 }
 *   AttributeProto   { name = 1; f = 2; i = 3; ints = 8; type = 20 }
 *   TensorProto      { dims = 1; data_type = 2; name = 8; raw_data = 9 (little-endian) }
 *   ValueInfoProto   { name = 1; type = 2 (TypeProto { tensor_type = 1 { elem_type = 1;
 *                      shape = 2 (TensorShapeProto { dim = 1 { dim_value = 1; dim_param = 2 }}) }}) } */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <lt/version.h>

#include "onnx_impl.h"

/* ---- values ------------------------------------------------------------------------- */

static onnx_value *find_value(const onnx_exp *e, const lt_tensor_t *t) {
    for (int i = e->nvals - 1; t && i >= 0; i--)
        if (e->vals[i].t == t) return &e->vals[i];
    return NULL;
}

/* A new value named name (copied); NULL when out of memory (set). */
static const char *add_value(onnx_exp *e, const lt_tensor_t *t, const char *name) {
    if (e->nvals == e->cap_vals) {
        int cap = e->cap_vals ? 2 * e->cap_vals : 64;
        onnx_value *v = realloc(e->vals, (size_t)cap * sizeof *v);
        if (!v) goto oom;
        e->vals = v;
        e->cap_vals = cap;
    }
    char *copy = strdup(name);
    if (!copy) goto oom;
    e->vals[e->nvals++] = (onnx_value){.t = t, .name = copy};
    return copy;
oom:
    lt_set_error(LT_ERR_OOM, "lt_model_export_onnx: out of host memory naming values");
    return NULL;
}

const int64_t *lt__onnx_other_shape(const onnx_exp *e, const lt_tensor_t *t) {
    for (size_t i = 0; t && i < e->nother; i++)
        if (e->other[i].t == t) return e->other[i].shape;
    return NULL;
}

const char *lt__onnx_temp(onnx_exp *e) {
    char name[32];
    snprintf(name, sizeof name, "tmp_%d", e->ntemp++);
    return add_value(e, NULL, name);
}

const char *lt__onnx_define(onnx_exp *e, const lt_tensor_t *t) {
    char name[32];
    if (t == e->input && !find_value(e, t))
        snprintf(name, sizeof name, "input");
    else if (t == e->output)
        snprintf(name, sizeof name, "output");
    else
        snprintf(name, sizeof name, "t%d", e->nnodes);
    return add_value(e, t, name);
}

/* ---- initializers ------------------------------------------------------------------------ */

static void put_tensor(lt_pb_buf *b, const char *name, int dtype, int ndim, const int64_t *shape,
                       const void *data, size_t nbytes) {
    lt_pb_buf m = {0};
    for (int i = 0; i < ndim; i++) lt__pb_put_int(&m, 1, shape[i]);
    lt__pb_put_int(&m, 2, dtype);
    lt__pb_put_string(&m, 8, name);
    lt__pb_put_bytes(&m, 9, data, nbytes); /* the host is little-endian (x86-64, arm64) */
    lt__pb_put_message(b, 5, &m);
    lt__pb_free(&m);
}

const char *lt__onnx_const_f32(onnx_exp *e, float v) {
    char name[32];
    snprintf(name, sizeof name, "const_%d", e->nconst++);
    put_tensor(&e->inits, name, ONNX_FLOAT, 0, NULL, &v, sizeof v);
    return add_value(e, NULL, name);
}

const char *lt__onnx_const_fill(onnx_exp *e, int ndim, const int64_t *shape, float v) {
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) n *= shape[i];
    float *data = malloc((size_t)(n ? n : 1) * sizeof *data);
    if (!data) {
        lt_set_error(LT_ERR_OOM, "lt_model_export_onnx: out of host memory");
        return NULL;
    }
    for (int64_t i = 0; i < n; i++) data[i] = v;
    char name[32];
    snprintf(name, sizeof name, "const_%d", e->nconst++);
    put_tensor(&e->inits, name, ONNX_FLOAT, ndim, shape, data, (size_t)n * sizeof *data);
    free(data);
    return add_value(e, NULL, name);
}

const char *lt__onnx_const_i64(onnx_exp *e, const int64_t *v, int n) {
    char name[32];
    snprintf(name, sizeof name, "const_%d", e->nconst++);
    int64_t len = n < 0 ? 1 : n;
    put_tensor(&e->inits, name, ONNX_INT64, n < 0 ? 0 : 1, &len, v, (size_t)len * sizeof *v);
    return add_value(e, NULL, name);
}

/* The state-dict name of t when it is a parameter or buffer of the ctx, else NULL. */
static const char *state_name(lt_ctx_t *ctx, const lt_tensor_t *t) {
    const char *name;
    for (int i = 0; i < lt_ctx_num_params(ctx); i++)
        if (lt_ctx_param(ctx, i, &name) == t) return name;
    for (int i = 0; i < lt_ctx_num_buffers(ctx); i++)
        if (lt_ctx_buffer(ctx, i, &name) == t) return name;
    return NULL;
}

/* t's elements as an initializer called name. */
static const char *add_initializer(onnx_exp *e, const lt_tensor_t *t, const char *name) {
    size_t nbytes = (size_t)t->numel * lt__dtype_size(t->dtype);
    void *host = malloc(nbytes ? nbytes : 1);
    if (!host) {
        lt_set_error(LT_ERR_OOM, "lt_model_export_onnx: out of host memory copying '%s'", name);
        return NULL;
    }
    lt_status s = lt_to_host(t, host, nbytes);
    if (s == LT_OK)
        put_tensor(&e->inits, name, t->dtype == LT_I64 ? ONNX_INT64 : ONNX_FLOAT, t->ndim, t->shape,
                   host, nbytes);
    free(host);
    return s == LT_OK ? add_value(e, t, name) : NULL;
}

const char *lt__onnx_use(onnx_exp *e, const lt_tensor_t *t) {
    const onnx_value *v = find_value(e, t);
    if (v) return v->name;
    const char *name = state_name(e->ctx, t);
    if (name) return add_initializer(e, t, name);
    char cname[32]; /* made in the forward without a recorded op: lt_full, lt_from_host */
    snprintf(cname, sizeof cname, "const_%d", e->nconst++);
    return add_initializer(e, t, cname);
}

/* ---- nodes ---------------------------------------------------------------------------- */

static void put_attr(lt_pb_buf *b, const onnx_attr *a) {
    lt_pb_buf m = {0};
    lt__pb_put_string(&m, 1, a->name);
    if (a->type == ONNX_ATTR_FLOAT) lt__pb_put_float(&m, 2, a->f);
    if (a->type == ONNX_ATTR_INT) lt__pb_put_int(&m, 3, a->i);
    for (int i = 0; a->type == ONNX_ATTR_INTS && i < a->nints; i++)
        lt__pb_put_int(&m, 8, a->ints[i]);
    lt__pb_put_int(&m, 20, a->type);
    lt__pb_put_message(b, 5, &m);
    lt__pb_free(&m);
}

void lt__onnx_node(onnx_exp *e, const char *op, const char *const *in, int nin, const char *out,
                   const onnx_attr *attrs, int nattrs) {
    lt_pb_buf m = {0};
    char name[48];
    snprintf(name, sizeof name, "%s_%d", op, e->nnames++);
    for (int i = 0; i < nin; i++) lt__pb_put_string(&m, 1, in[i] ? in[i] : "");
    lt__pb_put_string(&m, 2, out);
    lt__pb_put_string(&m, 3, name);
    lt__pb_put_string(&m, 4, op);
    for (int i = 0; i < nattrs; i++) put_attr(&m, &attrs[i]);
    lt__pb_put_message(&e->nodes, 1, &m);
    lt__pb_free(&m);
}

/* ---- the model ------------------------------------------------------------------------- */

/* ValueInfoProto of a tensor t called name; a dimension that differs from other's (the
 * run on another batch size) is symbolic: "batch" for dimension 0, "batch_<i>" after. */
static void put_value_info(lt_pb_buf *b, int field, const char *name, const lt_tensor_t *t,
                           const int64_t *other) {
    lt_pb_buf shape = {0}, tensor = {0}, type = {0}, info = {0};
    for (int i = 0; i < t->ndim; i++) {
        lt_pb_buf dim = {0};
        char sym[32] = "batch";
        if (i) snprintf(sym, sizeof sym, "batch_%d", i);
        if (other && other[i] != t->shape[i])
            lt__pb_put_string(&dim, 2, sym);
        else
            lt__pb_put_int(&dim, 1, t->shape[i]);
        lt__pb_put_message(&shape, 1, &dim);
        lt__pb_free(&dim);
    }
    lt__pb_put_int(&tensor, 1, t->dtype == LT_I64 ? ONNX_INT64 : ONNX_FLOAT);
    lt__pb_put_message(&tensor, 2, &shape);
    lt__pb_put_message(&type, 1, &tensor);
    lt__pb_put_string(&info, 1, name);
    lt__pb_put_message(&info, 2, &type);
    lt__pb_put_message(b, field, &info);
    lt__pb_free(&shape);
    lt__pb_free(&tensor);
    lt__pb_free(&type);
    lt__pb_free(&info);
}

/* ONNX's IR version for an opset (onnx/helper.py's VERSION_TABLE). */
static int64_t ir_version(int opset) {
    return opset <= 14 ? 7 : opset <= 18 ? 8 : opset <= 20 ? 9 : 10;
}

static void put_model(lt_pb_buf *b, onnx_exp *e, const char *name) {
    lt_pb_buf graph = {0}, opset = {0};
    lt__pb_put(&graph, e->nodes.p, e->nodes.len);
    lt__pb_put_string(&graph, 2, name);
    lt__pb_put(&graph, e->inits.p, e->inits.len);
    int64_t in_other[LT_MAX_DIMS];
    memcpy(in_other, e->input->shape, sizeof in_other);
    in_other[0] += e->dynamic; /* the input's dimension 0 is the batch */
    const int64_t *out_other =
        e->output == e->input ? in_other : lt__onnx_other_shape(e, e->output);
    put_value_info(&graph, 11, "input", e->input, in_other);
    put_value_info(&graph, 12, "output", e->output, out_other);
    if (e->nodes.oom || e->inits.oom) graph.oom = true;
    lt__pb_put_string(&opset, 1, "");
    lt__pb_put_int(&opset, 2, e->opset);
    lt__pb_put_int(b, 1, ir_version(e->opset));
    lt__pb_put_string(b, 2, "lthost");
    lt__pb_put_string(b, 3, LT_VERSION_STRING);
    lt__pb_put_message(b, 7, &graph);
    lt__pb_put_message(b, 8, &opset);
    lt__pb_free(&graph);
    lt__pb_free(&opset);
}

/* The rename itself on disk: fsync the folder that holds path (best effort). */
static void sync_dir(const char *path) {
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash == dir)
        slash[1] = '\0';
    else if (slash)
        *slash = '\0';
    else
        snprintf(dir, sizeof dir, ".");
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return;
    fsync(fd);
    close(fd);
}

/* data to path through path.tmp.<pid>: written, synced, renamed over path. */
static lt_status write_atomic(const char *path, const uint8_t *data, size_t n) {
    char tmp[4096];
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid()) >= sizeof tmp)
        return lt_set_error(LT_ERR_INVALID_ARG, "lt_model_export_onnx: the path is too long");
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return lt_set_error(LT_ERR_IO, "lt_model_export_onnx: cannot create %s: %s", tmp,
                            strerror(errno));
    size_t done = 0;
    while (done < n) {
        ssize_t w = write(fd, data + done, n - done);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) break;
        done += (size_t)w;
    }
    int err = done < n ? (errno ? errno : EIO) : 0;
    if (!err && fsync(fd) != 0) err = errno;
    if (close(fd) != 0 && !err) err = errno;
    if (!err && rename(tmp, path) != 0) err = errno;
    if (!err) {
        sync_dir(path);
        return LT_OK;
    }
    unlink(tmp);
    return lt_set_error(LT_ERR_IO, "lt_model_export_onnx: cannot write %s: %s", path,
                        strerror(err));
}

lt_status lt__onnx_write_model(onnx_exp *e, const char *path, const char *name) {
    lt_pb_buf model = {0};
    put_model(&model, e, name);
    lt_status s = model.oom ? lt_set_error(LT_ERR_OOM, "lt_model_export_onnx: out of host memory "
                                                       "encoding the model")
                            : write_atomic(path, model.p, model.len);
    lt__pb_free(&model);
    return s;
}

void lt__onnx_free(onnx_exp *e) {
    for (int i = 0; i < e->nvals; i++) free(e->vals[i].name);
    free(e->vals);
    free(e->other);
    free(e->cat_in);
    lt__pb_free(&e->nodes);
    lt__pb_free(&e->inits);
}
