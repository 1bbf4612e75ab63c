/* lt_model_export_onnx: run the model's forward once with every op recorded on the tape
 * (the arena's record_all: also ops on tensors that need no gradient, such as a
 * buffer's reshape), then turn the nodes that lead to the output into ONNX nodes.
 *
 * A value that no recorded op made and that is neither the input nor a parameter or
 * buffer is a constant of the forward (lt_full, lt_from_host). The forward therefore
 * runs twice, on two different inputs: a "constant" that changes with the input came
 * from an op the tape does not record (lt_detach, argmax), and baking it in would be
 * wrong, so that is an error. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "onnx_impl.h"

enum { ONNX_DEFAULT_OPSET = 17, ONNX_MIN_OPSET = 13, ONNX_MAX_OPSET = 21 };
#define EXAMPLE_MAX_NUMEL ((int64_t)1 << 28)
/* lt_onnx_opts before input_dtype: callers built then still work (float32 input). */
#define ONNX_OPTS_1_0_SIZE offsetof(lt_onnx_opts, input_dtype)

/* ---- arguments ------------------------------------------------------------------------ */

static lt_status check_shape(const lt_onnx_opts *o) {
    if (o->ndim < 1 || o->ndim > LT_MAX_DIMS || !o->input_shape)
        return lt_set_error(LT_ERR_INVALID_ARG,
                            "lt_model_export_onnx: give the example input's shape (1 to %d "
                            "sizes, e.g. --input_shape 1,784)",
                            LT_MAX_DIMS);
    int64_t numel = 1;
    for (int i = 0; i < o->ndim; i++) {
        int64_t d = o->input_shape[i];
        if (d < 1 || d > EXAMPLE_MAX_NUMEL || numel > EXAMPLE_MAX_NUMEL / d)
            return lt_set_error(LT_ERR_INVALID_ARG,
                                "lt_model_export_onnx: input shape size %d is %lld; every size "
                                "must be >= 1 and the input at most 2^28 elements",
                                i, (long long)d);
        numel *= d;
    }
    return LT_OK;
}

static lt_status check_args(const lt_model_t *m, const char *path, const lt_onnx_opts *o) {
    if (!m || !path || !*path || !o)
        return lt_set_error(LT_ERR_INVALID_ARG,
                            "lt_model_export_onnx: the model, a path and opts are required");
    if (o->struct_size < ONNX_OPTS_1_0_SIZE || o->struct_size > sizeof *o)
        return lt_set_error(LT_ERR_ABI,
                            "lt_model_export_onnx: opts.struct_size is %u, expected %zu to "
                            "%zu; initialise it with LT_ONNX_OPTS()",
                            o->struct_size, ONNX_OPTS_1_0_SIZE, sizeof *o);
    if (o->opset && (o->opset < ONNX_MIN_OPSET || o->opset > ONNX_MAX_OPSET))
        return lt_set_error(LT_ERR_INVALID_ARG,
                            "lt_model_export_onnx: opset %d is not supported; give %d to %d "
                            "(0: %d)",
                            o->opset, ONNX_MIN_OPSET, ONNX_MAX_OPSET, ONNX_DEFAULT_OPSET);
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
        return lt_set_error(LT_ERR_INVALID_ARG,
                            "lt_model_export_onnx: %s is a directory; give a file name such "
                            "as %s/model.onnx",
                            path, path);
    return check_shape(o);
}

/* After the caller's fields were copied (input_dtype is 1.1's). */
static lt_status check_dtype(const lt_onnx_opts *o) {
    if (o->input_dtype == LT_F32 || o->input_dtype == LT_I64) return LT_OK;
    return lt_set_error(LT_ERR_INVALID_ARG,
                        "lt_model_export_onnx: input_dtype %d is not supported; give LT_F32 or "
                        "LT_I64 (token ids, --input_dtype int64)",
                        (int)o->input_dtype);
}

/* ---- the traced run ---------------------------------------------------------------------- */

/* n floats in [-1, 1) from a xorshift generator: the example input. */
static void fill_example(float *x, int64_t n, uint64_t seed) {
    for (int64_t i = 0; i < n; i++) {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        x[i] = (float)((double)(seed >> 11) / (double)(1ull << 53) * 2.0 - 1.0);
    }
}

