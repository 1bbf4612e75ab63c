#!/usr/bin/env python3
"""Fixtures of issue 19's generator ops, in the format of make_layer_fixtures.py:

  tests/fixtures/gen_ops.safetensors   conv_transpose2d, binary_cross_entropy(_with_logits),
                                       logsigmoid cases

Metadata `cases` (comma separated) and per case `<case>` = the op's options as JSON
(torch.nn.functional's argument names); tensors `<case>/in<i>`, `out`, `w` (random, shaped
like out) and `grad<i>` = d sum(out * w) / d in<i> for every input (torch gives the losses' weight and pos_weight none). conv_transpose2d
takes (x, weight[, bias]); the losses take (input, target[, weight][, pos_weight]) with
pos_weight always in3, so a case with pos_weight and no weight has no in2.
Checked in tests/unit/test_gen_ops.c. Run with tests/reference/.venv/bin/python."""
import json
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_fixtures import write  # noqa: E402  (sets threads and seed)


def conv_t(name, o, x, w, b=None):
    return (name, o, [x, w] + ([b] if b else []),
            lambda ins, o: F.conv_transpose2d(ins[0], ins[1], ins[2] if len(ins) > 2 else None, **o))


def cases():
    c = [
        conv_t("conv_transpose2d/basic", {}, (2, 3, 5, 4), (3, 4, 3, 3), (4,)),
        conv_t("conv_transpose2d/dcgan", {"stride": [2, 2], "padding": [1, 1], "output_padding": [0, 0]},
               (2, 4, 7, 7), (4, 3, 4, 4), (3,)),
        conv_t("conv_transpose2d/stride_outpad", {"stride": [2, 3], "padding": [1, 0], "output_padding": [1, 2]},
               (2, 4, 4, 5), (4, 3, 3, 4), (3,)),
        conv_t("conv_transpose2d/groups_dilation",
               {"stride": [1, 2], "padding": [2, 0], "output_padding": [0, 1], "dilation": [2, 1], "groups": 2},
               (1, 4, 5, 6), (4, 3, 3, 2)),
        conv_t("conv_transpose2d/outpad_below_dilation", {"dilation": [2, 2], "output_padding": [1, 1]},
               (2, 2, 4, 4), (2, 2, 2, 3), (2,)),
    ]
    for name, o, shapes in [
        ("binary_cross_entropy/mean", {"reduction": "mean"}, [(4, 5), (4, 5)]),
        ("binary_cross_entropy/weight_sum", {"reduction": "sum"}, [(3, 5), (3, 5), (5,)]),
        ("binary_cross_entropy/none_extremes", {"reduction": "none"}, [(2, 4), (2, 4)]),
    ]:
        c.append((name, o, shapes, lambda ins, o: F.binary_cross_entropy(*ins[:2], weight=ins[2] if len(ins) > 2
                                                                         else None, **o)))
    for name, o, shapes in [
        ("binary_cross_entropy_with_logits/mean", {"reduction": "mean"}, [(4, 3), (4, 3)]),
        ("binary_cross_entropy_with_logits/pos_weight_none", {"reduction": "none"},
         [(4, 3), (4, 3), (4, 1), (3,)]),
        ("binary_cross_entropy_with_logits/pos_weight_sum", {"reduction": "sum"}, [(2, 3, 3), (2, 3, 3), None, (3,)]),
        ("binary_cross_entropy_with_logits/large", {"reduction": "none"}, [(2, 5), (2, 5)]),
    ]:
        c.append((name, o, shapes, lambda ins, o: F.binary_cross_entropy_with_logits(
            ins[0], ins[1], weight=(ins + [None, None])[2], pos_weight=(ins + [None, None])[3], **o)))
    c.append(("logsigmoid/basic", {}, [(3, 7)], lambda ins, o: F.logsigmoid(ins[0])))
    return c


def make_inputs(name, shapes, g):
    ins = [None if s is None else (torch.rand(s, generator=g) * 4 - 2).float() for s in shapes]
    if name.startswith("binary_cross_entropy/"):
        ins[0] = torch.rand(shapes[0], generator=g) * 0.96 + 0.02    # probabilities
        ins[1] = torch.rand(shapes[1], generator=g)                   # soft targets
        if len(ins) > 2:
            ins[2] = torch.rand(shapes[2], generator=g) + 0.5
    if name.endswith("/none_extremes"):  # log clamped at -100; 0 * log 0 is 0
        ins[0] = torch.tensor([[0.0, 1.0, 0.0, 1.0], [1e-30, 1 - 1e-7, 0.5, 0.25]])
        ins[1] = torch.tensor([[0.0, 1.0, 1.0, 0.0], [1.0, 0.0, 0.5, 1.0]])
    if name.startswith("binary_cross_entropy_with_logits/"):
        ins[1] = torch.rand(shapes[1], generator=g)
        if len(ins) > 3:
            ins[3] = torch.rand(shapes[3], generator=g) * 3 + 0.2
    if name.endswith("/large"):
        ins[0] = torch.tensor([[-40.0, -12.0, 0.0, 12.0, 40.0], [-3.0, -0.5, 0.25, 2.0, 90.0]])
        ins[1] = torch.tensor([[1.0, 0.0, 0.5, 1.0, 0.0], [0.0, 1.0, 0.3, 1.0, 1.0]])
    if name.startswith("logsigmoid/"):
        ins[0] = ins[0] * 10
    return [None if x is None else x.float() for x in ins]


def make_gen_ops():
    g = torch.Generator().manual_seed(1923)
    tensors, meta, names = {}, {}, []
    for name, o, shapes, fn in cases():
        names.append(name)
        meta[name] = json.dumps(o, sort_keys=True)
        inputs = make_inputs(name, shapes, g)
        # torch refuses a gradient for the losses' weight and pos_weight
        fixed = {2, 3} if name.startswith("binary_cross_entropy") else set()
        ins = [None if x is None else x.clone().requires_grad_(i not in fixed) for i, x in enumerate(inputs)]
        out = fn(ins, o)
        for i, x in enumerate(inputs):
            if x is not None:
                tensors[f"{name}/in{i}"] = x
        tensors[f"{name}/out"] = out.detach()
        w = (torch.rand(out.shape, generator=g) * 2 - 1).float()
        tensors[f"{name}/w"] = w
        (out * w).sum().backward()
        for i, x in enumerate(ins):
            if x is not None and i not in fixed:
                assert x.grad is not None, f"{name}: torch gives in{i} no gradient"
                tensors[f"{name}/grad{i}"] = x.grad
    meta["cases"] = ",".join(names)
    write("gen_ops.safetensors", tensors, meta)
    return len(names)


def main():
    n = make_gen_ops()
    print(f"torch {torch.__version__}: {n} generator op cases")


if __name__ == "__main__":
    sys.exit(main())
