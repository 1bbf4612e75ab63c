/* window.cu — 2-D sliding windows: im2col / col2im (convolution through the GEMM) and
 * pooling with its backward; the geometry is lt_window2d (lt/accelerator.h).
 *
 * One thread per output element, grid-stride over int64 sizes. The backward passes
 * (col2im, pool2d_bwd) gather rather than scatter: each input element finds the outputs
 * whose windows read it and adds their contributions itself, in the order the cpu
 * accelerator adds them (plugins/accelerators/cpu/window.c), so no atomics are needed
 * and the float sums round exactly as the cpu's do. */
#include "kernels.cuh"

/* ---- im2col / col2im ------------------------------------------------------------------- */

/* col (C kh kw, N OH OW): row (c, i, j), column (n, oy, ox) = x[n, c, y, x] or 0 outside. */
__global__ void im2col_kernel(lt_window2d g, const float *x, float *col) {
    const int64_t cols = g.n * g.oh * g.ow, total = g.c * g.kh * g.kw * cols;
    GRID_STRIDE(e, total) {
        const int64_t r = e / cols, p = e % cols;
        const int64_t j = r % g.kw, i = (r / g.kw) % g.kh, c = r / (g.kw * g.kh);
        const int64_t ox = p % g.ow, oy = (p / g.ow) % g.oh, n = p / (g.ow * g.oh);
        const int64_t y = oy * g.sh - g.ph + i * g.dh, xx = ox * g.sw - g.pw + j * g.dw;
        col[e] = (y >= 0 && y < g.h && xx >= 0 && xx < g.w)
                     ? x[((n * g.c + c) * g.h + y) * g.w + xx]
                     : 0.0f;
    }
}

/* The output coordinate o with o * s - p + k * d == pos, or -1 when there is none in
 * [0, out). */
__device__ __forceinline__ int64_t window_origin(int64_t pos, int64_t k, int64_t s, int64_t p,
                                                 int64_t d, int64_t out) {
    const int64_t t = pos + p - k * d;
    if (t < 0 || t % s) return -1;
    const int64_t o = t / s;
    return o < out ? o : -1;
}

/* x[n, c, y, x] = the sum over window offsets (i, j), in the cpu's order, of the column
 * entry read from it (at most one per offset). */
__global__ void col2im_kernel(lt_window2d g, const float *col, float *x) {
    const int64_t cols = g.n * g.oh * g.ow, total = g.n * g.c * g.h * g.w;
    GRID_STRIDE(e, total) {
        const int64_t xx = e % g.w, y = (e / g.w) % g.h, c = (e / (g.w * g.h)) % g.c,
                      n = e / (g.w * g.h * g.c);
        const float *base = col + n * g.oh * g.ow;
        float sum = 0.0f;
        for (int64_t i = 0; i < g.kh; i++) {
            const int64_t oy = window_origin(y, i, g.sh, g.ph, g.dh, g.oh);
            if (oy < 0) continue;
            for (int64_t j = 0; j < g.kw; j++) {
                const int64_t ox = window_origin(xx, j, g.sw, g.pw, g.dw, g.ow);
                if (ox >= 0) sum += base[((c * g.kh + i) * g.kw + j) * cols + oy * g.ow + ox];
            }
        }
        x[e] = sum;
    }
}

/* ---- pooling ------------------------------------------------------------------------------ */

/* The input rows [*y0, *y1), columns [*x0, *x1) of output (oy, ox) of an average pool and
 * its divisor: the cpu's avg_window, as ATen computes them. */
