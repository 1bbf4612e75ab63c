/* bench/loss_nd.c — cross_entropy_ex forward + backward on an (N, C, T) input (a language
 * model's per-token loss without a reshape) against the same loss on (N T, C) rows, on the
 * cpu accelerator: what moving the class dimension last costs. Prints the best ms of REPS
 * for each. Usage: loss_nd N C T REPS */
#include <lt/lt.h>
#include <lt/runtime.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Best seconds of reps forward + backward passes of cross_entropy_ex on x (ndim 2 or 3). */
static double best(lt_arena_t *a, int ndim, const int64_t *xs, const float *x, int tdim,
                   const int64_t *ts, const int64_t *y, int reps) {
    double b = 1e30;
    for (int r = 0; r < reps; r++) {
        double t0 = now();
        lt_tensor_t *in = lt_from_host(a, LT_F32, ndim, xs, x);
        lt_set_requires_grad(in, true);
        lt_tensor_t *t = lt_from_host(a, LT_I64, tdim, ts, y);
        lt_tensor_t *loss =
            lt_cross_entropy_ex(in, t, NULL, LT_IGNORE_INDEX, LT_REDUCTION_MEAN, 0.1);
        if (!loss || lt_backward(loss) != LT_OK) {
            fprintf(stderr, "loss_nd: %s\n", lt_last_error());
            exit(1);
        }
        (void)lt_item(loss);
        double dt = now() - t0;
        if (dt < b) b = dt;
        lt_arena_reset(a);
    }
    return b;
}

int main(int argc, char **argv) {
    if (argc != 5) {
        fprintf(stderr, "usage: loss_nd N C T REPS\n");
        return 2;
    }
    int64_t n = atol(argv[1]), c = atol(argv[2]), t = atol(argv[3]);
    int reps = atoi(argv[4]);
    if (n < 1 || c < 1 || t < 1 || reps < 1 || n * c * t > (1 << 26)) {
        fprintf(stderr, "loss_nd: N, C, T, REPS must be positive and N C T at most 2^26\n");
        return 2;
    }
    lt_device_t *dev = NULL;
    if (lt_device_open("cpu", 1, &dev) != LT_OK) {
        fprintf(stderr, "loss_nd: %s\n", lt_last_error());
        return 1;
    }
    float *x = malloc((size_t)(n * c * t) * sizeof *x);
    int64_t *y = malloc((size_t)(n * t) * sizeof *y);
    if (!x || !y) return 1;
    for (int64_t i = 0; i < n * c * t; i++)
        x[i] = (float)((i * 2654435761u) % 1000) / 250.0f - 2.0f;
    for (int64_t i = 0; i < n * t; i++) y[i] = (i * 7919) % c;
    lt_arena_t *a = lt_arena_new(dev);
    int64_t xs3[3] = {n, c, t}, ts2[2] = {n, t}, xs2[2] = {n * t, c}, ts1 = n * t;
    double nd = best(a, 3, xs3, x, 2, ts2, y, reps), rows = best(a, 2, xs2, x, 1, &ts1, y, reps);
    printf("(N, C, T) = (%lld, %lld, %lld): (N, C, T) %.3f ms, (N T, C) rows %.3f ms\n",
           (long long)n, (long long)c, (long long)t, 1e3 * nd, 1e3 * rows);
    lt_arena_free(a);
    lt_device_close(dev);
    free(x);
    free(y);
    return 0;
}
