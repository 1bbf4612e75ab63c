/* ops_cast.c — the cast_f32 slot (uint8 / half data, issue #21): every uint8 value, every
 * finite float16 and a spread of bfloat16 bit patterns, and int64 and float32, each
 * divided by 1, 255 and 3, on both accelerators and against a host reference (exact:
 * a widening and one true float32 division). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops_check.h"

/* The host reference of element i of src (esz bytes each) as float32. */
static float host_value(int dtype, const void *src, int64_t i) {
    switch (dtype) {
    case LT_U8: return (float)((const uint8_t *)src)[i];
    case LT_F16: return lt_f16_to_f32(((const uint16_t *)src)[i]);
    case LT_BF16: return lt_bf16_to_f32(((const uint16_t *)src)[i]);
    case LT_I64: return (float)((const int64_t *)src)[i];
    default: return ((const float *)src)[i];
    }
}

/* n source values of dtype: patterns that cover the format (no NaN: compared with ==). */
static void fill_source(check_ctx *c, int dtype, buf *s) {
    for (int64_t i = 0; i < s->n; i++) {
        switch (dtype) {
        case LT_U8: ((uint8_t *)s->h)[i] = (uint8_t)i; break;
        case LT_F16: /* every pattern but inf / NaN (exponent all ones) */
            ((uint16_t *)s->h)[i] = ((i >> 10) & 0x1f) == 0x1f ? 0x3c00 : (uint16_t)i;
            break;
        case LT_BF16: {
            uint16_t h = (uint16_t)rnd_int(c, 65536);
            ((uint16_t *)s->h)[i] = (h & 0x7f80) == 0x7f80 ? 0x3f80 : h;
            break;
        }
        case LT_I64:
            ((int64_t *)s->h)[i] = rnd_int(c, (int64_t)1 << 41) - ((int64_t)1 << 40);
            break;
        default: ((float *)s->h)[i] = rnd_uniform(c, -1e6f, 1e6f);
        }
    }
    buf_sync_in(c, s);
}

static void check_cast_one(check_ctx *c, int dtype, int64_t n, size_t esz, float divisor) {
    buf src = buf_out(c, n, esz), out = buf_out(c, n, sizeof(float));
    fill_source(c, dtype, &src);
    ON_BOTH(c, cast_f32, n, dtype, D(src), divisor, D(out));
    char name[96];
    snprintf(name, sizeof name, "cast_f32 %s / %g, n=%lld", lt_dtype_name((lt_dtype)dtype),
             (double)divisor, (long long)n);
    buf_check(c, name, &out, TOL_EXACT);
    float *got = buf_download(c, &out, DUT);
    int64_t bad = -1;
    for (int64_t i = 0; i < n && bad < 0; i++)
        if (got[i] != host_value(dtype, src.h, i) / divisor) bad = i;
    report(c, bad < 0, "%s against the host's division (first wrong: %lld)", name, (long long)bad);
    free(got);
    buf_free(c, &src);
    buf_free(c, &out);
}

void check_cast(check_ctx *c) {
    if (!c->acc[DUT].k->cast_f32 || !c->acc[REF].k->cast_f32) {
        printf("skip: cast_f32: %s leaves it NULL\n", c->dut_name);
        return;
    }
    static const float divisors[] = {1.0f, 255.0f, 3.0f};
    for (int d = 0; d < 3; d++) {
        check_cast_one(c, LT_U8, 256 * 17 + 3, 1, divisors[d]); /* every value, odd tail */
        check_cast_one(c, LT_F16, 65536, 2, divisors[d]);
        check_cast_one(c, LT_BF16, 4099, 2, divisors[d]);
        check_cast_one(c, LT_I64, 1000, 8, divisors[d]);
        check_cast_one(c, LT_F32, 1000, 4, divisors[d]);
    }
    check_cast_one(c, LT_U8, (int64_t)65535 * 256 + 7, 1, 255.0f); /* many blocks */
}
