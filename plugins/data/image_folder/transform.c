/* transform.c — Resize, crop, flip and normalize (see transform.h). Resize is PIL's
 * two-pass resampling with the bilinear (triangle) filter widened by the scale when
 * shrinking (antialias), in PIL's fixed point (22-bit weights) and rounded to 8 bits after
 * each pass as PIL stores it, so it gives PIL's pixels. */
#include "transform.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void img_resized_size(int size, int w, int h, int *rw, int *rh) {
    if (w <= h) {
        *rw = size;
        *rh = (int)((int64_t)size * h / w);
    } else {
        *rh = size;
        *rw = (int)((int64_t)size * w / h);
    }
}

/* ---- Resize ------------------------------------------------------------------------ */

/* PIL's fixed point: weights in units of 2^-22, sums rounded by adding half a unit. */
#define PRECISION_BITS (32 - 8 - 2)

/* One output pixel's source window [first, first + n) and its weights. */
typedef struct taps {
    int first, n;
    int32_t *w;
} taps;

static double triangle(double x) {
    x = fabs(x);
    return x < 1.0 ? 1.0 - x : 0.0;
}

/* PIL's precompute_coeffs for the bilinear filter (support 1), then
 * normalize_coeffs_8bpc: the same windows and weights, bit for bit. */
static lt_status make_taps(int in, int out, taps **res) {
    double scale = (double)in / out, fscale = scale > 1.0 ? scale : 1.0, support = fscale;
    double ss = 1.0 / fscale; /* PIL multiplies by it */
    int max_n = (int)ceil(support) * 2 + 1;
    taps *t = calloc((size_t)out, sizeof *t);
    int32_t *w = t ? malloc((size_t)out * (size_t)max_n * sizeof *w) : NULL;
    if (!w) {
        free(t);
        return lt_set_error(LT_ERR_OOM, "image_folder: out of memory resizing");
    }
    for (int i = 0; i < out; i++) {
        double center = (i + 0.5) * scale, sum = 0.0;
        int lo = (int)(center - support + 0.5), hi = (int)(center + support + 0.5);
        if (lo < 0) lo = 0;
        if (hi > in) hi = in;
        if (hi - lo > max_n) hi = lo + max_n;
        t[i] = (taps){lo, hi - lo, w + (size_t)i * (size_t)max_n};
        for (int x = 0; x < t[i].n; x++) sum += triangle((x + lo - center + 0.5) * ss);
        for (int x = 0; x < t[i].n; x++) {
            double v = sum != 0.0 ? triangle((x + lo - center + 0.5) * ss) / sum : 0.0;
            t[i].w[x] = (int32_t)(v < 0 ? -0.5 + v * (1 << PRECISION_BITS)
                                        : 0.5 + v * (1 << PRECISION_BITS));
        }
    }
    *res = t;
    return LT_OK;
}

static void free_taps(taps *t) {
    if (t) free(t[0].w);
    free(t);
}

static uint8_t clip8(int64_t v) {
    if (v >= (int64_t)1 << PRECISION_BITS << 8) return 255;
    return v <= 0 ? 0 : (uint8_t)(v >> PRECISION_BITS);
}

/* One output pixel of a pass: the weighted sum of its taps, channel by channel. */
static void tap_pixel(const uint8_t *src, int sw, const taps *tp, int x, int y, bool horizontal,
                      uint8_t *dst) {
    for (int c = 0; c < 3; c++) {
        int64_t acc = (int64_t)1 << (PRECISION_BITS - 1);
        for (int k = 0; k < tp->n; k++) {
            int sx = horizontal ? tp->first + k : x, sy = horizontal ? y : tp->first + k;
            acc += (int64_t)tp->w[k] * src[((size_t)sy * (size_t)sw + (size_t)sx) * 3 + (size_t)c];
        }
        dst[c] = clip8(acc);
    }
}

/* src (rows, sw) -> dst (rows, cols) along rows, or src (., cols) -> dst (rows, cols)
 * along columns. */
static void pass(const uint8_t *src, int sw, const taps *t, int rows, int cols, bool horizontal,
                 uint8_t *dst) {
    for (int y = 0; y < rows; y++)
        for (int x = 0; x < cols; x++)
            tap_pixel(src, sw, horizontal ? &t[x] : &t[y], x, y, horizontal,
                      dst + ((size_t)y * (size_t)cols + (size_t)x) * 3);
}

