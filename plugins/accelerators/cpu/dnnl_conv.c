/* dnnl_conv.c — direct 2-D convolution through oneDNN (Debian's libdnnl, built with the
 * OpenMP runtime), for the conv2d slots. Primitives are created once per shape and
 * direction and kept in a small cache (creating one JIT-compiles code: far too slow per
 * call); a full cache evicts its least recently used entry. Tensors arrive and leave in
 * torch's plain layouts (nchw, oihw), but the primitive is created with "any" layouts so
 * oneDNN picks its own: on plain nchw it can only take its im2col + GEMM path
 * (x64:gemm:jit), while on its blocked layouts (nChw16c) it runs its direct JIT kernels,
 * 3-10x faster on this model's shapes (bench/RESULTS.md) — that is what PyTorch does too.
 * Each operand whose chosen layout is not the plain one gets its own buffer and a cached
 * reorder primitive (plain -> blocked before the call, blocked -> plain after). Under
 * bf16-mixed the blocked inputs are bf16, so the same reorders round them (ties to even)
 * and the bf16 kernels run (AMX tiles where the CPU has them): 1.2x the cnn's training.
 *
 * The batch is cut into chunks of a few images whose operands fit in a core's L2, each
 * run start to end (reorders, primitive, reorders) by one thread of our pool on a
 * single-threaded primitive. Run whole on oneDNN's OpenMP team, every reorder streamed
 * the batch through memory once more (a third of the cnn's convolution time) and the
 * team's wake-ups raced our pool's spinning workers for the cores. A batch smaller than
 * the thread count still runs whole on the team. The weight gradient of each chunk goes
 * to its own buffer and the chunks are summed in order, so the bits of a result depend on
 * the shape and the thread count (which set the chunks), never on which thread ran which
 * chunk.
 *
 * Which directions run here is measured per CPU (bench/conv_kernels.sh): the others
 * decline and liblt runs im2col and OpenBLAS. LT_CPU_DNNL overrides the choice. */
#include <omp.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <dnnl.h>

#include "cpu_impl.h"

#define DNNL_CACHE 32 /* shapes x 3 directions x 2 chunk sizes: a model's convolutions fit */
/* A chunk's batched operands, in bytes: with oneDNN's blocked copies, within a 1-2 MB L2. */
#define DNNL_CHUNK_BYTES ((int64_t)512 << 10)

enum { DIR_FWD, DIR_FWD_BIAS, DIR_BWD_DATA, DIR_BWD_W, DIR_BWD_WB, DIR_COUNT };

typedef struct dnnl_key {
    int dir;
    int team;      /* 1: run on oneDNN's OpenMP team (the whole batch); 0: one thread */
    int64_t v[14]; /* the window's n c h w kh kw sh sw ph pw dh dw oh ow; n: the chunk's */
    int64_t groups, o;
} dnnl_key;

/* One thread's memory objects for an entry: mem[i] wraps the caller's plain tensor
 * (created without data; each call sets it); where the primitive wants another layout,
 * inner[i] holds the operand in that layout (oneDNN-allocated). scratch[0] is the
 * primitive's scratchpad, scratch[1 + i] reorder i's. */
typedef struct dnnl_slot {
    atomic_flag taken;
    dnnl_memory_t mem[4], inner[4], scratch[5];
} dnnl_slot;

/* One primitive, the reorders between its layouts and the plain ones (reorder[i]
 * converts operand i in the operand's direction; out[i]: the primitive writes it), and
 * a slot per thread that may run it at once. */
typedef struct dnnl_entry {
    dnnl_key key;
    uint64_t used; /* the tick of its last call, for eviction; 0: the slot is empty */
    dnnl_primitive_t prim;
    dnnl_primitive_t reorder[4];
    bool out[4];
    int arg[4];
    int nargs;
    int nslots;
    dnnl_slot *slot;
} dnnl_entry;

