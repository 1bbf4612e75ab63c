/* conv_ref.h — a direct 2-D convolution in double, written from lt_window2d's definition:
 * the reference cuda_host_check (host_conv.c, cudnn.c on a fake libcudnn) and
 * cuda_ops_check (ops_conv.c, the conv slots of both accelerators) hold the conv2d slots
 * to. */
#ifndef LT_CONV_REF_H
#define LT_CONV_REF_H

#include <stdint.h>

#include <lt/accelerator.h>

/* A convolution as the slots take it: window g (g.c input channels), groups, o outputs. */
typedef struct conv_geom {
    lt_window2d g;
    int64_t groups, o;
} conv_geom;

int64_t conv_nx(const conv_geom *k); /* elements of x (N, C, H, W) */
int64_t conv_ny(const conv_geom *k); /* of y (N, O, OH, OW) */
int64_t conv_nw(const conv_geom *k); /* of w (O, C / groups, KH, KW) */

/* The window of an (n, c, h, w) input under a kh x kw kernel with stride s, padding p and
 * dilation d on both axes; oh, ow as torch computes them. */
lt_window2d conv_window(int64_t n, int64_t c, int64_t h, int64_t w, int64_t kh, int64_t kw,
                        int64_t s, int64_t p, int64_t d);

/* y = conv(x, w) + b and the gradients dx, dw, db given dy; m* hold the sum of |terms| of
 * each element (the magnitude its rounding error scales with). */
typedef struct conv_ref {
    double *y, *dx, *dw, *db;
    double *my, *mdx, *mdw, *mdb;
} conv_ref;

/* The reference for x, w, b (NULL: no bias in y) and dy; free it with conv_ref_free. */
conv_ref conv_ref_make(const conv_geom *k, const float *x, const float *w, const float *b,
                       const float *dy);
void conv_ref_free(conv_ref *r);

#endif
