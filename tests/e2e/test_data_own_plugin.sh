#!/usr/bin/env bash
# docs/data.md's "Writing your own data plugin" example (docs/examples/blobs_data.c, built
# with the project): the page shows the file as it is, its points come back as the
# formula in its comment makes them (in order in predict, shuffled in fit), a logistic
# regression learns them, and its flag checks are one clear error each.
. "$(dirname "$0")/lib.sh"
PLUGIN=$BUILD_DIR/docs/examples/blobs_data.so
[ -f "$PLUGIN" ] || fail "$PLUGIN was not built"
CHECK="python3 $SRC_DIR/tests/e2e/data_check.py"
DUMP=(--module "$LT_TEST_PLUGIN_DIR/batch_dump.so" --model.out "$TMP/dump.txt" --data "$PLUGIN" --max_epochs 1)

# The page's code block is the built file, line for line.
awk '/^```c blobs_data.c$/ { on = 1; next } on && /^```$/ { exit } on' "$SRC_DIR/docs/data.md" >"$TMP/page.c"
diff "$TMP/page.c" "$SRC_DIR/docs/examples/blobs_data.c" >/dev/null ||
    fail "docs/data.md's blobs_data.c block differs from docs/examples/blobs_data.c"
echo "ok: docs/data.md shows docs/examples/blobs_data.c as built"

# gen.py SEED SAMPLES SPREAD FIRST COUNT OUT.json: points FIRST.. as blobs_fill makes them,
# every float32 operation rounded as C does.
cat >"$TMP/gen.py" <<'PY'
import json, struct, sys
M = (1 << 64) - 1
def f32(v): return struct.unpack("<f", struct.pack("<f", v))[0]
def mix(z):
    z = (z + 0x9e3779b97f4a7c15) & M
    z = ((z ^ (z >> 30)) * 0xbf58476d1ce4e5b9) & M
    z = ((z ^ (z >> 27)) * 0x94d049bb133111eb) & M
    return z ^ (z >> 31)
seed, n, spread, first, count = int(sys.argv[1]), int(sys.argv[2]), f32(float(sys.argv[3])), int(sys.argv[4]), int(sys.argv[5])
out = []
for g in range(first, first + count):
    h = mix((seed & M) ^ mix(g))
    label = h & 1
    x = []
    for c in range(2):
        u = 0.0
        for k in range(4):
            h = mix(h)
            u = f32(u + (h >> 40) / float(1 << 24))
        scale = f32(spread * f32(1.7320508))
        x.append(f32((1.5 if label else -1.5) + f32(scale * f32(u - 2))))
    out.append([x, [label]])
json.dump(out, open(sys.argv[6], "w"))
PY
python3 "$TMP/gen.py" 7 200 0.5 220 20 "$TMP/test.json" || fail "gen.py"
python3 "$TMP/gen.py" 7 200 0.5 0 200 "$TMP/train.json" || fail "gen.py"

# In order: predict reads the test points (220.. of 200 + 20 + 20).
expect_success predict "${DUMP[@]}" --data.samples 200 --data.seed 7 --data.spread 0.5 --data.batch_size 6
$CHECK "$TMP/dump.txt" "$TMP/test.json" ordered predict || fail "blobs test points in order"
# Shuffled: one training epoch is every training point once, in another order.
rm -f "$TMP/dump.txt"
expect_success fit "${DUMP[@]}" --data.samples 200 --data.seed 7 --data.spread 0.5 \
    --num_sanity_val_steps 0 --test_after_fit false --data.batch_size 16
$CHECK "$TMP/dump.txt" "$TMP/train.json" shuffled train || fail "blobs training points shuffled"

# Training: a logistic regression separates the two blobs.
expect_success fit --module tabular --model.in_features 2 --model.hidden 0 --model.lr 0.05 \
    --data "$PLUGIN" --max_epochs 3 --seed_everything 1
acc=$(sed -n 's/^Test:.*test_acc=\([0-9.]*\).*/\1/p' "$TMP/out")
awk -v a="$acc" 'BEGIN { exit !(a >= 0.9) }' || { cat "$TMP/out"; fail "logistic test_acc '$acc' < 0.9"; }
echo "ok: logistic regression on the docs' blobs plugin, test_acc $acc"

ERR="data plugin blobs: setup\('fit'\) failed: "
expect_error "$ERR--data.samples 5 must be in \[10, 2\^40\]" fit "${DUMP[@]}" --data.samples 5
expect_error "$ERR--data.spread 0 must be in \(0, 1e6\]" fit "${DUMP[@]}" --data.spread 0
expect_error "$ERR--data.batch_size must be >= 1" fit "${DUMP[@]}" --data.batch_size 0
echo "docs' data plugin example checked"
