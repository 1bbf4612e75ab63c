/* cudnn.c — the conv2d, conv2d_bwd_data and conv2d_bwd_weights slots through cuDNN's
 * convolution API (cudnnConvolutionForward / BackwardData / BackwardFilter).
 *
 * cuDNN is opened with dlopen, like cuBLAS (gemm.c): init maps only libcudnn.so.9, a
 * 130 kB shim that loads its sub-libraries (hundreds of MB) on the first cudnnCreate,
 * which runs at the first convolution. Without the library, with LT_CUDA_CUDNN=0, or for
 * a shape cuDNN's legacy API cannot express (bottom/right padding other than the top/left
 * one), the slots decline and liblt runs im2col and cuBLAS instead.
 *
 * Algorithms come from cuDNN's heuristics (cudnnGet*Algorithm_v7, as torch with
 * cudnn.benchmark=False): the first one that is deterministic and whose workspace fits,
 * so two runs of the same step give the same bits. Descriptors and the chosen algorithm
 * are kept per shape and direction in a small LRU cache; the workspace and the
 * half-precision copies are blocks of the plugin's caching allocator, grown to the
 * largest shape seen, so a steady-state step calls no cudaMalloc.
 *
 * Precision, as gemm.c's matmuls:
 *   32-true + highest     float32, CUDNN_FMA_MATH (no TF32)
 *   32-true + high/medium float32, CUDNN_DEFAULT_MATH (TF32 tensor cores allowed)
 *   16-mixed              inputs rounded to fp16, fp32 accumulation, fp16 result widened
 *                         to float32 (torch autocast's conv2d returns fp16)
 *   bf16-mixed / -true    the same with bf16
 * Bias is added and its gradient summed in float32 by our deterministic kernels. */
#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cuda_impl.h"

/* A toolkit without cudnn.h (cuDNN is a separate download) builds the declining slots at
 * the end of this file instead. */
#if __has_include(<cudnn.h>)
#include <cudnn.h>

#define DNN_CACHE 32                        /* shapes x directions of a model, with room */
#define DNN_WORKSPACE_MAX ((size_t)1 << 30) /* algorithms needing more are skipped */
#define DNN_ALGOS 16                        /* more than any direction's algorithm count */
#define DNN_STR_(x) #x
#define DNN_STR(x) DNN_STR_(x)

const char *cuda_dnn_soname = "libcudnn.so." DNN_STR(CUDNN_MAJOR);

/* Each pointer has the type of the function it stands for. */
typedef struct dnn_api {
    void *lib;
    __typeof__(&cudnnGetVersion) get_version;
    __typeof__(&cudnnGetErrorString) error_string;
    __typeof__(&cudnnCreate) create;
    __typeof__(&cudnnDestroy) destroy;
    __typeof__(&cudnnSetStream) set_stream;
    __typeof__(&cudnnCreateTensorDescriptor) create_tensor;
    __typeof__(&cudnnSetTensor4dDescriptor) set_tensor;
    __typeof__(&cudnnDestroyTensorDescriptor) destroy_tensor;
    __typeof__(&cudnnCreateFilterDescriptor) create_filter;
    __typeof__(&cudnnSetFilter4dDescriptor) set_filter;
    __typeof__(&cudnnDestroyFilterDescriptor) destroy_filter;
    __typeof__(&cudnnCreateConvolutionDescriptor) create_conv;
    __typeof__(&cudnnSetConvolution2dDescriptor) set_conv;
    __typeof__(&cudnnSetConvolutionGroupCount) set_groups;
    __typeof__(&cudnnSetConvolutionMathType) set_math;
    __typeof__(&cudnnDestroyConvolutionDescriptor) destroy_conv;
    __typeof__(&cudnnGetConvolutionForwardAlgorithm_v7) fwd_algos;
    __typeof__(&cudnnGetConvolutionBackwardDataAlgorithm_v7) bwd_data_algos;
    __typeof__(&cudnnGetConvolutionBackwardFilterAlgorithm_v7) bwd_filter_algos;
    __typeof__(&cudnnConvolutionForward) fwd;
    __typeof__(&cudnnConvolutionBackwardData) bwd_data;
    __typeof__(&cudnnConvolutionBackwardFilter) bwd_filter;
    __typeof__(&cudnnAddTensor) add_tensor;
} dnn_api;

