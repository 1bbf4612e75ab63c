"""embed_onnx — the encoder that docs/examples/embed.c exported, run by onnxruntime.

    embed CKPT autoencoder IDX_IMAGES_FILE encoder.onnx     # the C program writes it
    python embed_onnx.py encoder.onnx [IDX_IMAGES_FILE]     # pip install onnxruntime numpy

Prints the 3-d embedding of the first 8 images, "i: e0 e1 e2", as embed does: no lthost
and no torch here, only the ONNX file. The images are normalised as the fashion_mnist
data plugin does (ToTensor, then Normalize(0.2860, 0.3530)), in float32.
"""
import gzip
import sys

import numpy as np
import onnxruntime as ort

DEFAULT_IMAGES = "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz"


def read_images(path, n):
    """The first n images of an IDX file (gzip or not) as float32 (n, 1, 28, 28)."""
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    if raw[:4] != b"\x00\x00\x08\x03" or len(raw) < 16 + n * 784:
        sys.exit(f"embed_onnx: {path}: expected an IDX file of at least {n} 28x28 images")
    pixels = np.frombuffer(raw, dtype=np.uint8, count=n * 784, offset=16)
    x = (pixels.astype(np.float32) / np.float32(255) - np.float32(0.2860)) / np.float32(0.3530)
    return x.reshape(n, 1, 28, 28)


def main():
    if len(sys.argv) not in (2, 3):
        sys.exit("usage: embed_onnx.py ENCODER.onnx [IDX_IMAGES_FILE]")
    x = read_images(sys.argv[2] if len(sys.argv) == 3 else DEFAULT_IMAGES, 8)
    sess = ort.InferenceSession(sys.argv[1], providers=["CPUExecutionProvider"])
    z = sess.run(None, {"input": x})[0]  # lthost names the graph's input "input"
    for i, row in enumerate(z):
        print(f"{i}: " + " ".join(f"{v:g}" for v in row))


if __name__ == "__main__":
    main()
