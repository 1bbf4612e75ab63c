/* decode.c — PNG (libpng's simplified API) and JPEG (libjpeg-turbo) to RGB8, from the
 * file read whole into memory. See decode.h for the bounds. */
#include "decode.h"

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

/* after stdio.h: jpeglib.h uses FILE and size_t */
#include <jpeglib.h>
#include <png.h>

/* ---- file names ---------------------------------------------------------------------- */

static bool ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && !strcasecmp(s + n - k, suffix);
}

bool img_is_supported(const char *name, bool *other) {
    static const char *const ours[] = {".png", ".jpg", ".jpeg"};
    static const char *const theirs[] = {".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp"};
    *other = false;
    for (size_t i = 0; i < sizeof ours / sizeof *ours; i++)
        if (ends_with(name, ours[i])) return true;
    for (size_t i = 0; i < sizeof theirs / sizeof *theirs; i++)
        if (ends_with(name, theirs[i])) *other = true;
    return false;
}

/* ---- reading ---------------------------------------------------------------------------- */

typedef struct file_bytes {
    uint8_t *data;
    size_t size;
} file_bytes;

static lt_status read_all(const char *path, file_bytes *f) {
    *f = (file_bytes){0};
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) return lt_set_error(LT_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    lt_status s = LT_OK;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
        s = lt_set_error(LT_ERR_IO, "%s: not a regular file", path);
    else if ((size_t)st.st_size > IMG_MAX_FILE_BYTES)
        s = lt_set_error(LT_ERR_FORMAT, "%s: %lld bytes, over the %zu MiB an image may have", path,
                         (long long)st.st_size, IMG_MAX_FILE_BYTES >> 20);
    else if (st.st_size == 0)
        s = lt_set_error(LT_ERR_FORMAT, "%s: an empty file, not an image", path);
    else if (!(f->data = malloc((size_t)st.st_size)))
        s = lt_set_error(LT_ERR_OOM, "%s: out of memory reading it", path);
    for (size_t got = 0; s == LT_OK && got < (size_t)st.st_size;) {
        ssize_t r = read(fd, f->data + got, (size_t)st.st_size - got);
        if (r <= 0) s = lt_set_error(LT_ERR_IO, "%s: read failed: %s", path, strerror(errno));
        got += r > 0 ? (size_t)r : 0;
    }
    f->size = (size_t)st.st_size;
    close(fd);
    if (s != LT_OK) free(f->data), f->data = NULL;
    return s;
}

static lt_status check_dims(const char *path, int64_t w, int64_t h) {
    if (w < 1 || h < 1 || w > IMG_MAX_SIDE || h > IMG_MAX_SIDE || w * h > IMG_MAX_PIXELS)
        return lt_set_error(LT_ERR_FORMAT,
                            "%s: %lldx%lld pixels; images may have 1 to %d pixels a side and "
                            "%lld in all",
                            path, (long long)w, (long long)h, IMG_MAX_SIDE,
                            (long long)IMG_MAX_PIXELS);
    return LT_OK;
}

static bool is_png(const file_bytes *f) { return f->size >= 8 && !png_sig_cmp(f->data, 0, 8); }

static bool is_jpeg(const file_bytes *f) {
    return f->size >= 3 && f->data[0] == 0xff && f->data[1] == 0xd8 && f->data[2] == 0xff;
}

/* ---- PNG ---------------------------------------------------------------------------------- */

