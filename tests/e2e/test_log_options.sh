#!/usr/bin/env bash
# lt_log's reduce_fx (sum, max, min), an explicit batch_size and lt_log_dict reduce an
# epoch as Lightning's self.log / self.log_dict: log_reduce.so repeats the scenario of
# tests/reference/log_reduce.py, and lthost's metrics.csv must equal the one Lightning
# wrote (tests/fixtures/log_reduce_lightning.csv) byte for byte. lt_print prints once.
. "$(dirname "$0")/lib.sh"
d=$LT_TEST_PLUGIN_DIR
expect_success fit --module "$d/log_reduce.so" --data "$d/log_reduce_data.so" --max_epochs 2 \
    --log_every_n_steps 1 --enable_checkpointing false --enable_progress_bar false \
    --enable_model_summary false --logger csv --test_after_fit false
got=lightning_logs/version_0/metrics.csv
cmp "$got" "$SRC_DIR/tests/fixtures/log_reduce_lightning.csv" ||
    fail "metrics.csv differs from Lightning's: $(diff "$got" "$SRC_DIR/tests/fixtures/log_reduce_lightning.csv")"
echo "ok: reduce_fx mean/sum/max/min, batch_size=1 and log_dict epoch values equal Lightning's"
[ "$(grep -c '^log_reduce: printed once$' "$TMP/out")" -eq 1 ] || fail "lt_print: $(cat "$TMP/out")"
echo "ok: lt_print"