enum { DIR_FWD, DIR_BWD_DATA, DIR_BWD_W };

typedef struct dnn_key {
    int64_t dir;
    int64_t v[14]; /* the window's n c h w kh kw sh sw ph pw dh dw oh ow */
    int64_t groups, o;
} dnn_key;

/* One shape and direction: its descriptors and algorithm. */
typedef struct dnn_entry {
    dnn_key key;
    uint64_t used; /* the tick of its last call; 0: the slot is empty */
    cudnnTensorDescriptor_t x, y;
    cudnnFilterDescriptor_t w;
    cudnnConvolutionDescriptor_t conv;
    int algo;
    size_t workspace;
} dnn_entry;

struct cuda_dnn {
    dnn_api api;
    int version;           /* cudnnGetVersion: major * 10000 + minor * 100 + patch */
    cudnnHandle_t handle;  /* made by the first convolution */
    int unusable;          /* cudnnCreate failed: every call declines */
    cudnnDataType_t dtype; /* of x, w, y as cuDNN sees them */
    cudnnMathType_t math;
    cudnnTensorDescriptor_t bias, out; /* float32 (1, O, 1, 1) and (N, O, OH, OW) */
    void *workspace, *half[3];
    size_t workspace_bytes, half_bytes[3];
    uint64_t tick;
    cuda_dnn_stats stats;
    dnn_entry cache[DNN_CACHE];
};

/* ---- loading -------------------------------------------------------------------------- */

static int dnn_syms(dnn_api *a) {
    return CUDA_DLSYM(a, get_version, cudnnGetVersion) &&
           CUDA_DLSYM(a, error_string, cudnnGetErrorString) && CUDA_DLSYM(a, create, cudnnCreate) &&
           CUDA_DLSYM(a, destroy, cudnnDestroy) && CUDA_DLSYM(a, set_stream, cudnnSetStream) &&
           CUDA_DLSYM(a, create_tensor, cudnnCreateTensorDescriptor) &&
           CUDA_DLSYM(a, set_tensor, cudnnSetTensor4dDescriptor) &&
           CUDA_DLSYM(a, destroy_tensor, cudnnDestroyTensorDescriptor) &&
           CUDA_DLSYM(a, create_filter, cudnnCreateFilterDescriptor) &&
           CUDA_DLSYM(a, set_filter, cudnnSetFilter4dDescriptor) &&
           CUDA_DLSYM(a, destroy_filter, cudnnDestroyFilterDescriptor) &&
           CUDA_DLSYM(a, create_conv, cudnnCreateConvolutionDescriptor) &&
           CUDA_DLSYM(a, set_conv, cudnnSetConvolution2dDescriptor) &&
           CUDA_DLSYM(a, set_groups, cudnnSetConvolutionGroupCount) &&
           CUDA_DLSYM(a, set_math, cudnnSetConvolutionMathType) &&
           CUDA_DLSYM(a, destroy_conv, cudnnDestroyConvolutionDescriptor) &&
           CUDA_DLSYM(a, fwd_algos, cudnnGetConvolutionForwardAlgorithm_v7) &&
           CUDA_DLSYM(a, bwd_data_algos, cudnnGetConvolutionBackwardDataAlgorithm_v7) &&
           CUDA_DLSYM(a, bwd_filter_algos, cudnnGetConvolutionBackwardFilterAlgorithm_v7) &&
           CUDA_DLSYM(a, fwd, cudnnConvolutionForward) &&
           CUDA_DLSYM(a, bwd_data, cudnnConvolutionBackwardData) &&
           CUDA_DLSYM(a, bwd_filter, cudnnConvolutionBackwardFilter) &&
           CUDA_DLSYM(a, add_tensor, cudnnAddTensor);
}

