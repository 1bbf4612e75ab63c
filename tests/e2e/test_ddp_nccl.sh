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
# One GPU runs the 1-rank collectives for real; 2 ranks then need a second GPU.
grep -q '^ok: NCCL' "$TMP"/np*.out || skip "$(grep -h '^skip:' "$TMP"/np1.out | cut -c7-)"