static lt_status resize(img_rgb *im, int rw, int rh) {
    if (rw == im->w && rh == im->h) return LT_OK;
    taps *th = NULL, *tv = NULL;
    uint8_t *mid = malloc((size_t)rw * (size_t)im->h * 3), *out = malloc((size_t)rw * rh * 3);
    lt_status s = mid && out ? make_taps(im->w, rw, &th) : LT_ERR_OOM;
    if (s == LT_OK) s = make_taps(im->h, rh, &tv);
    if (s == LT_OK) {
        pass(im->px, im->w, th, im->h, rw, true, mid);
        pass(mid, rw, tv, rh, rw, false, out);
        free(im->px);
        *im = (img_rgb){out, rw, rh};
        out = NULL;
    } else if (s == LT_ERR_OOM && (!mid || !out)) {
        s = lt_set_error(LT_ERR_OOM, "image_folder: out of memory resizing");
    }
    free_taps(th);
    free_taps(tv);
    free(mid);
    free(out);
    return s;
}

/* ---- crop, flip, ToTensor, Normalize -------------------------------------------------- */

/* The crop's size (cw, ch) checked against the image and the batch. */
static lt_status check_crop(const img_transform *t, const char *path, const img_rgb *im, int cw,
                            int ch) {
    const char *after = t->resize > 0 ? " after --data.resize" : "";
    if (cw > im->w || ch > im->h)
        return lt_set_error(LT_ERR_FORMAT,
                            "%s: %dx%d%s, smaller than --data.crop %d; resize it first "
                            "(--data.resize %d or more)",
                            path, im->w, im->h, after, t->crop, t->crop);
    if (cw != t->out_w || ch != t->out_h)
        return lt_set_error(LT_ERR_FORMAT,
                            "%s: %dx%d%s, but the batches are %dx%d (the first image's size); "
                            "give --data.crop, or --data.resize for images of one aspect ratio",
                            path, cw, ch, after, t->out_w, t->out_h);
    return LT_OK;
}

/* Resize when asked, with the resized size bounded like a decoded one. */
static lt_status resize_for(const img_transform *t, const char *path, img_rgb *im) {
    if (t->resize <= 0) return LT_OK;
    int rw, rh;
    img_resized_size(t->resize, im->w, im->h, &rw, &rh);
    if (rw > IMG_MAX_SIDE || rh > IMG_MAX_SIDE || (int64_t)rw * rh > IMG_MAX_PIXELS)
        return lt_set_error(LT_ERR_FORMAT,
                            "%s: --data.resize %d makes it %dx%d, over the size limit; use a "
                            "smaller --data.resize",
                            path, t->resize, rw, rh);
    return resize(im, rw, rh);
}

/* ToTensor + Normalize of the window at (top, left), mirrored when flip, as (3, ch, cw). */
static void write_chw(const img_transform *t, const img_rgb *im, int top, int left, int cw, int ch,
                      bool flip, float *out) {
    for (int c = 0; c < 3; c++) {
        float m = t->mean[c], sd = t->std[c];
        float *plane = out + (size_t)c * (size_t)ch * (size_t)cw;
        for (int y = 0; y < ch; y++) {
            const uint8_t *row = im->px + ((size_t)(top + y) * (size_t)im->w + (size_t)left) * 3;
            for (int x = 0; x < cw; x++) {
                int sx = flip ? cw - 1 - x : x;
                plane[(size_t)y * (size_t)cw + (size_t)x] =
                    ((float)row[sx * 3 + c] / 255.0f - m) / sd;
            }
        }
    }
}

lt_status img_apply(const img_transform *t, const char *path, img_rgb *im, lt_rng_t *rng,
                    float *out) {
    lt_status s = resize_for(t, path, im);
    int cw = t->crop > 0 ? t->crop : im->w, ch = t->crop > 0 ? t->crop : im->h;
    if (s == LT_OK) s = check_crop(t, path, im, cw, ch);
    if (s != LT_OK) return s;
    int top, left;
    if (t->random_crop) { /* RandomCrop: torch.randint(0, h - th + 1) for top, then left */
        top = (int)lt_rng_below(rng, (uint64_t)(im->h - ch + 1));
        left = (int)lt_rng_below(rng, (uint64_t)(im->w - cw + 1));
    } else { /* CenterCrop: int(round((h - th) / 2.0)), Python rounding half to even */
        top = (int)rint((im->h - ch) / 2.0), left = (int)rint((im->w - cw) / 2.0);
    }
    bool flip = t->hflip && lt_rng_uniform(rng) < 0.5f;
    write_chw(t, im, top, left, cw, ch, flip, out);
    return LT_OK;
}
