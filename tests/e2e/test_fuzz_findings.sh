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
