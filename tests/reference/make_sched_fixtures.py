#!/usr/bin/env python3
"""Write tests/fixtures/schedulers.safetensors: the learning rate (and OneCycleLR's
momentum) of torch.optim.lr_scheduler schedulers after construction and after each step,
which tests/unit/test_scheduler.c compares liblt's schedulers (sdk/src/optim/scheduler.c)
against.

Every value is a Python float, stored as F64 so that the C side can demand exact
equality. The optimizer holds one dummy parameter with base lr 0.1; optimizer.step()
runs before each scheduler.step() (a no-op without gradients) as torch asks.

Per case: `<case>/lr` (steps + 1), `<case>/momentum` (OneCycleLR), `<case>/metric`
(ReduceLROnPlateau: the value passed to step k). Metadata: `format`, `torch_version`,
`cases` (comma-separated) and `<case>` = the scheduler's arguments as JSON.

    tests/reference/.venv/bin/python tests/reference/make_sched_fixtures.py
"""
import json
import os
import struct

import torch
from safetensors.torch import load_file, save_file
from torch.optim import lr_scheduler as S

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PATH = os.path.join(ROOT, "fixtures", "schedulers.safetensors")
FORMAT = "lthost-parity-1"
BASE_LR = 0.1

# A loss that improves, plateaus (inside and just outside the relative threshold), and
# improves again; and an accuracy that does the same under an absolute threshold.
LOSS = [1.0, 0.9, 0.8, 0.8, 0.79995, 0.81, 0.7, 0.7, 0.7, 0.7, 0.69999, 0.65, 0.66, 0.66,
        0.66, 0.66, 0.66, 0.66, 0.66, 0.5, 0.5, 0.5]
ACC = [0.5, 0.6, 0.605, 0.608, 0.62, 0.62, 0.62, 0.62, 0.7, 0.71, 0.7101, 0.72, 0.72, 0.72,
       0.72, 0.9, 0.9, 0.9, 0.9, 0.9]

# (case, optimizer, scheduler class, kwargs, steps or metric sequence)
CASES = [
    ("step", "sgd", S.StepLR, dict(step_size=3, gamma=0.5), 12),
    ("multistep", "sgd", S.MultiStepLR, dict(milestones=[2, 5, 5, 8], gamma=0.3), 12),
    ("exponential", "sgd", S.ExponentialLR, dict(gamma=0.9), 12),
    ("cosine", "sgd", S.CosineAnnealingLR, dict(T_max=7, eta_min=0.01), 20),
    ("onecycle_cos_sgd", "sgd_momentum", S.OneCycleLR, dict(max_lr=0.5, total_steps=25), 25),
    ("onecycle_linear3_adam", "adam", S.OneCycleLR,
     dict(max_lr=0.02, total_steps=30, anneal_strategy="linear", three_phase=True), 30),
    ("plateau_min_rel", "sgd", S.ReduceLROnPlateau,
     dict(mode="min", factor=0.5, patience=2, cooldown=1, min_lr=0.02), LOSS),
    ("plateau_max_abs", "sgd", S.ReduceLROnPlateau,
     dict(mode="max", factor=0.3, patience=1, cooldown=2, threshold=0.01,
          threshold_mode="abs"), ACC),
]


def optimizer(kind):
    p = torch.zeros(1, requires_grad=True)
    if kind == "sgd":
        return torch.optim.SGD([p], lr=BASE_LR)
    if kind == "sgd_momentum":
        return torch.optim.SGD([p], lr=BASE_LR, momentum=0.9)
    return torch.optim.Adam([p], lr=BASE_LR)


def momentum(opt):
    g = opt.param_groups[0]
    return g["betas"][0] if "betas" in g else g["momentum"]


def run(kind, cls, kwargs, steps):
    opt = optimizer(kind)
    sched = cls(opt, **kwargs)
    metrics = steps if isinstance(steps, list) else None
    lrs, moms = [sched.get_last_lr()[0]], [momentum(opt)]
    for k in range(len(metrics) if metrics else steps):
        opt.step()
        sched.step(metrics[k]) if metrics else sched.step()
        lrs.append(sched.get_last_lr()[0])
        moms.append(momentum(opt))
        assert lrs[-1] == opt.param_groups[0]["lr"]
    out = {"lr": lrs}
    if cls is S.OneCycleLR:
        out["momentum"] = moms
    if metrics:
        out["metric"] = metrics
    return out


def canonical_header(path):
    """save_file writes __metadata__ in hash-map order; sort its keys so that a rerun
    writes the same bytes (as make_fixtures.py does)."""
    with open(path, "rb") as f:
        blob = f.read()
    n = struct.unpack("<Q", blob[:8])[0]
    header = json.loads(blob[8:8 + n])
    header["__metadata__"] = dict(sorted(header["__metadata__"].items()))
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + blob[8 + n:])


def main():
    tensors, values = {}, {}
    meta = {"format": FORMAT, "torch_version": torch.__version__,
            "cases": ",".join(c[0] for c in CASES)}
    for name, kind, cls, kwargs, steps in CASES:
        meta[name] = json.dumps(dict(scheduler=cls.__name__, optimizer=kind, base_lr=BASE_LR,
                                     **kwargs), sort_keys=True)
        for key, v in run(kind, cls, kwargs, steps).items():
            tensors[f"{name}/{key}"] = torch.tensor(v, dtype=torch.float64)
            values[f"{name}/{key}"] = v
    save_file(tensors, PATH, metadata=meta)
    canonical_header(PATH)
    # Read back: every double survived bit for bit.
    back = load_file(PATH)
    assert sorted(back) == sorted(values)
    for k, v in values.items():
        assert back[k].dtype == torch.float64 and back[k].tolist() == v, k
    print(f"wrote {PATH}: {len(CASES)} cases")


if __name__ == "__main__":
    main()
