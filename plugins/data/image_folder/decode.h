/* PNG and JPEG files to 8-bit RGB (torchvision's default loader: PIL, .convert("RGB")),
 * decoded with Debian's libpng and libjpeg-turbo. Files are untrusted: the size read is
 * bounded, the dimensions are bounded before any pixel buffer is allocated, and a
 * truncated or corrupt file (libjpeg's warnings included) is an error naming the file. */
#ifndef LT_PLUGINS_DATA_IMAGE_FOLDER_DECODE_H
#define LT_PLUGINS_DATA_IMAGE_FOLDER_DECODE_H

#include <lt/lt.h>

#define IMG_MAX_FILE_BYTES ((size_t)256 << 20) /* 256 MiB */
#define IMG_MAX_SIDE 16384
#define IMG_MAX_PIXELS ((int64_t)1 << 26) /* 64 Mpx: 192 MiB of RGB */

typedef struct img_rgb {
    uint8_t *px; /* (h, w, 3), owned: free() */
    int w, h;
} img_rgb;

/* Whether name ends in .png, .jpg or .jpeg (any case); *other = it ends in another of
 * torchvision's IMG_EXTENSIONS (.bmp, .webp, ...), which this plugin cannot decode. */
bool img_is_supported(const char *name, bool *other);
/* The image's width and height from its header only. */
lt_status img_probe(const char *path, int *w, int *h);
/* The whole image as RGB. */
lt_status img_decode(const char *path, img_rgb *out);

#endif
