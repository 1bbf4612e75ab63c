#!/usr/bin/env python3
"""Write tests/fixtures/optim_more.safetensors: ten steps of RMSprop, Adagrad, Adamax, NAdam
and RAdam (torch.optim, foreach=False: the single-tensor algorithm) over a mix of options,
which tests/unit/test_optim_more.c compares liblt's optimizers (sdk/src/optim/optim_more.c)
against on every accelerator; and the same for param groups (`group_cases`: two
parameters, each in its own group with its own lr and weight decay, and a scheduler that
scales each group's lr: tensors `p0_<i>`, `grads_<i>`, `traj_<i>`, metadata `<case>/lrs`,
each group's lr after each step as JSON).

Layout as optim.safetensors (see README.md): metadata `cases`, per case `<case>` = the
hyper-parameters as JSON with every key of KEYS (torch's defaults where the case leaves
one out), tensors `p0` (64), `grads` (10, 64), `traj` (10, 64). After writing, every step
of every case is recomputed from the update formulas in numpy float64.

    tests/reference/.venv/bin/python tests/reference/make_optim_fixtures.py
"""
import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_fixtures import close, load, rand, write  # noqa: E402

NAME = "optim_more.safetensors"
STEPS, N = 10, 64
KEYS = ["optimizer", "lr", "weight_decay", "eps", "alpha", "momentum", "centered", "lr_decay",
        "initial_accumulator_value", "beta1", "beta2", "momentum_decay", "decoupled_weight_decay"]
DEFAULTS = {
    "rmsprop": dict(lr=1e-2, alpha=0.99, eps=1e-8),
    "adagrad": dict(lr=1e-2, eps=1e-10),
    "adamax": dict(lr=2e-3, beta1=0.9, beta2=0.999, eps=1e-8),
    "nadam": dict(lr=2e-3, beta1=0.9, beta2=0.999, eps=1e-8, momentum_decay=4e-3),
    "radam": dict(lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8),
}
CASES = [
    ("rmsprop/default", dict(optimizer="rmsprop")),
    ("rmsprop/momentum", dict(optimizer="rmsprop", lr=1e-3, momentum=0.5)),
    ("rmsprop/centered_momentum_wd", dict(optimizer="rmsprop", alpha=0.9, eps=1e-6,
                                          weight_decay=0.01, momentum=0.9, centered=True)),
    ("rmsprop/centered", dict(optimizer="rmsprop", lr=1e-3, centered=True)),
    ("adagrad/default", dict(optimizer="adagrad", lr=0.1)),
    ("adagrad/decay_init_wd", dict(optimizer="adagrad", lr=0.1, lr_decay=0.01, weight_decay=0.05,
                                   initial_accumulator_value=0.1, eps=1e-8)),
    ("adamax/default", dict(optimizer="adamax")),
    ("adamax/betas_wd", dict(optimizer="adamax", lr=1e-2, beta1=0.8, beta2=0.99, eps=1e-6,
                             weight_decay=0.1)),
    ("nadam/default", dict(optimizer="nadam")),
    ("nadam/wd_decay", dict(optimizer="nadam", lr=1e-2, weight_decay=0.1, momentum_decay=1e-2)),
    ("nadam/decoupled", dict(optimizer="nadam", lr=1e-2, weight_decay=0.1,
                             decoupled_weight_decay=True)),
    ("radam/default", dict(optimizer="radam")),
    ("radam/betas_wd", dict(optimizer="radam", lr=1e-2, beta1=0.8, beta2=0.9, weight_decay=0.1)),
    ("radam/decoupled", dict(optimizer="radam", lr=1e-2, weight_decay=0.1,
                             decoupled_weight_decay=True)),
]


def hyper(h):
    full = dict(optimizer="", lr=0.0, weight_decay=0.0, eps=0.0, alpha=0.0, momentum=0.0,
                centered=False, lr_decay=0.0, initial_accumulator_value=0.0, beta1=0.0, beta2=0.0,
                momentum_decay=0.0, decoupled_weight_decay=False)
    full.update(DEFAULTS[h["optimizer"]])
    full.update(h)
    return full


