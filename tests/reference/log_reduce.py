#!/usr/bin/env python3
"""Make tests/fixtures/log_reduce_lightning.csv: how Lightning reduces logged values
over an epoch (self.log's reduce_fx and batch_size, self.log_dict).

    tests/reference/.venv/bin/python tests/reference/log_reduce.py [OUT]

Provenance (CSV has no comments): this script, run with lightning 2.6 and torch on CPU,
copies the metrics.csv of one Trainer.fit to OUT (default
tests/fixtures/log_reduce_lightning.csv). The scenario, which tests/e2e/plugins/
log_reduce.c repeats for lthost:

  * 10 training samples, batch_size 4 -> batches of 4, 4 and 2 (the last one smaller, so
    a batch-size-weighted mean differs from a plain one); 2 epochs; no validation;
  * in batch b of epoch e, v = 10 e + b + 1 (a number that needs no random state) is logged
    with on_step=False, on_epoch=True as v_mean (reduce_fx mean, weighted by the batch
    size), v_sum, v_max, v_min (reduce_fx "sum", "max", "min"), v_bs1 (batch_size=1: an
    unweighted mean), and with self.log_dict({"d_twice": 2 v, "d_const": 1.5}) likewise;
  * the loss is a real one (a Linear layer's MSE) so the optimizer runs; it is not logged.

Trainer(max_epochs=2, log_every_n_steps=1, CPU, enable_checkpointing=False,
enable_progress_bar=False, enable_model_summary=False, logger=CSVLogger(save_dir=tmp)).
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
DEFAULT_OUT = os.path.join(HERE, "..", "fixtures", "log_reduce_lightning.csv")


class Model(L.LightningModule):
    def __init__(self):
        super().__init__()
        self.layer = nn.Linear(2, 1)

    def training_step(self, batch, batch_idx):
        x, y = batch
        v = torch.tensor(10.0 * self.current_epoch + batch_idx + 1)
        kw = dict(on_step=False, on_epoch=True)
        self.log("v_mean", v, **kw)
        self.log("v_sum", v, reduce_fx="sum", **kw)
        self.log("v_max", v, reduce_fx="max", **kw)
        self.log("v_min", v, reduce_fx="min", **kw)
        self.log("v_bs1", v, batch_size=1, **kw)
        self.log_dict({"d_twice": 2 * v, "d_const": 1.5}, **kw)
        return nn.functional.mse_loss(self.layer(x), y)

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.01)


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else DEFAULT_OUT
    L.seed_everything(0, verbose=False)
    train = TensorDataset(torch.zeros(10, 2), torch.zeros(10, 1))
    with tempfile.TemporaryDirectory() as tmp:
        trainer = L.Trainer(
            max_epochs=2, log_every_n_steps=1, accelerator="cpu", devices=1,
            enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
            logger=CSVLogger(save_dir=tmp),
        )
        trainer.fit(Model(), DataLoader(train, batch_size=4))
        shutil.copy(os.path.join(trainer.logger.log_dir, "metrics.csv"), out)


if __name__ == "__main__":
    main()