struct cpu_dnnl {
    dnnl_engine_t engine;
    dnnl_stream_t *stream; /* one per slot index: a thread runs slot s on stream[s] */
    int nstreams;
    unsigned dirs; /* bit DIR_*: the directions this plugin takes */
    uint64_t tick;
    float *partial; /* the chunks' weight (and bias) gradients, summed after */
    size_t partial_cap;
    dnnl_entry cache[DNNL_CACHE];
};

/* ---- the cache ------------------------------------------------------------------- */

static dnnl_key key_of(int dir, int team, int64_t n, const lt_window2d *g, int64_t groups,
                       int64_t o) {
    dnnl_key k;
    memset(&k, 0, sizeof k); /* padding bytes too: keys are compared with memcmp */
    const int64_t v[14] = {n,     g->c,  g->h,  g->w,  g->kh, g->kw, g->sh,
                           g->sw, g->ph, g->pw, g->dh, g->dw, g->oh, g->ow};
    memcpy(k.v, v, sizeof v);
    k.dir = dir, k.team = team, k.groups = groups, k.o = o;
    return k;
}

static void slot_free(dnnl_slot *s) {
    for (int i = 0; i < 4; i++) {
        if (s->inner[i]) dnnl_memory_destroy(s->inner[i]);
        if (s->mem[i]) dnnl_memory_destroy(s->mem[i]);
    }
    for (int i = 0; i < 5; i++)
        if (s->scratch[i]) dnnl_memory_destroy(s->scratch[i]);
}

static void entry_free(dnnl_entry *e) {
    for (int s = 0; e->slot && s < e->nslots; s++) slot_free(&e->slot[s]);
    free(e->slot);
    for (int i = 0; i < 4; i++)
        if (e->reorder[i]) dnnl_primitive_destroy(e->reorder[i]);
    if (e->prim) dnnl_primitive_destroy(e->prim);
    memset(e, 0, sizeof *e);
}

/* The entry for key, or the slot to build it in (empty, else least recently used). */
static dnnl_entry *cache_find(struct cpu_dnnl *d, const dnnl_key *k, bool *hit) {
    dnnl_entry *victim = &d->cache[0];
    for (int i = 0; i < DNNL_CACHE; i++) {
        dnnl_entry *e = &d->cache[i];
        if (e->used && memcmp(&e->key, k, sizeof *k) == 0) {
            *hit = true;
            return e;
        }
        if (e->used < victim->used) victim = e;
    }
    *hit = false;
    entry_free(victim);
    return victim;
}

/* ---- descriptors ------------------------------------------------------------------- */

/* The plain (torch) layouts of x, w, b, y; the "any" ones the primitive is made on, and
 * those of the forward primitive that hints a backward one. */
typedef struct conv_mds {
    dnnl_memory_desc_t x, w, b, y;
    dnnl_memory_desc_t ax, aw, ay;
    dnnl_memory_desc_t fx, fw, fy;
    dnnl_dims_t strides, dilates, pad_l, pad_r;
} conv_mds;

/* Padding, strides and dilation in oneDNN's form; false where torch's has no such form. */
static bool window_of(const lt_window2d *g, conv_mds *m) {
    /* torch pads the bottom and right by whatever makes oh, ow come out. */
    const int64_t pad_r[2] = {(g->oh - 1) * g->sh + g->dh * (g->kh - 1) + 1 - g->h - g->ph,
                              (g->ow - 1) * g->sw + g->dw * (g->kw - 1) + 1 - g->w - g->pw};
    if (pad_r[0] < 0 || pad_r[1] < 0) return false; /* rows torch skips: not oneDNN's form */
    const int64_t v[3][2] = {{g->sh, g->sw}, {g->dh - 1, g->dw - 1}, {g->ph, g->pw}};
    for (int i = 0; i < 2; i++) {
        m->strides[i] = v[0][i], m->dilates[i] = v[1][i], m->pad_l[i] = v[2][i];
        m->pad_r[i] = pad_r[i];
    }
    return true;
}

