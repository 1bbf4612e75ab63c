#!/usr/bin/env bash
# LightningModule.configure_callbacks (issue 23): the callbacks a module brings join the
# trainer's, replacing those of the same class (here --callbacks ModelCheckpoint and the
# default one), with their options; a malformed entry is one error line.
. "$(dirname "$0")/lib.sh"
d=$LT_TEST_PLUGIN_DIR
probe=(--module "$d/avg_probe.so" --data "$d/log_reduce_data.so" --limit_val_batches 0
       --test_after_fit false --enable_progress_bar false --enable_model_summary false --logger false)

expect_success fit "${probe[@]}" --max_epochs 2 --default_root_dir a \
    --model.callbacks "ModelCheckpoint filename=from_module"
[ "$(ls a/checkpoints)" = "from_module.ckpt" ] || fail "default ModelCheckpoint not replaced: $(ls a/checkpoints)"
expect_success fit "${probe[@]}" --max_epochs 2 --default_root_dir b --callbacks ModelCheckpoint \
    --callbacks.filename from_cli --model.callbacks "ModelCheckpoint filename=from_module"
[ "$(ls b/checkpoints)" = "from_module.ckpt" ] || fail "--callbacks ModelCheckpoint not replaced: $(ls b/checkpoints)"
echo "ok: the module's ModelCheckpoint replaces the default one and the one from --callbacks"

# A module-brought SWA trains as the same callback from --callbacks (Lightning's numbers).
want=$(awk '$1 == "==" { on = ($2 == "swa_cos"); next } on && $1 == "final"' \
    "$SRC_DIR/tests/fixtures/weight_averaging_lightning.txt")
expect_success fit "${probe[@]}" --max_epochs 6 \
    --model.callbacks "StochasticWeightAveraging swa_lrs=0.02 swa_epoch_start=2 annealing_epochs=2;Timer"
[ "$(grep '^final' "$TMP/out")" = "$want" ] || fail "module SWA: $(grep '^final' "$TMP/out"), Lightning: $want"
echo "ok: a StochasticWeightAveraging from configure_callbacks averages as Lightning's"

expect_error "configure_callbacks: entry 0 'ModelCheckpoint filename' is not" \
    fit "${probe[@]}" --max_epochs 1 --model.callbacks "ModelCheckpoint filename"
expect_error "no built-in callback or callback plugin of that name; did you mean ModelCheckpoint" \
    fit "${probe[@]}" --max_epochs 1 --model.callbacks "ModelCheckpont"
