#!/usr/bin/env bash
# bench/ddp_scaling.sh [BATCH...]   (LT_BENCH_ARGS: more lthost flags for every run)
# DDP scaling on CPU: one MLP epoch (55,000 Fashion-MNIST images, BATCH per rank (64, then 256),
# no validation) by 1 rank x 1 thread and by 2 ranks x 1 thread under mpirun; samples/s
# over all ranks, the speed-up (target >= 1.85x), and the share of rank 0's training
# time spent waiting for gradient all-reduces (the --profiler simple action
# [Strategy]DDPStrategy.reduce_gradients over run_training_epoch). A rank is one core:
# the 1-rank run is pinned to core 0 (taskset) like each of the 2 ranks (mpirun
# --bind-to core). For the ceiling of this machine it also runs 2 independent
# single-process epochs at once, one per core (no communication at all), and, when
# bench/.venv has Lightning (bench/run installs it), the same model with Lightning's DDP
# strategy (gloo), 1 and 2 processes pinned the same way. Best of 7 interleaved rounds
# (LT_BENCH_ROUNDS; Lightning: 2), so that every contender sees the same machine, and the
# median of the per-round speed-ups. Appends the result to bench/RESULTS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ $# -ne 1 ]; then # one run per batch size
    [ $# -gt 0 ] || set -- 64 256
    for b in "$@"; do bash bench/ddp_scaling.sh "$b"; done
    exit
fi
export LT_PLUGIN_PATH=$PWD/build/plugins/accelerators/cpu
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
batch=$1
args=(fit --module mlp --max_epochs 1 --limit_val_batches 0 --threads 1 --seed_everything 1 --data.batch_size "$batch" ${LT_BENCH_ARGS:-}
      --test_after_fit false --logger false --enable_checkpointing false --enable_progress_bar false
      --enable_model_summary false --default_root_dir "$dir")
rate() { sed -n 's/^Epoch 1\/1.*s, \([0-9]*\) samples\/s\]/\1/p'; }
best() { sort -g | tail -1; }
pair() { # samples/s of two independent processes on cores 0 and 1, added up
    taskset -c 0 build/host/lthost "${args[@]}" | rate >"$dir/a" &
    taskset -c 1 build/host/lthost "${args[@]}" | rate >"$dir/b"
    wait
    echo $(($(cat "$dir/a") + $(cat "$dir/b")))
}
mkdir -p bench/.build
mpicc -O2 -std=c11 bench/allreduce_probe.c -o bench/.build/allreduce_probe
# the MLP's 235,146 parameters: one all-reduce of its gradients, with nothing else running
probe() { mpirun -np 2 --bind-to core bench/.build/allreduce_probe 235146; }
probe_before=$(probe)
lightning=false
bench/.venv/bin/python -c 'import lightning' 2>/dev/null && lightning=true
pl() { # a Lightning run that dies (gloo aborted once in ~20 runs) just leaves no number
    { bench/.venv/bin/python bench/contenders.py ddp --devices "$1" --batch "$batch" 2>/dev/null || true; } |
        sed -n 's/^samples_per_s=//p'
}
rounds=${LT_BENCH_ROUNDS:-7}
for round in $(seq "$rounds"); do
    taskset -c 0 build/host/lthost "${args[@]}" | rate >>"$dir/one"
    pair >>"$dir/pair"
    mpirun -np 2 --bind-to core build/host/lthost "${args[@]}" --strategy ddp --devices 2 | rate >>"$dir/two"
    if $lightning && [ "$round" -le 2 ]; then # ~12 s a run: 2 rounds
        pl 1 >>"$dir/pl1"
        pl 2 >>"$dir/pl2"
    fi
done
probe_after=$(probe)
one=$(best <"$dir/one") ceiling=$(best <"$dir/pair") two=$(best <"$dir/two")
mpirun -np 2 --bind-to core build/host/lthost "${args[@]}" --strategy ddp --devices 2 --profiler simple >"$dir/prof.txt"
share=$(awk -F'\t' '/run_training_epoch|reduce_gradients/ { t = $4; gsub(/[| ]/, "", t); v[$1 ~ /reduce/] = t }
    END { printf "%.1f", v[1] / v[0] * 100 }' "$dir/prof.txt")
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
speedup=$(ratio "$two" "$one") cspeed=$(ratio "$ceiling" "$one")
# Each round's 2-rank run over the same round's 1-rank run, the median over rounds: the
# VM's speed drifts between rounds, and a ratio within one round mostly cancels it.
paired=$(paste "$dir/two" "$dir/one" | awk '{ print $1 / $2 }' | sort -g |
    awk '{ v[NR] = $1 } END { printf "%.2f", NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }')
echo "1 rank: $one samples/s; 2 ranks: $two samples/s; speed-up ${speedup}x (median of per-round speed-ups ${paired}x; 2 independent processes: ${cspeed}x); all-reduce wait ${share}% of rank 0's epoch; a lone 0.94 MB all-reduce: $probe_before us before, $probe_after us after"
pl_rows=""
if $lightning; then
    pl1=$(best <"$dir/pl1") pl2=$(best <"$dir/pl2")
    [ -n "$pl1" ] && [ -n "$pl2" ] || { echo "Lightning DDP: every run failed" >&2; exit 1; }
    echo "Lightning DDP (gloo): 1 process $pl1 samples/s, 2 processes $pl2 samples/s, $(ratio "$pl2" "$pl1")x"
    pl_rows="| Lightning $(bench/.venv/bin/python -c 'import lightning; print(lightning.__version__)'), 1 process x 1 thread (pinned) | $pl1 | - |
| Lightning, 2 processes x 1 thread, \`strategy=\"ddp\"\` (gloo, pinned) | $pl2 | $(ratio "$pl2" "$pl1")x |"
fi
cat >>bench/RESULTS.md <<MD

## DDP scaling on CPU (\`bash bench/ddp_scaling.sh $batch\`, $(date -u +%F), $(nproc) cores, Open MPI $(mpirun --version | head -1 | awk '{ print $NF }'))

One MLP epoch (784-256-128-10, Adam), 55,000 images, batch $batch per rank, 1 thread per
rank, best of $rounds interleaved rounds (Lightning: of 2)${LT_BENCH_ARGS:+, extra flags: $LT_BENCH_ARGS}.
Median of the $rounds per-round speed-ups (2 ranks over 1 rank in the same round): **${paired}x**.

| | samples/s | speed-up |
|---|---|---|
| 1 rank x 1 thread (taskset -c 0) | $one | - |
| 2 ranks x 1 thread (mpirun --bind-to core) | $two | ${speedup}x |
| 2 independent processes, 1 per core (no DDP: this machine's ceiling) | $ceiling | ${cspeed}x |
${pl_rows}

Rank 0 spent ${share}% of its training epoch waiting for gradient all-reduces
(\`[Strategy]DDPStrategy.reduce_gradients\`, --profiler simple). A lone all-reduce of the
0.94 MB of gradients (\`bench/allreduce_probe.c\`) took $probe_before us before the rounds and
$probe_after us after them.
MD
