#!/usr/bin/env bash
# --precision and device choice, on any machine: the cpu accelerator refuses what it
# cannot do; fakecuda_cpu (the cpu kernels posing as a GPU without host memory, which
# emulates fp16/bf16 by rounding its GEMM inputs) runs the host's paths: 16-mixed and
# bf16 training, the GradScaler skipping a step with inf gradients (bit-identical to not
# taking it) and its state in the checkpoint and back, the loss checked only every
# log_every_n_steps, --devices lists, --accelerator auto, and checkpoints that move
# between accelerators bit for bit.
. "$(dirname "$0")/lib.sh"
need_dataset
fake=$LT_TEST_PLUGIN_DIR/fakecuda_cpu.so
probe=$LT_TEST_PLUGIN_DIR/amp_probe.so
tensors() { python3 "$SRC_DIR/tests/e2e/ckpt_tensors.py" "$@"; }
ckpt_of() { ls "$1"/lightning_logs/version_0/checkpoints/*.ckpt; }
# scaler_is CKPT SCALE TRACKER: the MixedPrecision entry is torch's GradScaler state_dict
scaler_is() {
    python3 - "$(tensors meta "$1" MixedPrecision)" "$2" "$3" <<'PY'
import json, sys
s = json.loads(sys.argv[1])
want = {"scale": float(sys.argv[2]), "growth_factor": 2.0, "backoff_factor": 0.5,
        "growth_interval": 2000, "_growth_tracker": int(sys.argv[3])}
sys.exit(0 if s == want else 1)
PY
}
quiet=(--threads 1 --enable_progress_bar false --enable_model_summary false --seed_everything 3)
# Whether every weight in checkpoint $1 is a bf16 value (the low 16 bits of its float32 zero).
bf16_weights() {
    python3 - "$1" <<'PY'
import json, struct, sys
raw = open(sys.argv[1], "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
head = json.loads(raw[8:8 + n])
for k, v in head.items():
    if k.startswith("state_dict."):
        a, b = v["data_offsets"]
        words = struct.unpack(f"<{(b - a) // 4}I", raw[8 + n + a:8 + n + b])
        assert all(w & 0xFFFF == 0 for w in words), k
PY
}

# ---- what the cpu accelerator refuses, and bf16-mixed where it has bf16 units ----------
for p in 16-mixed 16; do
    expect_error "^lthost: error: --precision $p: the cpu accelerator trains in 32-true, bf16-mixed and bf16-true; use --accelerator cuda \(a GPU\) or --precision 32-true" \
        fit --module mlp --accelerator cpu --precision "$p"
done
# bf16-mixed and bf16-true: oneDNN's bf16 matmuls where the CPU has AVX512-BF16 or AMX,
# else one line.
for p in bf16-mixed bf16 bf16-true; do
    "$LTHOST" fit --module mlp --accelerator cpu --precision "$p" "${quiet[@]}" --max_epochs 1 \
        --limit_train_batches 300 --limit_val_batches 0 --limit_test_batches 40 --logger csv \
        --default_root_dir "$TMP/cpu-$p" >"$TMP/out" 2>&1 && rc=0 || rc=$?
    if grep -q "runs bf16 precisions only on CPUs with AVX512-BF16 or AMX" "$TMP/out"; then
        [ $rc -ne 0 ] || fail "--precision $p refused on cpu with exit 0"
        echo "ok: --precision $p on cpu: refused here (no bf16 units): $(tail -1 "$TMP/out" | cut -c1-120)"
        continue
    fi
    [ $rc -eq 0 ] || { cat "$TMP/out"; fail "--precision $p on cpu: exit $rc"; }
    want=$p
    [ "$p" = bf16 ] && want=bf16-mixed # Lightning's alias
    grep -q "cpu accelerator, single strategy, precision $want\$" "$TMP/out" &&
        grep -q "^cpu accelerator: .*, bf16 matmuls on \(AMX\|AVX512-BF16\)," "$TMP/out" ||
        { cat "$TMP/out"; fail "--precision $p on cpu: not announced with its bf16 matmuls"; }
    a=$(grep -o 'test_acc=[0-9.]*' "$TMP/out" | cut -d= -f2)
    python3 -c "import sys; sys.exit(0 if float('$a') >= 0.78 else 1)" || { cat "$TMP/out"; fail "--precision $p on cpu: test_acc $a < 0.78"; }
    echo "ok: --precision $p on cpu (oneDNN's bf16 matmuls): test_acc=$a after 300 steps"
    [ "$p" = bf16-true ] || continue
    bf16_weights "$(ckpt_of "$TMP/cpu-$p")" || fail "bf16-true on cpu saved weights that are not bf16 values"
    echo "ok: bf16-true on cpu keeps every weight a bf16 value"
done
expect_error "precision expects 32-true\|32\|16-mixed" fit --module mlp --precision 64-true
expect_error "float32_matmul_precision expects highest\|high\|medium" fit --module mlp --float32_matmul_precision low
expect_error "devices \[list\]: a list picks GPUs by index, but the cpu accelerator runs processes.*--devices 2" \
    fit --module mlp --accelerator cpu --devices 1,3
expect_error "devices 1,1 names GPU 1 twice: two ranks cannot share one GPU" fit --module mlp --devices 1,1
printf 'trainer:\n  accelerator: cpu\n  devices: [1, 3]\n' >"$TMP/list.yaml" # LightningCLI's form
expect_error "devices \[list\]: a list picks GPUs by index.*--devices 2" fit --module mlp --config "$TMP/list.yaml"

# ---- mixed precision trains (emulated on fakecuda_cpu) ---------------------------------
acc() { grep -o 'test_acc=[0-9.]*' "$TMP/out" | cut -d= -f2; }
for p in 16-mixed bf16-mixed bf16 bf16-true; do
    expect_success fit --module mlp --accel "$fake" --precision "$p" "${quiet[@]}" --max_epochs 1 \
        --limit_train_batches 300 --limit_val_batches 0 --limit_test_batches 40 --logger false \
        --enable_checkpointing false
    want=$p
    [ "$p" = bf16 ] && want=bf16-mixed # Lightning's alias
    grep -q "cuda accelerator on device 0, single strategy, precision $want\$" "$TMP/out" ||
        { cat "$TMP/out"; fail "--precision $p: not announced as $want"; }
    a=$(acc)
    python3 -c "import sys; sys.exit(0 if float('$a') >= 0.78 else 1)" || { cat "$TMP/out"; fail "--precision $p: test_acc $a < 0.78"; }
    echo "ok: --precision $p on fakecuda_cpu: test_acc=$a after 300 steps"
done
# bf16-true's weights are bf16 values (the low 16 bits of every float32 zero).
expect_success fit --module mlp --accel "$fake" --precision bf16-true "${quiet[@]}" --max_epochs 1 \
    --limit_train_batches 3 --limit_val_batches 0 --test_after_fit false --logger csv --default_root_dir "$TMP/bf16t"
bf16_weights "$(ckpt_of "$TMP/bf16t")" || fail "bf16-true saved weights that are not bf16 values"
echo "ok: bf16-true keeps every weight a bf16 value"
# Gradients are unscaled before clipping: SGD with --gradient_clip_val under 16-mixed
# learns as in 32-true (clipping the scaled gradients would shrink them 65536 times).
clip=(--module mlp --accel "$fake" "${quiet[@]}" --model.optimizer sgd --model.lr 0.05 --gradient_clip_val 0.5
      --accumulate_grad_batches 2 --max_epochs 1 --limit_train_batches 300 --limit_val_batches 0
      --limit_test_batches 40 --logger false --enable_checkpointing false)
expect_success fit "${clip[@]}" --precision 32-true
a32=$(acc)
expect_success fit "${clip[@]}" --precision 16-mixed
a16=$(acc)
python3 -c "import sys; sys.exit(0 if $a16 >= 0.75 and abs($a16 - $a32) < 0.03 else 1)" ||
    fail "clipping under 16-mixed: test_acc $a16 against $a32 in 32-true"
echo "ok: clipping and accumulation under 16-mixed: test_acc $a16 (32-true: $a32)"
expect_success fit --module mlp --accel "$fake" --float32_matmul_precision high "${quiet[@]}" \
    --max_epochs 1 --limit_train_batches 2 --limit_val_batches 0 --test_after_fit false --logger false
echo "ok: --float32_matmul_precision high is accepted (the cpu kernels compute in float32 whatever it says)"

# ---- GradScaler: a step with inf gradients is skipped ------------------------------------
# The loss of step 3 times 1e35 is finite, its gradients times 65536 are not: the scaler
# skips that update and halves the scale, so 4 steps with it end with the weights and Adam
# state of 3 steps without it.
amp=(--module "$probe" --accel "$fake" --precision 16-mixed "${quiet[@]}" --max_epochs 1
     --limit_val_batches 0 --test_after_fit false --logger csv)
expect_success fit "${amp[@]}" --limit_train_batches 4 --model.blowup_step 3 --default_root_dir "$TMP/skip"
expect_success fit "${amp[@]}" --limit_train_batches 3 --default_root_dir "$TMP/three"
skip_ckpt=$(ckpt_of "$TMP/skip")
[ "$(basename "$skip_ckpt")" = "epoch=0-step=4.ckpt" ] || fail "the skipped step is not counted in global_step: $skip_ckpt"
tensors same "$(ckpt_of "$TMP/three")" "$skip_ckpt" || fail "the step with inf gradients changed weights or optimizer state"
scaler=$(tensors meta "$skip_ckpt" MixedPrecision) || fail "no MixedPrecision (GradScaler) state in the checkpoint"
scaler_is "$skip_ckpt" 32768 0 || fail "GradScaler state after a skipped step: $scaler"
echo "ok: inf gradients at step 3: update skipped (weights and Adam state = 3 clean steps), scale 65536 -> 32768: $scaler"

# The same under manual optimization (lt_manual_backward + lt_optimizer_step).
expect_success fit "${amp[@]}" --module "$LT_TEST_PLUGIN_DIR/amp_probe_manual.so" --limit_train_batches 4 \
    --model.blowup_step 3 --default_root_dir "$TMP/manual"
manual_ckpt=$(ckpt_of "$TMP/manual")
[ "$(basename "$manual_ckpt")" = "epoch=0-step=4.ckpt" ] || fail "manual: skipped step not in global_step: $manual_ckpt"
scaler_is "$manual_ckpt" 32768 0 || fail "manual optimization: the scaler did not back off"
echo "ok: manual optimization: the same skip and backoff"

# Two optimizers stepped by the module (the GAN): one scaler, global_step counts both.
expect_success fit --module gan --accel "$fake" --precision 16-mixed "${quiet[@]}" --max_epochs 1 \
    --limit_train_batches 20 --logger false --enable_checkpointing false
grep -q "global step 40" "$TMP/out" || { cat "$TMP/out"; fail "gan under 16-mixed"; }
echo "ok: the GAN's two optimizers train under 16-mixed"

# Resume restores the scaler (scale 32768, tracker 0), which then counts 4 clean steps.
expect_success fit "${amp[@]}" --limit_train_batches 4 --max_epochs 2 --ckpt_path "$skip_ckpt" --default_root_dir "$TMP/resumed"
resumed=$(ls "$TMP"/resumed/lightning_logs/version_*/checkpoints/epoch=1-step=8.ckpt) || fail "no checkpoint after resuming"
scaler_is "$resumed" 32768 4 || fail "resumed scaler state: $(tensors meta "$resumed" MixedPrecision)"
echo "ok: resume restores the GradScaler: $(tensors meta "$resumed" MixedPrecision)"

