/* Finite-difference checks of an op's gradients, on the CPU test device (test_open). */
#ifndef LT_TEST_FD_H
#define LT_TEST_FD_H

#include "test_util.h"

#define FD_MAX_IN 4

/* The op under test on float inputs in[0..nin) (made in test_arena); other inputs
 * (indices, masks) it makes itself. */
typedef lt_tensor_t *(*fd_fn)(lt_tensor_t **in);
typedef struct fd_shape {
    int ndim;
    int64_t shape[4];
} fd_shape;

/* Each input's autograd gradient of sum(op(in) * w) against central differences with
 * step 1e-2, at every element; inputs uniform in [lo, hi) (at most 4096 output
 * elements). */
void fd_check(const char *what, fd_fn op, int nin, const fd_shape *s, float lo, float hi);

#endif
