#!/usr/bin/env python3
"""Write the PyTorch parity fixtures of tests/fixtures/ (see README.md beside this file).

Every op of liblt on a few shapes (inputs, output, upstream weights, input gradients),
10 steps of each optimizer, and 20 training steps of the demo MLP, all float32 on the
CPU with one thread and fixed seeds. The C side reads them in tests/unit/test_parity.c.
"""
import gzip
import json
import math
import os
import struct
import sys

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import save_file

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "fixtures")
FMNIST = "/usr/share/datasets/fashion-mnist"
FORMAT = "lthost-parity-1"
OPS = ["add", "sub", "mul", "div", "scale", "add_scalar", "neg", "relu", "gelu", "tanh", "sigmoid",
       "exp", "ln", "matmul", "linear", "linear_nobias", "sum", "mean", "sum_dim0",
       "mean_dim_last_keepdim", "softmax", "log_softmax", "cross_entropy", "mse_loss", "reshape",
       "flatten", "argmax", "accuracy"]

torch.set_num_threads(1)
torch.manual_seed(0)


def rand(*shape, lo=-2.0, hi=2.0, gap=0.0, gen=None):
    """Uniform in [lo, hi), every |x| >= gap (keeps inputs off kinks and poles)."""
    x = torch.rand(shape, generator=gen) * (hi - lo) + lo
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


def more_op_cases(g):
    """Variants added later. They draw from their own generator `g` (inputs and w), so the
    values of the cases above and of optim.safetensors stay what they were."""
    r = lambda *shape, **kw: rand(*shape, gen=g, **kw)
    labels = lambda n, c: torch.randint(0, c, (n,), dtype=torch.int64, generator=g)
    return [("div", "scalar_den", [r(3, 4), r(gap=0.5)], torch.div),
            ("div", "bcast_col", [r(2, 3, 4), r(3, 1, gap=0.5)], torch.div),
            ("scale", "0d", [r()], lambda x: x * 2.5),
            ("add_scalar", "1elem", [r(1, 1)], lambda x: x + 3.0),
            ("neg", "3d", [r(2, 3, 2)], torch.neg),
            ("neg", "0d", [r()], torch.neg),
            ("linear_nobias", "3d", [r(2, 3, 5), r(4, 5)], F.linear),
            ("flatten", "3d", [r(2, 3, 4)], lambda x: torch.flatten(x, 1)),
            ("flatten", "2d", [r(3, 5)], lambda x: torch.flatten(x, 1)),
            ("accuracy", "3class", [r(7, 3), labels(7, 3)],
             lambda x, y: (x.argmax(-1) == y).float().mean())]


def write(name, tensors, meta):
    path = os.path.join(OUT, name)
    meta = dict(meta, torch_version=torch.__version__, format=FORMAT)
    save_file({k: v.contiguous() for k, v in tensors.items()}, path, metadata=meta)
    canonical_header(path)


def canonical_header(path):
    """save_file writes __metadata__ in hash-map order, which changes from run to run;
    rewrite the header with its metadata keys sorted so the same fixtures are the same bytes.
    The data section is untouched; the header stays space-padded to a multiple of 8."""
    with open(path, "rb") as f:
        blob = f.read()
    n = struct.unpack("<Q", blob[:8])[0]
    header = json.loads(blob[8:8 + n], object_pairs_hook=dict)
    if "__metadata__" in header:
        header["__metadata__"] = dict(sorted(header["__metadata__"].items()))
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + blob[8 + n:])


