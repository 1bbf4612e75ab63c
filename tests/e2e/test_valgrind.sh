#!/usr/bin/env bash
# A short fit, then a resume from its checkpoint, under valgrind's memcheck: no invalid
# access, no definite leak.
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
valgrind --quiet --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=9 \
    "$LTHOST" fit --module mlp --max_epochs 2 --limit_train_batches 8 --limit_val_batches 2 \
    --test_after_fit false --seed_everything 1 --threads 1 --ckpt_path last >"$TMP/out" 2>&1 || rc=$?
[ $rc -eq 0 ] || { cat "$TMP/out"; fail "valgrind reported errors resuming from a checkpoint (exit $rc)"; }
grep -q 'Resuming fit after epoch 0' "$TMP/out" || { cat "$TMP/out"; fail "the resumed run did not resume"; }
echo "valgrind clean"
