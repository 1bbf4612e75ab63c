/* fake_cudart.c — the few CUDA runtime calls the cuda plugin's host code makes, on host
 * memory, for cuda_host_check. Copies are queued and run only when an event or the stream
 * is synchronised, in order, as on a GPU: a staging buffer overwritten before its copy ran
 * shows up as wrong data. cudaMalloc fails past a byte limit the check sets. The kernels
 * are fake_kernels.c's, cuBLAS is fake_cublas.c. Not thread-safe: one test. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cuda_impl.h"
#include "fake_cudart.h"

typedef struct fake_op {
    void *dst; /* a copy, or NULL: an event record */
    const void *src;
    size_t n;
    intptr_t event;
} fake_op;

#define FAKE_QUEUE 65536
#define FAKE_PINNED 64
#define FAKE_EVENTS 16384 /* event handles 1 .. FAKE_EVENTS - 1 get a completion time */

static struct {
    fake_op queue[FAKE_QUEUE];
    int head, tail; /* ops [head, tail) are pending */
    intptr_t next_event;
    long long mallocs;
    size_t held, limit;
    struct {
        char *p;
        size_t n;
    } pinned[FAKE_PINNED];
    int npinned;
    /* The device's clock: 1 us per op run; each event's time when its record ran (0: not
     * yet), for cudaEventElapsedTime. */
    uint64_t clock_us, event_us[FAKE_EVENTS];
    long long events_created;
} fake = {.next_event = 1, .limit = SIZE_MAX};

void fake_set_limit(size_t bytes) { fake.limit = bytes; }
long long fake_mallocs(void) { return fake.mallocs; }
long long fake_events_created(void) { return fake.events_created; }
int fake_pending(void) { return fake.tail - fake.head; }

/* Runs pending ops through index `last` (-1: all). */
static void run_through(int last) {
    if (last < 0) last = fake.tail - 1;
    for (; fake.head <= last; fake.head++) {
        const fake_op *o = &fake.queue[fake.head];
        fake.clock_us++;
        if (o->dst)
            memcpy(o->dst, o->src, o->n);
        else if (o->event > 0 && o->event < FAKE_EVENTS)
            fake.event_us[o->event] = fake.clock_us;
    }
    if (fake.head == fake.tail) fake.head = fake.tail = 0;
}

void fake_run_pending(void) { run_through(-1); }

static void push(fake_op o) {
    if (fake.tail == FAKE_QUEUE) run_through(-1);
    fake.queue[fake.tail++] = o;
}

/* ---- devices, streams, errors ------------------------------------------------------ */

cudaError_t cudaGetDeviceCount(int *n) {
    *n = 1;
    return cudaSuccess;
}

cudaError_t cudaSetDevice(int d) { return d == 0 ? cudaSuccess : cudaErrorInvalidDevice; }

cudaError_t cudaGetDeviceProperties(struct cudaDeviceProp *p, int d) {
    (void)d;
    memset(p, 0, sizeof *p);
    p->multiProcessorCount = 4;
    p->major = 9;
    strcpy(p->name, "fake");
    return cudaSuccess;
}

cudaError_t cudaRuntimeGetVersion(int *v) {
    *v = 13000;
    return cudaSuccess;
}

cudaError_t cudaDriverGetVersion(int *v) {
    *v = 13010;
    return cudaSuccess;
}

cudaError_t cudaStreamCreate(cudaStream_t *s) {
    *s = (cudaStream_t)&fake;
    return cudaSuccess;
}

/* Every stream is the one queue: work runs in issue order, which any order the plugin's
 * events ask for (cudaStreamWaitEvent) already satisfies. */
cudaError_t cudaStreamCreateWithFlags(cudaStream_t *s, unsigned flags) {
    (void)flags;
    return cudaStreamCreate(s);
}

cudaError_t cudaStreamWaitEvent(cudaStream_t s, cudaEvent_t e, unsigned flags) {
    (void)s, (void)e, (void)flags;
    return cudaSuccess;
}

cudaError_t cudaStreamDestroy(cudaStream_t s) {
    (void)s;
    return cudaSuccess;
}

cudaError_t cudaStreamSynchronize(cudaStream_t s) {
    (void)s;
    run_through(-1);
    return cudaSuccess;
}