def make_ops():
    tensors, meta, done = {}, {}, {}

    def run(op, variant, inputs, fn, gen):
        case = f"{op}/{variant}"
        done.setdefault(op, []).append(case)
        ins = [x.clone().requires_grad_(x.is_floating_point() and op not in ("argmax", "accuracy"))
               for x in inputs]
        out = fn(*ins)
        for i, x in enumerate(inputs):
            tensors[f"{case}/in{i}"] = x
        tensors[f"{case}/out"] = out.detach()
        if op == "reshape":  # the target shape, as lt_reshape takes it
            meta[f"{case}/shape"] = ",".join(str(d) for d in (out.shape if variant != "infer" else (3, -1)))
        if out.requires_grad:
            w = rand(*out.shape, lo=-1, hi=1, gen=gen)
            tensors[f"{case}/w"] = w
            (out * w).sum().backward()
            for i, x in enumerate(ins):
                if x.grad is not None:
                    tensors[f"{case}/grad{i}"] = x.grad

    for case in op_cases():
        run(*case, None)
    g = torch.Generator().manual_seed(3)
    for case in more_op_cases(g):
        run(*case, g)
    # List the cases grouped by op, in OPS order.
    assert sorted(done) == sorted(OPS), set(done) ^ set(OPS)
    names = [c for op in OPS for c in done[op]]
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
    """All keys, in the order the C side documents; those an optimizer does not use are
    0 / false (Adam's betas and eps default to torch's only for adam and adamw)."""
    full = dict(optimizer="sgd", lr=0.0, momentum=0.0, dampening=0.0, weight_decay=0.0,
                nesterov=False, beta1=0.0, beta2=0.0, eps=0.0)
    if h["optimizer"] != "sgd":
        full.update(beta1=0.9, beta2=0.999, eps=1e-8)
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
    assert data[:3] == b"\0\0\x08", f"{path}: not an unsigned-byte IDX file"
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


OPTIM_KEYS = ["optimizer", "lr", "momentum", "dampening", "weight_decay", "nesterov", "beta1",
              "beta2", "eps"]
MLP_PARAMS = {"l1.weight": (256, 784), "l1.bias": (256,), "l2.weight": (128, 256),
              "l2.bias": (128,), "l3.weight": (10, 128), "l3.bias": (10,)}


def load(name):
    """Every tensor and the metadata of a fixture, read back with safetensors; checks
    what all files share."""
    from safetensors import safe_open
    with safe_open(os.path.join(OUT, name), "np") as f:
        meta, t = f.metadata(), {k: f.get_tensor(k) for k in f.keys()}
    assert meta["format"] == FORMAT and meta["torch_version"] == torch.__version__, name
    bad = {k: v.dtype for k, v in t.items() if v.dtype not in (np.float32, np.int64, np.uint8)}
    assert not bad, f"{name}: dtypes other than F32/I64/U8: {bad}"
    return t, meta


def close(got, want, rtol=1e-5, atol=1e-6):
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    return got.shape == want.shape and bool(np.all(np.abs(got - want) <= atol + rtol * np.abs(want)))


