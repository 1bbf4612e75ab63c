#!/usr/bin/env bash
# The cuda accelerator from the outside. Everywhere: `lthost plugins` lists it, and its
# host code passes cuda_host_check (on a fake CUDA runtime). Without a GPU (CI):
# cuda_ops_check skips with its reason, `--accelerator cuda` (and `gpu`) fails within
# seconds with one line giving the driver's answer and exit 1, and `--accelerator auto`
# trains on the cpu and says so. With a GPU: cuda_ops_check passes and the same runs
# train on cuda. tests/gpu/run.sh does the long GPU checks.
. "$(dirname "$0")/lib.sh"
[ -f "$BUILD_DIR/plugins/accelerators/cuda/cuda.so" ] ||
    skip "the cuda plugin is not built (no CUDA toolkit found, or -Dcuda=disabled)"
quick=(--max_epochs 1 --limit_train_batches 3 --limit_val_batches 1 --enable_progress_bar false
    --logger false --enable_checkpointing false)

"$LTHOST" plugins >"$TMP/list" 2>&1 || { cat "$TMP/list"; fail "lthost plugins exited non-zero"; }
grep -q "^  accelerator *cuda *ABI 1\.1 .*/accelerators/cuda/cuda\.so" "$TMP/list" ||
    { cat "$TMP/list"; fail "lthost plugins does not list the cuda accelerator"; }
echo "ok: lthost plugins lists the cuda accelerator"

# The plugin's host code (copies, staging ring, caching allocator) on a fake runtime.
"$BUILD_DIR/tests/gpu/cuda_host_check" >"$TMP/host" 2>&1 || { cat "$TMP/host"; fail "cuda_host_check failed"; }
echo "ok: cuda_host_check: $(tail -1 "$TMP/host")"

# Slot by slot against the cpu accelerator; 77 means no GPU here.
rc=0
"$BUILD_DIR/tests/gpu/cuda_ops_check" >"$TMP/ops" 2>&1 || rc=$?
if [ $rc -eq 77 ]; then
    gpu=0
    grep -q "^skip: no GPU (cudaGetDeviceCount: .*); run tests/gpu/run.sh on a GPU machine$" \
        "$TMP/ops" || { cat "$TMP/ops"; fail "cuda_ops_check skipped without its reason"; }
    echo "ok: cuda_ops_check without a GPU: $(cat "$TMP/ops")"
elif [ $rc -eq 0 ]; then
    gpu=1
    echo "ok: cuda_ops_check: $(tail -1 "$TMP/ops")"
else
    grep -v '^ok' "$TMP/ops" | head -40
    fail "cuda_ops_check exited $rc"
fi

# The fits need Fashion-MNIST: installed, or carried to a GPU machine in .gpu/data.
if [ ! -f "$FMNIST/train-images-idx3-ubyte.gz" ] && [ -f "$SRC_DIR/.gpu/data/train-images-idx3-ubyte.gz" ]; then
    quick+=(--data.root "$SRC_DIR/.gpu/data")
else
    need_dataset
fi
if [ $gpu -eq 0 ]; then
    for name in cuda gpu; do
        t0=$SECONDS
        expect_error "^lthost: error: cuda accelerator: no usable GPU \(cudaGetDeviceCount: [^)]+\); run on a machine with an NVIDIA GPU and its driver, or use --accelerator cpu$" \
            fit --module mlp --accelerator $name "${quick[@]}"
        [ "$rc" -eq 1 ] || fail "--accelerator $name without a GPU exited $rc, expected 1"
        [ $((SECONDS - t0)) -le 5 ] || fail "--accelerator $name took $((SECONDS - t0)) s to fail"
    done
    expect_success fit --module mlp --accelerator auto "${quick[@]}"
    grep -q "cpu accelerator (auto)" "$TMP/out" && grep -q "^lthost: --accelerator auto: no usable GPU (.*cudaGetDeviceCount: .*); training on cpu$" "$TMP/out" ||
        { cat "$TMP/out"; fail "auto did not say it fell back to cpu and why"; }
    echo "ok: --accelerator auto without a GPU: $(grep -m1 'accelerator auto' "$TMP/out" | cut -c1-120)..."
else
    expect_success fit --module mlp --accelerator cuda "${quick[@]}"
    grep -q "cuda accelerator" "$TMP/out" || { cat "$TMP/out"; fail "the fit did not run on cuda"; }
    echo "ok: a short fit on cuda: $(grep -m1 'cuda accelerator' "$TMP/out")"
    expect_success fit --module mlp --accelerator auto "${quick[@]}"
    grep -q "cuda accelerator (auto)" "$TMP/out" || { cat "$TMP/out"; fail "auto did not pick cuda"; }
    echo "ok: --accelerator auto picks cuda"
fi
