"""ckpt_state_arrays.py MODE IN OUT: rewrite an lthost checkpoint IN (docs/checkpoint-format.md)
into OUT, without its checksum (a file another tool wrote), changing every float32 array
of the callbacks' state (a tensor named in the JSON by {"__lt_tensor__": name}):
  hex      back to the previous lthost's form: little-endian float32 hex text in the JSON
  missing  the tensor gone, the reference left
  short    the tensor one value shorter
Prints the names it changed. Python's standard library only.
"""
import json
import struct
import sys


def main(mode, src, dst):
    raw = open(src, "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    data = raw[8 + n:]
    meta = header.pop("__metadata__")
    meta.pop("checksum", None)
    cbs = json.loads(meta["callbacks"])
    tensors = {k: data[v["data_offsets"][0]:v["data_offsets"][1]] for k, v in header.items()}
    changed = []

    def walk(obj):
        for k, v in list(obj.items()):
            if isinstance(v, dict) and list(v) == ["__lt_tensor__"]:
                name = v["__lt_tensor__"]
                changed.append(name)
                if mode == "hex":
                    obj[k] = tensors.pop(name).hex()
                    del header[name]
                elif mode == "missing":
                    tensors.pop(name), header.pop(name)
                else:
                    tensors[name] = tensors[name][:-4]
                    header[name]["shape"] = [header[name]["shape"][0] - 1]
            elif isinstance(v, dict):
                walk(v)

    walk(cbs)
    meta["callbacks"] = json.dumps(cbs, separators=(",", ":"))
    out, body = {"__metadata__": meta}, b""
    for k, v in header.items():
        out[k] = dict(v, data_offsets=[len(body), len(body) + len(tensors[k])])
        body += tensors[k]
    text = json.dumps(out, separators=(",", ":")).encode()
    text += b" " * (-(8 + len(text)) % 8)
    open(dst, "wb").write(struct.pack("<Q", len(text)) + text + body)
    print(" ".join(changed))


if __name__ == "__main__":
    main(*sys.argv[1:4])