def check_ops():
    """The layout the C side relies on, and a few cases recomputed in numpy (float64),
    independently of torch."""
    t, meta = load("ops.safetensors")
    cases = meta["cases"].split(",")
    assert len(cases) == len(set(cases)) and {c.split("/")[0] for c in cases} == set(OPS)
    seen = set()
    for c in cases:
        op = c.split("/")[0]
        ins = [t[f"{c}/in{i}"] for i in range(4) if f"{c}/in{i}" in t]
        out = t[f"{c}/out"]
        seen |= {f"{c}/{k}" for k in ["out", "w"] + [f"in{i}" for i in range(len(ins))]
                 + [f"grad{i}" for i in range(len(ins))]}
        assert ins and ins[0].dtype == np.float32, c
        if op in ("argmax", "accuracy"):
            assert out.dtype == (np.int64 if op == "argmax" else np.float32), c
            assert not any(f"{c}/grad{i}" in t for i in range(len(ins))) and f"{c}/w" not in t, c
            continue
        assert out.dtype == np.float32 and t[f"{c}/w"].shape == out.shape, c
        for i, x in enumerate(ins):
            g = f"{c}/grad{i}"
            assert (g in t) == (x.dtype == np.float32), g
            assert g not in t or (t[g].shape == x.shape and t[g].dtype == np.float32), g
        assert (f"{c}/shape" in meta) == (op == "reshape"), c
    assert seen >= set(t), f"tensors outside any listed case: {sorted(set(t) - seen)}"
    assert op_shapes_ok(t, cases)

    def case(c):
        return [t[f"{c}/in{i}"].astype(np.float64) for i in range(3) if f"{c}/in{i}" in t], t.get(f"{c}/w")

    (a, b), w = case("add/bcast_row")
    assert close(t["add/bcast_row/out"], a + b) and close(t["add/bcast_row/grad1"], w.sum(0))
    (a, b), w = case("div/same")
    assert close(t["div/same/grad0"], w / b) and close(t["div/same/grad1"], -w * a / b ** 2)
    (a, b), w = case("div/bcast_col")
    assert close(t["div/bcast_col/grad1"], (-w * a / b ** 2).sum(0).sum(-1, keepdims=True))
    (x,), w = case("gelu/2d")
    erf = np.vectorize(math.erf)
    assert close(t["gelu/2d/out"], x * 0.5 * (1 + erf(x / math.sqrt(2))))
    (x,), w = case("softmax/wide")
    s = np.exp(x - x.max(-1, keepdims=True))
    s /= s.sum(-1, keepdims=True)
    assert close(t["softmax/wide/out"], s, atol=1e-7)
    assert close(t["softmax/wide/grad0"], s * (w - (s * w).sum(-1, keepdims=True)), atol=1e-7)
    (x, w_, bias), w = case("linear/3d")
    assert close(t["linear/3d/out"], x @ w_.T + bias)
    assert close(t["linear/3d/grad1"], np.einsum("bno,bni->oi", w, x))
    assert close(t["linear/3d/grad2"], w.sum((0, 1)))
    (x, y), w = case("cross_entropy/10class")
    y = y.astype(np.int64)
    lse = np.log(np.exp(x - x.max(1, keepdims=True)).sum(1)) + x.max(1)
    assert close(t["cross_entropy/10class/out"], (lse - x[np.arange(len(y)), y]).mean())
    onehot = np.eye(x.shape[1])[y]
    assert close(t["cross_entropy/10class/grad0"], (np.exp(x - lse[:, None]) - onehot) * w / len(y))
    (x,), w = case("mean_dim_last_keepdim/3d")
    assert close(t["mean_dim_last_keepdim/3d/grad0"], np.broadcast_to(w / x.shape[-1], x.shape))
    assert np.array_equal(t["argmax/3d/out"], t["argmax/3d/in0"].argmax(-1))
    assert meta["reshape/infer/shape"] == "3,-1" and t["reshape/infer/out"].shape == (3, 4)
    return len(cases)


def op_shapes_ok(t, cases):
    """Edge shapes the spec asks for are present: 0-d operands and outputs, a 1-element
    dimension, broadcasting, 3-D inputs."""
    shapes = [t[k].shape for k in t]
    return (() in shapes and any(1 in s for s in shapes) and any(len(s) == 3 for s in shapes)
            and all(2 <= sum(c.split("/")[0] == op for c in cases) <= 4 for op in OPS))


def reference_step(h, p, g, state, k):
    """One torch.optim step (single-tensor algorithm) in numpy float64, from the formulas
    in the torch documentation."""
    if h["optimizer"] == "sgd":
        if h["weight_decay"]:
            g = g + h["weight_decay"] * p
        if h["momentum"]:
            buf = state.get("buf")
            buf = g.copy() if buf is None else h["momentum"] * buf + (1 - h["dampening"]) * g
            state["buf"] = buf
            g = g + h["momentum"] * buf if h["nesterov"] else buf
        return p - h["lr"] * g
    b1, b2 = h["beta1"], h["beta2"]
    if h["optimizer"] == "adamw":
        p = p * (1 - h["lr"] * h["weight_decay"])
    elif h["weight_decay"]:
        g = g + h["weight_decay"] * p
    m = state["m"] = b1 * state.get("m", 0) + (1 - b1) * g
    v = state["v"] = b2 * state.get("v", 0) + (1 - b2) * g * g
    mhat, vhat = m / (1 - b1 ** (k + 1)), v / (1 - b2 ** (k + 1))
    return p - h["lr"] * mhat / (np.sqrt(vhat) + h["eps"])


