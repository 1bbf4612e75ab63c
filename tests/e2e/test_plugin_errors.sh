#!/usr/bin/env bash
# Every refusal of the plugin loader, through the real lthost binary.
. "$(dirname "$0")/lib.sh"
P=$LT_TEST_PLUGIN_DIR

expect_error "no module plugin named 'nosuch'.*lthost plugins" fit --module nosuch
expect_error "$TMP/missing.so.*(No such file|cannot open)" fit --module "$TMP/missing.so"
expect_error "not_a_plugin.so.*not a shared object|not_a_plugin.so.*invalid ELF|not_a_plugin.so.*too short" fit --module "$P/not_a_plugin.so"
expect_error "no_entry.so.*lt_module_entry.*LT_MODULE_EXPORT" fit --module "$P/no_entry.so"
expect_error "null_entry.so" fit --module "$P/null_entry.so"
expect_error "abi_major.so.*ABI 2\.0.*1\.0.*rebuild" fit --module "$P/abi_major.so"
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
