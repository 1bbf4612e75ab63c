/* Arenas: the tensors and tape nodes of one step, carved from chunks that survive
 * lt_arena_reset, so a steady-state step allocates nothing. */
#include <stdlib.h>
#include <string.h>

#include "lt_impl.h"

/* ---- slabs ----------------------------------------------------------------------- */

void *lt__slab_get(lt_slab *s, size_t i) {
    return (char *)s->chunks[i / LT_SLAB_CHUNK] + (i % LT_SLAB_CHUNK) * s->elem_size;
}

void *lt__slab_push(lt_slab *s) {
    size_t chunk = s->used / LT_SLAB_CHUNK;
    if (chunk == s->nchunks) {
        if (s->nchunks == s->cap_chunks) {
            size_t cap = s->cap_chunks ? 2 * s->cap_chunks : 8;
            void **chunks = realloc(s->chunks, cap * sizeof *chunks);
            if (!chunks) return NULL;
            s->chunks = chunks;
            s->cap_chunks = cap;
        }
        if (!(s->chunks[s->nchunks] = malloc(LT_SLAB_CHUNK * s->elem_size))) return NULL;
        s->nchunks++;
    }
    void *p = lt__slab_get(s, s->used++);
    memset(p, 0, s->elem_size);
    return p;
}

void lt__slab_free(lt_slab *s) {
    for (size_t i = 0; i < s->nchunks; i++) free(s->chunks[i]);
    free(s->chunks);
    memset(s, 0, sizeof *s);
}

/* ---- arenas ---------------------------------------------------------------------- */

lt_arena_t *lt_arena_new(lt_device_t *dev) {
    if (!dev) {
        lt_set_error(LT_ERR_INVALID_ARG, "lt_arena_new: device is NULL");
        return NULL;
    }
    lt_arena_t *a = calloc(1, sizeof *a);
    if (!a) {
        lt_set_error(LT_ERR_OOM, "out of host memory creating an arena");
        return NULL;
    }
    a->dev = dev;
    a->grad_enabled = true;
    a->backward_scale = 1.0f;
    a->tensors.elem_size = sizeof(lt_tensor_t);
    a->retired.elem_size = sizeof(lt_tensor_t);
    a->nodes.elem_size = sizeof(lt_node);
    return a;
}

void lt_arena_reset(lt_arena_t *a) {
    if (!a) return;
    for (size_t i = 0; i < a->tensors.used; i++) {
        lt_tensor_t *t = lt__slab_get(&a->tensors, i);
        lt__storage_release(t->st);
        t->st = NULL;
        t->stale = true;
    }
    a->tensors.used = 0;
    a->nodes.used = 0;
    a->custom_fns.used = 0;
    lt_slab fresh = a->retired; /* two resets ago: nobody may hold those any more */
    a->retired = a->tensors;
    a->tensors = fresh;
    a->tensors.used = 0;
}

void lt_arena_free(lt_arena_t *a) {
    if (!a) return;
    lt_arena_reset(a);
    lt__slab_free(&a->tensors);
    lt__slab_free(&a->retired);
    lt__slab_free(&a->nodes);
    lt__slab_free(&a->custom_fns);
    free(a);
}

bool lt_arena_set_grad(lt_arena_t *a, bool enabled) {
    if (!a) return false;
    bool prev = a->grad_enabled;
    a->grad_enabled = enabled;
    return prev;
}
