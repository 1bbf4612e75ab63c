/* lt_model: a checkpoint and its module plugin, ready for inference in any program —
 * the module's own setup declares the parameters, the checkpoint fills them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lt/checkpoint.h>
#include <lt/model.h>
#include <lt/runtime.h>

#include "lt_impl.h"

struct lt_model {
    lt_plugin_t *plugin;
    const lt_module_desc *desc;
    lt_device_t *dev;
    lt_ctx_t *ctx;
    bool set_up;
    lt_forward_fn forward;
};

void lt_model_free(lt_model_t *m) {
    if (!m) return;
    if (m->set_up && m->desc->teardown) m->desc->teardown(m->ctx, lt_ctx_self(m->ctx));
    lt_ctx_free(m->ctx);
    lt_device_close(m->dev);
    lt_plugin_close(m->plugin);
    free(m);
}

lt_forward_fn lt_module_submodule(const lt_module_desc *desc, const char *name) {
    if (!desc || !name) {
        lt_set_error(LT_ERR_INVALID_ARG, "lt_module_submodule: NULL argument");
        return NULL;
    }
    char names[256] = "";
    size_t len = 0;
    for (const lt_submodule_desc *d = desc->submodules; d && d->name; d++) {
        if (!strcmp(d->name, name) && d->forward) return d->forward;
        len += (size_t)snprintf(names + len, len < sizeof names ? sizeof names - len : 0, "%s%s",
                                len ? ", " : "", d->name);
    }
    lt_set_error(LT_ERR_INVALID_ARG, "module '%s' has no such submodule (it declares: %s)",
                 desc->name, len ? names : "none; list them in .submodules of LT_MODULE_EXPORT");
    return NULL;
}

static lt_status pick_forward(lt_model_t *m, const char *submodule) {
    if (!submodule) {
        m->forward = m->desc->forward;
        if (m->forward) return LT_OK;
        return lt_set_error(LT_ERR_STATE,
                            "module '%s' has no forward hook to run; set .forward "
                            "in LT_MODULE_EXPORT",
                            m->desc->name);
    }
    if ((m->forward = lt_module_submodule(m->desc, submodule))) return LT_OK;
    char why[512];
    snprintf(why, sizeof why, "%s", lt_last_error());
    return lt_set_error(LT_ERR_INVALID_ARG, "submodule '%s': %s", submodule, why);
}

/* Where a model's hyper-parameters and weights come from: a checkpoint, or a plain
 * state dict (torch's save_file) with "name=value" hyper-parameters over the defaults. */
typedef struct model_source {
    const char *path; /* for messages */
    lt_ckpt_t *ckpt;
    const char *weights;
    const char *const *hparams;
} model_source;

static lt_status apply_hparams(lt_ctx_t *ctx, const char *const *hp) {
    for (; hp && *hp; hp++) {
        char name[128];
        const char *eq = strchr(*hp, '=');
        size_t n = eq ? (size_t)(eq - *hp) : 0;
        if (!eq || n == 0 || n >= sizeof name)
            return lt_set_error(LT_ERR_INVALID_ARG,
                                "lt_model_load_weights: hyper-parameter '%s' is not name=value",
                                *hp);
        memcpy(name, *hp, n);
        name[n] = '\0';
        lt_status s = lt_ctx_set_hparam(ctx, name, eq + 1);
        if (s != LT_OK) return s;
    }
    return LT_OK;
}

static lt_status model_setup(lt_model_t *m, const model_source *src, const lt_model_opts *o) {
    lt_status s = src->ckpt ? lt_ckpt_restore_hparams(src->ckpt, m->ctx)
                            : apply_hparams(m->ctx, src->hparams);
    if (s != LT_OK) return s;
    lt_clear_error();
    m->set_up = true;
    s = m->desc->setup ? m->desc->setup(m->ctx, lt_ctx_self(m->ctx)) : LT_OK;
    if (s != LT_OK)
        return lt_set_error(s, "%s.setup failed: %s", m->desc->name,
                            *lt_last_error() ? lt_last_error() : lt_status_str(s));
    s = lt_ctx_materialize(m->ctx);
    if (s == LT_OK)
        s = src->ckpt ? lt_ckpt_restore_weights(src->ckpt, m->ctx, o->strict)
                      : lt_load_weights_file(m->ctx, src->weights, o->strict);
    if (s == LT_OK) s = pick_forward(m, o->submodule);
    lt_ctx_set_training(m->ctx, false);
    return s;
}

static lt_status check_opts(const lt_model_opts *o, const char *who) {
    if (!o || o->struct_size >= sizeof *o) return LT_OK;
    return lt_set_error(LT_ERR_ABI,
                        "%s: opts.struct_size is %u, expected %zu; initialise it with "
                        "LT_MODEL_OPTS()",
                        who, o->struct_size, sizeof *o);
}