def make_optimizer(p, h):
    o, common = h["optimizer"], dict(lr=h["lr"], weight_decay=h["weight_decay"], eps=h["eps"],
                                     foreach=False)
    betas = (h["beta1"], h["beta2"])
    if o == "rmsprop":
        return torch.optim.RMSprop(p, alpha=h["alpha"], momentum=h["momentum"],
                                   centered=h["centered"], **common)
    if o == "adagrad":
        return torch.optim.Adagrad(p, lr_decay=h["lr_decay"],
                                   initial_accumulator_value=h["initial_accumulator_value"], **common)
    if o == "adamax":
        return torch.optim.Adamax(p, betas=betas, **common)
    if o == "nadam":
        return torch.optim.NAdam(p, betas=betas, momentum_decay=h["momentum_decay"],
                                 decoupled_weight_decay=h["decoupled_weight_decay"], **common)
    return torch.optim.RAdam(p, betas=betas, decoupled_weight_decay=h["decoupled_weight_decay"],
                             **common)


def make():
    gen = torch.Generator().manual_seed(23)
    tensors, meta = {}, {}
    for case, h in CASES:
        h = hyper(h)
        meta[case] = json.dumps(h)
        p0, grads = rand(N, gen=gen), rand(STEPS, N, lo=-1, hi=1, gen=gen)
        p = p0.clone().requires_grad_(True)
        opt = make_optimizer([p], h)
        traj = []
        for k in range(STEPS):
            opt.zero_grad()
            p.grad = grads[k].clone()
            opt.step()
            traj.append(p.detach().clone())
        tensors.update({f"{case}/p0": p0, f"{case}/grads": grads, f"{case}/traj": torch.stack(traj)})
    meta["cases"] = ",".join(c for c, _ in CASES)
    make_groups(tensors, meta)
    meta["group_cases"] = ",".join(c for c, _ in GROUP_CASES)
    write(NAME, tensors, meta)


# Param groups: two parameters (64 and 32 floats), each its own group with its own lr and
# weight decay, optionally a scheduler stepped after each optimizer step.
GROUP_CASES = [
    ("groups/adamw_no_decay", dict(optimizer="adamw", groups=[dict(lr=1e-2, weight_decay=0.1),
                                                            dict(lr=3e-2, weight_decay=0.0)],
                                   scheduler=dict(kind="cosine", t_max=4, eta_min=1e-3))),
    ("groups/sgd_momentum", dict(optimizer="sgd", momentum=0.9,
                                 groups=[dict(lr=0.1, weight_decay=0.01), dict(lr=0.05, weight_decay=0.0)],
                                 scheduler=dict(kind="step", step_size=3, gamma=0.5))),
    ("groups/rmsprop", dict(optimizer="rmsprop", groups=[dict(lr=1e-2, weight_decay=0.01),
                                                         dict(lr=1e-3, weight_decay=0.0)],
                            scheduler=dict(kind="none"))),
    ("groups/nadam_step", dict(optimizer="nadam", groups=[dict(lr=2e-3, weight_decay=0.1),
                                                          dict(lr=1e-2, weight_decay=0.0)],
                               scheduler=dict(kind="step", step_size=2, gamma=0.1))),
]
GROUP_SIZES = (64, 32)


def make_group_optimizer(params, h):
    groups = [dict(params=[p], **g) for p, g in zip(params, h["groups"])]
    if h["optimizer"] == "adamw":
        return torch.optim.AdamW(groups, foreach=False)
    if h["optimizer"] == "sgd":
        return torch.optim.SGD(groups, lr=0.1, momentum=h["momentum"], foreach=False)
    if h["optimizer"] == "rmsprop":
        return torch.optim.RMSprop(groups, foreach=False)
    return torch.optim.NAdam(groups, foreach=False)


def make_scheduler(opt, sch):
    if sch["kind"] == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(opt, sch["t_max"], sch["eta_min"])
    if sch["kind"] == "step":
        return torch.optim.lr_scheduler.StepLR(opt, sch["step_size"], sch["gamma"])
    return None


def make_groups(tensors, meta):
    gen = torch.Generator().manual_seed(2323)
    for case, h in GROUP_CASES:
        meta[case] = json.dumps(h)
        ps = []
        for i, n in enumerate(GROUP_SIZES):
            tensors[f"{case}/p0_{i}"] = rand(n, gen=gen)
            tensors[f"{case}/grads_{i}"] = rand(STEPS, n, lo=-1, hi=1, gen=gen)
            ps.append(tensors[f"{case}/p0_{i}"].clone().requires_grad_(True))
        opt = make_group_optimizer(ps, h)
        sched = make_scheduler(opt, h["scheduler"])
        traj, lrs = [[] for _ in ps], []
        for k in range(STEPS):
            opt.zero_grad()
            for i, p in enumerate(ps):
                p.grad = tensors[f"{case}/grads_{i}"][k].clone()
            opt.step()
            if sched:
                sched.step()
            lrs.append([g["lr"] for g in opt.param_groups])
            for i, p in enumerate(ps):
                traj[i].append(p.detach().clone())
        for i in range(len(ps)):
            tensors[f"{case}/traj_{i}"] = torch.stack(traj[i])
        meta[f"{case}/lrs"] = json.dumps(lrs)


