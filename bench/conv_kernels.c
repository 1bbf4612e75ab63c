/* conv_kernels — one convolution's forward and backward through liblt on the cpu
 * accelerator, timed (issue 19): the kernels the cpu plugin runs are chosen by
 * LT_CPU_DNNL (none: im2col + OpenBLAS; fwd, bwd_data, bwd_weights: those directions in
 * oneDNN), so bench/conv_kernels.sh runs this once per choice.
 *
 *   conv_kernels THREADS N C H W O K REPS [t]
 *
 * with a trailing "t": conv_transpose2d instead, stride 2 and padding K/2 - 1 (the dcgan
 * generator's upsampling layers, K 4: H x W -> 2H x 2W), weight (C, O, K, K).
 *
 * prints "fwd_ms bwd_ms" (medians over REPS). The backward is lt_backward of
 * sum(conv(x, w) * r): the convolution's data and weight gradients plus one elementwise
 * product's, the same in every run. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <lt/lt.h>

#include "bench_time.h"

/* Host data of n uniform numbers in [-0.5, 0.5]. */
static float *random_host(int64_t n) {
    float *h = malloc((size_t)n * sizeof *h);
    for (int64_t i = 0; h && i < n; i++) h[i] = (float)rand() / (float)RAND_MAX - 0.5f;
    return h;
}

static int64_t numel(const int64_t s[4]) { return s[0] * s[1] * s[2] * s[3]; }

/* One timed step, its tensors made fresh in arena a (ops allocate in their input's). */
static int step(lt_arena_t *a, const int64_t *shape[3], float *const host[3],
                const lt_conv2d_opts *o, const lt_conv_transpose2d_opts *to, double *fwd,
                double *bwd) {
    lt_tensor_t *t[3];
    for (int i = 0; i < 3; i++) {
        t[i] = lt_from_host(a, LT_F32, 4, shape[i], host[i]);
        if (!t[i] || (i < 2 && lt_set_requires_grad(t[i], true) != LT_OK)) return 1;
    }
    double t0 = bench_now_ms();
    lt_tensor_t *y =
        to ? lt_conv_transpose2d_op(t[0], t[1], NULL, to) : lt_conv2d_op(t[0], t[1], NULL, o);
    double t1 = bench_now_ms();
    if (!y || lt_backward(lt_sum(lt_mul(y, t[2]))) != LT_OK) return 1;
    *fwd = t1 - t0, *bwd = bench_now_ms() - t1;
    lt_arena_reset(a);
    return 0;
}

int main(int argc, char **argv) {
    bool transposed = argc == 10 && argv[9][0] == 't';
    if (argc != 9 && !transposed) {
        fprintf(stderr, "usage: conv_kernels THREADS N C H W O K REPS [t]\n");
        return 2;
    }
    long v[8];
    for (int i = 0; i < 8; i++) {
        v[i] = strtol(argv[i + 1], NULL, 10);
        if (v[i] <= 0 || v[i] > 4096) {
            fprintf(stderr, "conv_kernels: argument %d must be in 1..4096\n", i + 1);
            return 2;
        }
    }
    int64_t n = v[1], c = v[2], h = v[3], w = v[4], o = v[5], k = v[6];
    int reps = (int)v[7];
    lt_device_t *dev;
    if (lt_device_open("cpu", (int)v[0], &dev) != LT_OK) {
        fprintf(stderr, "conv_kernels: %s\n", lt_last_error());
        return 1;
    }
    lt_arena_t *a = lt_arena_new(dev);
    int64_t up = transposed ? 2 : 1;
    const int64_t sx[4] = {n, c, h, w}, sy[4] = {n, o, h * up, w * up};
    int64_t sw[4] = {o, c, k, k};
    if (transposed) sw[0] = c, sw[1] = o;
    const int64_t *shape[3] = {sx, sw, sy};
    float *host[3] = {random_host(numel(sx)), random_host(numel(sw)), random_host(numel(sy))};
    double *fwd = calloc((size_t)reps + 2, sizeof *fwd),
           *bwd = calloc((size_t)reps + 2, sizeof *bwd);
    if (!a || !host[0] || !host[1] || !host[2] || !fwd || !bwd) return 1;
    lt_conv2d_opts same = LT_CONV2D_OPTS(.padding = {k / 2, k / 2});
    lt_conv_transpose2d_opts up2 =
        LT_CONV_TRANSPOSE2D_OPTS(.stride = {2, 2}, .padding = {k / 2 - 1, k / 2 - 1});
    /* two warm-up steps first (primitive creation, caches), dropped from the medians */
    for (int i = 0; i < reps + 2; i++)
        if (step(a, shape, host, &same, transposed ? &up2 : NULL, &fwd[i], &bwd[i])) {
            fprintf(stderr, "conv_kernels: %s\n", lt_last_error());
            return 1;
        }
    fwd += 2, bwd += 2;
    printf("%.3f %.3f\n", bench_median(fwd, reps), bench_median(bwd, reps));
    free(fwd - 2);
    free(bwd - 2);
    for (int i = 0; i < 3; i++) free(host[i]);
    lt_arena_free(a);
    lt_device_close(dev);
    return 0;
}
