/* alloc.c — the caching allocator under liblt's own exact-size cache (sdk/src/core/device.c).
 *
 * Requests round up to a class: 512-byte steps up to 1 MiB, 2 MiB steps above, so that
 * tensors of nearby sizes share blocks. A freed block goes on its class's free list and
 * is handed to the next request of that class; cudaMalloc runs only when none is free,
 * cudaFree only at shutdown (and on out-of-memory, where the free blocks go back to the
 * driver before one retry). Blocks are reused in stream order (cuda_impl.h), so a free
 * needs no event. Every block is found by address in a chained hash, for free(). */
#include <stdlib.h>

#include "cuda_impl.h"

/* ---- classes --------------------------------------------------------------------- */

/* The class of a request, or 0 when it cannot be rounded without overflow. */
static size_t class_size(size_t nbytes) {
    if (nbytes <= CUDA_SMALL_LIMIT) {
        size_t n = nbytes ? nbytes : 1;
        return (n + CUDA_SMALL_ROUND - 1) / CUDA_SMALL_ROUND * CUDA_SMALL_ROUND;
    }
    if (nbytes > SIZE_MAX - CUDA_LARGE_ROUND) return 0;
    return (nbytes + CUDA_LARGE_ROUND - 1) / CUDA_LARGE_ROUND * CUDA_LARGE_ROUND;
}

/* The free list a class lives on. */
static cuda_block **free_list(cuda_cache *c, size_t size) {
    return size <= CUDA_SMALL_LIMIT ? &c->small_free[size / CUDA_SMALL_ROUND] : &c->large_free;
}

/* A free block of exactly this class, taken off its list, or NULL. */
static cuda_block *take_free(cuda_cache *c, size_t size) {
    for (cuda_block **link = free_list(c, size); *link; link = &(*link)->free_next) {
        cuda_block *b = *link;
        if (b->size != size) continue; /* only the large list mixes sizes */
        *link = b->free_next;
        b->free_next = NULL;
        return b;
    }
    return NULL;
}

/* ---- the address hash ------------------------------------------------------------ */

static size_t bucket_of(const cuda_cache *c, const void *p) {
    uint64_t h = (uint64_t)(uintptr_t)p >> 8; /* cudaMalloc aligns to 256 bytes at least */
    h *= 0x9E3779B97F4A7C15ull;
    return (size_t)(h >> 32) & (c->buckets - 1);
}

/* Twice the buckets; on failure the chains just get longer. */
static void hash_grow(cuda_cache *c) {
    size_t nb = c->buckets ? c->buckets * 2 : 256;
    cuda_block **nt = calloc(nb, sizeof *nt);
    if (!nt) return;
    cuda_block **old = c->by_ptr;
    size_t ob = c->buckets;
    c->by_ptr = nt;
    c->buckets = nb;
    for (size_t i = 0; i < ob; i++) {
        for (cuda_block *b = old[i], *next; b; b = next) {
            next = b->hash_next;
            size_t k = bucket_of(c, b->ptr);
            b->hash_next = nt[k];
            nt[k] = b;
        }
    }
    free(old);
}

static int hash_insert(cuda_cache *c, cuda_block *b) {
    if (c->blocks >= c->buckets) hash_grow(c);
    if (!c->buckets) return 0;
    size_t k = bucket_of(c, b->ptr);
    b->hash_next = c->by_ptr[k];
    c->by_ptr[k] = b;
    c->blocks++;
    return 1;
}

static cuda_block *hash_find(const cuda_cache *c, const void *p) {
    if (!c->buckets) return NULL;
    for (cuda_block *b = c->by_ptr[bucket_of(c, p)]; b; b = b->hash_next)
        if (b->ptr == p) return b;
    return NULL;
}

/* ---- driver memory --------------------------------------------------------------- */

/* cudaFree every block (free_only: every free one), unlinking it. */
static void drop_blocks(cuda_cache *c, int free_only) {
    for (size_t i = 0; i < c->buckets; i++) {
        for (cuda_block **link = &c->by_ptr[i]; *link;) {
            cuda_block *b = *link;
            if (free_only && b->in_use) {
                link = &b->hash_next;
                continue;
            }
            *link = b->hash_next;
            cudaFree(b->ptr);
            c->device_bytes -= b->size;
            c->blocks--;
            free(b);
        }
    }
    for (size_t i = 0; i < CUDA_SMALL_CLASSES; i++) c->small_free[i] = NULL;
    c->large_free = NULL;
}

/* cudaMalloc, giving the cache back to the driver and retrying once when it is full. */
static void *device_malloc(cuda_state *st, size_t size) {
    void *p = NULL;
    cudaError_t e = cudaMalloc(&p, size);
    if (e == cudaErrorMemoryAllocation) {
        cudaGetLastError(); /* out of memory is not sticky: clear it */
        cuda_ok(st, cudaStreamSynchronize(st->stream), "cudaStreamSynchronize");
        drop_blocks(&st->cache, 1);
        e = cudaMalloc(&p, size);
    }
    if (e == cudaErrorMemoryAllocation) {
        cudaGetLastError(); /* liblt reports it as out of memory with the size */
        return NULL;
    }
    return cuda_ok(st, e, "cudaMalloc") ? p : NULL;
}

void *cuda_cache_alloc(cuda_state *st, size_t nbytes) {
    cuda_cache *c = &st->cache;
    size_t size = class_size(nbytes);
    if (!size) return NULL;
    cuda_block *b = take_free(c, size);
    if (!b) {
        void *p = device_malloc(st, size);
        if (!p) return NULL;
        if (!(b = calloc(1, sizeof *b))) {
            cudaFree(p);
            return NULL;
        }
        b->ptr = p;
        b->size = size;
        if (!hash_insert(c, b)) {
            cudaFree(p);
            free(b);
            return NULL;
        }
        c->mallocs++;
        c->device_bytes += size;
        if (c->device_bytes > c->peak_bytes) c->peak_bytes = c->device_bytes;
    }
    b->in_use = 1;
    c->in_use_bytes += b->size;
    if (c->in_use_bytes > c->in_use_peak) c->in_use_peak = c->in_use_bytes;
    return b->ptr;
}

void cuda_cache_free(cuda_state *st, void *d_ptr) {
    if (!d_ptr) return;
    cuda_cache *c = &st->cache;
    cuda_block *b = hash_find(c, d_ptr);
    if (!b || !b->in_use) {
        cuda_fail(st, "free", b ? "block freed twice" : "pointer not from this device's alloc");
        return;
    }
    b->in_use = 0;
    c->in_use_bytes -= b->size;
    cuda_block **head = free_list(c, b->size);
    b->free_next = *head;
    *head = b;
}

void cuda_cache_release(cuda_state *st) {
    cuda_cache *c = &st->cache;
    drop_blocks(c, 0);
    free(c->by_ptr);
    c->by_ptr = NULL;
    c->buckets = 0;
}
