/* safetensors: a file written by hand reads back; every kind of damage is refused with
 * the file named and nothing loaded; the writer's files read back (here and in Python),
 * carry a checksum that catches any changed byte, and replace their target atomically. */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include "test_util.h"

static char dir[64], path[128];

static void make_dir(void) {
    snprintf(dir, sizeof dir, "/tmp/lt_st_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/t.safetensors", dir);
}

/* Empty dir (files and the empty folders some tests make), then remove it. */
static void remove_dir(void) {
    DIR *d = opendir(dir);
    for (struct dirent *e; d && (e = readdir(d));) {
        char p[400];
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        if (e->d_name[0] != '.' || (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")))
            if (unlink(p) != 0) rmdir(p);
    }
    if (d) closedir(d);
    ck_assert_int_eq(rmdir(dir), 0);
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
    ck_assert_msg(strstr(lt_last_error(), why) != NULL, "expected '%s' in: %s", why,
                  lt_last_error());
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
               "\"b\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[8,24]}}",
               data, 40, -1);
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

/* Python puts an empty tensor at the offset where the next one starts; in either header
 * order that is not an overlap. */
START_TEST(empty_tensor_beside_another_is_not_an_overlap) {
    uint8_t data[16] = {0};
    write_file("{\"b\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},"
               "\"e\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]}}",
               data, 16, -1);
    lt_st_file_t *f;
    ck_assert_msg(lt_st_open(path, &f) == LT_OK, "%s", lt_last_error());
    ck_assert_str_eq(lt_st_at(f, 0)->name, "e");
    lt_st_close(f);
}
END_TEST

START_TEST(checksum_field_is_checked) {
    uint8_t data[4] = {0};
    write_file("{\"__metadata__\":{\"checksum\":\"xxh64:0123456789ABCDEF\"},"
               "\"a\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4]}}",
               data, 4, -1);
    expect_refused("not xxh64:<16 lowercase hex digits>");
    write_file("{\"__metadata__\":{\"checksum\":\"xxh64:0123456789abcdef\"},"
               "\"a\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4]}}",
               data, 4, -1);
    expect_refused("checksum mismatch (stored xxh64:0123456789abcdef, computed xxh64:");
}
END_TEST

/* Tensor names from the file are quoted with control characters escaped: the message
 * stays one line (tests/fuzz/fuzz_safetensors checks it). */
START_TEST(control_characters_in_messages_are_escaped) {
    uint8_t data[8] = {0};
    write_file("{\"a\\nlthost: error: forged\":{\"dtype\":\"Q7\",\"shape\":[1],"
               "\"data_offsets\":[0,4]}}",
               data, 8, -1);
    expect_refused("tensor 'a\\nlthost: error: forged' has a missing or unsupported dtype");
    write_file("{\"w\\t\\u0001\":{\"dtype\":\"F64\",\"shape\":[1],\"data_offsets\":[0,8]}}", data,
               8, -1);
    lt_st_file_t *f;
    ck_assert_msg(lt_st_open(path, &f) == LT_OK, "%s", lt_last_error());
    ck_assert_ptr_null(lt_st_to_tensor(test_arena, lt_st_at(f, 0)));
    ck_assert_str_eq(lt_last_error(),
                     "tensor 'w\\t\\x01' is F64; only F32 and I64 become lt tensors");
    lt_st_close(f);
}
END_TEST

/* ---- writing ------------------------------------------------------------------------ */

static const float wa[6] = {1.5f, -2, 3, 4, 5, 6e-8f};
static const int64_t wb[2] = {-7, INT64_MAX};
static const float wscalar = 0.25f;

/* a [2,3] F32, b [2] I64, s [] F32 and two metadata strings. */
static lt_st_writer_t *sample_writer(void) {
    lt_st_writer_t *w = lt_st_writer_new();
    ck_assert_ptr_nonnull(w);
    ck_assert_int_eq(lt_st_writer_add(w, "a", LT_ST_F32, 2, (int64_t[]){2, 3}, wa, sizeof wa),
                     LT_OK);
    ck_assert_int_eq(lt_st_writer_add(w, "b", LT_ST_I64, 1, (int64_t[]){2}, wb, sizeof wb), LT_OK);
    ck_assert_int_eq(lt_st_writer_add(w, "s", LT_ST_F32, 0, NULL, &wscalar, 4), LT_OK);
    ck_assert_int_eq(lt_st_writer_meta(w, "epoch", "2"), LT_OK);
    ck_assert_int_eq(lt_st_writer_meta(w, "note", "{\"json\": \"inside\"}"), LT_OK);
    ck_assert_int_eq(lt_st_writer_meta(w, "epoch", "3"), LT_OK); /* last value wins */
    return w;
}

static void save_sample(const char *to) {
    lt_st_writer_t *w = sample_writer();
    ck_assert_msg(lt_st_writer_save(w, to) == LT_OK, "%s", lt_last_error());
    lt_st_writer_free(w);
}

static uint8_t *read_all(const char *p, size_t *n) {
    FILE *f = fopen(p, "rb");
    ck_assert_ptr_nonnull(f);
    fseek(f, 0, SEEK_END);
    *n = (size_t)ftell(f);
    rewind(f);
    uint8_t *b = malloc(*n + 1);
    ck_assert_uint_eq(fread(b, 1, *n, f), *n);
    fclose(f);
    return b;
}

static void write_all(const char *p, const uint8_t *b, size_t n) {
    FILE *f = fopen(p, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(b, 1, n, f), n);
    fclose(f);
}

/* Names in dir other than keep (NULL: all): temp files left behind show up here. */
static int others_in_dir(const char *keep) {
    int n = 0;
    DIR *d = opendir(dir);
    for (struct dirent *e; (e = readdir(d));)
        n +=
            strcmp(e->d_name, ".") && strcmp(e->d_name, "..") && (!keep || strcmp(e->d_name, keep));
    closedir(d);
    return n;
}

START_TEST(writer_round_trip) {
    save_sample(path);
    lt_st_file_t *f;
    ck_assert_msg(lt_st_open(path, &f) == LT_OK, "%s", lt_last_error());
    ck_assert_int_eq(lt_st_count(f), 3);
    const char *order[] = {"a", "b", "s"};
    for (int i = 0; i < 3; i++) ck_assert_str_eq(lt_st_at(f, i)->name, order[i]);
    const lt_st_tensor *a = lt_st_find(f, "a"), *b = lt_st_find(f, "b"), *sc = lt_st_find(f, "s");
    ck_assert_int_eq(a->dtype, LT_ST_F32);
    ck_assert_int_eq(a->ndim, 2);
    ck_assert_int_eq(a->shape[0], 2);
    ck_assert_int_eq(a->shape[1], 3);
    ck_assert_mem_eq(a->data, wa, sizeof wa);
    ck_assert_int_eq(b->dtype, LT_ST_I64);
    ck_assert_mem_eq(b->data, wb, sizeof wb);
    ck_assert_int_eq(sc->ndim, 0);
    ck_assert_int_eq(sc->numel, 1);
    ck_assert_mem_eq(sc->data, &wscalar, 4);
    ck_assert_str_eq(lt_st_meta(f, "epoch"), "3");
    ck_assert_str_eq(lt_st_meta(f, "note"), "{\"json\": \"inside\"}");
    ck_assert_uint_eq(strlen(lt_st_meta(f, "checksum")), 22);
    ck_assert_int_eq(strncmp(lt_st_meta(f, "checksum"), "xxh64:", 6), 0);
    lt_st_close(f);
}
END_TEST

/* Names of every length mod 8, so each amount of padding (0..7 spaces) is written. */
START_TEST(writer_aligns_data_and_pads_with_spaces) {
    for (int len = 1; len <= 8; len++) {
        char name[16] = "tttttttt";
        name[len] = '\0';
        lt_st_writer_t *w = lt_st_writer_new();
        ck_assert_int_eq(lt_st_writer_add(w, name, LT_ST_U8, 1, (int64_t[]){3}, "xyz", 3), LT_OK);
        ck_assert_int_eq(lt_st_writer_save(w, path), LT_OK);
        lt_st_writer_free(w);
        size_t n;
        uint8_t *b = read_all(path, &n);
        uint64_t hl = 0;
        for (int i = 7; i >= 0; i--) hl = hl << 8 | b[i];
        ck_assert_uint_eq((8 + hl) % 8, 0);
        ck_assert_uint_eq(n, 8 + hl + 3);
        ck_assert_mem_eq(b + 8 + hl, "xyz", 3);
        size_t end = 8 + hl;
        while (b[end - 1] == ' ') end--;
        ck_assert_int_eq(b[end - 1], '}');
        ck_assert_uint_le(8 + hl - end, 7);
        free(b);
    }
}
END_TEST

/* The checksum is XXH64 of the file with its 16 digits as '0': recompute it here. */
START_TEST(writer_checksum_matches_definition) {
    save_sample(path);
    size_t n;
    uint8_t *b = read_all(path, &n);
    b[n] = '\0';
    char *at = memmem(b, n, "\"xxh64:", 7);
    ck_assert_ptr_nonnull(at);
    char stored[17];
    memcpy(stored, at + 7, 16);
    stored[16] = '\0';
    memset(at + 7, '0', 16);
    char want[17];
    snprintf(want, sizeof want, "%016llx", (unsigned long long)XXH64(b, n, 0));
    ck_assert_str_eq(stored, want);
    free(b);
}
END_TEST

/* The byte positions to corrupt: all of the 8-byte header length and of the last 16
 * bytes (the end of the data), and `sampled` more drawn with a fixed seed (xorshift64),
 * so that the test does a bounded amount of work whatever the file's size: every byte
 * of a file made a loaded 2-core CI machine's ASan run exceed Check's timeout. */
static size_t corrupt_positions(size_t n, size_t *pos, size_t cap) {
    size_t k = 0;
    for (size_t i = 0; i < n && i < 8; i++) pos[k++] = i;
    for (size_t i = n > 24 ? n - 16 : 8; i < n; i++) pos[k++] = i;
    uint64_t x = 0x9E3779B97F4A7C15u;
    while (k < cap && n > 24) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        pos[k++] = 8 + (size_t)(x % (n - 24)); /* the JSON header and the data */
    }
    return k;
}

/* Every bit, and the inverted byte, at a bounded set of positions: each changed file is
 * refused with a message (checksum or parse error), never loaded, never a crash. */
START_TEST(writer_any_changed_byte_is_refused) {
    save_sample(path);
    size_t n;
    uint8_t *b = read_all(path, &n);
    static const uint8_t masks[] = {1, 2, 4, 8, 16, 32, 64, 128, 255};
    enum { SAMPLED = 48, MAX_POSITIONS = 8 + 16 + SAMPLED };
    size_t pos[MAX_POSITIONS];
    size_t npos = corrupt_positions(n, pos, MAX_POSITIONS);
    ck_assert_uint_ge(npos, 24);
    for (size_t p = 0; p < npos; p++) {
        size_t i = pos[p];
        for (size_t m = 0; m < sizeof masks; m++) {
            b[i] ^= masks[m];
            write_all(path, b, n);
            lt_st_file_t *f = (lt_st_file_t *)1;
            lt_status s = lt_st_open(path, &f);
            ck_assert_msg(s == LT_ERR_FORMAT && !f, "byte %zu ^ 0x%02x was accepted (%d)", i,
                          masks[m], (int)s);
            ck_assert_ptr_nonnull(strstr(lt_last_error(), path));
            b[i] ^= masks[m];
        }
    }
    write_all(path, b, n);
    lt_st_file_t *f;
    ck_assert_int_eq(lt_st_open(path, &f), LT_OK); /* the untouched bytes still load */
    lt_st_close(f);
    free(b);
}
END_TEST

START_TEST(writer_truncated_files_are_refused) {
    save_sample(path);
    size_t n;
    uint8_t *b = read_all(path, &n);
    uint64_t hl = 0;
    for (int i = 7; i >= 0; i--) hl = hl << 8 | b[i];
    size_t cuts[] = {0, 1, 7, 8, 9, 20, 8 + hl - 1, 8 + hl, 8 + hl + 1, 8 + hl + 24, n - 1};
    for (size_t c = 0; c < sizeof cuts / sizeof *cuts; c++) {
        write_all(path, b, cuts[c]);
        lt_st_file_t *f = (lt_st_file_t *)1;
        ck_assert_msg(lt_st_open(path, &f) == LT_ERR_FORMAT, "cut at %zu: %s", cuts[c],
                      lt_last_error());
        ck_assert_ptr_null(f);
        ck_assert_ptr_nonnull(strstr(lt_last_error(), path));
    }
    free(b);
}
END_TEST

START_TEST(writer_refuses_bad_tensors) {
    lt_st_writer_t *w = lt_st_writer_new();
    float x[4] = {0};
    ck_assert_int_eq(lt_st_writer_add(w, "x", LT_ST_F32, 1, (int64_t[]){4}, x, 16), LT_OK);
    ck_assert_int_eq(lt_st_writer_add(w, "x", LT_ST_F32, 1, (int64_t[]){4}, x, 16),
                     LT_ERR_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(lt_last_error(), "already added"));
    ck_assert_int_eq(lt_st_writer_add(w, "y", LT_ST_F32, 1, (int64_t[]){4}, x, 12), LT_ERR_SHAPE);
    ck_assert_int_eq(lt_st_writer_add(w, "y", LT_ST_I64, 1, (int64_t[]){4}, x, 16), LT_ERR_SHAPE);
    ck_assert_int_eq(lt_st_writer_add(w, "y", LT_ST_F32, 1, (int64_t[]){-1}, x, 0),
                     LT_ERR_INVALID_ARG);
    ck_assert_int_eq(lt_st_writer_add(w, "y", LT_ST_F32, 9, (int64_t[9]){0}, x, 0),
                     LT_ERR_INVALID_ARG);
    ck_assert_int_eq(lt_st_writer_add(w, "y", LT_ST_DTYPE_COUNT, 1, (int64_t[]){1}, x, 4),
                     LT_ERR_DTYPE);
    ck_assert_int_eq(lt_st_writer_add(w, "__metadata__", LT_ST_F32, 0, NULL, x, 4),
                     LT_ERR_INVALID_ARG);
    ck_assert_int_eq(lt_st_writer_add(w, "\xff", LT_ST_F32, 0, NULL, x, 4), LT_ERR_INVALID_ARG);
    ck_assert_int_eq(lt_st_writer_add(w, NULL, LT_ST_F32, 0, NULL, x, 4), LT_ERR_INVALID_ARG);
    ck_assert_int_eq(lt_st_writer_add(NULL, "z", LT_ST_F32, 0, NULL, x, 4), LT_ERR_INVALID_ARG);
    ck_assert_int_eq(lt_st_writer_meta(w, "checksum", "x"), LT_ERR_INVALID_ARG);
    ck_assert_int_eq(lt_st_writer_meta(w, "k", NULL), LT_ERR_INVALID_ARG);
    ck_assert_int_eq(lt_st_writer_save(w, NULL), LT_ERR_INVALID_ARG);
    ck_assert_int_eq(lt_st_writer_add(w, "empty", LT_ST_F32, 2, (int64_t[]){0, 5}, NULL, 0), LT_OK);
    ck_assert_int_eq(lt_st_writer_save(w, path), LT_OK); /* the refusals left no trace */
    lt_st_writer_free(w);
    lt_st_writer_free(NULL);
    lt_st_file_t *f;
    ck_assert_int_eq(lt_st_open(path, &f), LT_OK);
    ck_assert_int_eq(lt_st_count(f), 2);
    ck_assert_int_eq(lt_st_find(f, "empty")->numel, 0);
    lt_st_close(f);
}
END_TEST

START_TEST(writer_missing_dir_creates_nothing) {
    char missing[200];
    snprintf(missing, sizeof missing, "%s/nope/last.ckpt", dir);
    lt_st_writer_t *w = sample_writer();
    lt_clear_error();
    ck_assert_int_eq(lt_st_writer_save(w, missing), LT_ERR_IO);
    lt_st_writer_free(w);
    ck_assert_ptr_nonnull(strstr(lt_last_error(), missing));
    ck_assert_ptr_nonnull(strstr(lt_last_error(), strerror(ENOENT)));
    ck_assert_int_eq(others_in_dir(NULL), 0);
}
END_TEST

START_TEST(writer_replaces_existing_file) {
    write_all(path, (const uint8_t *)"old", 3);
    save_sample(path);
    lt_st_file_t *f;
    ck_assert_int_eq(lt_st_open(path, &f), LT_OK);
    ck_assert_int_eq(lt_st_count(f), 3);
    lt_st_close(f);
    ck_assert_int_eq(others_in_dir("t.safetensors"), 0);
    /* A stale temp file of our pid (a crashed run's, pids repeat) does not block saving. */
    char stale[200];
    snprintf(stale, sizeof stale, "%s/.t.safetensors.tmp.%ld", dir, (long)getpid());
    write_all(stale, (const uint8_t *)"stale", 5);
    save_sample(path);
    ck_assert_int_eq(others_in_dir("t.safetensors"), 0);
}
END_TEST

/* The rename fails (path is a folder): the folder stays, no temp file is left. */
START_TEST(writer_failed_rename_keeps_target) {
    ck_assert_int_eq(mkdir(path, 0755), 0);
    lt_st_writer_t *w = sample_writer();
    ck_assert_int_eq(lt_st_writer_save(w, path), LT_ERR_IO);
    lt_st_writer_free(w);
    ck_assert_ptr_nonnull(strstr(lt_last_error(), "the previous file is unchanged"));
    struct stat st;
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert(S_ISDIR(st.st_mode));
    ck_assert_int_eq(others_in_dir("t.safetensors"), 0);
    rmdir(path);
}
END_TEST

/* A file size limit with SIGXFSZ ignored (as lthost runs): write() fails with EFBIG,
 * the save reports it, and the previous checkpoint is intact. */
START_TEST(writer_file_size_limit_keeps_previous) {
    save_sample(path);
    size_t n;
    uint8_t *before = read_all(path, &n);
    struct rlimit old;
    ck_assert_int_eq(getrlimit(RLIMIT_FSIZE, &old), 0);
    void (*old_handler)(int) = signal(SIGXFSZ, SIG_IGN);
    struct rlimit small = {.rlim_cur = 256, .rlim_max = old.rlim_max};
    ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &small), 0);
    static float big[1024];
    lt_st_writer_t *w = lt_st_writer_new();
    ck_assert_int_eq(lt_st_writer_add(w, "big", LT_ST_F32, 1, (int64_t[]){1024}, big, sizeof big),
                     LT_OK);
    lt_status s = lt_st_writer_save(w, path);
    setrlimit(RLIMIT_FSIZE, &old);
    signal(SIGXFSZ, old_handler);
    lt_st_writer_free(w);
    ck_assert_int_eq(s, LT_ERR_IO);
    ck_assert_ptr_nonnull(strstr(lt_last_error(), strerror(EFBIG)));
    ck_assert_ptr_nonnull(strstr(lt_last_error(), "ulimit -f"));
    size_t m;
    uint8_t *after = read_all(path, &m);
    ck_assert_uint_eq(m, n);
    ck_assert_mem_eq(after, before, n);
    ck_assert_int_eq(others_in_dir("t.safetensors"), 0);
    free(before);
    free(after);
}
END_TEST

