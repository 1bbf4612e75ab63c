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
torch_sps() { # torch_sps torch|lightning
    "$py" - "$threads" "$steps" "$1" 2>"$tmp/py.err" <<'PY' || { cat "$tmp/py.err" >&2; exit 1; }
import sys, time, os
sys.path.insert(0, "tests/reference")
import numpy as np, torch, torch.nn.functional as F
from make_layer_fixtures import CNN, read_idx, FMNIST
threads, steps, impl = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
torch.set_num_threads(threads)
n = steps * 64
x = torch.from_numpy(read_idx(f"{FMNIST}/train-images-idx3-ubyte.gz", n).copy()).float()
x = ((x / 255 - 0.2860) / 0.3530).reshape(steps, 64, 1, 28, 28)
y = torch.from_numpy(read_idx(f"{FMNIST}/train-labels-idx1-ubyte.gz", n).astype(np.int64)).reshape(steps, 64)
model = CNN(hidden=128, dropout=0.25)
model.train()
if impl == "torch":
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    t0 = time.perf_counter()
    for k in range(steps):
        loss = F.cross_entropy(model(x[k]), y[k])
        opt.zero_grad()
        loss.backward()
        opt.step()
    print(int(n / (time.perf_counter() - t0)))
    sys.exit(0)
# Lightning: the same model as a LightningModule, the same batches through a DataLoader,
# the training epoch timed by a callback (not the Trainer's set-up), as lthost prints it.
import lightning as L

class Module(L.LightningModule):
    def __init__(self):
        super().__init__()
        self.net = model

    def training_step(self, batch, i):
        loss = F.cross_entropy(self.net(batch[0]), batch[1])
        self.log("train_loss", loss, on_step=False, on_epoch=True)
        return loss

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=1e-3)

class EpochTimer(L.Callback):
    def on_train_epoch_start(self, trainer, module):
        self.t0 = time.perf_counter()

    def on_train_epoch_end(self, trainer, module):
        self.seconds = time.perf_counter() - self.t0

data = torch.utils.data.TensorDataset(x.reshape(n, 1, 28, 28), y.reshape(n))
loader = torch.utils.data.DataLoader(data, batch_size=64, shuffle=False)
timer = EpochTimer()
L.Trainer(accelerator="cpu", devices=1, max_epochs=1, logger=False, enable_checkpointing=False,
          enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0,
          callbacks=[timer]).fit(Module(), loader)
print(int(n / timer.seconds))
PY
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
