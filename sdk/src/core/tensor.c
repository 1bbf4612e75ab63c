/* Tensors: creation, metadata, host transfers. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lt_impl.h"

size_t lt__dtype_size(lt_dtype dt) {
    switch (dt) {
    case LT_I64: return 8;
    case LT_U8: return 1;
    case LT_F16:
    case LT_BF16: return 2;
    default: return 4;
    }
}

const char *lt_dtype_name(lt_dtype dt) {
    switch (dt) {
    case LT_F32: return "float32";
    case LT_I64: return "int64";
    case LT_U8: return "uint8";
    case LT_F16: return "float16";
    case LT_BF16: return "bfloat16";
    default: return "unknown";
    }
}

static bool check_shape(int ndim, const int64_t *shape, int64_t *numel) {
    if (ndim < 0 || ndim > LT_MAX_DIMS) {
        lt_set_error(LT_ERR_SHAPE, "a tensor has %d dimensions; at most %d are supported", ndim,
                     LT_MAX_DIMS);
        return false;
    }
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0 || (shape[i] > 0 && n > INT64_MAX / 8 / shape[i])) {
            lt_set_error(LT_ERR_SHAPE, "invalid size %lld in dimension %d of a tensor",
                         (long long)shape[i], i);
            return false;
        }
        n *= shape[i];
    }
    *numel = n;
    return true;
}

static void set_meta(lt_tensor_t *t, lt_arena_t *a, lt_dtype dt, int ndim, const int64_t *shape,
                     int64_t numel) {
    t->dtype = dt;
    t->ndim = ndim;
    for (int i = 0; i < ndim; i++) t->shape[i] = shape[i];
    t->numel = numel;
    t->arena = a;
}

lt_tensor_t *lt__tensor_new(lt_arena_t *a, lt_dtype dt, int ndim, const int64_t *shape) {
    int64_t numel;
    if (!a || !check_shape(ndim, shape, &numel)) return NULL;
    lt_storage *st = lt__storage_new(a->dev, lt__storage_bytes(dt, numel));
    if (!st) return NULL;
    lt_tensor_t *t = lt__slab_push(&a->tensors);
    if (!t) {
        lt__storage_release(st);
        lt_set_error(LT_ERR_OOM, "out of host memory for a tensor");
        return NULL;
    }
    set_meta(t, a, dt, ndim, shape, numel);
    t->st = st;
    return t;
}

lt_tensor_t *lt__tensor_view_persistent(lt_arena_t *arena, lt_storage *st, size_t offset, int ndim,
                                        const int64_t *shape) {
    int64_t numel;
    if (!check_shape(ndim, shape, &numel)) return NULL;
    lt_tensor_t *t = calloc(1, sizeof *t);
    if (!t) {
        lt_set_error(LT_ERR_OOM, "out of host memory for a tensor");
        return NULL;
    }
    set_meta(t, arena, LT_F32, ndim, shape, numel);
    t->st = st;
    t->offset = offset;
    t->persistent = true;
    lt__storage_retain(st);
    return t;
}

lt_tensor_t *lt__tensor_new_persistent(lt_arena_t *arena, lt_dtype dt, int ndim,
                                       const int64_t *shape) {
    int64_t numel;
    if (!check_shape(ndim, shape, &numel)) return NULL;
    lt_storage *st = lt__storage_new(arena->dev, lt__storage_bytes(dt, numel));
    if (!st) return NULL;
    lt_tensor_t *t = lt__tensor_view_persistent(arena, st, 0, ndim, shape);
    lt__storage_release(st); /* the view holds the only reference */
    if (t) t->dtype = dt;
    return t;
}

void lt__tensor_free(lt_tensor_t *t) {
    if (!t || !t->persistent) return;
    if (t->grad && t->grad->persistent) lt__tensor_free(t->grad);
    lt__storage_release(t->st);
    free(t);
}

lt_tensor_t *lt_zeros(lt_arena_t *a, lt_dtype dt, int ndim, const int64_t *shape) {
    lt_tensor_t *t = lt__tensor_new(a, dt, ndim, shape);
    if (!t) return NULL;
    /* All-zero bits are 0 in every dtype; byte dtypes' storage is whole words. */
    int64_t words = (int64_t)(lt__storage_bytes(dt, t->numel) / 4);
    LT_KCALL(a->dev, "fill", 0, LT_F32B(words), fill, words, 0.0f, (float *)lt__data(t));
    return t;
}

