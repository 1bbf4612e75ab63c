/* Classification losses with torch's options — nll_loss and cross_entropy with class
 * weights, ignore_index, reduction and label smoothing — composed of existing slots, so
 * every accelerator runs them and the tape differentiates them. The labels' one-hot rows
 * come from the cross_entropy_bwd slot ((prob - onehot) * dloss with prob 0 and dloss -1;
 * a label outside [0, C) gives a zero row on every accelerator), and picking a row's
 * class is a product with them, whose backward the tape has. An (N, C, d1..dK) input is
 * the (N d1..dK, C) rows of its class dimension moved last, as torch defines it. */
#include <stdio.h>

#include "lt_impl.h"

/* What the targets say, built outside autograd (no gradient flows into them). */
typedef struct class_targets {
    lt_tensor_t *pick; /* (N, C): weight[t_i] at (i, t_i), 0 elsewhere and on ignored rows */
    lt_tensor_t *wrow; /* (N): weight[t_i], 0 where ignored (torch's mean divides by its sum) */
    lt_tensor_t *keep; /* (N): 0 where t_i == ignore_index, else 1 */
    lt_tensor_t *bad;  /* (N): NaN where t_i is neither a class nor ignore_index, else 0;
                        * NULL when the labels were checked on the host */
} class_targets;

static bool weight_ok(const lt_tensor_t *w, int64_t c, const char *name) {
    if (!w) return true;
    if (!lt__check_live(w, name)) return false;
    if (w->dtype == LT_F32 && w->ndim == 1 && w->shape[0] == c) return true;
    char sw[96];
    lt_set_error(LT_ERR_SHAPE, "%s: weight must be float32 (C) = (%lld), got %s %s", name,
                 (long long)c, lt_dtype_name(w->dtype), lt__shape_str(w, sw, sizeof sw));
    return false;
}

/* Whether x is (N, C, d1..dK) (K >= 0) and t (N, d1..dK). */
static bool class_shapes_fit(const lt_tensor_t *x, const lt_tensor_t *t) {
    bool fits = x->ndim >= 2 && t->ndim == x->ndim - 1 && t->shape[0] == x->shape[0];
    for (int d = 1; fits && d < t->ndim; d++) fits = t->shape[d] == x->shape[d + 1];
    return fits;
}

static void class_shape_error(const lt_tensor_t *x, const lt_tensor_t *t, const char *name) {
    char sx[96], st[96];
    lt_set_error(LT_ERR_SHAPE,
                 "%s: expected input (N, C) and target (N), or input (N, C, d1, ..., dK) and "
                 "target (N, d1, ..., dK), got %s and %s",
                 name, lt__shape_str(x, sx, sizeof sx), lt__shape_str(t, st, sizeof st));
}

/* input (N, C, d1..dK) float32 (K >= 0), target (N, d1..dK) int64, weight (C) or NULL, a
 * known reduction. */
static bool class_args_ok(const lt_tensor_t *x, const lt_tensor_t *t, const lt_tensor_t *w,
                          lt_reduction r, const char *name) {
    if (!lt__check_f32(x, name) || !lt__check_live(t, name)) return false;
    if (t->dtype != LT_I64) {
        lt_set_error(LT_ERR_DTYPE, "%s: target must be int64 class indices, got %s", name,
                     lt_dtype_name(t->dtype));
        return false;
    }
    if (!class_shapes_fit(x, t) || x->shape[1] < 1) {
        class_shape_error(x, t, name);
        return false;
    }
    return lt__check_reduction(r, name) && weight_ok(w, x->shape[1], name);
}

/* The checked (N, C, d1..dK) input and its (N, d1..dK) target as (N d1..dK, C) rows and
 * (N d1..dK) labels: the class dimension moved last (a copy the tape differentiates), so
 * the (N, C) code and the accelerators' (rows, C) slots serve every K. */
typedef struct class_rows {
    lt_tensor_t *x, *t;
    int64_t per_sample; /* d1 * .. * dK: positions per sample, 1 for (N, C) */
} class_rows;

static bool as_rows(lt_tensor_t *x, lt_tensor_t *t, class_rows *cr) {
    cr->x = x, cr->t = t, cr->per_sample = 1;
    if (x->ndim == 2) return true;
    int perm[LT_MAX_DIMS];
    perm[0] = 0;
    for (int d = 2; d < x->ndim; d++) perm[d - 1] = d;
    perm[x->ndim - 1] = 1;
    int64_t rows[2] = {t->numel, x->shape[1]};
    cr->per_sample = x->shape[0] > 0 ? t->numel / x->shape[0] : 0;
    cr->x = lt_reshape(lt_permute(x, perm), 2, rows);
    cr->t = lt_reshape(t, 1, &t->numel);
    return cr->x && cr->t;
}

