#!/usr/bin/env bash
# Module and callback hooks arrive in exactly Lightning 2.x's order for fit, validate,
# test and predict (tests/fixtures/hook_order_*.txt, from tests/reference/hook_order.py:
# 1 epoch, 2 train + 2 val batches, sanity check on).
. "$(dirname "$0")/lib.sh"
need_dataset
rec=$BUILD_DIR/tests/e2e/recorder
for stage in fit validate test predict; do
    log=$TMP/$stage.txt
    expect_success "$stage" --module "$rec/recorder_module.so" --model.log "$log" \
        --callbacks "$rec/recorder_callback.so" --callbacks.log "$log" --max_epochs 1 \
        --limit_train_batches 2 --limit_val_batches 2 --limit_test_batches 2 \
        --limit_predict_batches 2 --test_after_fit false --default_root_dir "$TMP" \
        --enable_checkpointing false
    grep -v '^#' "$SRC_DIR/tests/fixtures/hook_order_$stage.txt" >"$TMP/want"
    diff -u "$TMP/want" "$log" || fail "$stage: hook order differs from Lightning's (- Lightning, + lthost)"
    echo "ok: $stage: $(wc -l <"$log") hooks in Lightning's order"
done
