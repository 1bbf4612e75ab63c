/* Every unit-test suite; one file tests/unit/test_<name>.c defines suite_<name>(). */
#define LT_TEST_SUITES(X)                                                                          \
    X(rng)                                                                                         \
    X(tensor)                                                                                      \
    X(autograd)                                                                                    \
    X(optim)                                                                                       \
    X(amp)                                                                                         \
    X(scheduler)                                                                                   \
    X(idx)                                                                                         \
    X(loader)                                                                                      \
    X(safetensors)                                                                                 \
    X(state)                                                                                       \
    X(parity)                                                                                      \
    X(blas_core)                                                                                   \
    X(plugin)                                                                                      \
    X(config)                                                                                      \
    X(flags)                                                                                       \
    X(loggers)                                                                                     \
    X(checkpoint)                                                                                  \
    X(ckpt_values)                                                                                 \
    X(prof)                                                                                        \
    X(ddp_support)                                                                                 \
    X(trainer)                                                                                     \
    X(layers)                                                                                      \
    X(buffers)                                                                                     \
    X(text_ops)
