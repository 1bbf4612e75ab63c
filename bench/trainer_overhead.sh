#!/usr/bin/env bash
# The trainer's own cost per training step (target < 20 us on CPU): the same tiny module
# (bench/models/tiny_step.c, batch 1) run by lthost and by a bare loop over liblt
# (bench/trainer_raw.c); the difference is the loops, hooks, logging, progress and the
# loader hand-off. One thread, best of 5. Appends the result to bench/RESULTS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
steps=${1:-20000}
mkdir -p bench/.build
cc -O2 -std=c11 -shared -fPIC -Isdk/include bench/models/tiny_step.c -Lbuild/sdk -llt -o bench/.build/tiny_step.so
cc -O2 -std=c11 -Isdk/include bench/trainer_raw.c -Lbuild/sdk -llt -Wl,-rpath,"$PWD/build/sdk" -o bench/.build/trainer_raw
export LT_PLUGIN_PATH=$PWD/build/plugins/accelerators/cpu
best() { sort -g | head -1; }
raw=$(for i in 1 2 3 4 5; do bench/.build/trainer_raw bench/.build/tiny_step.so "$steps" 1; done | best)
host=$(for i in 1 2 3 4 5; do
    build/host/lthost fit --module bench/.build/tiny_step.so --data.batch_size 1 --threads 1 \
        --limit_train_batches "$steps" --limit_val_batches 0 --max_epochs 1 --test_after_fit false \
        --logger false --enable_model_summary false --default_root_dir /tmp |
        sed -n 's/^Epoch 1\/1.*\[\([0-9]*\) steps, \([0-9.]*\) s.*/\2 \1/p' |
        awk '{ printf "%.3f\n", $1 / $2 * 1e6 }'
done | best)
logged=$(for i in 1 2 3; do
    build/host/lthost fit --module bench/.build/tiny_step.so --data.batch_size 1 --threads 1 \
        --limit_train_batches "$steps" --limit_val_batches 0 --max_epochs 1 --test_after_fit false \
        --enable_model_summary false --log_every_n_steps 50 --default_root_dir "$(mktemp -d)" |
        sed -n 's/^Epoch 1\/1.*\[\([0-9]*\) steps, \([0-9.]*\) s.*/\2 \1/p' |
        awk '{ printf "%.3f\n", $1 / $2 * 1e6 }'
done | best)
over=$(awk -v h="$host" -v r="$raw" 'BEGIN { printf "%.2f", h - r }')
overl=$(awk -v h="$logged" -v r="$raw" 'BEGIN { printf "%.2f", h - r }')
echo "bare loop: $raw us/step; lthost: $host us/step (overhead $over us); with CSV+TensorBoard every 50 steps: $logged us/step (overhead $overl us)"
{
    echo
    echo "## Trainer overhead per step ($(date -u +%Y-%m-%d), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), 1 thread)"
    echo
    echo "\`bash bench/trainer_overhead.sh $steps\`: tiny_step (784-10 linear, SGD, batch 1), best of 5."
    echo
    echo "| | us/step | trainer overhead |"
    echo "|---|---|---|"
    echo "| bare liblt loop (bench/trainer_raw.c) | $raw | - |"
    echo "| lthost fit, loggers off | $host | $over us |"
    echo "| lthost fit, CSV + TensorBoard every 50 steps | $logged | $overl us |"
} >>bench/RESULTS.md
