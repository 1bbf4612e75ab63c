#!/usr/bin/env python3
"""Make tests/fixtures/csv_layout_lightning.csv: the metrics.csv real Lightning writes.

    bench/.venv/bin/python tests/reference/csv_layout.py [OUT]

Provenance of the fixture (CSV has no comment syntax, so it is recorded here): this
script, run with lightning 2.6.6 and torch on CPU, copies the metrics.csv of one
Trainer.fit to OUT (default tests/fixtures/csv_layout_lightning.csv). The scenario:

  * a LightningModule holding one nn.Linear(4, 2), SGD lr 0.1, MSE loss;
  * train: TensorDataset of 12 random samples, batch_size 4 -> 3 batches an epoch;
    val: 8 samples, batch_size 4 -> 2 batches;
  * training_step logs self.log("train_loss", loss, on_step=True, on_epoch=True,
    prog_bar=True) and self.log("lr_const", 0.5); validation_step logs
    self.log("val_loss", loss);
  * Trainer(max_epochs=2, log_every_n_steps=2, num_sanity_val_steps=0, CPU,
    deterministic=True, enable_checkpointing=False, enable_progress_bar=False,
    enable_model_summary=False, logger=CSVLogger(save_dir=tmp)) with the logger's
    default flush (flush_logs_every_n_steps=100).

What the C trainer is compared on is the layout — the header and which cells are
empty — not the values (those depend on torch's random numbers).
"""
import os
import shutil
import sys
import tempfile

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import lightning as L
from lightning.pytorch.loggers import CSVLogger

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_OUT = os.path.join(HERE, "..", "fixtures", "csv_layout_lightning.csv")


class Model(L.LightningModule):
    def __init__(self):
        super().__init__()
        self.layer = nn.Linear(4, 2)

    def _loss(self, batch):
        x, y = batch
        return nn.functional.mse_loss(self.layer(x), y)

    def training_step(self, batch, batch_idx):
        loss = self._loss(batch)
        self.log("train_loss", loss, on_step=True, on_epoch=True, prog_bar=True)
        self.log("lr_const", 0.5)
        return loss

    def validation_step(self, batch, batch_idx):
        self.log("val_loss", self._loss(batch))

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


def loaders():
    g = torch.Generator().manual_seed(0)
    train = TensorDataset(torch.randn(12, 4, generator=g), torch.randn(12, 2, generator=g))
    val = TensorDataset(torch.randn(8, 4, generator=g), torch.randn(8, 2, generator=g))
    return DataLoader(train, batch_size=4), DataLoader(val, batch_size=4)


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else DEFAULT_OUT
    L.seed_everything(0, verbose=False)
    with tempfile.TemporaryDirectory() as tmp:
        logger = CSVLogger(save_dir=tmp)
        trainer = L.Trainer(
            max_epochs=2, log_every_n_steps=2, num_sanity_val_steps=0,
            accelerator="cpu", devices=1, deterministic=True,
            enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
            logger=logger,
        )
        train, val = loaders()
        trainer.fit(Model(), train, val)
        shutil.copyfile(os.path.join(logger.log_dir, "metrics.csv"), out)
    print(f"wrote {os.path.normpath(out)}")


if __name__ == "__main__":
    main()
