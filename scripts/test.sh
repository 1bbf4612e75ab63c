#!/usr/bin/env bash
# The README's second command (and CI's): install what is missing, build twice (optimised,
# and with AddressSanitizer + UBSan), run the unit and e2e tests on both builds, then each
# libFuzzer harness of a third build (clang) for LT_FUZZ_SECONDS (default 45) apiece.
# The last line is "N passed, N failed, N skipped".
set -uo pipefail
cd "$(dirname "$0")/.."
src=$(pwd)
bash scripts/deps.sh || exit 1
bash scripts/build.sh build || exit 1
# The sanitizer build leaves NCCL out (its DDP tests skip: ASan and Open MPI do not mix),
# which also compiles the ddp strategy as it is built on machines without CUDA, and the
# cuda accelerator (a second nvcc pass for kernels ASan does not see; its test skips there).
bash scripts/build.sh build-asan -Db_sanitize=address,undefined -Dbuildtype=debugoptimized \
    -Db_lundef=false -Dnccl=disabled -Dcuda=disabled || exit 1
bash tests/fuzz/build.sh build-fuzz || exit 1

passed=0 failed=0 skipped=0 failures=()
# run_test NAME COMMAND...: 0 passes, 77 skips, anything else fails (output shown).
run_test() {
    local name=$1 log rc=0
    shift
    log=$(mktemp)
    local t0=$SECONDS
    "$@" >"$log" 2>&1 || rc=$?
    if [ $rc -eq 0 ]; then
        passed=$((passed + 1)); echo "PASS  $name ($((SECONDS - t0)) s)"
    elif [ $rc -eq 77 ]; then
        skipped=$((skipped + 1)); echo "SKIP  $name: $(grep -m1 SKIP "$log")"
    else
        failed=$((failed + 1)); failures+=("$name"); echo "FAIL  $name (exit $rc)"
        sed 's/^/      /' "$log" | tail -40
    fi
    rm -f "$log"
}

# The Python that runs the ONNX exports in onnxruntime (test_export): onnx, onnxruntime and
# numpy from PyPI in tests/reference/.onnxvenv, made once (13-15 s, bench/RESULTS.md); under CI=true a
# failure to make it fails here and in test_export, elsewhere both skip that comparison.
run_test "setup: onnx venv (tests/reference/setup_onnx_venv.sh)" bash tests/reference/setup_onnx_venv.sh

for build in build build-asan; do
    export LTHOST=$src/$build/host/lthost BUILD_DIR=$src/$build SRC_DIR=$src
    # cuda (where built) for the unit parity suite, which runs on every accelerator it finds
    export LT_PLUGIN_PATH=$src/$build/plugins/accelerators/cpu:$src/$build/plugins/accelerators/cuda
    export LT_TEST_PLUGIN_DIR=$src/$build/tests/e2e/plugins
    export LT_FIXTURE_DIR=$src/tests/fixtures LT_TEST_MLP_PLUGIN=$src/$build/plugins/models/mlp/mlp.so
    export LT_TEST_ADVANCED_PROFILER=$src/$build/plugins/profilers/advanced/advanced.so
    # intercept_tls_get_addr=0: GCC 12's LeakSanitizer misreads a dlopen'd library's dynamic
    # TLS block as a glibc 2.19 one and its tracer segfaults (google/sanitizers#1322); the
    # cpu plugin's oneDNN threads hit it. Leak checking itself stays on.
    export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:exitcode=99:intercept_tls_get_addr=0
    export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1:exitcode=98
    if [ $build = build-asan ]; then export LT_E2E_SANITIZED=1; else unset LT_E2E_SANITIZED; fi
    # Check's per-case timeouts (4 s unless a case sets more) catch hangs; a shared CI
    # machine runs slower, and ASan 2-3x slower still, so they stretch instead of failing.
    export CK_TIMEOUT_MULTIPLIER=$([ $build = build-asan ] && echo 5 || echo 2)
    run_test "$build: unit" "$src/$build/tests/unit_tests"
    for t in tests/e2e/test_*.sh; do
        run_test "$build: $(basename "$t" .sh)" bash "$t"
    done
done

# Over a copy of the checked-in corpus; a finding fails the test and leaves its
# reproducer under /tmp (tests/fuzz/README.md).
for h in fuzz_safetensors fuzz_ckpt_restore fuzz_idx fuzz_config; do
    run_test "fuzz: $h" bash tests/fuzz/run.sh "$h" "${LT_FUZZ_SECONDS:-45}"
done

# The code's form: clang-format leaves every file unchanged, clang-tidy's complexity bound.
run_test "lint: clang-format, clang-tidy" bash scripts/lint.sh build

[ ${#failures[@]} -eq 0 ] || printf 'failed: %s\n' "${failures[@]}"
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
