#!/usr/bin/env python3
"""Record which actions Lightning 2.x's SimpleProfiler times, and how often, for fit /
validate / test / predict, and write them to tests/fixtures/profiler_actions_<stage>.txt
(one "<count> <action>" line per action, sorted by action name). lthost's profiler is to
be checked against them; Lightning also times data plumbing a C host may not have
("[Strategy]SingleDeviceStrategy.batch_to_device", ...): everything is kept here and the
C side decides what it matches.

Also writes two complete fit reports, byte for byte the string SimpleProfiler hands to its
output stream (its summary(), with real timings, so they differ from run to run):
  tests/fixtures/simple_profiler_report_fit.txt           SimpleProfiler(extended=False)
  tests/fixtures/simple_profiler_report_fit_extended.txt  SimpleProfiler(extended=True), the default

Same Trainer setup as hook_order.py: 1 epoch, 2 batches per loop, sanity check on (2 steps),
no logger, no checkpointing, no progress bar, no model summary, deterministic, 1 CPU device.
The module and datamodule are called MLP and FashionMNISTDataModule because their class
names are part of the action names ("[LightningModule]MLP.training_step").

  bench/.venv/bin/python tests/reference/profiler_actions.py      (any venv with lightning)
"""
import os

import lightning as L
import torch
from lightning.pytorch.profilers import SimpleProfiler

OUT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "fixtures")


class MLP(L.LightningModule):
    def __init__(self):
        super().__init__()
        self.net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(28 * 28, 32),
                                       torch.nn.ReLU(), torch.nn.Linear(32, 10))

    def forward(self, x):
        return self.net(x)

    def training_step(self, batch, i):
        loss = torch.nn.functional.cross_entropy(self(batch[0]), batch[1])
        self.log("train_loss", loss)
        return loss

    def validation_step(self, batch, i):
        self.log("val_loss", torch.nn.functional.cross_entropy(self(batch[0]), batch[1]))

    def test_step(self, batch, i):
        self.log("test_loss", torch.nn.functional.cross_entropy(self(batch[0]), batch[1]))

    def predict_step(self, batch, i):
        return self(batch[0]).argmax(dim=1)

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=1e-3)


class FashionMNISTDataModule(L.LightningDataModule):
    """Random images shaped like Fashion-MNIST's; enough for 2 batches of 4 per loop."""

    def __init__(self, batch_size=4, n=16):
        super().__init__()
        self.batch_size, self.n = batch_size, n

    def setup(self, stage):
        g = torch.Generator().manual_seed(0)
        x, y = torch.rand(self.n, 1, 28, 28, generator=g), torch.randint(0, 10, (self.n,), generator=g)
        self.data = torch.utils.data.TensorDataset(x, y)

    def _loader(self):
        return torch.utils.data.DataLoader(self.data, batch_size=self.batch_size)

    def train_dataloader(self):
        return self._loader()

    def val_dataloader(self):
        return self._loader()

    def test_dataloader(self):
        return self._loader()

    def predict_dataloader(self):
        return self._loader()


class CapturingProfiler(SimpleProfiler):
    """SimpleProfiler that also keeps every summary() string (what describe() writes)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.reports = []

    def summary(self):
        s = super().summary()
        self.reports.append(s)
        return s


def run(stage, extended=True):
    torch.manual_seed(0)
    profiler = CapturingProfiler(extended=extended)
    trainer = L.Trainer(max_epochs=1, limit_train_batches=2, limit_val_batches=2,
                        limit_test_batches=2, limit_predict_batches=2,
                        num_sanity_val_steps=2, logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False,
                        deterministic=True, accelerator="cpu", devices=1, profiler=profiler)
    getattr(trainer, stage)(MLP(), datamodule=FashionMNISTDataModule())
    assert len(profiler.reports) == 1, profiler.reports
    return profiler


def main():
    os.makedirs(OUT, exist_ok=True)
    header = f"# Lightning {L.__version__}, torch {torch.__version__}: tests/reference/profiler_actions.py\n"
    for stage in ("fit", "validate", "test", "predict"):
        profiler = run(stage)
        counts = {a: len(d) for a, d in profiler.recorded_durations.items()}
        with open(os.path.join(OUT, f"profiler_actions_{stage}.txt"), "w") as f:
            f.write(header)
            f.write("# SimpleProfiler.recorded_durations after the run: <calls> <action>, sorted by action\n")
            f.write("".join(f"{counts[a]} {a}\n" for a in sorted(counts)))
        print(f"{stage}: {len(counts)} actions, {sum(counts.values())} calls")
        if stage == "fit":
            extended_report = profiler.reports[0]
    plain_report = run("fit", extended=False).reports[0]
    for name, report in (("simple_profiler_report_fit.txt", plain_report),
                         ("simple_profiler_report_fit_extended.txt", extended_report)):
        with open(os.path.join(OUT, name), "w", newline="") as f:
            f.write(report)


if __name__ == "__main__":
    main()
