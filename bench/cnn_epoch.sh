#!/usr/bin/env bash
# Benchmark: training throughput of the cnn model (plugins/models/cnn: conv-bn-relu x2,
# max-pool, dropout, 6272-128-10 head; Adam, batch 64, train mode) against the same model
# in a plain PyTorch loop and in PyTorch Lightning (tests/reference/make_layer_fixtures.py's
# CNN), same threads, same batches, runs interleaved so all see the same machine load.
# STEPS steps of each, samples/s of the training steps only (lthost's printed figure;
# torch's loop timed the same way, Lightning's training epoch timed by a callback).
#   bench/cnn_epoch.sh [BUILD_DIR] [THREADS] [STEPS]   (default: build, all cores, 100)
# Needs tests/reference/.venv (bash tests/reference/setup_venv.sh). Appends to RESULTS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build} threads=${2:-$(nproc)} steps=${3:-100}
py=tests/reference/.venv/bin/python
[ -x "$py" ] || { echo "needs torch: bash tests/reference/setup_venv.sh" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
torch_sps() { # torch_sps torch|lightning (bench/contenders.py, as bench/run runs it)
    "$py" bench/contenders.py cnn --impl "$1" --threads "$threads" --steps "$steps" 2>"$tmp/py.err" |
        sed -n 's/^samples_per_s=//p' || { cat "$tmp/py.err" >&2; exit 1; }
}
lthost_sps() {
    "$build/host/lthost" fit --module cnn --max_epochs 1 --limit_train_batches "$steps" \
        --limit_val_batches 0 --test_after_fit false --threads "$threads" --logger false \
        --enable_checkpointing false --enable_progress_bar false --default_root_dir "$tmp" |
        sed -n 's/^Epoch 1\/1.*, \([0-9]*\) samples\/s\]$/\1/p'
}
rows=""
for run in 1 2; do
    a=$(lthost_sps) b=$(torch_sps torch) c=$(torch_sps lightning)
    load=$(cut -d' ' -f1 /proc/loadavg)
    echo "run $run: lthost $a samples/s, torch $b, Lightning $c (load $load)"
    rows+="| $run | $a | $b | $c | $(awk -v a="$a" -v b="$b" -v c="$c" 'BEGIN { printf "%.2fx | %.2fx", a / b, a / c }') | $load |"$'\n'
done
{
    echo
    echo "## cnn training steps — $(date -u +%Y-%m-%d), $(lscpu | sed -n 's/^Model name: *//p' | head -1), $(nproc) cores, $threads threads"
    echo
    echo "Command: \`bench/cnn_epoch.sh $build $threads $steps\` ($steps steps of 64, train mode,"
    echo "Adam; torch $("$py" -c 'import torch; print(torch.__version__)'), lightning"
    echo "$("$py" -c 'import lightning; print(lightning.__version__)'); lthost: $("$build/host/lthost" plugins 2>/dev/null | grep -m1 -o 'OpenBLAS.*' | sed 's/, [0-9]* threads*$//' || true))."
    echo
    echo "| run | lthost samples/s | PyTorch samples/s | Lightning samples/s | vs PyTorch | vs Lightning | load average |"
    echo "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    printf '%s' "$rows"
} >>bench/RESULTS.md
echo "appended to bench/RESULTS.md"
