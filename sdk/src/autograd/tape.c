/* Define-by-run autograd: every differentiable op appends a node to its arena's tape;
 * lt_backward walks the tape backwards. Nodes are created in execution order, so the
 * reverse of the tape is a valid topological order without building a graph. */
#include <stdint.h>
#include <stdlib.h>

#include "lt_impl.h"

lt_node *lt__record_op(lt_tensor_t *out, lt_backward_fn bw, const char *op, lt_tensor_t *a,
                       lt_tensor_t *b, lt_tensor_t *c) {
    lt_arena_t *arena = out->arena;
    if (arena->dev->detect_anomaly && !arena->in_backward && !lt__anomaly_forward(out)) return NULL;
    if (!arena->grad_enabled) return NULL;
    bool needs = arena->record_all || (a && a->requires_grad) || (b && b->requires_grad) ||
                 (c && c->requires_grad);
    if (!needs) return NULL;
    lt_node *n = lt__slab_push(&arena->nodes);
    if (!n) {
        lt_set_error(LT_ERR_OOM, "out of host memory recording the autograd tape");
        return NULL;
    }
    *n = (lt_node){.backward = bw, .op = op};
    n->out = out;
    n->in[0] = a;
    n->in[1] = b;
    n->in[2] = c;
    n->span = arena->dev->last_op;
    out->grad_fn = n;
    out->requires_grad = true;
    return n;
}

static void composite_bw(lt_node *n, lt_tensor_t *g) {
    (void)g;
    lt_set_error(LT_ERR_STATE, "%s was recorded for export and cannot be differentiated", n->op);
}

lt_node *lt__record_composite(lt_tensor_t *out, size_t mark, const char *op, lt_tensor_t *a,
                              lt_tensor_t *b, lt_tensor_t *c) {
    if (!out || !out->arena->record_all || mark > out->arena->nodes.used) return NULL;
    out->arena->nodes.used = mark; /* the parts' nodes are dropped; their tensors stay */
    return lt__record_op(out, composite_bw, op, a, b, c);
}

/* Nothing flows back through an export-only node (its input is integer data). */
static void export_only_bw(lt_node *n, lt_tensor_t *g) {
    (void)n;
    (void)g;
}

lt_node *lt__record_export_only(lt_tensor_t *out, const char *op, lt_tensor_t *saved) {
    if (!out || !out->arena->record_all) return NULL;
    lt_node *n = lt__record_op(out, export_only_bw, op, NULL, NULL, NULL);
    if (n) n->saved = saved;
    return n;
}

/* r = g viewed as (outer, mid, inner) summed over mid: one step of lt__sum_to. */
static void reduce_grad(lt_tensor_t *g, int64_t outer, int64_t mid, lt_tensor_t *r) {
    lt_device_t *dev = lt__dev(g);
    LT_KCALL(dev, "sum_to_size", g->numel, LT_F32B(g->numel + r->numel), reduce_sum, outer, mid,
             r->numel / outer, lt__f32(g), 1.0f, lt__f32(r));
}

lt_tensor_t *lt__sum_to(lt_tensor_t *g, int ndim, const int64_t *shape) {
    if (!g) return NULL;
    int lead = g->ndim - ndim;
    if (lead > 0) { /* leading dimensions the target lacks: sum them away */
        int64_t mid = 1;
        for (int i = 0; i < lead; i++) mid *= g->shape[i];
        lt_tensor_t *r = lt__tensor_new(g->arena, LT_F32, g->ndim - lead, g->shape + lead);
        if (!r) return NULL;
        reduce_grad(g, 1, mid, r);
        g = r;
    }
    for (int d = 0; d < ndim; d++) {
        if (shape[d] != 1 || g->shape[d] == 1) continue;
        int64_t outer = 1;
        for (int i = 0; i < d; i++) outer *= g->shape[i];
        int64_t rshape[LT_MAX_DIMS];
        for (int i = 0; i < g->ndim; i++) rshape[i] = i == d ? 1 : g->shape[i];
        lt_tensor_t *r = lt__tensor_new(g->arena, LT_F32, g->ndim, rshape);
        if (!r) return NULL;
        reduce_grad(g, outer, g->shape[d], r);
        g = r;
    }
    return g;
}

lt_status lt__zero_grad(lt_tensor_t *t) {
    if (!t->grad) {
        t->grad = lt__tensor_new_persistent(t->arena, LT_F32, t->ndim, t->shape);
        if (!t->grad) return lt_last_status();
    }
    lt_device_t *dev = lt__dev(t);
    LT_KCALL(dev, "zero_grad", 0, LT_F32B(t->grad->numel), fill, t->grad->numel, 0.0f,
             lt__f32(t->grad));
    return LT_OK;
}

bool lt__grad_overwrite(lt_tensor_t *t, bool *overwrite) {
    if (!t->grad) {
        t->grad = lt__tensor_new_persistent(t->arena, LT_F32, t->ndim, t->shape);
        if (!t->grad) return false;
        t->grad_lazy = true; /* new memory: the first write fills it */
    }
    *overwrite = t->grad_lazy;
    t->grad_lazy = false; /* the caller writes all of it now */
    return true;
}

