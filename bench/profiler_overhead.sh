#!/usr/bin/env bash
# What profiling costs: one MLP epoch (860 batches of 64, 1 thread) without a profiler
# and with --profiler simple / advanced / trace (target: simple < 2%), and the trainer's
# per-step cost on the tiny module (bench/trainer_overhead.sh's) without a profiler,
# whose instrumentation must cost nothing measurable. Best of 5, interleaved. Appends
# the result to bench/RESULTS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
export LT_PLUGIN_PATH=$PWD/build/plugins/accelerators/cpu
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
epoch() { # seconds of the training epoch: 55000 samples over the epoch line's samples/s
    build/host/lthost fit --module mlp --max_epochs 1 --limit_val_batches 0 --threads 1 --seed_everything 1 \
        --test_after_fit false --logger false --enable_checkpointing false --enable_progress_bar false \
        --enable_model_summary false --default_root_dir "$dir" "$@" |
        sed -n 's/^Epoch 1\/1.*s, \([0-9]*\) samples\/s\]/\1/p' | awk '{ printf "%.4f\n", 55000 / $1 }'
}
declare -A best
for i in 1 2 3 4 5; do
    for p in none simple advanced trace; do
        args=()
        [ $p = none ] || args=(--profiler $p --profiler.dirpath "$dir" --profiler.filename run)
        t=$(epoch "${args[@]}")
        if [ -z "${best[$p]:-}" ] || awk -v a="$t" -v b="${best[$p]}" 'BEGIN { exit !(a < b) }'; then best[$p]=$t; fi
    done
done
pct() { awk -v a="$1" -v b="${best[none]}" 'BEGIN { printf "%+.1f%%", (a / b - 1) * 100 }'; }
for p in none simple advanced trace; do echo "$p: ${best[$p]} s $( [ $p = none ] || pct "${best[$p]}")"; done
cat >>bench/RESULTS.md <<MD

## Profiler overhead (\`bash bench/profiler_overhead.sh\`, $(date -u +%F), $(nproc) cores, 1 thread)

One MLP epoch (860 batches of 64, no validation), best of 5 interleaved runs.

| --profiler | epoch (s) | vs none |
|---|---|---|
| (none) | ${best[none]} | - |
| simple | ${best[simple]} | $(pct "${best[simple]}") |
| advanced (per-op spans) | ${best[advanced]} | $(pct "${best[advanced]}") |
| trace (per-op spans) | ${best[trace]} | $(pct "${best[trace]}") |
MD
