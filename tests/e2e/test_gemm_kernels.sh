#!/usr/bin/env bash
# Issue #20: the cpu accelerator runs the CPU's best OpenBLAS kernels and says which, a
# user's OPENBLAS_CORETYPE wins or is refused in one line when the CPU cannot run it, and
# every kernel family this CPU runs passes the GEMM-bound unit suites (PyTorch parity
# fixtures included), as do lthost's own small-GEMM tiles (LT_CPU_GEMM).
source "$(dirname "$0")/lib.sh"
cpu=$BUILD_DIR/plugins/accelerators/cpu/cpu.so
units=$BUILD_DIR/tests/unit_tests
[ -x "$units" ] || skip "no unit_tests in $BUILD_DIR (built with -Dtests=false)"

# The kernels `lthost plugins` says the cpu accelerator runs (empty: it did not start).
kernels_of() { sed -n -E 's/.* runs OpenBLAS [^ ]+ \(([A-Za-z0-9()]+) kernels.*/\1/p' "$TMP/out" | head -1; }

env -u OPENBLAS_CORETYPE "$LTHOST" plugins >"$TMP/out" 2>&1 || { cat "$TMP/out"; fail "lthost plugins"; }
best=$(kernels_of)
[ -n "$best" ] || { cat "$TMP/out"; fail "lthost plugins does not say which OpenBLAS kernels the cpu accelerator runs"; }
grep -q -E "runs OpenBLAS .*, [0-9]+ threads?$" "$TMP/out" || { cat "$TMP/out"; fail "no thread count"; }
echo "ok: lthost plugins: cpu runs $best kernels"

# OpenBLAS's own pick made to look like Prescott: the accelerator reloads it with $best.
need_dataset
env -u OPENBLAS_CORETYPE "$LTHOST" fit --module mlp --data fashion_mnist --fast_dev_run 1 --threads 1 \
    --accelerator "$LT_TEST_PLUGIN_DIR/fallback_cpu.so" >"$TMP/out" 2>&1 || { cat "$TMP/out"; fail "fit on fallback_cpu"; }
line=$(grep '^cpu accelerator: ' "$TMP/out") || { cat "$TMP/out"; fail "the fit summary does not say what the cpu accelerator runs"; }
if [ "$best" != Prescott ]; then
    echo "$line" | grep -q "($best kernels for this CPU's .*, not its Prescott fallback)\(, small GEMMs on own [^,]* tiles\)\{0,1\}\(, oneDNN [^,]*\)\{0,1\}, 1 thread$" ||
        fail "a Prescott fallback was not replaced by $best: $line"
fi
echo "ok: $line"

# Each kernel family: refused in one line when the CPU lacks its instructions, else
# named in the summary and run through the unit suites that go through the GEMM (on the
# sanitized build the PyTorch parity suite only: the others add time, not kernels), with
# LT_CPU_GEMM=openblas so that OpenBLAS computes every GEMM, small ones included.
suites="parity optim autograd tensor"
[ -n "${LT_E2E_SANITIZED:-}" ] && suites=parity
export CK_DEFAULT_TIMEOUT=${CK_DEFAULT_TIMEOUT:-600} # Check's 4 s fails a loaded machine
ran=0
for core in Prescott Nehalem Sandybridge Bulldozer Haswell Zen SkylakeX Cooperlake SapphireRapids; do
    OPENBLAS_CORETYPE=$core "$LTHOST" plugins >"$TMP/out" 2>&1 || { cat "$TMP/out"; fail "lthost plugins under $core"; }
    if grep -q "cannot start: cpu accelerator: OPENBLAS_CORETYPE=$core needs .*, which this CPU lacks" "$TMP/out"; then
        OPENBLAS_CORETYPE=$core run_lthost fit --module mlp --fast_dev_run 1
        [ "$rc" -eq 1 ] && [ "$(grep -c '^lthost: error: .*OPENBLAS_CORETYPE' "$TMP/out")" -eq 1 ] ||
            { cat "$TMP/out"; fail "fit under OPENBLAS_CORETYPE=$core: expected one error line and exit 1, got $rc"; }
        echo "skip: $core (this CPU lacks its instructions; refused: $(grep -o 'needs .*lacks' "$TMP/out"))"
        continue
    fi
    got=$(kernels_of)
    if [ "${got,,}" != "${core,,}" ]; then
        echo "skip: $core (this OpenBLAS runs $got for it)"
        continue
    fi
    for suite in $suites; do
        LT_CPU_GEMM=openblas OPENBLAS_CORETYPE=$core CK_RUN_SUITE=$suite "$units" >"$TMP/unit" 2>&1 ||
            { cat "$TMP/unit"; fail "unit suite $suite under OPENBLAS_CORETYPE=$core"; }
    done
    echo "ok: $core kernels pass the unit suites: $suites"
    ran=$((ran + 1))
done
[ "$ran" -ge 1 ] || fail "no kernel family ran"
echo "gemm kernels: $ran families pass on this CPU; $best is the default"

# lthost's own small-GEMM tiles: each set the CPU runs passes the same suites; one it
# cannot run, or a name it does not know, is one error line and exit 1.
for tiles in avx512 avx2; do
    LT_CPU_GEMM=$tiles "$LTHOST" plugins >"$TMP/out" 2>&1 || { cat "$TMP/out"; fail "lthost plugins under LT_CPU_GEMM=$tiles"; }
    if grep -q "cannot start: cpu accelerator: LT_CPU_GEMM=$tiles needs .*, which this CPU lacks" "$TMP/out"; then
        echo "skip: LT_CPU_GEMM=$tiles (this CPU lacks its instructions)"
        continue
    fi
    grep -q "small GEMMs on own [^ ]* tiles" "$TMP/out" || { cat "$TMP/out"; fail "LT_CPU_GEMM=$tiles: the line does not name the tiles"; }
    for suite in $suites; do
        LT_CPU_GEMM=$tiles CK_RUN_SUITE=$suite "$units" >"$TMP/unit" 2>&1 ||
            { cat "$TMP/unit"; fail "unit suite $suite under LT_CPU_GEMM=$tiles"; }
    done
    echo "ok: LT_CPU_GEMM=$tiles tiles pass the unit suites: $suites"
done
LT_CPU_GEMM=fastest run_lthost fit --module mlp --fast_dev_run 1
[ "$rc" -eq 1 ] && [ "$(grep -c "^lthost: error: .*LT_CPU_GEMM='fastest' is not one of" "$TMP/out")" -eq 1 ] ||
    { cat "$TMP/out"; fail "LT_CPU_GEMM=fastest: expected one error line and exit 1, got $rc"; }
echo "ok: an unknown LT_CPU_GEMM is refused in one line"
