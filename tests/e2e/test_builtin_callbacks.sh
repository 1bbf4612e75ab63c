#!/usr/bin/env bash
# Issue 23's built-in callbacks, counted from the hooks the recorder module logs:
# GradientAccumulationScheduler changes the optimizer steps per epoch as Lightning's.
. "$(dirname "$0")/lib.sh"
need_dataset
rec=$BUILD_DIR/tests/e2e/recorder/recorder_module.so
run() {
    local name=$1
    shift
    expect_success fit --module "$rec" --model.log "$TMP/$name.txt" --logger false \
        --test_after_fit false --enable_model_summary false --limit_train_batches 4 \
        --limit_val_batches 0 "$@"
}
count() { grep -c "^module\.$2\$" "$TMP/$1.txt" || true; }

# {1: 2, 2: 4} over 3 epochs of 4 batches: factor 1, 2, 4 -> 4 + 2 + 1 optimizer steps.
run gas --max_epochs 3 --callbacks GradientAccumulationScheduler --callbacks.scheduling '{1: 2, 2: 4}'
[ "$(count gas optimizer_step)" -eq 7 ] || fail "GradientAccumulationScheduler: $(count gas optimizer_step) steps, expected 7"
[ "$(count gas backward)" -eq 12 ] || fail "GradientAccumulationScheduler: $(count gas backward) backwards"
cat >"$TMP/gas.yaml" <<'YAML'
trainer:
  max_epochs: 2
  callbacks:
    - class_path: lightning.pytorch.callbacks.GradientAccumulationScheduler
      init_args:
        scheduling: {0: 4}
YAML
run gas_yaml --config "$TMP/gas.yaml"
[ "$(count gas_yaml optimizer_step)" -eq 2 ] || fail "scheduling from YAML: $(count gas_yaml optimizer_step) steps"
echo "ok: GradientAccumulationScheduler {1: 2, 2: 4} steps 4 + 2 + 1 times; YAML mapping form"
expect_error "You have set --accumulate_grad_batches and are using the GradientAccumulationScheduler" \
    fit --module "$rec" --limit_train_batches 2 --max_epochs 1 --logger false --accumulate_grad_batches 2 \
    --callbacks GradientAccumulationScheduler --callbacks.scheduling '{0: 2}'
expect_error "epochs must be ints >= 0 and accumulation factors ints > 0" \
    fit --module "$rec" --limit_train_batches 2 --max_epochs 1 --logger false \
    --callbacks GradientAccumulationScheduler --callbacks.scheduling '{0: 0}'

# OnExceptionCheckpoint: misuse.so fails in batch 1 (logs a matrix); the checkpoint saved
# on the way out holds batch 0's step, and a fixed run continues from it.
mis=$LT_TEST_PLUGIN_DIR/misuse.so
expect_error "lt_log\('logits'\)" fit --module "$mis" --model.mode log_matrix --limit_train_batches 3 \
    --limit_val_batches 0 --max_epochs 1 --logger false --test_after_fit false \
    --callbacks OnExceptionCheckpoint --callbacks.dirpath "$TMP/oe" --callbacks.filename crash
[ -f "$TMP/oe/crash.ckpt" ] || fail "OnExceptionCheckpoint wrote no $TMP/oe/crash.ckpt: $(cat "$TMP/out")"
grep -q "OnExceptionCheckpoint saved $TMP/oe/crash.ckpt (epoch 0, global step 1)" "$TMP/out" || fail "no notice"
expect_success fit --module "$mis" --model.mode none --limit_train_batches 3 --limit_val_batches 0 \
    --max_epochs 1 --logger false --test_after_fit false --ckpt_path "$TMP/oe/crash.ckpt"
grep -q '(global step 3)' "$TMP/out" || fail "resume from crash.ckpt: $(tail -3 "$TMP/out")"
echo "ok: OnExceptionCheckpoint saves crash.ckpt at the failure; a fixed run continues from it"
expect_error "filename 'a/b' must be a plain file name" fit --module "$mis" --limit_train_batches 1 \
    --max_epochs 1 --logger false --callbacks OnExceptionCheckpoint --callbacks.filename a/b

# ModelSummary(max_depth): the autoencoder's encoder/decoder, then their layers at depth 2.
ae=(--module autoencoder --limit_train_batches 1 --limit_val_batches 0 --max_epochs 1 --logger false
    --test_after_fit false)
