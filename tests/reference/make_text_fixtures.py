#!/usr/bin/env python3
"""Fixtures of the tensor-manipulation and attention ops (issue 19, text models), in the
format of make_layer_fixtures.py:

  tests/fixtures/text_ops.safetensors   embedding ... scaled_dot_product_attention cases
  tests/fixtures/chargpt_train.safetensors  20 Adam steps of plugins/models/chargpt

metadata `cases` (comma separated), and per case `<case>` = the op's options as JSON
(torch's argument names); tensors `<case>/in<i>` (float32, or int64 indices), `out`, `w`
(random, shaped like out) and `grad<i>` = d sum(out * w) / d in<i> for every float input.
Checked in tests/unit/test_text_ops.c. Run with tests/reference/.venv/bin/python."""
import json
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_fixtures import write  # noqa: E402  (sets threads and seed)


def ints(hi, shape):
    return ("int", hi, shape)


def sdpa(ins, o):
    mask = ins[3] if len(ins) > 3 else None
    return F.scaled_dot_product_attention(ins[0], ins[1], ins[2], attn_mask=mask,
                                          is_causal=o.get("is_causal", False), scale=o.get("scale"))


# (case, options, input specs (a shape: float; ints(): int64 in [0, hi)), fn(ins, o))
def cases():
    return [
        ("embedding/basic", {}, [ints(7, (3, 4)), (7, 5)], lambda i, o: F.embedding(i[0], i[1])),
        ("embedding/padding_idx", {"padding_idx": 2}, [ints(6, (2, 9)), (6, 3)],
         lambda i, o: F.embedding(i[0], i[1], padding_idx=o["padding_idx"])),
        ("embedding/padding_neg", {"padding_idx": -1}, [ints(5, (11,)), (5, 4)],
         lambda i, o: F.embedding(i[0], i[1], padding_idx=o["padding_idx"])),
        ("index_select/dim0", {"dim": 0}, [(5, 3), ints(5, (7,))],
         lambda i, o: torch.index_select(i[0], o["dim"], i[1])),
        ("index_select/dim1", {"dim": 1}, [(2, 6, 3), ints(6, (4,))],
         lambda i, o: torch.index_select(i[0], o["dim"], i[1])),
        ("gather/dim1", {"dim": 1}, [(3, 5, 2), ints(5, (3, 4, 2))],
         lambda i, o: torch.gather(i[0], o["dim"], i[1])),
        ("gather/last", {"dim": -1}, [(4, 6), ints(6, (4, 3))],
         lambda i, o: torch.gather(i[0], o["dim"], i[1])),
        ("one_hot/basic", {"num_classes": 5}, [ints(5, (2, 3))],
         lambda i, o: F.one_hot(i[0], o["num_classes"]).float()),
        ("cat/dim0", {"dim": 0}, [(2, 3), (4, 3), (1, 3)], lambda i, o: torch.cat(i, o["dim"])),
        ("cat/dim1", {"dim": 1}, [(2, 3, 2), (2, 1, 2)], lambda i, o: torch.cat(i, o["dim"])),
        ("stack/dim1", {"dim": 1}, [(3, 4), (3, 4), (3, 4)], lambda i, o: torch.stack(i, o["dim"])),
        ("split/dim2", {"split_size": 3, "dim": 2}, [(2, 3, 8)],
         lambda i, o: torch.cat([p * (k + 1) for k, p in enumerate(torch.split(i[0], 3, 2))], 2)),
        ("narrow/dim1", {"dim": 1, "start": 2, "length": 3}, [(3, 7, 2)],
         lambda i, o: torch.narrow(i[0], o["dim"], o["start"], o["length"])),
        ("transpose/12", {"dim0": 1, "dim1": 2}, [(2, 3, 4, 5)],
         lambda i, o: torch.transpose(i[0], o["dim0"], o["dim1"])),
        ("permute/basic", {"dims": [2, 0, 3, 1]}, [(2, 3, 4, 5)],
         lambda i, o: i[0].permute(*o["dims"])),
        ("bmm/basic", {}, [(3, 4, 5), (3, 5, 2)], lambda i, o: torch.bmm(i[0], i[1])),
        ("matmul/broadcast", {}, [(2, 1, 3, 4), (5, 4, 6)], lambda i, o: torch.matmul(i[0], i[1])),
        ("matmul/shared_rhs", {}, [(2, 3, 4, 5), (5, 2)], lambda i, o: torch.matmul(i[0], i[1])),
        ("masked_fill/bcast", {"value": -3.5}, [(2, 3, 4), ("mask", (3, 4))],
         lambda i, o: i[0].masked_fill(i[1] != 0, o["value"])),
        ("sdpa/plain", {}, [(2, 3, 5, 4), (2, 3, 6, 4), (2, 3, 6, 3)], sdpa),
        ("sdpa/causal", {"is_causal": True}, [(2, 2, 6, 4), (2, 2, 6, 4), (2, 2, 6, 5)], sdpa),
        ("sdpa/mask_scale", {"scale": 0.3}, [(2, 4, 3), (2, 5, 3), (2, 5, 2), (4, 5)], sdpa),
        ("softplus/default", {"beta": 1.0, "threshold": 20.0}, [("wide", (4, 6))],
         lambda i, o: F.softplus(i[0], **o)),
        ("softplus/beta", {"beta": 2.0, "threshold": 20.0}, [(4, 6)],
         lambda i, o: F.softplus(i[0], **o)),
        ("clamp/both", {"min": -0.5, "max": 0.7}, [(5, 6)], lambda i, o: torch.clamp(i[0], **o)),
        ("clamp/min", {"min": 0.1}, [(5, 6)], lambda i, o: torch.clamp(i[0], **o)),
        ("pow/square", {"exponent": 2.0}, [(4, 5)], lambda i, o: torch.pow(i[0], o["exponent"])),
        ("pow/cube_neg", {"exponent": -3.0}, [(4, 5)], lambda i, o: torch.pow(i[0], o["exponent"])),
        ("pow/frac", {"exponent": 1.7}, [("pos", (4, 5))],
         lambda i, o: torch.pow(i[0], o["exponent"])),
        ("rsqrt/basic", {}, [("pos", (4, 5))], lambda i, o: torch.rsqrt(i[0])),
        # appended (ops audit): earlier cases keep their generator draws, so their bytes
        ("causal_mask/masked_fill", {"value": -4.0}, [(2, 4, 6)],
         lambda i, o: i[0].masked_fill(torch.ones(4, 6, dtype=torch.bool).tril().logical_not(), o["value"])),
        ("dropout/eval", {"p": 0.5, "training": False}, [(3, 5)], lambda i, o: F.dropout(i[0], **o)),
        ("dropout/train_p0", {"p": 0.0, "training": True}, [(3, 5)], lambda i, o: F.dropout(i[0], **o)),
        ("dropout/train_p1", {"p": 1.0, "training": True}, [(3, 5)], lambda i, o: F.dropout(i[0], **o)),
        # on the bounds themselves: torch 2.x gives no gradient there (the fixture pins it)
        ("clamp/at_bounds", {"min": -0.5, "max": 0.75}, [("bounds", (4, 6))], lambda i, o: torch.clamp(i[0], **o)),
    ]