/* Under the bf16 precisions a primitive reads its inputs in bf16 (the reorders from the
 * caller's float32 round them to nearest even) and writes float32, as autocast's
 * convolutions accumulate; the forward hint of a backward primitive has the forward's
 * types. */
static bool mds_of(const lt_window2d *g, int64_t groups, int64_t o, int dir, int bf16,
                   conv_mds *m) {
    dnnl_dims_t xd = {g->n, g->c, g->h, g->w}, yd = {g->n, o, g->oh, g->ow}, bd = {o};
    dnnl_dims_t wd = {o, g->c / groups, g->kh, g->kw};
    dnnl_dims_t gwd = {groups, o / groups, g->c / groups, g->kh, g->kw};
    if (!window_of(g, m)) return false;
    bool grouped = groups > 1;
    int wn = grouped ? 5 : 4;
    const int64_t *wdims = grouped ? gwd : wd;
    const dnnl_data_type_t f32 = dnnl_f32, in = bf16 ? dnnl_bf16 : dnnl_f32;
    /* x, w, y: read (in) or written (f32) by direction dir's primitive */
    const dnnl_data_type_t t[3][3] = {{in, in, f32}, {f32, in, in}, {in, f32, in}};
    const dnnl_data_type_t *dt = t[dir <= DIR_FWD_BIAS ? 0 : dir == DIR_BWD_DATA ? 1 : 2];
    const dnnl_format_tag_t any = dnnl_format_tag_any;
    return dnnl_memory_desc_init_by_tag(&m->x, 4, xd, f32, dnnl_nchw) == dnnl_success &&
           dnnl_memory_desc_init_by_tag(&m->y, 4, yd, f32, dnnl_nchw) == dnnl_success &&
           dnnl_memory_desc_init_by_tag(&m->b, 1, bd, f32, dnnl_a) == dnnl_success &&
           dnnl_memory_desc_init_by_tag(&m->w, wn, wdims, f32, grouped ? dnnl_goihw : dnnl_oihw) ==
               dnnl_success &&
           dnnl_memory_desc_init_by_tag(&m->ax, 4, xd, dt[0], any) == dnnl_success &&
           dnnl_memory_desc_init_by_tag(&m->aw, wn, wdims, dt[1], any) == dnnl_success &&
           dnnl_memory_desc_init_by_tag(&m->ay, 4, yd, dt[2], any) == dnnl_success &&
           dnnl_memory_desc_init_by_tag(&m->fx, 4, xd, in, any) == dnnl_success &&
           dnnl_memory_desc_init_by_tag(&m->fw, wn, wdims, in, any) == dnnl_success &&
           dnnl_memory_desc_init_by_tag(&m->fy, 4, yd, f32, any) == dnnl_success;
}

static bool fwd_desc(const conv_mds *m, bool bias, dnnl_convolution_desc_t *cd) {
    return dnnl_dilated_convolution_forward_desc_init(
               cd, dnnl_forward_training, dnnl_convolution_direct, &m->fx, &m->fw,
               bias ? &m->b : NULL, &m->fy, m->strides, m->dilates, m->pad_l,
               m->pad_r) == dnnl_success;
}

/* The primitive descriptor of direction dir, with attr (user scratchpad: each slot
 * brings its own, so that the threads can run one primitive at once). */
