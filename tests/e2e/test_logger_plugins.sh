#!/usr/bin/env bash
# The logger plugin kind (issue #23): docs/examples/jsonl_logger.so beside the built-in
# loggers, its --logger.KEY option, the loader's refusals, `lthost plugins`; --logger mlflow's
# file store layout (experiment and run meta.yaml, params, metrics lines, tags); and
# lt_log_histogram's events (probe.so logs fc.weight each epoch). The store and the
# histograms are read back by MLflow and TensorBoard in tests/reference/check_loggers.py.
. "$(dirname "$0")/lib.sh"
need_dataset
probe=$BUILD_DIR/tests/e2e/recorder/probe.so
jsonl=$BUILD_DIR/docs/examples/jsonl_logger.so
common=(--module "$probe" --data.batch_size 4 --limit_train_batches 3 --limit_val_batches 2
        --max_epochs 2 --log_every_n_steps 2 --num_sanity_val_steps 0 --test_after_fit false
        --default_root_dir "$TMP/root")

# A plugin beside csv, with its own option; each row reaches both, in order.
expect_success fit "${common[@]}" --logger "csv,$jsonl" --logger.filename rows.jsonl
dir=$TMP/root/lightning_logs/version_0
[ -f "$dir/rows.jsonl" ] || fail "the jsonl plugin wrote no $dir/rows.jsonl"
head -1 "$dir/rows.jsonl" | grep -q '^{"hparams": {"lr": "0.1"}}$' || fail "hparams line: $(head -1 "$dir/rows.jsonl")"
tail -1 "$dir/rows.jsonl" | grep -q '^{"status": "success"}$' || fail "finalize line: $(tail -1 "$dir/rows.jsonl")"
rows_json=$(grep -c '"metrics"' "$dir/rows.jsonl")
rows_csv=$(($(wc -l <"$dir/metrics.csv") - 1))
[ "$rows_json" = "$rows_csv" ] || fail "jsonl has $rows_json rows, metrics.csv $rows_csv"
grep -q '"step": 5, "metrics": {.*"epoch": 1' "$dir/rows.jsonl" || fail "no epoch-1 row at step 5: $(cat "$dir/rows.jsonl")"
echo "ok: a logger plugin beside csv got hparams, $rows_json rows and the final status"

# Refusals: an option no logger takes, a module given as a logger, a logger twice.
expect_error "no logger of this run .--logger csv. takes an option 'filename'" fit "${common[@]}" \
    --logger csv --logger.filename x
expect_error "is a module plugin .exports lt_module_entry., not a logger" fit "${common[@]}" \
    --logger "$probe"
expect_error "names the csv logger twice" fit "${common[@]}" --logger csv,CSVLogger
expect_error "version expects an integer" fit "${common[@]}" --logger csv --logger.version x
run_lthost plugins
grep -q 'logger  *mlflow  *--logger mlflow' "$TMP/out" || fail "lthost plugins lists no mlflow logger"
echo "ok: refusals and lthost plugins"

# MLflow's file store, next to a TensorBoard event file with the histograms.
expect_success fit "${common[@]}" --logger mlflow,tensorboard --logger.run_name first
store=$TMP/root/mlruns
grep -q "^name: 'Default'$" "$store/0/meta.yaml" || fail "no Default experiment: $(cat "$store/0/meta.yaml")"
grep -q "^name: 'lightning_logs'$" "$store/1/meta.yaml" || fail "experiment 1: $(cat "$store/1/meta.yaml")"
run=$(ls -d "$store"/1/*/ | head -1)
[ "$(ls -d "$store"/1/*/ | wc -l)" = 1 ] || fail "expected one run in experiment 1"
grep -q '^status: 3$' "$run/meta.yaml" || fail "run not FINISHED: $(cat "$run/meta.yaml")"
grep -q '^end_time: [0-9]' "$run/meta.yaml" || fail "run has no end_time"
[ "$(cat "$run/params/lr")" = 0.1 ] || fail "params/lr: $(cat "$run/params/lr")"
[ "$(cat "$run/tags/mlflow.runName")" = first ] || fail "tags/mlflow.runName: $(cat "$run/tags/mlflow.runName")"
awk 'NF != 3 || $1 !~ /^[0-9]+$/ || $3 !~ /^[0-9]+$/ { exit 1 }' "$run/metrics/train_loss_step" ||
    fail "metrics/train_loss_step is not 'timestamp value step' lines"
[ "$(awk '{print $3}' "$run/metrics/val_loss" | tr '\n' ' ')" = "2 5 " ] || fail "val_loss steps: $(cat "$run/metrics/val_loss")"
ev=$(ls "$TMP/root/lightning_logs/version_1"/events.out.tfevents.* | head -1)
grep -q fc.weight "$ev" || fail "no fc.weight histogram in $ev"
echo "ok: mlflow store (experiment 1 'lightning_logs', one finished run) and histogram events"
# The same files through MLflow's client and TensorBoard's reader, when the reference venv
# (tests/reference/README.md; mlflow-skinny, tensorboard, torch) is there.
py=$SRC_DIR/tests/reference/.venv/bin/python
if [ -x "$py" ] && "$py" -c 'import mlflow, tensorboard, torch' 2>/dev/null; then
    "$py" "$SRC_DIR/tests/reference/check_mlflow_histograms.py" "$store" \
        "$TMP/root/lightning_logs/version_1" || fail "MLflow/TensorBoard could not read the run"
else
    echo "skip: no tests/reference/.venv with mlflow, tensorboard and torch"
fi

# A second run joins the same experiment; a failed run ends FAILED.
expect_success fit "${common[@]}" --logger mlflow
[ "$(ls -d "$store"/1/*/ | wc -l)" = 2 ] || fail "the second run did not join experiment 1"
[ ! -e "$store/2" ] || fail "a second experiment was created"
echo "ok: runs share the experiment"
