#!/usr/bin/env bash
# Issue 23's Trainer flags end to end: --max_time (Lightning's Timer: checked after each
# batch, a graceful stop with the epoch-end checkpoint, its elapsed time saved and counted
# on after --ckpt_path), --min_steps against EarlyStopping, --reload_dataloaders_every_n_epochs
# (counted by the profiler's *_dataloader actions, as Lightning calls train_dataloader()),
# --detect_anomaly naming the op and the hook, and PL_TRAINER_* defaults under the flags.
. "$(dirname "$0")/lib.sh"
need_dataset
probe=$BUILD_DIR/tests/e2e/recorder/probe.so
base=(--module "$probe" --limit_val_batches 2 --test_after_fit false --enable_model_summary false)

# max_time: no epoch limit (max_epochs defaults to -1 with a Timer); stops after ~1 s.
expect_success fit "${base[@]}" --limit_train_batches 50 --max_time '{seconds: 1}'
grep -q '^Time limit reached. Elapsed time is 0:00:01. Signaling Trainer to stop.' "$TMP/out" ||
    fail "max_time: $(tail -3 "$TMP/out")"
grep -q 'max_epochs=' "$TMP/out" && fail "max_time: stopped by max_epochs instead"
ckpt=$(ls lightning_logs/version_0/checkpoints/*.ckpt)
[ -f "$ckpt" ] || fail "max_time: no checkpoint saved at the stop"
grep -aq '"Timer":{"time_elapsed":{"train":1\.' "$ckpt" || grep -aq '\\"Timer\\":{\\"time_elapsed\\":{\\"train\\":1\.' "$ckpt" ||
    fail "max_time: the checkpoint has no Timer state"
echo "ok: --max_time stops after 1 s, checkpoint $(basename "$ckpt") holds the Timer's time"
# Resumed, the saved time already spends the budget: Lightning stops at fit start.
expect_success fit "${base[@]}" --limit_train_batches 50 --max_time '{seconds: 1}' --ckpt_path "$ckpt"
grep -q '^Time limit reached' "$TMP/out" || fail "resumed max_time: $(tail -3 "$TMP/out")"
grep -q '^Epoch ' "$TMP/out" && fail "resumed with a spent Timer, it still trained an epoch"
echo "ok: a run resumed with its time spent stops before training"
expect_error "--max_time expects a string in the format DD:HH:MM:SS" fit "${base[@]}" --max_time 1:00
expect_error "Timer: --callbacks.duration 'soon'" fit "${base[@]}" --callbacks Timer --callbacks.duration soon
expect_success fit "${base[@]}" --limit_train_batches 4 --max_epochs 2 --logger false --callbacks Timer \
    --callbacks.duration 01:00:00:00 --max_time 00:00:00:00
grep -q 'Ignoring `Trainer(max_time=...)`, callbacks list already contains a Timer.' "$TMP/out" ||
    fail "a Timer in --callbacks did not take over --max_time"
[ "$(grep -c '^Epoch ' "$TMP/out")" -eq 2 ] || fail "Timer of a day: $(cat "$TMP/out")"
echo "ok: --callbacks Timer wins over --max_time, as Lightning"

# min_steps: EarlyStopping asks to stop after epoch 2 (8 steps); min_steps 10 carries on
# into epoch 3 and stops after its second batch, as Lightning 2.x (the request stands).
es=(--limit_train_batches 4 --max_epochs 10 --logger false --callbacks EarlyStopping
    --callbacks.monitor lr_const --callbacks.patience 1)
expect_success fit "${base[@]}" "${es[@]}" --min_steps 10
grep -q 'required `min_epochs=1` or `min_steps=10` has not been met' "$TMP/out" || fail "min_steps: no notice"
grep -q '^Epoch 3/10 .*\[2 steps' "$TMP/out" || fail "min_steps: $(grep '^Epoch' "$TMP/out")"
[ "$(grep -c '^Epoch ' "$TMP/out")" -eq 3 ] || fail "min_steps: $(grep -c '^Epoch ' "$TMP/out") epochs"
echo "ok: --min_steps 10 stops at step 10, in epoch 3"

# reload every 2 epochs over 5: loaders built at epochs 0, 2, 4 (val: at sanity check, 2, 4).
expect_success fit "${base[@]}" --limit_train_batches 4 --max_epochs 5 --logger false \
    --reload_dataloaders_every_n_epochs 2 --profiler simple
for split in train val; do
    n=$(grep "\.${split}_dataloader " "$TMP/out" | awk -F'|' '{gsub(/[ \t]/, "", $4); print $4}')
    [ "$n" = 3 ] || fail "reload: ${split}_dataloader ran '$n' times, expected 3"
done
echo "ok: --reload_dataloaders_every_n_epochs 2 rebuilds the loaders at epochs 2 and 4"

# detect_anomaly: a huge learning rate overflows the linear layer's output on batch 1.
expect_error "probe.training_step failed at epoch 0, batch 1: detect_anomaly: op 'linear' produced inf" \
    fit "${base[@]}" --limit_train_batches 4 --max_epochs 1 --logger false --model.lr 1e37 \
    --detect_anomaly true
grep -q 'Anomaly Detection has been enabled' "$TMP/out" || fail "detect_anomaly: no notice"
expect_error "training loss is nan" fit "${base[@]}" --limit_train_batches 4 --max_epochs 1 \
    --logger false --model.lr 1e37

# PL_TRAINER_*: a default under --config and the command line.
PL_TRAINER_MAX_EPOCHS=2 expect_success fit "${base[@]}" --limit_train_batches 2 --logger false
[ "$(grep -c '^Epoch ' "$TMP/out")" -eq 2 ] || fail "PL_TRAINER_MAX_EPOCHS=2: $(grep -c '^Epoch ' "$TMP/out") epochs"
PL_TRAINER_MAX_EPOCHS=2 expect_success fit "${base[@]}" --limit_train_batches 2 --logger false --max_epochs 1
[ "$(grep -c '^Epoch ' "$TMP/out")" -eq 1 ] || fail "--max_epochs 1 did not override PL_TRAINER_MAX_EPOCHS"
PL_TRAINER_MODEL_REGISTRY=m expect_success fit "${base[@]}" --limit_train_batches 2 --logger false --max_epochs 1
grep -q 'PL_TRAINER_MODEL_REGISTRY is set, but lthost has no --model_registry; ignored' "$TMP/out" || fail "no warning for PL_TRAINER_MODEL_REGISTRY"
PL_TRAINER_MIN_STEPS=x expect_error "PL_TRAINER_MIN_STEPS=x: --min_steps expects" fit "${base[@]}"
echo "ok: PL_TRAINER_* defaults, overridden by flags"