static dnnl_primitive_desc_t make_pd(struct cpu_dnnl *d, int dir, const conv_mds *m,
                                     const_dnnl_primitive_attr_t attr) {
    dnnl_convolution_desc_t fd, cd;
    dnnl_primitive_desc_t hint = NULL, pd = NULL;
    bool bias = dir == DIR_FWD_BIAS || dir == DIR_BWD_WB;
    if (!fwd_desc(m, bias, &fd) ||
        dnnl_primitive_desc_create(&hint, &fd, attr, d->engine, NULL) != dnnl_success)
        return NULL;
    if (dir == DIR_FWD || dir == DIR_FWD_BIAS) return hint;
    bool ok = dir == DIR_BWD_DATA
                  ? dnnl_dilated_convolution_backward_data_desc_init(
                        &cd, dnnl_convolution_direct, &m->ax, &m->aw, &m->ay, m->strides,
                        m->dilates, m->pad_l, m->pad_r) == dnnl_success
                  : dnnl_dilated_convolution_backward_weights_desc_init(
                        &cd, dnnl_convolution_direct, &m->ax, &m->aw, bias ? &m->b : NULL, &m->ay,
                        m->strides, m->dilates, m->pad_l, m->pad_r) == dnnl_success;
    if (!ok || dnnl_primitive_desc_create(&pd, &cd, attr, d->engine, hint) != dnnl_success)
        pd = NULL;
    dnnl_primitive_desc_destroy(hint);
    return pd;
}

/* The execution arguments of each direction, in the order the slots pass pointers;
 * out[i]: the primitive writes argument i. */
static int dir_args(int dir, const conv_mds *m, int arg[4], const dnnl_memory_desc_t *md[4],
                    bool out[4]) {
    switch (dir) {
    case DIR_FWD:
    case DIR_FWD_BIAS:
        arg[0] = DNNL_ARG_SRC, arg[1] = DNNL_ARG_WEIGHTS, arg[2] = DNNL_ARG_DST;
        arg[3] = DNNL_ARG_BIAS, md[0] = &m->x, md[1] = &m->w, md[2] = &m->y, md[3] = &m->b;
        out[0] = false, out[1] = false, out[2] = true, out[3] = false;
        return dir == DIR_FWD_BIAS ? 4 : 3;
    case DIR_BWD_DATA:
        arg[0] = DNNL_ARG_DIFF_DST, arg[1] = DNNL_ARG_WEIGHTS, arg[2] = DNNL_ARG_DIFF_SRC;
        md[0] = &m->y, md[1] = &m->w, md[2] = &m->x;
        out[0] = false, out[1] = false, out[2] = true;
        return 3;
    default:
        arg[0] = DNNL_ARG_SRC, arg[1] = DNNL_ARG_DIFF_DST, arg[2] = DNNL_ARG_DIFF_WEIGHTS;
        arg[3] = DNNL_ARG_DIFF_BIAS, md[0] = &m->x, md[1] = &m->y, md[2] = &m->w, md[3] = &m->b;
        out[0] = false, out[1] = false, out[2] = true, out[3] = true;
        return dir == DIR_BWD_WB ? 4 : 3;
    }
}

/* The scratchpad primitive desc pd asks for, as memory in *m (left NULL when none). */
static bool scratch_build(struct cpu_dnnl *d, const_dnnl_primitive_desc_t pd, dnnl_memory_t *m) {
    const dnnl_memory_desc_t *smd = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
    return !smd || dnnl_memory_desc_get_size(smd) == 0 ||
           dnnl_memory_create(m, smd, d->engine, DNNL_MEMORY_ALLOCATE) == dnnl_success;
}

/* Operand i of every slot: the memory on the caller's plain pointer, and, when the
 * primitive chose another layout, a buffer in that layout and the reorder between the
 * two (shared by the slots, each with its own scratchpad). */
static bool operand_build(struct cpu_dnnl *d, dnnl_entry *e, int i, const dnnl_memory_desc_t *plain,
                          const_dnnl_primitive_desc_t pd, dnnl_primitive_attr_t attr) {
    const dnnl_memory_desc_t *chosen =
        dnnl_primitive_desc_query_md(pd, dnnl_query_exec_arg_md, e->arg[i]);
    if (!chosen) return false;
    bool ok = true, blocked = !dnnl_memory_desc_equal(chosen, plain);
    dnnl_primitive_desc_t rpd = NULL;
    if (blocked)
        ok = dnnl_reorder_primitive_desc_create(&rpd, e->out[i] ? chosen : plain, d->engine,
                                                e->out[i] ? plain : chosen, d->engine,
                                                attr) == dnnl_success &&
             dnnl_primitive_create(&e->reorder[i], rpd) == dnnl_success;
    for (int s = 0; ok && s < e->nslots; s++) {
        dnnl_slot *sl = &e->slot[s];
        ok = dnnl_memory_create(&sl->mem[i], plain, d->engine, DNNL_MEMORY_NONE) == dnnl_success;
        if (ok && blocked)
            ok = dnnl_memory_create(&sl->inner[i], chosen, d->engine, DNNL_MEMORY_ALLOCATE) ==
                     dnnl_success &&
                 scratch_build(d, rpd, &sl->scratch[1 + i]);
    }
    if (rpd) dnnl_primitive_desc_destroy(rpd);
    return ok;
}

