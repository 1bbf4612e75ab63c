#!/usr/bin/env bash
# Under DDP the epoch progress has the format of one process whose output is not a
# terminal ("Epoch 1/1  ... [N steps, ...]"), printed once by rank 0: Open MPI gives the
# ranks a pseudo-terminal even when lthost's output goes to a file, which used to draw a
# tqdm-style "Epoch 0: ...|" bar into it instead. On a terminal, lthost's own launcher
# tells the ranks, and DDP draws the bar as one process does.
. "$(dirname "$0")/lib.sh"
need_dataset
command -v mpirun >/dev/null || skip "mpirun is not installed (apt-get install openmpi-bin)"
[ -z "${LT_E2E_SANITIZED:-}" ] || skip "DDP runs on the optimised build (ASan's runtime and Open MPI's do not mix)"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
common=(fit --module "$LT_TEST_MLP_PLUGIN" --limit_train_batches 4 --limit_val_batches 2 --max_epochs 1
        --threads 1 --enable_model_summary false --enable_checkpointing false --logger false)
expect_success "${common[@]}"
cp "$TMP/out" "$TMP/one.out"
expect_success "${common[@]}" --strategy ddp --devices 2
for f in "$TMP/one.out" "$TMP/out"; do
    [ "$(grep -c '^Epoch 1/1  .*\[4 steps, ' "$f")" -eq 1 ] || { cat "$f"; fail "$f: expected one 'Epoch 1/1 ... [4 steps' line"; }
    grep -q 'Epoch 0: ' "$f" && { cat "$f"; fail "$f: a progress bar was drawn into a file"; }
done
echo "ok: DDP prints the per-epoch line of a single process, once"

# On a terminal (script gives lthost one): the bar, with 2 ranks as with one.
if command -v script >/dev/null; then
    for devices in 1 2; do
        script -qec "$(printf '%q ' "$LTHOST" "${common[@]}" --devices $devices)" /dev/null >"$TMP/tty.out" 2>&1 ||
            { cat "$TMP/tty.out"; fail "--devices $devices on a terminal failed"; }
        tr '\r' '\n' <"$TMP/tty.out" | grep -q '^Epoch 0: ' ||
            { cat -A "$TMP/tty.out" | tail; fail "--devices $devices on a terminal drew no bar"; }
    done
    echo "ok: on a terminal the bar is drawn with 1 and 2 ranks"
fi