# A checkpoint's scaler values are bounded.
for edit in 'meta["MixedPrecision"]["scale"] = -1.0' 'meta["MixedPrecision"]["_growth_tracker"] = 5000' \
            'del meta["MixedPrecision"]["backoff_factor"]'; do
    python3 "$SRC_DIR/tests/e2e/ckpt_edit.py" "$skip_ckpt" "$TMP/bad.ckpt" "$edit"
    expect_error "ckpt_path .*bad.ckpt: MixedPrecision\.(scale must be finite and > 0|_growth_tracker must be in \[0, growth_interval\)|backoff_factor is missing)" \
        fit "${amp[@]}" --limit_train_batches 4 --max_epochs 2 --ckpt_path "$TMP/bad.ckpt" --default_root_dir "$TMP/bad"
done

# ---- the loss read back only every log_every_n_steps off host memory ---------------------
nan=(--module "$probe" "${quiet[@]}" --max_epochs 1 --limit_train_batches 30 --limit_val_batches 0
     --test_after_fit false --logger false --enable_checkpointing false --model.nan_step 5 --log_every_n_steps 10)
expect_error "training loss is nan at epoch 0, batch 9 \(global step 9; on cuda the check runs every 10 steps.*lower --model.lr" \
    fit "${nan[@]}" --accel "$fake"
