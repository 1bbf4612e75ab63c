#!/usr/bin/env python3
"""The PyTorch side of bench/gpu_run.sh, on one CUDA GPU (run on the GPU machine).

  gpu_contenders.py mlp --impl torch|lightning --widths 784,128,10 --batch 64 [--epochs 1]
      one Fashion-MNIST epoch after a warm-up epoch, Adam; prints samples_per_s=...
  gpu_contenders.py peak --widths 784,8192,8192,10 --batch 8192 --precision 32|tf32|bf16
      the GEMMs of one training step of that MLP (forward, both backward products per layer)
      through torch.matmul (cuBLAS), timed with CUDA events: the ceiling for lthost's
      GEMM-bound run at the same shapes; prints tflops=...
  gpu_contenders.py gemm_mlp --widths ... --batch 8192 --precision 32|tf32|bf16 --steps 20
      the same MLP trained by a plain PyTorch loop (autocast for bf16); prints tflops=...

Data: the Fashion-MNIST .gz files under --data (default /usr/share/datasets/fashion-mnist).
Times exclude imports and data loading, as lthost's printed samples/s does.
"""
import argparse
import gzip
import os
import time

import numpy as np
import torch
import torch.nn.functional as F

from contenders import mlp  # the same network as the CPU benchmark


def fashion_mnist(root, n=55000):
    with gzip.open(os.path.join(root, "train-images-idx3-ubyte.gz")) as f:
        x = np.frombuffer(f.read(), np.uint8, offset=16)[: n * 784].reshape(n, 784)
    with gzip.open(os.path.join(root, "train-labels-idx1-ubyte.gz")) as f:
        y = np.frombuffer(f.read(), np.uint8, offset=8)[:n]
    x = (torch.from_numpy(x.copy()).float() / 255 - 0.2860) / 0.3530
    return x, torch.from_numpy(y.astype(np.int64))


def step_flops(widths, batch):
    """Forward + backward multiply-adds x 2 of the linear layers (what lthost counts)."""
    return 6.0 * batch * sum(a * b for a, b in zip(widths[:-1], widths[1:]))


def set_precision(p):
    torch.backends.cuda.matmul.allow_tf32 = p == "tf32"
    torch.set_float32_matmul_precision("high" if p == "tf32" else "highest")


def mlp_torch(x, y, widths, batch, epochs):
    dev = torch.device("cuda")
    model = mlp(*widths).to(dev)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=batch,
                                         shuffle=True, pin_memory=True)

    def epoch():
        for xb, yb in loader:
            xb, yb = xb.to(dev, non_blocking=True), yb.to(dev, non_blocking=True)
            loss = F.cross_entropy(model(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
        torch.cuda.synchronize()

    epoch()  # warm-up: cuBLAS handles, the caching allocator, kernels
    t0 = time.perf_counter()
    for _ in range(epochs):
        epoch()
    return len(x) * epochs / (time.perf_counter() - t0)


def mlp_lightning(x, y, widths, batch, epochs):
    import lightning as L

    class Module(L.LightningModule):
        def __init__(self):
            super().__init__()
            self.net = mlp(*widths)

        def training_step(self, b, i):
            loss = F.cross_entropy(self.net(b[0]), b[1])
            self.log("train_loss", loss, prog_bar=True)
            return loss

        def configure_optimizers(self):
            return torch.optim.Adam(self.parameters(), lr=1e-3)

    class Timer(L.Callback):
        def on_train_epoch_start(self, trainer, module):
            torch.cuda.synchronize()
            self.t0 = time.perf_counter()

        def on_train_epoch_end(self, trainer, module):
            torch.cuda.synchronize()
            self.times.append(time.perf_counter() - self.t0)

    timer = Timer()
    timer.times = []
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=batch,
                                         shuffle=True, pin_memory=True)
    trainer = L.Trainer(accelerator="gpu", devices=1, max_epochs=1 + epochs, logger=False,
                        enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False, callbacks=[timer])
    trainer.fit(Module(), loader)
    return len(x) * epochs / sum(timer.times[1:])  # the first epoch is the warm-up


def timed_cuda(fn, reps):
    fn()
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    for _ in range(reps):
        fn()
    end.record()
    torch.cuda.synchronize()
    return start.elapsed_time(end) / 1e3 / reps


def peak(widths, batch, precision):
    set_precision(precision)
    dt = torch.bfloat16 if precision == "bf16" else torch.float32
    mats = []
    for a, b in zip(widths[:-1], widths[1:]):
        x, w, dy = (torch.randn(batch, a, device="cuda", dtype=dt), torch.randn(b, a, device="cuda", dtype=dt),
                    torch.randn(batch, b, device="cuda", dtype=dt))
        mats.append((x, w, dy))

    def step():
        for x, w, dy in mats:
            x @ w.t()       # forward
            dy.t() @ x      # weight gradient
            dy @ w          # input gradient
    return step_flops(widths, batch) / timed_cuda(step, 10) / 1e12


def gemm_mlp(widths, batch, precision, steps):
    set_precision(precision)
    dev = torch.device("cuda")
    model = mlp(*widths).to(dev)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x, y = torch.randn(batch, widths[0], device=dev), torch.randint(0, widths[-1], (batch,), device=dev)

    def step():
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=precision == "bf16"):
            loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return step_flops(widths, batch) / timed_cuda(step, steps) / 1e12


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("task", choices=["mlp", "peak", "gemm_mlp"])
    ap.add_argument("--impl", default="torch", choices=["torch", "lightning"])
    ap.add_argument("--widths", default="784,128,10")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--precision", default="32", choices=["32", "tf32", "bf16"])
    ap.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    a = ap.parse_args()
    torch.manual_seed(0)
    widths = [int(w) for w in a.widths.split(",")]
    if a.task == "mlp":
        x, y = fashion_mnist(a.data)
        run = mlp_torch if a.impl == "torch" else mlp_lightning
        print(f"samples_per_s={run(x, y, widths, a.batch, a.epochs):.0f}")
    elif a.task == "peak":
        print(f"tflops={peak(widths, a.batch, a.precision):.2f}")
    else:
        print(f"tflops={gemm_mlp(widths, a.batch, a.precision, a.steps):.2f}")


if __name__ == "__main__":
    main()
