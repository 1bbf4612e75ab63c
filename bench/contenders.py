#!/usr/bin/env python3
"""The PyTorch side of bench/run: the same workloads as lthost, timed the same way.

  contenders.py small   --impl torch|lightning --threads T   one Fashion-MNIST epoch, 784-128-10
  contenders.py gemm    --threads T                          50 steps of 784-4096-4096-10, batch 512
  contenders.py startup --threads T                          Lightning fast_dev_run=1 (whole process)
  contenders.py ddp --devices N --batch B                    Lightning DDP (gloo) on CPU, 1 thread
                                                             and 1 core per process, 784-256-128-10
  contenders.py cnn --impl torch|lightning --threads T --steps S
                                                             S steps of the cnn model, batch 64
  contenders.py chargpt --threads T --steps S --text FILE [--layers L --embd C --block T]
                                                             S steps of the chargpt model, batch 32

Prints one `key=value` line; bench/run parses it. Training time excludes imports and data
loading, as lthost's printed samples/s does.
"""
import argparse
import glob
import gzip
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

FMNIST = "/usr/share/datasets/fashion-mnist"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


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


def lightning_module(net):
    import lightning as L

    class Module(L.LightningModule):
        def __init__(self):
            super().__init__()
            self.net = net

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


def epoch_timer():
    """A callback timing Lightning's training epoch (on_train_epoch_start .. _end), not the
    Trainer's set-up and tear-down around it, as lthost's printed epoch time does."""
    import lightning as L

    class EpochTimer(L.Callback):
        def on_train_epoch_start(self, trainer, module):
            self.t0 = time.perf_counter()

        def on_train_epoch_end(self, trainer, module):
            self.seconds = time.perf_counter() - self.t0

    return EpochTimer()



def small_lightning(x, y):
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=64,
                                         shuffle=True)
    timer = epoch_timer()
    trainer(max_epochs=1, callbacks=[timer]).fit(lightning_module(mlp(784, 128, 10)), loader)
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
        lightning_module(mlp(784, 256, 128, 10)), loader)
    return timer.seconds if int(os.environ.get("LOCAL_RANK", "0")) == 0 else None


def gemm_torch(steps=50, batch=512, bf16=False):
    """bf16: torch.autocast('cpu', torch.bfloat16) around the forward (Lightning's bf16-mixed)."""
    model, opt = mlp(784, 4096, 4096, 10), None
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x, y = torch.randn(batch, 784), torch.randint(0, 10, (batch,))
    for _ in range(2):  # warm-up: first-touch of weights and buffers
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            loss = F.cross_entropy(model(x), y)
        loss.backward()
    t0 = time.perf_counter()
    for _ in range(steps):
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return time.perf_counter() - t0


def startup_lightning():
    x, y = torch.randn(64, 784), torch.randint(0, 10, (64,))
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=64)
    trainer(fast_dev_run=1).fit(lightning_module(mlp(784, 128, 10)), loader)


def cnn(impl, steps, threads):
    """plugins/models/cnn in torch (tests/reference/make_layer_fixtures.py's CNN: conv-bn-relu
    x2, max-pool, dropout 0.25, 6272-128-10), Adam, on the first steps x 64 training images
    normalised as lthost's data module does: samples/s of the training steps."""
    sys.path.insert(0, os.path.join(ROOT, "tests/reference"))
    from make_layer_fixtures import CNN  # noqa: E402  (its import sets torch to 1 thread)
    torch.set_num_threads(threads)
    x, y = fashion_mnist(steps * 64)
    x = x.reshape(-1, 1, 28, 28)
    model = CNN(hidden=128, dropout=0.25)
    model.train()
    if impl == "torch":
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        t0 = time.perf_counter()
        for k in range(steps):
            loss = F.cross_entropy(model(x[k * 64:(k + 1) * 64]), y[k * 64:(k + 1) * 64])
            opt.zero_grad()
            loss.backward()
            opt.step()
        return len(x) / (time.perf_counter() - t0)
    timer = epoch_timer()
    trainer(max_epochs=1, callbacks=[timer]).fit(
        lightning_module(model), torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=64))
    return len(x) / timer.seconds


def chargpt_text(path):
    """The Vim user manual's first nine chapters (Debian's vim-runtime), chargpt's text in
    bench/run and bench/chargpt_tokens.sh, written to path."""
    with open(path, "w", encoding="utf-8") as out:
        for name in sorted(glob.glob("/usr/share/vim/vim*/doc/usr_0[1-9].txt")):
            with open(name, encoding="utf-8") as f:
                out.write(f.read())


def chargpt(steps, n_layer, n_embd, block, text_path):
    """plugins/models/chargpt in torch (minGPT's blocks with F.scaled_dot_product_attention,
    4 heads, dropout 0.1, torch's default init, Adam), batch 32 random windows of the text:
    tokens/s of the training steps."""
    import torch.nn as nn
    C, T = n_embd, block
    text = open(text_path, encoding="utf-8").read()
    chars = sorted(set(text))
    V = len(chars)
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
            s.h = nn.ModuleList(Block() for _ in range(n_layer))
            s.ln_f, s.lm_head = nn.LayerNorm(C), nn.Linear(C, V)

        def forward(s, idx):
            x = F.dropout(s.wte(idx) + s.wpe.weight[:T], 0.1)
            for b in s.h:
                x = b(x)
            return s.lm_head(s.ln_f(x))

    model = GPT()
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    g = torch.Generator().manual_seed(0)
    starts = torch.randint(0, len(ids) - T - 1, (steps, 32), generator=g)
    batches = [(torch.stack([ids[i:i + T] for i in s]), torch.stack([ids[i + 1:i + T + 1] for i in s]))
               for s in starts]
    t0 = time.perf_counter()
    for x, y in batches:
        loss = F.cross_entropy(model(x).view(-1, V), y.view(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
    return steps * 32 * T / (time.perf_counter() - t0)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("task", choices=["small", "gemm", "startup", "ddp", "cnn", "chargpt"])
    ap.add_argument("--impl", default="torch", choices=["torch", "lightning"])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--precision", default="32-true", choices=["32-true", "bf16-mixed"],
                    help="gemm: bf16-mixed wraps the forward in torch.autocast('cpu', bfloat16)")
    ap.add_argument("--devices", type=int, default=2)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--text", help="chargpt: the text file (written first if missing)")
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--embd", type=int, default=128)
    ap.add_argument("--block", type=int, default=128)
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
    elif a.task == "cnn":
        print(f"samples_per_s={cnn(a.impl, a.steps, a.threads):.0f}")
    elif a.task == "chargpt":
        if not os.path.exists(a.text):
            chargpt_text(a.text)
        print(f"tokens_per_s={chargpt(a.steps, a.layers, a.embd, a.block, a.text):.0f}")
    elif a.task == "gemm":
        print(f"seconds={gemm_torch(bf16=a.precision == 'bf16-mixed'):.4f}")
    else:
        startup_lightning()
        print("ok=1")


if __name__ == "__main__":
    main()
