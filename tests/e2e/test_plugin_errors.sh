#!/usr/bin/env bash
# Every refusal of the plugin loader, through the real lthost binary.
. "$(dirname "$0")/lib.sh"
P=$LT_TEST_PLUGIN_DIR

expect_error "no module plugin named 'nosuch'.*lthost plugins" fit --module nosuch
expect_error "$TMP/missing.so.*(No such file|cannot open)" fit --module "$TMP/missing.so"
expect_error "not_a_plugin.so.*not a shared object|not_a_plugin.so.*invalid ELF|not_a_plugin.so.*too short" fit --module "$P/not_a_plugin.so"
expect_error "no_entry.so.*lt_module_entry.*LT_MODULE_EXPORT" fit --module "$P/no_entry.so"
expect_error "null_entry.so" fit --module "$P/null_entry.so"
expect_error "abi_major.so.*ABI 2\.0.*speaks 1\.[0-9]+.*rebuild" fit --module "$P/abi_major.so"
expect_error "minor_small.so.*struct_size|minor_small.so.*smaller" fit --module "$P/minor_small.so"
expect_error "too_small.so.*(8 bytes|struct_size|smaller)" fit --module "$P/too_small.so"
expect_error "profiler_only.so is a profiler plugin.*--profiler" fit --module "$P/profiler_only.so"
expect_error "mlp.so is a module plugin" fit --module mlp --accel "$BUILD_DIR/plugins/models/mlp/mlp.so"
expect_error "no accelerator plugin named 'nosuch_accel'" fit --module mlp --accel nosuch_accel

run_lthost plugins
[ "$rc" -eq 0 ] || fail "lthost plugins exited $rc"
for want in "module *mlp" "accelerator *cpu" "strategy *single" "data *fashion_mnist"; do
    grep -q -E "$want" "$TMP/out" || { cat "$TMP/out"; fail "lthost plugins does not list /$want/"; }
done
echo "all loader refusals reported cleanly"

# Kernel tables: a NULL required slot is refused at open, naming it; NULL optional slots
# (sync, clamp) run, and only what needs one says so.
common_fit=(--module mlp --limit_train_batches 2 --limit_val_batches 1 --max_epochs 1 --logger false
            --enable_checkpointing false --test_after_fit false --enable_progress_bar false)
expect_error "nogemm_cpu.so: accelerator 'cpu' leaves the required slot 'gemm' NULL" \
    fit "${common_fit[@]}" --accel "$LT_TEST_PLUGIN_DIR/nogemm_cpu.so"
expect_success fit "${common_fit[@]}" --accel "$LT_TEST_PLUGIN_DIR/bare_cpu.so"
expect_error "no clamp kernel, so it cannot clip gradients by value" \
    fit "${common_fit[@]}" --accel "$LT_TEST_PLUGIN_DIR/bare_cpu.so" --gradient_clip_val 0.5 --gradient_clip_algorithm value
# A table built against ABI 1.0 (shorter, without the 1.1 slots) still trains, and
# without the describe slot the summary has no line saying what it runs.
expect_success fit "${common_fit[@]}" --accel "$LT_TEST_PLUGIN_DIR/abi10_cpu.so"
! grep -q "accelerator: " "$TMP/out" || { cat "$TMP/out"; fail "a 1.0 table has no describe slot, yet a line says what it runs"; }
expect_success fit "${common_fit[@]}" --accel "$LT_TEST_PLUGIN_DIR/bare_cpu.so"
grep -q "^cpu accelerator: OpenBLAS .* kernels.*, [0-9]* threads*$" "$TMP/out" || { cat "$TMP/out"; fail "the fit summary does not say what the cpu accelerator runs"; }
# A 1.1 table built before the pinned-memory and memory-statistics slots were appended.
expect_success fit "${common_fit[@]}" --accel "$LT_TEST_PLUGIN_DIR/abi11early_cpu.so"
echo "ok: required slots are checked at open; optional ones may be NULL; a 1.0 table and an early 1.1 one load"

# liblt says what a file is; lthost names the flag that takes it.
expect_error "is a profiler plugin .*not a module.* \(pass it with --profiler\)" \
    fit --module "$LT_TEST_PLUGIN_DIR/profiler_only.so"
expect_error "is a module plugin .*not a data.* \(pass it with --module\)" \
    fit --module mlp --data "$LT_TEST_MLP_PLUGIN"
