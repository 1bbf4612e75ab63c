/* dnnl_conv.c — direct 2-D convolution through oneDNN (Debian's libdnnl, built with the
 * OpenMP runtime), for the conv2d slots. Primitives are created once per shape and
 * direction and kept in a small cache (creating one JIT-compiles code: far too slow per
 * call); a full cache evicts its least recently used entry. Tensors arrive and leave in
 * torch's plain layouts (nchw, oihw), but the primitive is created with "any" layouts so
 * oneDNN picks its own: on plain nchw it can only take its im2col + GEMM path
 * (x64:gemm:jit), while on its blocked layouts (nChw16c) it runs its direct JIT kernels,
 * 3-10x faster on this model's shapes (bench/RESULTS.md) — that is what PyTorch does too.
 * Each operand whose chosen layout is not the plain one gets its own buffer and a cached
 * reorder primitive (plain -> blocked before the call, blocked -> plain after).
 *
 * Which directions run here is measured per CPU (bench/conv_kernels.sh): the others
 * decline and liblt runs im2col and OpenBLAS. LT_CPU_DNNL overrides the choice. */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <dnnl.h>

#include "cpu_impl.h"

#define DNNL_CACHE 24 /* shapes x 3 directions: a model's convolutions fit */

enum { DIR_FWD, DIR_FWD_BIAS, DIR_BWD_DATA, DIR_BWD_W, DIR_BWD_WB, DIR_COUNT };

typedef struct dnnl_key {
    int dir;
    int64_t v[14]; /* the window's n c h w kh kw sh sw ph pw dh dw oh ow */
    int64_t groups, o;
} dnnl_key;

/* One primitive and its memory objects. mem[i] wraps the caller's plain tensor (created
 * without data; each call sets it); where the primitive wants another layout, inner[i]
 * holds the operand in that layout (oneDNN-allocated) and reorder[i] converts between the
 * two, in the operand's direction (out[i]: the primitive writes it). */
typedef struct dnnl_entry {
    dnnl_key key;
    uint64_t used; /* the tick of its last call, for eviction; 0: the slot is empty */
    dnnl_primitive_t prim;
    dnnl_memory_t mem[4], inner[4], scratch;
    dnnl_primitive_t reorder[4];
    bool out[4];
    int arg[4];
    int nargs;
} dnnl_entry;

struct cpu_dnnl {
    dnnl_engine_t engine;
    dnnl_stream_t stream;
    unsigned dirs; /* bit DIR_*: the directions this plugin takes */
    uint64_t tick;
    dnnl_entry cache[DNNL_CACHE];
};

/* ---- the cache ------------------------------------------------------------------- */

static dnnl_key key_of(int dir, const lt_window2d *g, int64_t groups, int64_t o) {
    dnnl_key k;
    memset(&k, 0, sizeof k); /* padding bytes too: keys are compared with memcmp */
    const int64_t v[14] = {g->n,  g->c,  g->h,  g->w,  g->kh, g->kw, g->sh,
                           g->sw, g->ph, g->pw, g->dh, g->dw, g->oh, g->ow};
    memcpy(k.v, v, sizeof v);
    k.dir = dir, k.groups = groups, k.o = o;
    return k;
}

