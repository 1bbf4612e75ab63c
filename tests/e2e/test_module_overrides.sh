#!/usr/bin/env bash
# Issue #23's module overrides through the trainer (tests/e2e/plugins/overrides.c):
# lt_freeze of a submodule (its weights and batch-norm statistics stay put, the rest
# trains), lt_unfreeze mid-run, lr_scheduler_step deciding when the scheduler steps, and
# configure_gradient_clipping receiving the trainer's --gradient_clip_val and clipping its
# own way.
. "$(dirname "$0")/lib.sh"
need_dataset
col() { # column $2 of metrics.csv $1, space separated
    tr -d '\r' <"$1" | awk -F, -v col="$2" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == col) c = i; next }
        c && $c != "" { printf "%s ", $c }'
}
count_distinct() { tr ' ' '\n' <<<"$1" | grep . | sort -u | wc -l; }
common=(--module "$LT_TEST_PLUGIN_DIR/overrides.so" --max_epochs 1 --limit_train_batches 6
        --limit_val_batches 0 --log_every_n_steps 1 --test_after_fit false --default_root_dir "$TMP")
v=0
run_mode() {
    expect_success fit "${common[@]}" --model.mode "$@"
    f="$TMP/lightning_logs/version_$v/metrics.csv"
    v=$((v + 1))
}
run_mode freeze
[ "$(count_distinct "$(col "$f" enc_sum)")" -eq 1 ] || fail "frozen encoder moved: $(col "$f" enc_sum)"
[ "$(count_distinct "$(col "$f" head_sq)")" -eq 6 ] || fail "head did not train: $(col "$f" head_sq)"
[ "$(col "$f" bn_batches)" = "0.0 0.0 0.0 0.0 0.0 0.0 " ] || fail "frozen encoder.bn kept training: $(col "$f" bn_batches)"
[ "$(col "$f" training)" = "1.0 1.0 1.0 1.0 1.0 1.0 " ] || fail "freezing a submodule put the module in eval mode"
echo "ok: lt_freeze(\"encoder\"): encoder weights fixed, encoder.bn in eval mode, head trains"
run_mode thaw
read -r -a enc <<<"$(col "$f" enc_sum)"
[ "${enc[0]}" = "${enc[3]}" ] && [ "${enc[3]}" != "${enc[4]}" ] || fail "unfreeze at step 3: ${enc[*]}"
[ "$(col "$f" bn_batches)" = "0.0 0.0 0.0 1.0 2.0 3.0 " ] || fail "thawed encoder.bn: $(col "$f" bn_batches)"
echo "ok: lt_unfreeze(\"encoder\") before step 3: it trains from there"
run_mode sched --callbacks LearningRateMonitor
[ "$(col "$f" lr-SGD)" = "0.1 0.05 0.05 0.025 0.025 0.0125 " ] || fail "lr_scheduler_step: lr $(col "$f" lr-SGD)"
[ "$(col "$f" sched_calls)" = "0.0 1.0 2.0 3.0 4.0 5.0 " ] || fail "lr_scheduler_step calls: $(col "$f" sched_calls)"
[ "$(count_distinct "$(col "$f" metric_seen)")" -eq 1 ] && [ "$(col "$f" metric_seen | cut -d' ' -f1)" = 0.0 ] ||
    fail "lr_scheduler_step got a metric for a StepLR"
echo "ok: lr_scheduler_step is called once per step (metric NULL) and decides when StepLR steps"
run_mode clip --gradient_clip_val 0.02 --gradient_clip_algorithm value
[ "$(col "$f" clip_calls)" = "0.0 1.0 2.0 3.0 4.0 5.0 " ] || fail "configure_gradient_clipping calls: $(col "$f" clip_calls)"
[ "$(col "$f" clip_val | cut -d' ' -f2-)" = "0.02 0.02 0.02 0.02 0.02 " ] || fail "clip_val $(col "$f" clip_val)"
for g in $(col "$f" grad_max); do
    awk -v g="$g" 'BEGIN { exit !(g <= 0.0100001) }' || fail "gradient $g above the override's 0.01"
done
echo "ok: configure_gradient_clipping gets --gradient_clip_val 0.02 and clips at its own 0.01"
expect_error "lt_freeze\(\"enc\"\): overrides has no parameter named enc or enc\.\*" fit "${common[@]}" --model.mode bad_freeze
