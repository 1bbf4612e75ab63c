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

# With sync_dist over 2 ranks (5 samples each: batches of 4 and 1; rank r logs 100 r + b + 1)
# the ranks combine by each reduce_fx, as Lightning's strategy.reduce: the weighted mean
# (1x4 + 2x1 + 101x4 + 102x1) / 10, the sum 206, the max 102, the min 1; lt_print once.
command -v mpirun >/dev/null || skip "mpirun is not installed (apt-get install openmpi-bin)"
if [ -n "${LT_E2E_SANITIZED:-}" ]; then # as test_ddp: ASan's runtime and Open MPI's do not mix
    echo "ok: (the 2-rank sync_dist part runs on the optimised build)"
    exit 0
fi
rm -rf lightning_logs
expect_success fit --module "$d/log_reduce.so" --data "$d/log_reduce_data.so" --max_epochs 1 \
    --log_every_n_steps 1 --enable_checkpointing false --enable_progress_bar false \
    --enable_model_summary false --logger csv --test_after_fit false --model.sync true \
    --devices 2 --threads 1
want='1.5,102.4000015258789,0,1,51.5,102.0,51.20000076293945,1.0,206.0'
[ "$(sed -n 2p lightning_logs/version_0/metrics.csv | tr -d '\r')" = "$want" ] ||
    fail "sync_dist over 2 ranks: $(cat lightning_logs/version_0/metrics.csv)"
[ "$(grep -c '^log_reduce: printed once$' "$TMP/out")" -eq 1 ] || fail "lt_print under DDP: $(cat "$TMP/out")"
echo "ok: sync_dist combines 2 ranks by reduce_fx (mean 51.2, sum 206, max 102, min 1); lt_print on rank 0 only"