/* The module plugin set up from src (which the caller owns); NULL + error. */
static lt_model_t *model_build(const model_source *src, const char *module_path,
                               const lt_model_opts *o) {
    lt_model_opts defaults = LT_MODEL_OPTS();
    if (!o) o = &defaults;
    lt_model_t *m = calloc(1, sizeof *m);
    if (!m) {
        lt_set_error(LT_ERR_OOM, "out of host memory loading %s", src->path);
        return NULL;
    }
    lt_status s = lt_plugin_open(LT_PLUGIN_MODULE, module_path, NULL, &m->plugin);
    if (s == LT_OK) {
        m->desc = lt_plugin_desc(m->plugin);
        s = lt_device_open(o->accel ? o->accel : "cpu", o->threads, &m->dev);
    }
    if (s == LT_OK) {
        m->ctx = lt_ctx_new(m->dev, m->desc->name, m->desc->hparams, m->desc->self_size, 0);
        s = m->ctx ? model_setup(m, src, o) : lt_last_status();
    }
    if (s != LT_OK) {
        char why[1024];
        snprintf(why, sizeof why, "%s", lt_last_error());
        lt_model_free(m);
        lt_set_error(s, "%s", why); /* teardown may have cleared it */
        return NULL;
    }
    return m;
}

static lt_model_t *model_open(const char *ckpt_path, const char *module_path,
                              const lt_model_opts *o) {
    if (!ckpt_path || !module_path) {
        lt_set_error(LT_ERR_INVALID_ARG,
                     "lt_model_load: the checkpoint and module paths are required");
        return NULL;
    }
    if (check_opts(o, "lt_model_load_ex") != LT_OK) return NULL;
    model_source src = {.path = ckpt_path};
    if (lt_ckpt_open(ckpt_path, &src.ckpt) != LT_OK) return NULL;
    lt_model_t *m = model_build(&src, module_path, o);
    lt_ckpt_free(src.ckpt);
    return m;
}

lt_model_t *lt_model_load_ex(const char *ckpt_path, const char *module_path,
                             const lt_model_opts *opts, const char **err) {
    lt_model_t *m = model_open(ckpt_path, module_path, opts);
    if (err) *err = m ? NULL : lt_last_error();
    return m;
}

lt_model_t *lt_model_load(const char *ckpt_path, const char *module_path, const char **err) {
    return lt_model_load_ex(ckpt_path, module_path, NULL, err);
}

lt_tensor_t *lt_model_input(lt_model_t *m, int ndim, const int64_t *shape, const float *data) {
    if (!m || !shape || !data) {
        lt_set_error(LT_ERR_INVALID_ARG, "lt_model_input: NULL argument");
        return NULL;
    }
    lt_arena_t *a = lt_ctx_arena(m->ctx);
    lt_arena_reset(a);
    return lt_from_host(a, LT_F32, ndim, shape, data);
}

lt_tensor_t *lt_model_forward(lt_model_t *m, lt_tensor_t *input) {
    if (!m || !input) {
        lt_set_error(LT_ERR_INVALID_ARG, "lt_model_forward: NULL argument");
        return NULL;
    }
    lt_arena_t *a = lt_ctx_arena(m->ctx);
    bool grad = lt_arena_set_grad(a, false);
    lt_clear_error();
    lt_tensor_t *y = m->forward(m->ctx, lt_ctx_self(m->ctx), input);
    lt_arena_set_grad(a, grad);
    if (!y && !*lt_last_error())
        lt_set_error(LT_ERR_STATE, "%s.forward returned nothing", m->desc->name);
    return y;
}

lt_model_t *lt_model_load_weights(const char *weights_path, const char *module_path,
                                  const char *const *hparams, const lt_model_opts *opts,
                                  const char **err) {
    lt_model_t *m = NULL;
    if (!weights_path || !module_path)
        lt_set_error(LT_ERR_INVALID_ARG,
                     "lt_model_load_weights: the weights and module paths are required");
    else if (check_opts(opts, "lt_model_load_weights") == LT_OK)
        m = model_build(
            &(model_source){.path = weights_path, .weights = weights_path, .hparams = hparams},
            module_path, opts);
    if (err) *err = m ? NULL : lt_last_error();
    return m;
}

const char *lt_model_hparam(lt_model_t *m, const char *name, char *buf, size_t n) {
    for (int i = 0; m && name && i < lt_ctx_hparam_count(m->ctx); i++)
        if (!strcmp(lt_ctx_hparam_desc(m->ctx, i)->name, name))
            return lt_ctx_hparam_text(m->ctx, i, buf, n);
    return NULL;
}

/* ---- ONNX export (issue #22): what sdk/src/export runs ------------------------------- */

lt_ctx_t *lt__model_ctx(lt_model_t *m) { return m->ctx; }
lt_forward_fn lt__model_forward_fn(lt_model_t *m) { return m->forward; }
const char *lt__model_name(const lt_model_t *m) { return m->desc->name; }
