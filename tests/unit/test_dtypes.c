/* uint8 / half-precision data and several dataloaders (issue #21): the host conversions
 * (every float16 and bfloat16 bit pattern round-trips; float32 rounds to nearest even),
 * tensors of the storage dtypes (size, round trip, lt_item, lt_zeros), lt_to_f32 on the
 * cpu accelerator (x / 255 bit for bit as a float32 division) and its refusals, a
 * field of each dtype through the loader, and lt_data_add_loader's rules. */
#include <math.h>
#include <string.h>

#include <lt/runtime.h>

#include "test_util.h"

START_TEST(half_conversions_round_trip) {
    for (uint32_t h = 0; h < 65536; h++) {
        bool nan16 = ((h >> 10) & 0x1f) == 0x1f && (h & 0x3ff);
        float f = lt_f16_to_f32((uint16_t)h);
        if (nan16)
            ck_assert(isnan(f) && isnan(lt_f16_to_f32(lt_f32_to_f16(f))));
        else
            ck_assert_msg(lt_f32_to_f16(f) == h, "f16 %04x -> %g -> %04x", h, (double)f,
                          lt_f32_to_f16(f));
        bool nan_bf = ((h >> 7) & 0xff) == 0xff && (h & 0x7f);
        float g = lt_bf16_to_f32((uint16_t)h);
        if (nan_bf)
            ck_assert(isnan(g) && isnan(lt_bf16_to_f32(lt_f32_to_bf16(g))));
        else
            ck_assert_uint_eq(lt_f32_to_bf16(g), h);
    }
    /* rounding: to nearest, ties to even, overflow to inf at 65520 */
    ck_assert_uint_eq(lt_f32_to_f16(1.0f + 0x1p-11f), 0x3c00);     /* tie: down to even */
    ck_assert_uint_eq(lt_f32_to_f16(1.0f + 3 * 0x1p-11f), 0x3c02); /* tie: up to even */
    ck_assert_uint_eq(lt_f32_to_f16(65519.0f), 0x7bff);            /* 65504 */
    ck_assert_uint_eq(lt_f32_to_f16(65520.0f), 0x7c00);            /* inf */
    ck_assert_uint_eq(lt_f32_to_f16(-0x1p-25f), 0x8000);           /* tie to -0 */
    ck_assert_uint_eq(lt_f32_to_f16(0x1p-25f * 3), 0x0002);        /* tie: up to even */
    ck_assert_uint_eq(lt_f32_to_bf16(1.0f + 0x1p-8f), 0x3f80);     /* tie: even */
    ck_assert_uint_eq(lt_f32_to_bf16(1.0f + 3 * 0x1p-8f), 0x3f82);
}
END_TEST

START_TEST(storage_dtypes_round_trip) {
    const uint8_t px[5] = {0, 1, 127, 128, 255};
    int64_t shape[1] = {5};
    lt_tensor_t *t = lt_from_host(test_arena, LT_U8, 1, shape, px);
    ck_assert_msg(t != NULL, "%s", lt_last_error());
    ck_assert_int_eq(lt_dtype_of(t), LT_U8);
    ck_assert_str_eq(lt_dtype_name(LT_U8), "uint8");
    uint8_t back[5];
    ck_assert_int_eq(lt_to_host(t, back, sizeof back), LT_OK);
    ck_assert_mem_eq(back, px, sizeof px);
    ck_assert_int_eq(lt_to_host(t, back, 4), LT_ERR_INVALID_ARG); /* 5 bytes, not 4 */
    const uint16_t h[3] = {lt_f32_to_f16(1.5f), lt_f32_to_f16(-2.0f), lt_f32_to_f16(65504.0f)};
    int64_t three[1] = {3}, one[1] = {1};
    lt_tensor_t *f16 = lt_from_host(test_arena, LT_F16, 1, three, h);
    uint16_t hb[3];
    ck_assert_int_eq(lt_to_host(f16, hb, sizeof hb), LT_OK);
    ck_assert_mem_eq(hb, h, sizeof h);
    ck_assert(lt_item(lt_from_host(test_arena, LT_U8, 1, one, px + 4)) == 255.0);
    ck_assert(lt_item(lt_from_host(test_arena, LT_F16, 1, one, h)) == 1.5);
    const uint16_t b = lt_f32_to_bf16(-3.0f);
    ck_assert(lt_item(lt_from_host(test_arena, LT_BF16, 1, one, &b)) == -3.0);
    /* zeros of a byte dtype: every byte 0, the odd tail included */
    int64_t seven[1] = {7};
    uint8_t z[7];
    memset(z, 0xab, sizeof z);
    ck_assert_int_eq(lt_to_host(lt_zeros(test_arena, LT_U8, 1, seven), z, sizeof z), LT_OK);
    for (int i = 0; i < 7; i++) ck_assert_uint_eq(z[i], 0);
}
END_TEST

