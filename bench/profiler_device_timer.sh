#!/usr/bin/env bash
# What the device-timer path of the per-op profiler costs on the host (issue 18): one MLP
# epoch (860 batches of 64, 1 thread) on two builds of the same cpu kernels, opaque_cpu
# (no timer slots: each op is timed on the host around a call that syncs) and the test
# twin fakecuda_cpu (timer slots: two marks per op, read back at the loss reads every 50
# steps), without a profiler and with --profiler advanced / trace. On a CPU `sync` is free,
# so this measures only the marks and the pending queue; what the timer saves on a GPU
# (a host-device synchronisation per op) is in bench/gpu_run.sh. Best of 5, interleaved.
# Appends the result to bench/RESULTS.md. Needs the build folder `build`.
set -euo pipefail
cd "$(dirname "$0")/.."
export LT_PLUGIN_PATH=$PWD/build/plugins/accelerators/cpu
plugins=$PWD/build/tests/e2e/plugins
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
# CPU seconds (user + sys) of the whole run, load and startup included: the machine is
# shared, and CPU time is what contention distorts least.
epoch() {
    local TIMEFORMAT=%U+%S t
    t=$( { time build/host/lthost fit --module mlp --max_epochs 1 --limit_val_batches 0 --threads 1 \
        --seed_everything 1 --test_after_fit false --logger false --enable_checkpointing false \
        --enable_progress_bar false --enable_model_summary false --default_root_dir "$dir" "$@" \
        >/dev/null 2>&1; } 2>&1)
    awk -v t="$t" 'BEGIN { split(t, p, "+"); printf "%.3f\n", p[1] + p[2] }'
}
declare -A best
for i in 1 2 3 4 5; do
    for a in opaque_cpu fakecuda_cpu; do
        for p in none advanced trace; do
            args=(--accelerator "$plugins/$a.so")
            [ $p = none ] || args+=(--profiler $p --profiler.dirpath "$dir" --profiler.filename run)
            t=$(epoch "${args[@]}")
            k=$a/$p
            if [ -z "${best[$k]:-}" ] || awk -v x="$t" -v y="${best[$k]}" 'BEGIN { exit !(x < y) }'; then best[$k]=$t; fi
        done
    done
done
pct() { awk -v x="$1" -v y="$2" 'BEGIN { printf "%+.1f%%", (x / y - 1) * 100 }'; }
row() { echo "| $1 | ${best[$1/none]} | ${best[$1/advanced]} ($(pct "${best[$1/advanced]}" "${best[$1/none]}")) | ${best[$1/trace]} ($(pct "${best[$1/trace]}" "${best[$1/none]}")) |"; }
cat >>bench/RESULTS.md <<MD

## Per-op profiler: device timer against host timing (\`bash bench/profiler_device_timer.sh\`, $(date -u +%F), $(nproc) cores, 1 thread)

One MLP epoch (860 batches of 64, no validation): CPU seconds (user + sys) of the whole
run, startup and data loading included, best of 5 interleaved runs (the machine is shared).
opaque_cpu times each op on the host (a \`sync\` per op, free on a CPU); fakecuda_cpu has
the timer slots (two marks per op, read back every 50 steps), as cuda does.

| accelerator | no profiler | advanced | trace |
|---|---|---|---|
$(row opaque_cpu)
$(row fakecuda_cpu)
MD
tail -9 bench/RESULTS.md
