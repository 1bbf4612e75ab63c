#!/usr/bin/env bash
# Hostile values in a checkpoint or on the command line (issue #15): loop counters,
# optimizer and scheduler state, hyper-parameters that would overflow a size, and
# format_version are range-checked with the command line's and the constructors' rules,
# and refused with one line naming the key, never resumed with exit 0 or trained to NaN.
. "$(dirname "$0")/lib.sh"
need_dataset
edit="python3 $SRC_DIR/tests/e2e/ckpt_edit.py"
common=(--module mlp --limit_train_batches 3 --limit_val_batches 1 --seed_everything 1
        --test_after_fit false --enable_progress_bar false --enable_model_summary false
        --model.hidden 16 --model.hidden2 8)
expect_success fit "${common[@]}" --max_epochs 1 --default_root_dir "$TMP/adam"
adam=$TMP/adam/lightning_logs/version_0/checkpoints/epoch=0-step=3.ckpt
expect_success fit "${common[@]}" --max_epochs 1 --default_root_dir "$TMP/sgd" \
    --model.optimizer sgd --model.lr_scheduler plateau
sgd=$TMP/sgd/lightning_logs/version_0/checkpoints/epoch=0-step=3.ckpt
[ -f "$adam" ] && [ -f "$sgd" ] || fail "no checkpoints written"
resume=(fit "${common[@]}" --max_epochs 2 --default_root_dir "$TMP/resumed")

# refuse FROM PATTERN CODE: a copy of checkpoint FROM edited by CODE must be refused by
# a resumed fit with one error line matching PATTERN.
n=0
refuse() {
    n=$((n + 1))
    $edit "$1" "$TMP/h$n.ckpt" "$3" || fail "ckpt_edit.py: $3"
    expect_error "$2" "${resume[@]}" --ckpt_path "$TMP/h$n.ckpt"
}

# Loop counters: negative, past 2^53 (where global_step + 1 would overflow), or not 0/1.
refuse "$adam" "loops\.global_step.*9223372036854775807" 'meta["loops"]["global_step"] = 2**63-1'
refuse "$adam" "loops\.global_step.*-1" 'meta["loops"]["global_step"] = -1'
refuse "$adam" "loops\.epoch.*-5" 'meta["loops"]["epoch"] = -5'
refuse "$adam" "loops\.batches_done" 'meta["loops"]["batches_done"] = -3'
refuse "$adam" "loops\.total_batch_idx" 'meta["loops"]["total_batch_idx"] = 2**60'
refuse "$adam" "loops\.batches_that_stepped" 'meta["loops"]["batches_that_stepped"] = -2'
refuse "$adam" "loops\.epoch_done" 'meta["loops"]["epoch_done"] = 7'

# Optimizer state: Adam's step count, and param_group values the constructors refuse.
opt='meta["optimizer_states"]["0"]'
refuse "$adam" "optimizer_states\.0\.step.*9223372036854775807" "$opt[\"step\"] = 2**63-1"
refuse "$adam" "optimizer_states\.0\.param_group\.lr.*-1" "$opt[\"param_group\"][\"lr\"] = -1"
refuse "$adam" "optimizer_states\.0\.param_group\.lr.*nan" "$opt[\"param_group\"][\"lr\"] = \"nan\""
refuse "$adam" "optimizer_states\.0\.param_group\.lr.*inf" "$opt[\"param_group\"][\"lr\"] = \"inf\""
refuse "$adam" "optimizer_states\.0\.param_group\.weight_decay" "$opt[\"param_group\"][\"weight_decay\"] = -0.5"
refuse "$adam" "optimizer_states\.0\.param_group\.beta1.*not a number" "$opt[\"param_group\"][\"beta1\"] = \"0.9\""
refuse "$adam" "optimizer_states\.0\.param_group\.beta2.*1\.5" "$opt[\"param_group\"][\"beta2\"] = 1.5"
refuse "$adam" "optimizer_states\.0\.param_group\.eps" "$opt[\"param_group\"][\"eps\"] = -1"
refuse "$sgd" "optimizer_states\.0\.param_group\.momentum" "$opt[\"param_group\"][\"momentum\"] = -1"
refuse "$sgd" "optimizer_states\.0\.param_group\.nesterov" "$opt[\"param_group\"][\"nesterov\"] = \"yes\""
# State tensors: transposed (same element count) and of another dtype (same byte count).
refuse "$adam" "optimizer_states\.0\.state\.0\.exp_avg.*\[784, 16\]" \
    'head["optimizer_states.0.state.0.exp_avg"]["shape"].reverse()'