__device__ float avg_window(lt_pool_mode mode, const lt_window2d &g, int64_t oy, int64_t ox,
                            int64_t *y0, int64_t *y1, int64_t *x0, int64_t *x1) {
    if (mode == LT_POOL_ADAPTIVE_AVG) {
        *y0 = oy * g.h / g.oh;
        *y1 = ((oy + 1) * g.h + g.oh - 1) / g.oh;
        *x0 = ox * g.w / g.ow;
        *x1 = ((ox + 1) * g.w + g.ow - 1) / g.ow;
        return (float)((*y1 - *y0) * (*x1 - *x0));
    }
    const int64_t ys = oy * g.sh - g.ph, xs = ox * g.sw - g.pw;
    const int64_t ye = ys + g.kh < g.h + g.ph ? ys + g.kh : g.h + g.ph;
    const int64_t xe = xs + g.kw < g.w + g.pw ? xs + g.kw : g.w + g.pw;
    const int64_t padded = (ye - ys) * (xe - xs);
    *y0 = ys < 0 ? 0 : ys;
    *x0 = xs < 0 ? 0 : xs;
    *y1 = ye > g.h ? g.h : ye;
    *x1 = xe > g.w ? g.w : xe;
    return (float)(mode == LT_POOL_AVG ? padded : (*y1 - *y0) * (*x1 - *x0));
}

/* Max over the window (NaN wins, the first maximum kept), its index into *at (-1: the
 * window lies in the padding). */
__device__ float max_window(const lt_window2d &g, const float *plane, int64_t oy, int64_t ox,
                            int64_t *at) {
    float best = -INFINITY;
    int64_t best_i = -1;
    for (int64_t i = 0; i < g.kh; i++) {
        const int64_t y = oy * g.sh - g.ph + i * g.dh;
        if (y < 0 || y >= g.h) continue;
        for (int64_t j = 0; j < g.kw; j++) {
            const int64_t x = ox * g.sw - g.pw + j * g.dw;
            if (x < 0 || x >= g.w) continue;
            const float v = plane[y * g.w + x];
            if (best_i < 0 || v > best || isnan(v)) {
                best = v;
                best_i = y * g.w + x;
                if (isnan(v)) {
                    *at = best_i;
                    return v;
                }
            }
        }
    }
    *at = best_i;
    return best;
}

__global__ void pool_kernel(lt_pool_mode mode, lt_window2d g, const float *x, float *y,
                            int64_t *idx) {
    const int64_t per_plane = g.oh * g.ow, total = g.n * g.c * per_plane;
    GRID_STRIDE(e, total) {
        const int64_t o = e % per_plane, ox = o % g.ow, oy = o / g.ow;
        const float *plane = x + (e / per_plane) * g.h * g.w;
        if (mode == LT_POOL_MAX) {
            int64_t at;
            y[e] = max_window(g, plane, oy, ox, &at);
            idx[e] = at;
            continue;
        }
        int64_t y0, y1, x0, x1;
        const float div = avg_window(mode, g, oy, ox, &y0, &y1, &x0, &x1);
        float sum = 0.0f;
        for (int64_t r = y0; r < y1; r++)
            for (int64_t c = x0; c < x1; c++) sum += plane[r * g.w + c];
        y[e] = sum / div;
    }
}

/* The outputs along one axis whose window may hold input position pos, [*lo, *hi]: a
 * superset for the avg modes (the caller checks the window), exact for max's candidates
 * through window_origin. */
__device__ void avg_candidates(lt_pool_mode mode, int64_t pos, int64_t in, int64_t out, int64_t k,
                               int64_t s, int64_t p, int64_t *lo, int64_t *hi) {
    if (mode == LT_POOL_ADAPTIVE_AVG) {
        *lo = pos * out / in;
        *hi = ((pos + 1) * out + in - 1) / in - 1;
    } else {
        const int64_t first = pos + p - k + 1; /* o s > pos + p - k */
        *lo = first <= 0 ? 0 : (first + s - 1) / s;
        *hi = (pos + p) / s;
    }
    if (*lo < 0) *lo = 0;
    if (*hi > out - 1) *hi = out - 1;
}

/* dx of an average pool at (y, x): the shares dy / divisor of the outputs whose clipped
 * window holds it, in output order, as the cpu adds them. */
