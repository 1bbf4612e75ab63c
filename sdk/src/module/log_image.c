/* lt_log_image: a (C, H, W) image or (N, C, H, W) batch tiled the way
 * torchvision.utils.make_grid tiles it, converted to 8-bit RGB the way save_image does
 * (x * 255 + 0.5, clamped, truncated), and handed to the host's loggers. The name
 * becomes a folder of the log directory, so it is checked here, before any host sees it. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctx_impl.h"

enum {
    IMAGE_NAME_MAX = 64,
    IMAGE_SIDE_MAX = 16384,     /* pixels a side, of one image or of the grid */
    IMAGE_COUNT_MAX = 4096,     /* images in a batch */
    IMAGE_PIXELS_MAX = 1 << 26, /* of the grid: 192 MiB of RGB at most */
    IMAGE_DEFAULT_NROW = 8,     /* make_grid's defaults */
    IMAGE_DEFAULT_PADDING = 2,
};

/* make_grid's geometry: n images of h x w in rows of xmaps, ymaps rows, pad pixels. */
typedef struct {
    int64_t n, c, h, w, xmaps, ymaps, pad, gh, gw;
} grid_shape;

/* Why name cannot be an image name (a folder under images/), or NULL. */
static const char *name_problem(const char *name) {
    size_t n = strnlen(name, IMAGE_NAME_MAX + 1);
    if (n == 0 || n > IMAGE_NAME_MAX) return "must have 1 to 64 characters";
    if (name[0] == '.') return "must not start with '.' (it names a folder)";
    for (size_t i = 0; i < n; i++) {
        char ch = name[i];
        bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                  (ch >= '0' && ch <= '9') || ch == '_' || ch == '-' || ch == '.';
        if (!ok) return "may hold only letters, digits, '_', '-' and '.' (it names a folder)";
    }
    return NULL;
}

static lt_status check_tensor(const char *name, const lt_tensor_t *t) {
    char s[96];
    if (!lt__check_live(t, "lt_log_image")) return lt_last_status();
    bool ok = t->dtype == LT_F32 && (t->ndim == 3 || t->ndim == 4);
    int64_t c = ok ? t->shape[t->ndim - 3] : 0;
    if (!ok || (c != 1 && c != 3))
        return lt_set_error(LT_ERR_SHAPE,
                            "lt_log_image('%s'): expected a float32 (C, H, W) image or (N, C, H, "
                            "W) batch with C = 1 or 3, got a %s tensor of shape %s",
                            name, lt_dtype_name(t->dtype), lt__shape_str(t, s, sizeof s));
    return LT_OK;
}

/* The grid's shape for t under o, or an error when it would be too large. */
static lt_status plan_grid(const char *name, const lt_tensor_t *t, const lt_image_opts *o,
                           grid_shape *g) {
    int d = t->ndim - 3;
    *g = (grid_shape){
        .n = d ? t->shape[0] : 1, .c = t->shape[d], .h = t->shape[d + 1], .w = t->shape[d + 2]};
    int64_t nrow = o->nrow ? o->nrow : IMAGE_DEFAULT_NROW;
    g->pad = g->n == 1 ? 0 : o->padding == -1 ? 0 : o->padding ? o->padding : IMAGE_DEFAULT_PADDING;
    if (o->normalize && !(o->value_range[0] <= o->value_range[1]))
        return lt_set_error(LT_ERR_INVALID_ARG,
                            "lt_log_image('%s'): value_range (%g, %g) must be (low, high) with "
                            "low <= high (equal: the tensor's own minimum and maximum)",
                            name, (double)o->value_range[0], (double)o->value_range[1]);
    if (nrow < 0 || o->padding < -1 || o->padding > 64)
        return lt_set_error(LT_ERR_INVALID_ARG,
                            "lt_log_image('%s'): nrow must be >= 0 and padding -1 to 64 (got "
                            "nrow %lld, padding %lld)",
                            name, (long long)o->nrow, (long long)o->padding);
    g->xmaps = nrow < g->n ? nrow : g->n;
    g->ymaps = (g->n + g->xmaps - 1) / g->xmaps;
    bool fits = g->n <= IMAGE_COUNT_MAX && g->h <= IMAGE_SIDE_MAX && g->w <= IMAGE_SIDE_MAX;
    if (fits) {
        g->gh = (g->h + g->pad) * g->ymaps + g->pad;
        g->gw = (g->w + g->pad) * g->xmaps + g->pad;
        fits =
            g->gh <= IMAGE_SIDE_MAX && g->gw <= IMAGE_SIDE_MAX && g->gh * g->gw <= IMAGE_PIXELS_MAX;
    }
    if (!fits)
        return lt_set_error(
            LT_ERR_INVALID_ARG,
            "lt_log_image('%s'): %lld images of %lldx%lld make a grid larger "
            "than %d pixels a side or %d pixels in all; log fewer or smaller images",
            name, (long long)g->n, (long long)g->h, (long long)g->w, IMAGE_SIDE_MAX,
            IMAGE_PIXELS_MAX);
    return LT_OK;
}

