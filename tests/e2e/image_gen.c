/* image_gen — writes image folders for tests/e2e/test_image_folder.sh and the bench:
 *   image_gen DIR CLASSES PER_CLASS SIDE SEED [png|jpeg|mixed]
 *     DIR/class_<k>/img_<i>.{png,jpg}: RGB images of SIDE..SIDE+7 pixels a side (SIDE
 *     exactly when SIDE < 16) whose class shows in their colour (channel k % 3 bright,
 *     a stripe period of 2 + k) plus noise, so a small model can learn them;
 *   image_gen --bad DIR: one broken file of each kind (truncated PNG and JPEG, a PNG
 *     header claiming 100000 x 100000 pixels, text named .png, a .bmp).
 * PNG by libpng's simplified API, JPEG by libjpeg-turbo (quality 95). */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* after stdio.h: jpeglib.h uses FILE and size_t */
#include <jpeglib.h>
#include <png.h>
#include <zlib.h>

static uint64_t rng_state;
static uint32_t rnd(void) { /* splitmix64 */
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return (uint32_t)((z ^ (z >> 31)) >> 32);
}

static int write_png(const char *path, const uint8_t *px, int w, int h) {
    png_image img = {.version = PNG_IMAGE_VERSION,
                     .width = (png_uint_32)w,
                     .height = (png_uint_32)h,
                     .format = PNG_FORMAT_RGB};
    if (png_image_write_to_file(&img, path, 0, px, 0, NULL)) return 0;
    fprintf(stderr, "image_gen: %s: %s\n", path, img.message);
    return 1;
}

static int write_jpeg(const char *path, const uint8_t *px, int w, int h) {
    FILE *f = fopen(path, "wb");
    if (!f) return perror(path), 1;
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr e;
    c.err = jpeg_std_error(&e);
    jpeg_create_compress(&c);
    jpeg_stdio_dest(&c, f);
    c.image_width = (JDIMENSION)w, c.image_height = (JDIMENSION)h;
    c.input_components = 3, c.in_color_space = JCS_RGB;
    jpeg_set_defaults(&c);
    jpeg_set_quality(&c, 95, TRUE);
    jpeg_start_compress(&c, TRUE);
    while (c.next_scanline < c.image_height) {
        JSAMPROW row = (JSAMPROW)(px + (size_t)c.next_scanline * (size_t)w * 3);
        jpeg_write_scanlines(&c, &row, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    return fclose(f) != 0;
}

static void draw(uint8_t *px, int w, int h, int k) {
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int c = 0; c < 3; c++) {
                int v = (int)(rnd() % 64) + (c == k % 3 ? 150 : 20) + ((x / (2 + k)) % 2) * 40;
                px[((size_t)y * (size_t)w + (size_t)x) * 3 + (size_t)c] =
                    (uint8_t)(v > 255 ? 255 : v);
            }
}

static int write_file(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, n, f) != n) return perror(path), 1;
    return fclose(f) != 0;
}

static int truncate_copy(const char *from, const char *to, double keep) {
    FILE *f = fopen(from, "rb");
    if (!f) return perror(from), 1;
    uint8_t buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    return write_file(to, buf, (size_t)((double)n * keep));
}

/* An empty chunk of type `type` at q (12 bytes: length, type, CRC). */
static void empty_chunk(uint8_t *q, const char *type) {
    memset(q, 0, 4);
    memcpy(q + 4, type, 4);
    uint32_t crc = (uint32_t)crc32(0, q + 4, 4);
    for (int i = 0; i < 4; i++) q[8 + i] = (uint8_t)(crc >> (24 - 8 * i));
}

/* A PNG signature, an IHDR chunk of w x h, an empty IDAT and IEND: a header libpng reads
 * up to its image data. */
static int write_png_header_only(const char *path, uint32_t w, uint32_t h) {
    uint8_t b[8 + 25 + 12 + 12] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    uint8_t *p = b + 8;
    p[3] = 13;
    memcpy(p + 4, "IHDR", 4);
    for (int i = 0; i < 4; i++)
        p[8 + i] = (uint8_t)(w >> (24 - 8 * i)), p[12 + i] = (uint8_t)(h >> (24 - 8 * i));
    p[16] = 8, p[17] = 2; /* 8-bit RGB */
    uint32_t crc = (uint32_t)crc32(0, p + 4, 17);
    for (int i = 0; i < 4; i++) p[21 + i] = (uint8_t)(crc >> (24 - 8 * i));
    empty_chunk(p + 25, "IDAT");
    empty_chunk(p + 37, "IEND");
    return write_file(path, b, sizeof b);
}

static int bad_files(const char *dir) {
    char a[4096], b[4096];
    uint8_t px[32 * 32 * 3];
    draw(px, 32, 32, 0);
    int rc = 0;
    snprintf(a, sizeof a, "%s/whole.png", dir), rc |= write_png(a, px, 32, 32);
    snprintf(b, sizeof b, "%s/truncated.png", dir), rc |= truncate_copy(a, b, 0.6);
    snprintf(a, sizeof a, "%s/whole.jpg", dir), rc |= write_jpeg(a, px, 32, 32);
    snprintf(b, sizeof b, "%s/truncated.jpg", dir), rc |= truncate_copy(a, b, 0.6);
    snprintf(a, sizeof a, "%s/huge.png", dir), rc |= write_png_header_only(a, 100000, 100000);
    snprintf(a, sizeof a, "%s/text.png", dir), rc |= write_file(a, "hello\n", 6);
    snprintf(a, sizeof a, "%s/picture.bmp", dir), rc |= write_file(a, "BM", 2);
    return rc;
}

/* DIR/class_<k>/img_<i>.{png,jpg} for i < per. */
static int write_class(const char *dir, int k, int per, int side, const char *kind, uint8_t *px) {
    char sub[4096], path[4200];
    snprintf(sub, sizeof sub, "%s/class_%d", dir, k);
    mkdir(sub, 0755);
    int rc = 0;
    for (int i = 0; i < per && !rc; i++) {
        int w = side < 16 ? side : side + (int)(rnd() % 8);
        int h = side < 16 ? side : side + (int)(rnd() % 8);
        draw(px, w, h, k);
        bool jpeg = !strcmp(kind, "jpeg") || (!strcmp(kind, "mixed") && i % 2);
        snprintf(path, sizeof path, "%s/img_%04d.%s", sub, i, jpeg ? "jpg" : "png");
        rc = jpeg ? write_jpeg(path, px, w, h) : write_png(path, px, w, h);
    }
    return rc;
}

int main(int argc, char **argv) {
    if (argc == 3 && !strcmp(argv[1], "--bad")) return bad_files(argv[2]);
    if (argc < 6) {
        fprintf(stderr, "usage: image_gen DIR CLASSES PER_CLASS SIDE SEED [png|jpeg|mixed]\n");
        return 2;
    }
    const char *dir = argv[1], *kind = argc > 6 ? argv[6] : "mixed";
    int classes = atoi(argv[2]), per = atoi(argv[3]), side = atoi(argv[4]);
    rng_state = strtoull(argv[5], NULL, 10);
    if (classes < 1 || per < 1 || side < 1 || side > 4096) return 2;
    uint8_t *px = malloc((size_t)(side + 8) * (size_t)(side + 8) * 3);
    int rc = !px;
    mkdir(dir, 0755);
    for (int k = 0; k < classes && !rc; k++) rc = write_class(dir, k, per, side, kind, px);
    free(px);
    return rc;
}