expect_error "training loss is nan at epoch 0, batch 5 \(global step 5\): training diverged" fit "${nan[@]}" --accel cpu

# ---- named device ranges around the profiler's actions --------------------------------------
LT_TEST_RANGE_LOG=$TMP/ranges.txt expect_success fit --module mlp --accel "$fake" "${quiet[@]}" --profiler simple \
    --max_epochs 1 --limit_train_batches 3 --limit_val_batches 1 --test_after_fit false --logger false
python3 - "$TMP/ranges.txt" <<'PY' || fail "named ranges: $(head -20 "$TMP/ranges.txt")"
import sys
depth, names = 0, set()
for line in open(sys.argv[1]):
    if line.startswith("push "):
        depth += 1
        names.add(line[5:].strip())
    else:
        depth -= 1
        assert depth >= 0, "a pop without its push"
assert depth == 0, f"{depth} ranges left open"
for want in ("run_training_epoch", "[Strategy]SingleDeviceStrategy.training_step",
             "[Strategy]SingleDeviceStrategy.backward", "[LightningModule]mlp.optimizer_step"):
    assert want in names, want
print(f"ok: {len(names)} named device ranges, balanced, with the profiler's action names")
PY

# ---- device choice -------------------------------------------------------------------------
expect_success fit --module mlp --accel "$fake" --devices "[2]" "${quiet[@]}" --max_epochs 1 \
    --limit_train_batches 2 --limit_val_batches 0 --test_after_fit false --logger false