def reference_step(h, p, g, st, t):
    """One step (t from 1) in float64, from the formulas of torch's documentation."""
    o, lr, wd, eps = h["optimizer"], h["lr"], h["weight_decay"], h["eps"]
    if wd and not (o in ("nadam", "radam") and h["decoupled_weight_decay"]):
        g = g + wd * p
    elif wd:
        p = p * (1 - lr * wd)
    if o == "rmsprop":
        a = h["alpha"]
        v = st["v"] = a * st.get("v", 0) + (1 - a) * g * g
        vt = v
        if h["centered"]:
            ga = st["ga"] = a * st.get("ga", 0) + (1 - a) * g
            vt = v - ga * ga
        d = np.sqrt(vt) + eps
        if h["momentum"]:
            b = st["b"] = h["momentum"] * st.get("b", 0) + g / d
            return p - lr * b
        return p - lr * g / d
    if o == "adagrad":
        s = st["s"] = st.get("s", h["initial_accumulator_value"]) + g * g
        return p - lr / (1 + (t - 1) * h["lr_decay"]) * g / (np.sqrt(s) + eps)
    b1, b2 = h["beta1"], h["beta2"]
    m = st["m"] = b1 * st.get("m", 0) + (1 - b1) * g
    if o == "adamax":
        u = st["u"] = np.maximum(b2 * st.get("u", 0), np.abs(g) + eps)
        return p - lr / (1 - b1 ** t) * m / u
    v = st["v"] = b2 * st.get("v", 0) + (1 - b2) * g * g
    if o == "nadam":
        mu = lambda k: b1 * (1 - 0.5 * 0.96 ** (k * h["momentum_decay"]))
        prod = st["prod"] = st.get("prod", 1.0) * mu(t)
        d = np.sqrt(v / (1 - b2 ** t)) + eps
        return p - lr * (1 - mu(t)) / (1 - prod) * g / d - lr * mu(t + 1) / (1 - prod * mu(t + 1)) * m / d
    mhat = m / (1 - b1 ** t)
    rho_inf = 2 / (1 - b2) - 1
    rho = rho_inf - 2 * t * b2 ** t / (1 - b2 ** t)
    if rho <= 5:
        return p - lr * mhat
    r = np.sqrt((rho - 4) * (rho - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho))
    return p - lr * mhat * r * np.sqrt(1 - b2 ** t) / (np.sqrt(v) + eps)


def check():
    t, meta = load(NAME)
    cases = meta["cases"].split(",")
    groups = meta["group_cases"].split(",")
    want = {f"{c}/{k}" for c in cases for k in ("p0", "grads", "traj")}
    want |= {f"{c}/{k}_{i}" for c in groups for k in ("p0", "grads", "traj") for i in range(2)}
    assert len(cases) == len(CASES) and set(t) == want
    for c in groups:  # each group alone follows the formulas of its lr and weight decay
        h = json.loads(meta[c])
        lrs = json.loads(meta[f"{c}/lrs"])
        if h["optimizer"] not in ("rmsprop", "nadam"):
            continue
        for i, gh in enumerate(h["groups"]):
            full = hyper(dict(optimizer=h["optimizer"], weight_decay=gh["weight_decay"]))
            p, st = t[f"{c}/p0_{i}"].astype(np.float64), {}
            for k in range(STEPS):
                full["lr"] = gh["lr"] if k == 0 else lrs[k - 1][i]
                p = reference_step(full, p, t[f"{c}/grads_{i}"][k].astype(np.float64), st, k + 1)
                assert close(t[f"{c}/traj_{i}"][k], p, rtol=1e-5, atol=1e-6), f"{c} group {i}: step {k + 1}"
    for c in cases:
        h = json.loads(meta[c])
        assert list(h) == KEYS, c
        p, st = t[f"{c}/p0"].astype(np.float64), {}
        for k in range(STEPS):
            p = reference_step(h, p, t[f"{c}/grads"][k].astype(np.float64), st, k + 1)
            assert close(t[f"{c}/traj"][k], p, rtol=1e-5, atol=1e-6), f"{c}: step {k + 1} differs from the formula"
    return len(cases)


if __name__ == "__main__":
    torch.set_num_threads(1)
    make()
    print(f"torch {torch.__version__}: {check()} optimizer cases in {NAME}; checks pass")
