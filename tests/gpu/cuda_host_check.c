/* cuda_host_check — the cuda plugin's host code (cuda.c, alloc.c: copies, the pinned
 * staging ring, the caching allocator, error recording; cudnn.c with a fake libcudnn,
 * host_conv.c; gemm_lt.c with a fake libcublasLt, host_gemm.c; gemm.c with a fake
 * libcublas and the half copies simulated, host_blas.c) on a fake CUDA runtime
 * (fake_cudart.c) that runs copies only when the plugin synchronises, so it needs no GPU
 * (timer.c's profiler events too, timed on the fake runtime's clock) and runs in CI. The
 * kernels are checked on a GPU by cuda_ops_check. Prints "ok: ..." / "FAIL: ..." lines
 * and "N passed, N failed"; exits 1 on a failure. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lt/accelerator.h>

#include "cuda_impl.h"
#include "fake_cudart.h"
#include "host_check.h"

const lt_accelerator_desc *lt_accelerator_entry(void);

void report(host_check *h, int ok, const char *what, long long detail) {
    printf("%s: %s (%lld)\n", ok ? "ok" : "FAIL", what, detail);
    if (ok)
        h->passed++;
    else
        h->failed++;
}

float *host_random_floats(int64_t n) {
    float *v = malloc((size_t)n * sizeof *v);
    for (int64_t i = 0; i < n; i++) v[i] = (float)rand() / (float)RAND_MAX * 2.0f - 1.0f;
    return v;
}

float *host_upload(host_check *h, const float *host, int64_t n) {
    float *d = h->k->alloc(h->st, (size_t)n * sizeof *d);
    h->k->memcpy_h2d(h->st, d, host, (size_t)n * sizeof *d);
    return d;
}

static unsigned char pattern(int copy, size_t j) { return (unsigned char)(copy * 31 + j * 7); }

/* Copies of assorted sizes (some over half the ring, copied synchronously) from one host
 * buffer that is overwritten right after each call, as the caller may; all must arrive. */
static void check_staging(host_check *h) {
    enum { COPIES = 300 };
    const size_t most = 18u << 20;
    void *dev[COPIES];
    size_t size[COPIES];
    unsigned char *host = malloc(most), *back = malloc(most);
    srand(1);
    for (int i = 0; i < COPIES; i++) {
        size[i] = 1 + (size_t)rand() % (i % 7 == 0 ? most : 3u << 20);
        for (size_t j = 0; j < size[i]; j++) host[j] = pattern(i, j);
        dev[i] = h->k->alloc(h->st, size[i]);
        h->k->memcpy_h2d(h->st, dev[i], host, size[i]);
        memset(host, 0xab, size[i]);
    }
    long long wrong = -1;
    for (int i = 0; i < COPIES; i++) {
        h->k->memcpy_d2h(h->st, back, dev[i], size[i]);
        for (size_t j = 0; j < size[i] && wrong < 0; j++)
            if (back[j] != pattern(i, j)) wrong = i;
        h->k->free(h->st, dev[i]);
    }
    report(h, wrong < 0, "300 h2d copies from a reused pageable buffer arrive (first wrong copy)",
           wrong);
    free(host);
    free(back);
}

/* The same alloc/free pattern again makes no cudaMalloc; nearby sizes share a class. */
static void check_steady_state(host_check *h) {
    static const size_t sizes[] = {100,     512,           513,      4000,    70000,
                                   1 << 20, (1 << 20) + 1, 3u << 20, 5000000, 0};
    enum { N = sizeof sizes / sizeof *sizes };
    long long after_first = 0;
    for (int r = 0; r < 5; r++) {
        void *p[N];
        for (int i = 0; i < N; i++) p[i] = h->k->alloc(h->st, sizes[i]);
        for (int i = 0; i < N; i++) h->k->free(h->st, p[(i * 7) % N]);
        if (r == 0) after_first = fake_mallocs();
    }
    report(h, fake_mallocs() == after_first,
           "the pattern 4 more times makes no cudaMalloc (calls after the first round)",
           after_first);
    void *a = h->k->alloc(h->st, 3000000);
    h->k->free(h->st, a);
    void *b = h->k->alloc(h->st, 3500000); /* the same 4 MiB class */
    report(h, a == b, "a freed 3 MB block serves 3.5 MB", (long long)(b != NULL));
    h->k->free(h->st, b);
}

/* Out of device memory: cached blocks still serve, a new one fails with NULL, and the
 * cache is given back before the one retry. */