void lt__grad_settle(lt_tensor_t *t) {
    if (!t || !t->grad || !t->grad_lazy) return;
    t->grad_lazy = false;
    lt_device_t *dev = lt__dev(t);
    LT_KCALL(dev, "zero_grad", 0, LT_F32B(t->grad->numel), fill, t->grad->numel, 0.0f,
             lt__f32(t->grad));
}

void lt__accum_grad(lt_tensor_t *t, lt_tensor_t *g) {
    if (!t || !g || !t->requires_grad) return;
    if (!lt__same_shape(t, g)) g = lt__sum_to(g, t->ndim, t->shape);
    if (!g) return;
    if (t->persistent) { /* a parameter: accumulate in place into its long-lived grad */
        bool first;
        if (!lt__grad_overwrite(t, &first)) return;
        lt_device_t *dev = lt__dev(t);
        if (first)
            LT_KCALL(dev, "accumulate_grad", 0, LT_F32B(2 * t->numel), memcpy_d2d, lt__f32(t->grad),
                     lt__f32(g), (size_t)t->numel * sizeof(float));
        else
            LT_KCALL(dev, "accumulate_grad", t->numel, LT_F32B(3 * t->numel), binary, LT_BIN_ADD,
                     t->numel, lt__f32(t->grad), lt__f32(g), lt__f32(t->grad), NULL);
    } else if (!t->grad || t->grad_lazy) {
        t->grad = g; /* may be shared with another input: never modified in place */
        t->grad_lazy = false;
    } else {
        t->grad = lt_add(t->grad, g);
    }
}

/* ---- the grad-ready hook (lt_ctx_set_grad_ready) ------------------------------------ */

/* A parameter of the ctx that owns arena a (a ctx's parameters point at its arena), whose
 * gradient lt__accum_grad will fill. */
static bool hooked_param(const lt_arena_t *a, const lt_tensor_t *t) {
    return t && t->param_id && t->arena == a && t->requires_grad;
}

/* Each parameter's ready_at = the lowest tape index of a node using it: after that node
 * no earlier node adds to its gradient. Walking down, the last write is the lowest. */
static void mark_ready_points(lt_arena_t *a) {
    for (size_t i = a->nodes.used; i-- > 0;) {
        lt_node *n = lt__slab_get(&a->nodes, i);
        for (int k = 0; k < LT_NODE_MAX_IN; k++)
            if (hooked_param(a, n->in[k])) n->in[k]->ready_at = i;
    }
}

/* After node i: report the parameters whose gradient it finished (also when the node was
 * skipped as off the loss's path: no earlier node can add to their gradient either). */
static void report_ready(lt_arena_t *a, const lt_node *n, size_t i) {
    for (int k = 0; k < LT_NODE_MAX_IN; k++) {
        lt_tensor_t *t = n->in[k];
        if (!hooked_param(a, t) || t->ready_at != i) continue;
        t->ready_at = SIZE_MAX; /* once, even when the node takes it twice (x * x) */
        if (a->grad_ready) a->grad_ready(a->grad_ready_user, t->param_id - 1);
    }
}

lt_status lt_backward(lt_tensor_t *loss) {
    if (!loss) return lt_last_status() ? lt_last_status() : LT_ERR_INVALID_ARG;
    if (!lt__check_live(loss, "lt_backward")) return lt_last_status();
    if (loss->numel != 1)
        return lt_set_error(LT_ERR_SHAPE,
                            "lt_backward: the loss must have one element, it has "
                            "%lld (reduce it with lt_mean or lt_sum)",
                            (long long)loss->numel);
    if (!loss->requires_grad)
        return lt_set_error(LT_ERR_STATE,
                            "lt_backward: the loss does not depend on any "
                            "parameter (was it computed under no_grad, or detached?)");
    lt_arena_t *a = loss->arena;
    for (size_t i = 0; i < a->tensors.used; i++) { /* forget a previous backward's results */
        lt_tensor_t *t = lt__slab_get(&a->tensors, i);
        if (t->grad_fn) t->grad = NULL;
    }
    bool prev = lt_arena_set_grad(a, false);
    lt_clear_error();
    /* 16-mixed: the GradScaler's scale rides on the seed, as torch's scaler.scale(loss) */
    loss->grad =
        lt_full(a, loss->ndim, loss->shape, a->backward_scale * lt__grad_scaler_seed(a->scaler));
    bool hook = a->grad_ready != NULL; /* without one, the walk costs nothing extra */
    a->in_backward = true;
    if (hook) mark_ready_points(a);
    for (size_t i = a->nodes.used; i-- > 0;) {
        lt_node *n = lt__slab_get(&a->nodes, i);
        if (n->out->grad) n->backward(n, n->out->grad);
        if (lt_last_status() != LT_OK || (a->dev->detect_anomaly && !lt__anomaly_backward(n)))
            break;
        if (hook) report_ready(a, n, i);
    }
    a->in_backward = false;
    lt_arena_set_grad(a, prev);
    return lt_last_status();
}
