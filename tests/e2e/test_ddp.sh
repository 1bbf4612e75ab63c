#!/usr/bin/env bash
# DDP over MPI: 2 ranks x batch B give the weights of 1 process x batch 2B on the same
# data (same model .so, unchanged); `--strategy ddp --devices 2` (and --devices 2 alone)
# re-launches itself under mpirun; a rank that fails or dies takes every rank down within
# seconds, naming it; different plugin files or a wrong process count are refused.
. "$(dirname "$0")/lib.sh"
need_dataset
command -v mpirun >/dev/null || skip "mpirun is not installed (apt-get install openmpi-bin)"
[ -z "${LT_E2E_SANITIZED:-}" ] || skip "DDP runs on the optimised build (ASan's runtime and Open MPI's do not mix)"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
mpi=(mpirun -np 2 --bind-to none)
mlp=$LT_TEST_MLP_PLUGIN
common=(--module "$mlp" --limit_train_batches 8 --limit_val_batches 0 --max_epochs 2 --threads 1
        --seed_everything 3 --test_after_fit false --enable_progress_bar false --enable_model_summary false)
before=$(md5sum <"$mlp")
expect_success fit "${common[@]}" --data.batch_size 64 --default_root_dir "$TMP/one"
rc=0
"${mpi[@]}" "$LTHOST" fit "${common[@]}" --strategy ddp --devices 2 --data.batch_size 32 \
    --default_root_dir "$TMP/two" >"$TMP/ddp.out" 2>&1 || rc=$?
[ $rc -eq 0 ] || { cat "$TMP/ddp.out"; fail "mpirun -np 2 lthost fit exited $rc"; }
[ "$(grep -c '^Epoch 2/2' "$TMP/ddp.out")" -eq 1 ] || { cat "$TMP/ddp.out"; fail "rank 0 alone should print the epoch lines"; }
[ "$(md5sum <"$mlp")" = "$before" ] || fail "the model .so changed between the runs"
logits() { # logits of 64 test images from a checkpoint, one number per line
    expect_success predict --module "$mlp" --ckpt_path "$1" --limit_predict_batches 1 --data.batch_size 64 \
        --predict.output "$2"
    tr ',' '\n' <"$2" >"$2.txt"
}
logits "$(ls "$TMP"/one/lightning_logs/version_0/checkpoints/*.ckpt)" "$TMP/one.csv"
logits "$(ls "$TMP"/two/lightning_logs/version_0/checkpoints/*.ckpt)" "$TMP/two.csv"
[ "$(wc -l <"$TMP/one.csv.txt")" -eq 640 ] || fail "expected 640 logits"
paste -d' ' "$TMP/one.csv.txt" "$TMP/two.csv.txt" | awk '{ d = $1 - $2; if (d < 0) d = -d; if (d > m) m = d }
    END { printf "max |logit difference| %.3g\n", m; exit !(m <= 1e-5) }' ||
    fail "2 ranks x 32 and 1 process x 64 trained different weights"
echo "ok: 2 ranks x batch 32 = 1 process x batch 64 after 16 steps (same mlp.so)"

# --use_distributed_sampler false: every rank reads the whole split in the same order,
# so 2 ranks x 64 average two equal gradients and train what 1 process x 64 trains.
rc=0
"${mpi[@]}" "$LTHOST" fit "${common[@]}" --strategy ddp --devices 2 --data.batch_size 64 \
    --use_distributed_sampler false --default_root_dir "$TMP/whole" >"$TMP/whole.out" 2>&1 || rc=$?
[ $rc -eq 0 ] || { cat "$TMP/whole.out"; fail "--use_distributed_sampler false exited $rc"; }
logits "$(ls "$TMP"/whole/lightning_logs/version_0/checkpoints/*.ckpt)" "$TMP/whole.csv"
paste -d' ' "$TMP/one.csv.txt" "$TMP/whole.csv.txt" | awk '{ d = $1 - $2; if (d < 0) d = -d; if (d > m) m = d }
    END { exit !(m <= 1e-5) }' || fail "2 ranks reading the whole split trained other weights than 1 process"
# Ranks with different numbers of batches would wait for each other: refused at start.
rc=0
timeout 60 mpirun --bind-to none -np 1 "$LTHOST" fit --module "$mlp" --strategy ddp --devices 2 --threads 1 \
    --default_root_dir "$TMP/uneven" : -np 1 "$LTHOST" fit --module "$mlp" --strategy ddp --devices 2 \
    --threads 1 --data.val_size 4000 --default_root_dir "$TMP/uneven" >"$TMP/uneven.out" 2>&1 || rc=$?
