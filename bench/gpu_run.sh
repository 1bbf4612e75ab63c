#!/usr/bin/env bash
# bench/gpu_run.sh BUILD_DIR DATA_DIR [REPORT.md] — lthost on one CUDA GPU side by side with
# plain PyTorch and Lightning (bench/gpu_contenders.py), on the GPU machine (tests/gpu/run.sh
# calls it after its checks). Prints a markdown table and appends it to REPORT.md:
#  - GEMM-bound MLP 784-8192-8192-10, batch 8192: lthost TFLOP/s against the cuBLAS ceiling
#    at the same shapes in the same run (torch.matmul), in 32-true, TF32 and bf16-mixed, and
#    32-true with --float32_matmul_precision medium (cuBLAS rounds to bf16 inside: no casts);
#    then where bf16-mixed's step goes: cuBLAS alone per operand type (bench/cublas_probe.c)
#    and lthost's own op times (--profiler advanced, CUDA events);
#  - the small MLP (784-128-10) and the demo MLP (784-256-128-10), batch 64: samples/s of
#    the second epoch (the first warms up) against PyTorch and Lightning;
#  - the demo MLP at batch 1024 with and without the copy stream (LT_CUDA_COPY_STREAM=0);
#  - the demo MLP at batch 64 with --profiler advanced (CUDA-event op times) and without;
#  - DDP on CPU over this machine's cores: 1, 2, 4 and 8 ranks x 1 thread.
set -uo pipefail
build=${1:?usage: bench/gpu_run.sh BUILD_DIR DATA_DIR [REPORT.md]}
data=${2:?usage: bench/gpu_run.sh BUILD_DIR DATA_DIR [REPORT.md]}
report=${3:-/dev/null}
cd "$(dirname "$0")/.."
lthost=$build/host/lthost
py=${PYTHON:-python3}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
mkdir -p bench/.build
cc -O2 -std=c11 -shared -fPIC -Isdk/include bench/models/mlp1.c -L"$build/sdk" -llt \
    -o bench/.build/mlp1.so || exit 1

common=(--seed_everything 0 --limit_val_batches 0 --test_after_fit false --logger false
        --enable_checkpointing false --enable_model_summary false --enable_progress_bar false
        --data.root "$data" --default_root_dir "$dir")
last_rate() { sed -n 's/.* \([0-9.]*\) samples\/s\]$/\1/p' | tail -1; }
last_secs() { sed -n 's/.*\[\([0-9]*\) steps, \([0-9.]*\) s,.*/\1 \2/p' | tail -1; }
fit() { "$lthost" fit "${common[@]}" "$@" 2>&1; }

# GEMM-bound: 6 full batches of 8192 per epoch; TFLOP/s of the second epoch.
widths=784,8192,8192,10
flop=$(python3 -c "print(6*8192*(784*8192+8192*8192+8192*10))")
rows=()
gemm_fit() { fit --module mlp --accelerator cuda --model.hidden 8192 --model.hidden2 8192 \
    --data.batch_size 8192 --limit_train_batches 6 --max_epochs 2 "$@"; }
for prec in 32 tf32 bf16 medium; do
    case $prec in
        32) flags=(--precision 32-true --float32_matmul_precision highest) ;;
        tf32) flags=(--precision 32-true --float32_matmul_precision high) ;;
        bf16) flags=(--precision bf16-mixed) ;;
        medium) flags=(--precision 32-true --float32_matmul_precision medium) ;;
    esac
    read -r steps secs < <(gemm_fit "${flags[@]}" | last_secs)
    lt=$(python3 -c "print(f'{$flop*$steps/$secs/1e12:.1f}')" 2>/dev/null || echo "-")
    if [ $prec != medium ]; then # medium (bf16 inside cuBLAS) is held to bf16's ceiling
        peak=$($py bench/gpu_contenders.py peak --widths $widths --batch 8192 --precision $prec | sed -n 's/tflops=//p')
        torch=$($py bench/gpu_contenders.py gemm_mlp --widths $widths --batch 8192 --precision $prec | sed -n 's/tflops=//p')
    fi
    share=$(python3 -c "print(f'{$lt/$peak:.0%}')" 2>/dev/null || echo "-")
    rows+=("| GEMM-bound MLP, $prec, TFLOP/s (share of cuBLAS) | $lt ($share) | - | $torch | $peak |")
