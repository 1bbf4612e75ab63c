/* pool_norm_kernels — the cnn's max pool and batch norms, forward and backward, in the cpu
 * accelerator's own kernels (through liblt) and in oneDNN 2.x primitives (plain nchw,
 * training, max pooling with its workspace), on the same shapes and threads (issue 19:
 * "pooling and normalization in oneDNN where it is faster").
 *
 *   pool_norm_kernels THREADS REPS      prints "op impl fwd_ms bwd_ms" (medians)
 *
 * The lthost backward is lt_backward(sum(y)): the op's backward after one fill of ones.
 * Build and run: bench/pool_norm_kernels.sh. */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <dnnl.h>
#include <lt/lt.h>

#include "bench_time.h"

#define MAX_REPS 100

/* ---- liblt ---------------------------------------------------------------------------- */

static void lt_run(lt_device_t *dev, int op, const int64_t s[4], const float *host, int reps) {
    double f[MAX_REPS], b[MAX_REPS];
    lt_arena_t *a = lt_arena_new(dev);
    for (int i = -2; i < reps; i++) {
        lt_tensor_t *x = lt_from_host(a, LT_F32, 4, s, host);
        lt_set_requires_grad(x, true);
        double t0 = bench_now_ms();
        lt_tensor_t *y = op == 0 ? lt_max_pool2d(x, &LT_POOL2D_OPTS(.kernel = {2, 2}))
                                 : lt_batch_norm(x, NULL, NULL, NULL, NULL, true, 0.1, 1e-5);
        double t1 = bench_now_ms();
        lt_tensor_t *loss = lt_sum(y);
        double t2 = bench_now_ms();
        if (!y || lt_backward(loss) != LT_OK) exit(1);
        double t3 = bench_now_ms();
        if (i >= 0) f[i] = t1 - t0, b[i] = t3 - t2;
        lt_arena_reset(a);
    }
    printf("%s lthost %.3f %.3f\n", op == 0 ? "max_pool2d" : "batch_norm", bench_median(f, reps),
           bench_median(b, reps));
    lt_arena_free(a);
}

/* ---- oneDNN ------------------------------------------------------------------------- */

typedef struct dn {
    dnnl_engine_t eng;
    dnnl_stream_t str;
} dn;

static dnnl_memory_t mem(dn *d, const dnnl_memory_desc_t *md) {
    dnnl_memory_t m;
    if (dnnl_memory_create(&m, md, d->eng, DNNL_MEMORY_ALLOCATE) != dnnl_success) exit(1);
    return m;
}

static dnnl_primitive_t prim(dnnl_primitive_desc_t pd) {
    dnnl_primitive_t p;
    if (dnnl_primitive_create(&p, pd) != dnnl_success) exit(1);
    return p;
}

static double exec_ms(dn *d, dnnl_primitive_t p, int n, const dnnl_exec_arg_t *args) {
    double t0 = bench_now_ms();
    if (dnnl_primitive_execute(p, d->str, n, args) != dnnl_success) exit(1);
    dnnl_stream_wait(d->str);
    return bench_now_ms() - t0;
}

static void dnnl_pool(dn *d, const int64_t s[4], int reps) {
    dnnl_dims_t xd = {s[0], s[1], s[2], s[3]}, yd = {s[0], s[1], s[2] / 2, s[3] / 2};
    dnnl_dims_t k = {2, 2}, st = {2, 2}, dil = {0, 0}, pad = {0, 0};
    dnnl_memory_desc_t x, y;
    dnnl_memory_desc_init_by_tag(&x, 4, xd, dnnl_f32, dnnl_nchw);
    dnnl_memory_desc_init_by_tag(&y, 4, yd, dnnl_f32, dnnl_nchw);
    dnnl_pooling_v2_desc_t fd, bd;
    dnnl_primitive_desc_t fpd, bpd;
    dnnl_pooling_v2_forward_desc_init(&fd, dnnl_forward_training, dnnl_pooling_max, &x, &y, st, k,
                                      dil, pad, pad);
    dnnl_primitive_desc_create(&fpd, &fd, NULL, d->eng, NULL);
    dnnl_pooling_v2_backward_desc_init(&bd, dnnl_pooling_max, &x, &y, st, k, dil, pad, pad);
    dnnl_primitive_desc_create(&bpd, &bd, NULL, d->eng, fpd);
    dnnl_memory_t mx = mem(d, &x), my = mem(d, &y), mdx = mem(d, &x), mdy = mem(d, &y);
    dnnl_memory_t ws = mem(d, dnnl_primitive_desc_query_md(fpd, dnnl_query_workspace_md, 0));
    dnnl_primitive_t pf = prim(fpd), pb = prim(bpd);
    dnnl_exec_arg_t fa[] = {{DNNL_ARG_SRC, mx}, {DNNL_ARG_DST, my}, {DNNL_ARG_WORKSPACE, ws}};
    dnnl_exec_arg_t ba[] = {
        {DNNL_ARG_DIFF_DST, mdy}, {DNNL_ARG_DIFF_SRC, mdx}, {DNNL_ARG_WORKSPACE, ws}};
    double f[MAX_REPS], b[MAX_REPS];
    for (int i = -2; i < reps; i++) {
        double tf = exec_ms(d, pf, 3, fa), tb = exec_ms(d, pb, 3, ba);
        if (i >= 0) f[i] = tf, b[i] = tb;
    }
    printf("max_pool2d oneDNN %.3f %.3f\n", bench_median(f, reps), bench_median(b, reps));
}