static lt_status png_decode(const char *path, const file_bytes *f, bool pixels, img_rgb *out) {
    png_image img = {.version = PNG_IMAGE_VERSION};
    if (!png_image_begin_read_from_memory(&img, f->data, f->size))
        return lt_set_error(LT_ERR_FORMAT, "%s: not a readable PNG (%s)", path, img.message);
    lt_status s = check_dims(path, img.width, img.height);
    out->w = (int)img.width, out->h = (int)img.height;
    if (s != LT_OK || !pixels) {
        png_image_free(&img);
        return s;
    }
    img.format = PNG_FORMAT_RGB; /* gray widened, alpha composed on black, 16 bits cut */
    if (!(out->px = malloc((size_t)img.width * img.height * 3))) {
        png_image_free(&img);
        return lt_set_error(LT_ERR_OOM, "%s: out of memory for %ux%u pixels", path, img.width,
                            img.height);
    }
    if (!png_image_finish_read(&img, NULL, out->px, 0, NULL)) {
        free(out->px), out->px = NULL;
        return lt_set_error(LT_ERR_FORMAT, "%s: corrupt or truncated PNG (%s)", path, img.message);
    }
    return LT_OK;
}

/* ---- JPEG --------------------------------------------------------------------------------- */

typedef struct jpeg_err {
    struct jpeg_error_mgr pub;
    jmp_buf jump;
    char msg[JMSG_LENGTH_MAX];
} jpeg_err;

static void jpeg_fail(j_common_ptr c) {
    jpeg_err *e = (jpeg_err *)c->err;
    c->err->format_message(c, e->msg);
    longjmp(e->jump, 1);
}

/* A warning (premature end of data, a corrupt segment) fails the image too: libjpeg
 * would fill the rest with gray and a model would train on it. */
static void jpeg_message(j_common_ptr c, int level) {
    if (level < 0) jpeg_fail(c);
}

static lt_status jpeg_decode(const char *path, const file_bytes *f, bool pixels, img_rgb *out) {
    struct jpeg_decompress_struct c;
    jpeg_err e;
    uint8_t *volatile px = NULL;
    c.err = jpeg_std_error(&e.pub);
    e.pub.error_exit = jpeg_fail;
    e.pub.emit_message = jpeg_message;
    if (setjmp(e.jump)) {
        jpeg_destroy_decompress(&c);
        free(px);
        return lt_set_error(LT_ERR_FORMAT, "%s: corrupt or truncated JPEG (%s)", path, e.msg);
    }
    jpeg_create_decompress(&c);
    jpeg_mem_src(&c, f->data, (unsigned long)f->size);
    jpeg_read_header(&c, TRUE);
    lt_status s = check_dims(path, c.image_width, c.image_height);
    out->w = (int)c.image_width, out->h = (int)c.image_height;
    if (s != LT_OK || !pixels) {
        jpeg_destroy_decompress(&c);
        return s;
    }
    c.out_color_space = JCS_RGB;
    jpeg_start_decompress(&c);
    size_t row = (size_t)c.output_width * 3;
    if (!(px = malloc(row * c.output_height))) {
        jpeg_destroy_decompress(&c);
        return lt_set_error(LT_ERR_OOM, "%s: out of memory for its pixels", path);
    }
    while (c.output_scanline < c.output_height) {
        JSAMPROW r = px + row * c.output_scanline;
        jpeg_read_scanlines(&c, &r, 1);
    }
    jpeg_finish_decompress(&c);
    jpeg_destroy_decompress(&c);
    out->px = px;
    return LT_OK;
}

/* ---- entry points ----------------------------------------------------------------------- */

static lt_status decode(const char *path, bool pixels, img_rgb *out) {
    file_bytes f;
    *out = (img_rgb){0};
    lt_status s = read_all(path, &f);
    if (s != LT_OK) return s;
    if (is_png(&f))
        s = png_decode(path, &f, pixels, out);
    else if (is_jpeg(&f))
        s = jpeg_decode(path, &f, pixels, out);
    else
        s = lt_set_error(LT_ERR_FORMAT, "%s: neither a PNG nor a JPEG file (by its first bytes)",
                         path);
    free(f.data);
    return s;
}

lt_status img_probe(const char *path, int *w, int *h) {
    img_rgb im;
    lt_status s = decode(path, false, &im);
    *w = im.w, *h = im.h;
    return s;
}

lt_status img_decode(const char *path, img_rgb *out) { return decode(path, true, out); }
