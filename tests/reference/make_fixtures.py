#!/usr/bin/env python3
"""Write the PyTorch parity fixtures of tests/fixtures/ (see README.md beside this file).

Every op of liblt on a few shapes (inputs, output, upstream weights, input gradients),
10 steps of each optimizer, and 20 training steps of the demo MLP, all float32 on the
CPU with one thread and fixed seeds. The C side reads them in tests/unit/test_parity.c.
"""
import gzip
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import save_file

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "fixtures")
FMNIST = "/usr/share/datasets/fashion-mnist"
FORMAT = "lthost-parity-1"

torch.set_num_threads(1)
torch.manual_seed(0)


def rand(*shape, lo=-2.0, hi=2.0, gap=0.0):
    """Uniform in [lo, hi), every |x| >= gap (keeps inputs off kinks and poles)."""
    x = torch.rand(shape) * (hi - lo) + lo
    if gap:
        x = torch.where(x.abs() < gap, torch.sign(x + 1e-9) * gap + x, x)
    return x.float()


# (op, variant, inputs, fn): fn maps the inputs to the output.
def op_cases():
    labels = lambda n, c: torch.randint(0, c, (n,), dtype=torch.int64)
    c = []
    for name, fn in [("add", torch.add), ("sub", torch.sub), ("mul", torch.mul)]:
        c += [(name, "same", [rand(3, 4), rand(3, 4)], fn),
              (name, "bcast_row", [rand(3, 4), rand(4)], fn),
              (name, "bcast_col", [rand(3, 1), rand(2, 3, 4)], fn),
              (name, "scalar", [rand(3, 4), rand()], fn)]
    c += [("div", "same", [rand(3, 4), rand(3, 4, gap=0.5)], torch.div),
          ("div", "bcast_row", [rand(2, 5), rand(5, gap=0.5)], torch.div),
          ("scale", "2d", [rand(3, 4)], lambda x: x * 2.5),
          ("add_scalar", "3d", [rand(2, 3, 4)], lambda x: x + 3.0),
          ("neg", "1d", [rand(7)], torch.neg)]
    for name, fn, kw in [("relu", F.relu, dict(gap=0.05)), ("gelu", F.gelu, {}),
                         ("tanh", torch.tanh, {}), ("sigmoid", torch.sigmoid, dict(lo=-4, hi=4)),
                         ("exp", torch.exp, dict(lo=-1, hi=1)),
                         ("ln", torch.log, dict(lo=0.2, hi=3))]:
        c += [(name, "2d", [rand(4, 5, **kw)], fn), (name, "3d", [rand(2, 1, 6, **kw)], fn)]
    c += [("matmul", "rect", [rand(3, 5), rand(5, 4)], torch.matmul),
          ("matmul", "vec_like", [rand(1, 7), rand(7, 1)], torch.matmul),
          ("linear", "2d", [rand(4, 6), rand(3, 6), rand(3)], F.linear),
          ("linear", "3d", [rand(2, 3, 5), rand(4, 5), rand(4)], F.linear),
          ("linear", "one_out", [rand(5, 8), rand(1, 8), rand(1)], F.linear),
          ("linear_nobias", "2d", [rand(4, 6), rand(3, 6)], F.linear),
          ("sum", "2d", [rand(3, 4)], torch.sum), ("sum", "3d", [rand(2, 3, 4)], torch.sum),
          ("mean", "2d", [rand(3, 4)], torch.mean), ("mean", "1d", [rand(9)], torch.mean),
          ("sum_dim0", "2d", [rand(3, 4)], lambda x: x.sum(0)),
          ("sum_dim0", "3d", [rand(2, 3, 4)], lambda x: x.sum(0)),
          ("mean_dim_last_keepdim", "2d", [rand(3, 4)], lambda x: x.mean(-1, keepdim=True)),
          ("mean_dim_last_keepdim", "3d", [rand(2, 3, 4)], lambda x: x.mean(-1, keepdim=True)),
          ("softmax", "2d", [rand(4, 10)], lambda x: F.softmax(x, -1)),
          ("softmax", "wide", [rand(2, 37, lo=-8, hi=8)], lambda x: F.softmax(x, -1)),
          ("log_softmax", "2d", [rand(4, 10)], lambda x: F.log_softmax(x, -1)),
          ("log_softmax", "3d", [rand(2, 3, 5)], lambda x: F.log_softmax(x, -1)),
          ("cross_entropy", "10class", [rand(8, 10), labels(8, 10)], F.cross_entropy),
          ("cross_entropy", "large_logits", [rand(4, 3, lo=-30, hi=30), labels(4, 3)], F.cross_entropy),
          ("cross_entropy", "one_row", [rand(1, 5), labels(1, 5)], F.cross_entropy),
          ("mse_loss", "2d", [rand(3, 4), rand(3, 4)], F.mse_loss),
          ("mse_loss", "3d", [rand(2, 2, 3), rand(2, 2, 3)], F.mse_loss),
          ("reshape", "infer", [rand(4, 3)], lambda x: x.reshape(3, -1)),
          ("reshape", "to_3d", [rand(12)], lambda x: x.reshape(2, 3, 2)),
          ("flatten", "4d", [rand(2, 1, 3, 2)], lambda x: torch.flatten(x, 1)),
          ("argmax", "2d", [rand(5, 7)], lambda x: x.argmax(-1)),
          ("argmax", "3d", [rand(2, 3, 4)], lambda x: x.argmax(-1)),
          ("accuracy", "10class", [rand(16, 10), labels(16, 10)],
           lambda x, y: (x.argmax(-1) == y).float().mean())]
    return c


