/* fake_cudart.h — the test's handles on fake_cudart.c. */
#ifndef LT_FAKE_CUDART_H
#define LT_FAKE_CUDART_H

#include <stddef.h>

/* cudaMalloc fails once this many bytes are held (SIZE_MAX: never). */
void fake_set_limit(size_t bytes);
/* cudaMalloc calls that succeeded. */
long long fake_mallocs(void);
/* cudaEventCreate* calls that succeeded. */
long long fake_events_created(void);
/* Copies and event records queued and not run yet. */
int fake_pending(void);
/* Runs every queued op now, as a stream synchronisation would; the fake libraries'
 * flush pointers (fake_cudnn_flush, fake_cublaslt_flush) are set to it. */
void fake_run_pending(void);
typedef void (*fake_flush_fn)(void);

#endif
