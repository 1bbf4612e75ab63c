#!/usr/bin/env python3
"""bn_stats_diff.py A.ckpt B.ckpt: the largest absolute difference between the batch norm
buffers (state_dict.*.running_mean / running_var, float32) of two checkpoints, and exit 1
when their names or shapes differ or a num_batches_tracked differs. Standard library only."""
import json
import struct
import sys


def buffers(path):
    raw = open(path, "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    head = json.loads(raw[8:8 + n])
    out = {}
    for k, v in head.items():
        if k.startswith("state_dict.") and ("running_" in k or "num_batches_tracked" in k):
            a, b = v["data_offsets"]
            fmt = "<%dq" % ((b - a) // 8) if v["dtype"] == "I64" else "<%df" % ((b - a) // 4)
            out[k] = struct.unpack(fmt, raw[8 + n + a:8 + n + b])
    return out


a, b = buffers(sys.argv[1]), buffers(sys.argv[2])
if sorted(a) != sorted(b) or not a:
    sys.exit(f"different buffers: {sorted(a)} vs {sorted(b)}")
worst = 0.0
for k in a:
    if "num_batches_tracked" in k:
        if a[k] != b[k]:
            sys.exit(f"{k}: {a[k]} vs {b[k]}")
        continue
    if len(a[k]) != len(b[k]):
        sys.exit(f"{k}: {len(a[k])} vs {len(b[k])} values")
    worst = max(worst, max(abs(x - y) for x, y in zip(a[k], b[k])))
print(f"{worst:.3g}")