Suite *suite_safetensors(void) {
    Suite *s = suite_create("safetensors");
    TCase *tc = tcase_create("read");
    tcase_add_checked_fixture(tc, test_open, test_close);
    tcase_add_checked_fixture(tc, make_dir, remove_dir);
    tcase_add_test(tc, reads_tensors_and_metadata);
    tcase_add_test(tc, damaged_files_are_refused);
    tcase_add_test(tc, empty_tensor_beside_another_is_not_an_overlap);
    tcase_add_test(tc, checksum_field_is_checked);
    tcase_add_test(tc, control_characters_in_messages_are_escaped);
    suite_add_tcase(s, tc);
    TCase *wc = tcase_create("write");
    tcase_add_checked_fixture(wc, make_dir, remove_dir);
    tcase_add_test(wc, writer_round_trip);
    tcase_add_test(wc, writer_aligns_data_and_pads_with_spaces);
    tcase_add_test(wc, writer_checksum_matches_definition);
    tcase_add_test(wc, writer_any_changed_byte_is_refused);
    tcase_add_test(wc, writer_truncated_files_are_refused);
    tcase_add_test(wc, writer_refuses_bad_tensors);
    tcase_add_test(wc, writer_missing_dir_creates_nothing);
    tcase_add_test(wc, writer_replaces_existing_file);
    tcase_add_test(wc, writer_failed_rename_keeps_target);
    tcase_add_test(wc, writer_file_size_limit_keeps_previous);
    suite_add_tcase(s, wc);
    return s;
}