expect_success fit "${ae[@]}" --callbacks ModelSummary --callbacks.max_depth 2
grep -Eq '^1 \| encoder\.0 +\| Linear +\| 50\.2 K' "$TMP/out" || fail "max_depth 2: $(cat "$TMP/out")"
grep -Eq '^3 \| decoder +\| Module' "$TMP/out" || fail "max_depth 2: no decoder row"
expect_success fit "${ae[@]}" --callbacks ModelSummary --callbacks.max_depth 1
grep -q 'encoder\.0' "$TMP/out" && fail "max_depth 1 shows encoder.0"
expect_success fit "${ae[@]}" --callbacks ModelSummary --callbacks.max_depth 0
grep -q 'Trainable params' "$TMP/out" && fail "max_depth 0 still printed a summary"
expect_error "enable_model_summary false but found ModelSummary" fit "${ae[@]}" \
    --enable_model_summary false --callbacks ModelSummary
echo "ok: ModelSummary max_depth 2, 1, 0"

# DeviceStatsMonitor: CPU stats at each batch start/end of a logging step, as columns
# DeviceStatsMonitor.<hook>/<stat> of metrics.csv; filter_keys keeps the named ones.
probe=$BUILD_DIR/tests/e2e/recorder/probe.so
dsm=(--module "$probe" --limit_train_batches 4 --limit_val_batches 2 --test_after_fit false
     --max_epochs 1 --log_every_n_steps 2 --logger csv --callbacks DeviceStatsMonitor)
expect_success fit "${dsm[@]}"
head -1 lightning_logs/version_0/metrics.csv | tr , '\n' >"$TMP/cols"
for col in on_train_batch_start/cpu_percent on_train_batch_end/cpu_vm_percent \
    on_validation_batch_end/cpu_rss_mb on_train_batch_start/cpu_swap_percent; do
    grep -qx "DeviceStatsMonitor.$col" "$TMP/cols" || fail "DeviceStatsMonitor: no column $col: $(cat "$TMP/cols")"
done
rss=$(awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "DeviceStatsMonitor.on_train_batch_start/cpu_rss_mb") c = i }
               NR > 1 && $c != "" { print $c; exit }' lightning_logs/version_0/metrics.csv)
awk -v r="$rss" 'BEGIN { exit !(r > 1 && r < 100000) }' || fail "DeviceStatsMonitor: rss '$rss' MB"
# steps 1 and 3 are logging steps (log_every_n_steps 2): 2 train rows each for start and end
n=$(awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "DeviceStatsMonitor.on_train_batch_end/cpu_percent") c = i }
             NR > 1 && $c != "" { n++ } END { print n + 0 }' lightning_logs/version_0/metrics.csv)
[ "$n" -eq 2 ] || fail "DeviceStatsMonitor: $n on_train_batch_end rows, expected 2 (steps 1, 3)"
expect_success fit "${dsm[@]}" --callbacks.filter_keys cpu_rss_mb,bogus
grep -q "filter_keys contains 'bogus'" "$TMP/out" || fail "no warning for an unknown filter key"
cols=$(head -1 lightning_logs/version_1/metrics.csv | tr , '\n' | grep -c '^DeviceStatsMonitor')
[ "$cols" -eq 4 ] || fail "filter_keys cpu_rss_mb: $cols DeviceStatsMonitor columns, expected 4 (one per hook)"
expect_error "Cannot use DeviceStatsMonitor callback with --logger false" fit "${dsm[@]}" --logger false
echo "ok: DeviceStatsMonitor logs cpu_percent, cpu_vm_percent, cpu_swap_percent, cpu_rss_mb per hook"

# A BasePredictionWriter callback plugin: it gets every batch's predictions (the same
# numbers --predict.output x.csv writes) and, at the end, all of them; no predictions.npy.
w=$LT_TEST_PLUGIN_DIR/pred_writer.so
pr=(--module mlp --limit_predict_batches 3 --seed_everything 1)
expect_success predict "${pr[@]}" --predict.output "$TMP/ref.csv"
expect_success predict "${pr[@]}" --callbacks "$w" --callbacks.path "$TMP/w.csv"
[ -f predictions.npy ] && fail "a prediction writer is present, yet predictions.npy was written"
[ "$(tail -1 "$TMP/w.csv")" = "epoch: 3 batches, 192 rows" ] || fail "write_on_epoch_end: $(tail -1 "$TMP/w.csv")"
head -n -1 "$TMP/w.csv" | cmp - "$TMP/ref.csv" || fail "write_on_batch_end saw other predictions than predict writes"
expect_success predict "${pr[@]}" --callbacks "$w" --callbacks.path "$TMP/w2.csv" --predict.output "$TMP/both.csv"
cmp "$TMP/both.csv" "$TMP/ref.csv" || fail "--predict.output with a writer"
expect_error "pred_writer_bad.so: its lt_callback_desc .write_interval is not \"batch\", \"epoch\" or \"batch_and_epoch\"" \
    predict "${pr[@]}" --callbacks "$LT_TEST_PLUGIN_DIR/pred_writer_bad.so"
echo "ok: a BasePredictionWriter plugin writes predict's outputs its own way"
