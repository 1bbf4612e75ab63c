/* Finite-difference gradient checks: an op's autograd gradients against central
 * differences of its own forward, at every element of every input. */
#ifndef LT_TEST_FD_H
#define LT_TEST_FD_H

#include "test_util.h"

#define TEST_FD_MAX_IN 5

typedef lt_tensor_t *(*test_fd_fn)(lt_tensor_t **in);
/* One input: its shape and the range its values are drawn from ([-2, 2) when lo == hi). */
typedef struct {
    int ndim;
    int64_t shape[4];
    float lo, hi;
} test_fd_input;

/* d sum(op(in) * w) / d in[i] by autograd against (f(x + h) - f(x - h)) / 2h, on
 * test_arena, to 2e-2 relative plus 5e-3 absolute (float32 forward passes). */
void test_fd_check(const char *what, test_fd_fn op, int nin, const test_fd_input *in, float h);
/* The same with every input's values distinct multiples of 0.05 from -1 instead of drawn
 * (no max-pool ties within a step). */
void test_fd_check_spaced(const char *what, test_fd_fn op, int nin, const test_fd_input *in,
                          float h);

#endif