/* Data type and math mode for the state's precision (the table at the top). */
static void dnn_precision(const cuda_state *st, struct cuda_dnn *d) {
    switch (st->precision) {
    case LT_PRECISION_16_MIXED: d->dtype = CUDNN_DATA_HALF, d->math = CUDNN_TENSOR_OP_MATH; return;
    case LT_PRECISION_BF16_MIXED:
    case LT_PRECISION_BF16_TRUE:
        d->dtype = CUDNN_DATA_BFLOAT16, d->math = CUDNN_TENSOR_OP_MATH;
        return;
    default: break;
    }
    d->dtype = CUDNN_DATA_FLOAT;
    d->math = st->matmul_precision == LT_MATMUL_HIGHEST ? CUDNN_FMA_MATH : CUDNN_DEFAULT_MATH;
}

void cuda_dnn_open(cuda_state *st) {
    const char *env = getenv("LT_CUDA_CUDNN");
    if (env && !strcmp(env, "0")) {
        snprintf(st->dnn_note, sizeof st->dnn_note, "%s", "cuDNN off (LT_CUDA_CUDNN=0)");
        return;
    }
    struct cuda_dnn *d = calloc(1, sizeof *d);
    if (!d) return;
    dlerror();
    d->api.lib = dlopen(cuda_dnn_soname, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
    if (!d->api.lib || !dnn_syms(&d->api)) {
        const char *why = dlerror();
        snprintf(st->dnn_note, sizeof st->dnn_note, "no cuDNN (%.200s)",
                 why ? why : cuda_dnn_soname);
        if (d->api.lib) dlclose(d->api.lib);
        free(d);
        return;
    }
    d->version = (int)d->api.get_version();
    dnn_precision(st, d);
    snprintf(st->dnn_note, sizeof st->dnn_note, "cuDNN %d.%d.%d", d->version / 10000,
             d->version % 10000 / 100, d->version % 100);
    st->dnn = d;
}

/* The handle and the float32 descriptors, at the first convolution; 0 when cuDNN cannot
 * run (said once on stderr: the slots decline from then on). */
static int dnn_ready(cuda_state *st, struct cuda_dnn *d) {
    if (d->handle) return 1;
    if (d->unusable) return 0;
    cudnnStatus_t s = d->api.create(&d->handle);
    if (s == CUDNN_STATUS_SUCCESS) s = d->api.set_stream(d->handle, st->stream);
    if (s == CUDNN_STATUS_SUCCESS) s = d->api.create_tensor(&d->bias);
    if (s == CUDNN_STATUS_SUCCESS) s = d->api.create_tensor(&d->out);
    if (s == CUDNN_STATUS_SUCCESS) return 1;
    fprintf(stderr,
            "lthost: warning: cuda accelerator: cuDNN cannot run (%s); convolutions run as "
            "im2col and cuBLAS\n",
            d->api.error_string(s));
    d->unusable = 1;
    return 0;
}

/* ---- shapes and the cache --------------------------------------------------------------- */

static int fits_int(int64_t v) { return v >= 0 && v <= INT_MAX; }

/* What cuDNN's legacy API can express: int dimensions, fewer than 2^31 elements per tensor,
 * and the bottom/right padding equal to the top/left one (cuDNN's output size formula
 * must give oh, ow). */
static int dnn_supports(const lt_window2d *g, int64_t groups, int64_t o) {
    const int64_t v[] = {g->n,  g->c,  g->h,  g->w,  g->kh, g->kw, g->sh,
                         g->sw, g->ph, g->pw, g->dh, g->dw, g->oh, g->ow};
    for (size_t i = 0; i < sizeof v / sizeof *v; i++)
        if (!fits_int(v[i])) return 0;
    if (groups < 1 || o < 1 || !fits_int(o) || g->c % groups || o % groups) return 0;
    if (g->n < 1 || g->c < 1 || g->sh < 1 || g->sw < 1 || g->dh < 1 || g->dw < 1) return 0;
    const int64_t eh = g->dh * (g->kh - 1) + 1, ew = g->dw * (g->kw - 1) + 1;
    if (g->h + 2 * g->ph < eh || g->w + 2 * g->pw < ew) return 0;
    if ((g->h + 2 * g->ph - eh) / g->sh + 1 != g->oh ||
        (g->w + 2 * g->pw - ew) / g->sw + 1 != g->ow)
        return 0;
    const double big = (double)INT_MAX;
    return (double)g->n * (double)g->c * (double)g->h * (double)g->w < big &&
           (double)g->n * (double)o * (double)g->oh * (double)g->ow < big &&
           (double)o * (double)(g->c / groups) * (double)g->kh * (double)g->kw < big;
}

static dnn_key key_of(int dir, const lt_window2d *g, int64_t groups, int64_t o) {
    dnn_key k;
    memset(&k, 0, sizeof k); /* compared with memcmp */
    const int64_t v[14] = {g->n,  g->c,  g->h,  g->w,  g->kh, g->kw, g->sh,
                           g->sw, g->ph, g->pw, g->dh, g->dw, g->oh, g->ow};
    memcpy(k.v, v, sizeof v);
    k.dir = dir, k.groups = groups, k.o = o;
    return k;
}

static void entry_free(struct cuda_dnn *d, dnn_entry *e) {
    if (e->x) d->api.destroy_tensor(e->x);
    if (e->y) d->api.destroy_tensor(e->y);
    if (e->w) d->api.destroy_filter(e->w);
    if (e->conv) d->api.destroy_conv(e->conv);
    if (e->used) d->stats.live--;
    memset(e, 0, sizeof *e);
}

/* The entry for k, or the slot to build it in (empty, else least recently used). */
static dnn_entry *cache_find(struct cuda_dnn *d, const dnn_key *k, int *hit) {
    dnn_entry *victim = &d->cache[0];
    for (int i = 0; i < DNN_CACHE; i++) {
        dnn_entry *e = &d->cache[i];
        if (e->used && !memcmp(&e->key, k, sizeof *k)) {
            *hit = 1;
            return e;
        }
        if (e->used < victim->used) victim = e;
    }
    *hit = 0;
    if (victim->used) d->stats.evictions++;
    entry_free(d, victim);
    return victim;
}

/* x, w, y and the convolution's descriptors for the window. */
static cudnnStatus_t entry_descs(struct cuda_dnn *d, dnn_entry *e, const lt_window2d *g,
                                 int64_t groups, int64_t o) {
    const dnn_api *a = &d->api;
    cudnnStatus_t s = a->create_tensor(&e->x);
    if (s == CUDNN_STATUS_SUCCESS) s = a->create_tensor(&e->y);
    if (s == CUDNN_STATUS_SUCCESS) s = a->create_filter(&e->w);
    if (s == CUDNN_STATUS_SUCCESS) s = a->create_conv(&e->conv);
    if (s == CUDNN_STATUS_SUCCESS)
        s = a->set_tensor(e->x, CUDNN_TENSOR_NCHW, d->dtype, (int)g->n, (int)g->c, (int)g->h,
                          (int)g->w);
    if (s == CUDNN_STATUS_SUCCESS)
        s = a->set_tensor(e->y, CUDNN_TENSOR_NCHW, d->dtype, (int)g->n, (int)o, (int)g->oh,
                          (int)g->ow);
    if (s == CUDNN_STATUS_SUCCESS)
        s = a->set_filter(e->w, d->dtype, CUDNN_TENSOR_NCHW, (int)o, (int)(g->c / groups),
                          (int)g->kh, (int)g->kw);
    /* Accumulate in float32 whatever the data type (PSEUDO_HALF / PSEUDO_BFLOAT16). */
    if (s == CUDNN_STATUS_SUCCESS)
        s = a->set_conv(e->conv, (int)g->ph, (int)g->pw, (int)g->sh, (int)g->sw, (int)g->dh,
                        (int)g->dw, CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT);
    if (s == CUDNN_STATUS_SUCCESS) s = a->set_groups(e->conv, (int)groups);
    if (s == CUDNN_STATUS_SUCCESS) s = a->set_math(e->conv, d->math);
    return s;
}

/* One heuristic's answer, whichever direction it came from. */
typedef struct dnn_choice {
    int algo;
    cudnnStatus_t status;
    size_t memory;
    cudnnDeterminism_t determinism;
    cudnnMathType_t math;
} dnn_choice;

/* Every direction's ranked list, as dnn_choice; the count returned, 0 on an error. */
static int dnn_heuristics(struct cuda_dnn *d, const dnn_entry *e, dnn_choice *out) {
    const dnn_api *a = &d->api;
    int n = 0;
    cudnnStatus_t s;
    if (e->key.dir == DIR_FWD) {
        cudnnConvolutionFwdAlgoPerf_t p[DNN_ALGOS];
        s = a->fwd_algos(d->handle, e->x, e->w, e->conv, e->y, DNN_ALGOS, &n, p);
        for (int i = 0; s == CUDNN_STATUS_SUCCESS && i < n; i++)
            out[i] =
                (dnn_choice){p[i].algo, p[i].status, p[i].memory, p[i].determinism, p[i].mathType};
    } else if (e->key.dir == DIR_BWD_DATA) {
        cudnnConvolutionBwdDataAlgoPerf_t p[DNN_ALGOS];
        s = a->bwd_data_algos(d->handle, e->w, e->y, e->conv, e->x, DNN_ALGOS, &n, p);
        for (int i = 0; s == CUDNN_STATUS_SUCCESS && i < n; i++)
            out[i] =
                (dnn_choice){p[i].algo, p[i].status, p[i].memory, p[i].determinism, p[i].mathType};
    } else {
        cudnnConvolutionBwdFilterAlgoPerf_t p[DNN_ALGOS];
        s = a->bwd_filter_algos(d->handle, e->x, e->y, e->conv, e->w, DNN_ALGOS, &n, p);
        for (int i = 0; s == CUDNN_STATUS_SUCCESS && i < n; i++)
            out[i] =
                (dnn_choice){p[i].algo, p[i].status, p[i].memory, p[i].determinism, p[i].mathType};
    }
    return s == CUDNN_STATUS_SUCCESS && n > 0 && n <= DNN_ALGOS ? n : 0;
}

static int needs_tensor_ops(cudnnMathType_t m) {
    return m == CUDNN_TENSOR_OP_MATH || m == CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION;
}

/* The first deterministic algorithm in the heuristics' order whose workspace fits (and,
 * under FMA math, that does not need tensor cores); its math type goes on the descriptor,
 * FMA staying FMA (no TF32). 0 when there is none. */
static int entry_algo(struct cuda_dnn *d, dnn_entry *e) {
    dnn_choice c[DNN_ALGOS];
    const int n = dnn_heuristics(d, e, c);
    for (int i = 0; i < n; i++) {
        if (c[i].status != CUDNN_STATUS_SUCCESS || c[i].determinism != CUDNN_DETERMINISTIC ||
            c[i].memory > DNN_WORKSPACE_MAX ||
            (d->math == CUDNN_FMA_MATH && needs_tensor_ops(c[i].math)))
            continue;
        const cudnnMathType_t m = d->math == CUDNN_FMA_MATH ? CUDNN_FMA_MATH : c[i].math;
        if (d->api.set_math(e->conv, m) != CUDNN_STATUS_SUCCESS) return 0;
        e->algo = c[i].algo;
        e->workspace = c[i].memory;
        return 1;
    }
    return 0;
}

/* The cached entry for this call, built on a miss; NULL to decline. */
static dnn_entry *dnn_entry_for(cuda_state *st, int dir, const lt_window2d *g, int64_t groups,
                                int64_t o) {
    struct cuda_dnn *d = st->dnn;
    if (!d || st->error != LT_OK || !dnn_supports(g, groups, o) || !dnn_ready(st, d)) return NULL;
    const dnn_key k = key_of(dir, g, groups, o);
    int hit;
    dnn_entry *e = cache_find(d, &k, &hit);
    if (!hit) {
        e->key = k;
        if (entry_descs(d, e, g, groups, o) != CUDNN_STATUS_SUCCESS || !entry_algo(d, e)) {
            entry_free(d, e); /* used is 0: not counted live */
            d->stats.declined++;
            return NULL;
        }
        d->stats.builds++;
        d->stats.live++;
    }
    e->used = ++d->tick;
    return e;
}

/* ---- buffers ----------------------------------------------------------------------------- */

/* A caching-allocator block of at least nbytes, grown by replacing it: the stream orders
 * the old block's last use before the next user of it. NULL (recorded) when out of memory. */
static void *grow(cuda_state *st, void **buf, size_t *have, size_t nbytes) {
    if (*have >= nbytes && *buf) return *buf;
    cuda_cache_free(st, *buf);
    *buf = cuda_cache_alloc(st, nbytes ? nbytes : 1);
    *have = *buf ? nbytes : 0;
    if (!*buf) cuda_fail(st, "cuDNN convolution", "out of device memory for its buffers");
    return *buf;
}

static int is_half(const struct cuda_dnn *d) { return d->dtype != CUDNN_DATA_FLOAT; }

/* Operand i as cuDNN reads it: d_src itself in float32, else a half copy of n elements. */
static const void *operand(cuda_state *st, int i, const float *d_src, int64_t n) {
    struct cuda_dnn *d = st->dnn;
    if (!is_half(d)) return d_src;
    void *h = grow(st, &d->half[i], &d->half_bytes[i], (size_t)n * 2);
    if (h) cuda_to_half(st, 1, n, d_src, n, d->dtype == CUDNN_DATA_BFLOAT16, h);
    return h;
}

/* Where cuDNN writes its result: d_out in float32, else the half scratch (widened after). */
static void *result(cuda_state *st, float *d_out, int64_t n) {
    struct cuda_dnn *d = st->dnn;
    return is_half(d) ? grow(st, &d->half[2], &d->half_bytes[2], (size_t)n * 2) : d_out;
}

static void widen(cuda_state *st, const void *r, float *d_out, int64_t n) {
    struct cuda_dnn *d = st->dnn;
    if (is_half(d))
        cuda_cast_f32(st, n, d->dtype == CUDNN_DATA_BFLOAT16 ? LT_BF16 : LT_F16, r, 1.0f, d_out);
}

/* A cuDNN call's status: recorded as a device error unless it succeeded. */
static int dnn_ok(cuda_state *st, cudnnStatus_t s, const char *call) {
    if (s == CUDNN_STATUS_SUCCESS) return 1;
    cuda_fail(st, call, st->dnn->api.error_string(s));
    return 0;
}

/* ---- the slots ---------------------------------------------------------------------------- */

static const float one = 1.0f, zero = 0.0f;

/* Elements of x (N, C, H, W), y (N, O, OH, OW) and w (O, C / groups, KH, KW). */
typedef struct conv_sizes {
    int64_t x, y, w;
} conv_sizes;

static conv_sizes sizes_of(const lt_window2d *g, int64_t groups, int64_t o) {
    return (conv_sizes){g->n * g->c * g->h * g->w, g->n * o * g->oh * g->ow,
                        o * (g->c / groups) * g->kh * g->kw};
}

/* y += b over (N, O, OH, OW), in float32. */
static void add_bias(cuda_state *st, const lt_window2d *g, int64_t o, const float *d_b,
                     float *d_y) {
    struct cuda_dnn *d = st->dnn;
    const dnn_api *a = &d->api;
    if (dnn_ok(st, a->set_tensor(d->bias, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, 1, (int)o, 1, 1),
               "cudnnSetTensor4dDescriptor") &&
        dnn_ok(st,
               a->set_tensor(d->out, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, (int)g->n, (int)o,
                             (int)g->oh, (int)g->ow),
               "cudnnSetTensor4dDescriptor"))
        dnn_ok(st, a->add_tensor(d->handle, &one, d->bias, d_b, &one, d->out, d_y),
               "cudnnAddTensor");
}

int cuda_conv2d(void *vst, const lt_window2d *g, int64_t groups, int64_t o, const float *d_x,
                const float *d_w, const float *d_b, float *d_y) {
    cuda_state *st = vst;
    dnn_entry *e = dnn_entry_for(st, DIR_FWD, g, groups, o);
    if (!e) return 1;
    struct cuda_dnn *d = st->dnn;
    const conv_sizes n = sizes_of(g, groups, o);
    const void *x = operand(st, 0, d_x, n.x), *w = operand(st, 1, d_w, n.w);
    void *y = result(st, d_y, n.y);
    void *ws = grow(st, &d->workspace, &d->workspace_bytes, e->workspace);
    if (!x || !w || !y || !ws) return 0; /* recorded: the step fails at its next sync */
    if (!dnn_ok(st,
                d->api.fwd(d->handle, &one, e->x, x, e->w, w, e->conv,
                           (cudnnConvolutionFwdAlgo_t)e->algo, ws, e->workspace, &zero, e->y, y),
                "cudnnConvolutionForward"))
        return 0;
    widen(st, y, d_y, n.y);
    if (d_b) add_bias(st, g, o, d_b, d_y);
    d->stats.calls++;
    return 0;
}

int cuda_conv2d_bwd_data(void *vst, const lt_window2d *g, int64_t groups, int64_t o,
                         const float *d_dy, const float *d_w, float *d_dx) {
    cuda_state *st = vst;
    dnn_entry *e = dnn_entry_for(st, DIR_BWD_DATA, g, groups, o);
    if (!e) return 1;
    struct cuda_dnn *d = st->dnn;
    const conv_sizes n = sizes_of(g, groups, o);
    const void *dy = operand(st, 0, d_dy, n.y), *w = operand(st, 1, d_w, n.w);
    void *dx = result(st, d_dx, n.x);
    void *ws = grow(st, &d->workspace, &d->workspace_bytes, e->workspace);
    if (!dy || !w || !dx || !ws) return 0;
    if (!dnn_ok(st,
                d->api.bwd_data(d->handle, &one, e->w, w, e->y, dy, e->conv,
                                (cudnnConvolutionBwdDataAlgo_t)e->algo, ws, e->workspace, &zero,
                                e->x, dx),
                "cudnnConvolutionBackwardData"))
        return 0;
    widen(st, dx, d_dx, n.x);
    d->stats.calls++;
    return 0;
}

/* db = the sum of dy over N, OH, OW: per (n, o) plane, then over n, in double (reduce.cu),
 * so it is the same from run to run. */
static void bias_grad(cuda_state *st, const lt_window2d *g, int64_t o, const float *d_dy,
                      float *d_db) {
    struct cuda_dnn *d = st->dnn;
    const int64_t planes = g->n * o;
    float *part = grow(st, &d->half[2], &d->half_bytes[2], (size_t)planes * sizeof(float));
    if (!part) return;
    cuda_reduce_sum(st, planes, g->oh * g->ow, 1, d_dy, 1.0f, part);
    cuda_reduce_sum(st, 1, g->n, o, part, 1.0f, d_db);
}

int cuda_conv2d_bwd_weights(void *vst, const lt_window2d *g, int64_t groups, int64_t o,
                            const float *d_x, const float *d_dy, float *d_dw, float *d_db) {
    cuda_state *st = vst;
    dnn_entry *e = dnn_entry_for(st, DIR_BWD_W, g, groups, o);
    if (!e) return 1;
    struct cuda_dnn *d = st->dnn;
    const conv_sizes n = sizes_of(g, groups, o);
    const void *x = operand(st, 0, d_x, n.x), *dy = operand(st, 1, d_dy, n.y);
    void *dw = result(st, d_dw, n.w);
    void *ws = grow(st, &d->workspace, &d->workspace_bytes, e->workspace);
    if (!x || !dy || !dw || !ws) return 0;
    if (!dnn_ok(st,
                d->api.bwd_filter(d->handle, &one, e->x, x, e->y, dy, e->conv,
                                  (cudnnConvolutionBwdFilterAlgo_t)e->algo, ws, e->workspace, &zero,
                                  e->w, dw),
                "cudnnConvolutionBackwardFilter"))
        return 0;
    widen(st, dw, d_dw, n.w);
    if (d_db) bias_grad(st, g, o, d_dy, d_db); /* after widen: it reuses the result scratch */
    d->stats.calls++;
    return 0;
}

/* ---- teardown, statistics ------------------------------------------------------------------ */

void cuda_dnn_close(cuda_state *st) {
    struct cuda_dnn *d = st->dnn;
    if (!d) return;
    for (int i = 0; i < DNN_CACHE; i++) entry_free(d, &d->cache[i]);
    if (d->bias) d->api.destroy_tensor(d->bias);
    if (d->out) d->api.destroy_tensor(d->out);
    if (d->handle) d->api.destroy(d->handle);
    cuda_cache_free(st, d->workspace);
    for (int i = 0; i < 3; i++) cuda_cache_free(st, d->half[i]);
    dlclose(d->api.lib); /* NODELETE: stays mapped for a later device */
    free(d);
    st->dnn = NULL;
}

int cuda_dnn_stats_of(const cuda_state *st, cuda_dnn_stats *out) {
    if (!st->dnn) return 0;
    *out = st->dnn->stats;
    return 1;
}

#else /* no cudnn.h at build time: the slots decline, liblt runs im2col and cuBLAS */

const char *cuda_dnn_soname = "";

void cuda_dnn_open(cuda_state *st) {
    snprintf(st->dnn_note, sizeof st->dnn_note, "%s", "no cuDNN (built without cudnn.h)");
}

void cuda_dnn_close(cuda_state *st) { (void)st; }

int cuda_dnn_stats_of(const cuda_state *st, cuda_dnn_stats *out) {
    (void)st, (void)out;
    return 0;
}

int cuda_conv2d(void *st, const lt_window2d *g, int64_t groups, int64_t o, const float *d_x,
                const float *d_w, const float *d_b, float *d_y) {
    (void)st, (void)g, (void)groups, (void)o, (void)d_x, (void)d_w, (void)d_b, (void)d_y;
    return 1;
}

int cuda_conv2d_bwd_data(void *st, const lt_window2d *g, int64_t groups, int64_t o,
                         const float *d_dy, const float *d_w, float *d_dx) {
    (void)st, (void)g, (void)groups, (void)o, (void)d_dy, (void)d_w, (void)d_dx;
    return 1;
}

int cuda_conv2d_bwd_weights(void *st, const lt_window2d *g, int64_t groups, int64_t o,
                            const float *d_x, const float *d_dy, float *d_dw, float *d_db) {
    (void)st, (void)g, (void)groups, (void)o, (void)d_x, (void)d_dy, (void)d_dw, (void)d_db;
    return 1;
}

#endif
