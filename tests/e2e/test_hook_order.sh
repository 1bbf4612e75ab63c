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

# Lightning 2.x computes the epoch's validation results before on_validation_epoch_end,
# so a callback reads this epoch's val_loss there (in the sanity check too), the value
# the epoch line shows, not the previous epoch's.
plugins=$LT_TEST_PLUGIN_DIR
expect_success fit --module "$plugins/misuse.so" --callbacks "$plugins/misuse_callback.so" \
    --max_epochs 2 --limit_train_batches 4 --limit_val_batches 2 --enable_checkpointing false \
    --logger false --enable_progress_bar false --default_root_dir "$TMP"
grep -q "^misuse_callback: sanity epoch 0 val_loss=" "$TMP/out" || { cat "$TMP/out"; fail "no val_loss in the sanity check's on_validation_epoch_end"; }
for e in 0 1; do
    seen=$(sed -n "s/^misuse_callback: fit epoch $e val_loss=\([0-9.]*\)$/\1/p" "$TMP/out")
    shown=$(sed -n "s/^Epoch $((e + 1))\/2  val_loss=\([0-9.]*\) .*/\1/p" "$TMP/out")
    [ -n "$seen" ] && [ "$seen" = "$shown" ] ||
        { cat "$TMP/out"; fail "epoch $e: on_validation_epoch_end saw val_loss '$seen', the epoch line shows '$shown'"; }
done
echo "ok: on_validation_epoch_end sees the epoch's validation metrics in callback_metrics"
