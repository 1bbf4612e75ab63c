# Shared by the e2e tests: paths from tests/run.sh, and assertions that print why.
# LTHOST, BUILD_DIR, SRC_DIR, LT_TEST_PLUGIN_DIR come from the environment.
set -u
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
cd "$TMP" || exit 1  # lthost writes lightning_logs/ and predictions into the current folder

fail() { echo "FAIL: $*" >&2; exit 1; }
skip() { echo "SKIP: $*"; exit 77; }

# run_lthost ARGS...: runs lthost, keeps stdout+stderr in $TMP/out and the code in $rc.
# run_lthost ARGS...: rc and $TMP/out; LTHOST_TIMEOUT seconds at most (0, the default: none).
run_lthost() {
    rc=0
    timeout --signal=KILL "${LTHOST_TIMEOUT:-0}" "$LTHOST" "$@" >"$TMP/out" 2>&1 || rc=$?
}

# expect_error PATTERN ARGS...: lthost must fail cleanly (exit 1 or 2, never a signal)
# with exactly one "lthost: error:" line matching PATTERN, within 300 s (an input that
# should be refused but trains instead fails here rather than running on).
expect_error() {
    local pattern=$1
    shift
    LTHOST_TIMEOUT=300 run_lthost "$@"
    [ "$rc" -eq 1 ] || [ "$rc" -eq 2 ] || { cat "$TMP/out"; fail "lthost $* exited $rc, expected 1 or 2"; }
    local n
    n=$(grep -c '^lthost: error: ' "$TMP/out" || true)
    [ "$n" -eq 1 ] || { cat "$TMP/out"; fail "lthost $*: expected one error line, got $n"; }
    grep -q -E -- "$pattern" "$TMP/out" || { cat "$TMP/out"; fail "lthost $*: no match for /$pattern/"; }
    echo "ok: lthost $* -> $(grep '^lthost: error: ' "$TMP/out" | cut -c1-150)"
}

expect_success() {
    run_lthost "$@"
    [ "$rc" -eq 0 ] || { cat "$TMP/out"; fail "lthost $* exited $rc"; }
}

FMNIST=/usr/share/datasets/fashion-mnist
need_dataset() { [ -f "$FMNIST/train-images-idx3-ubyte.gz" ] || skip "Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)"; }