[ $rc -ne 0 ] && [ $rc -ne 124 ] && grep -q "has 430 training batches per epoch but rank 1 has 438" "$TMP/uneven.out" ||
    { cat "$TMP/uneven.out"; fail "ranks with 430 and 438 batches: exit $rc"; }
echo "ok: --use_distributed_sampler false trains on the whole split; uneven batch counts are refused"

# Device memory (the cpu accelerator built to pose as a GPU): reduced by the strategy's
# device collectives (devmem_cpu), or through host copies when the strategy cannot reach
# it (opaque_cpu, with a warning); both train the very weights of the in-place path.
for accel in devmem_cpu opaque_cpu; do
    rc=0
    "${mpi[@]}" "$LTHOST" fit "${common[@]}" --accel "$LT_TEST_PLUGIN_DIR/$accel.so" --strategy ddp \
        --devices 2 --data.batch_size 32 --default_root_dir "$TMP/$accel" >"$TMP/$accel.out" 2>&1 || rc=$?
    [ $rc -eq 0 ] || { cat "$TMP/$accel.out"; fail "2 ranks on $accel exited $rc"; }
    logits "$(ls "$TMP"/$accel/lightning_logs/version_0/checkpoints/*.ckpt)" "$TMP/$accel.csv"
    cmp -s "$TMP/two.csv" "$TMP/$accel.csv" || fail "2 ranks on $accel trained other weights than on cpu"
