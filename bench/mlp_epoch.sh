#!/usr/bin/env bash
# Benchmark: one training epoch of the demo MLP (784-256-128-10, Adam, batch 64) on
# Fashion-MNIST: training samples/s as lthost reports it, the wall time of the whole
# `lthost fit` (start-up, data loading, 1 epoch, validation, test) and its peak RSS.
#   bench/mlp_epoch.sh [BUILD_DIR] [THREADS...]      (default: build, 1 and all cores)
# Appends a table to bench/RESULTS.md. Timings, never assertions.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
shift || true
threads=("$@")
[ ${#threads[@]} -gt 0 ] || threads=(1 "$(nproc)")
command -v /usr/bin/time >/dev/null || { echo "needs /usr/bin/time: apt-get install time" >&2; exit 1; }
lthost=$build/host/lthost
[ -x "$lthost" ] || { echo "build first: bash scripts/build.sh $build" >&2; exit 1; }
cpu=$(lscpu | sed -n 's/^Model name: *//p' | head -1)
rows=""
for t in "${threads[@]}"; do
    for run in 1 2 3; do
        out=$( { /usr/bin/time -f 'wall=%e rss_kb=%M' "$lthost" fit --module mlp --max_epochs 1 \
                 --seed_everything 0 --threads "$t"; } 2>&1 )
        sps=$(sed -n 's/^Epoch 1\/1.*, \([0-9]*\) samples\/s\]$/\1/p' <<<"$out")
        wall=$(sed -n 's/^wall=\([0-9.]*\).*/\1/p' <<<"$out")
        rss=$(sed -n 's/.*rss_kb=\([0-9]*\)/\1/p' <<<"$out")
        echo "threads=$t run=$run: $sps samples/s, fit wall $wall s, peak RSS $((rss / 1024)) MiB"
        rows+="| $t | $run | $sps | $wall | $((rss / 1024)) |"$'\n'
    done
done
{
    echo
    echo "## MLP epoch — $(date -u +%Y-%m-%d), $cpu, $(nproc) cores"
    echo
    echo "Command: \`$lthost fit --module mlp --max_epochs 1 --seed_everything 0 --threads T\`"
    echo "(train 55,000 samples in 860 steps of 64, validate 5,000, test 10,000)."
    echo
    echo "| threads | run | train samples/s | fit wall (s) | peak RSS (MiB) |"
    echo "| ---: | ---: | ---: | ---: | ---: |"
    printf '%s' "$rows"
} >>bench/RESULTS.md
echo "appended to bench/RESULTS.md"
