#!/usr/bin/env bash
# What the fuzzers (tests/fuzz) found, end to end: a config whose quoted key, or a
# checkpoint whose tensor name, holds a newline or other control characters is refused
# with ONE line, the characters escaped, so the file cannot forge a line of lthost's output.
. "$(dirname "$0")/lib.sh"
printf '"a\\nlthost: error: forged": 1\n"a\\nlthost: error: forged": 2\n' >"$TMP/dup.yaml"
expect_error "dup\.yaml:2:1: duplicate key 'a\\\\nlthost: error: forged'" fit --module mlp --config "$TMP/dup.yaml"
[ "$(wc -l <"$TMP/out")" -eq 1 ] || { cat "$TMP/out"; fail "more than one line of output"; }
printf 'trainer:\n  "x\\ty\\r\\u0007": [1]\n' >"$TMP/ctl.yaml"
expect_error 'ctl\.yaml:2:19: expected a single value for trainer\.x\\ty\\r\\x07, got a sequence' \
    fit --module mlp --config "$TMP/ctl.yaml"
if LC_ALL=C grep -q '[[:cntrl:]]' "$TMP/out"; then cat -A "$TMP/out"; fail "control characters in the message"; fi

# A .ckpt (safetensors) whose tensor name is "a\nlthost: error: forged", dtype unknown.
python3 - "$TMP/forged.ckpt" <<'PY'
import json, struct, sys
head = json.dumps({"a\nlthost: error: forged": {"dtype": "Q7", "shape": [1], "data_offsets": [0, 4]}}).encode()
head += b" " * (-len(head) % 8)
open(sys.argv[1], "wb").write(struct.pack("<Q", len(head)) + head + bytes(4))
PY
expect_error "tensor 'a\\\\nlthost: error: forged' has a missing or unsupported dtype" \
    fit --module mlp --ckpt_path "$TMP/forged.ckpt" --max_epochs 1

# A checkpoint whose state JSON is broken at a control character (fuzz_ckpt_restore): the
# JSON library quotes the character; liblt's messages are escaped as they are recorded.
need_dataset
expect_success fit --module mlp --limit_train_batches 2 --limit_val_batches 1 --max_epochs 1 \
    --test_after_fit false --enable_progress_bar false --default_root_dir "$TMP/run"
python3 - "$TMP"/run/lightning_logs/version_0/checkpoints/*.ckpt "$TMP/ctl.ckpt" <<'PY'
import json, struct, sys
raw = open(sys.argv[1], "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
head = json.loads(raw[8:8 + n])
meta = head["__metadata__"]
del meta["checksum"]
meta["optimizer_states"] = '{"0":\x08\nlthost: error: forged}'
text = json.dumps(head).encode()
text += b" " * (-len(text) % 8)
open(sys.argv[2], "wb").write(struct.pack("<Q", len(text)) + text + raw[8 + n:])
PY
expect_error "optimizer_states.*invalid JSON" fit --module mlp --max_epochs 2 --ckpt_path "$TMP/ctl.ckpt"
if LC_ALL=C grep -q '[[:cntrl:]]' "$TMP/out"; then cat -A "$TMP/out"; fail "control characters in the message"; fi
echo "ok: a control character in a checkpoint's state JSON stays escaped"
