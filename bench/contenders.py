#!/usr/bin/env python3
"""The PyTorch side of bench/run: the same workloads as lthost, timed the same way.

  contenders.py small   --impl torch|lightning --threads T   one Fashion-MNIST epoch, 784-128-10
  contenders.py gemm    --threads T                          50 steps of 784-4096-4096-10, batch 512
  contenders.py startup --threads T                          Lightning fast_dev_run=1 (whole process)
  contenders.py ddp --devices N --batch B                    Lightning DDP (gloo) on CPU, 1 thread
                                                             and 1 core per process, 784-256-128-10

Prints one `key=value` line; bench/run parses it. Training time excludes imports and data
loading, as lthost's printed samples/s does.
"""
import argparse
import gzip
import os
import time

import numpy as np
import torch
import torch.nn.functional as F

FMNIST = "/usr/share/datasets/fashion-mnist"


def fashion_mnist(n=55000):
    with gzip.open(f"{FMNIST}/train-images-idx3-ubyte.gz") as f:
        x = np.frombuffer(f.read(), np.uint8, offset=16)[: n * 784].reshape(n, 784)
    with gzip.open(f"{FMNIST}/train-labels-idx1-ubyte.gz") as f:
        y = np.frombuffer(f.read(), np.uint8, offset=8)[:n]
    x = (torch.from_numpy(x.copy()).float() / 255 - 0.2860) / 0.3530
    return x, torch.from_numpy(y.astype(np.int64))


def mlp(*widths):
    layers = []
    for i in range(len(widths) - 1):
        layers.append(torch.nn.Linear(widths[i], widths[i + 1]))
        if i < len(widths) - 2:
            layers.append(torch.nn.ReLU())
    return torch.nn.Sequential(*layers)


def small_torch(x, y):
    model, loader = mlp(784, 128, 10), torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(x, y), batch_size=64, shuffle=True)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    t0 = time.perf_counter()
    for xb, yb in loader:
        loss = F.cross_entropy(model(xb), yb)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return time.perf_counter() - t0


def lightning_module(widths):
    import lightning as L

    class Module(L.LightningModule):
        def __init__(self):
            super().__init__()
            self.net = mlp(*widths)

        def training_step(self, batch, i):
            loss = F.cross_entropy(self.net(batch[0]), batch[1])
            self.log("train_loss", loss, on_step=False, on_epoch=True)  # as mlp1.c logs it
            return loss

        def configure_optimizers(self):
            return torch.optim.Adam(self.parameters(), lr=1e-3)

    return Module()


def trainer(**kw):
    import lightning as L
    return L.Trainer(accelerator="cpu", devices=1, logger=False, enable_checkpointing=False,
                     enable_progress_bar=False, enable_model_summary=False, **kw)


def small_lightning(x, y):
    """Times the training epoch only (on_train_epoch_start .. on_train_epoch_end), not the
    Trainer's set-up and tear-down around it, as lthost's printed epoch time does."""
    import lightning as L

    class EpochTimer(L.Callback):
        def on_train_epoch_start(self, trainer, module):
            self.t0 = time.perf_counter()

        def on_train_epoch_end(self, trainer, module):
            self.seconds = time.perf_counter() - self.t0

    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=64,
                                         shuffle=True)
    timer = EpochTimer()
    trainer(max_epochs=1, callbacks=[timer]).fit(lightning_module((784, 128, 10)), loader)
    return timer.seconds


def ddp_lightning(x, y, devices, batch):
    """One epoch of the demo MLP (the mlp plugin: 784-256-128-10, Adam 1e-3) with Lightning's
    DDP strategy over gloo, batch B per process; process r is pinned to core r with one
    thread, as bench/ddp_scaling.sh runs lthost's ranks. Rank 0's epoch time."""
    import lightning as L

    class PinnedEpochTimer(L.Callback):
        def setup(self, trainer, module, stage):
            os.sched_setaffinity(0, {trainer.local_rank})
            torch.set_num_threads(1)

        def on_train_epoch_start(self, trainer, module):
            self.t0 = time.perf_counter()

        def on_train_epoch_end(self, trainer, module):
            self.seconds = time.perf_counter() - self.t0

    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=batch,
                                         shuffle=True)
    timer = PinnedEpochTimer()
    L.Trainer(accelerator="cpu", devices=devices, strategy="ddp" if devices > 1 else "auto",
              max_epochs=1, logger=False, enable_checkpointing=False, enable_progress_bar=False,
              enable_model_summary=False, callbacks=[timer]).fit(
        lightning_module((784, 256, 128, 10)), loader)
    return timer.seconds if int(os.environ.get("LOCAL_RANK", "0")) == 0 else None


def gemm_torch(steps=50, batch=512):
    model, opt = mlp(784, 4096, 4096, 10), None
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x, y = torch.randn(batch, 784), torch.randint(0, 10, (batch,))
    for _ in range(2):  # warm-up: first-touch of weights and buffers
        F.cross_entropy(model(x), y).backward()
    t0 = time.perf_counter()
    for _ in range(steps):
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return time.perf_counter() - t0


def startup_lightning():
    x, y = torch.randn(64, 784), torch.randint(0, 10, (64,))
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=64)
    trainer(fast_dev_run=1).fit(lightning_module((784, 128, 10)), loader)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("task", choices=["small", "gemm", "startup", "ddp"])
    ap.add_argument("--impl", default="torch", choices=["torch", "lightning"])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--devices", type=int, default=2)
    ap.add_argument("--batch", type=int, default=64)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    if a.task == "small":
        x, y = fashion_mnist()
        seconds = (small_torch if a.impl == "torch" else small_lightning)(x, y)
        print(f"samples_per_s={len(x) / seconds:.0f}")
    elif a.task == "ddp":
        x, y = fashion_mnist()
        seconds = ddp_lightning(x, y, a.devices, a.batch)
        if seconds:
            print(f"samples_per_s={len(x) / seconds:.0f}")
    elif a.task == "gemm":
        print(f"seconds={gemm_torch():.4f}")
    else:
        startup_lightning()
        print("ok=1")


if __name__ == "__main__":
    main()
