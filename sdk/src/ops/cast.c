/* uint8 and half-precision data (issue #21): lt_to_f32 makes float32 of a batch's uint8
 * images or float16 / bfloat16 features on their device, and the host conversions of one
 * value that data plugins and tests use. */
#include <math.h>
#include <string.h>

#include "lt_impl.h"

/* ---- host conversions ---------------------------------------------------------------- */

float lt_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, exp = (h >> 10) & 0x1fu, man = h & 0x3ffu;
    uint32_t bits;
    if (exp == 0x1f) { /* inf, NaN */
        bits = sign | 0x7f800000u | (man << 13);
    } else if (exp != 0) { /* normal: rebias 15 -> 127 */
        bits = sign | ((exp + 112u) << 23) | (man << 13);
    } else if (man == 0) {
        bits = sign;
    } else { /* subnormal: man * 2^-24, exact in float32 */
        float v = (float)man * 0x1p-24f;
        return sign ? -v : v;
    }
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

float lt_bf16_to_f32(uint16_t h) {
    uint32_t bits = (uint32_t)h << 16;
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

uint16_t lt_f32_to_bf16(float f) {
    uint32_t bits;
    memcpy(&bits, &f, sizeof bits);
    if (isnan(f)) return (uint16_t)((bits >> 16) | 0x40u); /* stays a (quiet) NaN */
    bits += 0x7fffu + ((bits >> 16) & 1u);                 /* to nearest, ties to even */
    return (uint16_t)(bits >> 16);
}

uint16_t lt_f32_to_f16(float f) {
    uint32_t bits;
    memcpy(&bits, &f, sizeof bits);
    uint16_t sign = (uint16_t)((bits >> 16) & 0x8000u);
    float a = fabsf(f);
    if (isnan(f)) return sign | 0x7e00u;
    if (a >= 65520.0f) return sign | 0x7c00u; /* rounds past the largest half: inf */
    if (a < 0x1p-14f) {                       /* subnormal half: a multiple of 2^-24 */
        float q = a * 0x1p24f;                /* exact scaling */
        return sign | (uint16_t)lrintf(q);    /* lrintf: to nearest even (default mode) */
    }
    uint32_t abits = bits & 0x7fffffffu;
    uint32_t man = abits & 0x7fffffu, exp = (abits >> 23) - 112u; /* rebias 127 -> 15 */
    uint32_t h = (exp << 10) | (man >> 13), rest = man & 0x1fffu;
    if (rest > 0x1000u || (rest == 0x1000u && (h & 1u))) h++; /* a carry may reach inf: right */
    return sign | (uint16_t)h;
}

/* ---- lt_to_f32 ------------------------------------------------------------------------ */

lt_tensor_t *lt_to_f32(lt_tensor_t *x, float divisor) {
    if (!x || !lt__check_live(x, "lt_to_f32")) return NULL;
    lt_dtype dt = x->dtype;
    if (dt != LT_U8 && dt != LT_F16 && dt != LT_BF16 && dt != LT_I64 && dt != LT_F32) {
        lt_set_error(LT_ERR_DTYPE, "lt_to_f32: a tensor of dtype %s cannot be converted",
                     lt_dtype_name(dt));
        return NULL;
    }
    if (!(divisor != 0.0f) || !isfinite(divisor)) {
        lt_set_error(LT_ERR_INVALID_ARG,
                     "lt_to_f32: divisor %g; it must be finite and non-zero (1: a plain "
                     "conversion, 255: uint8 pixels to [0, 1])",
                     (double)divisor);
        return NULL;
    }
    lt_device_t *dev = lt__dev(x);
    if (!LT_NEED_SLOT(dev, cast_f32, "lt_to_f32")) return NULL;
    lt_tensor_t *y = lt__tensor_new(x->arena, LT_F32, x->ndim, x->shape);
    if (!y) return NULL;
    double bytes = (double)x->numel * (double)(lt__dtype_size(dt) + 4);
    LT_KCALL(dev, "cast_f32", (double)x->numel, bytes, cast_f32, x->numel, (int)dt, lt__data(x),
             divisor, lt__f32(y));
    lt_node *n = lt__record_export_only(y, "to_f32", x); /* ONNX Cast, Div */
    if (n) n->s = divisor;
    return y;
}