lt_tensor_t *lt_full(lt_arena_t *a, int ndim, const int64_t *shape, float value) {
    lt_tensor_t *t = lt__tensor_new(a, LT_F32, ndim, shape);
    if (!t) return NULL;
    LT_KCALL(a->dev, "fill", 0, LT_F32B(t->numel), fill, t->numel, value, lt__f32(t));
    return t;
}

lt_tensor_t *lt_from_host(lt_arena_t *a, lt_dtype dt, int ndim, const int64_t *shape,
                          const void *data) {
    if (!data) {
        lt_set_error(LT_ERR_INVALID_ARG, "lt_from_host: data is NULL");
        return NULL;
    }
    lt_tensor_t *t = lt__tensor_new(a, dt, ndim, shape);
    if (t) lt_from_host_into(t, data, (size_t)t->numel * lt__dtype_size(dt));
    return t;
}

lt_status lt_from_host_into(lt_tensor_t *t, const void *src, size_t nbytes) {
    if (!t || !src) return lt_set_error(LT_ERR_INVALID_ARG, "lt_from_host_into: NULL argument");
    if (!lt__check_live(t, "lt_from_host_into")) return lt_last_status();
    size_t need = (size_t)t->numel * lt__dtype_size(t->dtype);
    if (nbytes != need)
        return lt_set_error(LT_ERR_INVALID_ARG,
                            "lt_from_host_into: tensor has %zu bytes, source %zu", need, nbytes);
    if (!t->st)
        return lt_set_error(LT_ERR_STATE, "lt_from_host_into: the tensor has no memory yet "
                                          "(a parameter before lt_ctx_materialize)");
    lt_device_t *dev = lt__dev(t);
    LT_KCALL(dev, "memcpy_h2d", 0, (double)need, memcpy_h2d, lt__data(t), src, need);
    return LT_OK;
}

lt_status lt_to_host(const lt_tensor_t *t, void *dst, size_t nbytes) {
    if (!t) return lt_last_status() ? lt_last_status() : LT_ERR_INVALID_ARG;
    if (!lt__check_live(t, "lt_to_host")) return lt_last_status();
    size_t need = (size_t)t->numel * lt__dtype_size(t->dtype);
    if (nbytes != need)
        return lt_set_error(LT_ERR_INVALID_ARG, "lt_to_host: tensor has %zu bytes, buffer %zu",
                            need, nbytes);
    lt_device_t *dev = lt__dev(t);
    LT_KCALL(dev, "memcpy_d2h", 0, (double)need, memcpy_d2h, dst, lt__data(t), need);
    lt__prof_synced(dev); /* the copy waited for the device: read its timer now */
    return LT_OK;
}

double lt_item(const lt_tensor_t *t) {
    if (!lt__check_live(t, "lt_item")) return NAN;
    if (t->numel != 1) {
        char buf[96];
        lt_set_error(LT_ERR_SHAPE, "lt_item: tensor of shape %s has %lld elements, not 1",
                     lt__shape_str(t, buf, sizeof buf), (long long)t->numel);
        return NAN;
    }
    if (t->dtype == LT_I64) {
        int64_t v;
        lt_to_host(t, &v, sizeof v);
        return (double)v;
    }
    if (t->dtype == LT_U8 || t->dtype == LT_F16 || t->dtype == LT_BF16) {
        uint16_t h = 0;
        uint8_t b = 0;
        if (t->dtype == LT_U8) return lt_to_host(t, &b, 1) == LT_OK ? (double)b : NAN;
        if (lt_to_host(t, &h, sizeof h) != LT_OK) return NAN;
        return t->dtype == LT_F16 ? lt_f16_to_f32(h) : lt_bf16_to_f32(h);
    }
    float v;
    lt_to_host(t, &v, sizeof v);
    return v;
}

int lt_ndim(const lt_tensor_t *t) { return t ? t->ndim : -1; }

