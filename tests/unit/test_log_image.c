/* lt_log_image (issue 23): the grid liblt makes (torchvision's make_grid and save_image
 * conversion), its refusals (names that would be paths, bad shapes, no trainer), the PNG
 * bytes read back with libpng, and the TensorBoard image event framed and laid out as
 * SummaryWriter.add_image writes it (its fields decoded here; TensorBoard's own reader
 * checks the same files in tests/reference/check_images.py, run by test_dcgan.sh). */
#define LOGGERS_IMPL
#include "../../host/loggers/loggers.h"

#include <png.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <lt/runtime.h>

#include "test_util.h"

/* ---- the grid, through a trainer that keeps what it is given ---------------------------- */

typedef struct {
    lt_trainer_t tr;
    char name[80];
    int64_t h, w, calls;
    uint8_t rgb[64 * 64 * 3];
} capture;

static lt_status keep_image(lt_trainer_t *tr, const char *name, int64_t h, int64_t w,
                            const uint8_t *rgb) {
    capture *c = (capture *)tr;
    ck_assert_int_le(h * w * 3, (int64_t)sizeof c->rgb);
    snprintf(c->name, sizeof c->name, "%s", name);
    c->h = h, c->w = w, c->calls++;
    memcpy(c->rgb, rgb, (size_t)(h * w * 3));
    return LT_OK;
}

static lt_ctx_t *ctx_with(capture *c) {
    *c = (capture){.tr = {.struct_size = sizeof(lt_trainer_t), .log_image = keep_image}};
    lt_ctx_t *ctx = lt_ctx_new(test_dev, "img", NULL, 0, 1);
    ck_assert_int_eq(lt_ctx_set_trainer(ctx, &c->tr), LT_OK);
    return ctx;
}

static const uint8_t *px(const capture *c, int64_t y, int64_t x) {
    return c->rgb + (y * c->w + x) * 3;
}

/* Three 1-channel 2x3 images, nrow 2: two rows of two cells of (2 + 2) x (3 + 2) plus the
 * outer padding, 10 x 12; the fourth cell stays padding; gray becomes R = G = B. */
START_TEST(grid_tiles_like_make_grid) {
    capture c;
    lt_ctx_t *ctx = ctx_with(&c);
    float v[3 * 6];
    for (int i = 0; i < 18; i++) v[i] = (float)i / 17.0f;
    v[0] = 1.5f, v[1] = -1.0f, v[2] = 0.5f; /* clamped high, clamped low, 0.5 * 255 + 0.5 */
    lt_tensor_t *t = lt_from_host(lt_ctx_arena(ctx), LT_F32, 4, (int64_t[]){3, 1, 2, 3}, v);
    ck_assert_int_eq(lt_log_image_ex(ctx, "samples", t, &LT_IMAGE_OPTS(.nrow = 2)), LT_OK);
    ck_assert_int_eq(c.calls, 1);
    ck_assert_str_eq(c.name, "samples");
    ck_assert_int_eq(c.h, 10);
    ck_assert_int_eq(c.w, 12);
    ck_assert_int_eq(px(&c, 2, 2)[0], 255);
    ck_assert_int_eq(px(&c, 2, 3)[1], 0);
    ck_assert_int_eq(px(&c, 2, 4)[2], 128);
    for (int k = 0; k < 3; k++) /* image k's last pixel, every channel */
        for (int ch = 0; ch < 3; ch++)
            ck_assert_int_eq(px(&c, 2 + 4 * (k / 2) + 1, 2 + 5 * (k % 2) + 2)[ch],
                             (int)((float)(6 * k + 5) / 17.0f * 255.0f + 0.5f));
    ck_assert_int_eq(px(&c, 0, 0)[0], 0); /* padding */
    ck_assert_int_eq(px(&c, 6, 7)[1], 0); /* the empty fourth cell */
    ck_assert_int_eq(px(&c, 6, 2)[0], px(&c, 6, 2)[2]);
    /* one (3, H, W) image: no padding, channels kept; normalize maps [-1, 1] to [0, 1] */
    float rgb[3 * 2 * 2] = {-1, 1, 0, 0, 1, 1, 1, 1, -1, -1, -1, -1};
    t = lt_from_host(lt_ctx_arena(ctx), LT_F32, 3, (int64_t[]){3, 2, 2}, rgb);
    lt_image_opts o = LT_IMAGE_OPTS(.normalize = true, .value_range = {-1.0f, 1.0f});
    ck_assert_int_eq(lt_log_image_ex(ctx, "one", t, &o), LT_OK);
    ck_assert_int_eq(c.h, 2);
    ck_assert_int_eq(c.w, 2);
    ck_assert_int_eq(px(&c, 0, 0)[0], 0);
    ck_assert_int_eq(px(&c, 0, 0)[1], 255);
    ck_assert_int_eq(px(&c, 0, 1)[0], 255);
    ck_assert_int_eq(px(&c, 1, 0)[0], 128);
    lt_ctx_free(ctx);
}
END_TEST

