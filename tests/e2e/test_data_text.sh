#!/usr/bin/env bash
# The text data plugin: windows of block_size tokens (x) and the same shifted by one (y),
# int64, over characters (a sorted vocabulary of code points) or bytes; in order in
# predict, shuffled in fit, and a position split that keeps every window inside one
# split; broken files are one error naming the byte offset.
. "$(dirname "$0")/lib.sh"
CHECK="python3 $SRC_DIR/tests/e2e/data_check.py"
DUMP=(--module "$LT_TEST_PLUGIN_DIR/batch_dump.so" --model.out "$TMP/dump.txt" --data text --max_epochs 1)
ERR="data plugin text: setup\('[a-z]+'\) failed: "

# gen.py TEXT_OUT JSON_OUT MODE BLOCK LENGTH SEED [all|chunks]: the windows lthost must
# produce: every position (all: predict) or those inside the position split's chunks.
cat >"$TMP/gen.py" <<'PY'
import json, random, sys
out, js, mode, block, length, seed, which = sys.argv[1:8]
block, length = int(block), int(length)
rng = random.Random(int(seed))
alphabet = "abcdefgh \nÄé€😀" if mode == "chars" else "abc"
text = "".join(rng.choice(alphabet) for _ in range(length))
data = text.encode()
open(out, "wb").write(data if mode == "chars" else data + bytes([0xff, 0x00, 0x80]))
if mode == "chars":
    vocab = sorted(set(text))
    ids = [vocab.index(c) for c in text]
    json.dump([ord(c) for c in vocab], open(out + ".vocab", "w"))
else:
    ids = list(open(out, "rb").read())
n = len(ids)
chunks = 1 if which == "all" else max(1, min(1000, n // (8 * (block + 1))))
windows = []
for c in range(chunks):
    s, e = n * c // chunks, n * (c + 1) // chunks
    for p in range(s, e - block):
        windows.append([ids[p:p + block], ids[p + 1:p + block + 1]])
json.dump(windows, open(js, "w"))
PY

# Characters, in order (predict reads every window of the whole text).
python3 "$TMP/gen.py" "$TMP/t.txt" "$TMP/all.json" chars 8 100 1 all
rm -f "$TMP/dump.txt"
expect_success predict "${DUMP[@]}" --data.path "$TMP/t.txt" --data.block_size 8 --data.vocab_out "$TMP/vocab.json"
$CHECK "$TMP/dump.txt" "$TMP/all.json" ordered predict || fail "chars in order"
python3 -c "import json,sys; sys.exit(json.load(open('$TMP/vocab.json')) != json.load(open('$TMP/t.txt.vocab')))" ||
    fail "--data.vocab_out is not the sorted code points"
# Shuffled: one chunk (a short text), no held-out part: training sees every window once.
rm -f "$TMP/dump.txt"
expect_success fit "${DUMP[@]}" --data.path "$TMP/t.txt" --data.block_size 8 \
    --data.val_fraction 0 --data.test_fraction 0 --test_after_fit false --data.batch_size 5
$CHECK "$TMP/dump.txt" "$TMP/all.json" shuffled train || fail "chars shuffled"
# The position split of a longer text: train, val and test windows are the windows of
# the chunks, each once.
python3 "$TMP/gen.py" "$TMP/long.txt" "$TMP/chunks.json" chars 4 4000 2 chunks
rm -f "$TMP/dump.txt"
expect_success fit "${DUMP[@]}" --data.path "$TMP/long.txt" --data.block_size 4 --num_sanity_val_steps 0 \
    --data.num_workers 2
$CHECK "$TMP/dump.txt" "$TMP/chunks.json" partition train,val,test || fail "position split"
grep -q '^val ' "$TMP/dump.txt" && grep -q '^test ' "$TMP/dump.txt" || fail "no val or test windows"
# Bytes: any byte is a token, invalid UTF-8 included.
python3 "$TMP/gen.py" "$TMP/b.bin" "$TMP/bytes.json" bytes 3 50 3 all
rm -f "$TMP/dump.txt"
expect_success predict "${DUMP[@]}" --data.path "$TMP/b.bin" --data.mode bytes --data.block_size 3
$CHECK "$TMP/dump.txt" "$TMP/bytes.json" ordered predict || fail "bytes in order"

# Broken input.
expect_error "$ERR$TMP/b.bin: at byte offset 50: invalid UTF-8" fit "${DUMP[@]}" --data.path "$TMP/b.bin"
printf 'ab\xc0\xafcd' >"$TMP/overlong.txt"
expect_error "$ERR$TMP/overlong.txt: at byte offset 2: invalid UTF-8" fit "${DUMP[@]}" --data.path "$TMP/overlong.txt" --data.block_size 1
printf 'abc\xe2\x82' >"$TMP/cut.txt"
expect_error "$ERR$TMP/cut.txt: at byte offset 3: invalid UTF-8" fit "${DUMP[@]}" --data.path "$TMP/cut.txt" --data.block_size 1
printf 'ab\xed\xa0\x80' >"$TMP/surrogate.txt"
expect_error "$ERR$TMP/surrogate.txt: at byte offset 2: invalid UTF-8" fit "${DUMP[@]}" --data.path "$TMP/surrogate.txt" --data.block_size 1
: >"$TMP/empty.txt"
expect_error "$ERR$TMP/empty.txt: 0 tokens, fewer than one window" fit "${DUMP[@]}" --data.path "$TMP/empty.txt"
expect_error "$ERR$TMP/t.txt: 100 tokens, fewer than one window of --data.block_size 100" \
    fit "${DUMP[@]}" --data.path "$TMP/t.txt" --data.block_size 100
expect_error "$ERR--data.block_size 0 must be in \[1, 1048576\]" fit "${DUMP[@]}" --data.path "$TMP/t.txt" --data.block_size 0
expect_error "$ERR--data.path is empty" fit "${DUMP[@]}"
expect_error "$ERR$TMP/none.txt: cannot open" fit "${DUMP[@]}" --data.path "$TMP/none.txt"
ln -s loop.txt "$TMP/loop.txt"
expect_error "$ERR$TMP/loop.txt: cannot open: Too many levels of symbolic links" fit "${DUMP[@]}" --data.path "$TMP/loop.txt"
echo "text data plugin checked"
