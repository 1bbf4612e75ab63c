/* Batches of named fields (Lightning's dict batches): the checks of a dataset's field
 * descriptors, the x/y layout as the two-field case, and lt_batch_get. */
#include "fields.h"

#include <string.h>

#include "lt_impl.h"

static lt_status check_shape(const char *name, int ndim, const int64_t *shape) {
    /* LT_MAX_DIMS - 1: the batch dimension is put in front of every sample shape */
    if (ndim < 0 || ndim > LT_MAX_DIMS - 1)
        return lt_set_error(LT_ERR_INVALID_ARG,
                            "DataLoader: the dataset's %s_ndim is %d; it must be in [0, %d]", name,
                            ndim, LT_MAX_DIMS - 1);
    for (int i = 0; i < ndim; i++)
        if (shape[i] <= 0)
            return lt_set_error(LT_ERR_INVALID_ARG,
                                "DataLoader: the dataset's %s_shape[%d] is %lld; every dimension "
                                "must be >= 1",
                                name, i, (long long)shape[i]);
    return LT_OK;
}

/* What a batch field may hold: the 1.0 dtypes and 1.1's storage ones (#21). */
static bool field_dtype_ok(lt_dtype dt) {
    return dt == LT_F32 || dt == LT_I64 || dt == LT_U8 || dt == LT_F16 || dt == LT_BF16;
}

static lt_status check_field(const lt_field_desc *fields, int k) {
    const lt_field_desc *f = &fields[k];
    size_t len = f->name ? strnlen(f->name, LT_FIELD_NAME_MAX + 1) : 0;
    if (len == 0 || len > LT_FIELD_NAME_MAX)
        return lt_set_error(LT_ERR_INVALID_ARG,
                            "DataLoader: field %d's name is %s; give each field a name of 1 to "
                            "%d bytes",
                            k, len ? "too long" : "empty or NULL", LT_FIELD_NAME_MAX);
    for (int j = 0; j < k; j++)
        if (!strcmp(fields[j].name, f->name))
            return lt_set_error(LT_ERR_INVALID_ARG,
                                "DataLoader: fields %d and %d are both named '%s'; names must be "
                                "unique",
                                j, k, f->name);
    if (!field_dtype_ok(f->dtype))
        return lt_set_error(LT_ERR_INVALID_ARG,
                            "DataLoader: field '%s' has dtype %d; it must be LT_F32, LT_I64, "
                            "LT_U8, LT_F16 or LT_BF16",
                            f->name, (int)f->dtype);
    return check_shape(f->name, f->ndim, f->shape);
}

static lt_status named_fields(const lt_dataset *ds, lt_field_desc *out, int *n) {
    if (ds->nfields < 1 || ds->nfields > LT_MAX_FIELDS || !ds->fields ||
        (!ds->fill_fields && !ds->fill_fields_at))
        return lt_set_error(LT_ERR_INVALID_ARG,
                            "DataLoader: a dataset of named fields needs nfields in [1, %d] "
                            "(it has %d), the fields and fill_fields (or fill_fields_at)",
                            LT_MAX_FIELDS, ds->nfields);
    for (int k = 0; k < ds->nfields; k++) {
        lt_status s = check_field(ds->fields, k);
        if (s != LT_OK) return s;
        out[k] = ds->fields[k];
    }
    *n = ds->nfields;
    return LT_OK;
}

lt_status lt__dataset_fields(const lt_dataset *ds, lt_field_desc out[LT_MAX_FIELDS], int *n) {
    if (ds->nfields != 0) return named_fields(ds, out, n);
    if (!ds->fill && !ds->fill_split)
        return lt_set_error(LT_ERR_INVALID_ARG,
                            "DataLoader: the dataset has neither fill nor fill_split");
    if (!field_dtype_ok(ds->x_dtype))
        return lt_set_error(LT_ERR_INVALID_ARG,
                            "DataLoader: the dataset's x_dtype is %d; it must be LT_F32 "
                            "(features), LT_I64 (token ids), LT_U8 (pixels), LT_F16 or LT_BF16",
                            (int)ds->x_dtype);
    if (ds->y_dtype != LT_F32 && ds->y_dtype != LT_I64)
        return lt_set_error(LT_ERR_INVALID_ARG, "DataLoader: the dataset's y_dtype must be LT_I64 "
                                                "(labels) or LT_F32 (targets)");
    lt_status s = check_shape("x", ds->x_ndim, ds->x_shape);
    if (s == LT_OK) s = check_shape("y", ds->y_ndim, ds->y_shape);
    if (s != LT_OK) return s;
    out[0] = (lt_field_desc){.name = "x", .dtype = ds->x_dtype, .ndim = ds->x_ndim};
    out[1] = (lt_field_desc){.name = "y", .dtype = ds->y_dtype, .ndim = ds->y_ndim};
    memcpy(out[0].shape, ds->x_shape, sizeof out[0].shape);
    memcpy(out[1].shape, ds->y_shape, sizeof out[1].shape);
    *n = 2;
    return LT_OK;
}

lt_tensor_t *lt_batch_get(const lt_batch_t *b, const char *name) {
    if (!b || !name) {
        lt_set_error(LT_ERR_INVALID_ARG, "lt_batch_get: NULL %s", b ? "name" : "batch");
        return NULL;
    }
    if (b->nfields == 0 && (!strcmp(name, "x") || !strcmp(name, "y")))
        return name[0] == 'x' ? b->x : b->y;
    char have[LT_MAX_FIELDS * (LT_FIELD_NAME_MAX + 2) + 1] = "";
    for (int k = 0; k < b->nfields && k < LT_MAX_FIELDS; k++) {
        if (b->names[k] && !strcmp(b->names[k], name)) return b->fields[k];
        strncat(have, k ? ", " : "", sizeof have - strlen(have) - 1);
        strncat(have, b->names[k] ? b->names[k] : "?", sizeof have - strlen(have) - 1);
    }
    lt_set_error(LT_ERR_INVALID_ARG, "lt_batch_get: the batch has no field '%s' (it has: %s)", name,
                 b->nfields ? have : "x, y");
    return NULL;
}