/* The example input of shape made from seed: floats in [-1, 1), or int64 0s and 1s. */
static lt_tensor_t *example_input(lt_model_t *m, lt_dtype dt, int ndim, const int64_t *shape,
                                  uint64_t seed) {
    int64_t numel = 1;
    for (int i = 0; i < ndim; i++) numel *= shape[i];
    float *host = malloc((size_t)numel * sizeof(int64_t));
    if (!host) {
        lt_set_error(LT_ERR_OOM, "lt_model_export_onnx: out of host memory for the input");
        return NULL;
    }
    fill_example(host, numel, seed);
    lt_tensor_t *x = NULL;
    if (dt == LT_I64) {
        int64_t *ids = (int64_t *)(void *)host;
        for (int64_t i = numel; i-- > 0;) ids[i] = host[i] >= 0.0f; /* back to front: in place */
        lt_arena_t *a = lt_ctx_arena(lt__model_ctx(m));
        lt_arena_reset(a);
        x = lt_from_host(a, LT_I64, ndim, shape, ids);
    } else {
        x = lt_model_input(m, ndim, shape, host);
    }
    free(host);
    return x;
}

/* The forward on an example input *x of shape made from seed, every op recorded; NULL on
 * error. */
static lt_tensor_t *traced_forward(lt_model_t *m, lt_dtype dt, int ndim, const int64_t *shape,
                                   uint64_t seed, const lt_tensor_t **input) {
    lt_tensor_t *x = example_input(m, dt, ndim, shape, seed);
    if (!(*input = x)) return NULL;
    lt_ctx_t *ctx = lt__model_ctx(m);
    lt_arena_t *a = lt_ctx_arena(ctx);
    bool grad = lt_arena_set_grad(a, true);
    a->record_all = true;
    lt_clear_error();
    lt_tensor_t *y = lt__model_forward_fn(m)(ctx, lt_ctx_self(ctx), x);
    a->record_all = false;
    lt_arena_set_grad(a, grad);
    if (!y) {
        char why[512];
        snprintf(why, sizeof why, "%s", *lt_last_error() ? lt_last_error() : "returned nothing");
        lt_set_error(lt_last_status() ? lt_last_status() : LT_ERR_STATE,
                     "lt_model_export_onnx: %s.forward on the example input: %s", lt__model_name(m),
                     why);
    }
    return y;
}

/* ---- which nodes lead to the output ------------------------------------------------------ */

typedef struct tensor_set {
    const lt_tensor_t **items;
    size_t n;
} tensor_set;

static bool set_has(const tensor_set *s, const lt_tensor_t *t) {
    for (size_t i = s->n; i-- > 0;)
        if (s->items[i] == t) return true;
    return false;
}

/* live[i]: node i's output is used on the way to y. Walking down the tape, a node is
 * live when its output is needed, and then its inputs are. The set holds at most one
 * entry per node input (and extra input) plus y. */
static bool *live_nodes(lt_arena_t *a, const lt_tensor_t *y, tensor_set *need) {
    size_t n = a->nodes.used;
    bool *live = calloc(n ? n : 1, sizeof *live);
    need->items = calloc((LT_NODE_MAX_IN + 1) * n + 1, sizeof *need->items);
    if (!live || !need->items) {
        free(live);
        lt_set_error(LT_ERR_OOM, "lt_model_export_onnx: out of host memory walking the tape");
        return NULL;
    }
    need->items[need->n++] = y;
    for (size_t i = n; i-- > 0;) {
        const lt_node *node = lt__slab_get(&a->nodes, i);
        if (!set_has(need, node->out)) continue;
        live[i] = true;
        const lt_tensor_t *in[LT_NODE_MAX_IN + 1] = {node->in[0], node->in[1], node->in[2],
                                                     lt__onnx_extra_input(node)};
        for (int k = 0; k <= LT_NODE_MAX_IN; k++)
            if (in[k] && !set_has(need, in[k])) need->items[need->n++] = in[k];
    }
    return live;
}

/* ---- constants: the same on a second input ------------------------------------------------ */

/* Whether t is a constant of the traced graph: no live node made it, and it is neither
 * the input nor a parameter or buffer. */
static bool is_constant(lt_arena_t *a, const bool *live, const lt_tensor_t *t, const onnx_exp *e) {
    if (!t || t == e->input || t->persistent) return false;
    for (size_t i = 0; i < a->nodes.used; i++)
        if (live[i] && ((const lt_node *)lt__slab_get(&a->nodes, i))->out == t) return false;
    return true;
}