__device__ float avg_gather(lt_pool_mode mode, const lt_window2d &g, const float *dy, int64_t y,
                            int64_t x) {
    int64_t oy0, oy1, ox0, ox1;
    avg_candidates(mode, y, g.h, g.oh, g.kh, g.sh, g.ph, &oy0, &oy1);
    avg_candidates(mode, x, g.w, g.ow, g.kw, g.sw, g.pw, &ox0, &ox1);
    float sum = 0.0f;
    for (int64_t oy = oy0; oy <= oy1; oy++)
        for (int64_t ox = ox0; ox <= ox1; ox++) {
            int64_t y0, y1, x0, x1;
            const float div = avg_window(mode, g, oy, ox, &y0, &y1, &x0, &x1);
            if (y >= y0 && y < y1 && x >= x0 && x < x1) sum += dy[oy * g.ow + ox] / div;
        }
    return sum;
}

/* dx of a max pool at (y, x): dy of every output whose recorded argmax is this element,
 * in output order (rows of windows ascend as the offset i descends). */
__device__ float max_gather(const lt_window2d &g, const float *dy, const int64_t *idx, int64_t y,
                            int64_t x) {
    const int64_t me = y * g.w + x;
    float sum = 0.0f;
    for (int64_t i = g.kh - 1; i >= 0; i--) {
        const int64_t oy = window_origin(y, i, g.sh, g.ph, g.dh, g.oh);
        if (oy < 0) continue;
        for (int64_t j = g.kw - 1; j >= 0; j--) {
            const int64_t ox = window_origin(x, j, g.sw, g.pw, g.dw, g.ow);
            if (ox >= 0 && idx[oy * g.ow + ox] == me) sum += dy[oy * g.ow + ox];
        }
    }
    return sum;
}

__global__ void pool_bwd_kernel(lt_pool_mode mode, lt_window2d g, const float *dy,
                                const int64_t *idx, float *dx) {
    const int64_t per_plane = g.h * g.w, total = g.n * g.c * per_plane;
    GRID_STRIDE(e, total) {
        const int64_t pl = e / per_plane, x = e % g.w, y = (e % per_plane) / g.w;
        const int64_t out_off = pl * g.oh * g.ow;
        dx[e] = mode == LT_POOL_MAX ? max_gather(g, dy + out_off, idx + out_off, y, x)
                                    : avg_gather(mode, g, dy + out_off, y, x);
    }
}

/* ---- launches ------------------------------------------------------------------------------ */

extern "C" void cuda_im2col(void *vst, const lt_window2d *g, const float *d_x, float *d_col) {
    cuda_state *st = (cuda_state *)vst;
    const int64_t n = g->c * g->kh * g->kw * g->n * g->oh * g->ow;
    if (n <= 0) return;
    CUDA_LAUNCH(st, cuda_grid(st, n, CUDA_THREADS), im2col_kernel, *g, d_x, d_col);
}

extern "C" void cuda_col2im(void *vst, const lt_window2d *g, const float *d_col, float *d_x) {
    cuda_state *st = (cuda_state *)vst;
    const int64_t n = g->n * g->c * g->h * g->w;
    if (n <= 0) return;
    CUDA_LAUNCH(st, cuda_grid(st, n, CUDA_THREADS), col2im_kernel, *g, d_col, d_x);
}

extern "C" void cuda_pool2d(void *vst, lt_pool_mode mode, const lt_window2d *g, const float *d_x,
                            float *d_y, int64_t *d_idx) {
    cuda_state *st = (cuda_state *)vst;
    const int64_t n = g->n * g->c * g->oh * g->ow;
    if (n <= 0) return;
    CUDA_LAUNCH(st, cuda_grid(st, n, CUDA_THREADS), pool_kernel, mode, *g, d_x, d_y, d_idx);
}

extern "C" void cuda_pool2d_bwd(void *vst, lt_pool_mode mode, const lt_window2d *g,
                                const float *d_dy, const int64_t *d_idx, float *d_dx) {
    cuda_state *st = (cuda_state *)vst;
    const int64_t n = g->n * g->c * g->h * g->w;
    if (n <= 0) return;
    CUDA_LAUNCH(st, cuda_grid(st, n, CUDA_THREADS), pool_bwd_kernel, mode, *g, d_dy, d_idx, d_dx);
}