/* Build entry e for key k: g's geometry on k's chunk of images. oneDNN sizes a
 * primitive's threads when it is created, from this thread's OpenMP setting. */
static bool entry_build(cpu_state *st, dnnl_entry *e, const dnnl_key *k, const lt_window2d *g) {
    struct cpu_dnnl *d = st->dnnl;
    lt_window2d chunk = *g;
    chunk.n = k->v[0];
    conv_mds m;
    dnnl_primitive_attr_t attr = NULL;
    if (dnnl_primitive_attr_create(&attr) != dnnl_success) return false;
    omp_set_num_threads(k->team ? st->threads : 1);
    dnnl_primitive_desc_t pd = NULL;
    if (dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user) == dnnl_success &&
        mds_of(&chunk, k->groups, k->o, k->dir, st->bf16 != NULL, &m))
        pd = make_pd(d, k->dir, &m, attr);
    e->key = *k;
    e->used = ++d->tick;
    e->nslots = k->team ? 1 : st->threads;
    e->slot = pd ? calloc((size_t)e->nslots, sizeof *e->slot) : NULL;
    const dnnl_memory_desc_t *md[4];
    e->nargs = dir_args(k->dir, &m, e->arg, md, e->out);
    bool ok = e->slot && dnnl_primitive_create(&e->prim, pd) == dnnl_success;
    for (int i = 0; ok && i < e->nargs; i++) ok = operand_build(d, e, i, md[i], pd, attr);
    for (int s = 0; ok && s < e->nslots; s++) ok = scratch_build(d, pd, &e->slot[s].scratch[0]);
    if (pd) dnnl_primitive_desc_destroy(pd);
    dnnl_primitive_attr_destroy(attr);
    if (!ok) entry_free(e);
    return ok;
}

/* ---- running a chunk ------------------------------------------------------------------ */

/* Run one primitive (a reorder or the convolution) with its scratchpad, if it has one. */
static bool execute(dnnl_primitive_t prim, dnnl_stream_t stream, dnnl_exec_arg_t *args, int n,
                    dnnl_memory_t scratch) {
    if (scratch) args[n++] = (dnnl_exec_arg_t){DNNL_ARG_SCRATCHPAD, scratch};
    return dnnl_primitive_execute(prim, stream, n, args) == dnnl_success;
}

/* Convert operand i of slot sl between the caller's layout and the primitive's. */
static bool reorder(const dnnl_entry *e, dnnl_slot *sl, dnnl_stream_t stream, int i) {
    dnnl_memory_t from = e->out[i] ? sl->inner[i] : sl->mem[i];
    dnnl_memory_t to = e->out[i] ? sl->mem[i] : sl->inner[i];
    dnnl_exec_arg_t args[3] = {{DNNL_ARG_FROM, from}, {DNNL_ARG_TO, to}};
    return execute(e->reorder[i], stream, args, 2, sl->scratch[1 + i]);
}

/* Run entry e on the pointers p with slot sl: inputs into the primitive's layouts, the
 * primitive, outputs back to torch's. */