START_TEST(to_f32_divides_on_the_device) {
    uint8_t px[256];
    for (int i = 0; i < 256; i++) px[i] = (uint8_t)i;
    int64_t shape[2] = {16, 16};
    lt_tensor_t *y = lt_to_f32(lt_from_host(test_arena, LT_U8, 2, shape, px), 255.0f);
    ck_assert_msg(y != NULL, "%s", lt_last_error());
    ck_assert_int_eq(lt_dtype_of(y), LT_F32);
    ck_assert_int_eq(lt_dim(y, 1), 16);
    float *v = test_host(y);
    for (int i = 0; i < 256; i++) {
        volatile float want = (float)i / 255.0f; /* torch's x.float() / 255 */
        ck_assert_msg(v[i] == want, "%d / 255: %.9g, want %.9g", i, (double)v[i], (double)want);
    }
    free(v);
    uint16_t h[4] = {lt_f32_to_f16(0.5f), lt_f32_to_f16(-65504.0f), 0x0001, 0x8000};
    int64_t four[1] = {4};
    v = test_host(lt_to_f32(lt_from_host(test_arena, LT_F16, 1, four, h), 1.0f));
    ck_assert(v[0] == 0.5f && v[1] == -65504.0f && v[2] == 0x1p-24f && v[3] == 0.0f &&
              signbit(v[3]));
    free(v);
    int64_t ids[2] = {7, -3};
    int64_t two[1] = {2};
    v = test_host(lt_to_f32(lt_from_host(test_arena, LT_I64, 1, two, ids), 2.0f));
    ck_assert(v[0] == 3.5f && v[1] == -1.5f);
    free(v);
    /* refusals */
    lt_tensor_t *u = lt_from_host(test_arena, LT_U8, 2, shape, px);
    ck_assert_ptr_null(lt_to_f32(u, 0.0f));
    ck_assert_int_eq(lt_last_status(), LT_ERR_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(lt_last_error(), "divisor"));
    ck_assert_ptr_null(lt_to_f32(u, NAN));
    ck_assert_ptr_null(lt_to_f32(NULL, 1.0f));
    /* other ops want float32, and say so */
    ck_assert_ptr_null(lt_relu(u));
    ck_assert_int_eq(lt_last_status(), LT_ERR_DTYPE);
    ck_assert_ptr_nonnull(strstr(lt_last_error(), "uint8"));
}
END_TEST

/* Sample i: an uint8 image of 3 pixels (i, i + 1, i + 2) and a float16 value i / 2. */
static const lt_field_desc img_fields[] = {
    {.name = "image", .dtype = LT_U8, .ndim = 1, .shape = {3}},
    {.name = "half", .dtype = LT_F16, .ndim = 0},
};

static lt_status img_fill(void *user, lt_split split, const int64_t *idx, int64_t n,
                          void *const *bufs) {
    (void)user, (void)split;
    uint8_t *img = bufs[0];
    uint16_t *half = bufs[1];
    for (int64_t i = 0; i < n; i++) {
        for (int j = 0; j < 3; j++) img[3 * i + j] = (uint8_t)(idx[i] + j);
        half[i] = lt_f32_to_f16((float)idx[i] / 2);
    }
    return LT_OK;
}

