#!/usr/bin/env bash
# A short fit prints losses and accuracy; the same seed gives the same numbers twice,
# a different seed different ones; validate and test run on their own.
. "$(dirname "$0")/lib.sh"
need_dataset

args=(fit --module mlp --max_epochs 2 --limit_train_batches 30 --limit_val_batches 5
      --limit_test_batches 5 --threads 2)
expect_success "${args[@]}" --seed_everything 7
grep -E '^(Epoch|Test)' "$TMP/out" | sed 's/ *\[.*//' >"$TMP/a"
expect_success "${args[@]}" --seed_everything 7
grep -E '^(Epoch|Test)' "$TMP/out" | sed 's/ *\[.*//' >"$TMP/b"
expect_success "${args[@]}" --seed_everything 8
grep -E '^(Epoch|Test)' "$TMP/out" | sed 's/ *\[.*//' >"$TMP/c"
cat "$TMP/a"
[ "$(wc -l <"$TMP/a")" -eq 3 ] || fail "expected 2 epoch lines and a test line"
grep -q 'Epoch 2/2  train_loss=[0-9.]*  val_loss=[0-9.]*  val_acc=0\.[0-9]*' "$TMP/a" || fail "epoch line format"
grep -q 'Test:  test_loss=[0-9.]*  test_acc=0\.[0-9]*' "$TMP/a" || fail "test line format"
cmp -s "$TMP/a" "$TMP/b" || { diff "$TMP/a" "$TMP/b"; fail "same seed, different results"; }
cmp -s "$TMP/a" "$TMP/c" && fail "different seeds gave identical results"
grep -q "Seed set to 7" "$TMP/out" && fail "seed 8 run printed seed 7"

# Training must have learned something in 60 steps (10 classes: chance is 0.1).
acc=$(sed -n 's/.*val_acc=\([0-9.]*\).*/\1/p' "$TMP/a" | tail -1)
awk -v a="$acc" 'BEGIN { exit !(a > 0.5) }' || fail "val_acc $acc after 60 steps"

expect_success validate --module mlp --limit_val_batches 3 --seed_everything 1
grep -q '^Validate:  val_loss=[0-9.]*  val_acc=' "$TMP/out" || fail "validate output: $(cat "$TMP/out")"
expect_success test --module mlp --limit_test_batches 3 --seed_everything 1
grep -q '^Test:  test_loss=[0-9.]*  test_acc=' "$TMP/out" || fail "test output: $(cat "$TMP/out")"

# SGD works too, and hyper-parameters from flags reach the module.
expect_success fit --module mlp --model.optimizer sgd --model.lr 0.05 --model.hidden 64 --max_epochs 1 \
    --limit_train_batches 20 --limit_val_batches 2 --test_after_fit false --seed_everything 1
grep -q 'parameters' "$TMP/out" || fail "no model line"
grep -q '^Test' "$TMP/out" && fail "--test_after_fit false still ran the test loop"
# hidden=64: 784*64+64 + 64*128+128 + 128*10+10 = 59850 parameters
grep -q '59850 parameters' "$TMP/out" || fail "--model.hidden 64 not applied: $(head -3 "$TMP/out")"

# --fast_dev_run N: N batches of each loop, one epoch, whatever the other limits say.
expect_success fit --module mlp --fast_dev_run 2 --max_epochs 7 --limit_train_batches 50 --seed_everything 1
grep -q 'Running in `fast_dev_run` mode: will run the requested loop using 2 batch(es)' "$TMP/out" || fail "no fast_dev_run notice"
grep -q '^Epoch 1/1 .*\[2 steps' "$TMP/out" || fail "fast_dev_run 2 did not run 2 steps of 1 epoch: $(cat "$TMP/out")"
grep -q '^Test: .*\[2 batches' "$TMP/out" || fail "fast_dev_run 2 did not test 2 batches"
[ "$(grep -c '^Epoch' "$TMP/out")" -eq 1 ] || fail "fast_dev_run ran more than one epoch"

# A diverging run stops with a clear error instead of training on NaN.
expect_error "training loss is (nan|inf|-inf).*lower --model.lr" fit --module mlp --model.optimizer sgd \
    --model.lr 1e12 --max_epochs 1 --limit_train_batches 50 --seed_everything 1
echo "fit is deterministic"