def check_optim():
    t, meta = load("optim.safetensors")
    cases = meta["cases"].split(",")
    assert len(cases) == len(OPTIM_CASES) and set(t) == {f"{c}/{k}" for c in cases for k in ("p0", "grads", "traj")}
    for c in cases:
        h = json.loads(meta[c])
        assert list(h) == OPTIM_KEYS and isinstance(h["nesterov"], bool), c
        assert all(isinstance(h[k], (int, float)) for k in OPTIM_KEYS if k not in ("optimizer", "nesterov"))
        p0, grads, traj = t[f"{c}/p0"], t[f"{c}/grads"], t[f"{c}/traj"]
        assert p0.shape == (64,) and grads.shape == traj.shape == (10, 64), c
        p, state = p0.astype(np.float64), {}
        for k in range(10):
            p = reference_step(h, p, grads[k].astype(np.float64), state, k)
            assert close(traj[k], p, rtol=1e-5, atol=1e-6), f"{c}: step {k} differs from the formula"
    return len(cases)


def check_mlp(steps=20, batch=16):
    t, meta = load("mlp_train.safetensors")
    want = {"x_u8": (np.uint8, (steps, batch, 784)), "y": (np.int64, (steps, batch)),
            "losses": (np.float32, (steps,))}
    for p, shape in MLP_PARAMS.items():
        want[f"init/{p}"] = want[f"final/{p}"] = (np.float32, shape)
    assert set(t) == set(want) and all(t[k].dtype == d and t[k].shape == s for k, (d, s) in want.items())
    # The normalisation in float32, in the documented order, is what torch computed.
    x = (t["x_u8"][0].astype(np.float32) / np.float32(255) - np.float32(0.2860)) / np.float32(0.3530)
    assert np.array_equal(x, ((torch.from_numpy(t["x_u8"][0]).float() / 255 - 0.2860) / 0.3530).numpy())
    # First loss recomputed in numpy from the initial weights.
    P = {k: t[f"init/{k}"].astype(np.float64) for k in MLP_PARAMS}
    h = x.astype(np.float64)
    for i in (1, 2, 3):
        h = h @ P[f"l{i}.weight"].T + P[f"l{i}.bias"]
        h = np.maximum(h, 0) if i < 3 else h
    lse = np.log(np.exp(h - h.max(1, keepdims=True)).sum(1)) + h.max(1)
    assert close(t["losses"][0], (lse - h[np.arange(batch), t["y"][0]]).mean(), rtol=1e-5)
    assert t["losses"][-1] < t["losses"][0]
    # The labels are the first steps * batch labels of the training file.
    assert np.array_equal(t["y"].ravel(), read_idx(f"{FMNIST}/train-labels-idx1-ubyte.gz", steps * batch))


def main():
    os.makedirs(OUT, exist_ok=True)
    make_ops()
    make_optim()
    losses = make_mlp()
    n_ops, n_optim = check_ops(), check_optim()
    check_mlp()
    names = ["ops.safetensors", "optim.safetensors", "mlp_train.safetensors"]
    size = sum(os.path.getsize(os.path.join(OUT, f)) for f in names)
    print(f"torch {torch.__version__}: {n_ops} op cases, {n_optim} optimizer cases, "
          f"MLP losses {losses[0]:.4f} -> {losses[-1]:.4f}; {size / 1e6:.2f} MB in {OUT}; checks pass")
    assert size < 5e6, "fixtures must stay under 5 MB"


if __name__ == "__main__":
    sys.exit(main())
