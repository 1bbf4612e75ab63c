#!/usr/bin/env python3
"""ckpt_edit.py IN OUT CODE: write a copy of checkpoint IN with its metadata edited by CODE,
as a hostile or damaged file would be, for the e2e tests.

CODE is Python run with `meta`, the __metadata__ dict whose JSON-valued strings are
decoded (meta["loops"]["global_step"], meta["format_version"] == "1.0"), and `head`, the
whole safetensors header (tensor entries: head["l1.weight"]["shape"]). Values are
re-encoded as lthost writes them. The checksum is dropped: it is optional, so a crafted
file without one is as good as one with a recomputed checksum.
Example: ckpt_edit.py a.ckpt b.ckpt 'meta["loops"]["epoch"] = -5'
"""
import json
import struct
import sys

src, dst, code = sys.argv[1:4]
raw = open(src, "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
head = json.loads(raw[8:8 + n])
meta = {}
for key, text in head.pop("__metadata__").items():
    try:
        meta[key] = json.loads(text)
    except ValueError:
        meta[key] = text  # a plain string, such as the checksum
meta.pop("checksum", None)
exec(code, {"meta": meta, "head": head})
encoded = {}
for key, value in meta.items():
    if isinstance(value, str) and key not in ("format_version", "lthost_version", "abi_version"):
        encoded[key] = value  # plain strings stay plain
    else:
        encoded[key] = json.dumps(value, separators=(",", ":"))
text = json.dumps({"__metadata__": encoded, **head}, separators=(",", ":")).encode()
text += b" " * (-len(text) % 8)
open(dst, "wb").write(struct.pack("<Q", len(text)) + text + raw[8 + n:])
