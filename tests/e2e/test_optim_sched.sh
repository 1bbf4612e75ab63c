#!/usr/bin/env bash
# Issue #23 through the CLI: trainer.estimated_stepping_batches sizes the mlp's per-step
# schedules (LinearLR warmup over the first 10% then CosineAnnealingLR, as one
# SequentialLR; OneCycleLR) the way Lightning counts it (batches / accumulate_grad_batches
# * max_epochs, capped by max_steps); every optimizer is selectable by --model.optimizer
# and LearningRateMonitor names its column after it.
. "$(dirname "$0")/lib.sh"
need_dataset
col() { # column $2 of metrics.csv $1, space separated
    tr -d '\r' <"$1" | awk -F, -v col="$2" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == col) c = i; next }
        c && $c != "" { printf "%s ", $c }'
}
common=(--module mlp --callbacks LearningRateMonitor --log_every_n_steps 1 --limit_train_batches 20
        --limit_val_batches 2 --max_epochs 2 --test_after_fit false --default_root_dir "$TMP")
v=0
# check ARGS... -- WANT_STEPS WARMUP: lr-Adam logged once per optimizer step (twice with
# accumulation 2), from lr * 0.01 up to lr exactly after WARMUP steps, then down.
check_warmup() {
    local steps=$1 warmup=$2 per=$3
    shift 3
    expect_success fit "${common[@]}" --model.lr_scheduler warmup_cosine "$@"
    read -r -a got <<<"$(col "$TMP/lightning_logs/version_$v/metrics.csv" lr-Adam)"
    v=$((v + 1))
    [ "${#got[@]}" -eq $((steps * per)) ] || fail "$*: ${#got[@]} lr values, expected $((steps * per))"
    [ "${got[0]}" = "1e-05" ] || fail "$*: first lr ${got[0]}, expected 1e-05 (LinearLR start 0.01)"
    [ "${got[$((warmup * per))]}" = "0.001" ] || fail "$*: lr after $warmup warmup steps is ${got[$((warmup * per))]}"
    [ "${got[$((warmup * per - 1))]}" != "0.001" ] || fail "$*: the warmup ends early"
    awk -v a="${got[-1]}" 'BEGIN { exit !(a > 0 && a < 5e-5) }' || fail "$*: last lr ${got[-1]} is not near 0 (under 5% of the peak)"
    echo "ok: warmup_cosine over $steps estimated steps (warmup $warmup) $*"
}
check_warmup 40 4 1
check_warmup 20 2 2 --accumulate_grad_batches 2
check_warmup 12 1 1 --max_steps 12
expect_success fit "${common[@]}" --model.lr_scheduler onecycle --max_epochs 1
read -r -a got <<<"$(col "$TMP/lightning_logs/version_$v/metrics.csv" lr-Adam)"
v=$((v + 1))
[ "${#got[@]}" -eq 20 ] && awk -v a="${got[0]}" -v b="${got[5]}" 'BEGIN { exit !(a > 0.00039999 && a < 0.00040001 && b == 0.01) }' ||
    fail "OneCycleLR: ${got[*]}"
echo "ok: OneCycleLR(total_steps = estimated_stepping_batches 20) starts at max_lr / 25, peaks at step 6"
expect_error "needs a known number of steps \(at least 2; estimated_stepping_batches is 1\)" \
    fit "${common[@]}" --model.lr_scheduler warmup_cosine --max_steps 1
for o in rmsprop:RMSprop adagrad:Adagrad adamax:Adamax nadam:NAdam radam:RAdam adamw:AdamW; do
    expect_success fit "${common[@]}" --max_epochs 1 --model.optimizer "${o%%:*}"
    got=$(col "$TMP/lightning_logs/version_$v/metrics.csv" "lr-${o#*:}")
    v=$((v + 1))
    [ -n "$got" ] || fail "--model.optimizer ${o%%:*}: no lr-${o#*:} column"
done
echo "ok: --model.optimizer picks each of RMSprop, Adagrad, Adamax, NAdam, RAdam, AdamW"
# Param groups: biases without weight decay in a second group; LearningRateMonitor logs
# each group as Lightning names it, and the per-step schedule scales both.
expect_success fit "${common[@]}" --model.optimizer adamw --model.bias_decay false \
    --model.lr_scheduler warmup_cosine --max_epochs 1
f="$TMP/lightning_logs/version_$v/metrics.csv"
v=$((v + 1))
[ "$(col "$f" lr-AdamW/pg1)" = "$(col "$f" lr-AdamW/pg2)" ] && [ -n "$(col "$f" lr-AdamW/pg1)" ] ||
    fail "lr-AdamW/pg1 and /pg2: '$(col "$f" lr-AdamW/pg1)' vs '$(col "$f" lr-AdamW/pg2)'"
grep -q "lr-AdamW," "$f" && fail "a grouped optimizer also logged lr-AdamW"
echo "ok: --model.bias_decay false: lr-AdamW/pg1 and lr-AdamW/pg2, scheduled alike"