START_TEST(uint8_and_half_fields_through_the_loader) {
    lt_dataset ds = {.struct_size = sizeof ds,
                     .length = 10,
                     .nfields = 2,
                     .fields = img_fields,
                     .fill_fields = img_fill};
    lt_loader_opts o = {.struct_size = sizeof o, .batch_size = 4, .num_workers = 2};
    lt_loader_t *l = NULL;
    ck_assert_msg(lt_loader_new(&ds, &o, 1, &l) == LT_OK, "%s", lt_last_error());
    ck_assert_int_eq(lt_loader_start(l, 0, -1), LT_OK);
    const lt_host_batch *hb = NULL;
    int64_t seen = 0;
    while (lt_loader_next(l, &hb) == LT_OK && hb) {
        const uint8_t *img = hb->bufs[0];
        const uint16_t *half = hb->bufs[1];
        ck_assert_int_eq(hb->fields[0].dtype, LT_U8);
        for (int64_t i = 0; i < hb->n; i++, seen++) {
            ck_assert_uint_eq(img[3 * i + 2], (uint8_t)(seen + 2));
            ck_assert(lt_f16_to_f32(half[i]) == (float)seen / 2);
        }
    }
    ck_assert_int_eq(seen, 10);
    lt_loader_free(l);
    lt_field_desc bad[1] = {{.name = "x", .dtype = (lt_dtype)LT_DTYPE_COUNT, .ndim = 0}};
    ds.nfields = 1, ds.fields = bad;
    ck_assert_int_eq(lt_loader_new(&ds, &o, 1, &l), LT_ERR_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(lt_last_error(), "LT_U8"));
}
END_TEST

static lt_status one_fill(void *user, const int64_t *idx, int64_t n, float *x, void *y) {
    (void)user;
    for (int64_t i = 0; i < n; i++) x[i] = (float)idx[i], ((int64_t *)y)[i] = 0;
    return LT_OK;
}

START_TEST(add_loader_rules) {
    lt_ctx_t *ctx = lt_ctx_new(NULL, "dm", NULL, 8, 1);
    lt_dataset ds = {.struct_size = sizeof ds, .length = 3, .y_dtype = LT_I64, .fill = one_fill};
    lt_loader_opts o = {.struct_size = sizeof o, .batch_size = 2};
    int idx = -1;
    ck_assert_int_eq(lt_data_add_loader(ctx, LT_SPLIT_VAL, &ds, &o, &idx), LT_ERR_STATE);
    ck_assert_ptr_nonnull(strstr(lt_last_error(), "lt_data_add_split first"));
    ck_assert_int_eq(lt_data_add_loader(ctx, LT_SPLIT_TRAIN, &ds, &o, &idx), LT_ERR_INVALID_ARG);
    ck_assert_int_eq(lt_data_add_split(ctx, LT_SPLIT_VAL, &ds, &o), LT_OK);
    for (int i = 1; i < LT_MAX_DATALOADERS; i++) {
        ds.length = 3 + i;
        ck_assert_int_eq(lt_data_add_loader(ctx, LT_SPLIT_VAL, &ds, &o, &idx), LT_OK);
        ck_assert_int_eq(idx, i);
    }
    ck_assert_int_eq(lt_data_add_loader(ctx, LT_SPLIT_VAL, &ds, &o, &idx), LT_ERR_INVALID_ARG);
    ck_assert_int_eq(lt_ctx_num_loaders(ctx, LT_SPLIT_VAL), LT_MAX_DATALOADERS);
    lt_dataset got;
    lt_loader_opts go;
    ck_assert_int_eq(lt_ctx_loader(ctx, LT_SPLIT_VAL, 2, &got, &go), LT_OK);
    ck_assert_int_eq(got.length, 5);
    ck_assert_int_eq(lt_ctx_loader(ctx, LT_SPLIT_VAL, LT_MAX_DATALOADERS, &got, &go), LT_ERR_STATE);
    /* a setup that runs again starts over at dataloader 0 */
    ds.length = 3;
    ck_assert_int_eq(lt_data_add_split(ctx, LT_SPLIT_VAL, &ds, &o), LT_OK);
    ck_assert_int_eq(lt_ctx_num_loaders(ctx, LT_SPLIT_VAL), 1);
    ck_assert_int_eq(lt_ctx_num_loaders(ctx, LT_SPLIT_TEST), 0);
    lt_ctx_free(ctx);
}
END_TEST

Suite *suite_dtypes(void) {
    Suite *s = suite_create("dtypes");
    TCase *tc = tcase_create("data");
    tcase_add_checked_fixture(tc, test_open, test_close);
    tcase_add_test(tc, half_conversions_round_trip);
    tcase_add_test(tc, storage_dtypes_round_trip);
    tcase_add_test(tc, to_f32_divides_on_the_device);
    tcase_add_test(tc, uint8_and_half_fields_through_the_loader);
    tcase_add_test(tc, add_loader_rules);
    suite_add_tcase(s, tc);
    return s;
}
