#!/usr/bin/env python3
"""Write tests/fixtures/sched_more.safetensors: every param group's learning rate after
construction and after each step of the schedulers issue #23 added (LinearLR, ConstantLR,
PolynomialLR, CosineAnnealingWarmRestarts, SequentialLR, ChainedScheduler), alone and
composed, on an SGD with two param groups (lr 0.1 and 0.05). tests/unit/test_sched_more.c
compares liblt's schedulers against them exactly (each value is a Python float, stored as
F64).

Per case: `<case>/lr` (steps + 1, groups). Metadata: `format`, `torch_version`, `cases`
and `<case>` = {"scheduler": spec, "steps": n} as JSON, where a spec is
{"type": class name, its arguments...} and SequentialLR / ChainedScheduler hold a list of
specs under "schedulers" (and SequentialLR its "milestones").

    tests/reference/.venv/bin/python tests/reference/make_sched_more_fixtures.py
"""
import json
import os
import sys

import torch
from safetensors.torch import load_file, save_file
from torch.optim import lr_scheduler as S

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_sched_fixtures import FORMAT, canonical_header  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PATH = os.path.join(ROOT, "fixtures", "sched_more.safetensors")
GROUP_LRS = [0.1, 0.05]


def lin(s, e, n):
    return dict(type="LinearLR", start_factor=s, end_factor=e, total_iters=n)


def cos(t, eta):
    return dict(type="CosineAnnealingLR", T_max=t, eta_min=eta)


CASES = [
    ("linear_warmup", lin(0.25, 1.0, 4), 8),
    ("linear_decay", lin(1.0, 0.1, 5), 8),
    ("constant", dict(type="ConstantLR", factor=0.5, total_iters=3), 6),
    ("constant_zero_iters", dict(type="ConstantLR", factor=0.25, total_iters=0), 4),
    ("polynomial_sq", dict(type="PolynomialLR", total_iters=6, power=2.0), 9),
    ("polynomial_linear", dict(type="PolynomialLR", total_iters=5, power=1.0), 7),
    ("warm_restarts_mult2", dict(type="CosineAnnealingWarmRestarts", T_0=3, T_mult=2,
                                 eta_min=0.01), 20),
    ("warm_restarts", dict(type="CosineAnnealingWarmRestarts", T_0=4, T_mult=1, eta_min=0.0), 12),
    ("warmup_cosine", dict(type="SequentialLR", schedulers=[lin(0.1, 1.0, 3), cos(7, 0.001)],
                           milestones=[3]), 14),
    ("sequential_three", dict(type="SequentialLR", milestones=[2, 5], schedulers=[
        dict(type="ConstantLR", factor=0.5, total_iters=2), dict(type="ExponentialLR", gamma=0.9),
        dict(type="StepLR", step_size=2, gamma=0.5)]), 10),
    ("sequential_restarts", dict(type="SequentialLR", milestones=[2], schedulers=[
        lin(0.5, 1.0, 2), dict(type="CosineAnnealingWarmRestarts", T_0=3, T_mult=1, eta_min=0.0)]),
     10),
    ("sequential_multistep", dict(type="SequentialLR", milestones=[3], schedulers=[
        dict(type="ExponentialLR", gamma=0.8), dict(type="MultiStepLR", milestones=[0, 2, 2],
                                                    gamma=0.5)]), 8),
    ("chained", dict(type="ChainedScheduler", schedulers=[
        dict(type="ConstantLR", factor=0.5, total_iters=3), dict(type="ExponentialLR", gamma=0.9)]),
     8),
    ("chained_warmup_cosine", dict(type="ChainedScheduler",
                                   schedulers=[lin(0.2, 1.0, 4), cos(10, 0.0)]), 10),
]


def build(opt, spec):
    args = {k: v for k, v in spec.items() if k not in ("type", "schedulers")}
    if spec["type"] == "SequentialLR":
        return S.SequentialLR(opt, [build(opt, s) for s in spec["schedulers"]], **args)
    if spec["type"] == "ChainedScheduler":
        return S.ChainedScheduler([build(opt, s) for s in spec["schedulers"]])
    return getattr(S, spec["type"])(opt, **args)


def run(spec, steps):
    opt = torch.optim.SGD([dict(params=[torch.zeros(1, requires_grad=True)], lr=lr)
                           for lr in GROUP_LRS])
    sched = build(opt, spec)
    lrs = [[g["lr"] for g in opt.param_groups]]
    for _ in range(steps):
        opt.step()
        sched.step()
        lrs.append([g["lr"] for g in opt.param_groups])
        assert sched.get_last_lr() == lrs[-1]
    return lrs


def main():
    tensors, values = {}, {}
    meta = {"format": FORMAT, "torch_version": torch.__version__,
            "cases": ",".join(c[0] for c in CASES)}
    for name, spec, steps in CASES:
        meta[name] = json.dumps(dict(scheduler=spec, steps=steps), sort_keys=True)
        v = run(spec, steps)
        tensors[f"{name}/lr"] = torch.tensor(v, dtype=torch.float64)
        values[f"{name}/lr"] = v
    save_file(tensors, PATH, metadata=meta)
    canonical_header(PATH)
    back = load_file(PATH)  # every double survived bit for bit
    assert sorted(back) == sorted(values)
    for k, v in values.items():
        assert back[k].dtype == torch.float64 and back[k].tolist() == v, k
    print(f"wrote {PATH}: {len(CASES)} cases")


if __name__ == "__main__":
    main()
