#!/usr/bin/env bash
# The ddp strategy's collectives on GPU memory (NCCL, unique id over MPI), through its
# device_* calls, on 1 and 2 ranks (tests/e2e/ddp_device_check.c). Without a GPU this
# still checks that binding CUDA memory fails with the reason on every rank, then skips.
. "$(dirname "$0")/lib.sh"
command -v mpirun >/dev/null || skip "mpirun is not installed (apt-get install openmpi-bin)"
[ -z "${LT_E2E_SANITIZED:-}" ] || skip "DDP runs on the optimised build (ASan's runtime and Open MPI's do not mix)"
check=$BUILD_DIR/tests/ddp_device_check
[ -x "$check" ] || skip "built without the CUDA runtime and NCCL (meson's nccl feature found none)"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
for np in 1 2; do
    rc=0
    timeout 300 mpirun -np $np --bind-to none "$check" "$BUILD_DIR/plugins/strategies/ddp/ddp.so" \
        >"$TMP/np$np.out" 2>&1 || rc=$?
    [ $rc -eq 0 ] && ! grep -q '^FAIL' "$TMP/np$np.out" || { cat "$TMP/np$np.out"; fail "mpirun -np $np ddp_device_check exited $rc"; }
    [ "$(grep -c '^ok: rank\|^ok: NCCL' "$TMP/np$np.out")" -ge 1 ] || { cat "$TMP/np$np.out"; fail "-np $np: no result"; }
    grep '^ok' "$TMP/np$np.out" | cut -c1-200
done
# Without a GPU, a whole run on "cuda" memory (the cpu accelerator posing as one) must
# stop every rank at setup with the reason, within seconds.
if grep -q '^ok: rank 0: 0 GPU(s) for 1 rank' "$TMP/np1.out"; then
    rc=0
    t0=$SECONDS
    timeout 120 mpirun -np 2 --bind-to none "$LTHOST" fit --module "$LT_TEST_MLP_PLUGIN" \
        --accel "$LT_TEST_PLUGIN_DIR/fakecuda_cpu.so" --strategy ddp --devices 2 --max_epochs 1 \
        --limit_train_batches 2 --threads 1 --enable_progress_bar false >"$TMP/fake.out" 2>&1 || rc=$?
    [ $rc -ne 0 ] && [ $rc -ne 124 ] && [ $((SECONDS - t0)) -le 30 ] &&
        grep -q "error: \[rank [01]\] --strategy ddp: reaching this rank's device memory: ddp: rank [01] of 2 has no usable GPU" "$TMP/fake.out" ||
        { cat "$TMP/fake.out"; fail "a run on cuda memory without a GPU: exit $rc, no clear error"; }
    echo "ok: 2 ranks on cuda memory without a GPU stop at setup (exit $rc): $(grep -m1 'rank 0 of 2' "$TMP/fake.out" | cut -c1-140)"
fi
# One GPU runs the 1-rank collectives for real; 2 ranks then need a second GPU.
grep -q '^ok: NCCL' "$TMP"/np*.out || skip "$(grep -h '^skip:' "$TMP"/np1.out | cut -c7-)"