int64_t lt_dim(const lt_tensor_t *t, int i) {
    if (!t) return -1;
    if (i < 0) i += t->ndim;
    return i >= 0 && i < t->ndim ? t->shape[i] : -1;
}

int64_t lt_numel(const lt_tensor_t *t) { return t ? t->numel : -1; }
lt_dtype lt_dtype_of(const lt_tensor_t *t) { return t ? t->dtype : LT_DTYPE_COUNT; }
lt_tensor_t *lt_grad(const lt_tensor_t *t) {
    if (!t) return NULL;
    lt__grad_settle((lt_tensor_t *)t); /* a deferred zero_grad: the caller reads zeros */
    return t->grad;
}
bool lt_requires_grad(const lt_tensor_t *t) { return t && t->requires_grad; }

lt_status lt_set_requires_grad(lt_tensor_t *t, bool requires_grad) {
    if (!t) return lt_set_error(LT_ERR_INVALID_ARG, "lt_set_requires_grad: tensor is NULL");
    if (requires_grad && t->dtype != LT_F32)
        return lt_set_error(LT_ERR_DTYPE, "only float32 tensors can require gradients");
    t->requires_grad = requires_grad;
    return LT_OK;
}

bool lt__check_live(const lt_tensor_t *t, const char *op) {
    if (!t) return false;
    if (!t->stale) return true;
    lt_set_error(LT_ERR_STATE,
                 "%s: the tensor was made in a step that has ended (the host "
                 "frees a step's tensors after it); keep a copy across steps with lt_keep, or "
                 "a number with lt_item",
                 op);
    return false;
}

bool lt__check_f32(const lt_tensor_t *t, const char *op) {
    if (!lt__check_live(t, op)) return false;
    if (t->dtype != LT_F32) {
        lt_set_error(LT_ERR_DTYPE, "%s: expected a float32 tensor, got %s", op,
                     lt_dtype_name(t->dtype));
        return false;
    }
    return true;
}

bool lt__same_shape(const lt_tensor_t *a, const lt_tensor_t *b) {
    if (a->ndim != b->ndim) return false;
    for (int i = 0; i < a->ndim; i++)
        if (a->shape[i] != b->shape[i]) return false;
    return true;
}

const char *lt__shape_str(const lt_tensor_t *t, char *buf, size_t n) {
    size_t len = (size_t)snprintf(buf, n, "(");
    for (int i = 0; i < t->ndim && len < n; i++)
        len += (size_t)snprintf(buf + len, n - len, i ? ", %lld" : "%lld", (long long)t->shape[i]);
    if (len < n) snprintf(buf + len, n - len, ")");
    return buf;
}

bool lt__check_reduction(lt_reduction r, const char *op) {
    if ((unsigned)r <= LT_REDUCTION_NONE) return true;
    lt_set_error(LT_ERR_INVALID_ARG,
                 "%s: reduction %d is not LT_REDUCTION_MEAN, LT_REDUCTION_SUM or LT_REDUCTION_NONE",
                 op, (int)r);
    return false;
}

lt_tensor_t *lt__copy_into(lt_tensor_t *dst, const lt_tensor_t *src) {
    if (!dst) return NULL;
    size_t nbytes = (size_t)src->numel * lt__dtype_size(src->dtype);
    lt_device_t *dev = lt__dev(src);
    LT_KCALL(dev, "copy", 0, 2.0 * (double)nbytes, memcpy_d2d, lt__data(dst), lt__data(src),
             nbytes);
    return dst;
}

lt_tensor_t *lt_keep(const lt_tensor_t *t) {
    if (!lt__check_live(t, "lt_keep")) return NULL;
    return lt__copy_into(lt__tensor_new_persistent(t->arena, t->dtype, t->ndim, t->shape), t);
}

void lt_tensor_free(lt_tensor_t *t) {
    if (t && !t->persistent) { /* a silent no-op would hide the misunderstanding */
        lt_set_error(LT_ERR_INVALID_ARG,
                     "lt_tensor_free: the tensor belongs to an arena, which "
                     "frees it when its step ends; free only tensors made by lt_keep");
        return;
    }
    lt__tensor_free(t);
}
