/* `lthost export`: a trained module as an ONNX model (Lightning's to_onnx), through the
 * C API: lt_model_load_ex (a checkpoint) or lt_model_load_weights (a plain state dict),
 * then lt_model_export_onnx.
 *
 *   lthost export --module mlp --ckpt_path C --input_shape 1,784 --output model.onnx
 *       [--submodule encoder] [--dynamic_batch true] [--opset 17] [--format onnx]
 *       [--init_weights W.safetensors --model.NAME VALUE ...] [--accel cpu] [--strict true] */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lt/model.h>

#include "host.h"

enum { EXPORT_MAX_HPARAMS = 64 };

typedef struct export_args {
    const char *module, *ckpt, *weights, *format, *output, *submodule, *accel;
    int64_t shape[LT_MAX_DIMS];
    int ndim;
    bool dynamic, strict;
    int opset;
    lt_dtype input_dtype;                  /* --input_dtype float32|int64 */
    char *hparams[EXPORT_MAX_HPARAMS + 1]; /* "name=value", owned */
    int nhparams;
} export_args;

static void export_usage(FILE *out) {
    fprintf(out,
            "usage: lthost export --module NAME|PATH (--ckpt_path CKPT | --init_weights "
            "W.safetensors [--model.NAME VALUE ...])\n"
            "                     --input_shape 1,784 [--output model.onnx] [--format onnx]\n"
            "                     [--submodule NAME] [--dynamic_batch true] [--opset 13..21]\n"
            "                     [--input_dtype float32|int64] [--accel cpu] [--strict true]\n\n"
            "Runs the module's forward (or the submodule's) once on a random input of "
            "--input_shape,\nin eval mode, and writes it as an ONNX model; weights become "
            "initializers named as in\nthe state dict. --dynamic_batch true names dimension 0 "
            "'batch'. See docs/export.md.\n");
}

/* "1,784" -> shape; false after an error line. */
static bool parse_shape(const char *text, export_args *a) {
    a->ndim = 0;
    for (const char *p = text; *p;) {
        char *end;
        errno = 0;
        long long v = strtoll(p, &end, 10);
        if (end == p || errno || v < 1 || (*end && *end != ',') || a->ndim == LT_MAX_DIMS) {
            host_error("--input_shape %s: expected 1 to %d positive sizes separated by commas, "
                       "as in --input_shape 1,784",
                       text, LT_MAX_DIMS);
            return false;
        }
        a->shape[a->ndim++] = v;
        p = *end ? end + 1 : end;
    }
    if (a->ndim > 0) return true;
    host_error("--input_shape is empty; give the example input's sizes, as in 1,784");
    return false;
}

static bool parse_bool(const char *name, const char *v, bool *out) {
    if (!strcmp(v, "true") || !strcmp(v, "1")) return *out = true;
    if (!strcmp(v, "false") || !strcmp(v, "0")) return !(*out = false);
    host_error("--%s expects true or false, got '%s'", name, v);
    return false;
}

static bool parse_opset(const char *v, int *out) {
    char *end;
    long n = strtol(v, &end, 10);
    if (*v && !*end && n >= 13 && n <= 21) {
        *out = (int)n;
        return true;
    }
    host_error("--opset %s: give an ONNX opset from 13 to 21 (default 17)", v);
    return false;
}

/* --input_dtype: float32 (images, features) or int64 (token ids). */
static bool parse_dtype(const char *v, lt_dtype *out) {
    if (!strcmp(v, "float32") || !strcmp(v, "int64")) {
        *out = strcmp(v, "int64") ? LT_F32 : LT_I64;
        return true;
    }
    host_error("--input_dtype %s: give float32 (the default) or int64 (token ids)", v);
    return false;
}

static bool add_hparam(export_args *a, const char *name, const char *value) {
    if (a->nhparams == EXPORT_MAX_HPARAMS) {
        host_error("too many --model.NAME flags (at most %d)", EXPORT_MAX_HPARAMS);
        return false;
    }
    size_t n = strlen(name) + strlen(value) + 2;
    char *kv = malloc(n);
    if (!kv) {
        host_error("out of host memory");
        return false;
    }
    snprintf(kv, n, "%s=%s", name, value);
    a->hparams[a->nhparams++] = kv;
    return true;
}

/* The string flags, by name. */
static const char **string_flag(export_args *a, const char *name) {
    static const char *const names[] = {"module", "ckpt_path", "init_weights", "format",
                                        "output", "submodule", "accel",        "accelerator"};
    const char **slots[] = {&a->module, &a->ckpt,      &a->weights, &a->format,
                            &a->output, &a->submodule, &a->accel,   &a->accel};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        if (!strcmp(name, names[i])) return slots[i];
    return NULL;
}

