"""Compares the batches tests/e2e/plugins/batch_dump.so wrote with the samples a data
test generated. usage: data_check.py DUMP EXPECTED.json MODE SPLIT[,SPLIT...]

EXPECTED.json is a list of [x values, y values] (or [field values, ...]) per sample; x and y are compared as the
dtype the dump shows (float32: each value rounded to float32 first; int64: exactly).
MODE: ordered   the splits' samples are EXPECTED, in this order;
      shuffled  the same samples as a multiset, in another order;
      partition the splits together hold every sample once (a seeded split)."""
import json
import struct
import sys
from collections import Counter


def f32(v):
    return struct.unpack("<f", struct.pack("<f", v))[0]



def read_dump(path, splits):
    rows = []
    for line in open(path):
        groups = line.rstrip("\n").split(" |")
        head = groups[0].split()
        if head[0] in splits:
            rows.append(tuple(tuple(f32(float(v)) for v in g.split()) for g in [" ".join(head[2:])] + groups[1:]))
    return rows


def main():
    dump, expected_path, mode, splits = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
    got = read_dump(dump, splits.split(","))
    want = [tuple(tuple(f32(float(v)) for v in field) for field in sample)
            for sample in json.load(open(expected_path))]
    if mode == "ordered":
        ok = got == want
    else:
        ok = Counter(got) == Counter(want) and (mode != "shuffled" or got != want)
    if not ok:
        first = next((i for i, (a, b) in enumerate(zip(got, want)) if a != b), min(len(got), len(want)))
        sys.exit(f"FAIL: {mode} {splits}: {len(got)} samples read, {len(want)} expected; "
                 f"first difference at {first}: got {got[first:first + 1]}, "
                 f"want {want[first:first + 1]}")
    print(f"ok: {mode} round trip of {len(got)} samples ({splits})")


main()