static void entry_free(dnnl_entry *e) {
    for (int i = 0; i < 4; i++) {
        if (e->reorder[i]) dnnl_primitive_destroy(e->reorder[i]);
        if (e->inner[i]) dnnl_memory_destroy(e->inner[i]);
        if (e->mem[i]) dnnl_memory_destroy(e->mem[i]);
    }
    if (e->scratch) dnnl_memory_destroy(e->scratch);
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

/* The plain (torch) layouts of x, w, b, y, and the "any" ones the primitive is made on. */
typedef struct conv_mds {
    dnnl_memory_desc_t x, w, b, y;
    dnnl_memory_desc_t ax, aw, ay;
    dnnl_dims_t strides, dilates, pad_l, pad_r;
} conv_mds;

static bool mds_of(const lt_window2d *g, int64_t groups, int64_t o, conv_mds *m) {
    dnnl_dims_t xd = {g->n, g->c, g->h, g->w}, yd = {g->n, o, g->oh, g->ow}, bd = {o};
    dnnl_dims_t wd = {o, g->c / groups, g->kh, g->kw};
    dnnl_dims_t gwd = {groups, o / groups, g->c / groups, g->kh, g->kw};
    /* torch pads the bottom and right by whatever makes oh, ow come out. */
    const int64_t pad_r[2] = {(g->oh - 1) * g->sh + g->dh * (g->kh - 1) + 1 - g->h - g->ph,
                              (g->ow - 1) * g->sw + g->dw * (g->kw - 1) + 1 - g->w - g->pw};
    if (pad_r[0] < 0 || pad_r[1] < 0) return false; /* rows torch skips: not oneDNN's form */
    const int64_t v[4][2] = {{g->sh, g->sw}, {g->dh - 1, g->dw - 1}, {g->ph, g->pw}, {0, 0}};
    for (int i = 0; i < 2; i++) {
        m->strides[i] = v[0][i], m->dilates[i] = v[1][i], m->pad_l[i] = v[2][i];
        m->pad_r[i] = pad_r[i];
    }
    bool grouped = groups > 1;
    int wn = grouped ? 5 : 4;
    const int64_t *wdims = grouped ? gwd : wd;
    const dnnl_format_tag_t any = dnnl_format_tag_any;
    return dnnl_memory_desc_init_by_tag(&m->x, 4, xd, dnnl_f32, dnnl_nchw) == dnnl_success &&
           dnnl_memory_desc_init_by_tag(&m->y, 4, yd, dnnl_f32, dnnl_nchw) == dnnl_success &&
           dnnl_memory_desc_init_by_tag(&m->b, 1, bd, dnnl_f32, dnnl_a) == dnnl_success &&
           dnnl_memory_desc_init_by_tag(&m->w, wn, wdims, dnnl_f32,
                                        grouped ? dnnl_goihw : dnnl_oihw) == dnnl_success &&
           dnnl_memory_desc_init_by_tag(&m->ax, 4, xd, dnnl_f32, any) == dnnl_success &&
           dnnl_memory_desc_init_by_tag(&m->ay, 4, yd, dnnl_f32, any) == dnnl_success &&
           dnnl_memory_desc_init_by_tag(&m->aw, wn, wdims, dnnl_f32, any) == dnnl_success;
}

static bool fwd_desc(const conv_mds *m, bool bias, dnnl_convolution_desc_t *cd) {
    return dnnl_dilated_convolution_forward_desc_init(
               cd, dnnl_forward_training, dnnl_convolution_direct, &m->ax, &m->aw,
               bias ? &m->b : NULL, &m->ay, m->strides, m->dilates, m->pad_l,
               m->pad_r) == dnnl_success;
}

/* The primitive descriptor of direction dir, its scratchpad left to the caller (user
 * mode: one buffer per cache entry, not a fresh allocation per call). */
static dnnl_primitive_desc_t make_pd(struct cpu_dnnl *d, int dir, const conv_mds *m) {
    dnnl_convolution_desc_t fd, cd;
    dnnl_primitive_desc_t hint = NULL, pd = NULL;
    dnnl_primitive_attr_t attr = NULL;
    bool bias = dir == DIR_FWD_BIAS || dir == DIR_BWD_WB;
    if (dnnl_primitive_attr_create(&attr) != dnnl_success) return NULL;
    if (dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user) != dnnl_success ||
        !fwd_desc(m, bias, &fd) ||
        dnnl_primitive_desc_create(&hint, &fd, attr, d->engine, NULL) != dnnl_success) {
        dnnl_primitive_attr_destroy(attr);
        return NULL;
    }
    if (dir == DIR_FWD || dir == DIR_FWD_BIAS) {
        dnnl_primitive_attr_destroy(attr);
        return hint;
    }
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
    dnnl_primitive_attr_destroy(attr);
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

/* Operand i: the memory on the caller's plain pointer, and, when the primitive chose
 * another layout, a buffer in that layout and the reorder between the two. */
static bool operand_build(struct cpu_dnnl *d, dnnl_entry *e, int i, const dnnl_memory_desc_t *plain,
                          const_dnnl_primitive_desc_t pd) {
    if (dnnl_memory_create(&e->mem[i], plain, d->engine, DNNL_MEMORY_NONE) != dnnl_success)
        return false;
    const dnnl_memory_desc_t *chosen =
        dnnl_primitive_desc_query_md(pd, dnnl_query_exec_arg_md, e->arg[i]);
    if (!chosen || dnnl_memory_desc_equal(chosen, plain)) return chosen != NULL;
    dnnl_primitive_desc_t rpd = NULL;
    bool ok =
        dnnl_memory_create(&e->inner[i], chosen, d->engine, DNNL_MEMORY_ALLOCATE) == dnnl_success &&
        dnnl_reorder_primitive_desc_create(&rpd, e->out[i] ? chosen : plain, d->engine,
                                           e->out[i] ? plain : chosen, d->engine,
                                           NULL) == dnnl_success &&
        dnnl_primitive_create(&e->reorder[i], rpd) == dnnl_success;
    if (rpd) dnnl_primitive_desc_destroy(rpd);
    return ok;
}

static bool entry_build(struct cpu_dnnl *d, dnnl_entry *e, const dnnl_key *k,
                        const lt_window2d *g) {
    conv_mds m;
    dnnl_primitive_desc_t pd = mds_of(g, k->groups, k->o, &m) ? make_pd(d, k->dir, &m) : NULL;
    if (!pd) return false;
    e->key = *k;
    e->used = ++d->tick;
    const dnnl_memory_desc_t *md[4];
    e->nargs = dir_args(k->dir, &m, e->arg, md, e->out);
    bool ok = dnnl_primitive_create(&e->prim, pd) == dnnl_success;
    for (int i = 0; ok && i < e->nargs; i++) ok = operand_build(d, e, i, md[i], pd);
    const dnnl_memory_desc_t *smd = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
    if (ok && smd && dnnl_memory_desc_get_size(smd) > 0)
        ok = dnnl_memory_create(&e->scratch, smd, d->engine, DNNL_MEMORY_ALLOCATE) == dnnl_success;
    dnnl_primitive_desc_destroy(pd);
    if (!ok) entry_free(e);
    return ok;
}

/* Convert operand i between the caller's layout and the primitive's. */
static bool reorder(struct cpu_dnnl *d, dnnl_entry *e, int i) {
    dnnl_memory_t from = e->out[i] ? e->inner[i] : e->mem[i];
    dnnl_memory_t to = e->out[i] ? e->mem[i] : e->inner[i];
    dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, from}, {DNNL_ARG_TO, to}};
    return dnnl_primitive_execute(e->reorder[i], d->stream, 2, args) == dnnl_success;
}

