#!/usr/bin/env bash
# The acceptance run: 5 epochs of the default MLP reach >= 87% test accuracy.
. "$(dirname "$0")/lib.sh"
need_dataset
[ -z "${LT_E2E_SANITIZED:-}" ] || skip "full training is only run in the optimised build"

expect_success fit --module mlp --data fashion_mnist --max_epochs 5 --seed_everything 42
cat "$TMP/out"
acc=$(sed -n 's/^Test:.*test_acc=\([0-9.]*\).*/\1/p' "$TMP/out")
[ -n "$acc" ] || fail "no test accuracy printed"
awk -v a="$acc" 'BEGIN { exit !(a >= 0.87) }' || fail "test accuracy $acc < 0.87"
echo "test accuracy $acc"
