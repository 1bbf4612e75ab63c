#!/usr/bin/env bash
# The idx data plugin: generated IDX pairs (gzip and raw) come back normalised value for
# value, in order (test, predict) and shuffled (fit), transposed on request; a model
# learns them; Fashion-MNIST read through it trains the mlp; broken pairs are one error.
. "$(dirname "$0")/lib.sh"
CHECK="python3 $SRC_DIR/tests/e2e/data_check.py"
DUMP=(--module "$LT_TEST_PLUGIN_DIR/batch_dump.so" --model.out "$TMP/dump.txt" --data idx --max_epochs 1)
ERR="data plugin idx: setup\('[a-z]+'\) failed: "
D=$TMP/d
mkdir -p "$D"

# gen.py DIR: 4x4 images, class 1 when the left half is brighter; train (gzip, 200) and
# test (raw, 40), plus JSON of the expected samples (plain, normalised, transposed).
cat >"$TMP/gen.py" <<'PY'
import gzip, json, random, struct, sys
d = sys.argv[1]
rng = random.Random(5)
def idx(dims, values):
    return struct.pack(">BBBB", 0, 0, 8, len(dims)) + struct.pack(">%dI" % len(dims), *dims) + bytes(values)
def make(n):
    imgs, labels = [], []
    for _ in range(n):
        y = rng.randint(0, 1)
        img = [rng.randint(0, 127) + (128 if (c < 2) == (y == 1) else 0) for r in range(4) for c in range(4)]
        imgs.append(img)
        labels.append(y)
    return imgs, labels
for name, n, gz in (("train", 200, True), ("t10k", 40, False)):
    imgs, labels = make(n)
    op = gzip.open if gz else open
    suffix = ".gz" if gz else ""
    with op(f"{d}/{name}-images-idx3-ubyte{suffix}", "wb") as f:
        f.write(idx((n, 4, 4), [v for img in imgs for v in img]))
    with op(f"{d}/{name}-labels-idx1-ubyte{suffix}", "wb") as f:
        f.write(idx((n,), labels))
    for tag, mean, std, tr in (("plain", 0.0, 1.0, False), ("norm", 0.5, 0.25, False), ("tr", 0.0, 1.0, True)):
        rows = []
        for img, y in zip(imgs, labels):
            px = [img[c * 4 + r] if tr else img[r * 4 + c] for r in range(4) for c in range(4)]
            rows.append([[(v / 255 - mean) / std for v in px], [y]])
        json.dump(rows, open(f"{d}/{name}_{tag}.json", "w"))
with open(f"{d}/short-labels", "wb") as f:
    f.write(idx((39,), [0] * 39))
with open(f"{d}/wide-images", "wb") as f:
    f.write(idx((40, 4, 5), [0] * 800))
with open(f"{d}/flat-images", "wb") as f:
    f.write(idx((40 * 16,), [0] * 640))
with open(f"{d}/trunc-images", "wb") as f:
    f.write(idx((40, 4, 4), [0] * 600))
PY
python3 "$TMP/gen.py" "$D" || fail "generating IDX files"
RAW=(--data.root "$D" --data.test_images t10k-images-idx3-ubyte --data.test_labels t10k-labels-idx1-ubyte)

rm -f "$TMP/dump.txt"
expect_success test "${DUMP[@]}" "${RAW[@]}" --data.batch_size 7
$CHECK "$TMP/dump.txt" "$D/t10k_plain.json" ordered test || fail "idx test files in order"
rm -f "$TMP/dump.txt"
expect_success predict "${DUMP[@]}" "${RAW[@]}" --data.mean 0.5 --data.std 0.25
$CHECK "$TMP/dump.txt" "$D/t10k_norm.json" ordered predict || fail "idx normalised"
rm -f "$TMP/dump.txt"
expect_success predict "${DUMP[@]}" "${RAW[@]}" --data.transpose true
$CHECK "$TMP/dump.txt" "$D/t10k_tr.json" ordered predict || fail "idx transposed"
rm -f "$TMP/dump.txt"
expect_success fit "${DUMP[@]}" "${RAW[@]}" --data.val_fraction 0 --test_after_fit false
$CHECK "$TMP/dump.txt" "$D/train_plain.json" shuffled train || fail "idx shuffled"
rm -f "$TMP/dump.txt"
expect_success fit "${DUMP[@]}" "${RAW[@]}" --data.val_fraction 0.25 --num_sanity_val_steps 0 --test_after_fit false
$CHECK "$TMP/dump.txt" "$D/train_plain.json" partition train,val || fail "idx split"
[ "$(grep -c '^val ' "$TMP/dump.txt")" -eq 50 ] || fail "val_fraction 0.25 of 200 is 50 images"

expect_success fit --module tabular --model.in_features 16 --model.hidden 0 --model.lr 0.05 \
    --data idx "${RAW[@]}" --max_epochs 20 --seed_everything 1 --data.batch_size 16
acc=$(sed -n 's/^Test:.*test_acc=\([0-9.]*\).*/\1/p' "$TMP/out")
awk -v a="$acc" 'BEGIN { exit !(a >= 0.9) }' || { cat "$TMP/out"; fail "test_acc '$acc' < 0.9"; }
echo "ok: logistic regression on IDX images, test_acc $acc"

bad() { # bad PATTERN FLAGS...
    local pattern=$1
    shift
    expect_error "$ERR$pattern" fit "${DUMP[@]}" "${RAW[@]}" "$@"
}
bad "--data.test_labels: 39 labels in 1 dimension\(s\) for 40 images" --data.test_labels short-labels
bad "--data.test_images: images of 4 x 5, the training images are 4 x 4" --data.test_images wide-images
bad "--data.test_images: 1 dimensions; IDX images must be" --data.test_images flat-images
bad "$D/trunc-images.*truncated.*\(check --data.root and --data.test_images\)" --data.test_images trunc-images
bad "$D/none: cannot open.*\(check --data.root and --data.test_labels\)" --data.test_labels none
bad "--data.std 0 must be > 0" --data.std 0
# A zero-byte file, a file of wrong element type (float32, 0x0d) and a symlink loop.
: >"$D/zero" && ln -s loop "$D/loop"
printf '\0\0\x0d\x03\0\0\0\x01\0\0\0\x04\0\0\0\x04' >"$D/float-images"
bad "$D/zero: truncated IDX file: expected 4 header bytes, got 0" --data.test_images zero
bad "$D/float-images: IDX element type 0x0d is not supported" --data.test_images float-images
bad "$D/loop: cannot open: Too many levels of symbolic links" --data.test_labels loop

if [ -f "$FMNIST/train-images-idx3-ubyte.gz" ] && [ -z "${LT_E2E_SANITIZED:-}" ]; then
    expect_success fit --module mlp --data idx --data.root "$FMNIST" --data.mean 0.2860 \
        --data.std 0.3530 --max_epochs 1 --limit_train_batches 200 --seed_everything 1
    acc=$(sed -n 's/^Test:.*test_acc=\([0-9.]*\).*/\1/p' "$TMP/out")
    awk -v a="$acc" 'BEGIN { exit !(a >= 0.7) }' || { cat "$TMP/out"; fail "Fashion-MNIST via idx: test_acc '$acc' < 0.7"; }
    echo "ok: Fashion-MNIST through the idx plugin, test_acc $acc"
fi
echo "idx data plugin checked"
