#!/usr/bin/env python3
"""Fixtures of group_norm and the losses with torch's options (issue 19), in the format of
make_layer_fixtures.py:

  tests/fixtures/losses.safetensors
  tests/fixtures/losses_nd.safetensors  (the losses over (N, C, d1, ..., dK) inputs)

metadata `cases` (comma separated), and per case `<case>` = the op's options as JSON;
tensors `<case>/in<i>` (float inputs), `<case>/target` (int64 class indices, for nll_loss
and cross_entropy), `<case>/weight` (class weights, no gradient), `out`, `w` (random,
shaped like out) and `grad<i>` = d sum(out * w) / d in<i> for every float input.

Run with tests/reference/.venv/bin/python (see README.md); name a file's stem (`losses_nd`)
to write only that file."""
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
        if x.requires_grad:
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


# (case, options, input shape (N, C, d1, ..., dK), class weights?, label planted at flat
# target positions 1, 4 and 7 (None: none)): K = 1 and 2, every reduction.
def class_nd_cases():
    return [
        ("nll_loss/k1_mean", {"reduction": "mean", "ignore_index": -100}, (3, 4, 5), False, None),
        ("nll_loss/k2_weight_ignore_sum", {"reduction": "sum", "ignore_index": 2}, (2, 5, 3, 4),
         True, 2),
        ("nll_loss/k1_weight_ignore_none", {"reduction": "none", "ignore_index": 1}, (3, 4, 5),
         True, 1),
        ("nll_loss/k2_weight_mean_default_ignore", {"reduction": "mean", "ignore_index": -100},
         (2, 3, 4, 2), True, -100),
        ("cross_entropy/k1_plain", {"reduction": "mean", "ignore_index": -100,
                                    "label_smoothing": 0.0}, (4, 3, 6), False, None),
        ("cross_entropy/k1_none", {"reduction": "none", "ignore_index": -100,
                                   "label_smoothing": 0.0}, (3, 5, 4), False, -100),
        ("cross_entropy/k2_ignore_smooth_mean", {"reduction": "mean", "ignore_index": -100,
                                                 "label_smoothing": 0.1}, (2, 4, 3, 5), False,
         -100),
        ("cross_entropy/k1_weight_smooth_sum", {"reduction": "sum", "ignore_index": 0,
                                                "label_smoothing": 0.2}, (3, 4, 5), True, 0),
        ("cross_entropy/k2_weight_smooth_mean", {"reduction": "mean", "ignore_index": 3,
                                                 "label_smoothing": 0.25}, (2, 5, 4, 3), True, 3),
        ("cross_entropy/k2_weight_smooth_none", {"reduction": "none", "ignore_index": -100,
                                                 "label_smoothing": 0.15}, (2, 3, 3, 4), True,
         -100),
    ]


# (case, options, input shape, weight shape, pos_weight shape (None: none)); torch broadcasts
# weight and pos_weight from the trailing dimensions, so a per-channel pos_weight of an
# (N, C, H, W) input is (C, 1, 1).
def binary_nd_cases():
    return [
        ("bce_with_logits/k2_pos_weight_mean", {"reduction": "mean"}, (2, 3, 4, 5), None,
         (3, 1, 1)),
        ("bce_with_logits/k1_weight_pos_weight_none", {"reduction": "none"}, (2, 3, 4), (3, 1),
         (4,)),
        ("bce_with_logits/k2_pos_weight_sum", {"reduction": "sum"}, (2, 4, 3, 2), (1, 3, 2),
         (4, 1, 1)),
        ("binary_cross_entropy/k2_weight_sum", {"reduction": "sum"}, (2, 3, 2, 3), (3, 1, 1),
         None),
        ("binary_cross_entropy/k1_mean", {"reduction": "mean"}, (3, 2, 5), None, None),
    ]


def regression_nd_cases():
    return [
        ("smooth_l1_loss/k2_beta_half_mean", {"reduction": "mean", "beta": 0.5}, (2, 3, 4, 5)),
        ("smooth_l1_loss/k1_none", {"reduction": "none", "beta": 1.0}, (3, 4, 5)),
        ("huber_loss/k1_delta_1_5_none", {"reduction": "none", "delta": 1.5}, (3, 4, 5)),
        ("huber_loss/k3_sum", {"reduction": "sum", "delta": 1.0}, (2, 2, 3, 2, 3)),
    ]


def class_nd(tensors, g, name, o, shape, weighted, plant):
    n, c, rest = shape[0], shape[1], shape[2:]
    x = torch.rand(shape, generator=g) * 6 - 3
    if name.startswith("nll_loss/"):
        x = F.log_softmax(x, 1)
    x = x.detach().requires_grad_()
    target = torch.randint(0, c, (n, *rest), generator=g)
    if plant is not None:
        target.view(-1)[[1, 4, 7]] = plant
    weight = torch.rand((c,), generator=g) + 0.5 if weighted else None
    fn = F.nll_loss if name.startswith("nll_loss/") else F.cross_entropy
    out = fn(x, target, weight, **o)
    tensors[f"{name}/target"] = target
    if weighted:
        tensors[f"{name}/weight"] = weight
    record(tensors, name, [x], out, g)


def binary_nd(tensors, g, name, o, shape, wshape, pwshape):
    logits = name.startswith("bce_with_logits/")
    x = torch.rand(shape, generator=g) * 8 - 4 if logits else torch.rand(shape, generator=g) * 0.9 + 0.05
    x = x.requires_grad_()
    target = torch.rand(shape, generator=g)  # soft targets, no gradient
    extra = {}
    if wshape is not None:
        extra["weight"] = torch.rand(wshape, generator=g) + 0.5
    if pwshape is not None:
        extra["pos_weight"] = torch.rand(pwshape, generator=g) * 2 + 0.25
    fn = F.binary_cross_entropy_with_logits if logits else F.binary_cross_entropy
    out = fn(x, target, **extra, **o)
    for k, v in extra.items():
        tensors[f"{name}/{k}"] = v
    record(tensors, name, [x, target], out, g)


def make_losses_nd():
    g = torch.Generator().manual_seed(1920)
    tensors, meta, names = {}, {}, []
    for name, o, shape, weighted, plant in class_nd_cases():
        class_nd(tensors, g, name, o, shape, weighted, plant)
        names.append(name)
        meta[name] = json.dumps(o, sort_keys=True)
    for name, o, shape, wshape, pwshape in binary_nd_cases():
        binary_nd(tensors, g, name, o, shape, wshape, pwshape)
        names.append(name)
        meta[name] = json.dumps(o, sort_keys=True)
    for name, o, shape in regression_nd_cases():
        ins = [(torch.rand(shape, generator=g) * 4 - 2).requires_grad_() for _ in range(2)]
        fn = F.smooth_l1_loss if name.startswith("smooth_l1_loss/") else F.huber_loss
        record(tensors, name, ins, fn(ins[0], ins[1], **o), g)
        names.append(name)
        meta[name] = json.dumps(o, sort_keys=True)
    meta["cases"] = ",".join(names)
    write("losses_nd.safetensors", tensors, meta)
    return len(names)


if __name__ == "__main__":
    only = sys.argv[1:]
    if not only or "losses" in only:
        print(f"losses.safetensors: {make_losses()} cases")
    if not only or "losses_nd" in only:
        print(f"losses_nd.safetensors: {make_losses_nd()} cases")
