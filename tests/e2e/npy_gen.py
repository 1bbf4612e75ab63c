"""Writes .npy / .npz files without numpy, for tests/e2e/test_data_npy.sh.
usage: npy_gen.py DIR   (writes the files and DIR/<name>.json with the samples)"""
import json
import random
import struct
import sys
import zipfile

CODES = {"<f4": "f", "<f8": "d", "<i8": "q", "<i4": "i", "|u1": "B"}
HALF = {"<f2": "e"}  # written on demand, not among the dtypes every test loops over


def npy_bytes(descr, shape, values, fortran=False, version=1, header=None):
    if header is None:
        shp = "(" + "".join(f"{d}, " for d in shape).rstrip(" ") + ")" if len(shape) != 1 \
            else f"({shape[0]},)"
        header = f"{{'descr': '{descr}', 'fortran_order': {fortran}, 'shape': {shp}, }}"
    pre = 10 if version == 1 else 12
    pad = (64 - (pre + len(header) + 1) % 64) % 64
    header = (header + " " * pad + "\n").encode()
    size = struct.pack("<H", len(header)) if version == 1 else struct.pack("<I", len(header))
    data = struct.pack("<%d%s" % (len(values), {**CODES, **HALF}.get(descr, "f")), *values)
    return b"\x93NUMPY" + bytes([version, 0]) + size + header + data


def write(path, data):
    with open(path, "wb") as f:
        f.write(data)


def flat(rows):
    return [v for r in rows for v in r]


def main():
    d = sys.argv[1]
    rng = random.Random(7)
    n = 120
    xs = [[rng.randint(0, 255) for _ in range(6)] for _ in range(n)]
    ys = [int(sum(r[:3]) > sum(r[3:])) for r in xs]
    samples = [[r, [y]] for r, y in zip(xs, ys)]
    json.dump(samples, open(f"{d}/cls.json", "w"))
    for descr in CODES:
        write(f"{d}/x_{descr[1:]}.npy", npy_bytes(descr, (n, 2, 3), flat(xs)))
    for descr in ("<i8", "<i4", "|u1"):
        write(f"{d}/y_{descr[1:]}.npy", npy_bytes(descr, (n,), ys))
    # regression: y (N, 2) float64 from x
    yr = [[sum(r) / 64, (r[0] - r[5]) / 8] for r in xs]
    write(f"{d}/yreg.npy", npy_bytes("<f8", (n, 2), flat(yr), version=2))
    json.dump([[r, y] for r, y in zip(xs, yr)], open(f"{d}/reg.json", "w"))
    for method, name in ((zipfile.ZIP_STORED, "stored"), (zipfile.ZIP_DEFLATED, "deflated")):
        with zipfile.ZipFile(f"{d}/{name}.npz", "w", compression=method) as z:
            for key, data in (("inputs", npy_bytes("<f4", (n, 6), flat(xs))),
                              ("labels", npy_bytes("<i8", (n,), ys))):
                with z.open(key + ".npy", "w", force_zip64=True) as f:  # as numpy.savez
                    f.write(data)
    # hostile files
    good = npy_bytes("<f4", (n, 6), flat(xs))
    write(f"{d}/bad_magic.npy", b"\x93NUMPX" + good[6:])
    write(f"{d}/bad_version.npy", good[:6] + b"\x09" + good[7:])
    write(f"{d}/huge_header.npy", good[:8] + b"\xff\xff" + good[10:])
    write(f"{d}/trunc_header.npy", good[:40])
    write(f"{d}/not_dict.npy", npy_bytes("<f4", (n,), [], header="[1, 2, 3]"))
    write(f"{d}/fortran.npy", npy_bytes("<f4", (n, 6), flat(xs), fortran=True))
    write(f"{d}/big_endian.npy", npy_bytes(">f4", (n, 6), [], header="{'descr': '>f4', 'fortran_order': False, 'shape': (120, 6), }") + bytes(n * 24))
    write(f"{d}/complex.npy", npy_bytes("<c8", (n, 6), [], header="{'descr': '<c8', 'fortran_order': False, 'shape': (120, 6), }"))
    # float16 (#21): the pixels / 4, exact in float16
    write(f"{d}/x_f2.npy", npy_bytes("<f2", (n, 2, 3), [v / 4 for v in flat(xs)]))
    json.dump([[[v / 4 for v in r], [y]] for r, y in zip(xs, ys)], open(f"{d}/cls_f2.json", "w"))
    json.dump([[[v / 255 for v in r], [y]] for r, y in zip(xs, ys)], open(f"{d}/cls_255.json", "w"))
    write(f"{d}/overflow.npy", npy_bytes("<f4", (), [], header="{'descr': '<f4', 'fortran_order': False, 'shape': (4611686018427387904, 4611686018427387904), }"))
    write(f"{d}/bytes_overflow.npy", npy_bytes("<f8", (), [], header="{'descr': '<f8', 'fortran_order': False, 'shape': (4611686018427387904,), }"))
    write(f"{d}/trunc_data.npy", good[:-5])
    write(f"{d}/trailing.npy", good + b"\0\0\0\0")
    write(f"{d}/scalar.npy", npy_bytes("<f4", (), [1.0], header="{'descr': '<f4', 'fortran_order': False, 'shape': (), }"))
    write(f"{d}/y_short.npy", npy_bytes("<i8", (n - 1,), ys[:-1]))
    write(f"{d}/y_float.npy", npy_bytes("<f4", (n,), ys))
    write(f"{d}/y_negative.npy", npy_bytes("<i8", (n,), ys[:-1] + [-3]))
    write(f"{d}/not_zip.npz", good)
    blob = open(f"{d}/deflated.npz", "rb").read()
    mid = blob.index(b"labels.npy") + 40  # inside the first member's deflate stream
    write(f"{d}/corrupt.npz", blob[:mid] + bytes(b ^ 0x5a for b in blob[mid:mid + 64]) + blob[mid + 64:])
    write(f"{d}/cut.npz", blob[:len(blob) // 2])


main()
