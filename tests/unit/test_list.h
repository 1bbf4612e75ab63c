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
    X(prof_timer) /* issue 18: device-timed spans */                                               \
    X(ddp_support)                                                                                 \
    X(trainer)                                                                                     \
    X(layers)                                                                                      \
    X(buffers)                                                                                     \
    /* trainer flags (issue 23: wt-flags) */                                                       \
    X(anomaly)                                                                                     \
    X(memory)                                                                                      \
    X(trainer_flags)                                                                               \
    X(log_opts)                                                                                    \
    /* ONNX export (issue #22) */                                                                  \
    X(export)                                                                                      \
    /* issue 19 (gen): conv_transpose2d, BCE losses; lt_log_image */                               \
    X(gen_ops)                                                                                     \
    X(log_image)                                                                                   \
    /* issue 19: group_norm, losses, custom ops */                                                 \
    X(losses)                                                                                      \
    X(custom_op)                                                                                   \
    X(conv_direct) /* issue 19: the accelerator's direct conv2d slots (oneDNN) */                  \
    X(sync_batchnorm)                                                                              \
    X(logger_kind) /* issue #23: logger plugin kind, mlflow, lr_find */                            \
    /* -- #23: optimizers, param groups, schedulers -- */                                          \
    X(optim_more)                                                                                  \
    X(sched_more)                                                                                  \
    X(dtypes) /* uint8 / half data, several dataloaders (#21) */                                   \
    X(text_ops)                                                                                    \
    X(swa_support)  /* #23: batch norm statistics and float32 state for SWA */                     \
    X(zero_grad)    /* issue #20: what zero_grad guarantees */                                     \
    X(gemm_split)   /* issue #20: mid-sized GEMMs cut into blocks over the threads */              \
    X(gemm_batched) /* #18: a batch of GEMMs in one slot call (attention's products) */            \
    X(layer_norm)   /* #18: layer norm in one pass (the layer_norm slots) */                       \
    X(gemm_small)   /* issue #20: unpacked small-GEMM tiles and the cpu worker pool */             \
    X(vmath)        /* #19: the cpu accelerator's vectorisable exp and GELU */                     \
    X(fastdiv)      /* #18: the cuda accelerator's division by a launch-time divisor */            \
    X(bs_search)    /* #23: BatchSizeFinder's power / binsearch sequence */
