#!/usr/bin/env python3
"""Training parity fixture of plugins/models/dcgan (issue 19):

  tests/fixtures/dcgan_train.safetensors

10 batches of 32 Fashion-MNIST training images, each one discriminator and one generator
Adam(2e-4, betas (0.5, 0.999)) step as dcgan.c takes them, with ngf = ndf = 8 and
latent 16 (a small file). The noise is lthost's: Philox4x32-10 (lt/rng.h, seed 0, stream
= the global step 2k before batch k) turned into normals as lt_rng_normal does, so both
sides see the same z. Tensors: `x_u8` (10, 32, 784), `y`, `init/<key>` and `final/<key>`
for every state_dict key (batch norm buffers included), `d_losses`, `g_losses` (10).
Checked in tests/unit/test_gen_ops.c. Run with tests/reference/.venv/bin/python."""
import math
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_fixtures import FMNIST, read_idx, write  # noqa: E402  (sets threads and seed)

M32 = 0xFFFFFFFF


def philox(key, ctr):
    k0, k1 = key
    c0, c1, c2, c3 = ctr
    for _ in range(10):
        p0, p1 = 0xD2511F53 * c0, 0xCD9E8D57 * c2
        c0, c1, c2, c3 = ((p1 >> 32) ^ c1 ^ k0) & M32, p1 & M32, ((p0 >> 32) ^ c3 ^ k1) & M32, p0 & M32
        k0, k1 = (k0 + 0x9E3779B9) & M32, (k1 + 0xBB67AE85) & M32
    return [c0, c1, c2, c3]


def lt_normals(seed, stream, n):
    """lt_rng_normal's first n numbers of lt_rng_make(seed, stream)."""
    words = []
    for counter in range((2 * n + 3) // 4):
        words += philox((seed & M32, seed >> 32), (counter & M32, counter >> 32, stream & M32, stream >> 32))
    u = [np.float32(w >> 8) * np.float32(1.0 / 16777216.0) for w in words]
    out = [math.sqrt(-2.0 * math.log(1.0 - float(u[2 * i]))) * math.cos(2.0 * math.pi * float(u[2 * i + 1]))
           for i in range(n)]
    return torch.tensor(out, dtype=torch.float32)


class DCGAN(torch.nn.Module):
    """plugins/models/dcgan/dcgan.c in torch: the same layers, names and defaults."""

    def __init__(self, latent, ngf, ndf):
        super().__init__()
        self.ngf = ngf
        self.generator = torch.nn.Module()
        g = self.generator
        g.fc = torch.nn.Linear(latent, 2 * ngf * 49)
        g.bn0 = torch.nn.BatchNorm2d(2 * ngf)
        g.up1 = torch.nn.ConvTranspose2d(2 * ngf, ngf, 4, stride=2, padding=1, bias=False)
        g.bn1 = torch.nn.BatchNorm2d(ngf)
        g.up2 = torch.nn.ConvTranspose2d(ngf, 1, 4, stride=2, padding=1)
        self.discriminator = torch.nn.Module()
        d = self.discriminator
        d.conv0 = torch.nn.Conv2d(1, ndf, 4, stride=2, padding=1)
        d.conv1 = torch.nn.Conv2d(ndf, 2 * ndf, 4, stride=2, padding=1, bias=False)
        d.bn1 = torch.nn.BatchNorm2d(2 * ndf)
        d.fc = torch.nn.Linear(2 * ndf * 49, 1)

    def generate(self, z):
        g = self.generator
        h = F.relu(g.bn0(g.fc(z).reshape(z.shape[0], 2 * self.ngf, 7, 7)))
        h = F.relu(g.bn1(g.up1(h)))
        return torch.tanh(g.up2(h))

    def discriminate(self, x):
        d = self.discriminator
        h = F.leaky_relu(d.conv0(x), 0.2)
        h = F.leaky_relu(d.bn1(d.conv1(h)), 0.2)
        return d.fc(h.flatten(1))


def main(steps=10, batch=32, latent=16, ngf=8, ndf=8):
    images = read_idx(f"{FMNIST}/train-images-idx3-ubyte.gz", steps * batch).reshape(steps, batch, 784)
    labels = read_idx(f"{FMNIST}/train-labels-idx1-ubyte.gz", steps * batch).reshape(steps, batch)
    x_u8 = torch.from_numpy(images.copy())
    torch.manual_seed(5)
    model = DCGAN(latent, ngf, ndf)
    model.train()
    tensors = {f"init/{k}": v.detach().clone() for k, v in model.state_dict().items()}
    adam = dict(lr=2e-4, betas=(0.5, 0.999), eps=1e-8, foreach=False)
    opt_g = torch.optim.Adam(model.generator.parameters(), **adam)
    opt_d = torch.optim.Adam(model.discriminator.parameters(), **adam)
    scale = torch.tensor(0.3530, dtype=torch.float32) * 2
    shift = torch.tensor(0.2860, dtype=torch.float32) * 2 - 1
    d_losses, g_losses = [], []
    for k in range(steps):
        x = ((x_u8[k].float() / 255 - 0.2860) / 0.3530).reshape(batch, 1, 28, 28)
        real = x * scale + shift
        z = lt_normals(0, 2 * k, batch * latent).reshape(batch, latent)
        ones, zeros = torch.ones(batch, 1), torch.zeros(batch, 1)
        fake = model.generate(z)
        d_loss = (F.binary_cross_entropy_with_logits(model.discriminate(real), ones) +
                  F.binary_cross_entropy_with_logits(model.discriminate(fake.detach()), zeros)) * 0.5
        opt_d.zero_grad()
        d_loss.backward()
        opt_d.step()
        g_loss = F.binary_cross_entropy_with_logits(model.discriminate(fake), ones)
        opt_g.zero_grad()
        g_loss.backward()
        opt_g.step()
        d_losses.append(d_loss.item())
        g_losses.append(g_loss.item())
    tensors.update({f"final/{k}": v.detach().clone() for k, v in model.state_dict().items()})
    tensors.update({"x_u8": x_u8, "y": torch.from_numpy(labels.astype(np.int64)),
                    "d_losses": torch.tensor(d_losses), "g_losses": torch.tensor(g_losses)})
    write("dcgan_train.safetensors", tensors, {})
    print(f"torch {torch.__version__}: d_loss {d_losses[0]:.4f} -> {d_losses[-1]:.4f}, "
          f"g_loss {g_losses[0]:.4f} -> {g_losses[-1]:.4f}")


if __name__ == "__main__":
    sys.exit(main())
