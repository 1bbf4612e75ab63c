#!/usr/bin/env python3
"""Fixtures of the layer ops and the cnn model (issue 19), in the format of make_fixtures.py:

  tests/fixtures/layers.safetensors     conv2d, pools, batch_norm, layer_norm cases
  tests/fixtures/cnn_train.safetensors  20 Adam steps of plugins/models/cnn

layers (plus silu and leaky_relu): metadata `cases` (comma separated), and per case `<case>` = the op's options as
JSON; tensors `<case>/in<i>`, `out`, `w` (random, shaped like out) and `grad<i>` =
d sum(out * w) / d in<i> for every float input that takes a gradient. batch_norm cases
take (x, running_mean, running_var, weight, bias) and, in training, carry the running
statistics after the call as `<case>/running_mean`, `<case>/running_var`.

cnn_train: the model with hidden=32 and dropout=0; `x_u8` (20, 32, 784), `y` (20, 32), `init/<key>`, `final/<key>` for every
state_dict key (buffers included: running stats and int64 num_batches_tracked), `losses`
(20). Dropout is off (lthost's masks come from Philox, torch's from its own generator).

Run with tests/reference/.venv/bin/python (see README.md)."""
import json
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_fixtures import FMNIST, read_idx, write  # noqa: E402  (sets threads and seed)

# ---- op cases ------------------------------------------------------------------------


def conv(x, w, b=None, **o):
    return F.conv2d(x, w, b, **o)


# (case, options, input shapes (None: no input), fn(inputs, options) -> out)
def cases():
    c = []
    for name, o, shapes in [
        ("conv2d/basic", {}, [(2, 3, 7, 6), (4, 3, 3, 3), (4,)]),
        ("conv2d/stride_pad", {"stride": [2, 1], "padding": [1, 0]}, [(2, 3, 8, 7), (5, 3, 3, 2), (5,)]),
        ("conv2d/dilation_nobias", {"dilation": [2, 2], "padding": [2, 2]}, [(1, 2, 9, 9), (3, 2, 3, 3)]),
        ("conv2d/groups", {"groups": 2, "padding": [1, 1]}, [(2, 4, 6, 6), (6, 2, 3, 3), (6,)]),
        ("conv2d/same_even", {"padding": "same", "dilation": [1, 2]}, [(2, 2, 6, 5), (3, 2, 4, 2), (3,)]),
    ]:
        c.append((name, o, shapes, lambda ins, o: conv(*ins, **o)))
    for name, o, shape in [
        ("max_pool2d/k2", {"kernel_size": [2, 2]}, (2, 3, 6, 6)),
        ("max_pool2d/k3s2p1", {"kernel_size": [3, 3], "stride": [2, 2], "padding": [1, 1]}, (2, 2, 7, 8)),
        ("max_pool2d/dilation_ceil", {"kernel_size": [3, 2], "stride": [2, 2], "dilation": [2, 1],
                                      "ceil_mode": True}, (1, 2, 9, 8)),
    ]:
        c.append((name, o, [shape], lambda ins, o: F.max_pool2d(ins[0], **o)))
    for name, o, shape in [
        ("avg_pool2d/k2", {"kernel_size": [2, 2]}, (2, 3, 6, 6)),
        ("avg_pool2d/k3s2p1", {"kernel_size": [3, 3], "stride": [2, 2], "padding": [1, 1]}, (2, 2, 7, 8)),
        ("avg_pool2d/k3s2p1_nopad", {"kernel_size": [3, 3], "stride": [2, 2], "padding": [1, 1],
                                     "count_include_pad": False}, (2, 2, 7, 8)),
        ("avg_pool2d/ceil", {"kernel_size": [3, 2], "stride": [2, 2], "padding": [1, 1],
                             "ceil_mode": True}, (1, 2, 8, 7)),
    ]:
        c.append((name, o, [shape], lambda ins, o: F.avg_pool2d(ins[0], **o)))
    for name, o, shape in [("adaptive_avg_pool2d/3x4", {"output_size": [3, 4]}, (2, 3, 7, 9)),
                           ("adaptive_avg_pool2d/1x1", {"output_size": [1, 1]}, (2, 3, 5, 4))]:
        c.append((name, o, [shape], lambda ins, o: F.adaptive_avg_pool2d(ins[0], **o)))
    for name, o, shape in [
        ("batch_norm/train_4d", {"training": True, "momentum": 0.1, "eps": 1e-5}, (4, 3, 5, 5)),
        ("batch_norm/train_2d", {"training": True, "momentum": 0.3, "eps": 1e-3}, (6, 4)),
        ("batch_norm/eval_4d", {"training": False, "momentum": 0.1, "eps": 1e-5}, (3, 3, 4, 2)),
    ]:
        ch = shape[1]
        c.append((name, o, [shape, (ch,), (ch,), (ch,), (ch,)],
                  lambda ins, o: F.batch_norm(ins[0], ins[1], ins[2], ins[3], ins[4], **o)))
    for name, o, shapes in [
        ("layer_norm/last", {"normalized_shape": [5], "eps": 1e-5}, [(3, 4, 5), (5,), (5,)]),
        ("layer_norm/last2", {"normalized_shape": [4, 5], "eps": 1e-5}, [(3, 4, 5), (4, 5), (4, 5)]),
        ("layer_norm/no_affine", {"normalized_shape": [6], "eps": 1e-3}, [(2, 3, 6)]),
    ]:
        c.append((name, o, shapes, lambda ins, o: F.layer_norm(ins[0], o["normalized_shape"],
                                                               *(ins[1:] + [None, None])[:2], eps=o["eps"])))
    c.append(("silu/basic", {}, [(3, 7)], lambda ins, o: F.silu(ins[0])))
    for name, o in [("leaky_relu/default", {"negative_slope": 0.01}),
                    ("leaky_relu/slope", {"negative_slope": 0.2})]:
        c.append((name, o, [(4, 6)], lambda ins, o: F.leaky_relu(ins[0], **o)))
    # appended (ops audit): torch's gradient at exactly 0 is the slope (x > 0 ? 1 : slope)
    c.append(("leaky_relu/at_zero", {"negative_slope": 0.2}, [(3, 4)], lambda ins, o: F.leaky_relu(ins[0], **o)))
    # ties in a window: torch's gradient goes to the first maximum in scan order
    c.append(("max_pool2d/ties", {"kernel_size": [3, 3], "stride": [2, 2], "padding": [1, 1]}, [(2, 2, 6, 7)],
              lambda ins, o: F.max_pool2d(ins[0], **o)))
    return c