static void check_out_of_memory(host_check *h) {
    fake_set_limit(0);
    void *cached = h->k->alloc(h->st, 1 << 20);
    report(h, cached != NULL, "a full device still serves a cached block", 0);
    h->k->free(h->st, cached);
    void *huge = h->k->alloc(h->st, 64u << 20);
    report(h, huge == NULL && h->k->sync(h->st) == LT_OK,
           "out of memory: NULL, and no device error recorded", 0);
    fake_set_limit(SIZE_MAX);
    huge = h->k->alloc(h->st, 64u << 20);
    report(h, huge != NULL, "memory again after out of memory", 0);
    h->k->free(h->st, huge);
}

/* Overlapping device copies in both directions match memmove. */
static void check_overlap(host_check *h) {
    enum { N = 1000, SHIFT = 10 };
    float host[N], back[N];
    float *d = h->k->alloc(h->st, sizeof host);
    for (int dir = 0; dir < 2; dir++) {
        for (int i = 0; i < N; i++) host[i] = (float)i;
        h->k->memcpy_h2d(h->st, d, host, sizeof host);
        float *dst = dir ? d : d + SHIFT, *src = dir ? d + SHIFT : d;
        h->k->memcpy_d2d(h->st, dst, src, (N - SHIFT) * sizeof *d);
        memmove(dir ? host : host + SHIFT, dir ? host + SHIFT : host, (N - SHIFT) * sizeof *host);
        h->k->memcpy_d2h(h->st, back, d, sizeof back);
        report(h, !memcmp(host, back, sizeof host),
               dir ? "memcpy_d2d overlapping, down" : "memcpy_d2d overlapping, up", dir);
    }
    h->k->free(h->st, d);
}

/* A host_alloc buffer is copied from asynchronously (no staging copy: overwriting it before
 * the stream runs changes what arrives) and host_wait waits for that copy, so the loader
 * may then refill it; an offset inside the buffer counts as the buffer. */
static void check_pinned(host_check *h) {
    enum { N = 4096, OFF = 100 };
    unsigned char *p = h->k->host_alloc(h->st, N), back[N];
    unsigned char *d = h->k->alloc(h->st, N);
    for (size_t j = 0; j < N; j++) p[j] = pattern(1, j);
    h->k->memcpy_h2d(h->st, d, p, N);
    h->k->host_wait(h->st, p + OFF);
    for (size_t j = 0; j < N; j++) p[j] = pattern(2, j);
    h->k->memcpy_d2h(h->st, back, d, N);
    int ok = 1;
    for (size_t j = 0; j < N; j++) ok &= back[j] == pattern(1, j);
    report(h, ok, "host_wait waits for the pinned buffer's copy", N);
    h->k->memcpy_h2d(h->st, d + OFF, p + OFF, N - OFF);
    for (size_t j = 0; j < N; j++) p[j] = pattern(3, j);
    h->k->memcpy_d2h(h->st, back, d, N);
    ok = 1;
    for (size_t j = OFF; j < N; j++) ok &= back[j] == pattern(3, j);
    report(h, ok, "memcpy_h2d from a pinned buffer is asynchronous (no staging copy)", N - OFF);
    const cuda_state *cs = h->st;
    report(h, cs->xfer_copies == 2, "pinned uploads go through the copy stream's ring",
           (long long)cs->xfer_copies);
    h->k->host_free(h->st, p);
    h->k->free(h->st, d);
    report(h, h->k->sync(h->st) == LT_OK, "host_free of a host_alloc buffer", 0);
}

/* memory_stats follows the caching allocator: allocated bytes up and down by a block's
 * class size, reserved at least allocated, and the device's total from cudaMemGetInfo. */
static void check_memory_stats(host_check *h) {
    lt_mem_stats a = {0}, b = {0}, c = {0};
    int rc = h->k->memory_stats(h->st, &a);
    void *x = h->k->alloc(h->st, 1000);
    rc |= h->k->memory_stats(h->st, &b);
    h->k->free(h->st, x);
    rc |= h->k->memory_stats(h->st, &c);
    report(h,
           rc == 0 && b.allocated_bytes == a.allocated_bytes + 1024 &&
               c.allocated_bytes == a.allocated_bytes && b.reserved_bytes >= b.allocated_bytes &&
               c.allocated_peak_bytes >= b.allocated_bytes && b.total_bytes > 0 &&
               b.num_device_alloc >= 1,
           "memory_stats follows alloc and free",
           (long long)(b.allocated_bytes - a.allocated_bytes));
}

