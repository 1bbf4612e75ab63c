/* fake_cudnn.c — a stand-in libcudnn for cuda_host_check: the calls the cuda plugin's
 * cudnn.c makes, on host memory (the fake runtime's device memory), so its descriptors,
 * algorithm choice, cache, workspace and teardown are checked without a GPU.
 *
 * The convolutions are computed from the descriptors as cuDNN documents them (cross-
 * correlation, symmetric padding, groups), float32 only, so a descriptor set up wrongly
 * shows as a wrong result. The heuristics list a non-deterministic algorithm first and a
 * tensor-core one second; the convolution calls refuse the first, the second under FMA
 * math, and a workspace smaller than asked for. Every descriptor and handle is counted, so
 * the check sees whether shutdown destroyed them all. Before computing, the fake runtime's
 * queued copies are run through fake_cudnn_flush, which the check sets. */
#include <stdlib.h>
#include <string.h>

#include <cudnn.h>

#define FAKE_VERSION 90100 /* "cuDNN 9.1.0" */
#define FAKE_ALGO 1        /* deterministic, any math */
#define FAKE_ALGO_TC 2     /* deterministic, tensor cores only: refused under FMA math */
#define FAKE_WORKSPACE(n) ((size_t)(n)*4096)

/* What the check reads and sets (dlsym). */
long fake_cudnn_live;                 /* handles and descriptors not destroyed */
int fake_cudnn_create_fails;          /* cudnnCreate answers NOT_INITIALIZED */
int fake_cudnn_nondeterministic;      /* heuristics list no deterministic algorithm */
long fake_cudnn_heuristics;           /* heuristic queries (one per cache miss) */
cudnnMathType_t fake_cudnn_last_math; /* of the last convolution run */
int fake_cudnn_last_algo;
/* Runs the fake runtime's queued copies (the inputs' uploads). A pointer the check sets
 * rather than a cudaStreamSynchronize resolved at load time: this module is linked with
 * the real libcudart, and a call bound to it leaves the uploads queued, so a convolution
 * reads stale inputs (the first forward of each shape failed so on the GPU machine). */
void (*fake_cudnn_flush)(void);

struct cudnnContext {
    cudaStream_t stream;
};
struct cudnnTensorStruct {
    int n, c, h, w;
    cudnnDataType_t type;
};
struct cudnnFilterStruct {
    int k, c, h, w;
    cudnnDataType_t type;
};
struct cudnnConvolutionStruct {
    int ph, pw, sh, sw, dh, dw, groups;
    cudnnConvolutionMode_t mode;
    cudnnMathType_t math;
};

size_t cudnnGetVersion(void) { return FAKE_VERSION; }

const char *cudnnGetErrorString(cudnnStatus_t s) {
    return s == CUDNN_STATUS_SUCCESS ? "CUDNN_STATUS_SUCCESS" : "CUDNN_STATUS_FAKE_ERROR";
}

/* ---- handles and descriptors ------------------------------------------------------------ */

static cudnnStatus_t make(void **p, size_t size) {
    *p = calloc(1, size);
    if (!*p) return CUDNN_STATUS_ALLOC_FAILED;
    fake_cudnn_live++;
    return CUDNN_STATUS_SUCCESS;
}

