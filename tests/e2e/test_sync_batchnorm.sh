#!/usr/bin/env bash
# Lightning's --sync_batchnorm: two DDP ranks, each with half of every batch, end with the
# batch norm running statistics of one process that trained on the whole batches (within
# 1e-5), where plain DDP (each rank its own half's statistics) does not; with one process
# the flag changes nothing, as in Lightning (its layer sync applies to parallel strategies).
. "$(dirname "$0")/lib.sh"
need_dataset
command -v mpirun >/dev/null || skip "mpirun is not installed (apt-get install openmpi-bin)"
[ -z "${LT_E2E_SANITIZED:-}" ] || skip "DDP runs on the optimised build (ASan's runtime and Open MPI's do not mix); tests/unit/test_sync_batchnorm.c checks the layer"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
common=(fit --module cnn --model.dropout 0 --model.channels1 4 --model.channels2 8 --model.hidden 16
        --max_epochs 1 --limit_train_batches 4 --limit_val_batches 0 --num_sanity_val_steps 0
        --test_after_fit false --seed_everything 11 --threads 1 --enable_progress_bar false)
ckpt() { ls "$TMP/$1"/lightning_logs/version_0/checkpoints/*.ckpt; }
diff_of() { python3 "$SRC_DIR/tests/e2e/bn_stats_diff.py" "$(ckpt "$1")" "$(ckpt "$2")"; }

expect_success "${common[@]}" --data.batch_size 32 --default_root_dir "$TMP/single"
expect_success "${common[@]}" --data.batch_size 32 --sync_batchnorm true --default_root_dir "$TMP/single_flag"
d=$(diff_of single single_flag) || fail "comparing checkpoints: $d"
[ "$d" = 0 ] || fail "--sync_batchnorm with one process changed the running statistics by $d"
echo "ok: one process: --sync_batchnorm is accepted and changes nothing (Lightning ignores it)"

run_ddp() {
    rc=0
    timeout 300 mpirun -np 2 --bind-to none "$LTHOST" "${common[@]}" --strategy ddp --devices 2 \
        --data.batch_size 16 "$@" >"$TMP/ddp.out" 2>&1 || rc=$?
    [ $rc -eq 0 ] || { cat "$TMP/ddp.out"; fail "mpirun -np 2 lthost fit $* exited $rc"; }
}
run_ddp --sync_batchnorm true --default_root_dir "$TMP/sync"
d=$(diff_of single sync) || fail "comparing checkpoints: $d"
awk -v d="$d" 'BEGIN { exit !(d <= 1e-5) }' || fail "synced ranks' running statistics are $d from one process's"
echo "ok: 2 ranks x 16 with --sync_batchnorm: running statistics within $d of 1 process x 32"
run_ddp --default_root_dir "$TMP/plain"
p=$(diff_of single plain) || fail "comparing checkpoints: $p"
awk -v d="$p" 'BEGIN { exit !(d > 1e-4) }' || fail "without --sync_batchnorm the statistics differ by only $p"
echo "ok: without it each rank keeps its half's statistics ($p away)"