def write(name, tensors, meta):
    meta = dict(meta, torch_version=torch.__version__, format=FORMAT)
    save_file({k: v.contiguous() for k, v in tensors.items()}, os.path.join(OUT, name), metadata=meta)


def make_ops():
    tensors, meta, names = {}, {}, []
    for op, variant, inputs, fn in op_cases():
        case = f"{op}/{variant}"
        names.append(case)
        ins = [x.clone().requires_grad_(x.is_floating_point() and op not in ("argmax", "accuracy"))
               for x in inputs]
        out = fn(*ins)
        for i, x in enumerate(inputs):
            tensors[f"{case}/in{i}"] = x
        tensors[f"{case}/out"] = out.detach()
        if op == "reshape":  # the target shape, as lt_reshape takes it
            meta[f"{case}/shape"] = ",".join(str(d) for d in (out.shape if variant != "infer" else (3, -1)))
        if out.requires_grad:
            w = rand(*out.shape, lo=-1, hi=1)
            tensors[f"{case}/w"] = w
            (out * w).sum().backward()
            for i, x in enumerate(ins):
                if x.grad is not None:
                    tensors[f"{case}/grad{i}"] = x.grad
    meta["cases"] = ",".join(names)
    write("ops.safetensors", tensors, meta)
    return len(names)


OPTIM_CASES = [
    ("sgd/plain", dict(optimizer="sgd", lr=0.1)),
    ("sgd/momentum", dict(optimizer="sgd", lr=0.05, momentum=0.9)),
    ("sgd/dampening_wd", dict(optimizer="sgd", lr=0.05, momentum=0.9, dampening=0.1, weight_decay=0.01)),
    ("sgd/nesterov_wd", dict(optimizer="sgd", lr=0.1, momentum=0.8, weight_decay=0.001, nesterov=True)),
    ("adam/default", dict(optimizer="adam", lr=1e-3)),
    ("adam/weight_decay", dict(optimizer="adam", lr=1e-2, weight_decay=0.1)),
    ("adam/betas_eps", dict(optimizer="adam", lr=1e-2, beta1=0.8, beta2=0.99, eps=1e-6)),
    ("adamw/weight_decay", dict(optimizer="adamw", lr=1e-2, weight_decay=0.1)),
]


def hyper(h):
    full = dict(optimizer="sgd", lr=0.0, momentum=0.0, dampening=0.0, weight_decay=0.0,
                nesterov=False, beta1=0.9, beta2=0.999, eps=1e-8)
    full.update(h)
    return full


def make_optimizer(p, h):
    if h["optimizer"] == "sgd":
        return torch.optim.SGD([p], lr=h["lr"], momentum=h["momentum"], dampening=h["dampening"],
                               weight_decay=h["weight_decay"], nesterov=h["nesterov"], foreach=False)
    cls = torch.optim.Adam if h["optimizer"] == "adam" else torch.optim.AdamW
    return cls([p], lr=h["lr"], betas=(h["beta1"], h["beta2"]), eps=h["eps"],
               weight_decay=h["weight_decay"], foreach=False)


