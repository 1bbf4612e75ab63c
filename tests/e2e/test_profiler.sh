#!/usr/bin/env bash
# --profiler simple reports Lightning's actions with Lightning's call counts
# (tests/fixtures/profiler_actions_<stage>.txt, from tests/reference/profiler_actions.py)
# in its "FIT Profiler Report" layout; counts follow the numbers of steps and batches;
# the report goes to <dirpath>/<stage>-<filename>.txt; broken profilers are refused.
. "$(dirname "$0")/lib.sh"
need_dataset
prof=$BUILD_DIR/plugins/profilers
common=(--module mlp --limit_train_batches 2 --limit_val_batches 2 --limit_test_batches 2
        --limit_predict_batches 2 --max_epochs 1 --logger false --enable_checkpointing false
        --enable_progress_bar false --enable_model_summary false --test_after_fit false
        --data.batch_size 4 --default_root_dir "$TMP" --profiler simple)
# "<calls> <action>" of each row of a report, names as Lightning's test module has them
rows() { tr -d '\r' <"$1" | awk -F'\t' '/^\|  / && !/^\|  (Action|Total) / {
    a = $1; sub(/^\|  /, "", a); sub(/ +$/, "", a); c = $3; sub(/^\|  /, "", c); sub(/ +$/, "", c)
    print c " " a }' | sed -e 's/\[LightningModule\]mlp\./[LightningModule]MLP./' \
        -e 's/\[LightningDataModule\]fashion_mnist\./[LightningDataModule]FashionMNISTDataModule./' | sort -k2; }
# Lightning's actions that have no counterpart in a C host: configure_callbacks (lthost
# takes callbacks from flags) and the strategy's own hooks (a strategy plugin has none).
not_here='\[LightningModule\]MLP\.configure_callbacks|\[Strategy\]SingleDeviceStrategy\.on_'
for stage in fit validate test predict; do
    expect_success "$stage" "${common[@]}" --profiler.dirpath "$TMP/prof" --profiler.filename perf
    report=$TMP/prof/$stage-perf.txt
    [ -f "$report" ] || { cat "$TMP/out"; fail "$stage: no report at $report"; }
    head -1 "$report" | grep -qx "$(echo "$stage" | tr a-z A-Z) Profiler Report" || fail "$stage: title is '$(head -1 "$report")'"
    rows "$report" >"$TMP/got"
    grep -v '^#' "$SRC_DIR/tests/fixtures/profiler_actions_$stage.txt" | grep -Ev "$not_here" | sort -k2 >"$TMP/want"
    diff "$TMP/want" "$TMP/got" || fail "$stage: actions or call counts differ from Lightning's (< Lightning, > lthost)"
    total=$(tr -d '\r' <"$report" | awk -F'\t' '/^\|  Total / { c = $3; gsub(/[| ]/, "", c); print c }')
    [ "$total" -eq "$(awk '{ s += $1 } END { print s }' "$TMP/got")" ] || fail "$stage: Total calls $total is not the sum of the rows"
    echo "ok: $stage: $(wc -l <"$TMP/got") actions with Lightning's names and call counts"
