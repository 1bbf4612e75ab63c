#!/usr/bin/env bash
# Benchmark: training throughput of the chargpt model (plugins/models/chargpt) against the
# same transformer in a plain PyTorch loop (minGPT's blocks with F.scaled_dot_product_attention,
# same sizes, torch's default init, Adam), same threads, runs interleaved so both see the
# same machine load. STEPS steps of batch 32 windows of BLOCK characters of the Vim user
# manual (vim-runtime); tokens/s of the training steps only (lthost's printed samples/s
# times the block; torch's timed the same way).
#   bench/chargpt_tokens.sh [BUILD_DIR] [THREADS] [STEPS] [N_LAYER] [N_EMBD] [BLOCK]
#   (default: build, all cores, 50, 4, 128, 128: the model's defaults)
# Needs tests/reference/.venv (bash tests/reference/setup_venv.sh). Appends to RESULTS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build} threads=${2:-$(nproc)} steps=${3:-50} layers=${4:-4} embd=${5:-128} block=${6:-128}
py=tests/reference/.venv/bin/python
[ -x "$py" ] || { echo "needs torch: bash tests/reference/setup_venv.sh" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$py" -c 'import sys; sys.path.insert(0, "bench"); import contenders; contenders.chargpt_text(sys.argv[1])' "$tmp/book.txt"
torch_tps() { # bench/contenders.py, as bench/run runs it
    "$py" bench/contenders.py chargpt --threads "$threads" --steps "$steps" --layers "$layers" \
        --embd "$embd" --block "$block" --text "$tmp/book.txt" | sed -n 's/^tokens_per_s=//p'
}
lthost_tps() {
    local sps
    sps=$("$build/host/lthost" fit --module chargpt --data text --data.path "$tmp/book.txt" \
        --data.block_size "$block" --data.batch_size 32 --model.block_size "$block" \
        --model.n_layer "$layers" --model.n_embd "$embd" --model.vocab_size 97 --max_epochs 1 \
        --limit_train_batches "$steps" --limit_val_batches 0 --test_after_fit false \
        --threads "$threads" --logger false --enable_checkpointing false \
        --enable_progress_bar false --default_root_dir "$tmp" |
        sed -n 's/^Epoch 1\/1.*, \([0-9.]*\) samples\/s\]$/\1/p')
    awk -v s="$sps" -v t="$block" 'BEGIN { printf "%d", s * t }'
}
rows=""
for run in 1 2; do
    a=$(lthost_tps) b=$(torch_tps)
    echo "run $run: lthost $a tokens/s, torch $b tokens/s (load $(cut -d' ' -f1 /proc/loadavg))"
    rows+="| $run | $a | $b | $(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.2fx", a / b }') | $(cut -d' ' -f1 /proc/loadavg) |"$'\n'
done
{
    echo
    echo "## chargpt training tokens/s — $(date -u +%Y-%m-%d), $(lscpu | sed -n 's/^Model name: *//p' | head -1), $(nproc) cores, $threads threads"
    echo
    echo "Command: \`bench/chargpt_tokens.sh $build $threads $steps $layers $embd $block\` ($steps steps"
    echo "of 32 x $block characters, $layers layers, n_embd $embd, 4 heads, dropout 0.1, Adam; torch"
    echo "$("$py" -c 'import torch; print(torch.__version__)'), plain loop with F.scaled_dot_product_attention)."
    echo
    echo "| run | lthost tokens/s | PyTorch tokens/s | ratio | load average |"
    echo "| ---: | ---: | ---: | ---: | ---: |"
    printf '%s' "$rows"
} >>bench/RESULTS.md
echo "appended to bench/RESULTS.md"
