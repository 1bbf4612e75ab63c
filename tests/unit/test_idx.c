/* The IDX reader: gzip and raw files round-trip; damaged files fail with the path named. */
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "test_util.h"

static char dir[64];

static void make_dir(void) {
    snprintf(dir, sizeof dir, "/tmp/lt_idx_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void remove_dir(void) {
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    ck_assert_int_eq(system(cmd), 0);
}

/* A 3-D uint8 IDX file (2, 3, 4) holding 0..23; `cut` bytes dropped from the end. */
static const char *write_idx(const char *name, bool gz, size_t cut, const uint8_t *magic) {
    static char path[128];
    uint8_t buf[16 + 24];
    const uint8_t hdr[16] = {0, 0, 0x08, 3, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4};
    memcpy(buf, hdr, sizeof hdr);
    if (magic) memcpy(buf, magic, 4);
    for (int i = 0; i < 24; i++) buf[16 + i] = (uint8_t)i;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    gzFile f = gzopen(path, gz ? "wb" : "wbT");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(gzwrite(f, buf, (unsigned)(sizeof buf - cut)), (int)(sizeof buf - cut));
    gzclose(f);
    return path;
}

START_TEST(reads_gzip_and_raw) {
    for (int gz = 0; gz < 2; gz++) {
        lt_idx_t idx;
        ck_assert_int_eq(lt_idx_read(write_idx(gz ? "a.gz" : "a", gz, 0, NULL), &idx), LT_OK);
        ck_assert_int_eq(idx.type, 0x08);
        ck_assert_int_eq(idx.ndim, 3);
        ck_assert_int_eq(idx.dims[0], 2);
        ck_assert_int_eq(idx.dims[2], 4);
        ck_assert_int_eq(idx.count, 24);
        for (int i = 0; i < 24; i++) ck_assert_int_eq(idx.data[i], i);
        lt_idx_free(&idx);
        ck_assert_ptr_null(idx.data);
    }
}
END_TEST

/* Each damage gives `status` and a message naming the file and containing `why`. */
static void expect_failure(const char *path, lt_status status, const char *why) {
    lt_idx_t idx;
    lt_clear_error();
    ck_assert_int_eq(lt_idx_read(path, &idx), status);
    ck_assert_ptr_null(idx.data);
    ck_assert_msg(strstr(lt_last_error(), path) != NULL, "message lacks the path: %s", lt_last_error());
    ck_assert_msg(strstr(lt_last_error(), why) != NULL, "message lacks '%s': %s", why, lt_last_error());
}

START_TEST(damaged_files_are_named) {
    const uint8_t bad_magic[4] = {1, 2, 8, 3}, bad_type[4] = {0, 0, 0x0d, 3};
    expect_failure(write_idx("data.gz", true, 5, NULL), LT_ERR_FORMAT, "truncated IDX file: expected 24 data bytes, got 19");
    expect_failure(write_idx("hdr", false, 30, NULL), LT_ERR_FORMAT, "truncated");
    expect_failure(write_idx("magic.gz", true, 0, bad_magic), LT_ERR_FORMAT, "not an IDX file");
    expect_failure(write_idx("type.gz", true, 0, bad_type), LT_ERR_FORMAT, "0x0d is not supported");
    char missing[128];
    snprintf(missing, sizeof missing, "%s/missing.gz", dir);
    expect_failure(missing, LT_ERR_IO, "No such file");
    /* A gzip stream cut in the middle: zlib notices, we report, nothing crashes. */
    char path[128], cmd[400];
    snprintf(path, sizeof path, "%s/cut.gz", dir);
    snprintf(cmd, sizeof cmd, "head -c 2000 /dev/urandom | gzip -c | head -c 500 > %s", path);
    ck_assert_int_eq(system(cmd), 0);
    lt_idx_t idx;
    ck_assert_int_ne(lt_idx_read(path, &idx), LT_OK);
    ck_assert_ptr_nonnull(strstr(lt_last_error(), path));
}
END_TEST

/* A header alone, as a gzip file named `name`. */
static const char *write_header(const char *name, const uint8_t *hdr, size_t n) {
    static char path[128];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    gzFile f = gzopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(gzwrite(f, hdr, (unsigned)n), (int)n);
    gzclose(f);
    return path;
}

/* Sizes past 1 TiB are refused; a header claiming 1 TiB over a short file is "truncated"
 * (the buffer grows with the data, so nothing near 1 TiB is allocated). */
START_TEST(huge_sizes_are_refused) {
    const uint8_t over[12] = {0, 0, 0x08, 2, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    expect_failure(write_header("over.gz", over, sizeof over), LT_ERR_FORMAT, "implausibly large");
    const uint8_t tib[16] = {0, 0, 0x08, 3, 0, 0, 0x40, 0, 0, 0, 0x40, 0, 0, 0, 0x10, 0};
    expect_failure(write_header("tib.gz", tib, sizeof tib), LT_ERR_FORMAT,
                   "expected 1099511627776 data bytes, got 0");
}
END_TEST

/* A directory opens but cannot be read: an I/O error, not "corrupt data". */
START_TEST(directory_is_an_io_error) {
    expect_failure(dir, LT_ERR_IO, "Is a directory");
}
END_TEST

/* Every single-byte corruption of a small gzip file fails cleanly or reads 24 bytes. */
START_TEST(corrupt_bytes_never_crash) {
    char src[128], path[128];
    snprintf(src, sizeof src, "%s", write_idx("good.gz", true, 0, NULL));
    snprintf(path, sizeof path, "%s/flip.gz", dir);
    FILE *f = fopen(src, "rb");
    uint8_t buf[512];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    for (size_t i = 0; i < n; i++) {
        buf[i] ^= 0x5a;
        f = fopen(path, "wb");
        ck_assert_uint_eq(fwrite(buf, 1, n, f), n);
        fclose(f);
        buf[i] ^= 0x5a;
        lt_idx_t idx;
        lt_clear_error();
        lt_status st = lt_idx_read(path, &idx);
        if (st == LT_OK) {
            ck_assert_int_le(idx.count, 1 << 24);
            lt_idx_free(&idx);
        } else {
            ck_assert_ptr_null(idx.data);
            ck_assert_msg(strstr(lt_last_error(), path) != NULL, "byte %zu: %s", i, lt_last_error());
        }
    }
}
END_TEST

START_TEST(real_fashion_mnist_labels) {
    const char *path = "/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz";
    if (access(path, R_OK) != 0) {
        printf("skipped: %s not installed (apt-get install dataset-fashion-mnist)\n", path);
        return;
    }
    lt_idx_t idx;
    ck_assert_int_eq(lt_idx_read(path, &idx), LT_OK);
    ck_assert_int_eq(idx.ndim, 1);
    ck_assert_int_eq(idx.count, 10000);
    int per_class[10] = {0};
    for (int64_t i = 0; i < idx.count; i++) {
        ck_assert_uint_lt(idx.data[i], 10);
        per_class[idx.data[i]]++;
    }
    for (int c = 0; c < 10; c++) ck_assert_int_eq(per_class[c], 1000); /* the test set is balanced */
    lt_idx_free(&idx);
}
END_TEST

Suite *suite_idx(void) {
    Suite *s = suite_create("idx");
    TCase *tc = tcase_create("read");
    tcase_add_checked_fixture(tc, make_dir, remove_dir);
    tcase_add_test(tc, reads_gzip_and_raw);
    tcase_add_test(tc, damaged_files_are_named);
    tcase_add_test(tc, huge_sizes_are_refused);
    tcase_add_test(tc, directory_is_an_io_error);
    tcase_add_test(tc, corrupt_bytes_never_crash);
    tcase_add_test(tc, real_fashion_mnist_labels);
    suite_add_tcase(s, tc);
    return s;
}