static cudnnStatus_t drop(void *p) {
    if (!p) return CUDNN_STATUS_BAD_PARAM;
    free(p);
    fake_cudnn_live--;
    return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnCreate(cudnnHandle_t *h) {
    if (fake_cudnn_create_fails) return CUDNN_STATUS_NOT_INITIALIZED;
    return make((void **)h, sizeof **h);
}
cudnnStatus_t cudnnDestroy(cudnnHandle_t h) { return drop(h); }
cudnnStatus_t cudnnSetStream(cudnnHandle_t h, cudaStream_t s) {
    h->stream = s;
    return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnCreateTensorDescriptor(cudnnTensorDescriptor_t *t) {
    return make((void **)t, sizeof **t);
}
cudnnStatus_t cudnnDestroyTensorDescriptor(cudnnTensorDescriptor_t t) { return drop(t); }
cudnnStatus_t cudnnSetTensor4dDescriptor(cudnnTensorDescriptor_t t, cudnnTensorFormat_t f,
                                         cudnnDataType_t type, int n, int c, int h, int w) {
    if (f != CUDNN_TENSOR_NCHW || n < 1 || c < 1 || h < 1 || w < 1) return CUDNN_STATUS_BAD_PARAM;
    *t = (struct cudnnTensorStruct){n, c, h, w, type};
    return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnCreateFilterDescriptor(cudnnFilterDescriptor_t *f) {
    return make((void **)f, sizeof **f);
}
cudnnStatus_t cudnnDestroyFilterDescriptor(cudnnFilterDescriptor_t f) { return drop(f); }
cudnnStatus_t cudnnSetFilter4dDescriptor(cudnnFilterDescriptor_t f, cudnnDataType_t type,
                                         cudnnTensorFormat_t fmt, int k, int c, int h, int w) {
    if (fmt != CUDNN_TENSOR_NCHW || k < 1 || c < 1 || h < 1 || w < 1) return CUDNN_STATUS_BAD_PARAM;
    *f = (struct cudnnFilterStruct){k, c, h, w, type};
    return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnCreateConvolutionDescriptor(cudnnConvolutionDescriptor_t *c) {
    cudnnStatus_t s = make((void **)c, sizeof **c);
    if (s == CUDNN_STATUS_SUCCESS) (*c)->groups = 1;
    return s;
}
cudnnStatus_t cudnnDestroyConvolutionDescriptor(cudnnConvolutionDescriptor_t c) { return drop(c); }
cudnnStatus_t cudnnSetConvolution2dDescriptor(cudnnConvolutionDescriptor_t c, int ph, int pw,
                                              int sh, int sw, int dh, int dw,
                                              cudnnConvolutionMode_t mode,
                                              cudnnDataType_t compute) {
    if (ph < 0 || pw < 0 || sh < 1 || sw < 1 || dh < 1 || dw < 1 || compute != CUDNN_DATA_FLOAT)
        return CUDNN_STATUS_BAD_PARAM;
    c->ph = ph, c->pw = pw, c->sh = sh, c->sw = sw, c->dh = dh, c->dw = dw, c->mode = mode;
    return CUDNN_STATUS_SUCCESS;
}
cudnnStatus_t cudnnSetConvolutionGroupCount(cudnnConvolutionDescriptor_t c, int groups) {
    if (groups < 1) return CUDNN_STATUS_BAD_PARAM;
    c->groups = groups;
    return CUDNN_STATUS_SUCCESS;
}
cudnnStatus_t cudnnSetConvolutionMathType(cudnnConvolutionDescriptor_t c, cudnnMathType_t m) {
    c->math = m;
    return CUDNN_STATUS_SUCCESS;
}

/* ---- the geometry cuDNN checks ------------------------------------------------------------ */

static int out_size(int in, int pad, int k, int stride, int dil) {
    return (in + 2 * pad - dil * (k - 1) - 1) / stride + 1;
}

/* x, w, y and the convolution agree (what real cuDNN answers BAD_PARAM to otherwise). */
static int consistent(const struct cudnnTensorStruct *x, const struct cudnnFilterStruct *w,
                      const struct cudnnConvolutionStruct *c, const struct cudnnTensorStruct *y) {
    return c->mode == CUDNN_CROSS_CORRELATION && x->type == CUDNN_DATA_FLOAT &&
           y->type == CUDNN_DATA_FLOAT && w->type == CUDNN_DATA_FLOAT && x->n == y->n &&
           x->c == w->c * c->groups && y->c == w->k && w->k % c->groups == 0 &&
           y->h == out_size(x->h, c->ph, w->h, c->sh, c->dh) &&
           y->w == out_size(x->w, c->pw, w->w, c->sw, c->dw);
}

/* Three answers, as cuDNN ranks them: a non-deterministic (atomic) algorithm first, then
 * a deterministic one that needs tensor cores (TF32/half), then a deterministic one in
 * the descriptor's math type. */
#define FAKE_HEURISTICS(perf_t, algo_t)                                                            \
    do {                                                                                           \
        fake_cudnn_heuristics++;                                                                   \
        if (!consistent(x, w, c, y) || want < 3) return CUDNN_STATUS_BAD_PARAM;                    \
        memset(p, 0, 3 * sizeof *p);                                                               \
        const cudnnDeterminism_t det =                                                             \
            fake_cudnn_nondeterministic ? CUDNN_NON_DETERMINISTIC : CUDNN_DETERMINISTIC;           \
        p[0] = (perf_t){.algo = (algo_t)0, .determinism = CUDNN_NON_DETERMINISTIC};                \
        p[1] = (perf_t){.algo = (algo_t)FAKE_ALGO_TC,                                              \
                        .determinism = det,                                                        \
                        .memory = FAKE_WORKSPACE(y->c),                                            \
                        .mathType = CUDNN_TENSOR_OP_MATH};                                         \
        p[2] = (perf_t){.algo = (algo_t)FAKE_ALGO,                                                 \
                        .determinism = det,                                                        \
                        .memory = FAKE_WORKSPACE(y->c),                                            \
                        .mathType = c->math};                                                      \
        *got = 3;                                                                                  \
        return CUDNN_STATUS_SUCCESS;                                                               \
    } while (0)

cudnnStatus_t cudnnGetConvolutionForwardAlgorithm_v7(cudnnHandle_t h, cudnnTensorDescriptor_t x,
                                                     cudnnFilterDescriptor_t w,
                                                     cudnnConvolutionDescriptor_t c,
                                                     cudnnTensorDescriptor_t y, int want, int *got,
                                                     cudnnConvolutionFwdAlgoPerf_t *p) {
    (void)h;
    FAKE_HEURISTICS(cudnnConvolutionFwdAlgoPerf_t, cudnnConvolutionFwdAlgo_t);
}

cudnnStatus_t cudnnGetConvolutionBackwardDataAlgorithm_v7(
    cudnnHandle_t h, cudnnFilterDescriptor_t w, cudnnTensorDescriptor_t y,
    cudnnConvolutionDescriptor_t c, cudnnTensorDescriptor_t x, int want, int *got,
    cudnnConvolutionBwdDataAlgoPerf_t *p) {
    (void)h;
    FAKE_HEURISTICS(cudnnConvolutionBwdDataAlgoPerf_t, cudnnConvolutionBwdDataAlgo_t);
}

cudnnStatus_t cudnnGetConvolutionBackwardFilterAlgorithm_v7(
    cudnnHandle_t h, cudnnTensorDescriptor_t x, cudnnTensorDescriptor_t y,
    cudnnConvolutionDescriptor_t c, cudnnFilterDescriptor_t w, int want, int *got,
    cudnnConvolutionBwdFilterAlgoPerf_t *p) {
    (void)h;
    FAKE_HEURISTICS(cudnnConvolutionBwdFilterAlgoPerf_t, cudnnConvolutionBwdFilterAlgo_t);
}

/* ---- the convolutions ---------------------------------------------------------------------- */

typedef struct conv_args {
    const struct cudnnTensorStruct *x, *y;
    const struct cudnnFilterStruct *w;
    const struct cudnnConvolutionStruct *c;
} conv_args;

/* Calls f(ctx, x index, w index, y index) for every tap of output element yi that reads
 * inside x. */
static void taps_of(const conv_args *a, long yi, void (*f)(void *, long, long, long), void *ctx) {
    const int ox = (int)(yi % a->y->w), oy = (int)(yi / a->y->w % a->y->h);
    const int k = (int)(yi / ((long)a->y->w * a->y->h) % a->y->c);
    const long n = yi / ((long)a->y->w * a->y->h * a->y->c);
    const int kg = a->w->k / a->c->groups;
    for (int cc = 0; cc < a->w->c; cc++)
        for (int i = 0; i < a->w->h; i++)
            for (int j = 0; j < a->w->w; j++) {
                const int iy = oy * a->c->sh - a->c->ph + i * a->c->dh;
                const int ix = ox * a->c->sw - a->c->pw + j * a->c->dw;
                if (iy < 0 || iy >= a->x->h || ix < 0 || ix >= a->x->w) continue;
                const long ch = (long)(k / kg) * a->w->c + cc;
                f(ctx, ((n * a->x->c + ch) * a->x->h + iy) * a->x->w + ix,
                  (((long)k * a->w->c + cc) * a->w->h + i) * a->w->w + j, yi);
            }
}

static void for_taps(const conv_args *a, void (*f)(void *, long, long, long), void *ctx) {
    const long ny = (long)a->y->n * a->y->c * a->y->h * a->y->w;
    for (long yi = 0; yi < ny; yi++) taps_of(a, yi, f, ctx);
}

typedef struct tap_bufs {
    const float *a, *b;
    double *acc;
} tap_bufs;

static void tap_fwd(void *p, long xi, long wi, long yi) {
    tap_bufs *t = p;
    t->acc[yi] += (double)t->a[xi] * t->b[wi];
}
static void tap_bwd_data(void *p, long xi, long wi, long yi) {
    tap_bufs *t = p;
    t->acc[xi] += (double)t->a[yi] * t->b[wi];
}
static void tap_bwd_filter(void *p, long xi, long wi, long yi) {
    tap_bufs *t = p;
    t->acc[wi] += (double)t->a[yi] * t->b[xi];
}

/* out = alpha * acc + beta * out (beta 0: overwrite, as cuDNN). */
static cudnnStatus_t run(const conv_args *a, int algo, size_t ws_bytes, const void *ws,
                         void (*tap)(void *, long, long, long), const float *p, const float *q,
                         float *out, long n_out, float alpha, float beta) {
    const int algo_ok = algo == FAKE_ALGO || (algo == FAKE_ALGO_TC && a->c->math != CUDNN_FMA_MATH);
    if (!consistent(a->x, a->w, a->c, a->y) || !algo_ok || ws_bytes < FAKE_WORKSPACE(a->y->c) ||
        !ws)
        return CUDNN_STATUS_BAD_PARAM;
    if (!fake_cudnn_flush) return CUDNN_STATUS_NOT_INITIALIZED;
    fake_cudnn_last_math = a->c->math;
    fake_cudnn_last_algo = algo;
    fake_cudnn_flush();
    double *acc = calloc((size_t)n_out, sizeof *acc);
    if (!acc) return CUDNN_STATUS_ALLOC_FAILED;
    tap_bufs t = {p, q, acc};
    for_taps(a, tap, &t);
    for (long i = 0; i < n_out; i++)
        out[i] = (float)(alpha * acc[i] + (beta != 0.0f ? beta * out[i] : 0.0f));
    free(acc);
    return CUDNN_STATUS_SUCCESS;
}

static long numel4(int a, int b, int c, int d) { return (long)a * b * c * d; }

cudnnStatus_t cudnnConvolutionForward(cudnnHandle_t h, const void *alpha,
                                      cudnnTensorDescriptor_t xd, const void *x,
                                      cudnnFilterDescriptor_t wd, const void *w,
                                      cudnnConvolutionDescriptor_t cd,
                                      cudnnConvolutionFwdAlgo_t algo, void *ws, size_t ws_bytes,
                                      const void *beta, cudnnTensorDescriptor_t yd, void *y) {
    (void)h;
    const conv_args a = {xd, yd, wd, cd};
    return run(&a, (int)algo, ws_bytes, ws, tap_fwd, x, w, y, numel4(yd->n, yd->c, yd->h, yd->w),
               *(const float *)alpha, *(const float *)beta);
}

cudnnStatus_t cudnnConvolutionBackwardData(cudnnHandle_t h, const void *alpha,
                                           cudnnFilterDescriptor_t wd, const void *w,
                                           cudnnTensorDescriptor_t dyd, const void *dy,
                                           cudnnConvolutionDescriptor_t cd,
                                           cudnnConvolutionBwdDataAlgo_t algo, void *ws,
                                           size_t ws_bytes, const void *beta,
                                           cudnnTensorDescriptor_t dxd, void *dx) {
    (void)h;
    const conv_args a = {dxd, dyd, wd, cd};
    return run(&a, (int)algo, ws_bytes, ws, tap_bwd_data, dy, w, dx,
               numel4(dxd->n, dxd->c, dxd->h, dxd->w), *(const float *)alpha, *(const float *)beta);
}

cudnnStatus_t cudnnConvolutionBackwardFilter(cudnnHandle_t h, const void *alpha,
                                             cudnnTensorDescriptor_t xd, const void *x,
                                             cudnnTensorDescriptor_t dyd, const void *dy,
                                             cudnnConvolutionDescriptor_t cd,
                                             cudnnConvolutionBwdFilterAlgo_t algo, void *ws,
                                             size_t ws_bytes, const void *beta,
                                             cudnnFilterDescriptor_t dwd, void *dw) {
    (void)h;
    const conv_args a = {xd, dyd, dwd, cd};
    return run(&a, (int)algo, ws_bytes, ws, tap_bwd_filter, dy, x, dw,
               numel4(dwd->k, dwd->c, dwd->h, dwd->w), *(const float *)alpha, *(const float *)beta);
}

/* Element i of C's (n, c, h, w) order, read from A broadcast along its dimensions of 1. */
static long broadcast_index(const struct cudnnTensorStruct *ad, const struct cudnnTensorStruct *cd,
                            long i) {
    const long x = i % cd->w, y = i / cd->w % cd->h, k = i / ((long)cd->w * cd->h) % cd->c;
    const long n = i / ((long)cd->w * cd->h * cd->c);
    return (((ad->n > 1 ? n : 0) * ad->c + (ad->c > 1 ? k : 0)) * ad->h + (ad->h > 1 ? y : 0)) *
               ad->w +
           (ad->w > 1 ? x : 0);
}

/* C = alpha A + beta C, A broadcast along its dimensions of size 1. */
cudnnStatus_t cudnnAddTensor(cudnnHandle_t h, const void *alpha, cudnnTensorDescriptor_t ad,
                             const void *a, const void *beta, cudnnTensorDescriptor_t cd, void *c) {
    (void)h;
    const int ad_[4] = {ad->n, ad->c, ad->h, ad->w}, cd_[4] = {cd->n, cd->c, cd->h, cd->w};
    for (int i = 0; i < 4; i++)
        if (ad_[i] != 1 && ad_[i] != cd_[i]) return CUDNN_STATUS_BAD_PARAM;
    if (!fake_cudnn_flush) return CUDNN_STATUS_NOT_INITIALIZED;
    fake_cudnn_flush();
    const float al = *(const float *)alpha, be = *(const float *)beta;
    const float *pa = a;
    float *pc = c;
    const long nc = (long)cd->n * cd->c * cd->h * cd->w;
    for (long i = 0; i < nc; i++) pc[i] = al * pa[broadcast_index(ad, cd, i)] + be * pc[i];
    return CUDNN_STATUS_SUCCESS;
}
