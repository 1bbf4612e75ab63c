#!/usr/bin/env bash
# Device-timed ops (issue 18): on an accelerator with timer slots the per-op profilers get
# each op's time from the device's marks (cudaEvents on cuda), read back where the trainer
# waits anyway, with no host-device synchronisation per op. fakecuda_cpu emulates them
# (plugins/accelerators/cpu/test_timer.c): a device clock that ticks 1 us per mark, so
# every op lasts exactly 1 us there and a test can tell its times from the host's.
#   - advanced: the ops table says it shows device time, every op row's total is
#     calls x 1 us, and the call counts equal those of opaque_cpu (the same kernels
#     without timer slots, timed on the host);
#   - the twin saw no sync call and at most one timer wait per read-back (loss reads every
#     --log_every_n_steps, epoch end, the report), far fewer than ops;
#   - trace: valid JSON with a "GPU 0" / "stream compute" track whose spans do not overlap,
#     last 1 us each, and are the same ops, name by name, as the advanced run's;
#   - a run longer than the pending queue (4095 ops) with no read-back in between loses
#     no op: the queue is read back early.
. "$(dirname "$0")/lib.sh"
need_dataset
fake=$LT_TEST_PLUGIN_DIR/fakecuda_cpu.so
opaque=$LT_TEST_PLUGIN_DIR/opaque_cpu.so
common=(fit --module mlp --max_epochs 1 --limit_val_batches 2 --limit_test_batches 2
        --logger false --enable_checkpointing false --enable_progress_bar false
        --enable_model_summary false --test_after_fit false --seed_everything 3
        --data.batch_size 32 --default_root_dir "$TMP")

# "calls name" of each row of the FIT report's ops table in $1, sorted by name
op_rows() { awk '/^Operations/ { on = 1; next } on && /^\|  / && !/^\|  (Op|Total) / {
    gsub(/\|/, " "); print $2, $1 }' "$1" | sort; }

# ---- advanced: device times, same ops as the host-timed twin -------------------------
LT_TEST_TIMER_LOG=$TMP/timer.log expect_success "${common[@]}" --accelerator "$fake" \
    --limit_train_batches 20 --log_every_n_steps 5 --profiler advanced \
    --profiler.dirpath "$TMP/adv" --profiler.filename rep
rep=$TMP/adv/fit-rep.txt
grep -q "^Operations (device time on device 0's compute stream, from the accelerator's timer" "$rep" ||
    { cat "$rep"; fail "advanced: the ops table does not say it shows device time"; }
op_rows "$rep" >"$TMP/dev_ops"
[ -s "$TMP/dev_ops" ] || { cat "$rep"; fail "advanced: no op rows"; }
# every row: Total (s) = Calls x 1 us (the twin's clock), printed with 6 decimals
awk '/^Operations/ { on = 1; next } on && /^\|  / && !/^\|  Op / {
    gsub(/\|/, " "); if (sprintf("%.6f", $2 * 1e-6) != $3) { print; bad = 1 } } END { exit bad }' "$rep" ||
    fail "advanced: an op's total is not calls x 1 us: the times are not the device's"
ops=$(awk '{ s += $1 } END { print s }' "$TMP/dev_ops")
expect_success "${common[@]}" --accelerator "$opaque" --limit_train_batches 20 \
    --log_every_n_steps 5 --profiler advanced --profiler.dirpath "$TMP/host" --profiler.filename rep
grep -q "^Operations (liblt per-op spans" "$TMP/host/fit-rep.txt" || fail "opaque_cpu: host-timed header missing"
op_rows "$TMP/host/fit-rep.txt" >"$TMP/host_ops"
diff "$TMP/host_ops" "$TMP/dev_ops" || fail "advanced: device-timed op counts differ from host-timed ones (< host, > device)"
echo "ok: advanced: $ops ops, each 1 us of device time, the same ops as on the host clock"

# ---- no per-op synchronisation ------------------------------------------------------
read -r _ marks _ _ _ waits _ syncs <"$TMP/timer.log" || fail "no $TMP/timer.log from fakecuda_cpu"
[ "$syncs" -eq 0 ] || fail "profiling called sync $syncs times (one per op before issue 18)"
# read-backs: 4 loss reads (steps 5, 10, 15, 20), validation's reads, the report
[ "$waits" -ge 1 ] && [ "$waits" -le 12 ] || fail "$waits timer waits for $ops ops (want 1..12)"
[ "$marks" -eq $((2 * ops + waits)) ] || fail "$marks marks for $ops ops and $waits read-backs"
echo "ok: no sync, $waits timer waits and $marks marks for $ops ops"

# ---- trace: the GPU track -----------------------------------------------------------
expect_success "${common[@]}" --accelerator "$fake" --limit_train_batches 20 \
    --log_every_n_steps 5 --profiler trace --profiler.dirpath "$TMP/tr"
python3 "$SRC_DIR/tests/e2e/check_trace.py" "$TMP/tr/fit-trace.json" --expect-gpu \
    --gpu-dur-us 1 >"$TMP/gpu" || fail "trace: invalid GPU track"
awk '$1 == "gpu_op" { print $3, $2 }' "$TMP/gpu" | sort >"$TMP/gpu_ops"
diff "$TMP/dev_ops" "$TMP/gpu_ops" || fail "trace: GPU track ops differ from the advanced run's (< advanced, > trace)"
grep -q '"cat":"op","ph":"X","ts":[0-9.]*,"dur":[0-9.]*,"pid":0,' "$TMP/tr/fit-trace.json" &&
    fail "trace: an op span is on the host process too"
echo "ok: trace: GPU 0 / stream compute with $(awk '{ s += $1 } END { print s }' "$TMP/gpu_ops") non-overlapping op spans"

# ---- a full queue is read back early, not dropped ----------------------------------
# ~27 ops a step: 200 steps with one loss read at the end overflow the 4095 pending ops.
LT_TEST_TIMER_LOG=$TMP/timer2.log expect_success "${common[@]}" --accelerator "$fake" \
    --limit_train_batches 200 --log_every_n_steps 1000 --limit_val_batches 0 --profiler trace \
    --profiler.dirpath "$TMP/tr2"
python3 "$SRC_DIR/tests/e2e/check_trace.py" "$TMP/tr2/fit-trace.json" --expect-gpu \
    --gpu-dur-us 1 >"$TMP/gpu2" || fail "trace (long): invalid GPU track"
n2=$(awk '$1 == "gpu_op" { s += $3 } END { print s }' "$TMP/gpu2")
read -r _ marks2 _ _ _ waits2 _ _ <"$TMP/timer2.log"
[ "$n2" -gt 4095 ] && [ "$waits2" -ge 3 ] && [ "$marks2" -eq $((2 * n2 + waits2)) ] ||
    fail "long run: $n2 ops on the GPU track, $waits2 waits, $marks2 marks"
echo "ok: $n2 ops past the 4095-op queue, read back in $waits2 waits, none lost"