done
grep -q "^lthost: warning: --strategy ddp cannot reduce opaque memory in place" "$TMP/opaque_cpu.out" &&
    ! grep -q "warning" "$TMP/devmem_cpu.out" || { cat "$TMP"/*_cpu.out; fail "device memory paths: wrong warnings"; }
echo "ok: gradients in device memory: device collectives and host copies give the same weights"

# From a plain shell: the launcher starts the ranks itself; --devices 2 picks ddp.
expect_success fit "${common[@]}" --max_epochs 1 --strategy ddp --devices 2 --data.batch_size 32 --default_root_dir "$TMP/l"
grep -q "^Launching 2 processes: mpirun -np 2" "$TMP/out" && [ "$(grep -c '^Epoch 1/1' "$TMP/out")" -eq 1 ] ||
    { cat "$TMP/out"; fail "--strategy ddp --devices 2 did not launch 2 ranks"; }
# The strategy's descriptor, not its file name, says it needs mpirun.
cp "$BUILD_DIR/plugins/strategies/ddp/ddp.so" "$TMP/mystrategy.so"
expect_success fit "${common[@]}" --max_epochs 1 --strategy "$TMP/mystrategy.so" --devices 2 --data.batch_size 32 \
    --default_root_dir "$TMP/m"
grep -q "^Launching 2 processes" "$TMP/out" || { cat "$TMP/out"; fail "a ddp strategy under another name did not launch"; }
expect_success fit "${common[@]}" --max_epochs 1 --devices 2 --data.batch_size 32 --default_root_dir "$TMP/a"
grep -q "ddp strategy" "$TMP/out" || { cat "$TMP/out"; fail "--devices 2 did not pick ddp"; }
# Lightning's registry names for DDP variants are ddp here; --devices auto is 1 on cpu.
expect_success fit "${common[@]}" --max_epochs 1 --strategy ddp_spawn_find_unused_parameters_true --devices 2 \
    --data.batch_size 32 --default_root_dir "$TMP/s"
grep -q "^Launching 2 processes" "$TMP/out" && grep -q "ddp strategy" "$TMP/out" ||
    { cat "$TMP/out"; fail "--strategy ddp_spawn_find_unused_parameters_true did not run ddp on 2 ranks"; }
expect_success fit "${common[@]}" --max_epochs 1 --devices auto --default_root_dir "$TMP/d"
grep -q "single strategy" "$TMP/out" || { cat "$TMP/out"; fail "--devices auto should be 1 on cpu"; }
expect_error "devices auto: give the number of devices per node for --accel" fit "${common[@]}" \
    --devices auto --accel "$LT_TEST_PLUGIN_DIR/devmem_cpu.so"
echo "ok: lthost re-launches itself under mpirun; --strategy auto picks ddp for 2 devices; Lightning's ddp_* names"

# A failing or dying rank ends every rank, quickly, naming it.
fail_run() { # MODE [FLAGS]: runs 2 ranks where rank 1 fails at step 3
    rc=0
    local t0=$SECONDS mode=$1
    shift
    timeout 120 "${mpi[@]}" "$LTHOST" fit --module "$LT_TEST_PLUGIN_DIR/rank_fail.so" --strategy ddp \
        --devices 2 --model.mode "$mode" --limit_val_batches 0 --max_epochs 1 --enable_checkpointing false \
        --logger false --enable_progress_bar false --threads 1 "$@" >"$TMP/fail.out" 2>&1 || rc=$?
    took=$((SECONDS - t0))
    [ $rc -ne 0 ] && [ $rc -ne 124 ] || { cat "$TMP/fail.out"; fail "$mode on rank 1: exit $rc (124: hang)"; }
    [ $took -le 30 ] || fail "$mode on rank 1: took ${took}s to bring the ranks down"
}
fail_run error
grep -q "lthost: error: \[rank 1\] rank_fail.training_step failed at epoch 0, batch 3: rank_fail: failing on purpose" "$TMP/fail.out" ||
    { cat "$TMP/fail.out"; fail "the error does not name rank 1"; }
echo "ok: an error on rank 1 ends both ranks in ${took}s (exit $rc): $(grep -m1 'rank 1' "$TMP/fail.out" | cut -c1-90)"
fail_run crash
grep -Eiq "rank 1|process rank 1" "$TMP/fail.out" || { cat "$TMP/fail.out"; fail "the crash report does not name rank 1"; }
echo "ok: rank 1 killed: both ranks end in ${took}s (exit $rc)"
# A rank that never returns: rank 0's wait in the gradient all-reduce times out.
fail_run hang --strategy.timeout 2
grep -q "lthost: error: \[rank 0\] --strategy ddp: MPI_Allreduce has waited 2 s for the other ranks" "$TMP/fail.out" ||
    { cat "$TMP/fail.out"; fail "a stuck rank 1: rank 0 did not time out naming the collective"; }
echo "ok: rank 1 stuck: rank 0 times out after 2 s, both ranks end in ${took}s (exit $rc)"

# sync_dist: rank r logs r + 1 each step; synced values are the mean over ranks (1.5),
# on_step ones at every log_every_n_steps as well as epoch ones; the others are rank 0's.
rc=0
"${mpi[@]}" "$LTHOST" fit --module "$LT_TEST_PLUGIN_DIR/rank_fail.so" --model.rank -1 --strategy ddp \
    --devices 2 --limit_train_batches 4 --limit_val_batches 0 --max_epochs 1 --log_every_n_steps 2 \
    --enable_checkpointing false --enable_progress_bar false --threads 1 --default_root_dir "$TMP/sync" \
    >"$TMP/sync.out" 2>&1 || rc=$?
[ $rc -eq 0 ] || { cat "$TMP/sync.out"; fail "2 ranks logging their rank exited $rc"; }
awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
    $col["rank_synced"] != "" { steps++; if ($col["rank_synced"] != 1.5 || $col["rank_local"] != 1) bad = 1 }
    $col["rank_epoch"] != "" { epochs++; if ($col["rank_epoch"] != 1.5) bad = 1 }
    END { exit bad || steps != 2 || epochs != 1 }' "$TMP/sync/lightning_logs/version_0/metrics.csv" ||
    { cat "$TMP/sync/lightning_logs/version_0/metrics.csv"; fail "sync_dist values are not the mean over 2 ranks"; }
echo "ok: sync_dist step and epoch values are the mean over ranks (1.5), the others rank 0's"
# The trainer's collectives in a hook (rank_fail's on_train_epoch_end): rank r gives
# r + 1 and 10 (r + 1); world size, mean, sum, and everyone's r + 1 and local rank.
coll() { # DIR: "name=value ..." of the coll_* columns of DIR's metrics.csv
    awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i ~ /^coll_/) c[i] = $i; next }
        { for (i in c) if ($i != "") printf "%s=%g\n", c[i], $i }' "$1/lightning_logs/version_0/metrics.csv" |
        LC_ALL=C sort | tr '\n' ' '
}
want="coll_local_ranks=1 coll_mean10=15 coll_mean=1.5 coll_ranks=12 coll_sum10=30 coll_sum=3 coll_world=2 "
[ "$(coll "$TMP/sync")" = "$want" ] || fail "2 ranks' collectives: got '$(coll "$TMP/sync")', want '$want'"
expect_success fit --module "$LT_TEST_PLUGIN_DIR/rank_fail.so" --model.rank -1 --limit_train_batches 2 \
    --limit_val_batches 0 --max_epochs 1 --enable_checkpointing false --default_root_dir "$TMP/coll1"
want="coll_local_ranks=0 coll_mean10=10 coll_mean=1 coll_ranks=1 coll_sum10=10 coll_sum=1 coll_world=1 "
[ "$(coll "$TMP/coll1")" = "$want" ] || fail "1 process's collectives: got '$(coll "$TMP/coll1")', want '$want'"
echo "ok: lt_trainer_world_size/local_rank/all_reduce/all_gather/barrier in a hook, 2 ranks and 1"

# Different plugin files on different ranks; a process count that does not fit.
cp "$mlp" "$TMP/mlp_other.so"
printf 'x' >>"$TMP/mlp_other.so"
rc=0
timeout 120 mpirun --bind-to none -np 1 "$LTHOST" fit "${common[@]}" --strategy ddp --devices 2 : \
    -np 1 "$LTHOST" fit "${common[@]}" --module "$TMP/mlp_other.so" --strategy ddp --devices 2 >"$TMP/v.out" 2>&1 || rc=$?
[ $rc -ne 0 ] && [ $rc -ne 124 ] && grep -q "\[rank 1\] rank 1 runs different code than rank 0" "$TMP/v.out" ||
    { cat "$TMP/v.out"; fail "different plugin files on rank 1 were not detected (exit $rc)"; }
rc=0
timeout 120 "${mpi[@]}" "$LTHOST" fit "${common[@]}" --strategy ddp --devices 3 >"$TMP/n.out" 2>&1 || rc=$?
[ $rc -ne 0 ] && [ $rc -ne 124 ] && grep -q "expects 3 processes" "$TMP/n.out" ||
    { cat "$TMP/n.out"; fail "--devices 3 under mpirun -np 2 was not refused (exit $rc)"; }
rc=0 # the same file, another --model.hidden: a different model
timeout 120 mpirun --bind-to none -np 1 "$LTHOST" fit "${common[@]}" --strategy ddp --devices 2 : \
    -np 1 "$LTHOST" fit "${common[@]}" --model.hidden 128 --strategy ddp --devices 2 >"$TMP/m.out" 2>&1 || rc=$?
[ $rc -ne 0 ] && [ $rc -ne 124 ] && grep -q "\[rank 1\] rank 1 built a different model than rank 0: 6 parameter tensors, 118282 parameters" "$TMP/m.out" ||
    { cat "$TMP/m.out"; fail "a different model on rank 1 was not detected (exit $rc)"; }
echo "ok: different plugin files, a different model and a wrong process count are refused at start"

# Rank 0 writes the checkpoints; every rank loads one to resume.
rc=0
"${mpi[@]}" "$LTHOST" fit "${common[@]}" --strategy ddp --devices 2 --data.batch_size 32 --max_epochs 3 \
    --default_root_dir "$TMP/two" --ckpt_path last >"$TMP/resume.out" 2>&1 || rc=$?
[ $rc -eq 0 ] && grep -q "Resuming fit after epoch 1 (global step 16)" "$TMP/resume.out" &&
    grep -q '^Epoch 3/3' "$TMP/resume.out" || { cat "$TMP/resume.out"; fail "2 ranks did not resume from rank 0's checkpoint"; }
echo "ok: 2 ranks resume from the checkpoint rank 0 wrote"

# SIGTERM to the launcher reaches both ranks (through mpirun): they stop after the same
# batch, rank 0 saves last.ckpt, all exit 143; the same command with --ckpt_path last
# continues on 2 ranks.
"$LTHOST" fit "${common[@]}" --strategy ddp --devices 2 --limit_train_batches 1.0 \
    --max_epochs 1000 --default_root_dir "$TMP/sig" >"$TMP/sig.out" 2>&1 &
pid=$!
for _ in $(seq 200); do grep -q "^Epoch 1/" "$TMP/sig.out" && break; sleep 0.1; done
kill -TERM $pid
rc=0
timeout 60 tail --pid=$pid -f /dev/null || fail "2 ranks did not stop within 60 s of SIGTERM"
wait $pid || rc=$?
[ $rc -eq 143 ] && grep -q "received SIGTERM at epoch .*saved .*last.ckpt" "$TMP/sig.out" ||
    { cat "$TMP/sig.out"; fail "SIGTERM under mpirun: exit $rc, no checkpoint message"; }
epoch=$(grep -o 'received SIGTERM at epoch [0-9]*' "$TMP/sig.out" | grep -o '[0-9]*$')
rc=0
"${mpi[@]}" "$LTHOST" fit "${common[@]}" --strategy ddp --devices 2 --limit_train_batches 1.0 \
    --max_epochs $((epoch + 1)) --default_root_dir "$TMP/sig" --ckpt_path last >"$TMP/sig2.out" 2>&1 || rc=$?
[ $rc -eq 0 ] && grep -q "Resuming fit" "$TMP/sig2.out" || { cat "$TMP/sig2.out"; fail "2 ranks did not continue after SIGTERM"; }
echo "ok: SIGTERM in epoch $epoch: rank 0 saved last.ckpt, 2 ranks continued from it"