def make_inputs(name, shapes, g):
    ins = [torch.rand(s, generator=g) * 4 - 2 for s in shapes]
    if name == "max_pool2d/ties":  # values in {0, 1, 2}: most windows hold equal maxima
        ins[0] = torch.randint(0, 3, shapes[0], generator=g).float()
    if name == "leaky_relu/at_zero":  # every third element exactly on the kink
        ins[0].view(-1)[::3] = 0.0
    elif name.startswith("leaky_relu/"):  # off the kink at 0, where the gradients differ
        ins[0] = torch.where(ins[0].abs() < 0.05, ins[0] + 0.1, ins[0])
    if name.startswith("batch_norm/"):
        ins[1] = torch.rand(shapes[1], generator=g) - 0.5     # running_mean
        ins[2] = torch.rand(shapes[2], generator=g) + 0.5     # running_var > 0
    return [x.float() for x in ins]


def make_layers():
    g = torch.Generator().manual_seed(19)
    tensors, meta, names = {}, {}, []
    for name, o, shapes, fn in cases():
        names.append(name)
        meta[name] = json.dumps(o, sort_keys=True)
        inputs = make_inputs(name, shapes, g)
        bn = name.startswith("batch_norm/")
        ins = [x.clone().requires_grad_(not (bn and i in (1, 2))) for i, x in enumerate(inputs)]
        out = fn(ins, o)
        for i, x in enumerate(inputs):
            tensors[f"{name}/in{i}"] = x
        tensors[f"{name}/out"] = out.detach()
        if bn and o["training"]:
            tensors[f"{name}/running_mean"] = ins[1].detach().clone()
            tensors[f"{name}/running_var"] = ins[2].detach().clone()
        w = (torch.rand(out.shape, generator=g) * 2 - 1).float()
        tensors[f"{name}/w"] = w
        (out * w).sum().backward()
        for i, x in enumerate(ins):
            if x.grad is not None:
                tensors[f"{name}/grad{i}"] = x.grad
    meta["cases"] = ",".join(names)
    write("layers.safetensors", tensors, meta)
    return len(names)


# ---- the cnn model ---------------------------------------------------------------------


class CNN(torch.nn.Module):
    """plugins/models/cnn/cnn.c in torch: the same layers, names and defaults."""

    def __init__(self, c1=16, c2=32, hidden=128, dropout=0.0):
        super().__init__()
        self.conv1, self.bn1 = torch.nn.Conv2d(1, c1, 3, padding=1, bias=False), torch.nn.BatchNorm2d(c1)
        self.conv2, self.bn2 = torch.nn.Conv2d(c1, c2, 3, padding=1, bias=False), torch.nn.BatchNorm2d(c2)
        self.fc1, self.fc2 = torch.nn.Linear(c2 * 14 * 14, hidden), torch.nn.Linear(hidden, 10)
        self.p = dropout

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        x = F.relu(self.bn2(self.conv2(x)))
        x = F.dropout(F.max_pool2d(x, 2), self.p, self.training)
        x = F.dropout(F.relu(self.fc1(torch.flatten(x, 1))), self.p, self.training)
        return self.fc2(x)


def make_cnn(steps=20, batch=32):
    images = read_idx(f"{FMNIST}/train-images-idx3-ubyte.gz", steps * batch).reshape(steps, batch, 784)
    labels = read_idx(f"{FMNIST}/train-labels-idx1-ubyte.gz", steps * batch).reshape(steps, batch)
    x_u8 = torch.from_numpy(images.copy())
    y = torch.from_numpy(labels.astype(np.int64))
    torch.manual_seed(2)
    model = CNN(hidden=32)  # --model.hidden 32 --model.dropout 0: keeps the file small
    model.train()
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
    write("cnn_train.safetensors", tensors, {})
    return losses


def main():
    n = make_layers()
    losses = make_cnn()
    print(f"torch {torch.__version__}: {n} layer cases; cnn losses {losses[0]:.4f} -> {losses[-1]:.4f}")


if __name__ == "__main__":
    sys.exit(main())
