#!/usr/bin/env bash
# bench/ab_plugin.sh CPU_DIR_A CPU_DIR_B THREADS ROUNDS [BUILD_DIR] — bench/run's small MLP
# (bench/.build/mlp1.so, built by bench/run) one epoch, with the cpu.so of folder A then
# of folder B (LT_PLUGIN_PATH), interleaved; the same lthost and liblt for both. Prints
# train samples/s, train loss, process CPU s (user+sys) and wall s per run.
# Timings, never assertions.
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 4 ] || { echo "usage: $0 CPU_DIR_A CPU_DIR_B THREADS ROUNDS [BUILD_DIR]" >&2; exit 2; }
a=$1 b=$2 t=$3 rounds=$4 build=${5:-build}
[ -f bench/.build/mlp1.so ] || { echo "no bench/.build/mlp1.so: run bench/run once" >&2; exit 1; }
command -v /usr/bin/time >/dev/null || { echo "needs /usr/bin/time: apt-get install time" >&2; exit 1; }
run() { # CPU_DIR -> "samples/s loss=L cpu=S wall=S"
    local out
    out=$( { LT_PLUGIN_PATH=$1 /usr/bin/time -f 'time %U %S %e' "$build/host/lthost" fit \
        --module bench/.build/mlp1.so --max_epochs 1 --seed_everything 0 --threads "$t" \
        --limit_val_batches 0 --test_after_fit false --enable_progress_bar false; } 2>&1 )
    sed -n 's/^Epoch 1\/1.*loss=\([0-9.]*\).*, \([0-9]*\) samples\/s\]$/\2 loss=\1/p' <<<"$out" |
        tr '\n' ' '
    sed -n 's/^time //p' <<<"$out" | awk '{ printf "cpu=%.2f wall=%.2f\n", $1 + $2, $3 }'
}
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
for ((i = 1; i <= rounds; i++)); do
    echo "round $i: A $(run "$a") | B $(run "$b")"
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
