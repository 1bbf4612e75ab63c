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
cat /usr/share/vim/vim*/doc/usr_0[1-9].txt >"$tmp/book.txt"
torch_tps() {
    "$py" - "$threads" "$steps" "$layers" "$embd" "$block" "$tmp/book.txt" <<'PY'
import sys, time
import torch, torch.nn as nn, torch.nn.functional as F
threads, steps, L, C, T = map(int, sys.argv[1:6])
torch.set_num_threads(threads)
text = open(sys.argv[6], encoding="utf-8").read()
chars = sorted(set(text)); V = len(chars)
ids = torch.tensor([chars.index(c) for c in text])
class Block(nn.Module):
    def __init__(s):
        super().__init__()
        s.ln_1, s.ln_2 = nn.LayerNorm(C), nn.LayerNorm(C)
        s.c_attn, s.c_proj = nn.Linear(C, 3 * C), nn.Linear(C, C)
        s.c_fc, s.mlp_proj = nn.Linear(C, 4 * C), nn.Linear(4 * C, C)
    def forward(s, x):
        B = x.shape[0]
        q, k, v = s.c_attn(s.ln_1(x)).split(C, 2)
        q, k, v = (t.view(B, T, 4, C // 4).transpose(1, 2) for t in (q, k, v))
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True, dropout_p=0.1)
        x = x + F.dropout(s.c_proj(y.transpose(1, 2).reshape(B, T, C)), 0.1)
        return x + F.dropout(s.mlp_proj(F.gelu(s.c_fc(s.ln_2(x)))), 0.1)
class GPT(nn.Module):
    def __init__(s):
        super().__init__()
        s.wte, s.wpe = nn.Embedding(V, C), nn.Embedding(T, C)
        s.h = nn.ModuleList(Block() for _ in range(L))
        s.ln_f, s.lm_head = nn.LayerNorm(C), nn.Linear(C, V)
    def forward(s, idx):
        x = F.dropout(s.wte(idx) + s.wpe.weight[:T], 0.1)
        for b in s.h: x = b(x)
        return s.lm_head(s.ln_f(x))
model = GPT(); model.train()
opt = torch.optim.Adam(model.parameters(), lr=1e-3)
g = torch.Generator().manual_seed(0)
starts = torch.randint(0, len(ids) - T - 1, (steps, 32), generator=g)
batches = [(torch.stack([ids[i:i + T] for i in s]), torch.stack([ids[i + 1:i + T + 1] for i in s])) for s in starts]
t0 = time.perf_counter()
for x, y in batches:
    loss = F.cross_entropy(model(x).view(-1, V), y.view(-1))
    opt.zero_grad(); loss.backward(); opt.step()
print(int(steps * 32 * T / (time.perf_counter() - t0)))
PY
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