/* Host copies of the constants, in tape order; the caller frees the array and each. */
typedef struct const_list {
    void **vals;
    size_t *nbytes;
    const char **used_by;
    int n;
} const_list;

static void const_list_free(const_list *c) {
    for (int i = 0; i < c->n; i++) free(c->vals[i]);
    free(c->vals);
    free(c->nbytes);
    free(c->used_by);
}

static lt_status collect_constants(lt_arena_t *a, const bool *live, const onnx_exp *e,
                                   const_list *c) {
    size_t cap = (LT_NODE_MAX_IN + 1) * a->nodes.used + 1;
    c->vals = calloc(cap, sizeof *c->vals);
    c->nbytes = calloc(cap, sizeof *c->nbytes);
    c->used_by = calloc(cap, sizeof *c->used_by);
    if (!c->vals || !c->nbytes || !c->used_by) goto oom;
    for (size_t i = 0; i < a->nodes.used; i++) {
        const lt_node *n = lt__slab_get(&a->nodes, i);
        const lt_tensor_t *in[LT_NODE_MAX_IN + 1] = {n->in[0], n->in[1], n->in[2],
                                                     lt__onnx_extra_input(n)};
        for (int k = 0; live[i] && k <= LT_NODE_MAX_IN; k++) {
            const lt_tensor_t *t = in[k];
            if (!is_constant(a, live, t, e)) continue;
            size_t nbytes = (size_t)t->numel * lt__dtype_size(t->dtype);
            void *v = malloc(nbytes ? nbytes : 1);
            if (!v) goto oom;
            c->vals[c->n] = v;
            c->nbytes[c->n] = nbytes;
            c->used_by[c->n++] = n->op;
            if (lt_to_host(t, v, nbytes) != LT_OK) return lt_last_status();
        }
    }
    return LT_OK;
oom:
    return lt_set_error(LT_ERR_OOM, "lt_model_export_onnx: out of host memory");
}

/* The second run's constants must equal the first's. */
static lt_status compare_constants(const const_list *c1, const const_list *c2) {
    for (int i = 0; i < c1->n && i < c2->n; i++) {
        char op[64];
        lt__onnx_op_key(c1->used_by[i], op, sizeof op);
        bool same =
            c1->nbytes[i] == c2->nbytes[i] && !memcmp(c1->vals[i], c2->vals[i], c1->nbytes[i]);
        if (!same)
            return lt_set_error(LT_ERR_UNSUPPORTED,
                                "lt_model_export_onnx: an input of op '%s' changes with the "
                                "model's input (or its batch size) but no recorded op made it "
                                "(lt_detach, argmax, lt_full sized from the input), so it "
                                "cannot be exported",
                                op);
    }
    if (c1->n == c2->n) return LT_OK;
    return lt_set_error(LT_ERR_UNSUPPORTED,
                        "lt_model_export_onnx: the forward records other ops on another input "
                        "(data-dependent control flow), so it cannot be exported as one graph");
}

/* ---- the two runs' shapes ---------------------------------------------------------------- */

/* After the first run: every node output's shape. */
static lt_status record_shapes(lt_arena_t *a, onnx_exp *e) {
    e->nother = a->nodes.used;
    e->other = calloc(e->nother ? e->nother : 1, sizeof *e->other);
    if (!e->other) return lt_set_error(LT_ERR_OOM, "lt_model_export_onnx: out of host memory");
    for (size_t i = 0; i < e->nother; i++) {
        const lt_tensor_t *t = ((const lt_node *)lt__slab_get(&a->nodes, i))->out;
        e->other[i].ndim = t->ndim;
        memcpy(e->other[i].shape, t->shape, sizeof t->shape);
    }
    return LT_OK;
}

/* After the second: the same ops in the same order, each shape tied to its tensor. */
static lt_status match_shapes(lt_arena_t *a, onnx_exp *e) {
    bool same = a->nodes.used == e->nother;
    for (size_t i = 0; same && i < e->nother; i++) {
        const lt_tensor_t *t = ((const lt_node *)lt__slab_get(&a->nodes, i))->out;
        e->other[i].t = t;
        same = t->ndim == e->other[i].ndim;
    }
    if (same) return LT_OK;
    return lt_set_error(LT_ERR_UNSUPPORTED,
                        "lt_model_export_onnx: the forward records other ops on another input "
                        "(data-dependent control flow), so it cannot be exported as one graph");
}

