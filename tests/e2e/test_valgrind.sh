#!/usr/bin/env bash
# A short fit under valgrind's memcheck: no invalid access, no definite leak.
. "$(dirname "$0")/lib.sh"
need_dataset
[ -z "${LT_E2E_SANITIZED:-}" ] || skip "valgrind runs on the optimised build (ASan covers this one)"
command -v valgrind >/dev/null || skip "valgrind is not installed"

rc=0
valgrind --quiet --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=9 \
    "$LTHOST" fit --module mlp --max_epochs 1 --limit_train_batches 8 --limit_val_batches 2 \
    --limit_test_batches 2 --seed_everything 1 --threads 1 >"$TMP/out" 2>&1 || rc=$?
[ $rc -eq 0 ] || { cat "$TMP/out"; fail "valgrind reported errors (exit $rc)"; }
grep -q '^Test:' "$TMP/out" || { cat "$TMP/out"; fail "the run did not finish"; }
echo "valgrind clean"