bool lt__class_rows(lt_tensor_t *x, lt_tensor_t *t, lt_tensor_t **xr, lt_tensor_t **tr,
                    const char *name) {
    if (!lt__check_f32(x, name) || !lt__check_live(t, name)) return false;
    if (!class_shapes_fit(x, t)) {
        class_shape_error(x, t, name);
        return false;
    }
    class_rows cr;
    if (!as_rows(x, t, &cr)) return false;
    *xr = cr.x, *tr = cr.t;
    return true;
}

/* A NONE reduction's (N d1..dK) losses back in the target's shape. */
static lt_tensor_t *target_shaped(lt_tensor_t *out, const lt_tensor_t *t, lt_reduction r) {
    return r == LT_REDUCTION_NONE && out && t->ndim != 1 ? lt_reshape(out, t->ndim, t->shape) : out;
}

/* On a device whose memory the CPU reads: the first label that is neither a class nor
 * ignore_index, as a clear error. */
static bool labels_in_range(const class_rows *cr, int64_t c, int64_t ignore, const char *name) {
    const int64_t *l = (const int64_t *)lt__data(cr->t);
    for (int64_t i = 0; i < cr->t->numel; i++) {
        if ((l[i] >= 0 && l[i] < c) || l[i] == ignore) continue;
        char at[48] = "";
        if (cr->per_sample > 1)
            snprintf(at, sizeof at, " (position %lld)", (long long)(i % cr->per_sample));
        lt_set_error(LT_ERR_INVALID_ARG,
                     "%s: target %lld of sample %lld%s is outside [0, %lld) and is not "
                     "ignore_index (%lld): the data's classes do not match the model's outputs",
                     name, (long long)l[i], (long long)(i / cr->per_sample), at, (long long)c,
                     (long long)ignore);
        return false;
    }
    return true;
}

/* (N, C) one-hot rows of the labels (zero rows for labels outside [0, C)). */
static lt_tensor_t *onehot(lt_tensor_t *t, int64_t c) {
    int64_t n = t->shape[0], shape[2] = {n, c};
    lt_arena_t *a = t->arena;
    lt_tensor_t *zero = lt_zeros(a, LT_F32, 2, shape), *minus1 = lt_full(a, 1, &n, -1.0f);
    lt_tensor_t *oh = minus1 ? lt__tensor_new(a, LT_F32, 2, shape) : NULL;
    if (!zero || !oh) return NULL;
    lt_device_t *dev = lt__dev(t);
    LT_KCALL(dev, "one_hot", (double)(n * c), LT_F32B(2 * n * c + n) + 8.0 * (double)n,
             cross_entropy_bwd, n, c, lt__f32(zero), (const int64_t *)lt__data(t), lt__f32(minus1),
             lt__f32(oh));
    return oh;
}

/* (N) float: 1 where t_i == ignore_index. The int64 constant goes up in stack-sized
 * pieces, so a step allocates nothing on the host. */
static lt_tensor_t *is_ignored(lt_tensor_t *t, int64_t ignore) {
    int64_t n = t->shape[0], chunk[256];
    lt_tensor_t *ign = lt__tensor_new(t->arena, LT_I64, 1, &n);
    lt_tensor_t *eq = ign ? lt__tensor_new(t->arena, LT_F32, 1, &n) : NULL;
    if (!eq) return NULL;
    for (int k = 0; k < 256; k++) chunk[k] = ignore;
    lt_device_t *dev = lt__dev(t);
    for (int64_t i = 0; i < n; i += 256) {
        int64_t m = n - i < 256 ? n - i : 256;
        LT_KCALL(dev, "memcpy_h2d", 0, 8.0 * (double)m, memcpy_h2d, (int64_t *)lt__data(ign) + i,
                 chunk, (size_t)m * sizeof *chunk);
    }
    LT_KCALL(dev, "eq", (double)n, 20.0 * (double)n, eq_i64, n, (const int64_t *)lt__data(t),
             (const int64_t *)lt__data(ign), lt__f32(eq));
    return eq;
}

/* (1, C) ones with a 0 at class k: drops an ignore_index that names a class. */
static lt_tensor_t *all_but(lt_arena_t *a, int64_t c, int64_t k) {
    int64_t shape[2] = {1, c};
    lt_tensor_t *m = lt_full(a, 2, shape, 1.0f);
    if (!m) return NULL;
    const float zero = 0.0f;
    lt_device_t *dev = a->dev;
    LT_KCALL(dev, "memcpy_h2d", 0, 4.0, memcpy_h2d, lt__f32(m) + k, &zero, sizeof zero);
    return m;
}

