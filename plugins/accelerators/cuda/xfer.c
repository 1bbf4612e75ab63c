/* The copy stream (issue 18): uploads from pinned batch buffers run on a stream of their
 * own, so the next batch crosses PCIe while the current step's kernels run, and no step
 * waits on the host.
 *
 * The copy stream never writes the destination block itself: that block came from the
 * caching allocator, which hands blocks out again in compute-stream order, so it may be
 * one a step still queued on the compute stream reads (the previous batch's). Instead the
 * copy lands in a device ring owned by this file; the compute stream waits for it (an
 * event), copies ring to destination (device bandwidth: microseconds for a batch) and
 * records that it has, and the copy stream waits for that record, on the GPU, before it
 * writes the same part of the ring again. LT_CUDA_COPY_STREAM=0 turns it off (uploads
 * then queue on the compute stream, as before), so runs can be compared. */
#include <stdlib.h>
#include <string.h>

#include "cuda_impl.h"

/* Make the copy stream wait for the FIFO entries up to and including k (0 = oldest) to
 * be consumed, and drop them: their records are in compute-stream order, so waiting for
 * entry k covers the older ones. */
static int xfer_retire(cuda_state *st, int k) {
    cuda_xfer *x = &st->xfer;
    cuda_xfer_slot *s = &x->slot[(x->first + k) % CUDA_XFER_SLOTS];
    if (!cuda_ok(st, cudaStreamWaitEvent(x->stream, s->consumed, 0), "cudaStreamWaitEvent (copy)"))
        return 0;
    x->first = (x->first + k + 1) % CUDA_XFER_SLOTS;
    x->count -= k + 1;
    return 1;
}

/* The stream, the ring and the events on first use; 0 when off or when making them
 * failed (uploads then queue on the compute stream). */
static int xfer_ready(cuda_state *st) {
    cuda_xfer *x = &st->xfer;
    if (x->ring) return 1;
    if (x->off) return 0;
    const char *env = getenv("LT_CUDA_COPY_STREAM");
    x->off = 1; /* until everything below exists; cuda_xfer_release frees what does */
    if (env && !strcmp(env, "0")) return 0;
    if (cudaStreamCreateWithFlags(&x->stream, cudaStreamNonBlocking) != cudaSuccess)
        return cudaGetLastError(), x->stream = NULL, 0;
    for (int i = 0; i < CUDA_XFER_SLOTS; i++)
        if (cudaEventCreateWithFlags(&x->slot[i].copied, cudaEventDisableTiming) != cudaSuccess ||
            cudaEventCreateWithFlags(&x->slot[i].consumed, cudaEventDisableTiming) != cudaSuccess)
            return cudaGetLastError(), 0;
    if (cudaMalloc((void **)&x->ring, CUDA_XFER_BYTES) != cudaSuccess)
        return cudaGetLastError(), x->ring = NULL, 0;
    x->off = 0;
    return 1;
}

/* A region of nbytes in the ring whose previous contents the compute stream has consumed
 * (the copy stream waits for that on the GPU); its offset, or SIZE_MAX on an error. */
static size_t xfer_take(cuda_state *st, size_t nbytes) {
    cuda_xfer *x = &st->xfer;
    size_t lo = x->head + nbytes <= CUDA_XFER_BYTES ? x->head : 0;
    if (x->count == CUDA_XFER_SLOTS && !xfer_retire(st, 0)) return SIZE_MAX;
    for (int k = x->count - 1; k >= 0; k--) {
        const cuda_xfer_slot *s = &x->slot[(x->first + k) % CUDA_XFER_SLOTS];
        if (s->lo < lo + nbytes && lo < s->hi) {
            if (!xfer_retire(st, k)) return SIZE_MAX;
            break; /* every older entry went with it */
        }
    }
    x->head = (lo + nbytes + 255) & ~(size_t)255;
    return lo;
}

int cuda_xfer_copy(cuda_state *st, void *d_dst, const void *src, size_t nbytes,
                   cudaEvent_t src_done) {
    if (nbytes > CUDA_XFER_BYTES / 2 || !xfer_ready(st)) return 0;
    size_t lo = xfer_take(st, nbytes);
    if (lo == SIZE_MAX) return 1; /* recorded: the copy is lost with the device */
    cuda_xfer *x = &st->xfer;
    cuda_xfer_slot *s = &x->slot[(x->first + x->count) % CUDA_XFER_SLOTS];
    if (cuda_ok(st, cudaMemcpyAsync(x->ring + lo, src, nbytes, cudaMemcpyHostToDevice, x->stream),
                "cudaMemcpyAsync (copy stream)") &&
        cuda_ok(st, cudaEventRecord(src_done, x->stream), "cudaEventRecord (pinned)") &&
        cuda_ok(st, cudaEventRecord(s->copied, x->stream), "cudaEventRecord (copy stream)") &&
        cuda_ok(st, cudaStreamWaitEvent(st->stream, s->copied, 0), "cudaStreamWaitEvent") &&
        cuda_ok(st,
                cudaMemcpyAsync(d_dst, x->ring + lo, nbytes, cudaMemcpyDeviceToDevice, st->stream),
                "cudaMemcpyAsync (from the copy ring)") &&
        cuda_ok(st, cudaEventRecord(s->consumed, st->stream), "cudaEventRecord (consumed)")) {
        s->lo = lo;
        s->hi = lo + nbytes;
        x->count++;
        st->xfer_copies++;
    }
    return 1;
}

void cuda_xfer_release(cuda_state *st) {
    cuda_xfer *x = &st->xfer;
    if (x->stream) cudaStreamSynchronize(x->stream);
    for (int i = 0; i < CUDA_XFER_SLOTS; i++) {
        if (x->slot[i].copied) cudaEventDestroy(x->slot[i].copied);
        if (x->slot[i].consumed) cudaEventDestroy(x->slot[i].consumed);
    }
    if (x->ring) cudaFree(x->ring); /* after the compute stream's sync in shutdown */
    if (x->stream) cudaStreamDestroy(x->stream);
    cudaGetLastError();
    memset(x, 0, sizeof *x);
}