static void expect_refusal(lt_status st, const char *words) {
    ck_assert_int_ne(st, LT_OK);
    ck_assert_msg(strstr(lt_last_error(), words) != NULL, "error '%s' lacks '%s'", lt_last_error(),
                  words);
    lt_clear_error();
}

START_TEST(image_refusals_are_clear) {
    capture c;
    lt_ctx_t *ctx = ctx_with(&c);
    lt_arena_t *a = lt_ctx_arena(ctx);
    lt_tensor_t *img = lt_full(a, 3, (int64_t[]){1, 4, 4}, 0.5f);
    static const char *const bad[] = {
        "../x",
        "a/b",
        "",
        ".hidden",
        "sp ace",
        "..",
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        expect_refusal(lt_log_image(ctx, bad[i], img), "image name");
    expect_refusal(lt_log_image(ctx, "x", lt_full(a, 3, (int64_t[]){2, 4, 4}, 0.5f)), "C = 1 or 3");
    expect_refusal(lt_log_image(ctx, "x", lt_full(a, 2, (int64_t[]){4, 4}, 0.5f)), "(C, H, W)");
    expect_refusal(lt_log_image_ex(ctx, "x", img, &LT_IMAGE_OPTS(.nrow = -1)), "nrow must be >= 0");
    expect_refusal(lt_log_image(ctx, "x", lt_full(a, 4, (int64_t[]){2, 1, 20000, 2}, 0.5f)),
                   "larger than");
    expect_refusal(lt_log_image_ex(ctx, "x", img,
                                   &LT_IMAGE_OPTS(.normalize = true, .value_range = {1.0f, -1.0f})),
                   "low <= high");
    ck_assert_int_eq(c.calls, 0);
    lt_ctx_t *bare = lt_ctx_new(test_dev, "bare", NULL, 0, 1);
    expect_refusal(lt_log_image(bare, "x", lt_full(lt_ctx_arena(bare), 3, (int64_t[]){1, 2, 2}, 0)),
                   "no trainer is running");
    lt_ctx_free(bare);
    lt_ctx_free(ctx);
}
END_TEST

/* ---- the PNG and the TensorBoard event ------------------------------------------------- */

START_TEST(png_decodes_to_the_same_pixels) {
    enum { H = 5, W = 7 };
    uint8_t rgb[H * W * 3], *png = NULL;
    for (int i = 0; i < H * W * 3; i++) rgb[i] = (uint8_t)(i * 37 + 11);
    size_t n = 0;
    char err[256];
    ck_assert_msg(logs_png_encode(rgb, H, W, &png, &n, err, sizeof err), "%s", err);
    png_image im = {.version = PNG_IMAGE_VERSION};
    ck_assert(png_image_begin_read_from_memory(&im, png, n));
    ck_assert_int_eq(im.width, W);
    ck_assert_int_eq(im.height, H);
    im.format = PNG_FORMAT_RGB;
    uint8_t back[H * W * 3];
    ck_assert(png_image_finish_read(&im, NULL, back, 0, NULL));
    ck_assert_mem_eq(back, rgb, sizeof rgb);
    free(png);
    ck_assert(!logs_png_encode(rgb, 0, W, &png, &n, err, sizeof err));
    ck_assert_ptr_nonnull(strstr(err, "out of range"));
}
END_TEST

static uint64_t read_varint(const uint8_t **p, const uint8_t *end) {
    uint64_t v = 0;
    for (int s = 0; *p < end; s += 7) {
        v |= (uint64_t)(**p & 0x7f) << s;
        if (!(*(*p)++ & 0x80)) break;
    }
    return v;
}

/* The body of the first length-delimited protobuf field `field` in [p, end), or NULL. */
static const uint8_t *find_field(const uint8_t *p, const uint8_t *end, int field, size_t *len) {
    while (p < end) {
        uint64_t key = read_varint(&p, end);
        int wire = (int)(key & 7);
        if (wire == 1 || wire == 5) {
            p += wire == 1 ? 8 : 4;
            continue;
        }
        uint64_t v = read_varint(&p, end);
        if (wire == 2 && (int)(key >> 3) == field) {
            *len = (size_t)v;
            return p;
        }
        if (wire == 2) p += v;
    }
    return NULL;
}

START_TEST(tensorboard_image_event_holds_the_png) {
    char dir[] = "/tmp/lt_img_XXXXXX", err[256];
    ck_assert_ptr_nonnull(mkdtemp(dir));
    logger *tb = tb_logger_open(dir, err, sizeof err);
    ck_assert_msg(tb != NULL, "%s", err);
    const uint8_t png[] = {0x89, 'P', 'N', 'G', 1, 2, 3};
    ck_assert(logger_log_image(tb, "fake", 300, 28, 56, png, sizeof png, err, sizeof err));
    ck_assert(logger_close(tb, err, sizeof err));
    char cmd[128], path[256];
    snprintf(cmd, sizeof cmd, "ls %s/events.out.tfevents.*", dir);
    FILE *ls = popen(cmd, "r");
    ck_assert(fgets(path, sizeof path, ls) != NULL);
    pclose(ls);
    path[strcspn(path, "\n")] = 0;
    FILE *f = fopen(path, "rb");
    uint8_t buf[4096];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    /* skip the file_version record, then the image event's body */
    uint64_t first = 0;
    memcpy(&first, buf, 8);
    const uint8_t *ev = buf + 12 + first + 4 + 12, *end = ev + buf[12 + first + 4];
    ck_assert(end <= buf + n);
    size_t len;
    const uint8_t *summary = find_field(ev, end, 5, &len);
    ck_assert_ptr_nonnull(summary);
    const uint8_t *value = find_field(summary, summary + len, 1, &len);
    const uint8_t *image = find_field(value, value + len, 4, &len);
    ck_assert_ptr_nonnull(image);
    /* height 28, width 56, colorspace 3, encoded_image_string */
    const uint8_t want[] = {0x08, 28, 0x10, 56, 0x18, 3, 0x22, sizeof png};
    ck_assert_mem_eq(image, want, sizeof want);
    ck_assert_mem_eq(image + sizeof want, png, sizeof png);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    ck_assert_int_eq(system(cmd), 0);
}
END_TEST

Suite *suite_log_image(void) {
    Suite *s = suite_create("log_image");
    TCase *tc = tcase_create("log_image");
    tcase_add_checked_fixture(tc, test_open, test_close);
    tcase_add_test(tc, grid_tiles_like_make_grid);
    tcase_add_test(tc, image_refusals_are_clear);
    tcase_add_test(tc, png_decodes_to_the_same_pixels);
    tcase_add_test(tc, tensorboard_image_event_holds_the_png);
    suite_add_tcase(s, tc);
    return s;
}