/* ---- the export ------------------------------------------------------------------------- */

/* Each live node as ONNX nodes; the output named "output" (an Identity when no node
 * made it: the forward returned its input or a parameter). */
static lt_status emit_graph(onnx_exp *e, lt_arena_t *a, const bool *live) {
    for (size_t i = 0; i < a->nodes.used; i++) {
        if (!live[i]) continue;
        lt_status s = lt__onnx_emit(e, lt__slab_get(&a->nodes, i));
        if (s != LT_OK) return s;
        e->nnodes++;
    }
    const char *y = lt__onnx_use(e, e->output);
    if (!y) return lt_last_status();
    if (strcmp(y, "output")) {
        const char *out = lt__onnx_define(e, e->output);
        if (!out) return lt_last_status();
        lt__onnx_node(e, "Identity", &y, 1, out, NULL, 0);
    }
    return LT_OK;
}

/* One traced run: its output, the live nodes, the constants and (first run) the shapes. */
typedef struct traced_run {
    lt_tensor_t *y;
    bool *live;
    tensor_set need;
    const_list consts;
} traced_run;

static void run_free(traced_run *r) {
    free(r->live);
    free(r->need.items);
    const_list_free(&r->consts);
}

static lt_status trace_run(lt_model_t *m, const int64_t *shape, int ndim, uint64_t seed,
                           onnx_exp *e, traced_run *r) {
    lt_arena_t *a = lt_ctx_arena(e->ctx);
    r->y = traced_forward(m, e->input_dtype, ndim, shape, seed, &e->input);
    r->live = r->y ? live_nodes(a, r->y, &r->need) : NULL;
    if (!r->live) return lt_last_status();
    return collect_constants(a, r->live, e, &r->consts);
}

/* Trace on the other batch size (or the same shape) and then on the given one; write
 * the second. */
static lt_status export_traced(lt_model_t *m, const char *path, const lt_onnx_opts *o,
                               onnx_exp *e) {
    lt_arena_t *a = lt_ctx_arena(e->ctx);
    traced_run r1 = {0}, r2 = {0};
    int64_t shape1[LT_MAX_DIMS];
    memcpy(shape1, o->input_shape, (size_t)o->ndim * sizeof *shape1);
    shape1[0] += e->dynamic;
    lt_status s = trace_run(m, shape1, o->ndim, 0x9e3779b97f4a7c15ull, e, &r1);
    if (s == LT_OK) s = record_shapes(a, e);
    if (s == LT_OK) s = trace_run(m, o->input_shape, o->ndim, 0x2545f4914f6cdd1dull, e, &r2);
    if (s == LT_OK) s = match_shapes(a, e);
    if (s == LT_OK) s = compare_constants(&r1.consts, &r2.consts);
    e->output = r2.y;
    if (s == LT_OK && !lt__onnx_define(e, e->input)) s = lt_last_status();
    if (s == LT_OK) s = emit_graph(e, a, r2.live);
    if (s == LT_OK) s = lt__onnx_write_model(e, path, lt__model_name(m));
    run_free(&r1);
    run_free(&r2);
    return s;
}

lt_status lt_model_export_onnx(lt_model_t *m, const char *path, const lt_onnx_opts *opts,
                               const char **err) {
    lt_status s = check_args(m, path, opts);
    lt_onnx_opts o = {0}; /* the caller's fields; newer ones zero (their defaults) */
    if (s == LT_OK) memcpy(&o, opts, opts->struct_size);
    if (s == LT_OK && (s = check_dtype(&o)) == LT_OK) {
        onnx_exp e = {.ctx = lt__model_ctx(m),
                      .opset = o.opset ? o.opset : ONNX_DEFAULT_OPSET,
                      .dynamic = o.dynamic_batch,
                      .input_dtype = o.input_dtype};
        s = export_traced(m, path, &o, &e);
        lt__onnx_free(&e);
        lt_arena_reset(lt_ctx_arena(e.ctx)); /* the traced tensors are gone, as after an input */
    }
    if (err) *err = s == LT_OK ? NULL : lt_last_error();
    return s;
}