static bool apply_flag(export_args *a, const char *name, const char *value) {
    const char **slot = string_flag(a, name);
    if (slot) {
        *slot = value;
        return true;
    }
    if (!strcmp(name, "input_shape")) return parse_shape(value, a);
    if (!strcmp(name, "dynamic_batch")) return parse_bool(name, value, &a->dynamic);
    if (!strcmp(name, "strict")) return parse_bool(name, value, &a->strict);
    if (!strcmp(name, "opset")) return parse_opset(value, &a->opset);
    if (!strcmp(name, "input_dtype")) return parse_dtype(value, &a->input_dtype);
    if (!strncmp(name, "model.", 6) && name[6]) return add_hparam(a, name + 6, value);
    host_error(
        "unknown flag --%s for lthost export (flags: --module, --ckpt_path, "
        "--init_weights, --model.NAME, --input_shape, --output, --format, --submodule, "
        "--dynamic_batch, --opset, --input_dtype, --accel, --strict; see lthost export --help)",
        name);
    return false;
}

static bool parse_args(int argc, char **argv, export_args *a) {
    for (int i = 0; i < argc; i++) {
        if (strncmp(argv[i], "--", 2) || !argv[i][2]) {
            host_error("unexpected argument '%s'; flags look like --output model.onnx", argv[i]);
            return false;
        }
        char name[128];
        const char *eq = strchr(argv[i] + 2, '='), *value;
        size_t n = eq ? (size_t)(eq - argv[i] - 2) : strlen(argv[i] + 2);
        snprintf(name, sizeof name, "%.*s", (int)n, argv[i] + 2);
        if (eq)
            value = eq + 1;
        else if (i + 1 < argc)
            value = argv[++i];
        else {
            host_error("--%s needs a value (see lthost export --help)", name);
            return false;
        }
        if (!apply_flag(a, name, value)) return false;
    }
    return true;
}

/* What the parsed flags still lack or combine wrongly; false after an error line. */
static bool check_args(const export_args *a) {
    const char *why =
        !a->module                  ? "needs --module NAME|PATH (try --module mlp)"
        : !a->ckpt == !a->weights   ? "needs the weights: --ckpt_path CKPT or --init_weights "
                                      "W.safetensors (one of them)"
        : a->ckpt && a->nhparams    ? "--model.NAME goes with --init_weights; a checkpoint "
                                      "carries its own hyper-parameters"
        : strcmp(a->format, "onnx") ? "--format: only onnx is supported"
        : !a->ndim                  ? "needs --input_shape (the example input's sizes, e.g. "
                                      "1,784 for mlp, 1,1,28,28 for cnn)"
                                    : NULL;
    if (why) host_error("lthost export %s", why);
    return !why;
}

/* A bare plugin name as lthost finds it (the build tree included), as a path. */
static char *plugin_file(const host_config *cfg, lt_plugin_kind kind, const char *name) {
    lt_plugin_t *p = NULL;
    if (!host_open_plugin(cfg, kind, name, &p)) return NULL;
    char *path = strdup(lt_plugin_path(p));
    lt_plugin_close(p);
    if (!path) host_error("out of host memory");
    return path;
}

static lt_model_t *load_model(const export_args *a, const char *module, const char *accel) {
    lt_model_opts o = LT_MODEL_OPTS(.accel = accel, .submodule = a->submodule);
    o.strict = a->strict;
    const char *err = NULL;
    lt_model_t *m = a->ckpt ? lt_model_load_ex(a->ckpt, module, &o, &err)
                            : lt_model_load_weights(a->weights, module,
                                                    (const char *const *)a->hparams, &o, &err);
    if (!m)
        host_error("%s %s: %s", a->ckpt ? "--ckpt_path" : "--init_weights",
                   a->ckpt ? a->ckpt : a->weights, err);
    return m;
}

static int run_export(const host_config *cfg, const export_args *a) {
    char *module = plugin_file(cfg, LT_PLUGIN_MODULE, a->module);
    char *accel = module ? plugin_file(cfg, LT_PLUGIN_ACCELERATOR, a->accel) : NULL;
    lt_model_t *m = accel ? load_model(a, module, accel) : NULL;
    int rc = 1;
    if (m) {
        lt_onnx_opts o =
            LT_ONNX_OPTS(.ndim = a->ndim, .input_shape = a->shape, .dynamic_batch = a->dynamic,
                         .opset = a->opset, .input_dtype = a->input_dtype);
        const char *err = NULL;
        if (lt_model_export_onnx(m, a->output, &o, &err) == LT_OK) {
            printf("Exported %s%s%s to %s (ONNX opset %d%s)\n", a->module, a->submodule ? "." : "",
                   a->submodule ? a->submodule : "", a->output, a->opset ? a->opset : 17,
                   a->dynamic ? ", dynamic batch" : "");
            rc = 0;
        } else {
            host_error("export to %s: %s", a->output, err);
        }
    }
    lt_model_free(m);
    free(module);
    free(accel);
    return rc;
}

int export_command(const host_config *cfg, int argc, char **argv) {
    for (int i = 0; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            export_usage(stdout);
            return 0;
        }
    export_args a = {.format = "onnx", .output = "model.onnx", .accel = "cpu", .strict = true};
    int rc = parse_args(argc, argv, &a) && check_args(&a) ? run_export(cfg, &a) : 2;
    for (int i = 0; i < a.nhparams; i++) free(a.hparams[i]);
    return rc;
}
