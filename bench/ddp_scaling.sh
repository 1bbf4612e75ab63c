#!/usr/bin/env bash
# bench/ddp_scaling.sh [BATCH]   (LT_BENCH_ARGS: more lthost flags for every run)
# DDP scaling on CPU: one MLP epoch (55,000 Fashion-MNIST images, BATCH (64) per rank,
# no validation) by 1 rank x 1 thread and by 2 ranks x 1 thread under mpirun; samples/s
# over all ranks, the speed-up (target >= 1.85x), and the share of rank 0's training
# time spent waiting for gradient all-reduces (the --profiler simple action
# [Strategy]DDPStrategy.reduce_gradients over run_training_epoch). A rank is one core:
# the 1-rank run is pinned to core 0 (taskset) like each of the 2 ranks (mpirun
# --bind-to core), since its data-loading thread would otherwise run on the idle second
# core; the unpinned figure is printed too. For the ceiling of this machine it also runs
# 2 independent single-process epochs at once, one per core (no communication at all).
# Best of 3. Appends the result to bench/RESULTS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
export LT_PLUGIN_PATH=$PWD/build/plugins/accelerators/cpu
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
batch=${1:-64}
args=(fit --module mlp --max_epochs 1 --limit_val_batches 0 --threads 1 --seed_everything 1 --data.batch_size "$batch" ${LT_BENCH_ARGS:-}
      --test_after_fit false --logger false --enable_checkpointing false --enable_progress_bar false
      --enable_model_summary false --default_root_dir "$dir")
rate() { sed -n 's/^Epoch 1\/1.*s, \([0-9]*\) samples\/s\]/\1/p'; }
best() { sort -g | tail -1; }
one=$(for i in 1 2 3; do taskset -c 0 build/host/lthost "${args[@]}" | rate; done | best)
free=$(for i in 1 2 3; do build/host/lthost "${args[@]}" | rate; done | best)
pair() { # samples/s of two independent processes on cores 0 and 1, added up
    taskset -c 0 build/host/lthost "${args[@]}" | rate >"$dir/a" &
    taskset -c 1 build/host/lthost "${args[@]}" | rate >"$dir/b"
    wait
    echo $(($(cat "$dir/a") + $(cat "$dir/b")))
}
ceiling=$(for i in 1 2 3; do pair; done | best)
two=$(for i in 1 2 3; do mpirun -np 2 --bind-to core build/host/lthost "${args[@]}" --strategy ddp --devices 2 | rate; done | best)
mpirun -np 2 --bind-to core build/host/lthost "${args[@]}" --strategy ddp --devices 2 --profiler simple >"$dir/prof.txt"
share=$(awk -F'\t' '/run_training_epoch|reduce_gradients/ { t = $4; gsub(/[| ]/, "", t); v[$1 ~ /reduce/] = t }
    END { printf "%.1f", v[1] / v[0] * 100 }' "$dir/prof.txt")
speedup=$(awk -v a="$two" -v b="$one" 'BEGIN { printf "%.2f", a / b }')
cspeed=$(awk -v a="$ceiling" -v b="$one" 'BEGIN { printf "%.2f", a / b }')
echo "1 rank: $one samples/s (unpinned: $free); 2 ranks: $two samples/s; speed-up ${speedup}x (2 independent processes: ${cspeed}x); all-reduce wait ${share}% of rank 0's epoch"
cat >>bench/RESULTS.md <<MD

## DDP scaling on CPU (\`bash bench/ddp_scaling.sh $batch\`, $(date -u +%F), $(nproc) cores, Open MPI $(mpirun --version | head -1 | awk '{ print $NF }'))

One MLP epoch, 55,000 images, batch $batch per rank, 1 thread per rank, best of 3${LT_BENCH_ARGS:+, extra flags: $LT_BENCH_ARGS}.

| | samples/s | speed-up |
|---|---|---|
| 1 rank x 1 thread (taskset -c 0) | $one | - |
| 1 rank x 1 thread, unpinned (its loader thread may use the second core) | $free | - |
| 2 ranks x 1 thread (mpirun --bind-to core) | $two | ${speedup}x |
| 2 independent processes, 1 per core (no DDP: this machine's ceiling) | $ceiling | ${cspeed}x |

Rank 0 spent ${share}% of its training epoch waiting for gradient all-reduces
(\`[Strategy]DDPStrategy.reduce_gradients\`, --profiler simple).
MD