refuse "$adam" "optimizer_states\.0\.state\.1\.exp_avg_sq.*I32" \
    'head["optimizer_states.0.state.1.exp_avg_sq"]["dtype"] = "I32"'
refuse "$sgd" "optimizer_states\.0\.state\.0\.momentum_buffer" \
    'head["optimizer_states.0.state.0.momentum_buffer"]["shape"].reverse()'

# Scheduler state.
sch='meta["lr_schedulers"]["0"]'
refuse "$sgd" "lr_schedulers\.0\.last_epoch.*-7" "$sch[\"last_epoch\"] = -7"
refuse "$sgd" "lr_schedulers\.0\.last_epoch" "$sch[\"last_epoch\"] = 2**63-1"
refuse "$sgd" "lr_schedulers\.0\._last_lr" "$sch[\"_last_lr\"] = -1"
refuse "$sgd" "lr_schedulers\.0\.base_lr" "$sch[\"base_lr\"] = \"nan\""
refuse "$sgd" "lr_schedulers\.0\.num_bad_epochs" "$sch[\"num_bad_epochs\"] = -1"
refuse "$sgd" "lr_schedulers\.0\.cooldown_counter" "$sch[\"cooldown_counter\"] = 2**62"

# Sizes: a width whose weight would overflow int64 (or wrap to 0 elements) is refused
# the same way from the command line and from a checkpoint's hyper_parameters.
big="parameter .l1\.weight. would have 9223372036854775807 x 784 elements"
expect_error "$big" fit "${common[@]}" --max_epochs 1 --model.hidden 9223372036854775807
expect_error "parameter .l1\.weight. would have 4611686018427387904 x 784 elements" \
    fit "${common[@]}" --max_epochs 1 --model.hidden 4611686018427387904
# (no --model.hidden here: a flag given would override the checkpoint's value)
$edit "$adam" "$TMP/hidden.ckpt" 'meta["hyper_parameters"]["hidden"] = 2**63-1' || fail "ckpt_edit.py"
expect_error "$big" fit --module mlp --limit_train_batches 3 --max_epochs 2 --ckpt_path "$TMP/hidden.ckpt"

# format_version: MAJOR.MINOR in digits, nothing else; a newer minor still loads.
val=(validate --module mlp --limit_val_batches 1)
for v in 0.0 99999999999999999999.0 -1.5 1.0x " 1.0" 1 1.-0 +1.0 1..0 1.0.0; do
    n=$((n + 1))
    $edit "$adam" "$TMP/h$n.ckpt" "meta[\"format_version\"] = \"$v\"" || fail "ckpt_edit.py"
    expect_error "format_version" "${val[@]}" --ckpt_path "$TMP/h$n.ckpt"
done
$edit "$adam" "$TMP/minor.ckpt" 'meta["format_version"] = "1.7"' || fail "ckpt_edit.py"
expect_success "${val[@]}" --ckpt_path "$TMP/minor.ckpt"
$edit "$adam" "$TMP/major.ckpt" 'meta["format_version"] = "2.0"' || fail "ckpt_edit.py"
expect_error "format 2\.0 by a newer lthost" "${val[@]}" --ckpt_path "$TMP/major.ckpt"

# The untouched checkpoints still resume.
expect_success "${resume[@]}" --ckpt_path "$adam"
expect_success "${resume[@]}" --ckpt_path "$sgd"
echo "test_hostile_state: all passed"

# A saved hyper-parameter the module no longer declares: lthost (not liblt) warns, once.
python3 "$SRC_DIR/tests/e2e/ckpt_edit.py" "$adam" "$TMP/extra_hp.ckpt" 'meta["hyper_parameters"]["old_knob"] = 3'
expect_success validate --module mlp --limit_val_batches 1 --ckpt_path "$TMP/extra_hp.ckpt"
[ "$(grep -c "^lthost: warning: .*extra_hp.ckpt: saved hyper-parameter 'old_knob' is not declared by mlp; ignored" "$TMP/out")" -eq 1 ] ||
    { cat "$TMP/out"; fail "no single warning for an undeclared saved hyper-parameter"; }
echo "ok: an undeclared saved hyper-parameter is ignored with one warning"
