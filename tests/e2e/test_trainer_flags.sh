#!/usr/bin/env bash
# Each Trainer flag's effect, counted from the hooks the recorder module logs: batches
# trained and validated, optimizer steps, validation runs, epochs.
. "$(dirname "$0")/lib.sh"
need_dataset
rec=$BUILD_DIR/tests/e2e/recorder/recorder_module.so
# run NAME FLAGS...: fit with the recorder, hooks in $TMP/NAME.txt
run() {
    local name=$1
    shift
    expect_success fit --module "$rec" --model.log "$TMP/$name.txt" --logger false \
        --test_after_fit false --enable_model_summary false "$@"
}
count() { grep -c "^module\.$2\$" "$TMP/$1.txt" || true; }
# want NAME HOOK N
want() {
    local got
    got=$(count "$1" "$2")
    [ "$got" -eq "$3" ] || fail "$1: $2 ran $got times, expected $3"
    echo "ok: $1: $2 x $3"
}
base=(--limit_train_batches 4 --limit_val_batches 2 --num_sanity_val_steps 0)

run epochs "${base[@]}" --max_epochs 3
want epochs training_step 12; want epochs validation_step 6; want epochs on_train_epoch_start 3
run limit_fraction --limit_train_batches 0.01 --limit_val_batches 0.1 --max_epochs 1 --num_sanity_val_steps 0
want limit_fraction training_step 8; want limit_fraction validation_step 7
run max_steps "${base[@]}" --max_epochs 10 --max_steps 5
want max_steps optimizer_step 5; want max_steps on_train_epoch_start 2
grep -q '`max_steps=5` reached' "$TMP/out" || fail "max_steps: no stop message"
run sanity --limit_train_batches 2 --limit_val_batches 3 --max_epochs 1
want sanity validation_step 5
run sanity_all --limit_train_batches 2 --limit_val_batches 3 --max_epochs 1 --num_sanity_val_steps -1
want sanity_all validation_step 6
run vci_float "${base[@]}" --max_epochs 1 --val_check_interval 0.5
want vci_float on_validation_start 2
run vci_int "${base[@]}" --max_epochs 2 --val_check_interval 3
want vci_int on_validation_start 2
run every_n "${base[@]}" --max_epochs 4 --check_val_every_n_epoch 2
want every_n on_validation_start 2
run by_total "${base[@]}" --max_epochs 3 --val_check_interval 3 --check_val_every_n_epoch null
want by_total on_validation_start 4
run accumulate --limit_train_batches 5 --limit_val_batches 0 --max_epochs 1 --accumulate_grad_batches 2
want accumulate training_step 5; want accumulate optimizer_step 3; want accumulate optimizer_zero_grad 3
want accumulate backward 5
run overfit --overfit_batches 3 --max_epochs 2 --num_sanity_val_steps 0
want overfit training_step 6; want overfit validation_step 6
grep -q 'Overfitting on 3 training batches' "$TMP/out" || fail "overfit_batches: no notice"
run fast_dev_run --fast_dev_run 2 --max_epochs 5 --test_after_fit true
want fast_dev_run training_step 2; want fast_dev_run validation_step 2; want fast_dev_run test_step 2
run clip "${base[@]}" --max_epochs 1 --gradient_clip_val 0.5 --gradient_clip_algorithm value
want clip optimizer_step 4
run summary "${base[@]}" --max_epochs 1 --enable_model_summary true
grep -q 'Trainable params' "$TMP/out" || fail "enable_model_summary: no summary table"
run nosummary "${base[@]}" --max_epochs 1
! grep -q 'Trainable params' "$TMP/out" || fail "enable_model_summary false still printed it"

# min_epochs: EarlyStopping on a constant metric asks to stop after epoch 2 (no improvement
# in 1 check); min_epochs makes it go on to 4.
probe=$BUILD_DIR/tests/e2e/recorder/probe.so
es=(--module "$probe" --limit_train_batches 4 --limit_val_batches 2 --max_epochs 10 --logger false
    --test_after_fit false --callbacks EarlyStopping --callbacks.monitor lr_const
    --callbacks.patience 1)
expect_success fit "${es[@]}"
[ "$(grep -c '^Epoch ' "$TMP/out")" -eq 2 ] || fail "EarlyStopping: $(cat "$TMP/out")"
grep -q 'did not improve in the last 1 records' "$TMP/out" || fail "EarlyStopping gave no reason"
expect_success fit "${es[@]}" --min_epochs 4
[ "$(grep -c '^Epoch ' "$TMP/out")" -eq 4 ] || fail "min_epochs 4: $(grep -c '^Epoch ' "$TMP/out") epochs"
grep -q 'required `min_epochs=4` or `min_steps=None` has not been met' "$TMP/out" || fail "min_epochs: no notice"
echo "ok: EarlyStopping stops at epoch 2, min_epochs 4 keeps it to 4"

# Lightning 1.x data-flow hooks: training_step_end after each step, training_epoch_end
# with every step's output (the probe logs how many it got).
expect_success fit --module "$probe" --limit_train_batches 3 --limit_val_batches 1 --max_epochs 1 \
    --logger false --test_after_fit false
grep 'epoch_end_outputs=3.0000' "$TMP/out" | grep -q 'step_end_calls=1.0000' || fail "x_step_end / x_epoch_end: $(cat "$TMP/out")"
echo "ok: training_step_end ran per step, training_epoch_end got 3 outputs"

# A terminal gets the progress bar, unless it is disabled.
if command -v script >/dev/null; then
    script -qec "$LTHOST fit --module $rec --model.log $TMP/bar.txt ${base[*]} --max_epochs 1 --logger false --test_after_fit false" "$TMP/tty" >/dev/null
    grep -q 'it/s' "$TMP/tty" || fail "no progress bar on a terminal: $(cat "$TMP/tty")"
    script -qec "$LTHOST fit --module $rec --model.log $TMP/bar.txt ${base[*]} --max_epochs 1 --logger false --test_after_fit false --enable_progress_bar false" "$TMP/tty" >/dev/null
    ! grep -q 'it/s' "$TMP/tty" || fail "--enable_progress_bar false still drew a bar"
    echo "ok: progress bar on a terminal, off with --enable_progress_bar false"
fi

expect_error "precision 16-mixed: the cpu accelerator trains in 32-true, bf16-mixed and bf16-true" fit --module "$rec" --precision 16-mixed
expect_error "gradient_clip_algorithm expects norm\|value" fit --module "$rec" --gradient_clip_algorithm l1
expect_error "val_check_interval 9 must be between 1 and the number of training batches \(4\)" \
    fit --module "$rec" --model.log "$TMP/x.txt" "${base[@]}" --val_check_interval 9 --logger false
expect_error "accumulate_grad_batches expects an integer >= 1" fit --module "$rec" --accumulate_grad_batches 0
