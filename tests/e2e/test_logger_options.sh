#!/usr/bin/env bash
# One logger's options (issue #23): --logger.NAME.KEY reaches the logger NAME alone, as the
# init_args of one trainer.logger entry of a LightningCLI config do, while --logger.KEY still
# reaches every logger that declares KEY. csv and mlflow both declare save_dir: scoped, each
# keeps its own. config.yaml carries the scoped options and reads back with --config.
. "$(dirname "$0")/lib.sh"
need_dataset
probe=$BUILD_DIR/tests/e2e/recorder/probe.so
common=(--module "$probe" --data.batch_size 4 --limit_train_batches 3 --limit_val_batches 2
        --max_epochs 1 --num_sanity_val_steps 0 --test_after_fit false
        --enable_checkpointing false --default_root_dir "$TMP/root")

# mlflow's run (its store, its run name) is what --logger.mlflow.* says; csv's folder is
# what --logger.csv.name says, under --default_root_dir, untouched by mlflow's save_dir.
check_run() { # $1 csv experiment folder, $2 mlflow store, $3 run name
    [ -f "$TMP/root/$1/version_0/metrics.csv" ] || fail "no csv log in $TMP/root/$1/version_0: $(find "$TMP/root" -maxdepth 3)"
    run=$(ls -d "$2"/1/*/ 2>/dev/null | head -1)
    [ -n "$run" ] || fail "no mlflow run in $2"
    [ "$(cat "$run/tags/mlflow.runName")" = "$3" ] || fail "run name: $(cat "$run/tags/mlflow.runName")"
    [ ! -e "$TMP/root/mlruns" ] || fail "mlflow also wrote the default store $TMP/root/mlruns"
    [ ! -e "$2/exp" ] && [ ! -e "$2/lightning_logs" ] || fail "csv wrote into mlflow's save_dir $2"
}

expect_success fit "${common[@]}" --logger csv,mlflow --logger.csv.name exp \
    --logger.mlflow.save_dir "$TMP/store" --logger.mlflow.run_name r1
check_run exp "$TMP/store" r1
grep -q '^  logger.csv.name: exp$' "$TMP/root/exp/version_0/config.yaml" ||
    fail "config.yaml lacks the scoped option: $(grep logger "$TMP/root/exp/version_0/config.yaml")"
echo "ok: --logger.csv.name and --logger.mlflow.save_dir/run_name reach one logger each"

# The same from a LightningCLI config: each entry's init_args are that logger's.
cat >"$TMP/loggers.yaml" <<YAML
trainer:
  logger:
  - class_path: lightning.pytorch.loggers.CSVLogger
    init_args:
      name: exp2
  - class_path: MLFlowLogger
    init_args:
      run_name: r2
      save_dir: $TMP/store2
YAML
expect_success fit "${common[@]}" --config "$TMP/loggers.yaml"
check_run exp2 "$TMP/store2" r2
echo "ok: trainer.logger entries' init_args reach their own logger"

# config.yaml reads back: the same loggers and options, a new version of each.
rm -rf "$TMP/store"
expect_success fit --config "$TMP/root/exp/version_0/config.yaml" --logger.csv.version 1 \
    --save_config false
[ -f "$TMP/root/exp/version_1/metrics.csv" ] && [ -d "$TMP/store/1" ] ||
    fail "config.yaml did not reproduce the loggers' options"
echo "ok: config.yaml with scoped options reads back"

# Each logger keeps its own <save_dir>/<name>/version_N, as Lightning's: TensorBoard's name
# after csv's, the run's folder (config.yaml, checkpoints) the first logger's; both from
# flags, from a config's entries, and back from config.yaml.
tb_layout() { # $1 root, $2 csv's folder, $3 TensorBoard's
    [ -f "$1/$2/metrics.csv" ] && [ -f "$1/$2/config.yaml" ] ||
        fail "no metrics.csv and config.yaml in $1/$2: $(find "$1" | sort)"
    ls "$1/$3"/events.out.tfevents.* >/dev/null 2>&1 && [ ! -e "$1/$3/metrics.csv" ] ||
        fail "no TensorBoard events alone in $1/$3: $(find "$1" | sort)"
}
expect_success fit "${common[@]}" --default_root_dir "$TMP/tb" --logger csv,tensorboard \
    --logger.tensorboard.name tbx --logger.csv.flush_logs_every_n_steps 2
tb_layout "$TMP/tb" lightning_logs/version_0 tbx/version_0
grep -q "^  logger.tensorboard.name: tbx$" "$TMP/tb/lightning_logs/version_0/config.yaml" ||
    fail "config.yaml lacks logger.tensorboard.name"
expect_success fit --config "$TMP/tb/lightning_logs/version_0/config.yaml" \
    --default_root_dir "$TMP/tb2"
tb_layout "$TMP/tb2" lightning_logs/version_0 tbx/version_0
cat >"$TMP/tb.yaml" <<YAML
trainer:
  default_root_dir: $TMP/tb3
  logger:
  - class_path: CSVLogger
    init_args: {name: c, flush_logs_every_n_steps: 10}
  - class_path: TensorBoardLogger
    init_args: {name: t, version: 7}
YAML
expect_success fit "${common[@]}" --config "$TMP/tb.yaml"
tb_layout "$TMP/tb3" c/version_0 t/version_7
echo "ok: --logger.tensorboard.name and a TensorBoardLogger entry's name/version: its own folder"

# An unscoped option still reaches every logger declaring it.
expect_success fit "${common[@]}" --logger csv,mlflow --logger.save_dir "$TMP/both"
[ -f "$TMP/both/lightning_logs/version_0/metrics.csv" ] && [ -d "$TMP/both/1" ] ||
    fail "--logger.save_dir did not reach both loggers: $(find "$TMP/both" -maxdepth 2)"
echo "ok: --logger.save_dir reaches csv and mlflow"

expect_error "this run has no logger 'tensorboard' .--logger csv." fit "${common[@]}" \
    --logger csv --logger.tensorboard.name x
expect_error "logger.tensorboard.flush_logs_every_n_steps: that logger takes no option" \
    fit "${common[@]}" --logger csv,tensorboard --logger.tensorboard.flush_logs_every_n_steps 5
expect_error "flush_logs_every_n_steps 0: expected a number of steps >= 1" fit "${common[@]}" \
    --logger csv --logger.csv.flush_logs_every_n_steps 0
expect_error "logger.mlflow.filename: that logger takes no option 'filename'" \
    fit "${common[@]}" --logger csv,mlflow --logger.mlflow.filename x
expect_error "logger.csv.version expects an integer .logger csv., got 'x'" fit "${common[@]}" \
    --logger csv --logger.csv.version x
echo "ok: refusals"
