/* The IDX reader: gzip and raw files round-trip; damaged files fail with the path named. */
#include <string.h>
#include <sys/stat.h>
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

/* n bytes as the file dir/name, gzip-compressed (one member) or not; the path. */
static const char *write_bytes(const char *name, bool gz, const uint8_t *bytes, size_t n) {
    static char path[128];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    gzFile f = gzopen(path, gz ? "wb" : "wbT");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(gzwrite(f, bytes, (unsigned)n), (int)n);
    gzclose(f);
    return path;
}

/* A 3-D uint8 IDX file (2, 3, 4) holding 0..23 into buf (40 bytes). */
static size_t good_idx(uint8_t *buf) {
    const uint8_t hdr[16] = {0, 0, 0x08, 3, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4};
    memcpy(buf, hdr, sizeof hdr);
    for (int i = 0; i < 24; i++) buf[16 + i] = (uint8_t)i;
    return 40;
}

/* The good file with `cut` bytes dropped from the end, and another magic if given. */
static const char *write_idx(const char *name, bool gz, size_t cut, const uint8_t *magic) {
    uint8_t buf[40];
    size_t n = good_idx(buf);
    if (magic) memcpy(buf, magic, 4);
    return write_bytes(name, gz, buf, n - cut);
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
    ck_assert_msg(strstr(lt_last_error(), path) != NULL, "message lacks the path: %s",
                  lt_last_error());
    ck_assert_msg(strstr(lt_last_error(), why) != NULL, "message lacks '%s': %s", why,
                  lt_last_error());
}

START_TEST(damaged_files_are_named) {
    const uint8_t bad_magic[4] = {1, 2, 8, 3}, bad_type[4] = {0, 0, 0x0d, 3};
    expect_failure(write_idx("data.gz", true, 5, NULL), LT_ERR_FORMAT,
                   "truncated IDX file: expected 24 data bytes, got 19");
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
    return write_bytes(name, true, hdr, n);
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
    expect_failure(dir, LT_ERR_IO, "it is a directory, not a regular file");
}
END_TEST

/* A FIFO named like a data file would block open() (no writer) and read() forever; a
 * device would read without end or as zeros. Refused, without blocking. */
START_TEST(non_regular_files_are_refused) {
    char fifo[128], dev[128];
    snprintf(fifo, sizeof fifo, "%s/fifo-images-idx3-ubyte.gz", dir);
    ck_assert_int_eq(mkfifo(fifo, 0600), 0);
    expect_failure(fifo, LT_ERR_IO, "it is a FIFO (named pipe), not a regular file");
    snprintf(dev, sizeof dev, "%s/zero-images-idx3-ubyte.gz", dir);
    ck_assert_int_eq(symlink("/dev/zero", dev), 0);
    expect_failure(dev, LT_ERR_IO, "it is a character device, not a regular file");
}
END_TEST

/* Append n bytes to the file at path. */
static void append_bytes(const char *path, const void *bytes, size_t n) {
    FILE *f = fopen(path, "ab");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(bytes, 1, n, f), n);
    fclose(f);
}

/* The good file followed by `extra` bytes of data, raw or inside the one gzip member. */
static const char *write_long_idx(const char *name, bool gz, size_t extra) {
    uint8_t buf[40 + 64] = {0};
    size_t n = good_idx(buf);
    return write_bytes(name, gz, buf, n + extra);
}

/* Bytes past the declared data, raw or decompressed: refused, counted. */
START_TEST(bytes_past_the_data_are_refused) {
    expect_failure(write_long_idx("long", false, 1), LT_ERR_FORMAT,
                   "1 byte after the data the header declares; the file is not a valid IDX file");
    expect_failure(write_long_idx("long.gz", true, 7), LT_ERR_FORMAT,
                   "7 bytes after the data the header declares; the file is not a valid IDX file");
}
END_TEST

/* After the one gzip member: another member (even an empty one) or junk is refused. */
START_TEST(data_after_the_gzip_stream_is_refused) {
    uint8_t extra[5] = {1, 2, 3, 4, 5};
    char path[128];
    snprintf(path, sizeof path, "%s", write_idx("two.gz", true, 0, NULL));
    gzFile f = gzopen(path, "ab"); /* a second member holding 5 bytes */
    ck_assert_int_eq(gzwrite(f, extra, sizeof extra), (int)sizeof extra);
    gzclose(f);
    expect_failure(path, LT_ERR_FORMAT, "a second gzip member (");
    snprintf(path, sizeof path, "%s", write_idx("empty2.gz", true, 0, NULL));
    gzclose(gzopen(path, "ab")); /* a second, empty member */
    expect_failure(path, LT_ERR_FORMAT, "a second gzip member (20 bytes) follows the first");
    snprintf(path, sizeof path, "%s", write_idx("junk.gz", true, 0, NULL));
    append_bytes(path, "junk\n", 5);
    expect_failure(path, LT_ERR_FORMAT, "5 bytes of junk after the gzip stream");
    snprintf(path, sizeof path, "%s", write_idx("zeros.gz", true, 0, NULL));
    append_bytes(path, (uint8_t[1]){0}, 1);
    expect_failure(path, LT_ERR_FORMAT, "1 byte of junk after the gzip stream");
}
END_TEST

/* The IDX data whole, but the gzip trailer (CRC-32 and size) cut off: not checked, refused. */
START_TEST(missing_gzip_trailer_is_refused) {
    char path[128];
    snprintf(path, sizeof path, "%s", write_idx("notrailer.gz", true, 0, NULL));
    struct stat st;
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_int_eq(truncate(path, st.st_size - 8), 0);
    expect_failure(path, LT_ERR_FORMAT, "the gzip trailer is missing or cut");
}
END_TEST

/* An IDX file declaring 0 samples is a valid, empty file. */
START_TEST(empty_file_reads_as_zero_samples) {
    const uint8_t hdr[16] = {0, 0, 0x08, 3, 0, 0, 0, 0, 0, 0, 0, 28, 0, 0, 0, 28};
    for (int gz = 0; gz < 2; gz++) {
        lt_idx_t idx;
        ck_assert_int_eq(lt_idx_read(write_bytes(gz ? "e.gz" : "e", gz, hdr, sizeof hdr), &idx),
                         LT_OK);
        ck_assert_int_eq(idx.ndim, 3);
        ck_assert_int_eq(idx.dims[0], 0);
        ck_assert_int_eq(idx.count, 0);
        lt_idx_free(&idx);
    }
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
            ck_assert_msg(strstr(lt_last_error(), path) != NULL, "byte %zu: %s", i,
                          lt_last_error());
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
    for (int c = 0; c < 10; c++)
        ck_assert_int_eq(per_class[c], 1000); /* the test set is balanced */
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
    tcase_add_test(tc, non_regular_files_are_refused);
    tcase_add_test(tc, bytes_past_the_data_are_refused);
    tcase_add_test(tc, data_after_the_gzip_stream_is_refused);
    tcase_add_test(tc, missing_gzip_trailer_is_refused);
    tcase_add_test(tc, empty_file_reads_as_zero_samples);
    tcase_add_test(tc, corrupt_bytes_never_crash);
    tcase_add_test(tc, real_fashion_mnist_labels);
    suite_add_tcase(s, tc);
    return s;
}
