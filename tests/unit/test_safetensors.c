/* The safetensors reader: a file written by hand reads back; every kind of damage is
 * refused with the file named and nothing loaded. */
#include <string.h>
#include <unistd.h>

#include "test_util.h"

static char dir[64], path[128];

static void make_dir(void) {
    snprintf(dir, sizeof dir, "/tmp/lt_st_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/t.safetensors", dir);
}

static void remove_dir(void) {
    unlink(path);
    rmdir(dir);
}

/* header JSON, then `data` (n bytes); header_len overrides the length field if >= 0. */
static void write_file(const char *header, const void *data, size_t n, long long header_len) {
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    uint64_t len = header_len >= 0 ? (uint64_t)header_len : strlen(header);
    uint8_t le[8];
    for (int i = 0; i < 8; i++) le[i] = (uint8_t)(len >> (8 * i));
    fwrite(le, 1, 8, f);
    fwrite(header, 1, strlen(header), f);
    if (n) fwrite(data, 1, n, f);
    fclose(f);
}

static const char good_header[] =
    "{\"__metadata__\":{\"format\":\"pt\",\"epoch\":\"3\"},"
    "\"b\":{\"dtype\":\"I64\",\"shape\":[2],\"data_offsets\":[24,40]},"
    "\"a\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]}}";

static void write_good(void) {
    uint8_t data[40];
    float a[6] = {1, 2, 3, 4, 5, 6};
    int64_t b[2] = {-7, 9};
    memcpy(data, a, 24);
    memcpy(data + 24, b, 16);
    write_file(good_header, data, sizeof data, -1);
}

START_TEST(reads_tensors_and_metadata) {
    write_good();
    lt_st_file_t *f;
    ck_assert_int_eq(lt_st_open(path, &f), LT_OK);
    ck_assert_int_eq(lt_st_count(f), 2);
    ck_assert_str_eq(lt_st_at(f, 0)->name, "a"); /* file-data order */
    const lt_st_tensor *a = lt_st_find(f, "a"), *b = lt_st_find(f, "b");
    ck_assert_int_eq(a->dtype, LT_ST_F32);
    ck_assert_int_eq(a->ndim, 2);
    ck_assert_int_eq(a->shape[1], 3);
    ck_assert_int_eq(b->numel, 2);
    ck_assert_ptr_null(lt_st_find(f, "c"));
    ck_assert_str_eq(lt_st_meta(f, "epoch"), "3");
    ck_assert_ptr_null(lt_st_meta(f, "nothing"));
    lt_tensor_t *ta = lt_st_to_tensor(test_arena, a), *tb = lt_st_to_tensor(test_arena, b);
    ck_assert_double_eq(lt_item(lt_sum(ta)), 21.0);
    int64_t bv[2];
    ck_assert_int_eq(lt_to_host(tb, bv, sizeof bv), LT_OK);
    ck_assert_int_eq(bv[0], -7);
    lt_st_close(f);
}
END_TEST

static void expect_refused(const char *why) {
    lt_st_file_t *f = (lt_st_file_t *)1;
    lt_clear_error();
    ck_assert_int_ne(lt_st_open(path, &f), LT_OK);
    ck_assert_ptr_null(f);
    ck_assert_msg(strstr(lt_last_error(), path) != NULL, "no path in: %s", lt_last_error());
    ck_assert_msg(strstr(lt_last_error(), why) != NULL, "expected '%s' in: %s", why, lt_last_error());
}

START_TEST(damaged_files_are_refused) {
    uint8_t data[40] = {0};
    write_file(good_header, data, 30, -1); /* data cut short */
    expect_refused("outside the file");
    write_file(good_header, data, 40, 1 << 20); /* header length past the end */
    expect_refused("header length runs past the end");
    write_file("{\"a\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]", data, 40, -1);
    expect_refused("JSON header does not parse");
    write_file("{\"a\":{\"dtype\":\"Q7\",\"shape\":[1],\"data_offsets\":[0,1]}}", data, 40, -1);
    expect_refused("unsupported dtype");
    write_file("{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", data, 40, -1);
    expect_refused("does not match its dtype and shape");
    write_file("{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},"
               "\"b\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[8,24]}}", data, 40, -1);
    expect_refused("overlap");
    write_file("{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", data, 40, -1);
    expect_refused("invalid size");
    write_file("", NULL, 0, 3); /* 8 bytes of length, nothing else */
    expect_refused("header length");
    FILE *tiny = fopen(path, "wb");
    fwrite("abc", 1, 3, tiny);
    fclose(tiny);
    expect_refused("shorter than");
    unlink(path);
    expect_refused("cannot open");
}
END_TEST

Suite *suite_safetensors(void) {
    Suite *s = suite_create("safetensors");
    TCase *tc = tcase_create("read");
    tcase_add_checked_fixture(tc, test_open, test_close);
    tcase_add_checked_fixture(tc, make_dir, remove_dir);
    tcase_add_test(tc, reads_tensors_and_metadata);
    tcase_add_test(tc, damaged_files_are_refused);
    suite_add_tcase(s, tc);
    return s;
}
