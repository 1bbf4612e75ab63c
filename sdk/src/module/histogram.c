/* lt_log_histogram: a tensor's values read back to the host and handed to the trainer,
 * whose loggers bucket them (host/loggers/tb_histogram.c). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ctx_impl.h"

enum { HISTOGRAM_NAME_MAX = 128 };
#define HISTOGRAM_VALUES_MAX (INT64_C(1) << 28)

static lt_status check_values(const char *name, const float *v, int64_t n) {
    for (int64_t i = 0; i < n; i++)
        if (!isfinite(v[i]))
            return lt_set_error(LT_ERR_INVALID_ARG,
                                "lt_log_histogram('%s'): element %lld is %s; a histogram needs "
                                "finite values (check the tensor for NaN/inf first)",
                                name, (long long)i, isnan(v[i]) ? "NaN" : "inf");
    return LT_OK;
}

lt_status lt_log_histogram(lt_ctx_t *ctx, const char *name, lt_tensor_t *t) {
    if (!ctx || !name || !t)
        return lt_set_error(LT_ERR_INVALID_ARG, "lt_log_histogram: NULL argument");
    size_t len = strnlen(name, HISTOGRAM_NAME_MAX);
    if (len == 0 || len == HISTOGRAM_NAME_MAX)
        return lt_set_error(LT_ERR_INVALID_ARG,
                            "lt_log_histogram: the name must have 1 to %d characters",
                            HISTOGRAM_NAME_MAX - 1);
    if (lt_dtype_of(t) != LT_F32)
        return lt_set_error(LT_ERR_INVALID_ARG,
                            "lt_log_histogram('%s'): the tensor is %s; pass a f32 tensor", name,
                            lt_dtype_name(lt_dtype_of(t)));
    int64_t n = lt_numel(t);
    if (n < 1 || n > HISTOGRAM_VALUES_MAX)
        return lt_set_error(LT_ERR_INVALID_ARG,
                            "lt_log_histogram('%s'): %lld values; a histogram takes 1 to %lld",
                            name, (long long)n, (long long)HISTOGRAM_VALUES_MAX);
    lt_trainer_t *tr = ctx->trainer;
    if (!tr || tr->struct_size < offsetof(lt_trainer_t, log_histogram) + sizeof(void *) ||
        !tr->log_histogram)
        return lt_set_error(LT_ERR_STATE,
                            "lt_log_histogram('%s'): no trainer takes histograms here; call it "
                            "from a hook of a module that lthost runs",
                            name);
    float *v = malloc((size_t)n * sizeof *v);
    if (!v) return lt_set_error(LT_ERR_OOM, "lt_log_histogram('%s'): out of memory", name);
    lt_status s = lt_to_host(t, v, (size_t)n * sizeof *v);
    if (s == LT_OK) s = check_values(name, v, n);
    if (s == LT_OK) s = tr->log_histogram(tr, name, v, n);
    free(v);
    return s;
}
