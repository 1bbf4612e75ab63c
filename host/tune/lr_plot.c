/* lr_find.png: the loss of the learning-rate sweep against the learning rate on a log x
 * axis, as Lightning's _LRFinder.plot draws it (matplotlib, semilogx), without a plotting
 * library: light grey lines at each power of ten, the curve in blue, the suggestion as a
 * red dot, written with libpng. No text: the CSV beside it holds the numbers. */
#include "lr_plot.h"

#include <math.h>
#include <png.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { W = 640, H = 480, MARGIN = 40 };

typedef struct {
    uint8_t px[H][W][3];
} canvas;

static void dot(canvas *c, int x, int y, const uint8_t rgb[3]) {
    if (x >= 0 && x < W && y >= 0 && y < H) memcpy(c->px[y][x], rgb, 3);
}

/* Bresenham, two pixels thick. */
static void line(canvas *c, int x0, int y0, int x1, int y1, const uint8_t rgb[3]) {
    int dx = abs(x1 - x0), dy = -abs(y1 - y0), sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1;
    for (int e = dx + dy;;) {
        dot(c, x0, y0, rgb);
        dot(c, x0, y0 + 1, rgb);
        if (x0 == x1 && y0 == y1) break;
        int e2 = 2 * e;
        if (e2 >= dy) e += dy, x0 += sx;
        if (e2 <= dx) e += dx, y0 += sy;
    }
}

typedef struct {
    double x0, x1, y0, y1; /* log10(lr) and loss ranges */
} frame;

static int px_x(const frame *f, double lr) {
    return MARGIN + (int)lround((log10(lr) - f->x0) / (f->x1 - f->x0) * (W - 2 * MARGIN));
}

static int px_y(const frame *f, double loss) {
    return H - MARGIN - (int)lround((loss - f->y0) / (f->y1 - f->y0) * (H - 2 * MARGIN));
}

/* The ranges of the finite points; false when fewer than two. */
static bool fit_frame(frame *f, const double *lr, const double *loss, int n) {
    int k = 0;
    for (int i = 0; i < n; i++) {
        if (!isfinite(loss[i]) || !(lr[i] > 0)) continue;
        double x = log10(lr[i]);
        if (k++ == 0) *f = (frame){x, x, loss[i], loss[i]};
        f->x0 = fmin(f->x0, x), f->x1 = fmax(f->x1, x);
        f->y0 = fmin(f->y0, loss[i]), f->y1 = fmax(f->y1, loss[i]);
    }
    if (f->x1 == f->x0) f->x1 = f->x0 + 1;
    if (f->y1 == f->y0) f->y1 = f->y0 + 1;
    return k >= 2;
}

static void draw(canvas *c, const frame *f, const double *lr, const double *loss, int n,
                 int suggestion) {
    static const uint8_t grey[3] = {220, 220, 220}, black[3] = {0, 0, 0}, blue[3] = {31, 119, 180},
                         red[3] = {214, 39, 40};
    memset(c->px, 255, sizeof c->px);
    for (double d = ceil(f->x0); d <= f->x1; d += 1) {
        int x = px_x(f, pow(10, d));
        line(c, x, MARGIN, x, H - MARGIN, grey);
    }
    line(c, MARGIN, H - MARGIN, W - MARGIN, H - MARGIN, black);
    line(c, MARGIN, MARGIN, MARGIN, H - MARGIN, black);
    int px = -1, py = -1;
    for (int i = 0; i < n; i++) {
        if (!isfinite(loss[i]) || !(lr[i] > 0)) continue;
        int x = px_x(f, lr[i]), y = px_y(f, loss[i]);
        if (px >= 0) line(c, px, py, x, y, blue);
        px = x, py = y;
    }
    if (suggestion < 0 || suggestion >= n || !isfinite(loss[suggestion])) return;
    int cx = px_x(f, lr[suggestion]), cy = px_y(f, loss[suggestion]);
    for (int y = -5; y <= 5; y++)
        for (int x = -5; x <= 5; x++)
            if (x * x + y * y <= 25) dot(c, cx + x, cy + y, red);
}

static bool write_png(const char *path, canvas *c, char *err, size_t errn) {
    FILE *f = fopen(path, "wb");
    if (!f) {
        snprintf(err, errn, "cannot create %s", path);
        return false;
    }
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    bool ok = info != NULL;
    if (ok && setjmp(png_jmpbuf(png))) {
        ok = false;
    } else if (ok) {
        png_init_io(png, f);
        png_set_IHDR(png, info, W, H, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
                     PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
        png_write_info(png, info);
        for (int y = 0; y < H; y++) png_write_row(png, (png_const_bytep)c->px[y]);
        png_write_end(png, NULL);
    }
    png_destroy_write_struct(png ? &png : NULL, info ? &info : NULL);
    ok = fclose(f) == 0 && ok;
    if (!ok) snprintf(err, errn, "cannot write %s", path);
    return ok;
}

bool lr_plot_write(const char *path, const double *lr, const double *loss, int n, int suggestion,
                   char *err, size_t errn) {
    frame f = {0, 0, 0, 0};
    if (!fit_frame(&f, lr, loss, n)) {
        snprintf(err, errn, "%s: fewer than two finite points to plot", path);
        return false;
    }
    canvas *c = malloc(sizeof *c);
    if (!c) {
        snprintf(err, errn, "%s: out of memory", path);
        return false;
    }
    draw(c, &f, lr, loss, n, suggestion);
    bool ok = write_png(path, c, err, errn);
    free(c);
    return ok;
}
