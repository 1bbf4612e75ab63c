#!/usr/bin/env python3
"""Check lt_log_image's output in a log directory with TensorBoard's own reader.

    check_images.py DIR

DIR (a lightning_logs/version_N) holds events.out.tfevents.* and images/<tag>/step_<N>.png.
TensorBoard's EventAccumulator must list every images/<tag> folder as an image tag with
one event per PNG file, at step N, whose width and height are the PNG's and whose
encoded_image_string is the file's bytes; PIL must decode each PNG to an RGB image of
that size. Run by tests/e2e/test_dcgan.sh when tests/reference/.venv exists (it needs
tensorboard and pillow)."""
import glob
import io
import os
import re
import sys

from PIL import Image
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator


def main(directory):
    files = glob.glob(os.path.join(directory, "events.out.tfevents.*"))
    assert len(files) == 1, f"expected one event file in {directory}, found {files}"
    acc = EventAccumulator(files[0], size_guidance={"images": 0})  # 0: keep every event
    acc.Reload()
    tags = sorted(os.listdir(os.path.join(directory, "images")))
    assert sorted(acc.Tags()["images"]) == tags, (acc.Tags()["images"], tags)
    checked = 0
    for tag in tags:
        pngs = {int(re.fullmatch(r"step_(\d+)\.png", f).group(1)): f
                for f in os.listdir(os.path.join(directory, "images", tag))}
        events = acc.Images(tag)
        assert sorted(e.step for e in events) == sorted(pngs), (tag, [e.step for e in events], pngs)
        for e in events:
            data = open(os.path.join(directory, "images", tag, pngs[e.step]), "rb").read()
            assert e.encoded_image_string == data, f"{tag} step {e.step}: the event's PNG differs"
            im = Image.open(io.BytesIO(data))
            assert im.mode == "RGB" and im.size == (e.width, e.height), (im.mode, im.size, e.width, e.height)
            checked += 1
    print(f"ok: TensorBoard reads {checked} images under {len(tags)} tags, equal to the PNG files")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
