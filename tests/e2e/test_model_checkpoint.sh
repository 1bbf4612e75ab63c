#!/usr/bin/env bash
# ModelCheckpoint as Lightning's: monitor/mode/save_top_k keep the best files, filename
# templates, save_last, every_n_epochs, dirpath; --ckpt_path best/last for test; the
# saved hyper-parameters come back on load and flags override them.
. "$(dirname "$0")/lib.sh"
need_dataset
common=(--module mlp --limit_train_batches 10 --limit_val_batches 3 --seed_everything 2
        --test_after_fit false --enable_progress_bar false --enable_model_summary false)
names() { ls "$1" | tr '\n' ' '; }

expect_success fit "${common[@]}" --max_epochs 4 --default_root_dir "$TMP/a" --callbacks ModelCheckpoint \
    --callbacks.monitor val_loss --callbacks.save_top_k 2 --callbacks.save_last true \
    --callbacks.filename '{epoch}-{val_loss:.3f}'
dir=$TMP/a/lightning_logs/version_0/checkpoints
# the two lowest val_loss epochs, from metrics.csv, formatted as the template does
want=$(tr -d '\r' <"$TMP/a/lightning_logs/version_0/metrics.csv" | awk -F, '
    NR == 1 { for (i = 1; i <= NF; i++) { if ($i == "val_loss") v = i; if ($i == "epoch") e = i }; next }
    $v != "" { printf "epoch=%d-val_loss=%.3f.ckpt %s\n", $e, $v, $v }' | sort -k2 -g | head -2 | cut -d' ' -f1 | sort | tr '\n' ' ')
[ "$(names "$dir")" = "${want}last.ckpt " ] || fail "top-2 by val_loss: kept '$(names "$dir")', expected '${want}last.ckpt'"
echo "ok: save_top_k 2 by val_loss kept: $(names "$dir")"
best=$(echo "$want" | cut -d' ' -f1)
for w in $want; do # the lower val_loss is the best
    [ "$(echo "$w" | sed 's/.*val_loss=\(.*\).ckpt/\1/')" \< "$(echo "$best" | sed 's/.*val_loss=\(.*\).ckpt/\1/')" ] && best=$w
done
expect_success test --module mlp --limit_test_batches 2 --ckpt_path best --default_root_dir "$TMP/a"
grep -q "Restoring states from the checkpoint path at $dir/$best" "$TMP/out" || { cat "$TMP/out"; fail "--ckpt_path best did not pick $best"; }
grep -q "test_acc=" "$TMP/out" || fail "test after --ckpt_path best printed no results"
expect_success test --module mlp --limit_test_batches 2 --ckpt_path last --default_root_dir "$TMP/a"
grep -q "checkpoint path at $dir/last.ckpt" "$TMP/out" || { cat "$TMP/out"; fail "--ckpt_path last did not pick last.ckpt"; }
echo "ok: --ckpt_path best -> $best, last -> last.ckpt"

expect_success fit "${common[@]}" --max_epochs 4 --logger false --callbacks ModelCheckpoint \
    --callbacks.dirpath "$TMP/every2" --callbacks.every_n_epochs 2 --callbacks.save_top_k -1
[ "$(names "$TMP/every2")" = "epoch=1-step=20.ckpt epoch=3-step=40.ckpt " ] || fail "every_n_epochs 2 wrote '$(names "$TMP/every2")'"
expect_success fit "${common[@]}" --max_epochs 2 --logger false --default_root_dir "$TMP/nolog"
[ "$(names "$TMP/nolog/checkpoints")" = "epoch=1-step=20.ckpt " ] || fail "--logger false: '$(names "$TMP/nolog/checkpoints")'"
expect_success fit "${common[@]}" --max_epochs 1 --default_root_dir "$TMP/off" --enable_checkpointing false
[ ! -d "$TMP/off/lightning_logs/version_0/checkpoints" ] || fail "--enable_checkpointing false still wrote checkpoints"
echo "ok: every_n_epochs, dirpath, --logger false, --enable_checkpointing false"

# hyper-parameters: saved, restored on load, overridden by flags; hparams.yaml agrees
expect_success fit "${common[@]}" --max_epochs 1 --default_root_dir "$TMP/hp" --model.hidden 96 --model.lr 0.0025
ck=$(ls "$TMP"/hp/lightning_logs/version_0/checkpoints/*.ckpt)
grep -q '^hidden: 96$' "$TMP/hp/lightning_logs/version_0/hparams.yaml" || fail "hparams.yaml lacks hidden: 96"
expect_success validate --module mlp --limit_val_batches 2 --ckpt_path "$ck" --default_root_dir "$TMP/hp"
grep -q "mlp: 6 tensors, $(( (784 * 96 + 96) + (96 * 128 + 128) + (128 * 10 + 10) )) parameters" "$TMP/out" ||
    { cat "$TMP/out"; fail "validate did not rebuild the module with the saved hidden=96"; }
grep -q '^hidden: 96$' "$TMP/hp/lightning_logs/version_1/hparams.yaml" && grep -q '^lr: 0.0025$' "$TMP/hp/lightning_logs/version_1/hparams.yaml" ||
    fail "validate's hparams.yaml does not show the restored hyper-parameters"
expect_error "size mismatch for l1.weight" validate --module mlp --limit_val_batches 2 --ckpt_path "$ck" --model.hidden 32
echo "ok: hidden=96, lr=0.0025 restored from the checkpoint; --model.hidden overrides"

expect_error "ModelCheckpoint\(monitor='nope'\) could not find the monitored key" \
    fit "${common[@]}" --max_epochs 1 --default_root_dir "$TMP/x" --callbacks ModelCheckpoint --callbacks.monitor nope
expect_error "--enable_checkpointing false, but a ModelCheckpoint is in --callbacks" \
    fit "${common[@]}" --max_epochs 1 --enable_checkpointing false --callbacks ModelCheckpoint
expect_error "--ckpt_path best: no checkpoint found" test --module mlp --ckpt_path best --default_root_dir "$TMP/empty"
expect_success fit "${common[@]}" --max_epochs 1 --default_root_dir "$TMP/empty" --ckpt_path last
grep -q "no checkpoint in .* yet; training from scratch" "$TMP/out" || { cat "$TMP/out"; fail "fit --ckpt_path last with nothing saved"; }
expect_error "--submodule enc: only \`lthost predict\`" fit --module mlp --submodule enc
expect_error "--init_weights and --ckpt_path both" fit --module mlp --ckpt_path "$ck" --init_weights "$ck"
