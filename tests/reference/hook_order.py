#!/usr/bin/env python3
"""Record the order in which Lightning 2.x calls every LightningModule and Callback hook,
for fit / validate / test / predict, and write it to tests/fixtures/hook_order_<stage>.txt
(one hook per line, "module.<hook>" or "callback.<hook>"). lthost's trainer must call its
hooks in the same order (issue: Trainer loops and hook order).

Setup as specified there: 1 epoch, 2 train + 2 val batches, sanity check on (2 steps),
no logger, no checkpointing, no progress bar, no model summary.

  bench/.venv/bin/python tests/reference/hook_order.py      (any venv with lightning)
"""
import inspect
import os

import lightning as L
import torch
from lightning.pytorch.core.hooks import CheckpointHooks, DataHooks, ModelHooks

OUT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "fixtures")
# Data plumbing Lightning calls on every batch or that only exists for multi-device runs;
# lthost has no counterpart, so they are left out of the fixture.
IGNORED = {"transfer_batch_to_device", "on_before_batch_transfer", "on_after_batch_transfer",
           "prepare_data", "train_dataloader", "val_dataloader", "test_dataloader",
           "predict_dataloader", "configure_sharded_model", "configure_model",
           "on_save_checkpoint", "on_load_checkpoint", "state_dict", "load_state_dict",
           "setup_cache", "on_exception", "configure_gradient_clipping"}


def hook_names(*classes):
    names = set()
    for c in classes:
        for n, f in inspect.getmembers(c, inspect.isfunction):
            if not n.startswith("_") and n not in IGNORED:
                names.add(n)
    return sorted(names)


MODULE_HOOKS = hook_names(ModelHooks, DataHooks, CheckpointHooks) + [
    "configure_optimizers", "training_step", "validation_step", "test_step", "predict_step",
    "backward", "optimizer_step", "optimizer_zero_grad", "setup", "teardown"]
CALLBACK_HOOKS = hook_names(L.Callback)


def recording(cls, hooks, prefix, log):
    """A subclass of cls whose every hook appends prefix.hook to log, then does its job."""
    def wrap(name):
        base = getattr(cls, name)

        def method(self, *args, **kwargs):
            log.append(f"{prefix}.{name}")
            return base(self, *args, **kwargs)
        return method
    return type(f"Recording{cls.__name__}", (cls,), {n: wrap(n) for n in hooks if hasattr(cls, n)})


class Model(L.LightningModule):
    def __init__(self):
        super().__init__()
        self.layer = torch.nn.Linear(4, 2)

    def forward(self, x):
        return self.layer(x)

    def training_step(self, batch, i):
        return torch.nn.functional.cross_entropy(self(batch[0]), batch[1])

    def validation_step(self, batch, i):
        self.log("val_loss", torch.nn.functional.cross_entropy(self(batch[0]), batch[1]))

    def test_step(self, batch, i):
        self.log("test_loss", torch.nn.functional.cross_entropy(self(batch[0]), batch[1]))

    def predict_step(self, batch, i):
        return self(batch[0])

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


def loader():
    x, y = torch.randn(4, 4), torch.randint(0, 2, (4,))
    return torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=2)


def run(stage):
    log = []
    model = recording(Model, MODULE_HOOKS, "module", log)()
    callback = recording(L.Callback, CALLBACK_HOOKS, "callback", log)()
    trainer = L.Trainer(max_epochs=1, limit_train_batches=2, limit_val_batches=2,
                        num_sanity_val_steps=2, logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False,
                        callbacks=[callback], accelerator="cpu", devices=1)
    if stage == "fit":
        trainer.fit(model, loader(), loader())
    else:
        getattr(trainer, stage)(model, loader())
    return log


def main():
    os.makedirs(OUT, exist_ok=True)
    for stage in ("fit", "validate", "test", "predict"):
        log = run(stage)
        with open(os.path.join(OUT, f"hook_order_{stage}.txt"), "w") as f:
            f.write(f"# Lightning {L.__version__}, torch {torch.__version__}: tests/reference/hook_order.py\n")
            f.write("\n".join(log) + "\n")
        print(f"{stage}: {len(log)} hook calls")


if __name__ == "__main__":
    main()
