#!/usr/bin/env python3
"""Read what tests/e2e/test_logger_plugins.sh's mlflow,tensorboard run wrote with MLflow's
and TensorBoard's own readers.

    check_mlflow_histograms.py STORE EVENT_DIR

STORE (an mlruns folder): MLflow's client finds experiment 'lightning_logs', one FINISHED
run named 'first' with param lr '0.1' and val_loss at steps 2 and 5. EVENT_DIR: TensorBoard's
EventAccumulator reads histogram fc.weight at two steps, each a HistogramProto as
torch.utils.tensorboard's make_histogram (bins "tensorflow") builds: 7840 values, bucket
limits taken from torch's default bins, counts summing to num, min/max inside the buckets.
"""
import os
import sys

# MLflow 3 keeps the file store in maintenance mode behind this switch (`mlflow ui` too).
os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")

from mlflow.tracking import MlflowClient
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from torch.utils.tensorboard import summary


def check_mlflow(store):
    client = MlflowClient(tracking_uri="file:" + store)
    exp = client.get_experiment_by_name("lightning_logs")
    assert exp is not None, "no experiment lightning_logs"
    runs = [r for r in client.search_runs([exp.experiment_id]) if r.info.run_name == "first"]
    assert len(runs) == 1, f"runs named first: {len(runs)}"
    run = runs[0]
    assert run.info.status == "FINISHED", run.info.status
    assert run.data.params.get("lr") == "0.1", run.data.params
    steps = [m.step for m in client.get_metric_history(run.info.run_id, "val_loss")]
    assert steps == [2, 5], steps
    print(f"ok: mlflow reads run {run.info.run_id} of experiment {exp.experiment_id}: "
          f"{len(run.data.metrics)} metrics, params {run.data.params}")


def default_limits():
    # SummaryWriter's bins="tensorflow" (writer.py: default_bins)
    import numpy as np
    from torch.utils.tensorboard import SummaryWriter
    import tempfile
    with tempfile.TemporaryDirectory() as d:
        w = SummaryWriter(d)
        bins = w.default_bins
        w.close()
    return set(bins), bins, np


def check_histograms(event_dir):
    acc = EventAccumulator(event_dir, size_guidance={"histograms": 0})
    acc.Reload()
    events = acc.Histograms("fc.weight")
    assert len(events) == 2, f"{len(events)} histogram events"
    limits, torch_bins, np = default_limits()
    for e in events:
        h = e.histogram_value
        assert h.num == 7840, h.num
        assert sum(h.bucket) == h.num, (sum(h.bucket), h.num)
        assert all(x in limits for x in h.bucket_limit), "a bucket limit is not a torch edge"
        assert list(h.bucket_limit) == sorted(h.bucket_limit)
        assert h.bucket[0] == 0 and h.bucket[-1] > 0, "not trimmed as make_histogram trims"
        assert h.bucket_limit[0] <= h.min and h.max <= h.bucket_limit[-1]
        # torch on values placed like ours: same limits for the same occupied buckets
        below = np.nextafter(np.array(h.bucket_limit), -np.inf)  # inside [left, right)
        vals = np.repeat(below, np.array(h.bucket, dtype=int))
        ref = summary.histogram("t", vals, torch_bins).value[0].histo
        assert list(ref.bucket_limit) == list(h.bucket_limit), "bucket limits differ from torch's"
        assert list(ref.bucket) == list(h.bucket), "bucket counts differ from torch's"
    print(f"ok: TensorBoard reads fc.weight histograms at steps {[e.step for e in events]}")


if __name__ == "__main__":
    check_mlflow(sys.argv[1])
    check_histograms(sys.argv[2])
