/* fastdiv.h — division by a divisor fixed at launch, as a multiply-high, an add and a
 * shift (Granlund and Montgomery's method, as torch's IntDivider): a GPU has no integer
 * divider, and the 64-bit division it emulates costs tens of instructions, which in an
 * elementwise kernel's index arithmetic makes it compute-bound. Exact for a dividend and
 * a divisor below 2^31. Plain C as well, so the unit tests check it on the host. */
#ifndef LT_CUDA_FASTDIV_H
#define LT_CUDA_FASTDIV_H

#include <stdint.h>

#ifdef __CUDACC__
#define CUDA_HOST_DEVICE __host__ __device__
#else
#define CUDA_HOST_DEVICE
#endif

typedef struct cuda_fastdiv {
    uint32_t divisor, magic, shift;
} cuda_fastdiv;

/* For 1 <= d < 2^31. */
static inline cuda_fastdiv cuda_fastdiv_make(uint32_t d) {
    uint32_t shift = 0;
    while (((uint64_t)1 << shift) < d) shift++;
    const uint64_t magic = ((uint64_t)1 << 32) * (((uint64_t)1 << shift) - d) / d + 1;
    cuda_fastdiv f = {d, (uint32_t)magic, shift};
    return f;
}

/* n / f.divisor, for n < 2^31 (then t + n cannot overflow). */
CUDA_HOST_DEVICE static inline uint32_t cuda_fastdiv_div(cuda_fastdiv f, uint32_t n) {
#ifdef __CUDA_ARCH__
    const uint32_t t = __umulhi(n, f.magic);
#else
    const uint32_t t = (uint32_t)(((uint64_t)n * f.magic) >> 32);
#endif
    return (t + n) >> f.shift;
}

#endif
