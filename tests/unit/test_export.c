/* ONNX export (issue #22) read back without onnx: a small protobuf reader walks the file
 * lt_model_export_onnx writes for the mlp (from a state dict written here, through
 * lt_model_load_weights) and checks the ModelProto's fields against onnx.proto: IR and
 * opset versions, the nodes and their attributes, the initializers' names, shapes and
 * bytes, and the symbolic batch dimension. Plus the refusals of bad arguments, and one
 * op of issue #19 (dcgan's generator: ConvTranspose and its attributes). */
#include <check.h>
#include <lt/lt.h>
#include <lt/model.h>
#include <lt/safetensors.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test_util.h"

/* ---- a protobuf reader: one field at a time ---------------------------------------- */

typedef struct pb_field {
    int num, wire;
    uint64_t v;          /* varint or fixed value */
    const uint8_t *data; /* length-delimited payload */
    size_t len;
} pb_field;

static bool pb_varint(const uint8_t **p, const uint8_t *end, uint64_t *v) {
    *v = 0;
    for (int shift = 0; *p < end && shift < 64; shift += 7) {
        uint8_t b = *(*p)++;
        *v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) return true;
    }
    return false;
}

/* The next field of [*p, end), or false at the end (a malformed field fails the test). */
static bool pb_next(const uint8_t **p, const uint8_t *end, pb_field *f) {
    if (*p >= end) return false;
    uint64_t key;
    ck_assert(pb_varint(p, end, &key));
    f->num = (int)(key >> 3);
    f->wire = (int)(key & 7);
    f->data = NULL;
    f->len = 0;
    if (f->wire == 0) {
        ck_assert(pb_varint(p, end, &f->v));
    } else if (f->wire == 2) {
        ck_assert(pb_varint(p, end, &f->v) && f->v <= (uint64_t)(end - *p));
        f->data = *p;
        f->len = (size_t)f->v;
        *p += f->len;
    } else {
        size_t n = f->wire == 1 ? 8 : 4;
        ck_assert_msg(f->wire == 1 || f->wire == 5, "wire type %d", f->wire);
        ck_assert((size_t)(end - *p) >= n);
        f->v = 0;
        for (size_t i = 0; i < n; i++) f->v |= (uint64_t)(*p)[i] << (8 * i);
        *p += n;
    }
    return true;
}

#define PB_EACH(f, data, len)                                                                      \
    for (const uint8_t *p_ = (data), *e_ = (data) + (len); pb_next(&p_, e_, &(f));)

static bool pb_is(const pb_field *f, const char *s) {
    return f->wire == 2 && f->len == strlen(s) && !memcmp(f->data, s, f->len);
}

/* ---- the model under test --------------------------------------------------------- */

/* mlp with hidden 8, hidden2 4: l1 (8, 784), l2 (4, 8), l3 (10, 4) and biases. */
static const char *const names[6] = {"l1.weight", "l1.bias",   "l2.weight",
                                     "l2.bias",   "l3.weight", "l3.bias"};
static const int64_t shapes[6][2] = {{8, 784}, {8, 1}, {4, 8}, {4, 1}, {10, 4}, {10, 1}};
static float *values[6];
static char dir[64], weights[96], out[96];

