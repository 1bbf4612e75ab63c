#!/usr/bin/env python3
"""Fixtures of group_norm and the losses with torch's options (issue 19), in the format of
make_layer_fixtures.py:

  tests/fixtures/losses.safetensors

metadata `cases` (comma separated), and per case `<case>` = the op's options as JSON;
tensors `<case>/in<i>` (float inputs), `<case>/target` (int64 class indices, for nll_loss
and cross_entropy), `<case>/weight` (class weights, no gradient), `out`, `w` (random,
shaped like out) and `grad<i>` = d sum(out * w) / d in<i> for every float input.

Run with tests/reference/.venv/bin/python (see README.md)."""
import json
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_fixtures import write  # noqa: E402  (sets threads and seed)


def group_norm_cases():
    return [
        ("group_norm/affine", {"num_groups": 3, "eps": 1e-5}, [(4, 6, 3, 5), (6,), (6,)]),
        ("group_norm/no_affine", {"num_groups": 2, "eps": 1e-5}, [(2, 4, 7)]),
        ("group_norm/one_group", {"num_groups": 1, "eps": 1e-3}, [(3, 4, 2, 2), (4,), (4,)]),
        ("group_norm/per_channel", {"num_groups": 4, "eps": 1e-5}, [(2, 4, 3, 3), (4,), (4,)]),
    ]


# (case, options, (N, C), class weights?, labels to plant at rows 1 and 4 (None: none))
def class_cases():
    return [
        ("nll_loss/mean", {"reduction": "mean", "ignore_index": -100}, (8, 5), False, None),
        ("nll_loss/weight_ignore_sum", {"reduction": "sum", "ignore_index": 2}, (9, 4), True, 2),
        ("nll_loss/weight_mean_default_ignore", {"reduction": "mean", "ignore_index": -100},
         (7, 6), True, -100),
        ("nll_loss/none_ignore", {"reduction": "none", "ignore_index": 1}, (6, 3), False, 1),
        ("cross_entropy/plain", {"reduction": "mean", "ignore_index": -100, "label_smoothing": 0.0},
         (8, 5), False, None),
        ("cross_entropy/ignore_smooth", {"reduction": "mean", "ignore_index": -100,
                                         "label_smoothing": 0.1}, (10, 7), False, -100),
        ("cross_entropy/weight_smooth_mean", {"reduction": "mean", "ignore_index": 0,
                                              "label_smoothing": 0.2}, (9, 4), True, 0),
        ("cross_entropy/weight_smooth_sum", {"reduction": "sum", "ignore_index": -100,
                                             "label_smoothing": 0.3}, (6, 5), True, None),
        ("cross_entropy/smooth_none", {"reduction": "none", "ignore_index": 3,
                                       "label_smoothing": 0.15}, (7, 4), True, 3),
    ]


def regression_cases():
    return [
        ("smooth_l1_loss/beta1_mean", {"reduction": "mean", "beta": 1.0}),
        ("smooth_l1_loss/beta_half_none", {"reduction": "none", "beta": 0.5}),
        ("smooth_l1_loss/l1_sum", {"reduction": "sum", "beta": 0.0}),
        ("huber_loss/delta1_mean", {"reduction": "mean", "delta": 1.0}),
        ("huber_loss/delta2_none", {"reduction": "none", "delta": 2.0}),
    ]


def record(tensors, name, ins, out, g):
    for i, x in enumerate(ins):
        tensors[f"{name}/in{i}"] = x.detach().clone()
    tensors[f"{name}/out"] = out.detach()
    w = (torch.rand(out.shape, generator=g) * 2 - 1).float()
    tensors[f"{name}/w"] = w
    (out * w).sum().backward()
    for i, x in enumerate(ins):
        tensors[f"{name}/grad{i}"] = x.grad


def make_losses():
    g = torch.Generator().manual_seed(1919)
    tensors, meta, names = {}, {}, []
    for name, o, shapes in group_norm_cases():
        ins = [(torch.rand(s, generator=g) * 4 - 2).requires_grad_() for s in shapes]
        out = F.group_norm(ins[0], o["num_groups"], *(ins[1:] + [None, None])[:2], eps=o["eps"])
        record(tensors, name, ins, out, g)
        names.append(name)
        meta[name] = json.dumps(o, sort_keys=True)
    for name, o, (n, c), weighted, plant in class_cases():
        x = torch.rand((n, c), generator=g) * 6 - 3
        if name.startswith("nll_loss/"):
            x = F.log_softmax(x, 1)
        x = x.detach().requires_grad_()
        target = torch.randint(0, c, (n,), generator=g)
        if plant is not None:
            target[1], target[4] = plant, plant
        weight = torch.rand((c,), generator=g) + 0.5 if weighted else None
        if name.startswith("nll_loss/"):
            out = F.nll_loss(x, target, weight, **o)
        else:
            out = F.cross_entropy(x, target, weight, **o)
        tensors[f"{name}/target"] = target
        if weighted:
            tensors[f"{name}/weight"] = weight
        record(tensors, name, [x], out, g)
        names.append(name)
        meta[name] = json.dumps(o, sort_keys=True)
    for name, o in regression_cases():
        ins = [(torch.rand((5, 6), generator=g) * 4 - 2).requires_grad_() for _ in range(2)]
        fn = F.smooth_l1_loss if name.startswith("smooth_l1_loss/") else F.huber_loss
        out = fn(ins[0], ins[1], **o)
        record(tensors, name, ins, out, g)
        names.append(name)
        meta[name] = json.dumps(o, sort_keys=True)
    meta["cases"] = ",".join(names)
    write("losses.safetensors", tensors, meta)
    return len(names)


if __name__ == "__main__":
    print(f"losses.safetensors: {make_losses()} cases")
