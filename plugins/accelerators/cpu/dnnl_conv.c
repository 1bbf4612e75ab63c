/* dnnl_conv.c — direct 2-D convolution through oneDNN (Debian's libdnnl, built with the
 * OpenMP runtime), for the conv2d slots. Primitives are created once per shape and
 * direction and kept in a small cache (creating one JIT-compiles code: far too slow per
 * call); a full cache evicts its least recently used entry. Tensors stay in torch's plain
 * layouts (nchw, oihw), so no reorder runs around a primitive.
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

/* One primitive and its memory objects (created without data; execution sets it). */
typedef struct dnnl_entry {
    dnnl_key key;
    uint64_t used; /* the tick of its last call, for eviction; 0: the slot is empty */
    dnnl_primitive_t prim;
    dnnl_memory_t mem[4];
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
    for (int i = 0; i < e->nargs; i++) dnnl_memory_destroy(e->mem[i]);
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

typedef struct conv_mds {
    dnnl_memory_desc_t x, w, b, y;
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
    return dnnl_memory_desc_init_by_tag(&m->x, 4, xd, dnnl_f32, dnnl_nchw) == dnnl_success &&
           dnnl_memory_desc_init_by_tag(&m->y, 4, yd, dnnl_f32, dnnl_nchw) == dnnl_success &&
           dnnl_memory_desc_init_by_tag(&m->b, 1, bd, dnnl_f32, dnnl_a) == dnnl_success &&
           dnnl_memory_desc_init_by_tag(&m->w, grouped ? 5 : 4, grouped ? gwd : wd, dnnl_f32,
                                        grouped ? dnnl_goihw : dnnl_oihw) == dnnl_success;
}

static bool fwd_desc(const conv_mds *m, bool bias, dnnl_convolution_desc_t *cd) {
    return dnnl_dilated_convolution_forward_desc_init(
               cd, dnnl_forward_training, dnnl_convolution_direct, &m->x, &m->w,
               bias ? &m->b : NULL, &m->y, m->strides, m->dilates, m->pad_l,
               m->pad_r) == dnnl_success;
}

static dnnl_primitive_desc_t make_pd(struct cpu_dnnl *d, int dir, const conv_mds *m) {
    dnnl_convolution_desc_t fd, cd;
    dnnl_primitive_desc_t hint = NULL, pd = NULL;
    bool bias = dir == DIR_FWD_BIAS || dir == DIR_BWD_WB;
    if (!fwd_desc(m, bias, &fd) ||
        dnnl_primitive_desc_create(&hint, &fd, NULL, d->engine, NULL) != dnnl_success)
        return NULL;
    if (dir == DIR_FWD || dir == DIR_FWD_BIAS) return hint;
    bool ok = dir == DIR_BWD_DATA
                  ? dnnl_dilated_convolution_backward_data_desc_init(
                        &cd, dnnl_convolution_direct, &m->x, &m->w, &m->y, m->strides, m->dilates,
                        m->pad_l, m->pad_r) == dnnl_success
                  : dnnl_dilated_convolution_backward_weights_desc_init(
                        &cd, dnnl_convolution_direct, &m->x, &m->w, bias ? &m->b : NULL, &m->y,
                        m->strides, m->dilates, m->pad_l, m->pad_r) == dnnl_success;
    if (!ok || dnnl_primitive_desc_create(&pd, &cd, NULL, d->engine, hint) != dnnl_success)
        pd = NULL;
    dnnl_primitive_desc_destroy(hint);
    return pd;
}

/* The execution arguments of each direction, in the order the slots pass pointers. */
static int dir_args(int dir, const conv_mds *m, int arg[4], const dnnl_memory_desc_t *md[4]) {
    switch (dir) {
    case DIR_FWD:
    case DIR_FWD_BIAS:
        arg[0] = DNNL_ARG_SRC, arg[1] = DNNL_ARG_WEIGHTS, arg[2] = DNNL_ARG_DST;
        arg[3] = DNNL_ARG_BIAS, md[0] = &m->x, md[1] = &m->w, md[2] = &m->y, md[3] = &m->b;
        return dir == DIR_FWD_BIAS ? 4 : 3;
    case DIR_BWD_DATA:
        arg[0] = DNNL_ARG_DIFF_DST, arg[1] = DNNL_ARG_WEIGHTS, arg[2] = DNNL_ARG_DIFF_SRC;
        md[0] = &m->y, md[1] = &m->w, md[2] = &m->x;
        return 3;
    default:
        arg[0] = DNNL_ARG_SRC, arg[1] = DNNL_ARG_DIFF_DST, arg[2] = DNNL_ARG_DIFF_WEIGHTS;
        arg[3] = DNNL_ARG_DIFF_BIAS, md[0] = &m->x, md[1] = &m->y, md[2] = &m->w, md[3] = &m->b;
        return dir == DIR_BWD_WB ? 4 : 3;
    }
}

static bool entry_build(struct cpu_dnnl *d, dnnl_entry *e, const dnnl_key *k,
                        const lt_window2d *g) {
    conv_mds m;
    dnnl_primitive_desc_t pd = mds_of(g, k->groups, k->o, &m) ? make_pd(d, k->dir, &m) : NULL;
    if (!pd) return false;
    bool ok = dnnl_primitive_create(&e->prim, pd) == dnnl_success;
    dnnl_primitive_desc_destroy(pd);
    const dnnl_memory_desc_t *md[4];
    int n = dir_args(k->dir, &m, e->arg, md);
    for (int i = 0; ok && i < n; i++) {
        ok = dnnl_memory_create(&e->mem[i], md[i], d->engine, DNNL_MEMORY_NONE) == dnnl_success;
        e->nargs = ok ? i + 1 : i;
    }
    e->key = *k;
    e->used = ++d->tick;
    if (!ok) entry_free(e);
    return ok;
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
    dnnl_exec_arg_t args[4];
    for (int i = 0; i < e->nargs; i++) {
        dnnl_memory_set_data_handle(e->mem[i], p[i]);
        args[i] = (dnnl_exec_arg_t){.arg = e->arg[i], .memory = e->mem[i]};
    }
    /* oneDNN's OpenMP runtime sizes its team from this thread's ICV: the plugin's budget. */
    omp_set_num_threads(st->threads);
    if (dnnl_primitive_execute(e->prim, d->stream, e->nargs, args) != dnnl_success) return 1;
    dnnl_stream_wait(d->stream);
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