done
# Layout: tab-separated columns, dash lines one longer than a row as Lightning measures it.
dash=$(sed -n 3p "$TMP/prof/fit-perf.txt")
hdr=$(sed -n 4p "$TMP/prof/fit-perf.txt" | expand | tr -d '\n')
[ "${#dash}" -eq $((${#hdr} + 1)) ] && [ -z "$(echo "$dash" | tr -d -)" ] || fail "separator of ${#dash} dashes for a ${#hdr}-column header"

# Counts follow the run: 3 epochs of 5 batches, validation of 2 batches each epoch.
expect_success fit "${common[@]}" --limit_train_batches 5 --max_epochs 3 --num_sanity_val_steps 0
for want in "3 run_training_epoch" "15 run_training_batch" "15 [_TrainingEpochLoop].train_dataloader_next" \
            "15 [Strategy]SingleDeviceStrategy.training_step" "15 [LightningModule]mlp.optimizer_step" \
            "6 [_EvaluationLoop].val_next" "6 [Strategy]SingleDeviceStrategy.validation_step"; do
    rows <(sed -n '/FIT Profiler Report/,$p' "$TMP/out") | sed 's/MLP\./mlp./' | grep -qxF "$want" ||
        { cat "$TMP/out"; fail "expected '$want' in the printed report"; }
done
echo "ok: 3 epochs x 5 batches: run_training_batch 15, optimizer_step 15, val_next 6"

# A custom profiler from a path; broken ones refused.
expect_success fit "${common[@]}" --profiler "$LT_TEST_PLUGIN_DIR/profiler_only.so"
grep -Eq "profiler_only fit: ([0-9]+) starts, \1 stops" "$TMP/out" || { cat "$TMP/out"; fail "custom profiler: unbalanced start/stop"; }
expect_error "profiler 'no_stop' has no stop function; set .stop in LT_PROFILER_EXPORT" \
    fit "${common[@]}" --profiler "$LT_TEST_PLUGIN_DIR/profiler_no_stop.so"
expect_error "profiler_abi.so.*ABI 9" fit "${common[@]}" --profiler "$LT_TEST_PLUGIN_DIR/profiler_abi.so"
expect_error "no profiler plugin named 'nope'" fit "${common[@]}" --profiler nope

# trace: Chrome trace-event JSON, well-formed, per-thread tracks incl. the loader's.
expect_success fit "${common[@]}" --profiler trace --profiler.dirpath "$TMP/tr"
grep -q "Trace written to $TMP/tr/fit-trace.json" "$TMP/out" || { cat "$TMP/out"; fail "trace: no file message"; }
python3 "$SRC_DIR/tests/e2e/check_trace.py" "$TMP/tr/fit-trace.json" --expect-loader || fail "trace: invalid trace"
grep -Eq '"name":"(linear|matmul)","cat":"op"' "$TMP/tr/fit-trace.json" || fail "trace: no per-op GEMM spans"

# csv: the example custom profiler, one row per finished action.
expect_success fit "${common[@]}" --profiler csv --profiler.dirpath "$TMP/csv" --profiler.filename prof
n=$(grep -o "[0-9]* actions written" "$TMP/csv/fit-prof.txt" | cut -d" " -f1)
[ "$(($(wc -l <"$TMP/csv/prof.csv") - 1))" -eq "$n" ] || fail "csv: $n actions reported, $(wc -l <"$TMP/csv/prof.csv") lines written"
[ "$(grep -c '^fit,"run_training_batch",' "$TMP/csv/prof.csv")" -eq 2 ] || fail "csv: expected 2 run_training_batch rows"
echo "ok: trace validates with a loader track; csv example wrote $n actions"

# advanced: percentiles per action, and liblt's ops with achieved GFLOP/s and GB/s.
expect_success fit "${common[@]}" --profiler advanced
grep -q "^FIT Advanced Profiler Report" "$TMP/out" || { cat "$TMP/out"; fail "advanced: no report"; }
grep -Eq '^\|  run_training_batch +\| +2 \|' "$TMP/out" || { cat "$TMP/out"; fail "advanced: run_training_batch is not 2 calls"; }
grep -Eq '^\|  linear +\| +[0-9]+ \| +[0-9.]+ \| +[0-9.]+ \| +[0-9.]+ \|' "$TMP/out" || { cat "$TMP/out"; fail "advanced: no linear op row with GFLOP and GFLOP/s"; }
grep -q "^Data loading (\[_DataLoader\].fill_batch)" "$TMP/out" || { cat "$TMP/out"; fail "advanced: no data loading line"; }
echo "ok: advanced: per-action percentiles, per-op GFLOP/s and GB/s, data loading"
