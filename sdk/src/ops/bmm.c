/* Batched matrix products with broadcast, torch.matmul's rule for inputs of 3 or more
 * dimensions: a (..., M, K) @ b (..., K, N) -> (broadcast(...), M, N). One call of the
 * accelerator's gemm_batched where it has one and the matrices are evenly spaced (the
 * attention of a small transformer: a few hundred small products per call), else one
 * gemm per matrix; the backward's GEMMs accumulate (beta = 1) into the gradient of an
 * input broadcast over the batch. */
#include <string.h>

#include "lt_impl.h"

typedef struct bmm_geom {
    int nbd;                     /* batch dimensions of the result */
    int64_t bshape[LT_MAX_DIMS]; /* their sizes */
    int64_t a_step[LT_MAX_DIMS]; /* a's matrix stride per batch dim (0: broadcast) */
    int64_t b_step[LT_MAX_DIMS]; /* b's */
    int64_t batch, m, k, n;      /* matrices in the result; sizes */
    bool a_bcast, b_bcast;       /* whether a (b) is shared by several result matrices */
} bmm_geom;

/* The broadcast of a and b's batch dimensions (right-aligned); false + error if not. */
static bool bmm_plan(const lt_tensor_t *a, const lt_tensor_t *b, bmm_geom *g) {
    int na = a->ndim - 2, nb = b->ndim - 2, nd = na > nb ? na : nb;
    memset(g, 0, sizeof *g);
    g->nbd = nd;
    g->m = a->shape[a->ndim - 2], g->k = a->shape[a->ndim - 1], g->n = b->shape[b->ndim - 1];
    int64_t sa = 1, sb = 1;
    g->batch = 1;
    for (int d = nd - 1; d >= 0; d--) {
        int da = d - (nd - na), db = d - (nd - nb);
        int64_t xa = da >= 0 ? a->shape[da] : 1, xb = db >= 0 ? b->shape[db] : 1;
        if (xa != xb && xa != 1 && xb != 1) return false;
        g->bshape[d] = xa > xb ? xa : xb;
        g->a_step[d] = xa == 1 ? 0 : sa;
        g->b_step[d] = xb == 1 ? 0 : sb;
        g->a_bcast |= xa == 1 && g->bshape[d] > 1;
        g->b_bcast |= xb == 1 && g->bshape[d] > 1;
        sa *= xa, sb *= xb;
        g->batch *= g->bshape[d];
    }
    return true;
}

/* Which matrix of a and of b result matrix j reads. */
static void bmm_at(const bmm_geom *g, int64_t j, int64_t *ia, int64_t *ib) {
    *ia = *ib = 0;
    for (int d = g->nbd - 1; d >= 0; d--) {
        int64_t i = j % g->bshape[d];
        j /= g->bshape[d];
        *ia += i * g->a_step[d];
        *ib += i * g->b_step[d];
    }
}

/* What one loop over the batch computes: C[j] (+)= op(A) op(B) with these sizes. */
typedef enum { BMM_FWD, BMM_DA, BMM_DB } bmm_kind;

/* Which matrix of an operand product j reads: j itself, a's (ia) or b's (ib). */
typedef enum { BMM_J, BMM_IA, BMM_IB } bmm_pick;

static int64_t bmm_index(const bmm_geom *g, bmm_pick pick, int64_t j) {
    int64_t ia, ib;
    bmm_at(g, j, &ia, &ib);
    return pick == BMM_J ? j : pick == BMM_IA ? ia : ib;
}

/* The s with index(j) = j * s for every j (0: one matrix for all), or -1: none. */
static int64_t bmm_stride(const bmm_geom *g, bmm_pick pick) {
    const int64_t s = bmm_index(g, pick, 1);
    for (int64_t j = 2; j < g->batch; j++)
        if (bmm_index(g, pick, j) != j * s) return -1;
    return s;
}

/* One batch loop as GEMMs out (gm, gn) (+)= op(x) op(y); pick: whose matrix each reads. */
typedef struct bmm_gemms {
    int tx, ty;
    int64_t gm, gn, gk, ldx, ldy, ldo;
    bmm_pick px, py, po;
} bmm_gemms;

static bmm_gemms bmm_gemms_of(const bmm_geom *g, bmm_kind kind) {
    const int64_t m = g->m, k = g->k, n = g->n;
    switch (kind) {
    case BMM_FWD: /* out[j] = a[ia] (M,K) @ b[ib] (K,N) */
        return (bmm_gemms){0, 0, m, n, k, k, n, n, BMM_IA, BMM_IB, BMM_J};
    case BMM_DA: /* da[ia] (+)= g[j] (M,N) @ b[ib]^T */
        return (bmm_gemms){0, 1, m, k, n, n, n, k, BMM_J, BMM_IB, BMM_IA};
    default: /* db[ib] (+)= a[ia]^T @ g[j] (M,N) */
        return (bmm_gemms){1, 0, k, n, m, k, n, n, BMM_IA, BMM_J, BMM_IB};
    }
}

