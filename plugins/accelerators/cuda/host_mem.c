/* Pinned host buffers for the DataLoader's batch slots (host_alloc, host_free, host_wait)
 * and the memory_stats slot (DeviceStatsMonitor).
 *
 * memcpy_h2d from one of these buffers is asynchronous, so the loader must not refill it
 * while the copy may still read it: each buffer has an event recorded after every copy
 * out of it, and host_wait (called by a loader worker thread before a refill) waits for
 * it. The list of buffers is shared with those threads, hence its mutex; the events
 * themselves live until host_free, which the loader calls after joining its workers. */
#include <stdlib.h>

#include "cuda_impl.h"

/* The buffer holding [p, p + nbytes), or NULL; st->pinned_mu held. */
static cuda_pinned *find_locked(cuda_state *st, const void *p, size_t nbytes) {
    const char *c = p;
    for (cuda_pinned *b = st->pinned; b; b = b->next)
        if (c >= b->ptr && c <= b->ptr + b->size && nbytes <= (size_t)(b->ptr + b->size - c))
            return b;
    return NULL;
}

void *cuda_host_alloc(void *vst, size_t nbytes) {
    cuda_state *st = vst;
    cuda_pinned *b = calloc(1, sizeof *b);
    if (!b) return NULL;
    /* Portable: any device's copy engine may read it (a rank's loader, another GPU). */
    if (cudaHostAlloc((void **)&b->ptr, nbytes ? nbytes : 1, cudaHostAllocPortable) !=
        cudaSuccess) {
        cudaGetLastError(); /* out of pinned memory is not sticky; the loader reports it */
        free(b);
        return NULL;
    }
    if (cudaEventCreateWithFlags(&b->copied, cudaEventDisableTiming) != cudaSuccess) {
        cudaGetLastError();
        cudaFreeHost(b->ptr);
        free(b);
        return NULL;
    }
    b->size = nbytes;
    pthread_mutex_lock(&st->pinned_mu);
    b->next = st->pinned;
    st->pinned = b;
    st->pinned_allocs++;
    pthread_mutex_unlock(&st->pinned_mu);
    return b->ptr;
}

void cuda_host_free(void *vst, void *p) {
    cuda_state *st = vst;
    if (!p) return;
    pthread_mutex_lock(&st->pinned_mu);
    cuda_pinned **at = &st->pinned;
    while (*at && (*at)->ptr != p) at = &(*at)->next;
    cuda_pinned *b = *at;
    if (b) *at = b->next;
    pthread_mutex_unlock(&st->pinned_mu);
    if (!b) {
        cuda_fail(st, "host_free", "pointer not from this device's host_alloc");
        return;
    }
    cudaEventSynchronize(b->copied); /* its last copy may still read it */
    cudaEventDestroy(b->copied);
    cudaFreeHost(b->ptr);
    cudaGetLastError();
    free(b);
}

/* From a loader worker: errors are not recorded here (st->error belongs to the trainer's
 * thread); a failed wait means a failed device, which the next step reports. */
void cuda_host_wait(void *vst, void *p) {
    cuda_state *st = vst;
    pthread_mutex_lock(&st->pinned_mu);
    cuda_pinned *b = find_locked(st, p, 0);
    cudaEvent_t ev = b ? b->copied : NULL;
    pthread_mutex_unlock(&st->pinned_mu);
    if (ev && cudaEventSynchronize(ev) != cudaSuccess) cudaGetLastError();
}

int cuda_pinned_copy(cuda_state *st, void *d_dst, const void *src, size_t nbytes) {
    pthread_mutex_lock(&st->pinned_mu);
    cuda_pinned *b = find_locked(st, src, nbytes);
    pthread_mutex_unlock(&st->pinned_mu);
    if (!b) return 0;
    st->pinned_copies++;
    if (cuda_xfer_copy(st, d_dst, src, nbytes, b->copied)) return 1;
    if (cuda_ok(st, cudaMemcpyAsync(d_dst, src, nbytes, cudaMemcpyHostToDevice, st->stream),
                "cudaMemcpyAsync (pinned host to device)"))
        cuda_ok(st, cudaEventRecord(b->copied, st->stream), "cudaEventRecord (pinned)");
    return 1;
}

void cuda_pinned_release(cuda_state *st) {
    while (st->pinned) cuda_host_free(st, st->pinned->ptr);
}

/* torch.cuda.memory_stats' allocated/reserved bytes from the caching allocator; free and
 * total from the driver (cudaMemGetInfo does not wait for the stream). */
int cuda_memory_stats(void *vst, lt_mem_stats *out) {
    cuda_state *st = vst;
    const cuda_cache *c = &st->cache;
    out->allocated_bytes = c->in_use_bytes;
    out->allocated_peak_bytes = c->in_use_peak;
    out->reserved_bytes = c->device_bytes;
    out->reserved_peak_bytes = c->peak_bytes;
    out->num_device_alloc = c->mallocs;
    size_t free_b = 0, total_b = 0;
    if (cudaMemGetInfo(&free_b, &total_b) != cudaSuccess) {
        cudaGetLastError();
        free_b = total_b = 0;
    }
    out->free_bytes = free_b;
    out->total_bytes = total_b;
    return 0;
}