cudaError_t cudaGetLastError(void) { return cudaSuccess; }
const char *cudaGetErrorString(cudaError_t e) {
    return e == cudaSuccess ? "no error" : "fake error";
}
cudaError_t cuda_kernels_usable(void) { return cudaSuccess; }

/* ---- memory ------------------------------------------------------------------------ */

cudaError_t cudaMalloc(void **p, size_t n) {
    if (n > fake.limit || fake.held > fake.limit - n) return cudaErrorMemoryAllocation;
    *p = aligned_alloc(256, (n + 255) / 256 * 256);
    if (!*p) return cudaErrorMemoryAllocation;
    fake.mallocs++;
    fake.held += n;
    return cudaSuccess;
}

/* As on a GPU, cudaFree waits for the device; the size is not known here, so held bytes
 * only grow (the limit is about new blocks). */
cudaError_t cudaFree(void *p) {
    run_through(-1);
    free(p);
    return cudaSuccess;
}

cudaError_t cudaMallocHost(void **p, size_t n) {
    if (fake.npinned == FAKE_PINNED || !(*p = malloc(n))) return cudaErrorMemoryAllocation;
    fake.pinned[fake.npinned].p = *p;
    fake.pinned[fake.npinned++].n = n;
    return cudaSuccess;
}

cudaError_t cudaHostAlloc(void **p, size_t n, unsigned flags) {
    (void)flags;
    return cudaMallocHost(p, n);
}

cudaError_t cudaFreeHost(void *p) {
    run_through(-1);
    for (int i = 0; i < fake.npinned; i++)
        if (fake.pinned[i].p == p) fake.pinned[i] = fake.pinned[--fake.npinned];
    free(p);
    return cudaSuccess;
}

cudaError_t cudaPointerGetAttributes(struct cudaPointerAttributes *a, const void *p) {
    memset(a, 0, sizeof *a);
    a->type = cudaMemoryTypeUnregistered;
    for (int i = 0; i < fake.npinned; i++)
        if ((const char *)p >= fake.pinned[i].p &&
            (const char *)p < fake.pinned[i].p + fake.pinned[i].n)
            a->type = cudaMemoryTypeHost;
    return cudaSuccess;
}

cudaError_t cudaMemcpyAsync(void *dst, const void *src, size_t n, enum cudaMemcpyKind kind,
                            cudaStream_t s) {
    (void)kind;
    (void)s;
    push((fake_op){.dst = dst, .src = src, .n = n});
    return cudaSuccess;
}

cudaError_t cudaMemGetInfo(size_t *free_bytes, size_t *total_bytes) {
    *total_bytes = fake.limit == SIZE_MAX ? (size_t)80 << 30 : fake.limit;
    *free_bytes = fake.held < *total_bytes ? *total_bytes - fake.held : 0;
    return cudaSuccess;
}

/* ---- events ------------------------------------------------------------------------ */

cudaError_t cudaEventCreateWithFlags(cudaEvent_t *e, unsigned flags) {
    (void)flags;
    *e = (cudaEvent_t)fake.next_event++;
    fake.events_created++;
    return cudaSuccess;
}

cudaError_t cudaEventDestroy(cudaEvent_t e) {
    (void)e;
    return cudaSuccess;
}

cudaError_t cudaEventRecord(cudaEvent_t e, cudaStream_t s) {
    (void)s;
    push((fake_op){.event = (intptr_t)e});
    return cudaSuccess;
}

/* Waits for the event's latest record only: later work stays pending. */
cudaError_t cudaEventSynchronize(cudaEvent_t e) {
    for (int i = fake.tail - 1; i >= fake.head; i--) {
        if (!fake.queue[i].dst && fake.queue[i].event == (intptr_t)e) {
            run_through(i);
            break;
        }
    }
    return cudaSuccess;
}

/* Both events must have run (cudaErrorNotReady otherwise, as on a GPU). */
cudaError_t cudaEventElapsedTime(float *ms, cudaEvent_t a, cudaEvent_t b) {
    intptr_t x = (intptr_t)a, y = (intptr_t)b;
    if (x <= 0 || y <= 0 || x >= FAKE_EVENTS || y >= FAKE_EVENTS)
        return cudaErrorInvalidResourceHandle;
    if (!fake.event_us[x] || !fake.event_us[y]) return cudaErrorNotReady;
    *ms = (float)((double)fake.event_us[y] - (double)fake.event_us[x]) / 1000.0f;
    return cudaSuccess;
}
