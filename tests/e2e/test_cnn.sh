#!/usr/bin/env bash
# The cnn model (conv-bn-relu x2, max-pool, dropout, linear head) learns Fashion-MNIST in a
# short run, its checkpoint carries BatchNorm's running statistics under torch's names,
# and `lthost test` from that checkpoint (eval mode: running statistics, no dropout)
# scores exactly what the fitted model scored. The full acceptance run
# (`fit --module cnn --max_epochs 5`, >= 0.91) is measured in docs/writing-a-model.md.
. "$(dirname "$0")/lib.sh"
need_dataset
batches=100 bar=0.75
[ -z "${LT_E2E_SANITIZED:-}" ] || { batches=15 bar=0.30; }
expect_success fit --module cnn --max_epochs 1 --limit_train_batches "$batches" --limit_val_batches 5 \
    --limit_test_batches 20 --seed_everything 7 --enable_progress_bar false --default_root_dir "$TMP"
fit_acc=$(sed -n 's/^Test:.*test_acc=\([0-9.]*\).*/\1/p' "$TMP/out")
[ -n "$fit_acc" ] || { cat "$TMP/out"; fail "fit printed no test accuracy"; }
awk -v a="$fit_acc" -v b="$bar" 'BEGIN { exit !(a >= b) }' || fail "cnn test accuracy $fit_acc < $bar after $batches steps"
echo "ok: cnn learns: test_acc $fit_acc >= $bar after $batches steps"

ckpt=$(ls "$TMP"/lightning_logs/version_0/checkpoints/*.ckpt)
header=$(head -c 65536 "$ckpt" | tr -d '\0')
for key in bn1.weight bn1.running_mean bn1.running_var bn2.num_batches_tracked conv2.weight; do
    grep -q "\"state_dict.$key\"" <<<"$header" || fail "$ckpt has no state_dict.$key"
done
grep -q '"state_dict.bn2.num_batches_tracked":{"dtype":"I64","shape":\[\]' <<<"$header" ||
    fail "num_batches_tracked is not a 0-d I64 tensor as in torch"
grep -q '"state_dict.conv1.bias"' <<<"$header" && fail "conv1 has a bias before its batch norm"
echo "ok: the checkpoint holds the buffers under torch's names"

expect_success test --module cnn --ckpt_path "$ckpt" --limit_test_batches 20 --enable_progress_bar false
test_acc=$(sed -n 's/^Test:.*test_acc=\([0-9.]*\).*/\1/p' "$TMP/out")
[ "$test_acc" = "$fit_acc" ] || { cat "$TMP/out"; fail "test from the checkpoint: test_acc $test_acc, fit's $fit_acc"; }
echo "ok: lthost test from the checkpoint scores $test_acc, as the fitted model did"

# Mid-epoch resume with dropout and batch norm: from the step-4 checkpoint of a 12-step
# run, the resumed run logs the same losses and ends with the same weights and running
# statistics, bit for bit (predictions run in eval mode, on the running statistics).
common=(--module cnn --max_epochs 1 --limit_train_batches 12 --limit_val_batches 2 --seed_everything 3
        --threads 2 --log_every_n_steps 1 --test_after_fit false --enable_progress_bar false)
losses() { tr -d '\r' <"$1" | awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) { if ($i == "step") s = i; if ($i == "train_loss_step") c = i }; next }
    $c != "" { print $s "," $c }'; }
expect_success fit "${common[@]}" --default_root_dir "$TMP/full" --callbacks ModelCheckpoint \
    --callbacks.every_n_train_steps 4 --callbacks.save_top_k -1
dir=$TMP/full/lightning_logs/version_0
expect_success fit "${common[@]}" --default_root_dir "$TMP/resumed" --ckpt_path "$dir/checkpoints/epoch=0-step=4.ckpt"
rdir=$TMP/resumed/lightning_logs/version_0
losses "$dir/metrics.csv" | tail -n 8 >"$TMP/full.txt"
losses "$rdir/metrics.csv" >"$TMP/resumed.txt"
[ "$(wc -l <"$TMP/full.txt")" -eq 8 ] && diff -q "$TMP/full.txt" "$TMP/resumed.txt" >/dev/null ||
    { paste "$TMP/full.txt" "$TMP/resumed.txt"; fail "losses after a mid-epoch resume differ"; }
for run in full resumed; do
    d=$TMP/$run/lightning_logs/version_0/checkpoints
    expect_success predict --module cnn --ckpt_path "$d/epoch=0-step=12.ckpt" \
        --limit_predict_batches 2 --predict.output "$TMP/$run.npy"
done
cmp -s "$TMP/full.npy" "$TMP/resumed.npy" || fail "predictions differ after a mid-epoch resume"
echo "ok: resumed at step 4 of 12 with dropout and batch norm: 8 step losses and final logits identical"