done
# Where bf16-mixed's step goes: cuBLAS alone per operand type, then lthost's op times.
cuda=${CUDA_HOME:-/usr/local/cuda}
libs=$(ls "$cuda"/lib64/libcublas.so* "$cuda"/lib64/libcudart.so* 2>/dev/null | sort -u) # dev links or not
probe=$(cc -O2 -std=c11 bench/cublas_probe.c -I"$cuda/include" $libs -Wl,-rpath,"$cuda/lib64" \
    -o bench/.build/cublas_probe 2>&1 && bench/.build/cublas_probe 8192 2>&1)
gemm_fit --precision bf16-mixed --profiler advanced --profiler.dirpath "$dir" \
    --profiler.filename bf16 >/dev/null
ops=$({ grep -E '(run_training_(epoch|batch)|train_dataloader_next|Strategy.batch_to_device) ' \
    "$dir/fit-bf16.txt"; sed -n '/^Operations/,/^Data loading/p' "$dir/fit-bf16.txt" |
    grep -v -- '-----'; } 2>/dev/null | cut -c1-170)
for m in "small 784,128,10 bench/.build/mlp1.so" "demo 784,256,128,10 mlp"; do
    set -- $m
    lt=$(fit --module "$3" --accelerator cuda --max_epochs 2 | last_rate)
    torch=$($py bench/gpu_contenders.py mlp --impl torch --widths "$2" --data "$data" | sed -n 's/samples_per_s=//p')
    pl=$($py bench/gpu_contenders.py mlp --impl lightning --widths "$2" --data "$data" 2>/dev/null | sed -n 's/samples_per_s=//p')
    ratio=$(python3 -c "print(f'{$lt/$pl:.1f}x Lightning, {$lt/$torch:.1f}x PyTorch')" 2>/dev/null || echo "-")
    rows+=("| $1 MLP ($2), batch 64, samples/s ($ratio) | $lt | $pl | $torch | - |")
done
# The copy stream (issue 18): demo MLP at batch 1024, samples/s of the second epoch with
# it and without (LT_CUDA_COPY_STREAM=0), interleaved on off on off on off; medians.
on=() off=()
for i in 1 2 3; do
    on+=("$(fit --module mlp --accelerator cuda --max_epochs 2 --data.batch_size 1024 | last_rate)")
    off+=("$(LT_CUDA_COPY_STREAM=0 fit --module mlp --accelerator cuda --max_epochs 2 --data.batch_size 1024 | last_rate)")
done
median() { printf '%s\n' "$@" | sort -g | sed -n 2p; }
rows+=("| demo MLP, batch 1024, samples/s, copy stream on (off: $(median "${off[@]}")) | $(median "${on[@]}") | - | - | - |")
# The profiler on cuda (issue 18): demo MLP, batch 64, samples/s of the second epoch with
# --profiler advanced (ops timed by CUDA events, read back at the loss reads, no per-op
# sync) against no profiler, interleaved; medians of 3.
pn=() pa=()
for i in 1 2 3; do
    pn+=("$(fit --module mlp --accelerator cuda --max_epochs 2 | last_rate)")
    pa+=("$(fit --module mlp --accelerator cuda --max_epochs 2 --profiler advanced \
        --profiler.dirpath "$dir" --profiler.filename prof | last_rate)")
done
rows+=("| demo MLP, batch 64, samples/s with --profiler advanced (none: $(median "${pn[@]}")) | $(median "${pa[@]}") | - | - | - |")
ddp=""
for np in 1 2 4 8; do
    r=$(fit --module mlp --accelerator cpu --devices $np --strategy ddp --threads 1 --max_epochs 1 | last_rate)
    ddp+=" $np: ${r:-failed};"
done
{
    echo
    echo "### GPU run, $(date -u +%F), $(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>/dev/null | head -1), $(nproc) cores"
    echo
    echo "| benchmark | lthost | Lightning | PyTorch | cuBLAS at the same shapes |"
    echo "| --- | ---: | ---: | ---: | ---: |"
    printf '%s\n' "${rows[@]}"
    echo
    echo "DDP on CPU (mlp, 1 thread per rank, samples/s over all ranks):$ddp"
    echo
    echo "cuBLAS alone, 8192^3 (bench/cublas_probe.c):"
    echo '```'
    echo "$probe"
    echo '```'
    echo "GEMM-bound MLP in bf16-mixed, --profiler advanced (ops timed by CUDA events):"
    echo '```'
    echo "$ops"
    echo '```'
    echo "Command: bench/gpu_run.sh $build $data (from tests/gpu/run.sh)"
} | tee -a "$report"