static bool entry_exec(const dnnl_entry *e, dnnl_slot *sl, dnnl_stream_t stream, void *const p[4]) {
    dnnl_exec_arg_t args[5];
    for (int i = 0; i < e->nargs; i++) {
        if (dnnl_memory_set_data_handle(sl->mem[i], p[i]) != dnnl_success) return false;
        if (e->reorder[i] && !e->out[i] && !reorder(e, sl, stream, i)) return false;
        args[i] = (dnnl_exec_arg_t){e->arg[i], e->reorder[i] ? sl->inner[i] : sl->mem[i]};
    }
    if (!execute(e->prim, stream, args, e->nargs, sl->scratch[0])) return false;
    for (int i = 0; i < e->nargs; i++)
        if (e->reorder[i] && e->out[i] && !reorder(e, sl, stream, i)) return false;
    return dnnl_stream_wait(stream) == dnnl_success;
}

/* How a call's batch is cut: nchunks chunks of cb images, the last one of `last`; or,
 * with team, the whole batch at once on oneDNN's OpenMP team. */
typedef struct chunk_plan {
    bool team;
    int64_t cb, last, nchunks;
    int64_t img[4]; /* elements per image of each operand that has a batch axis, else 0 */
    int64_t wn, bn; /* backward weights: the weight gradient's elements, the bias's */
} chunk_plan;

static chunk_plan plan_of(const cpu_state *st, int dir, const lt_window2d *g, int64_t groups,
                          int64_t o) {
    chunk_plan pl = {.wn = o * (g->c / groups) * g->kh * g->kw};
    pl.bn = dir == DIR_FWD_BIAS || dir == DIR_BWD_WB ? o : 0;
    const int64_t x = g->c * g->h * g->w, y = o * g->oh * g->ow;
    const int64_t img[3][4] = {{x, 0, y, 0}, {y, 0, x, 0}, {x, y, 0, 0}}; /* fwd, data, weights */
    memcpy(pl.img, img[dir <= DIR_FWD_BIAS ? 0 : dir == DIR_BWD_DATA ? 1 : 2], sizeof pl.img);
    const int64_t fit = DNNL_CHUNK_BYTES / ((x + y) * (int64_t)sizeof(float));
    int64_t want = fit > 1 ? (g->n + fit - 1) / fit : g->n;
    if (want < st->threads) want = st->threads;
    pl.cb = (g->n + want - 1) / want;
    pl.nchunks = (g->n + pl.cb - 1) / pl.cb;
    pl.last = g->n - (pl.nchunks - 1) * pl.cb;
    /* The team when there are too few images to share, or when the chunks' weight
     * gradients (summed after) would be more than a quarter of the data they come from. */
    pl.team = g->n < st->threads || (dir >= DIR_BWD_W && pl.nchunks > 1 &&
                                     pl.nchunks * (pl.wn + pl.bn) > g->n * (x + y) / 4);
    if (pl.team) pl.cb = pl.last = g->n, pl.nchunks = 1;
    return pl;
}

/* The cache entry for direction dir on chunks of n images, built on a miss; NULL when
 * oneDNN cannot take it. */
static dnnl_entry *entry_for(cpu_state *st, int dir, bool team, int64_t n, const lt_window2d *g,
                             int64_t groups, int64_t o) {
    struct cpu_dnnl *d = st->dnnl;
    dnnl_key k = key_of(dir, team, n, g, groups, o);
    bool hit;
    dnnl_entry *e = cache_find(d, &k, &hit);
    if (!hit && !entry_build(st, e, &k, g)) return NULL;
    e->used = ++d->tick;
    return e;
}

typedef struct chunk_job {
    struct cpu_dnnl *d;
    dnnl_entry *e[2]; /* the full chunks', the last chunk's */
    chunk_plan pl;
    void *p[4];
    bool partial; /* backward weights in chunks: each chunk's gradient into d->partial */
    atomic_bool *failed;
} chunk_job;