def make_optim():
    import json
    tensors, meta = {}, {}
    for case, h in OPTIM_CASES:
        h = hyper(h)
        meta[case] = json.dumps(h)
        p0 = rand(64)
        grads = rand(10, 64, lo=-1, hi=1)
        p = p0.clone().requires_grad_(True)
        opt = make_optimizer(p, h)
        traj = []
        for k in range(10):
            opt.zero_grad()
            p.grad = grads[k].clone()
            opt.step()
            traj.append(p.detach().clone())
        tensors.update({f"{case}/p0": p0, f"{case}/grads": grads, f"{case}/traj": torch.stack(traj)})
    meta["cases"] = ",".join(c for c, _ in OPTIM_CASES)
    write("optim.safetensors", tensors, meta)


def read_idx(path, count):
    with gzip.open(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    per = int(np.prod(dims[1:])) if ndim > 1 else 1
    start = 4 + 4 * ndim
    return np.frombuffer(data, np.uint8, count * per, start).reshape([count] + dims[1:])


class MLP(torch.nn.Module):
    """plugins/models/mlp/mlp.c in torch: the same layers and parameter names."""

    def __init__(self):
        super().__init__()
        self.l1, self.l2, self.l3 = torch.nn.Linear(784, 256), torch.nn.Linear(256, 128), torch.nn.Linear(128, 10)

    def forward(self, x):
        x = torch.flatten(x, 1)
        return self.l3(F.relu(self.l2(F.relu(self.l1(x)))))


def make_mlp(steps=20, batch=16):
    images = read_idx(f"{FMNIST}/train-images-idx3-ubyte.gz", steps * batch).reshape(steps, batch, 784)
    labels = read_idx(f"{FMNIST}/train-labels-idx1-ubyte.gz", steps * batch).reshape(steps, batch)
    x_u8 = torch.from_numpy(images.copy())
    y = torch.from_numpy(labels.astype(np.int64))
    torch.manual_seed(1)
    model = MLP()
    tensors = {f"init/{k}": v.detach().clone() for k, v in model.state_dict().items()}
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, foreach=False)
    losses = []
    for k in range(steps):
        x = ((x_u8[k].float() / 255 - 0.2860) / 0.3530).reshape(batch, 1, 28, 28)
        loss = F.cross_entropy(model(x), y[k])
        losses.append(loss.item())
        opt.zero_grad()
        loss.backward()
        opt.step()
    tensors.update({f"final/{k}": v.detach().clone() for k, v in model.state_dict().items()})
    tensors.update({"x_u8": x_u8, "y": y, "losses": torch.tensor(losses, dtype=torch.float32)})
    write("mlp_train.safetensors", tensors, {})
    return losses


def self_check():
    """Read everything back and recompute a few cases independently of make_ops."""
    from safetensors import safe_open
    with safe_open(os.path.join(OUT, "ops.safetensors"), "pt") as f:
        meta = f.metadata()
        assert meta["format"] == FORMAT and len(meta["cases"].split(",")) > 50
        a, b = f.get_tensor("add/bcast_row/in0"), f.get_tensor("add/bcast_row/in1")
        assert torch.equal(f.get_tensor("add/bcast_row/out"), a + b)
        w = f.get_tensor("mul/same/w")
        assert torch.allclose(f.get_tensor("mul/same/grad0"), w * f.get_tensor("mul/same/in1"))
        x, y = f.get_tensor("cross_entropy/10class/in0"), f.get_tensor("cross_entropy/10class/in1")
        manual = (torch.logsumexp(x, 1) - x[torch.arange(len(y)), y]).mean()
        assert torch.allclose(f.get_tensor("cross_entropy/10class/out"), manual)
    with safe_open(os.path.join(OUT, "optim.safetensors"), "pt") as f:
        p0, g = f.get_tensor("sgd/plain/p0"), f.get_tensor("sgd/plain/grads")
        assert torch.allclose(f.get_tensor("sgd/plain/traj")[0], p0 - 0.1 * g[0])


def main():
    os.makedirs(OUT, exist_ok=True)
    n = make_ops()
    make_optim()
    losses = make_mlp()
    self_check()
    size = sum(os.path.getsize(os.path.join(OUT, f)) for f in os.listdir(OUT))
    print(f"torch {torch.__version__}: {n} op cases, {len(OPTIM_CASES)} optimizer cases, "
          f"MLP losses {losses[0]:.4f} -> {losses[-1]:.4f}; {size / 1e6:.2f} MB in {OUT}")
    assert size < 5e6, "fixtures must stay under 5 MB"


if __name__ == "__main__":
    sys.exit(main())