static lt_model_t *open_mlp(void) {
    snprintf(dir, sizeof dir, "/tmp/lt_export_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(weights, sizeof weights, "%s/w.safetensors", dir);
    snprintf(out, sizeof out, "%s/mlp.onnx", dir);
    lt_st_writer_t *w = lt_st_writer_new();
    for (int i = 0; i < 6; i++) {
        int64_t n = shapes[i][0] * shapes[i][1];
        values[i] = malloc((size_t)n * sizeof(float));
        test_fill(values[i], n, 10 + (uint64_t)i, -0.5f, 0.5f, 0.0f);
        ck_assert_int_eq(lt_st_writer_add(w, names[i], LT_ST_F32, shapes[i][1] == 1 ? 1 : 2,
                                          shapes[i], values[i], (size_t)n * sizeof(float)),
                         LT_OK);
    }
    ck_assert_int_eq(lt_st_writer_save(w, weights), LT_OK);
    lt_st_writer_free(w);
    const char *hp[] = {"hidden=8", "hidden2=4", NULL}, *err = NULL;
    lt_model_t *m = lt_model_load_weights(weights, getenv("LT_TEST_MLP_PLUGIN"), hp, NULL, &err);
    ck_assert_msg(m != NULL, "%s", err);
    return m;
}

static void close_mlp(lt_model_t *m) {
    lt_model_free(m);
    for (int i = 0; i < 6; i++) free(values[i]);
    unlink(weights);
    unlink(out);
    rmdir(dir);
}

static uint8_t *read_file(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    fseek(f, 0, SEEK_END);
    *n = (size_t)ftell(f);
    rewind(f);
    uint8_t *b = malloc(*n);
    ck_assert_uint_eq(fread(b, 1, *n, f), *n);
    fclose(f);
    return b;
}

/* ---- checks of the parts ------------------------------------------------------------ */

/* NodeProto: op_type into op; Gemm must carry transB = 1 (INT). */
static void check_node(const pb_field *node, char *op, size_t n) {
    pb_field f, a;
    bool trans_b = false;
    PB_EACH(f, node->data, node->len) {
        if (f.num == 4) snprintf(op, n, "%.*s", (int)f.len, (const char *)f.data);
        if (f.num != 5) continue;
        bool is_tb = false;
        int64_t i = -1, type = -1;
        PB_EACH(a, f.data, f.len) {
            if (a.num == 1) is_tb = pb_is(&a, "transB");
            if (a.num == 3) i = (int64_t)a.v;
            if (a.num == 20) type = (int64_t)a.v;
        }
        trans_b |= is_tb && i == 1 && type == 2;
    }
    if (!strcmp(op, "Gemm")) ck_assert_msg(trans_b, "Gemm without transB = 1");
}

/* TensorProto: a known weight's dims, FLOAT type and raw bytes; returns its index. */
static int check_initializer(const pb_field *t) {
    pb_field f;
    int k = -1, ndim = 0;
    int64_t dims[4];
    const pb_field *raw = NULL;
    pb_field raw_f = {0};
    uint64_t dtype = 0;
    PB_EACH(f, t->data, t->len) {
        if (f.num == 1 && ndim < 4) dims[ndim++] = (int64_t)f.v;
        if (f.num == 2) dtype = f.v;
        for (int i = 0; f.num == 8 && i < 6; i++)
            if (pb_is(&f, names[i])) k = i;
        if (f.num == 9) raw_f = f, raw = &raw_f;
    }
    if (k < 0) return -1; /* a constant of the graph (the flatten's shape) */
    int64_t n = shapes[k][0] * shapes[k][1];
    ck_assert_uint_eq(dtype, 1);
    ck_assert_int_eq(ndim, shapes[k][1] == 1 ? 1 : 2);
    ck_assert_int_eq(dims[0], shapes[k][0]);
    ck_assert_ptr_nonnull(raw);
    ck_assert_uint_eq(raw->len, (size_t)n * sizeof(float));
    ck_assert_msg(!memcmp(raw->data, values[k], raw->len), "%s: bytes differ", names[k]);
    return k;
}

/* ValueInfoProto "input" (batch, 784) or "output" (batch, 10). */
static void check_value_info(const pb_field *vi, const char *name, int64_t last) {
    pb_field f, type, tensor, shape, dim, d;
    bool named = false;
    int ndim = 0;
    PB_EACH(f, vi->data, vi->len) {
        named |= f.num == 1 && pb_is(&f, name);
        if (f.num != 2) continue;
        PB_EACH(type, f.data, f.len) PB_EACH(tensor, type.data, type.len) {
            if (tensor.num == 1) ck_assert_uint_eq(tensor.v, 1); /* FLOAT */
            if (tensor.num != 2) continue;
            PB_EACH(shape, tensor.data, tensor.len) PB_EACH(dim, shape.data, shape.len) {
                d = dim;
                if (ndim == 0) ck_assert_msg(d.num == 2 && pb_is(&d, "batch"), "dim 0 not batch");
                if (ndim == 1) ck_assert_msg(d.num == 1 && (int64_t)d.v == last, "dim 1");
                ndim += d.num == 1 || d.num == 2;
            }
        }
    }
    ck_assert_msg(named, "value info '%s' missing", name);
    ck_assert_int_eq(ndim, 2);
}

static void check_graph(const pb_field *g) {
    static const char *const want[] = {"Reshape", "Gemm", "Relu", "Gemm", "Relu", "Gemm"};
    pb_field f;
    int nodes = 0, seen = 0;
    PB_EACH(f, g->data, g->len) {
        char op[32] = "";
        if (f.num == 1) {
            check_node(&f, op, sizeof op);
            ck_assert_int_lt(nodes, 6);
            ck_assert_str_eq(op, want[nodes++]);
        }
        if (f.num == 5) {
            int k = check_initializer(&f);
            if (k >= 0) seen |= 1 << k;
        }
        if (f.num == 11) check_value_info(&f, "input", 784);
        if (f.num == 12) check_value_info(&f, "output", 10);
    }
    ck_assert_int_eq(nodes, 6);
    ck_assert_int_eq(seen, 63); /* every weight, once named as in the state dict */
}

START_TEST(export_mlp_reads_back) {
    lt_model_t *m = open_mlp();
    const char *err = NULL;
    lt_onnx_opts o =
        LT_ONNX_OPTS(.ndim = 2, .input_shape = (int64_t[]){3, 784}, .dynamic_batch = true);
    ck_assert_msg(lt_model_export_onnx(m, out, &o, &err) == LT_OK, "%s", err);
    size_t n;
    uint8_t *b = read_file(out, &n);
    pb_field f, op;
    int64_t ir = 0, opset = 0;
    bool graph = false;
    PB_EACH(f, b, n) {
        if (f.num == 1) ir = (int64_t)f.v;
        if (f.num == 2) ck_assert(pb_is(&f, "lthost"));
        if (f.num == 7) check_graph(&f), graph = true;
        if (f.num == 8) PB_EACH(op, f.data, f.len) if (op.num == 2) opset = (int64_t)op.v;
    }
    ck_assert_int_eq(ir, 8);
    ck_assert_int_eq(opset, 17);
    ck_assert(graph);
    free(b);
    close_mlp(m);
}
END_TEST

START_TEST(export_refuses_bad_arguments) {
    lt_model_t *m = open_mlp();
    const char *err = NULL;
    int64_t shape[2] = {1, 784};
    lt_onnx_opts o = LT_ONNX_OPTS(.ndim = 2, .input_shape = shape);
    ck_assert_int_eq(lt_model_export_onnx(m, dir, &o, &err), LT_ERR_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(err, "is a directory"));
    lt_onnx_opts old = o;
    old.struct_size = 8;
    ck_assert_int_eq(lt_model_export_onnx(m, out, &old, &err), LT_ERR_ABI);
    lt_onnx_opts ints = LT_ONNX_OPTS(.ndim = 2, .input_shape = shape, .input_dtype = LT_F16);
    ck_assert_int_eq(lt_model_export_onnx(m, out, &ints, &err), LT_ERR_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(err, "input_dtype"));
    lt_onnx_opts bad = LT_ONNX_OPTS(.ndim = 2, .input_shape = shape, .opset = 12);
    ck_assert_int_eq(lt_model_export_onnx(m, out, &bad, &err), LT_ERR_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(err, "opset 12"));
    bad = LT_ONNX_OPTS(.ndim = 0, .input_shape = shape);
    ck_assert_int_eq(lt_model_export_onnx(m, out, &bad, &err), LT_ERR_INVALID_ARG);
    shape[0] = (int64_t)1 << 40;
    ck_assert_int_eq(lt_model_export_onnx(m, out, &o, &err), LT_ERR_INVALID_ARG);
    ck_assert_int_eq(lt_model_export_onnx(NULL, out, &o, &err), LT_ERR_INVALID_ARG);
    ck_assert_int_eq(access(out, F_OK), -1); /* nothing written */
    close_mlp(m);
}
END_TEST

/* ---- an op of issue #19: dcgan's generator, ConvTranspose ---------------------------- */

/* An INTS or INT attribute's values into v (at most 4); how many. */
static int attr_ints(const pb_field *node, const char *name, int64_t *v) {
    pb_field f, a;
    int n = 0;
    PB_EACH(f, node->data, node->len) {
        if (f.num != 5) continue;
        bool named = false;
        PB_EACH(a, f.data, f.len) named |= a.num == 1 && pb_is(&a, name);
        PB_EACH(a, f.data, f.len)
        if (named && (a.num == 8 || a.num == 3) && n < 4) v[n++] = (int64_t)a.v;
    }
    return n;
}

/* ConvTranspose 4x4, stride 2, padding 1 (14 -> 28 and 7 -> 14: output_padding 0), one
 * group; the bias as a third input only where the layer has one. */
static void check_conv_transpose(const pb_field *node, bool bias) {
    int64_t v[4];
    pb_field f;
    int nin = 0;
    PB_EACH(f, node->data, node->len) nin += f.num == 1;
    ck_assert_int_eq(nin, bias ? 3 : 2);
    ck_assert_int_eq(attr_ints(node, "kernel_shape", v), 2);
    ck_assert(v[0] == 4 && v[1] == 4);
    ck_assert_int_eq(attr_ints(node, "strides", v), 2);
    ck_assert(v[0] == 2 && v[1] == 2);
    ck_assert_int_eq(attr_ints(node, "pads", v), 4);
    ck_assert(v[0] == 1 && v[1] == 1 && v[2] == 1 && v[3] == 1);
    ck_assert_int_eq(attr_ints(node, "output_padding", v), 2);
    ck_assert(v[0] == 0 && v[1] == 0);
    ck_assert_int_eq(attr_ints(node, "group", v), 1);
    ck_assert_int_eq(v[0], 1);
}

START_TEST(export_conv_transpose_reads_back) {
    char plugin[4096];
    const char *mlp = getenv("LT_TEST_MLP_PLUGIN"), *tail = strstr(mlp, "mlp/mlp.so");
    ck_assert_ptr_nonnull(tail);
    snprintf(plugin, sizeof plugin, "%.*sdcgan/dcgan.so", (int)(tail - mlp), mlp);
    char tmp[] = "/tmp/lt_export_XXXXXX", w[64], path[64];
    ck_assert_ptr_nonnull(mkdtemp(tmp));
    snprintf(w, sizeof w, "%s/w.safetensors", tmp);
    snprintf(path, sizeof path, "%s/g.onnx", tmp);
    lt_st_writer_t *wr = lt_st_writer_new();
    float bias = 0.25f;
    ck_assert_int_eq(
        lt_st_writer_add(wr, "generator.up2.bias", LT_ST_F32, 1, (int64_t[]){1}, &bias, 4), LT_OK);
    ck_assert_int_eq(lt_st_writer_save(wr, w), LT_OK);
    lt_st_writer_free(wr);
    const char *hp[] = {"latent=4", "ngf=2", "ndf=2", "samples=1", NULL}, *err = NULL;
    lt_model_opts mo = LT_MODEL_OPTS(.submodule = "generator");
    mo.strict = false; /* one weight in the file; the others keep their init */
    lt_model_t *m = lt_model_load_weights(w, plugin, hp, &mo, &err);
    ck_assert_msg(m != NULL, "%s", err);
    lt_onnx_opts o =
        LT_ONNX_OPTS(.ndim = 2, .input_shape = (int64_t[]){2, 4}, .dynamic_batch = true);
    ck_assert_msg(lt_model_export_onnx(m, path, &o, &err) == LT_OK, "%s", err);
    static const char *const want[] = {"Gemm", "Reshape",       "BatchNormalization",
                                       "Relu", "ConvTranspose", "BatchNormalization",
                                       "Relu", "ConvTranspose", "Tanh"};
    size_t n;
    uint8_t *b = read_file(path, &n);
    pb_field f, g;
    int nodes = 0;
    PB_EACH(f, b, n) if (f.num == 7) PB_EACH(g, f.data, f.len) {
        char op[32] = "";
        if (g.num != 1) continue;
        check_node(&g, op, sizeof op);
        ck_assert_int_lt(nodes, 9);
        ck_assert_str_eq(op, want[nodes++]);
        if (!strcmp(op, "ConvTranspose")) check_conv_transpose(&g, nodes == 8);
    }
    ck_assert_int_eq(nodes, 9);
    free(b);
    lt_model_free(m);
    unlink(w);
    unlink(path);
    rmdir(tmp);
}
END_TEST

START_TEST(load_weights_refuses_bad_hparams) {
    const char *hp[] = {"hidden", NULL}, *err = NULL;
    lt_model_t *m = lt_model_load_weights("/nonexistent.safetensors", getenv("LT_TEST_MLP_PLUGIN"),
                                          hp, NULL, &err);
    ck_assert_ptr_null(m);
    ck_assert_ptr_nonnull(strstr(err, "'hidden' is not name=value"));
    ck_assert_ptr_null(lt_model_load_weights(NULL, "mlp", NULL, NULL, &err));
}
END_TEST

Suite *suite_export(void) {
    Suite *s = suite_create("export");
    TCase *tc = tcase_create("onnx");
    tcase_add_test(tc, export_mlp_reads_back);
    tcase_add_test(tc, export_refuses_bad_arguments);
    tcase_add_test(tc, load_weights_refuses_bad_hparams);
    tcase_add_test(tc, export_conv_transpose_reads_back);
    suite_add_tcase(s, tc);
    return s;
}
