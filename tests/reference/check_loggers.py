#!/usr/bin/env python3
"""Check a log directory written by lthost's loggers with TensorBoard's own reader.

    check_loggers.py DIR

DIR holds events.out.tfevents.* (host/loggers/tensorboard.c) and metrics.csv
(host/loggers/csv.c), both fed the same log calls. Every scalar TensorBoard's
EventAccumulator reads (tag, step, value) must be a non-empty cell of metrics.csv in
column tag of a row with that step, equal at float32 precision (TensorBoard stores
simple_value as float32), and the CSV must hold no cell that TensorBoard lacks. If
DIR/hparams.yaml exists, PyYAML must load it and dump it back unchanged, i.e. it is
what Lightning's save_hparams_to_yaml would write for those values.

Make such a directory with the unit test's reference_dir case:
    LT_LOGGERS_OUT=/tmp/out CK_RUN_SUITE=loggers CK_RUN_CASE=loggers build/tests/unit_tests
then run this on the printed /tmp/out/lightning_logs/version_N. Needs tensorboard (and
PyYAML) in the Python that runs it: bench/.venv has both after
`bench/.venv/bin/pip install tensorboard`.
"""
import collections
import csv
import glob
import os
import struct
import sys

from tensorboard.backend.event_processing.event_accumulator import EventAccumulator


def f32(x):
    return struct.unpack("<f", struct.pack("<f", float(x)))[0]


def tb_scalars(directory):
    files = glob.glob(os.path.join(directory, "events.out.tfevents.*"))
    assert len(files) == 1, f"expected one event file in {directory}, found {files}"
    acc = EventAccumulator(files[0], size_guidance={"scalars": 0})  # 0: keep every event
    acc.Reload()
    return [(tag, ev.step, ev.value) for tag in acc.Tags()["scalars"] for ev in acc.Scalars(tag)]


def csv_cells(path):
    """(tag, step) -> the float32 values of the non-empty cells."""
    cells = collections.defaultdict(list)
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            step = int(row["step"])
            for key, text in row.items():
                if key != "step" and text != "":
                    cells[(key, step)].append(f32(text))
    return cells


def check_hparams(path):
    import yaml
    with open(path, newline="") as f:
        text = f.read()
    again = yaml.dump(yaml.safe_load(text))
    assert again == text, f"{path} is not what yaml.dump writes:\n{text}\nvs\n{again}"


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    directory = sys.argv[1]
    scalars = tb_scalars(directory)
    cells = csv_cells(os.path.join(directory, "metrics.csv"))
    for tag, step, value in scalars:
        have = cells.get((tag, step), [])
        assert f32(value) in have, f"TensorBoard {tag}@{step} = {value!r}, metrics.csv has {have}"
        have.remove(f32(value))
    left = {k: v for k, v in cells.items() if v}
    assert not left, f"metrics.csv cells TensorBoard lacks: {left}"
    assert scalars, "no scalars"
    hparams = os.path.join(directory, "hparams.yaml")
    if os.path.exists(hparams):
        check_hparams(hparams)
    print(f"ok: {len(scalars)} scalars" + (" (hparams.yaml round-trips)" if os.path.exists(hparams) else ""))


if __name__ == "__main__":
    main()
