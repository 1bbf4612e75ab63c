/* Parameter lists: what an optimizer updates. */
#include <stdlib.h>

#include "lt_impl.h"

lt_param_list_t *lt_param_list_new(void) {
    lt_param_list_t *l = calloc(1, sizeof *l);
    if (!l) lt_set_error(LT_ERR_OOM, "out of host memory for a parameter list");
    return l;
}

lt_status lt_param_list_add(lt_param_list_t *l, lt_tensor_t *p) {
    if (!l || !p) return lt_set_error(LT_ERR_INVALID_ARG, "lt_param_list_add: NULL argument");
    /* a module's frozen parameter (lt_freeze) is welcome, as in torch: it gets no update
     * until it is unfrozen */
    if (p->dtype != LT_F32 || !(p->requires_grad || p->param_id > 0))
        return lt_set_error(LT_ERR_INVALID_ARG, "lt_param_list_add: only float32 tensors that "
                                                "require grad can be optimized");
    if (l->len == l->cap) {
        int64_t cap = l->cap ? 2 * l->cap : 16;
        lt_tensor_t **items = realloc(l->items, (size_t)cap * sizeof *items);
        if (!items) return lt_set_error(LT_ERR_OOM, "out of host memory for a parameter list");
        l->items = items;
        l->cap = cap;
    }
    l->items[l->len++] = p;
    return LT_OK;
}

int64_t lt_param_list_len(const lt_param_list_t *l) { return l ? l->len : 0; }

void lt_param_list_free(lt_param_list_t *l) {
    if (!l) return;
    free(l->items);
    free(l);
}