static bool build_targets(lt_tensor_t *t, lt_tensor_t *w, int64_t c, int64_t ignore,
                          class_targets *ct) {
    int64_t cs[2] = {1, c};
    lt_tensor_t *oh = onehot(t, c), *eq = is_ignored(t, ignore);
    ct->keep = lt_neg(lt_add_scalar(eq, -1.0f)); /* 1 - eq */
    ct->pick = ignore >= 0 && ignore < c ? lt_mul(oh, all_but(t->arena, c, ignore)) : oh;
    if (w) ct->pick = lt_mul(ct->pick, lt_reshape(w, 2, cs));
    ct->wrow = lt_sum_dim(ct->pick, 1, false);
    ct->bad = NULL;
    if (!lt__dev(t)->k.host_memory) { /* 0 / 0 where a row has neither a class nor ignore */
        lt_tensor_t *known = lt_add(lt_sum_dim(oh, 1, false), eq);
        ct->bad = lt_div(lt_zeros(t->arena, LT_F32, 1, t->shape), known);
    }
    return ct->wrow && ct->keep && (ct->bad || lt__dev(t)->k.host_memory);
}

static bool targets_of(const class_rows *cr, lt_tensor_t *w, int64_t ignore, class_targets *ct,
                       const char *name) {
    lt_tensor_t *t = cr->t;
    int64_t c = cr->x->shape[1];
    if (lt__dev(t)->k.host_memory && !labels_in_range(cr, c, ignore, name)) return false;
    bool prev = lt_arena_set_grad(t->arena, false);
    bool ok = build_targets(t, w, c, ignore, ct);
    lt_arena_set_grad(t->arena, prev);
    return ok;
}

/* -sum_c pick[i, c] * x[i, c] (N), NaN on bad rows. */
static lt_tensor_t *picked(lt_tensor_t *x, const class_targets *ct) {
    lt_tensor_t *rows = lt_neg(lt_sum_dim(lt_mul(x, ct->pick), 1, false));
    return ct->bad ? lt_add(rows, ct->bad) : rows;
}

/* Per-row losses reduced as torch does; `denominator` is what MEAN divides by. */
static lt_tensor_t *reduce_rows(lt_tensor_t *rows, lt_reduction r, lt_tensor_t *denominator) {
    if (r == LT_REDUCTION_NONE) return rows;
    if (r == LT_REDUCTION_SUM) return lt_sum(rows);
    return lt_div(lt_sum(rows), lt_sum(denominator));
}

lt_tensor_t *lt_nll_loss(lt_tensor_t *input, lt_tensor_t *target, lt_tensor_t *weight,
                         int64_t ignore_index, lt_reduction reduction) {
    class_targets ct;
    class_rows cr;
    if (!class_args_ok(input, target, weight, reduction, "lt_nll_loss") ||
        !as_rows(input, target, &cr) || !targets_of(&cr, weight, ignore_index, &ct, "lt_nll_loss"))
        return NULL;
    return target_shaped(reduce_rows(picked(cr.x, &ct), reduction, ct.wrow), target, reduction);
}

/* torch's smoothing term: -sum_c weight_c logp[i, c], 0 on ignored rows, reduced with the
 * nll term's denominator when weighted and the count of rows kept otherwise. */
static lt_tensor_t *smoothing_term(lt_tensor_t *logp, lt_tensor_t *w, const class_targets *ct,
                                   lt_reduction r) {
    int64_t cs[2] = {1, logp->shape[1]};
    lt_tensor_t *wl = w ? lt_mul(logp, lt_reshape(w, 2, cs)) : logp;
    lt_tensor_t *rows = lt_mul(lt_neg(lt_sum_dim(wl, 1, false)), ct->keep);
    return reduce_rows(rows, r, w ? ct->wrow : ct->keep);
}

lt_tensor_t *lt_cross_entropy_ex(lt_tensor_t *input, lt_tensor_t *target, lt_tensor_t *weight,
                                 int64_t ignore_index, lt_reduction reduction,
                                 double label_smoothing) {
    const char *name = "lt_cross_entropy_ex";
    if (!class_args_ok(input, target, weight, reduction, name)) return NULL;
    if (!(label_smoothing >= 0.0 && label_smoothing <= 1.0)) {
        lt_set_error(LT_ERR_INVALID_ARG, "%s: label_smoothing is %g; it must be in [0, 1]", name,
                     label_smoothing);
        return NULL;
    }
    class_targets ct;
    class_rows cr;
    if (!as_rows(input, target, &cr) || !targets_of(&cr, weight, ignore_index, &ct, name))
        return NULL;
    lt_tensor_t *logp = lt_log_softmax(cr.x);
    lt_tensor_t *nll = reduce_rows(picked(logp, &ct), reduction, ct.wrow);
    if (label_smoothing == 0.0) return target_shaped(nll, target, reduction);
    double e = label_smoothing, c = (double)input->shape[1];
    lt_tensor_t *smooth = smoothing_term(logp, weight, &ct, reduction);
    lt_tensor_t *out = lt_add(lt_scale(nll, (float)(1.0 - e)), lt_scale(smooth, (float)(e / c)));
    return target_shaped(out, target, reduction);
}
