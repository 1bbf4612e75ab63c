"""Writes tests/fixtures/weight_averaging_lightning.txt: what Lightning's
StochasticWeightAveraging and EMAWeightAveraging do to the module of
tests/e2e/plugins/avg_probe.c (one parameter w = zeros(4), loss sum(w * c), SGD lr 0.1,
10 zero samples in batches of 4). Per case: the lr at each epoch start (SWALR's schedule)
and the weights after fit (the average). tests/e2e/test_weight_averaging.sh runs the same
cases with lthost and compares. Run: tests/reference/.venv/bin/python tests/reference/weight_averaging.py
"""
import os
import sys

import torch
from torch.utils.data import DataLoader, TensorDataset

import lightning.pytorch as pl
from lightning.pytorch.callbacks import EMAWeightAveraging, StochasticWeightAveraging

COEF = torch.tensor([1.0, -2.0, 0.5, 3.0])
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures",
                   "weight_averaging_lightning.txt")

# name, max_epochs, callback, and the lthost flags that say the same (the test reads them)
CASES = [
    ("swa_cos", 6, lambda: StochasticWeightAveraging(swa_lrs=0.02, swa_epoch_start=2, annealing_epochs=2),
     "--callbacks StochasticWeightAveraging --callbacks.swa_lrs 0.02 --callbacks.swa_epoch_start 2 "
     "--callbacks.annealing_epochs 2"),
    ("swa_linear_frac", 7, lambda: StochasticWeightAveraging(
        swa_lrs=0.05, swa_epoch_start=0.4, annealing_epochs=3, annealing_strategy="linear"),
     "--callbacks StochasticWeightAveraging --callbacks.swa_lrs 0.05 --callbacks.swa_epoch_start 0.4 "
     "--callbacks.annealing_epochs 3 --callbacks.annealing_strategy linear"),
    ("swa_no_anneal", 4, lambda: StochasticWeightAveraging(swa_lrs=0.3, swa_epoch_start=1, annealing_epochs=0),
     "--callbacks StochasticWeightAveraging --callbacks.swa_lrs 0.3 --callbacks.swa_epoch_start 1 "
     "--callbacks.annealing_epochs 0"),
    ("swa_lrs_list", 5, lambda: StochasticWeightAveraging(swa_lrs=[0.03, 0.4], swa_epoch_start=2, annealing_epochs=2),
     "--model.groups 2 --callbacks StochasticWeightAveraging --callbacks.swa_lrs [0.03,0.4] "
     "--callbacks.swa_epoch_start 2 --callbacks.annealing_epochs 2"),
    ("ema", 3, lambda: EMAWeightAveraging(decay=0.9, update_every_n_steps=2),
     "--callbacks EMAWeightAveraging --callbacks.decay 0.9 --callbacks.update_every_n_steps 2"),
    ("ema_epoch", 3, lambda: EMAWeightAveraging(decay=0.5, update_every_n_steps=0, update_starting_at_epoch=1),
     "--callbacks EMAWeightAveraging --callbacks.decay 0.5 --callbacks.update_every_n_steps 0 "
     "--callbacks.update_starting_at_epoch 1"),
]


COEF_V = torch.tensor([-1.0, 4.0])


class Probe(pl.LightningModule):
    """groups=2 (lthost's --model.groups 2): a second parameter v in its own group, lr 0.2."""

    def __init__(self, lines, groups=1):
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(4))
        self.v = torch.nn.Parameter(torch.zeros(2)) if groups == 2 else None
        self.lines = lines

    def training_step(self, batch, i):
        loss = (self.w * COEF).sum()
        return loss if self.v is None else loss + (self.v * COEF_V).sum()

    def configure_optimizers(self):
        if self.v is None:
            return torch.optim.SGD(self.parameters(), lr=0.1)
        return torch.optim.SGD([{"params": [self.w]}, {"params": [self.v], "lr": 0.2}], lr=0.1)

    def on_train_epoch_start(self):
        lrs = " ".join(f"{g['lr']:.9g}" for g in self.optimizers().param_groups)
        self.lines.append(f"epoch {self.current_epoch} lr {lrs}")

    def on_fit_end(self):
        vals = self.w.detach().tolist() + ([] if self.v is None else self.v.detach().tolist())
        self.lines.append("final " + " ".join(f"{v:.9g}" for v in vals))


def run(name, epochs, make_cb, flags):
    lines = [f"== {name} {epochs} {flags}"]
    data = DataLoader(TensorDataset(torch.zeros(10, 2), torch.zeros(10, 1)), batch_size=4)
    trainer = pl.Trainer(max_epochs=epochs, callbacks=[make_cb()], logger=False,
                         enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False, accelerator="cpu", limit_val_batches=0)
    trainer.fit(Probe(lines, 2 if "--model.groups 2" in flags else 1), data)
    return lines


def main():
    out = [f"# Lightning {pl.__version__}, torch {torch.__version__}: tests/reference/weight_averaging.py"]
    for case in CASES:
        out += run(*case)
    with open(OUT, "w") as f:
        f.write("\n".join(out) + "\n")
    print("\n".join(out))


if __name__ == "__main__":
    sys.exit(main())