grep -q "cuda accelerator on device 2, single strategy" "$TMP/out" || { cat "$TMP/out"; fail "--devices [2] did not pick device 2"; }
echo "ok: --devices [2] trains on device 2"
# Under DDP each rank takes its entry of the list; more ranks on a node than listed GPUs
# (here 4 local ranks for --devices 0,1 x 2 nodes) is refused on the ranks left without one.
if command -v mpirun >/dev/null && [ -z "${LT_E2E_SANITIZED:-}" ]; then
    export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
    devmem=$LT_TEST_PLUGIN_DIR/devmem_cpu.so
    expect_success fit --module mlp --accel "$devmem" --devices 0,1 "${quiet[@]}" --max_epochs 1 \
        --limit_train_batches 2 --limit_val_batches 0 --test_after_fit false --logger false
    grep -q "cpu accelerator on device 0, ddp strategy" "$TMP/out" || { cat "$TMP/out"; fail "--devices 0,1: no 2-rank ddp run"; }
    rc=0
    timeout 120 mpirun -np 4 --bind-to none "$LTHOST" fit --module mlp --accel "$devmem" --devices 0,1 \
        --num_nodes 2 --strategy ddp --max_epochs 1 --limit_train_batches 2 --threads 1 \
        --enable_progress_bar false --logger false >"$TMP/four.out" 2>&1 || rc=$?
    [ $rc -ne 0 ] && [ $rc -ne 124 ] &&
        grep -q "error: \[rank [23]\] this process is local rank [23] of its node, but --devices lists 2 GPU(s): two ranks would share one GPU" "$TMP/four.out" ||
        { cat "$TMP/four.out"; fail "4 local ranks for 2 listed GPUs: exit $rc, no clear error"; }
    echo "ok: --devices 0,1 runs 2 ddp ranks; 4 local ranks for 2 listed GPUs stop with the reason"
