/* PyTorch fixtures (the .safetensors files in tests/fixtures, made by tests/reference): opening them,
 * comparing lthost's tensors with theirs, and replaying their recorded training runs.
 * Shared by the parity and layer tests. */
#ifndef LT_TEST_FIXTURE_H
#define LT_TEST_FIXTURE_H

#include <lt/safetensors.h>

#include "test_util.h"

/* The accelerators every fixture runs on: test_open_accel(i, ...) for i < TEST_ACCELERATORS. */
#define TEST_ACCELERATORS 2
/* Accelerator i's device, or NULL with a note ("<suite>: cuda accelerator not available,
 * skipped (why)") when it is not built or has no device; cpu (i = 0) must open. */
lt_device_t *test_open_accel(int i, const char *suite);
/* $LT_FIXTURE_DIR/name, checked to be an lthost-parity-1 fixture. */
lt_st_file_t *test_open_fixture(const char *name);
/* Tensor "<c>/<key>" of a fixture, or NULL. */
const lt_st_tensor *test_fixture_find(lt_st_file_t *f, const char *c, const char *key);
/* |got - want| <= atol + rtol |want| everywhere (an int64 scalar: equal). */
void test_compare(const char *what, const lt_tensor_t *got, const lt_st_tensor *want, double rtol,
                  double atol);
/* The same, except that a fraction stray_fraction of the elements (rounded down) may be off
 * by up to stray_factor times the tolerance (they are counted on stdout). */
void test_compare_strays(const char *what, const lt_tensor_t *got, const lt_st_tensor *want,
                         double rtol, double atol, double stray_fraction, double stray_factor);
/* Batch k of a training fixture (x_u8 normalised as the generator did, y; or int64
 * x_tokens and y (B, T) of a text model's fixture). */
lt_batch_t test_fixture_batch(lt_st_file_t *f, lt_arena_t *arena, int64_t k);
/* The fixture's recorded steps on ctx (configure_optimizers already run), as lthost's
 * trainer drives them: each step's loss within 1e-4 relative of torch's "losses". */
void test_replay_training(lt_ctx_t *ctx, const lt_module_desc *m, lt_st_file_t *f);
/* Model plugin `name` (e.g. "cnn"): $LT_TEST_<NAME>_PLUGIN, or <name>/<name>.so next to the
 * mlp plugin of the same build ($LT_TEST_MLP_PLUGIN). */
lt_plugin_t *test_open_model_plugin(const char *name);
/* Parameter or buffer `name` of ctx, or NULL. */
lt_tensor_t *test_state_tensor(lt_ctx_t *ctx, const char *name);
/* Each fixture tensor "<prefix><name>" copied into ctx's parameter or buffer <name> (which
 * must exist); how many. */
int test_load_state(lt_ctx_t *ctx, lt_st_file_t *f, const char *prefix);
/* Each fixture tensor "<prefix><name>" against ctx's parameter or buffer <name>. */
void test_compare_state(lt_ctx_t *ctx, lt_st_file_t *f, const char *prefix, double rtol,
                        double atol);
/* test_compare_strays for each of them. */
void test_compare_state_strays(lt_ctx_t *ctx, lt_st_file_t *f, const char *prefix, double rtol,
                               double atol, double stray_fraction, double stray_factor);

/* ---- op suites: one case per fixture group ----------------------------------------- */

typedef void (*test_case_fn)(lt_st_file_t *f, const char *c, lt_arena_t *arena);
/* fn(f, case, arena) for each case named in the comma-separated metadata `list` of fixture
 * `file`, on dev, the arena reset after each; at least min_cases of them. */
void test_fixture_each_case(lt_device_t *dev, const char *file, const char *list, int min_cases,
                            test_case_fn fn);
/* Inputs "<c>/in<i>" for i < n (int64 ones as LT_I64, the rest float32; missing ones NULL),
 * each requiring grad where the fixture has its "<c>/grad<i>". */
void test_case_inputs(lt_st_file_t *f, const char *c, lt_arena_t *arena, int n, lt_tensor_t **in);
/* Tolerances of test_case_check: the output's, the gradients'. */
typedef struct {
    double out_rtol, out_atol, grad_rtol, grad_atol;
} test_case_tol;
/* out against "<c>/out"; when an input requires grad, backward of sum(out * "<c>/w") and
 * each such input's gradient against "<c>/grad<i>". */
void test_case_check(lt_st_file_t *f, const char *c, lt_arena_t *arena, lt_tensor_t *out, int n,
                     lt_tensor_t *const *in, test_case_tol tol);

#endif