static void bmm_loop(lt_device_t *dev, const bmm_geom *g, bmm_kind kind, const float *x,
                     const float *y, float *out, float beta) {
    const bmm_gemms c = bmm_gemms_of(g, kind);
    /* Each operand's matrix size: its stored rows times its leading dimension. */
    const int64_t nx = (c.tx ? c.gk : c.gm) * c.ldx, ny = (c.ty ? c.gn : c.gk) * c.ldy,
                  no = c.gm * c.ldo;
    /* One batched call where every operand's matrices are evenly spaced and no two
     * products write the same output (so > 0: a broadcast input's gradient sums them). */
    if (dev->k.gemm_batched && g->batch > 1) {
        const int64_t sx = bmm_stride(g, c.px), sy = bmm_stride(g, c.py), so = bmm_stride(g, c.po);
        if (sx >= 0 && sy >= 0 && so > 0 &&
            dev->k.gemm_batched(dev->state, c.tx, c.ty, c.gm, c.gn, c.gk, 1.0f, x, c.ldx, sx * nx,
                                y, c.ldy, sy * ny, beta, out, c.ldo, so * no, g->batch) == 0)
            return;
    }
    for (int64_t j = 0; j < g->batch; j++)
        dev->k.gemm(dev->state, c.tx, c.ty, c.gm, c.gn, c.gk, 1.0f, x + bmm_index(g, c.px, j) * nx,
                    c.ldx, y + bmm_index(g, c.py, j) * ny, c.ldy, beta,
                    out + bmm_index(g, c.po, j) * no, c.ldo);
}

/* The gradient of t (a or b) by one batch loop; zeros first when t is broadcast. */
static lt_tensor_t *bmm_grad(const bmm_geom *g, bmm_kind kind, lt_tensor_t *t, lt_tensor_t *x,
                             lt_tensor_t *y) {
    bool bcast = kind == BMM_DA ? g->a_bcast : g->b_bcast;
    lt_tensor_t *d = bcast ? lt_zeros(x->arena, LT_F32, t->ndim, t->shape)
                           : lt__tensor_new(x->arena, LT_F32, t->ndim, t->shape);
    if (!d) return NULL;
    lt_device_t *dev = lt__dev(x);
    double flops = 2.0 * (double)g->batch * g->m * g->n * g->k;
    LT_PROF_SPAN(dev, "matmul_backward", flops,
                 LT_F32B(x->numel + y->numel + (bcast ? 2 : 1) * d->numel),
                 bmm_loop(dev, g, kind, lt__f32(x), lt__f32(y), lt__f32(d), bcast ? 1.0f : 0.0f));
    return d;
}

static void bmm_bw(lt_node *n, lt_tensor_t *gr) {
    lt_tensor_t *a = n->in[0], *b = n->in[1];
    bmm_geom g;
    bmm_plan(a, b, &g);
    if (a->requires_grad) lt__accum_grad(a, bmm_grad(&g, BMM_DA, a, gr, b));
    if (b->requires_grad) lt__accum_grad(b, bmm_grad(&g, BMM_DB, b, a, gr));
}

lt_tensor_t *lt__matmul_batched(lt_tensor_t *a, lt_tensor_t *b) {
    bmm_geom g;
    char sa[96], sb[96];
    if (a->ndim < 2 || b->ndim < 2 || a->shape[a->ndim - 1] != b->shape[b->ndim - 2] ||
        !bmm_plan(a, b, &g)) {
        lt_set_error(LT_ERR_SHAPE,
                     "lt_matmul: expected (..., M, K) @ (..., K, N) with broadcastable batch "
                     "dimensions, got %s @ %s",
                     lt__shape_str(a, sa, sizeof sa), lt__shape_str(b, sb, sizeof sb));
        return NULL;
    }
    int64_t shape[LT_MAX_DIMS];
    memcpy(shape, g.bshape, sizeof(int64_t) * (size_t)g.nbd);
    shape[g.nbd] = g.m;
    shape[g.nbd + 1] = g.n;
    lt_tensor_t *c = lt__tensor_new(a->arena, LT_F32, g.nbd + 2, shape);
    if (!c) return NULL;
    lt_device_t *dev = lt__dev(a);
    LT_PROF_SPAN(dev, "matmul", 2.0 * (double)g.batch * g.m * g.n * g.k,
                 LT_F32B(a->numel + b->numel + c->numel),
                 bmm_loop(dev, &g, BMM_FWD, lt__f32(a), lt__f32(b), lt__f32(c), 0.0f));
    lt__record(c, bmm_bw, a, b, NULL);
    return c;
}

lt_tensor_t *lt_bmm(lt_tensor_t *a, lt_tensor_t *b) {
    if (!lt__check_f32(a, "lt_bmm") || !lt__check_f32(b, "lt_bmm")) return NULL;
    if (a->ndim != 3 || b->ndim != 3 || a->shape[0] != b->shape[0]) {
        char sa[96], sb[96];
        lt_set_error(LT_ERR_SHAPE, "lt_bmm: expected (B, M, K) @ (B, K, N), got %s @ %s",
                     lt__shape_str(a, sa, sizeof sa), lt__shape_str(b, sb, sizeof sb));
        return NULL;
    }
    return lt__matmul_batched(a, b);
}
