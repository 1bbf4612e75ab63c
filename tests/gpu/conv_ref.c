/* conv_ref.c — the double-precision convolution both GPU checks compare against. */
#include "conv_ref.h"

#include <math.h>
#include <stdlib.h>

int64_t conv_nx(const conv_geom *k) { return k->g.n * k->g.c * k->g.h * k->g.w; }
int64_t conv_ny(const conv_geom *k) { return k->g.n * k->o * k->g.oh * k->g.ow; }
int64_t conv_nw(const conv_geom *k) { return k->o * (k->g.c / k->groups) * k->g.kh * k->g.kw; }

lt_window2d conv_window(int64_t n, int64_t c, int64_t h, int64_t w, int64_t kh, int64_t kw,
                        int64_t s, int64_t p, int64_t d) {
    lt_window2d g = {.n = n,
                     .c = c,
                     .h = h,
                     .w = w,
                     .kh = kh,
                     .kw = kw,
                     .sh = s,
                     .sw = s,
                     .ph = p,
                     .pw = p,
                     .dh = d,
                     .dw = d};
    g.oh = (h + 2 * p - d * (kh - 1) - 1) / s + 1;
    g.ow = (w + 2 * p - d * (kw - 1) - 1) / s + 1;
    return g;
}

/* Every tap of output element (n, o, oy, ox) that lands inside the input. */
static void ref_taps(const conv_geom *k, const float *x, const float *w, const float *dy,
                     conv_ref *r, int64_t n, int64_t o, int64_t oy, int64_t ox) {
    const lt_window2d *g = &k->g;
    const int64_t cg = g->c / k->groups, og = k->o / k->groups;
    const int64_t yi = ((n * k->o + o) * g->oh + oy) * g->ow + ox;
    for (int64_t cc = 0; cc < cg; cc++)
        for (int64_t i = 0; i < g->kh; i++)
            for (int64_t j = 0; j < g->kw; j++) {
                const int64_t iy = oy * g->sh - g->ph + i * g->dh;
                const int64_t ix = ox * g->sw - g->pw + j * g->dw;
                if (iy < 0 || iy >= g->h || ix < 0 || ix >= g->w) continue;
                const int64_t xi = ((n * g->c + o / og * cg + cc) * g->h + iy) * g->w + ix;
                const int64_t wi = ((o * cg + cc) * g->kh + i) * g->kw + j;
                r->y[yi] += (double)x[xi] * w[wi], r->my[yi] += fabs((double)x[xi] * w[wi]);
                r->dx[xi] += (double)dy[yi] * w[wi], r->mdx[xi] += fabs((double)dy[yi] * w[wi]);
                r->dw[wi] += (double)dy[yi] * x[xi], r->mdw[wi] += fabs((double)dy[yi] * x[xi]);
            }
}

conv_ref conv_ref_make(const conv_geom *k, const float *x, const float *w, const float *b,
                       const float *dy) {
    const int64_t nx = conv_nx(k), ny = conv_ny(k), nw = conv_nw(k), p = k->g.oh * k->g.ow;
    conv_ref r = {calloc(ny, 8), calloc(nx, 8), calloc(nw, 8), calloc(k->o, 8),
                  calloc(ny, 8), calloc(nx, 8), calloc(nw, 8), calloc(k->o, 8)};
    for (int64_t n = 0; n < k->g.n; n++)
        for (int64_t o = 0; o < k->o; o++)
            for (int64_t oy = 0; oy < k->g.oh; oy++)
                for (int64_t ox = 0; ox < k->g.ow; ox++) ref_taps(k, x, w, dy, &r, n, o, oy, ox);
    for (int64_t i = 0; i < ny; i++) {
        const int64_t o = i / p % k->o;
        if (b) r.y[i] += b[o], r.my[i] += fabs(b[o]);
        r.db[o] += dy[i], r.mdb[o] += fabs(dy[i]);
    }
    return r;
}

void conv_ref_free(conv_ref *r) {
    double *all[] = {r->y, r->dx, r->dw, r->db, r->my, r->mdx, r->mdw, r->mdb};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) free(all[i]);
}