fi
# --accelerator auto: cuda when its plugin opens a device, else cpu with the reason.
mkdir -p "$TMP/auto/accelerators" "$TMP/noplug"
ln -s "$fake" "$TMP/auto/accelerators/cuda.so"
ln -s "$LT_PLUGIN_PATH/cpu.so" "$TMP/noplug/cpu.so"
small=(--module mlp "${quiet[@]}" --max_epochs 1 --limit_train_batches 2 --limit_val_batches 0
       --test_after_fit false --logger false --enable_checkpointing false)
LT_PLUGIN_PATH=$TMP/auto/accelerators:$LT_PLUGIN_PATH expect_success fit "${small[@]}"
grep -q "cuda accelerator (auto) on device 0" "$TMP/out" && ! grep -q "no usable GPU" "$TMP/out" ||
    { cat "$TMP/out"; fail "auto with a working cuda plugin"; }
LT_PLUGIN_PATH=$TMP/noplug expect_success fit "${small[@]}"
grep -q "^lthost: --accelerator auto: no usable GPU (.*); training on cpu$" "$TMP/out" &&
    grep -q "cpu accelerator (auto)" "$TMP/out" || { cat "$TMP/out"; fail "auto without a GPU did not say it chose cpu"; }
echo "ok: --accelerator auto: $(grep 'no usable GPU' "$TMP/out")"

# ---- checkpoints move between accelerators bit for bit (32-true) ---------------------------
move=(--module mlp "${quiet[@]}" --limit_train_batches 5 --limit_val_batches 0 --test_after_fit false --logger csv)
expect_success fit "${move[@]}" --accel cpu --max_epochs 2 --default_root_dir "$TMP/cpu2"
expect_success fit "${move[@]}" --accel "$fake" --max_epochs 1 --default_root_dir "$TMP/f1"
expect_success fit "${move[@]}" --accel cpu --max_epochs 2 --ckpt_path "$(ckpt_of "$TMP/f1")" --default_root_dir "$TMP/f1c"
expect_success fit "${move[@]}" --accel cpu --max_epochs 1 --default_root_dir "$TMP/c1"
expect_success fit "${move[@]}" --accel "$fake" --max_epochs 2 --ckpt_path "$(ckpt_of "$TMP/c1")" --default_root_dir "$TMP/c1f"
tensors same "$(ckpt_of "$TMP/cpu2")" "$TMP"/f1c/lightning_logs/version_*/checkpoints/epoch=1-step=10.ckpt \
    "$TMP"/c1f/lightning_logs/version_*/checkpoints/epoch=1-step=10.ckpt || fail "a checkpoint moved between accelerators changed"
tensors same "$(ckpt_of "$TMP/f1")" "$(ckpt_of "$TMP/c1")" || fail "cpu and fakecuda_cpu saved different checkpoints"
echo "ok: fakecuda_cpu -> cpu and cpu -> fakecuda_cpu resumes end bit-identical to a cpu run"
# The restored state itself, saved again with no step between (tests/gpu/ckpt_roundtrip.c).
for a in cpu "$fake"; do
    "$BUILD_DIR/tests/gpu/ckpt_roundtrip" "$a" "$LT_TEST_MLP_PLUGIN" "$(ckpt_of "$TMP/f1")" "$TMP/rt.ckpt" >/dev/null ||
        fail "ckpt_roundtrip on $a failed"
    tensors same "$(ckpt_of "$TMP/f1")" "$TMP/rt.ckpt" || fail "restoring on $a and saving again changed the state"
done
echo "ok: a checkpoint restored on cpu or fakecuda_cpu and saved again is byte-identical"
echo "precision and devices work"