/* A bad free is recorded and reported by sync, as a device error would be. */
static void check_error_recorded(host_check *h) {
    void *x = h->k->alloc(h->st, 10);
    h->k->free(h->st, x);
    h->k->free(h->st, x);
    report(h, h->k->sync(h->st) == LT_ERR_DEVICE, "a double free surfaces at sync", 0);
}

/* One round of the profiler's timer as liblt drives it: three ops, each between two
 * marks, then the calibration mark and the read-back. 1 when every answer is right. */
static int timer_round(host_check *h, void *a, void *b) {
    const lt_accelerator_desc *k = h->k;
    int ok = 1;
    for (uint32_t i = 0; i < 3; i++) {
        ok &= k->timer_mark(h->st, 2 * i) == 0;
        k->memcpy_d2d(h->st, b, a, 256); /* one op on the fake clock: 1 us */
        ok &= k->timer_mark(h->st, 2 * i + 1) == 0;
    }
    ok &= fake_pending() == 9; /* marking waited for nothing */
    ok &= k->timer_mark(h->st, LT_TIMER_MARKS - 1) == 0;
    double dur = -1.0, back = -1.0;
    ok &= k->timer_elapsed(h->st, 0, 1, &dur) == 0 && dur > 0.00199 && dur < 0.00201;
    ok &= fake_pending() == 7; /* it waited for mark 1 only (of 10 queued) */
    ok &= k->timer_elapsed(h->st, 5, LT_TIMER_MARKS - 1, &back) == 0 && back > 0.00099 &&
          back < 0.00101;
    return ok && fake_pending() == 0;
}

/* The timer slots (timer.c): marks are events on the stream, a read-back waits for its
 * mark only, a second round creates no event, and a mark never recorded or out of range
 * is refused without poisoning the device. */
static void check_timer(host_check *h) {
    void *a = h->k->alloc(h->st, 256), *b = h->k->alloc(h->st, 256);
    int ok = timer_round(h, a, b);
    long long created = fake_events_created();
    ok &= timer_round(h, a, b);
    report(h, ok, "timer marks time three ops from one read-back, waiting for nothing else", 0);
    report(h, fake_events_created() == created,
           "a second round of marks creates no cudaEvent (events created before it)", created);
    double ms;
    int refused = h->k->timer_elapsed(h->st, 100, 1, &ms) != 0 &&
                  h->k->timer_mark(h->st, LT_TIMER_MARKS) != 0 && h->k->sync(h->st) == LT_OK;
    report(h, refused, "an unrecorded or out-of-range mark is refused, the device stays usable", 0);
    h->k->free(h->st, a);
    h->k->free(h->st, b);
}

/* The describe line, from the runtime's, the driver's, cuBLAS's and cuDNN's versions and
 * the GPU. */
static void check_describe(host_check *h) {
    const char *want =
        "CUDA 13.0 (driver 13.1), fake (sm_90, 4 SMs, 0 GiB), cuBLAS 13.1.0, cuDNN 9.1.0";
    const char *got = h->k->describe ? h->k->describe(h->st) : "(no describe slot)";
    report(h, !strcmp(got, want), "describe says runtime, driver, GPU and cuBLAS", 0);
    if (strcmp(got, want)) printf("  got \"%s\"\n  want \"%s\"\n", got, want);
}

int main(void) {
    host_check h = {.k = lt_accelerator_entry()};
    cuda_dnn_soname = FAKE_CUDNN;       /* the plugin opens the fakes instead of libcudnn.so.9 */
    cuda_blaslt_soname = FAKE_CUBLASLT; /* libcublasLt */
    cuda_blas_soname = FAKE_CUBLAS;     /* and libcublas */
    lt_accel_opts opts = {.struct_size = sizeof opts};
    if (h.k->init(&opts, &h.st) != LT_OK) {
        printf("FAIL: init on the fake runtime\n");
        return 1;
    }
    check_describe(&h);
    check_staging(&h);
    check_steady_state(&h);
    check_out_of_memory(&h);
    check_overlap(&h);
    check_pinned(&h);
    check_memory_stats(&h);
    check_cudnn(&h);
    check_gemm_bias(&h);
    check_blas(&h);
    check_timer(&h);
    check_error_recorded(&h);
    h.k->shutdown(h.st);
    check_cudnn_teardown(&h);
    check_gemm_bias_teardown(&h);
    check_blas_teardown(&h);
    printf("%d passed, %d failed\n", h.passed, h.failed);
    return h.failed ? 1 : 0;
}
