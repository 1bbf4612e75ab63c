#!/usr/bin/env python3
"""Record what Lightning 2.x does with two validation and two test dataloaders, into
tests/fixtures/multi_dataloader_lightning.json, which tests/e2e/test_multi_dataloader.sh
compares lthost against:

- hooks: the module's evaluation hooks in call order, each with the dataloader_idx and
  batch_idx it was given ("validation_step 1 0"); fit with a 1-batch sanity check, then
  test;
- fit_metrics / test_metrics: trainer.callback_metrics' keys after fit and after test;
- logged_keys: the columns CSVLogger wrote to metrics.csv (besides epoch and step);
- rows: each row of metrics.csv as [epoch ("" when the row has none), step, the keys
  with a value].

Setup: 8 training samples (batch 2, limit_train_batches 2), val dataloaders of 6 and 4
samples, test dataloaders of 4 and 2, batch 2, 1 epoch. validation_step logs val_loss
(on_epoch, Lightning's default there) and val_acc (on_step and on_epoch);
on_validation_epoch_end logs val_seen; test_step logs test_loss.

  tests/reference/.venv/bin/python tests/reference/multi_dataloader.py
"""
import csv
import json
import os
import tempfile

import lightning as L
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "fixtures", "multi_dataloader_lightning.json")


class Model(L.LightningModule):
    def __init__(self, log):
        super().__init__()
        self.layer = torch.nn.Linear(3, 2)
        self.hooks = log

    def rec(self, name, dataloader_idx=None, batch_idx=None):
        line = name if batch_idx is None else f"{name} {dataloader_idx} {batch_idx}"
        self.hooks.append(line)

    def training_step(self, batch, i):
        return torch.nn.functional.cross_entropy(self.layer(batch[0]), batch[1])

    def on_validation_start(self):
        self.rec("on_validation_start")

    def on_validation_epoch_start(self):
        self.rec("on_validation_epoch_start")

    def on_validation_batch_start(self, batch, batch_idx, dataloader_idx=0):
        self.rec("on_validation_batch_start", dataloader_idx, batch_idx)

    def validation_step(self, batch, batch_idx, dataloader_idx=0):
        self.rec("validation_step", dataloader_idx, batch_idx)
        logits = self.layer(batch[0])
        self.log("val_loss", torch.nn.functional.cross_entropy(logits, batch[1]))
        acc = (logits.argmax(1) == batch[1]).float().mean()
        self.log("val_acc", acc, on_step=True, on_epoch=True)

    def on_validation_batch_end(self, outputs, batch, batch_idx, dataloader_idx=0):
        self.rec("on_validation_batch_end", dataloader_idx, batch_idx)

    def on_validation_epoch_end(self):
        self.rec("on_validation_epoch_end")
        self.log("val_seen", torch.tensor(1.0))

    def on_validation_end(self):
        self.rec("on_validation_end")

    def on_test_start(self):
        self.rec("on_test_start")

    def on_test_batch_start(self, batch, batch_idx, dataloader_idx=0):
        self.rec("on_test_batch_start", dataloader_idx, batch_idx)

    def test_step(self, batch, batch_idx, dataloader_idx=0):
        self.rec("test_step", dataloader_idx, batch_idx)
        self.log("test_loss", torch.nn.functional.cross_entropy(self.layer(batch[0]), batch[1]))

    def on_test_epoch_end(self):
        self.rec("on_test_epoch_end")

    def on_test_end(self):
        self.rec("on_test_end")

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


def loader(n, seed):
    g = torch.Generator().manual_seed(seed)
    x, y = torch.randn(n, 3, generator=g), torch.randint(0, 2, (n,), generator=g)
    return torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=2)


def main():
    torch.manual_seed(0)
    hooks = []
    model = Model(hooks)
    with tempfile.TemporaryDirectory() as tmp:
        logger = L.pytorch.loggers.CSVLogger(tmp, name="", version="")
        trainer = L.Trainer(max_epochs=1, limit_train_batches=2, num_sanity_val_steps=1,
                            logger=logger, enable_checkpointing=False, enable_progress_bar=False,
                            enable_model_summary=False, accelerator="cpu", devices=1)
        trainer.fit(model, loader(8, 1), [loader(6, 2), loader(4, 3)])
        fit_metrics = sorted(trainer.callback_metrics)
        trainer.test(model, [loader(4, 4), loader(2, 5)], verbose=False)
        test_metrics = sorted(trainer.callback_metrics)
        with open(os.path.join(tmp, "metrics.csv")) as f:
            table = list(csv.DictReader(f))
    logged = sorted(k for k in table[0] if k not in ("epoch", "step"))
    rows = [[r["epoch"], int(r["step"]), sorted(k for k in logged if r[k] != "")] for r in table]
    result = {"source": f"Lightning {L.__version__}, torch {torch.__version__}: "
                        "tests/reference/multi_dataloader.py",
              "hooks": hooks, "fit_metrics": fit_metrics, "test_metrics": test_metrics,
              "logged_keys": logged, "rows": rows}
    with open(OUT, "w") as f:
        json.dump(result, f, indent=1)
        f.write("\n")
    print(f"{OUT}: {len(hooks)} hook calls, {len(logged)} logged keys")


if __name__ == "__main__":
    main()
