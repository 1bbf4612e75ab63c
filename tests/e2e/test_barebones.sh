#!/usr/bin/env bash
# The last of Lightning 2.6's Trainer arguments (issue #23): --barebones (everything that
# costs speed off, the flags that would turn it on refused with Lightning's reason, lt_log an
# error), --enable_autolog_hparams (hparams.yaml only from TensorBoard's save, "{}", as
# Lightning writes it), --benchmark (cuDNN's flag: accepted where no cuDNN runs), and
# --plugins / --model_registry, which name Python objects or a cloud service: refused.
. "$(dirname "$0")/lib.sh"
need_dataset
good=$LT_TEST_PLUGIN_DIR/good_module.so
base=(--accelerator cpu --max_epochs 1 --limit_train_batches 3 --limit_val_batches 2
      --test_after_fit false --default_root_dir "$TMP/root")

# A module that logs nothing trains: no folder, no checkpoint, Lightning's notices.
expect_success fit --module "$good" "${base[@]}" --barebones true
[ ! -e "$TMP/root" ] || fail "barebones wrote $(find "$TMP/root" | head -3)"
grep -q '^You are running in `Trainer(barebones=True)` mode' "$TMP/out" || fail "no barebones notice"
grep -q 'global step 3' "$TMP/out" || fail "barebones did not train 3 steps: $(cat "$TMP/out")"
echo "ok: --barebones true trains with no logs, checkpoints or folder"
expect_error "mlp logged 'train_loss' with lt_log, but --barebones true is set" \
    fit --module mlp "${base[@]}" --barebones true
for f in "enable_checkpointing true" "logger csv" "enable_progress_bar true" \
    "log_every_n_steps 5" "enable_model_summary true" "num_sanity_val_steps 2" \
    "fast_dev_run 1" "detect_anomaly true" "profiler simple"; do
    set -- $f
    expect_error "^lthost: error: --barebones true with --$1 .*can impact raw speed so it is disabled in barebones mode" \
        fit --module "$good" "${base[@]}" --barebones true --$f
done
expect_success fit --module "$good" "${base[@]}" --barebones true --enable_checkpointing false \
    --logger false --num_sanity_val_steps 0
echo "ok: the flags barebones turns off are refused when given on, accepted when given off"

# hparams.yaml: logged by default; with autolog off only TensorBoard's save writes "{}".
expect_success fit --module mlp "${base[@]}" --enable_progress_bar false
grep -q '^lr: ' "$TMP/root/lightning_logs/version_0/hparams.yaml" || fail "hparams.yaml lacks lr"
expect_success fit --module mlp "${base[@]}" --enable_progress_bar false --enable_autolog_hparams false
[ "$(cat "$TMP/root/lightning_logs/version_1/hparams.yaml")" = "{}" ] ||
    fail "autolog off: hparams.yaml is '$(cat "$TMP/root/lightning_logs/version_1/hparams.yaml")', Lightning's TensorBoardLogger writes {}"
expect_success fit --module mlp "${base[@]}" --enable_progress_bar false --enable_autolog_hparams false --logger csv
[ ! -e "$TMP/root/lightning_logs/version_2/hparams.yaml" ] || fail "autolog off: csv wrote hparams.yaml"
echo "ok: --enable_autolog_hparams false"

expect_success fit --module "$good" "${base[@]}" --benchmark true --logger false
expect_error "benchmark expects null.true.false, got 'maybe'" fit --module "$good" "${base[@]}" --benchmark maybe
expect_error "^lthost: error: --plugins takes Lightning's precision, checkpoint-IO" \
    fit --module "$good" "${base[@]}" --plugins x
expect_error "^lthost: error: --model_registry uploads to Lightning's cloud model registry" \
    fit --module "$good" "${base[@]}" --trainer.model_registry m
echo "ok: --benchmark on cpu, --plugins and --model_registry refused"