static void dnnl_bnorm(dn *d, const int64_t s[4], int reps) {
    dnnl_dims_t xd = {s[0], s[1], s[2], s[3]};
    dnnl_memory_desc_t x;
    dnnl_memory_desc_init_by_tag(&x, 4, xd, dnnl_f32, dnnl_nchw);
    dnnl_batch_normalization_desc_t fd, bd;
    dnnl_primitive_desc_t fpd, bpd;
    unsigned fl = dnnl_use_scaleshift;
    dnnl_batch_normalization_forward_desc_init(&fd, dnnl_forward_training, &x, 1e-5f, fl);
    dnnl_primitive_desc_create(&fpd, &fd, NULL, d->eng, NULL);
    dnnl_batch_normalization_backward_desc_init(&bd, dnnl_backward, &x, &x, 1e-5f, fl);
    dnnl_primitive_desc_create(&bpd, &bd, NULL, d->eng, fpd);
    const dnnl_memory_desc_t *ss = dnnl_primitive_desc_query_md(fpd, dnnl_query_weights_md, 0);
    const dnnl_memory_desc_t *mv = dnnl_primitive_desc_query_md(fpd, dnnl_query_dst_md, 1);
    dnnl_memory_t mx = mem(d, &x), my = mem(d, &x), mdx = mem(d, &x), mdy = mem(d, &x);
    dnnl_memory_t mw = mem(d, ss), mdw = mem(d, ss), mm = mem(d, mv), mvar = mem(d, mv);
    dnnl_primitive_t pf = prim(fpd), pb = prim(bpd);
    dnnl_exec_arg_t fa[] = {{DNNL_ARG_SRC, mx},
                            {DNNL_ARG_DST, my},
                            {DNNL_ARG_SCALE_SHIFT, mw},
                            {DNNL_ARG_MEAN, mm},
                            {DNNL_ARG_VARIANCE, mvar}};
    dnnl_exec_arg_t ba[] = {{DNNL_ARG_SRC, mx},
                            {DNNL_ARG_DIFF_DST, mdy},
                            {DNNL_ARG_SCALE_SHIFT, mw},
                            {DNNL_ARG_MEAN, mm},
                            {DNNL_ARG_VARIANCE, mvar},
                            {DNNL_ARG_DIFF_SRC, mdx},
                            {DNNL_ARG_DIFF_SCALE_SHIFT, mdw}};
    double f[MAX_REPS], b[MAX_REPS];
    for (int i = -2; i < reps; i++) {
        double tf = exec_ms(d, pf, 5, fa), tb = exec_ms(d, pb, 7, ba);
        if (i >= 0) f[i] = tf, b[i] = tb;
    }
    printf("batch_norm oneDNN %.3f %.3f\n", bench_median(f, reps), bench_median(b, reps));
}

int main(int argc, char **argv) {
    int threads = argc == 3 ? atoi(argv[1]) : 0, reps = argc == 3 ? atoi(argv[2]) : 0;
    if (threads < 1 || threads > 256 || reps < 1 || reps > MAX_REPS) {
        fprintf(stderr, "usage: pool_norm_kernels THREADS(1-256) REPS(1-%d)\n", MAX_REPS);
        return 2;
    }
    const int64_t s[4] = {64, 32, 28, 28}; /* the cnn's conv2 output, batch 64 */
    float *host = malloc(64 * 32 * 28 * 28 * sizeof *host);
    if (!host) return 1;
    for (int64_t i = 0; i < 64 * 32 * 28 * 28; i++) host[i] = (float)rand() / (float)RAND_MAX;
    lt_device_t *dev;
    if (lt_device_open("cpu", threads, &dev) != LT_OK) {
        fprintf(stderr, "pool_norm_kernels: %s\n", lt_last_error());
        return 1;
    }
    lt_run(dev, 0, s, host, reps);
    lt_run(dev, 1, s, host, reps);
    omp_set_num_threads(threads);
    dn d;
    if (dnnl_engine_create(&d.eng, dnnl_cpu, 0) != dnnl_success ||
        dnnl_stream_create(&d.str, d.eng, dnnl_stream_default_flags) != dnnl_success)
        return 1;
    dnnl_pool(&d, s, reps);
    dnnl_bnorm(&d, s, reps);
    lt_device_close(dev);
    free(host);
    return 0;
}
