#!/usr/bin/env bash
# A short fit, then a resume from its checkpoint, under valgrind's memcheck: no invalid
# access, no definite leak. Then 2 DDP ranks, each under valgrind, with gradients in
# "device" memory (devmem_cpu), so the strategy's device path runs too.
. "$(dirname "$0")/lib.sh"
need_dataset
[ -z "${LT_E2E_SANITIZED:-}" ] || skip "valgrind runs on the optimised build (ASan covers this one)"
command -v valgrind >/dev/null || skip "valgrind is not installed"

rc=0
valgrind --quiet --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=9 \
    "$LTHOST" fit --module mlp --max_epochs 1 --limit_train_batches 8 --limit_val_batches 2 \
    --limit_test_batches 2 --seed_everything 1 --threads 1 >"$TMP/out" 2>&1 || rc=$?
[ $rc -eq 0 ] || { cat "$TMP/out"; fail "valgrind reported errors (exit $rc)"; }
grep -q '^Test:' "$TMP/out" || { cat "$TMP/out"; fail "the run did not finish"; }
valgrind --quiet --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=9 \
    "$LTHOST" fit --module mlp --max_epochs 2 --limit_train_batches 8 --limit_val_batches 2 \
    --test_after_fit false --seed_everything 1 --threads 1 --ckpt_path last >"$TMP/out" 2>&1 || rc=$?
[ $rc -eq 0 ] || { cat "$TMP/out"; fail "valgrind reported errors resuming from a checkpoint (exit $rc)"; }
grep -q 'Resuming fit after epoch 0' "$TMP/out" || { cat "$TMP/out"; fail "the resumed run did not resume"; }
command -v mpirun >/dev/null || skip "mpirun is not installed (the single-process runs were clean)"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
# --keep-debuginfo: Open MPI's own allocations stay attributable (and suppressed) after
# the ddp plugin is unloaded.
timeout 600 mpirun -np 2 --bind-to none valgrind --quiet --keep-debuginfo=yes \
    --suppressions="$SRC_DIR/tests/e2e/valgrind-openmpi.supp" --leak-check=full \
    --errors-for-leak-kinds=definite --error-exitcode=9 \
    "$LTHOST" fit --module mlp --accel "$LT_TEST_PLUGIN_DIR/devmem_cpu.so" --strategy ddp --devices 2 \
    --max_epochs 1 --limit_train_batches 4 --limit_val_batches 2 --test_after_fit false --threads 1 \
    >"$TMP/out" 2>&1 || rc=$?
[ $rc -eq 0 ] || { cat "$TMP/out"; fail "valgrind reported errors under DDP (exit $rc)"; }
grep -q 'max_epochs=1. reached' "$TMP/out" || { cat "$TMP/out"; fail "the DDP run did not finish"; }
echo "valgrind clean (1 process, resume, 2 DDP ranks)"
