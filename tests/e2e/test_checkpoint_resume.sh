#!/usr/bin/env bash
# A run stopped and resumed gives per-step losses identical bit for bit to an
# uninterrupted one (CPU, same seed and threads), resuming at an epoch boundary
# (--ckpt_path last) and from a mid-epoch checkpoint (every_n_train_steps); the final
# weights agree too (predictions compared byte for byte).
. "$(dirname "$0")/lib.sh"
need_dataset
common=(--module mlp --limit_train_batches 20 --limit_val_batches 4 --seed_everything 7
        --threads 2 --log_every_n_steps 1 --test_after_fit false --model.lr_scheduler step
        --enable_progress_bar false)
# step,train_loss_step for every step of the metrics.csv files given, in order
losses() { cat "$@" | tr -d '\r' | awk -F, 'FNR == 1 || /^epoch/ { for (i = 1; i <= NF; i++) { if ($i == "step") s = i; if ($i == "train_loss_step") c = i }; next }
    $c != "" { print $s "," $c }'; }
predict() { # predict CKPT OUT: logits of 2 test batches
    expect_success predict --module mlp --ckpt_path "$1" --limit_predict_batches 2 --predict.output "$2"
}

expect_success fit "${common[@]}" --max_epochs 3 --default_root_dir "$TMP/full"
losses "$TMP"/full/lightning_logs/version_0/metrics.csv >"$TMP/full.txt"
[ "$(wc -l <"$TMP/full.txt")" -eq 60 ] || fail "expected 60 logged steps, got $(wc -l <"$TMP/full.txt")"
full_ckpt=$(ls "$TMP"/full/lightning_logs/version_0/checkpoints/*.ckpt)
[ "$(basename "$full_ckpt")" = "epoch=2-step=60.ckpt" ] || fail "default ModelCheckpoint wrote $full_ckpt"
predict "$full_ckpt" "$TMP/full.npy"

# Epoch boundary: stop after 1 epoch, continue with --ckpt_path last.
expect_success fit "${common[@]}" --max_epochs 1 --default_root_dir "$TMP/b"
expect_success fit "${common[@]}" --max_epochs 3 --default_root_dir "$TMP/b" --ckpt_path last
grep -q "Resuming fit after epoch 0 (global step 20)" "$TMP/out" || { cat "$TMP/out"; fail "no resume message"; }
losses "$TMP"/b/lightning_logs/version_{0,1}/metrics.csv >"$TMP/b.txt"
diff "$TMP/full.txt" "$TMP/b.txt" >/dev/null || { diff "$TMP/full.txt" "$TMP/b.txt" | head; fail "losses after resuming at an epoch boundary differ"; }
predict "$TMP/b/lightning_logs/version_1/checkpoints/epoch=2-step=60.ckpt" "$TMP/b.npy"
cmp -s "$TMP/full.npy" "$TMP/b.npy" || fail "final weights differ after resuming at an epoch boundary"
[ -f "$TMP/b/lightning_logs/version_0/checkpoints/epoch=0-step=20.ckpt" ] || fail "resuming deleted the checkpoint it resumed from"
echo "ok: resumed at an epoch boundary: 60 step losses and final logits identical"

# Mid-epoch: checkpoints every 7 steps; resume from step 28 (epoch 1, batch 8).
expect_success fit "${common[@]}" --max_epochs 2 --default_root_dir "$TMP/m" \
    --callbacks ModelCheckpoint --callbacks.every_n_train_steps 7 --callbacks.save_top_k -1
dir=$TMP/m/lightning_logs/version_0/checkpoints
[ "$(ls "$dir" | tr '\n' ' ')" = "epoch=0-step=14.ckpt epoch=0-step=7.ckpt epoch=1-step=21.ckpt epoch=1-step=28.ckpt epoch=1-step=35.ckpt " ] ||
    fail "every_n_train_steps 7 wrote: $(ls "$dir" | tr '\n' ' ')"
expect_success fit "${common[@]}" --max_epochs 3 --default_root_dir "$TMP/m2" --ckpt_path "$dir/epoch=1-step=28.ckpt"
grep -q "Resuming fit in epoch 1 after batch 8 (global step 28)" "$TMP/out" || { cat "$TMP/out"; fail "no mid-epoch resume message"; }
losses "$TMP"/m2/lightning_logs/version_0/metrics.csv >"$TMP/m2.txt"
tail -n 32 "$TMP/full.txt" | diff - "$TMP/m2.txt" >/dev/null || { tail -n 32 "$TMP/full.txt" | diff - "$TMP/m2.txt" | head; fail "losses after a mid-epoch resume differ"; }
predict "$TMP/m2/lightning_logs/version_0/checkpoints/epoch=2-step=60.ckpt" "$TMP/m2.npy"
cmp -s "$TMP/full.npy" "$TMP/m2.npy" || fail "final weights differ after a mid-epoch resume"
[ -f "$dir/epoch=1-step=28.ckpt" ] || fail "resuming deleted the checkpoint it resumed from"
echo "ok: resumed mid-epoch (step 28): 32 step losses and final logits identical"
