/* 8-bit RGB PNG files for lt_log_image, through libpng, encoded into memory once so the
 * same bytes go to the .png file and into TensorBoard's image summary
 * (encoded_image_string), as torchvision's save_image and SummaryWriter.add_image make them. */
#define LOGGERS_IMPL
#include "loggers.h"

#include <errno.h>
#include <png.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct {
    uint8_t *p;
    size_t len, cap;
    bool oom;
} png_mem;

static void mem_write(png_structp png, png_bytep data, png_size_t n) {
    png_mem *m = png_get_io_ptr(png);
    if (m->oom) return;
    if (m->len + n > m->cap) {
        size_t cap = m->cap ? m->cap : 4096;
        while (cap < m->len + n) cap *= 2;
        uint8_t *p = realloc(m->p, cap);
        if (!p) {
            m->oom = true;
            return;
        }
        m->p = p;
        m->cap = cap;
    }
    memcpy(m->p + m->len, data, n);
    m->len += n;
}

static void mem_flush(png_structp png) { (void)png; }

/* libpng reports errors by longjmp; everything it touches lives in png_encode's frame. */
static bool encode_rows(png_structp png, png_infop info, const uint8_t *rgb, uint32_t h,
                        uint32_t w) {
    if (setjmp(png_jmpbuf(png))) return false;
    png_set_IHDR(png, info, w, h, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (uint32_t y = 0; y < h; y++) png_write_row(png, (png_const_bytep)(rgb + (size_t)y * w * 3));
    png_write_end(png, info);
    return true;
}

bool logs_png_encode(const uint8_t *rgb, int64_t height, int64_t width, uint8_t **out,
                     size_t *nbytes, char *err, size_t errn) {
    *out = NULL;
    *nbytes = 0;
    if (height <= 0 || width <= 0 || height > PNG_UINT_31_MAX / 4 || width > PNG_UINT_31_MAX / 4) {
        logs__err(err, errn, "PNG: a %lldx%lld image is out of range", (long long)height,
                  (long long)width);
        return false;
    }
    png_mem m = {0};
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    bool ok = info != NULL;
    if (ok) {
        png_set_write_fn(png, &m, mem_write, mem_flush);
        ok = encode_rows(png, info, rgb, (uint32_t)height, (uint32_t)width) && !m.oom;
    }
    png_destroy_write_struct(&png, &info);
    if (!ok) {
        free(m.p);
        logs__err(err, errn, "PNG: cannot encode a %lldx%lld image (out of memory)",
                  (long long)height, (long long)width);
        return false;
    }
    *out = m.p;
    *nbytes = m.len;
    return true;
}

bool logs_write_file(const char *path, const void *data, size_t n, char *err, size_t errn) {
    size_t len = strlen(path);
    char *tmp = malloc(len + 5);
    if (!tmp) {
        logs__err(err, errn, "cannot write %s: out of memory", path);
        return false;
    }
    memcpy(tmp, path, len);
    memcpy(tmp + len, ".tmp", 5);
    FILE *f = fopen(tmp, "wb");
    bool ok = f && fwrite(data, 1, n, f) == n;
    ok = (f && fclose(f) == 0) && ok;
    ok = ok && rename(tmp, path) == 0;
    if (!ok) {
        logs__err(err, errn, "cannot write %s: %s", path, strerror(errno));
        unlink(tmp);
    }
    free(tmp);
    return ok;
}

bool logger_log_image(logger *lg, const char *tag, int64_t step, int64_t height, int64_t width,
                      const uint8_t *png, size_t n, char *err, size_t errn) {
    if (!lg || !tag || !png) {
        logs__err(err, errn, "logger_log_image: no logger, tag or image");
        return false;
    }
    return !lg->ops->log_image ||
           lg->ops->log_image(lg, tag, step, height, width, png, n, err, errn);
}
