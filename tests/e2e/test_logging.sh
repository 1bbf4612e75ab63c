#!/usr/bin/env bash
# Loggers: metrics.csv has Lightning's layout (same columns, rows, steps and empty cells
# as tests/fixtures/csv_layout_lightning.csv, written by Lightning 2.6.6 for the same
# logging calls), hparams.yaml, a TensorBoard event file, and --logger / fast_dev_run.
. "$(dirname "$0")/lib.sh"
need_dataset
probe=$BUILD_DIR/tests/e2e/recorder/probe.so
common=(--module "$probe" --data.batch_size 4 --limit_train_batches 3 --limit_val_batches 2
        --max_epochs 2 --log_every_n_steps 2 --num_sanity_val_steps 0 --test_after_fit false
        --default_root_dir "$TMP/root")
expect_success fit "${common[@]}"
dir=$TMP/root/lightning_logs/version_0
[ -f "$dir/metrics.csv" ] || fail "no $dir/metrics.csv"
# The layout: header, then per row epoch, step and which cells are empty.
layout() { tr -d '\r' <"$1" | awk -F, 'NR == 1 { print; next }
    { s = $1 " " $3; for (i = 1; i <= NF; i++) s = s ($i == "" ? " _" : " x"); print s }'; }
layout "$SRC_DIR/tests/fixtures/csv_layout_lightning.csv" >"$TMP/want"
layout "$dir/metrics.csv" >"$TMP/got"
diff -u "$TMP/want" "$TMP/got" || fail "metrics.csv layout differs from Lightning's (- Lightning, + lthost)"
echo "ok: metrics.csv has Lightning's layout ($(($(wc -l <"$dir/metrics.csv") - 1)) rows)"
grep -q '^lr: 0.1$' "$dir/hparams.yaml" || fail "hparams.yaml: $(cat "$dir/hparams.yaml")"
ls "$dir"/events.out.tfevents.* >/dev/null 2>&1 || fail "no TensorBoard event file in $dir"
echo "ok: hparams.yaml and a TensorBoard event file"

# A second run gets version_1; --logger csv writes no event file; false writes nothing.
expect_success fit "${common[@]}" --logger csv
[ -f "$TMP/root/lightning_logs/version_1/metrics.csv" ] || fail "second run did not use version_1"
! ls "$TMP/root/lightning_logs/version_1"/events.* >/dev/null 2>&1 || fail "--logger csv wrote TensorBoard events"
expect_success fit "${common[@]}" --logger false
[ ! -e "$TMP/root/lightning_logs/version_2" ] || fail "--logger false still logged"
expect_success fit "${common[@]}" --fast_dev_run 2
[ ! -e "$TMP/root/lightning_logs/version_2" ] || fail "fast_dev_run still logged"
grep -q 'Logging and checkpointing is suppressed' "$TMP/out" || fail "fast_dev_run did not say logging is off"
echo "ok: versions, --logger csv|false, fast_dev_run"
expect_error "no logger plugin named 'wandb'" fit "${common[@]}" --logger wandb
expect_error "logger expects true, false, or a comma-separated list" fit "${common[@]}" --logger csv,,tensorboard