/* Chunks [lo, hi), each on a free slot of its entry (at most one per running thread). */
static void chunk_span(const void *args, int64_t lo, int64_t hi) {
    const chunk_job *j = args;
    omp_set_num_threads(1); /* oneDNN sizes its reorders' loops from this thread's setting */
    for (int64_t c = lo; c < hi; c++) {
        const dnnl_entry *e = j->e[c == j->pl.nchunks - 1];
        int s = 0;
        while (atomic_flag_test_and_set(&e->slot[s].taken)) s = (s + 1) % e->nslots;
        void *p[4];
        for (int i = 0; i < 4; i++)
            p[i] =
                j->pl.img[i] && j->p[i] ? (float *)j->p[i] + c * j->pl.cb * j->pl.img[i] : j->p[i];
        if (j->partial) {
            p[2] = j->d->partial + c * (j->pl.wn + j->pl.bn);
            p[3] = j->pl.bn ? (float *)p[2] + j->pl.wn : NULL;
        }
        if (!entry_exec(e, &e->slot[s], j->d->stream[s], p)) atomic_store(j->failed, true);
        atomic_flag_clear(&e->slot[s].taken);
    }
}

/* out[i] = the sum over the chunks of partial[c][i], in chunk order. */
static void sum_partials(const float *partial, int64_t nchunks, int64_t n, float *out) {
    for (int64_t i = 0; i < n; i++) out[i] = partial[i];
    for (int64_t c = 1; c < nchunks; c++)
        for (int64_t i = 0; i < n; i++) out[i] += partial[c * n + i];
}

/* The weight-gradient chunks' buffer, grown to hold n floats. */
static bool partial_reserve(struct cpu_dnnl *d, int64_t n) {
    if ((size_t)n <= d->partial_cap) return true;
    float *p = realloc(d->partial, (size_t)n * sizeof *p);
    if (!p) return false;
    d->partial = p, d->partial_cap = (size_t)n;
    return true;
}

/* Run direction dir on the pointers p (as dir_args orders them); 0, or 1 to decline. */
static int run(cpu_state *st, int dir, const lt_window2d *g, int64_t groups, int64_t o,
               void *const p[4]) {
    struct cpu_dnnl *d = st->dnnl;
    if (!d || !(d->dirs >> (dir == DIR_FWD_BIAS ? DIR_FWD
                            : dir == DIR_BWD_WB ? DIR_BWD_W
                                                : dir) &
                1u))
        return 1;
    chunk_job j = {.d = d, .pl = plan_of(st, dir, g, groups, o)};
    j.e[0] = entry_for(st, dir, j.pl.team, j.pl.cb, g, groups, o);
    j.e[1] = j.pl.last == j.pl.cb || !j.e[0]
                 ? j.e[0]
                 : entry_for(st, dir, j.pl.team, j.pl.last, g, groups, o);
    if (!j.e[1]) return 1;
    if (j.pl.team) {
        omp_set_num_threads(st->threads);
        return entry_exec(j.e[0], &j.e[0]->slot[0], d->stream[0], p) ? 0 : 1;
    }
    const int64_t per_chunk = j.pl.wn + j.pl.bn;
    j.partial = dir >= DIR_BWD_W && j.pl.nchunks > 1;
    if (j.partial && !partial_reserve(d, j.pl.nchunks * per_chunk)) return 1;
    atomic_bool failed = false;
    memcpy(j.p, p, sizeof j.p);
    j.failed = &failed;
    cpu_parallel_for(st, j.pl.nchunks, CPU_PAR_MIN, chunk_span, &j);
    if (failed) return 1;
    if (j.partial) {
        sum_partials(d->partial, j.pl.nchunks, per_chunk, d->partial); /* into chunk 0 */
        memcpy(p[2], d->partial, (size_t)j.pl.wn * sizeof(float));
        if (j.pl.bn) memcpy(p[3], d->partial + j.pl.wn, (size_t)j.pl.bn * sizeof(float));
    }
    return 0;
}

/* ---- the slots -------------------------------------------------------------------------- */

