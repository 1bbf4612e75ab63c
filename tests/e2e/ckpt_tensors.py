#!/usr/bin/env python3
"""ckpt_tensors.py same A.ckpt B.ckpt...: exit 0 when every checkpoint holds the same
state_dict.* and optimizer_states.* tensors, byte for byte (names, shapes, dtypes, data);
else print the first difference and exit 1.
ckpt_tensors.py meta A.ckpt KEY: print metadata entry KEY (its JSON text), or exit 1."""
import json
import struct
import sys


def load(path):
    raw = open(path, "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    head = json.loads(raw[8:8 + n])
    meta = head.pop("__metadata__", {})
    base = 8 + n
    tensors = {k: (v["dtype"], v["shape"], raw[base + v["data_offsets"][0]:base + v["data_offsets"][1]])
               for k, v in head.items() if k.startswith(("state_dict.", "optimizer_states."))}
    return tensors, meta


if sys.argv[1] == "meta":
    meta = load(sys.argv[2])[1]
    if sys.argv[3] not in meta:
        sys.exit(1)
    print(meta[sys.argv[3]])
    sys.exit(0)
first, _ = load(sys.argv[2])
if not any(k.startswith("optimizer_states.") for k in first):
    print(f"{sys.argv[2]}: no optimizer state")
    sys.exit(1)
for other in sys.argv[3:]:
    t, _ = load(other)
    if sorted(t) != sorted(first):
        print(f"{other}: tensors {sorted(set(t) ^ set(first))} differ from {sys.argv[2]}'s")
        sys.exit(1)
    for k in first:
        if t[k] != first[k]:
            print(f"{other}: {k} differs from {sys.argv[2]}")
            sys.exit(1)
print(f"{len(first)} tensors identical in {len(sys.argv) - 2} checkpoints")
