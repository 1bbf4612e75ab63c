"""Writes tests/fixtures/swa_bn_init.safetensors and tests/fixtures/swa_bn_lightning.txt:
Lightning's StochasticWeightAveraging on a module with BatchNorm (the module of
tests/e2e/plugins/swa_bn.c: Linear(3, 4), BatchNorm1d(4), ReLU, Linear(4, 1), MSE loss,
SGD lr 0.1, on 10 fixed samples in batches of 4). After the last averaged epoch Lightning
moves the average into the module, resets every BatchNorm's running statistics, sets its
momentum to None and runs one more epoch of forward passes (no backward, no step), so the
statistics are those of the averaged weights. The fixture holds every parameter and buffer
after fit; tests/e2e/test_swa_batch_norm.sh starts lthost from the same initial weights
(--init_weights) and compares. Run: tests/reference/.venv/bin/python tests/reference/swa_batch_norm.py
"""
import os
import sys

import torch
from safetensors.torch import save_file
from torch.utils.data import DataLoader, TensorDataset

import lightning.pytorch as pl
from lightning.pytorch.callbacks import StochasticWeightAveraging

HERE = os.path.dirname(os.path.abspath(__file__))
FIX = os.path.join(HERE, "..", "fixtures")

# name, max_epochs, SWA options, and the lthost flags that say the same (the test reads them)
CASES = [
    ("bn_cos", 5, dict(swa_lrs=0.05, swa_epoch_start=2, annealing_epochs=2),
     "--callbacks StochasticWeightAveraging --callbacks.swa_lrs 0.05 --callbacks.swa_epoch_start 2 "
     "--callbacks.annealing_epochs 2"),
    ("bn_linear_frac", 6, dict(swa_lrs=0.02, swa_epoch_start=0.5, annealing_epochs=1,
                               annealing_strategy="linear"),
     "--callbacks StochasticWeightAveraging --callbacks.swa_lrs 0.02 --callbacks.swa_epoch_start 0.5 "
     "--callbacks.annealing_epochs 1 --callbacks.annealing_strategy linear"),
]


def data():
    """Exact in float32: x[i, j] = ((7i + 3j) % 11 - 5) / 4, y[i] = ((5i) % 7 - 3) / 2."""
    x = torch.tensor([[((7 * i + 3 * j) % 11 - 5) / 4 for j in range(3)] for i in range(10)])
    y = torch.tensor([[((5 * i) % 7 - 3) / 2] for i in range(10)])
    return x, y


class SwaBn(pl.LightningModule):
    def __init__(self):
        super().__init__()
        self.fc1 = torch.nn.Linear(3, 4)
        self.bn = torch.nn.BatchNorm1d(4)
        self.fc2 = torch.nn.Linear(4, 1)

    def training_step(self, batch, i):
        x, y = batch
        out = self.fc2(torch.relu(self.bn(self.fc1(x))))
        return torch.nn.functional.mse_loss(out, y)

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


def lines_of(state):
    out = []
    for k, v in state.items():
        vals = v.detach().reshape(-1).tolist()
        out.append(f"state {k} " + " ".join(f"{float(a):.9g}" for a in vals))
    return out


def main():
    torch.manual_seed(0)
    init = SwaBn()
    save_file({k: v.contiguous() for k, v in init.state_dict().items()},
              os.path.join(FIX, "swa_bn_init.safetensors"))
    x, y = data()
    out = [f"# Lightning {pl.__version__}, torch {torch.__version__}: tests/reference/swa_batch_norm.py"]
    for name, epochs, opts, flags in CASES:
        model = SwaBn()
        model.load_state_dict(init.state_dict())
        trainer = pl.Trainer(max_epochs=epochs, callbacks=[StochasticWeightAveraging(**opts)],
                             logger=False, enable_checkpointing=False, enable_progress_bar=False,
                             enable_model_summary=False, accelerator="cpu", limit_val_batches=0)
        trainer.fit(model, DataLoader(TensorDataset(x, y), batch_size=4))
        out.append(f"== {name} {epochs} {flags}")
        out += lines_of(model.state_dict())
    with open(os.path.join(FIX, "swa_bn_lightning.txt"), "w") as f:
        f.write("\n".join(out) + "\n")
    print("\n".join(out))


if __name__ == "__main__":
    sys.exit(main())
