#!/usr/bin/env bash
# The custom-op example of docs/writing-a-model.md trains: an MLP whose activation is the
# custom op swish_beta (its beta a parameter, its gradient written by hand) learns
# Fashion-MNIST and moves beta; with --model.levels the inputs go through round_ste (its
# own loop over host memory, a straight-through gradient) and it still learns.
. "$(dirname "$0")/lib.sh"
need_dataset
model=$LT_TEST_PLUGIN_DIR/custom_op_model.so
batches=150 bar=0.72
[ -z "${LT_E2E_SANITIZED:-}" ] || { batches=20 bar=0.40; }
for levels in 0 4; do
    dir=$TMP/levels$levels
    expect_success fit --module "$model" --model.levels "$levels" --max_epochs 1 \
        --limit_train_batches "$batches" --limit_val_batches 2 --limit_test_batches 20 \
        --seed_everything 5 --log_every_n_steps 10 --enable_progress_bar false --default_root_dir "$dir"
    acc=$(sed -n 's/^Test:.*test_acc=\([0-9.]*\).*/\1/p' "$TMP/out")
    [ -n "$acc" ] || { cat "$TMP/out"; fail "levels $levels: fit printed no test accuracy"; }
    awk -v a="$acc" -v b="$bar" 'BEGIN { exit !(a >= b) }' || fail "levels $levels: test_acc $acc < $bar"
    csv=$dir/lightning_logs/version_0/metrics.csv
    beta=$(awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "beta") c = i; next } c && $c != "" { v = $c } END { print v }' "$csv")
    [ -n "$beta" ] || fail "levels $levels: no beta logged in $csv"
    awk -v b="$beta" 'BEGIN { exit !(b != 1 && b == b) }' || fail "levels $levels: beta stayed $beta"
    echo "ok: custom ops train (levels $levels): test_acc $acc >= $bar, beta 1 -> $beta"
done