int cpu_conv2d(void *st, const lt_window2d *g, int64_t groups, int64_t o, const float *d_x,
               const float *d_w, const float *d_b, float *d_y) {
    void *p[4] = {(void *)d_x, (void *)d_w, d_y, (void *)d_b};
    return run(st, d_b ? DIR_FWD_BIAS : DIR_FWD, g, groups, o, p);
}

int cpu_conv2d_bwd_data(void *st, const lt_window2d *g, int64_t groups, int64_t o,
                        const float *d_dy, const float *d_w, float *d_dx) {
    void *p[4] = {(void *)d_dy, (void *)d_w, d_dx, NULL};
    return run(st, DIR_BWD_DATA, g, groups, o, p);
}

int cpu_conv2d_bwd_weights(void *st, const lt_window2d *g, int64_t groups, int64_t o,
                           const float *d_x, const float *d_dy, float *d_dw, float *d_db) {
    void *p[4] = {(void *)d_x, (void *)d_dy, d_dw, d_db};
    return run(st, d_db ? DIR_BWD_WB : DIR_BWD_W, g, groups, o, p);
}

/* ---- lifecycle ---------------------------------------------------------------------- */

/* LT_CPU_DNNL: "all", "none", or a comma list of fwd, bwd_data, bwd_weights; unset: the
 * directions measured faster than im2col on this class of CPU (bench/RESULTS.md). */
static unsigned dirs_from_env(void) {
    const unsigned all = 1u << DIR_FWD | 1u << DIR_BWD_DATA | 1u << DIR_BWD_W;
    const char *s = getenv("LT_CPU_DNNL");
    if (!s || !*s) return CPU_DNNL_DEFAULT_DIRS;
    if (strcmp(s, "all") == 0) return all;
    unsigned dirs = 0;
    if (strstr(s, "fwd")) dirs |= 1u << DIR_FWD;
    if (strstr(s, "bwd_data")) dirs |= 1u << DIR_BWD_DATA;
    if (strstr(s, "bwd_weights")) dirs |= 1u << DIR_BWD_W;
    return dirs;
}

void cpu_dnnl_open(cpu_state *st) {
    struct cpu_dnnl *d = calloc(1, sizeof *d);
    if (!d) return;
    d->dirs = dirs_from_env();
    d->stream = calloc((size_t)st->threads, sizeof *d->stream);
    bool ok = d->stream && dnnl_engine_create(&d->engine, dnnl_cpu, 0) == dnnl_success;
    for (; ok && d->nstreams < st->threads; d->nstreams++)
        ok = dnnl_stream_create(&d->stream[d->nstreams], d->engine, dnnl_stream_default_flags) ==
             dnnl_success;
    st->dnnl = d;
    if (!ok) cpu_dnnl_close(st);
}

void cpu_dnnl_close(cpu_state *st) {
    struct cpu_dnnl *d = st->dnnl;
    if (!d) return;
    for (int i = 0; i < DNNL_CACHE; i++) entry_free(&d->cache[i]);
    for (int i = 0; i < d->nstreams; i++)
        if (d->stream[i]) dnnl_stream_destroy(d->stream[i]);
    free(d->stream);
    if (d->engine) dnnl_engine_destroy(d->engine);
    free(d->partial);
    free(d);
    st->dnnl = NULL;
}

/* ", oneDNN 2.6.3 conv fwd+bwd_weights": appended to the describe line. */
void cpu_dnnl_describe(const cpu_state *st, char *buf, size_t cap) {
    const struct cpu_dnnl *d = st->dnnl;
    const dnnl_version_t *v = dnnl_version();
    if (!d || !d->dirs) {
        snprintf(buf, cap, "%s", "");
        return;
    }
    snprintf(buf, cap, ", oneDNN %d.%d.%d conv%s%s%s", v->major, v->minor, v->patch,
             d->dirs & 1u << DIR_FWD ? " fwd" : "", d->dirs & 1u << DIR_BWD_DATA ? " bwd_data" : "",
             d->dirs & 1u << DIR_BWD_W ? " bwd_weights" : "");
}