/* make_grid(normalize=True): clamp to (lo, hi) and map it onto (0, 1). */
static void normalize(float *v, int64_t n, const lt_image_opts *o) {
    float lo = o->value_range[0], hi = o->value_range[1];
    if (lo == hi) {
        lo = INFINITY, hi = -INFINITY;
        for (int64_t i = 0; i < n; i++) lo = fminf(lo, v[i]), hi = fmaxf(hi, v[i]);
    }
    float scale = 1.0f / fmaxf(hi - lo, 1e-5f);
    for (int64_t i = 0; i < n; i++) v[i] = (fminf(fmaxf(v[i], lo), hi) - lo) * scale;
}

/* save_image's conversion: x * 255 + 0.5, clamped to [0, 255], truncated (NaN: 0). */
static uint8_t to_byte(float x) {
    float y = x * 255.0f + 0.5f;
    return y >= 0.0f ? (uint8_t)fminf(y, 255.0f) : 0;
}

/* rgb (gh, gw, 3) = the images of v (n, c, h, w) tiled on a pad_value background. */
static void tile(const grid_shape *g, const float *v, float pad_value, uint8_t *rgb) {
    memset(rgb, to_byte(pad_value), (size_t)(g->gh * g->gw * 3));
    for (int64_t k = 0; k < g->n; k++) {
        int64_t y0 = (k / g->xmaps) * (g->h + g->pad) + g->pad;
        int64_t x0 = (k % g->xmaps) * (g->w + g->pad) + g->pad;
        for (int64_t ch = 0; ch < 3; ch++) {
            const float *src = v + (k * g->c + (g->c == 1 ? 0 : ch)) * g->h * g->w;
            for (int64_t y = 0; y < g->h; y++)
                for (int64_t x = 0; x < g->w; x++)
                    rgb[((y0 + y) * g->gw + x0 + x) * 3 + ch] = to_byte(src[y * g->w + x]);
        }
    }
}

static lt_status host_takes_images(lt_ctx_t *ctx, const char *name) {
    const lt_trainer_t *tr = ctx->trainer;
    size_t need = offsetof(lt_trainer_t, log_image) + sizeof tr->log_image;
    if (!tr || tr->struct_size < need || !tr->log_image)
        return lt_set_error(LT_ERR_STATE,
                            "lt_log_image('%s'): %s; log images from a module's hooks under an "
                            "lthost that supports them",
                            name, tr ? "this host takes no images" : "no trainer is running");
    return LT_OK;
}

static lt_status render(lt_ctx_t *ctx, const char *name, const lt_tensor_t *t,
                        const lt_image_opts *o, const grid_shape *g) {
    size_t nv = (size_t)t->numel, nb = (size_t)(g->gh * g->gw * 3);
    float *v = malloc(nv * sizeof *v);
    uint8_t *rgb = v ? malloc(nb) : NULL;
    lt_status st = rgb ? lt_to_host(t, v, nv * sizeof *v)
                       : lt_set_error(LT_ERR_OOM, "lt_log_image('%s'): out of host memory", name);
    if (st == LT_OK) {
        if (o->normalize) normalize(v, (int64_t)nv, o);
        tile(g, v, o->pad_value, rgb);
        st = ctx->trainer->log_image(ctx->trainer, name, g->gh, g->gw, rgb);
    }
    free(rgb);
    free(v);
    return st;
}

lt_status lt_log_image_ex(lt_ctx_t *ctx, const char *name, lt_tensor_t *t, const lt_image_opts *o) {
    if (!t) return lt_last_status() ? lt_last_status() : LT_ERR_INVALID_ARG;
    if (!ctx || !name) return lt_set_error(LT_ERR_INVALID_ARG, "lt_log_image: NULL argument");
    const char *why = name_problem(name);
    if (why)
        return lt_set_error(LT_ERR_INVALID_ARG, "lt_log_image: image name '%.64s' %s", name, why);
    lt_image_opts defaults = LT_IMAGE_OPTS();
    if (!o) o = &defaults;
    if (o->struct_size < sizeof *o)
        return lt_set_error(LT_ERR_ABI,
                            "lt_log_image('%s'): opts.struct_size is %u, expected %zu; make the "
                            "options with LT_IMAGE_OPTS(...)",
                            name, o->struct_size, sizeof *o);
    grid_shape g;
    lt_status st = check_tensor(name, t);
    if (st == LT_OK) st = host_takes_images(ctx, name);
    if (st == LT_OK) st = plan_grid(name, t, o, &g);
    return st == LT_OK ? render(ctx, name, t, o, &g) : st;
}

lt_status lt_log_image(lt_ctx_t *ctx, const char *name, lt_tensor_t *t) {
    return lt_log_image_ex(ctx, name, t, NULL);
}
