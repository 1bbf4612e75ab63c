#!/usr/bin/env bash
# Schedulers registered in configure_optimizers step at their interval, and
# LearningRateMonitor logs the learning rate as lr-Adam (torch's values: StepLR(1, 0.7),
# CosineAnnealingLR(T_max 3)); ReduceLROnPlateau without its metric is a clear error.
. "$(dirname "$0")/lib.sh"
need_dataset
lrs() { # the lr-Adam column of a metrics.csv, space separated
    tr -d '\r' <"$1" | awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "lr-Adam") c = i; next }
        c && $c != "" { printf "%s ", $c }'
}
common=(--module mlp --callbacks LearningRateMonitor --limit_train_batches 5 --limit_val_batches 2
        --max_epochs 3 --test_after_fit false --default_root_dir "$TMP")
expect_success fit "${common[@]}" --model.lr_scheduler step
got=$(lrs "$TMP/lightning_logs/version_0/metrics.csv")
[ "$got" = "0.001 0.0007 0.00049 " ] || fail "StepLR lr-Adam: '$got'"
expect_success fit "${common[@]}" --model.lr_scheduler cosine
got=$(lrs "$TMP/lightning_logs/version_1/metrics.csv")
[ "$got" = "0.001 0.00075 0.0002500000000000001 " ] || fail "CosineAnnealingLR lr-Adam: '$got'"
echo "ok: StepLR and CosineAnnealingLR values in metrics.csv (lr-Adam), as torch computes them"
expect_error "ReduceLROnPlateau conditioned on metric val_loss which is not available" \
    fit "${common[@]}" --model.lr_scheduler plateau --limit_val_batches 0
expect_error "LearningRateMonitor needs a logger" fit "${common[@]}" --logger false
