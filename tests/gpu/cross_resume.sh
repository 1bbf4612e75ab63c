#!/usr/bin/env bash
# Checkpoints are accelerator-neutral (on a GPU machine; tests/gpu/run.sh runs it): a
# checkpoint written by a fit on cuda and one written on cpu, each restored on cpu and on
# cuda and saved again with no step between, hold the same weights and optimizer state
# byte for byte (32-true); and a cuda checkpoint resumes training on cpu and back.
set -euo pipefail
data=${1:?usage: cross_resume.sh DATA_DIR}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
rt=$BUILD_DIR/tests/gpu/ckpt_roundtrip
gpu=${LT_GPU_ACCEL:-cuda} # another accelerator (a test twin's path) to try the script anywhere
accel() { if [ "$1" = gpu ]; then echo "$gpu"; else echo cpu; fi; }
same() { python3 "$SRC_DIR/tests/e2e/ckpt_tensors.py" same "$@"; }
args=(fit --module mlp --data.root "$data" --limit_train_batches 20 --limit_val_batches 0
      --test_after_fit false --logger false --enable_progress_bar false --enable_model_summary false)
declare -A saved
for a in gpu cpu; do
    "$LTHOST" "${args[@]}" --accelerator "$(accel $a)" --max_epochs 1 --default_root_dir "$tmp/$a" >/dev/null
    ckpt=$(ls "$tmp/$a"/checkpoints/*.ckpt 2>/dev/null || ls "$tmp/$a"/lightning_logs/version_*/checkpoints/*.ckpt)
    for b in cpu gpu; do
        "$rt" "$(accel $b)" "$BUILD_DIR/plugins/models/mlp/mlp.so" "$ckpt" "$tmp/$a-on-$b.ckpt" >/dev/null
        same "$ckpt" "$tmp/$a-on-$b.ckpt"
    done
    saved[$a]=$ckpt
    echo "ok: saved on $(accel $a), restored on cpu and $gpu: byte-identical"
done
# Training moves across: cuda's epoch-1 checkpoint continues on cpu, cpu's on cuda.
"$LTHOST" "${args[@]}" --accelerator cpu --max_epochs 2 --ckpt_path "${saved[gpu]}" --default_root_dir "$tmp/c2" | tail -1
"$LTHOST" "${args[@]}" --accelerator "$gpu" --max_epochs 2 --ckpt_path "${saved[cpu]}" --default_root_dir "$tmp/g2" | tail -1
echo "ok: $gpu -> cpu and cpu -> $gpu resumes trained on"