/* Run entry e on the pointers p: inputs into the primitive's layouts, the primitive,
 * outputs back to torch's. */
static bool entry_exec(struct cpu_dnnl *d, dnnl_entry *e, void *const p[4]) {
    dnnl_exec_arg_t args[5];
    int n = 0;
    for (int i = 0; i < e->nargs; i++) {
        if (dnnl_memory_set_data_handle(e->mem[i], p[i]) != dnnl_success) return false;
        if (e->reorder[i] && !e->out[i] && !reorder(d, e, i)) return false;
        args[n++] = (dnnl_exec_arg_t){e->arg[i], e->inner[i] ? e->inner[i] : e->mem[i]};
    }
    if (e->scratch) args[n++] = (dnnl_exec_arg_t){DNNL_ARG_SCRATCHPAD, e->scratch};
    if (dnnl_primitive_execute(e->prim, d->stream, n, args) != dnnl_success) return false;
    for (int i = 0; i < e->nargs; i++)
        if (e->reorder[i] && e->out[i] && !reorder(d, e, i)) return false;
    return dnnl_stream_wait(d->stream) == dnnl_success;
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
    dnnl_key k = key_of(dir, g, groups, o);
    bool hit;
    dnnl_entry *e = cache_find(d, &k, &hit);
    if (!hit && !entry_build(d, e, &k, g)) return 1;
    e->used = ++d->tick;
    /* oneDNN's OpenMP runtime sizes its team from this thread's ICV: the plugin's budget. */
    omp_set_num_threads(st->threads);
    return entry_exec(d, e, p) ? 0 : 1;
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
    if (dnnl_engine_create(&d->engine, dnnl_cpu, 0) != dnnl_success) {
        free(d);
        return;
    }
    if (dnnl_stream_create(&d->stream, d->engine, dnnl_stream_default_flags) != dnnl_success) {
        dnnl_engine_destroy(d->engine);
        free(d);
        return;
    }
    d->dirs = dirs_from_env();
    st->dnnl = d;
}

void cpu_dnnl_close(cpu_state *st) {
    struct cpu_dnnl *d = st->dnnl;
    if (!d) return;
    for (int i = 0; i < DNNL_CACHE; i++) entry_free(&d->cache[i]);
    dnnl_stream_destroy(d->stream);
    dnnl_engine_destroy(d->engine);
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
