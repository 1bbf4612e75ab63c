#!/usr/bin/env bash
# Errors that a step or hook records (lt_set_error inside an SDK call) and then drops by
# returning its loss or LT_OK anyway stop the run with that error, naming the hook, the
# epoch and the batch (tests/e2e/plugins/misuse.c makes one mistake per --model.mode).
# Also: a non-scalar "loss" is named as such, a step that returns NULL and a missing
# validation split are each warned about once, and callbacks see the epoch's validation
# metrics at on_validation_epoch_end.
. "$(dirname "$0")/lib.sh"
need_dataset
mod=$LT_TEST_PLUGIN_DIR/misuse.so
common=(fit --module "$mod" --max_epochs 1 --limit_train_batches 4 --limit_val_batches 2
        --num_sanity_val_steps 0 --enable_checkpointing false --logger false
        --enable_progress_bar false)

expect_error "misuse\.training_step failed at epoch 0, batch 1: lt_log\('logits'\): expected a one-element float32 tensor, got a float32 tensor of shape \(64, 10\)" \
    "${common[@]}" --model.mode log_matrix
expect_error "misuse\.on_train_batch_start failed at epoch 0, batch 1: misuse: parameter 'late\.bias': declared after setup\(\)" \
    "${common[@]}" --model.mode late_param
expect_error "misuse\.training_step failed at epoch 0, batch 1: lt_log: the tensor was made in a step that has ended.*lt_keep" \
    "${common[@]}" --model.mode kept_tensor
expect_error "misuse\.training_step failed at epoch 0, batch 1: lt_tensor_free: the tensor belongs to an arena.*lt_keep" \
    "${common[@]}" --model.mode free_arena
expect_error "misuse\.training_step must return a scalar loss; got a float32 tensor of shape \(64, 10\) at epoch 0, batch 0" \
    "${common[@]}" --model.mode matrix_loss
grep -q "lower --model.lr" "$TMP/out" && fail "a (64, 10) loss was blamed on the learning rate"
# A data plugin's setup too: the refusal it ignored, not a later "no train split".
expect_error "data plugin misuse_data: setup\('fit'\) failed: misuse_data: lt_data_add_split got loader options smaller" \
    "${common[@]}" --data "$LT_TEST_PLUGIN_DIR/misuse_data.so"

# None from training_step: Lightning skips the optimizer step and warns (once).
expect_success "${common[@]}" --model.mode null_step
n=$(grep -c "^lthost: warning: misuse.training_step returned NULL at epoch 0, batch 0" "$TMP/out" || true)
[ "$n" -eq 1 ] || { cat "$TMP/out"; fail "expected one warning for a NULL training_step, got $n"; }
grep -q "global step 0" "$TMP/out" || { cat "$TMP/out"; fail "a NULL training_step must not step"; }
echo "ok: a NULL training_step is warned about once"

# A validation_step with no val split to run it on: warned once, the run goes on.
expect_success "${common[@]}" --data.val_size 0
n=$(grep -c "^lthost: warning: misuse has a validation_step but data plugin fashion_mnist has no validation split" "$TMP/out" || true)
[ "$n" -eq 1 ] || { cat "$TMP/out"; fail "expected one warning for the missing val split, got $n"; }
echo "ok: a missing val split is warned about once"

# A good run has no warnings.
expect_success "${common[@]}"
grep -q "warning" "$TMP/out" && { cat "$TMP/out"; fail "a correct module got a warning"; }
echo "ok: no warning for a correct module"