def make_input(spec, g):
    if spec[0] == "int":
        return torch.randint(0, spec[1], spec[2], generator=g, dtype=torch.int64)
    if spec[0] == "mask":
        return (torch.rand(spec[1], generator=g) < 0.4).float()
    if spec[0] == "wide":
        return torch.rand(spec[1], generator=g) * 60 - 30
    if spec[0] == "bounds":  # every third element on -0.5 or 0.75 (clamp/at_bounds)
        x = torch.rand(spec[1], generator=g) * 4 - 2
        x.view(-1)[::3] = torch.tensor([-0.5, 0.75]).repeat(x.numel())[: (x.numel() + 2) // 3]
        return x
    if spec[0] == "pos":
        return torch.rand(spec[1], generator=g) * 2 + 0.2
    x = torch.rand(spec, generator=g) * 4 - 2
    return torch.where(x.abs() < 0.1, x + 0.25, x)  # off the kinks of clamp at 0 +- 0.1


def make_text_ops():
    g = torch.Generator().manual_seed(1919)
    tensors, meta, names = {}, {}, []
    for name, o, specs, fn in cases():
        names.append(name)
        meta[name] = json.dumps(o, sort_keys=True)
        inputs = [make_input(s, g) for s in specs]
        grads = [x.is_floating_point() and not (isinstance(s, tuple) and s[0] == "mask")
                 and not name.startswith("one_hot") for x, s in zip(inputs, specs)]
        ins = [x.clone().requires_grad_(r) for x, r in zip(inputs, grads)]
        out = fn(ins, o)
        for i, x in enumerate(inputs):
            tensors[f"{name}/in{i}"] = x
        tensors[f"{name}/out"] = out.detach().float()
        w = (torch.rand(out.shape, generator=g) * 2 - 1).float()
        tensors[f"{name}/w"] = w
        if out.requires_grad:
            (out * w).sum().backward()
        for i, x in enumerate(ins):
            if x.grad is not None:
                tensors[f"{name}/grad{i}"] = x.grad
    meta["cases"] = ",".join(names)
    write("text_ops.safetensors", tensors, meta)
    return len(names)


# ---- the chargpt model ---------------------------------------------------------------


class Block(torch.nn.Module):
    def __init__(self, c, heads):
        super().__init__()
        self.c, self.heads = c, heads
        self.ln_1, self.ln_2 = torch.nn.LayerNorm(c), torch.nn.LayerNorm(c)
        self.attn = torch.nn.Module()
        self.attn.c_attn, self.attn.c_proj = torch.nn.Linear(c, 3 * c), torch.nn.Linear(c, c)
        self.mlp = torch.nn.Module()
        self.mlp.c_fc, self.mlp.c_proj = torch.nn.Linear(c, 4 * c), torch.nn.Linear(4 * c, c)

    def forward(self, x):
        b, t, c = x.shape
        q, k, v = self.attn.c_attn(self.ln_1(x)).split(c, 2)
        q, k, v = (z.view(b, t, self.heads, c // self.heads).transpose(1, 2) for z in (q, k, v))
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        x = x + self.attn.c_proj(y.transpose(1, 2).reshape(b, t, c))
        return x + self.mlp.c_proj(F.gelu(self.mlp.c_fc(self.ln_2(x))))


class CharGPT(torch.nn.Module):
    """plugins/models/chargpt/chargpt.c in torch (dropout 0): the same names and defaults."""

    def __init__(self, vocab, block, layers, c, heads):
        super().__init__()
        self.transformer = torch.nn.Module()
        self.transformer.wte = torch.nn.Embedding(vocab, c)
        self.transformer.wpe = torch.nn.Embedding(block, c)
        self.transformer.h = torch.nn.ModuleList(Block(c, heads) for _ in range(layers))
        self.transformer.ln_f = torch.nn.LayerNorm(c)
        self.lm_head = torch.nn.Linear(c, vocab)

    def forward(self, idx):
        t = idx.shape[1]
        x = self.transformer.wte(idx) + self.transformer.wpe.weight[:t]
        for blk in self.transformer.h:
            x = blk(x)
        return self.lm_head(self.transformer.ln_f(x))


def make_chargpt(steps=20, batch=4, vocab=16, block=8, layers=2, c=16, heads=2):
    torch.manual_seed(3)
    model = CharGPT(vocab, block, layers, c, heads)
    model.train()
    g = torch.Generator().manual_seed(4)
    tokens = torch.randint(0, vocab, (steps, batch, block + 1), generator=g)
    tokens[:, :, 1::2] = (tokens[:, :, 0::2][:, :, :block // 2 + block % 2] + 1) % vocab  # learnable
    tensors = {f"init/{k}": v.detach().clone() for k, v in model.state_dict().items()}
    opt = torch.optim.Adam(model.parameters(), lr=3e-3, foreach=False)
    losses = []
    for k in range(steps):
        x, y = tokens[k, :, :block], tokens[k, :, 1:]
        loss = F.cross_entropy(model(x).reshape(-1, vocab), y.reshape(-1))
        losses.append(loss.item())
        opt.zero_grad()
        loss.backward()
        opt.step()
    tensors.update({f"final/{k}": v.detach().clone() for k, v in model.state_dict().items()})
    tensors.update({"x_tokens": tokens[:, :, :block].contiguous(),
                    "y": tokens[:, :, 1:].contiguous(),
                    "losses": torch.tensor(losses, dtype=torch.float32)})
    hp = {"vocab_size": vocab, "block_size": block, "n_layer": layers, "n_embd": c,
          "n_head": heads, "dropout": 0.0, "lr": 3e-3}
    write("chargpt_train.safetensors", tensors, {"hparams": json.dumps(hp, sort_keys=True)})
    return losses


def main():
    n = make_text_ops()
    losses = make_chargpt()
    print(f"torch {torch.__version__}: {n} text op cases; chargpt losses {losses[0]:.4f} -> {losses[-1]:.4f}")


if __name__ == "__main__":
    sys.exit(main())
