#!/usr/bin/env bash
# Pinned batch buffers and device memory statistics, on any machine: fakecuda_cpu (the cpu
# kernels posing as a GPU) has the cuda plugin's host_alloc/host_free/host_wait and
# memory_stats slots with counters. The loaders take their batch buffers from host_alloc,
# wait on each before refilling it and free every one; training gives the same numbers as
# on cpu (malloc'd buffers); DeviceStatsMonitor logs the memory statistics under
# torch.cuda.memory_stats' names. tests/gpu/run.sh checks the same on a GPU.
. "$(dirname "$0")/lib.sh"
need_dataset
fake=$LT_TEST_PLUGIN_DIR/fakecuda_cpu.so
common=(--module mlp --threads 1 --enable_progress_bar false --enable_model_summary false
        --seed_everything 5 --max_epochs 2 --limit_train_batches 20 --limit_val_batches 5
        --limit_test_batches 5 --logger csv --enable_checkpointing false)
metrics() { cut -d, -f1-4 lightning_logs/version_0/metrics.csv; }

# ---- pinned buffers: every one allocated, waited on before a refill, freed once ----------
for w in 0 2; do
    rm -rf lightning_logs
    LT_TEST_HOST_LOG=$TMP/host.log expect_success fit "${common[@]}" --accel "$fake" --data.num_workers "$w"
    read -r _ a _ f _ wt <"$TMP/host.log" || fail "no host log from fakecuda_cpu"
    [ "$a" -gt 0 ] || fail "num_workers $w: no batch buffer came from host_alloc ($(cat "$TMP/host.log"))"
    [ "$f" -eq "$a" ] || fail "num_workers $w: $a host_alloc but $f host_free"
    [ "$wt" -gt 0 ] || fail "num_workers $w: no host_wait before a refill"
    metrics >"$TMP/fake$w.csv"
    echo "ok: num_workers $w: $a pinned buffers, $wt waits, all freed"
done
cmp -s "$TMP/fake0.csv" "$TMP/fake2.csv" || fail "pinned buffers: num_workers 0 and 2 logged different metrics"
rm -rf lightning_logs
expect_success fit "${common[@]}" --accel cpu
metrics >"$TMP/cpu.csv"
cmp -s "$TMP/cpu.csv" "$TMP/fake0.csv" ||
    fail "pinned buffers change the metrics: $(diff "$TMP/cpu.csv" "$TMP/fake0.csv" | head -4)"
echo "ok: metrics identical on cpu (malloc) and fakecuda_cpu (host_alloc)"

# ---- DeviceStatsMonitor: the accelerator's memory statistics ------------------------------
rm -rf lightning_logs
expect_success fit "${common[@]}" --accel "$fake" --max_epochs 1 --log_every_n_steps 2 \
    --callbacks DeviceStatsMonitor
head -1 lightning_logs/version_0/metrics.csv | tr , '\n' >"$TMP/cols"
for col in allocated_bytes.all.current allocated_bytes.all.peak reserved_bytes.all.current \
    reserved_bytes.all.peak num_device_alloc; do
    grep -qx "DeviceStatsMonitor.on_train_batch_start/$col" "$TMP/cols" ||
        fail "DeviceStatsMonitor on fakecuda_cpu: no $col column: $(tr '\n' ' ' <"$TMP/cols")"
done
grep -q 'cpu_percent' "$TMP/cols" && fail "DeviceStatsMonitor logged CPU stats on a device (cpu_stats auto)"
v=$(awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "DeviceStatsMonitor.on_train_batch_end/allocated_bytes.all.current") c = i }
             NR > 1 && c && $c != "" { print $c; exit }' lightning_logs/version_0/metrics.csv)
awk -v v="$v" 'BEGIN { exit !(v > 1000) }' || fail "DeviceStatsMonitor: allocated_bytes.all.current '$v'"
echo "ok: DeviceStatsMonitor logs the accelerator's memory statistics ($v bytes allocated)"
