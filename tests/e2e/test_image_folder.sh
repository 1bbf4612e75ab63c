#!/usr/bin/env bash
# The image_folder data plugin (issue #21): torchvision ImageFolder's layout and class
# order, PNG and JPEG decoding (pixels checked against a decoder written here in Python's
# stdlib), augmentation reproducible from the seed with any number of workers, a model
# trained on a generated folder, and one clear error per broken input.
. "$(dirname "$0")/lib.sh"
GEN=$BUILD_DIR/tests/image_gen
PLUGIN=$BUILD_DIR/plugins/data/image_folder/image_folder.so
[ -x "$GEN" ] && [ -f "$PLUGIN" ] || skip "image_folder is not built (libpng-dev / libjpeg-dev missing)"
DUMP=(--module "$LT_TEST_PLUGIN_DIR/batch_dump.so" --model.out "$TMP/dump.txt" --data "$PLUGIN"
      --max_epochs 1 --logger false --enable_checkpointing false)
ERR="image_folder: setup\('[a-z]+'\) failed: "

# Pixels and labels: classes sorted by byte order ("C" < "a" < "b"), files sorted within
# each; 8x8 PNGs come back as ToTensor's x / 255 in (C, H, W), then normalized.
cat >"$TMP/pngread.py" <<'PY'
import struct, zlib
def f32(v): return struct.unpack("<f", struct.pack("<f", v))[0]
def png_rgb(path):  # 8-bit RGB, non-interlaced: what image_gen writes
    data = open(path, "rb").read()[8:]
    idat, pos = b"", 0
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR": w, h = struct.unpack(">II", body[:8])
        if kind == b"IDAT": idat += body
        pos += 12 + n
    raw, rows, prev, stride = zlib.decompress(idat), [], bytearray(w * 3), w * 3
    for y in range(h):
        f, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for x in range(stride):
            a = line[x - 3] if x >= 3 else 0
            b, c = prev[x], prev[x - 3] if x >= 3 else 0
            p = a + b - c
            pr = a if abs(p - a) <= abs(p - b) and abs(p - a) <= abs(p - c) else b if abs(p - b) <= abs(p - c) else c
            line[x] = (line[x] + [0, a, b, (a + b) // 2, pr][f]) & 255
        rows.append(line); prev = line
    return w, h, rows
PY
mkdir -p "$TMP/px"
i=0
for c in b_cls a_cls C_cls; do
    "$GEN" "$TMP/g$i" 1 3 8 "$((i + 11))" png || fail "image_gen"
    mv "$TMP/g$i/class_0" "$TMP/px/$c"
    i=$((i + 1))
done
expect_success predict "${DUMP[@]}" --data.root "$TMP/px" --data.mean 0.5,0.25,0 --data.std 0.5,2,1
PYTHONPATH=$TMP python3 - "$TMP/px" "$TMP/dump.txt" <<'PY' || fail "image_folder pixels or labels differ from the files"
import os, sys
from pngread import f32, png_rgb
mean, std = [0.5, 0.25, 0.0], [0.5, 2.0, 1.0]
want = []
for label, cls in enumerate(sorted(os.listdir(sys.argv[1]))):  # C_cls, a_cls, b_cls
    for name in sorted(os.listdir(os.path.join(sys.argv[1], cls))):
        w, h, rows = png_rgb(os.path.join(sys.argv[1], cls, name))
        x = [f32((f32(f32(rows[y][xx * 3 + c]) / f32(255.0)) - f32(mean[c])) / f32(std[c]))
             for c in range(3) for y in range(h) for xx in range(w)]
        want.append((x, label))
got = []
for line in open(sys.argv[2]):
    xs, ys = line.split(" |")
    got.append(([f32(float(v)) for v in xs.split()[2:]], int(ys)))
if len(got) != len(want): sys.exit(f"{len(got)} samples, want {len(want)}")
for i, (g, w) in enumerate(zip(got, want)):
    if g[1] != w[1]: sys.exit(f"sample {i}: label {g[1]}, want {w[1]}")
    bad = [k for k in range(len(w[0])) if g[0][k] != w[0][k]]
    if bad: sys.exit(f"sample {i}: value {bad[0]}: {g[0][bad[0]]} want {w[0][bad[0]]}")
print(f"ok: {len(got)} images' pixels (C, H, W), normalized, and labels by sorted class folder")
PY
# Shuffled: one training epoch of the same folder (no augmentation) is the same samples,
# each once, in another order.
mv "$TMP/dump.txt" "$TMP/ordered.txt"
expect_success fit "${DUMP[@]}" --data.root "$TMP/px" --data.mean 0.5,0.25,0 --data.std 0.5,2,1 \
    --data.val_fraction 0 --data.test_fraction 0 --test_after_fit false --data.batch_size 4 --seed_everything 3
python3 - "$TMP/ordered.txt" "$TMP/dump.txt" <<'PY' || fail "a shuffled epoch is not every image once"
import sys
rows = [[" ".join(l.split()[2:]) for l in open(p)] for p in sys.argv[1:]]
if sorted(rows[0]) != sorted(rows[1]) or rows[0] == rows[1] or len(rows[0]) != 9:
    sys.exit(f"predict {len(rows[0])} samples, fit {len(rows[1])}; same multiset: {sorted(rows[0]) == sorted(rows[1])}")
print("ok: a shuffled training epoch is the 9 images, each once, in another order")
PY

# Nested folders as torchvision's make_dataset: every folder of a class folder walked
# (a symlinked one followed), sorted by path (' ' and '-' before '/'), then files by name;
# extensions in any case; other files skipped.
"$GEN" "$TMP/ng" 1 9 8 21 png || fail "image_gen"
mkdir -p "$TMP/nest/a/sub/deeper" "$TMP/nest/a/sub b" "$TMP/nest/a/sub-x" "$TMP/nest/a/sub0" \
    "$TMP/nest/b/Sub" "$TMP/outside"
set -- "$TMP"/ng/class_0/*.png
for dst in a/z.png a/sub/b.png "a/sub b/c.png" a/sub-x/d.png a/sub0/e.png a/sub/deeper/A.PNG \
           b/Sub/f.png b/g.png; do mv "$1" "$TMP/nest/$dst"; shift; done
mv "$1" "$TMP/outside/h.png" && ln -s "$TMP/outside" "$TMP/nest/b/link"
echo not an image >"$TMP/nest/a/sub/notes.txt"
rm -f "$TMP/dump.txt"
expect_success predict "${DUMP[@]}" --data.root "$TMP/nest"
PYTHONPATH=$TMP python3 - "$TMP/nest" "$TMP/dump.txt" <<'PY' || fail "nested image folders: order or labels differ from torchvision's"
import os, sys
from pngread import f32, png_rgb
root = sys.argv[1]
classes = sorted(e.name for e in os.scandir(root) if e.is_dir())  # torchvision's find_classes
want = []  # and its make_dataset, verbatim
for label, c in enumerate(classes):
    for r, _, names in sorted(os.walk(os.path.join(root, c), followlinks=True)):
        for name in sorted(names):
            if name.lower().endswith((".png", ".jpg", ".jpeg")):
                w, h, rows = png_rgb(os.path.join(r, name))
                x = [f32(f32(rows[y][xx * 3 + ch]) / f32(255.0)) for ch in range(3) for y in range(h) for xx in range(w)]
                want.append((os.path.join(r, name), x, label))
got = [([f32(float(v)) for v in l.split(" |")[0].split()[2:]], int(l.split(" |")[1])) for l in open(sys.argv[2])]
if len(got) != len(want) or len(want) != 9: sys.exit(f"{len(got)} samples, want {len(want)} (9)")
for (path, x, label), (gx, gy) in zip(want, got):
    if gx != x or gy != label: sys.exit(f"{path}: another image or label ({gy}) in its place")
print("ok: nested folders in torchvision's order:", ", ".join(os.path.relpath(p, root) for p, _, _ in want))
PY

# Resize against torchvision + Pillow, when the reference venv is there (it skips
# otherwise): shrinking and enlarging PNG and JPEG images gives Pillow's pixels exactly.
VENV_PY=$SRC_DIR/tests/reference/.venv/bin/python
if [ -x "$VENV_PY" ] && "$VENV_PY" -c "import torchvision" 2>/dev/null; then
    "$GEN" "$TMP/pil" 2 2 300 9 mixed || fail "image_gen"
    for r in 7 60 200 331; do
        rm -f "$TMP/dump.txt"
        expect_success predict "${DUMP[@]}" --data.root "$TMP/pil" --data.resize $r --data.crop 7
        "$VENV_PY" - "$TMP/pil" "$TMP/dump.txt" $r <<'PY' || fail "--data.resize $r differs from torchvision's Resize"
import os, sys
import numpy as np
from PIL import Image
from torchvision import transforms
tf = transforms.Compose([transforms.Resize(int(sys.argv[3])), transforms.CenterCrop(7), transforms.ToTensor()])
files = [os.path.join(sys.argv[1], c, f) for c in sorted(os.listdir(sys.argv[1]))
         for f in sorted(os.listdir(os.path.join(sys.argv[1], c)))]
for path, line in zip(files, open(sys.argv[2])):
    want = tf(Image.open(path).convert("RGB")).numpy().ravel()
    got = np.array(line.split(" |")[0].split()[2:], dtype=np.float32)
    if not np.array_equal(got, want): sys.exit(f"{path}: {np.abs(got - want).max() * 255} levels off")
PY
    done
    echo "ok: --data.resize gives torchvision/Pillow's pixels exactly (PNG and JPEG, 7 to 331 px)"
else
    echo "skip: no tests/reference/.venv with torchvision: Resize not compared with Pillow"
fi

# Augmentation from the seed: the same batches with 0 and 3 workers, others with another seed.
"$GEN" "$TMP/train" 3 40 28 1 mixed || fail "image_gen"
"$GEN" "$TMP/val" 3 8 28 2 mixed || fail "image_gen"
"$GEN" "$TMP/test" 3 8 28 3 mixed || fail "image_gen"
AUG=(--data.root "$TMP/train" --data.resize 20 --data.crop 16 --data.random_crop true
     --data.hflip true --data.val_fraction 0 --data.test_fraction 0 --test_after_fit false
     --max_epochs 2 --data.batch_size 16)
for w in 0 3; do
    rm -f "$TMP/dump.txt"
    expect_success fit "${DUMP[@]}" "${AUG[@]}" --max_epochs 2 --seed_everything 5 --data.num_workers $w
    mv "$TMP/dump.txt" "$TMP/aug_$w.txt"
done
cmp -s "$TMP/aug_0.txt" "$TMP/aug_3.txt" || fail "random crops/flips differ between 0 and 3 workers"
[ "$(wc -l <"$TMP/aug_0.txt")" -eq 240 ] || fail "2 epochs of 120 images expected"
expect_success fit "${DUMP[@]}" "${AUG[@]}" --max_epochs 2 --seed_everything 6
cmp -s "$TMP/aug_0.txt" "$TMP/dump.txt" && fail "another seed gave the same augmentation"
echo "ok: random crop and flip are the same with 0 and 3 workers, and follow the seed"

# A model learns the generated classes (decoding in 2 workers, val and test folders).
expect_success fit --module tabular --model.in_features 768 --model.out_features 3 \
    --model.hidden 32 --data "$PLUGIN" --data.root "$TMP/train" --data.val "$TMP/val" \
    --data.test "$TMP/test" --data.resize 16 --data.crop 16 --data.random_crop true \
    --data.hflip true --data.mean 0.5,0.5,0.5 --data.std 0.25,0.25,0.25 --data.num_workers 2 \
    --data.batch_size 16 --max_epochs 6 --seed_everything 1 --enable_progress_bar false \
    --default_root_dir "$TMP/run"
acc=$(sed -n 's/^Test:.*test_acc=\([0-9.]*\).*/\1/p' "$TMP/out")
awk -v a="$acc" 'BEGIN { exit !(a >= 0.9) }' || { cat "$TMP/out"; fail "test_acc '$acc' < 0.9"; }
echo "ok: tabular on the image folder: test_acc $acc"

# Mid-epoch resume with random crops and flips decoded in 2 workers: the run resumed from
# step 10 (epoch 1, batch 2 of 8) logs the same rows and tests to the same numbers, bit
# for bit (the augmentation comes from (seed, epoch, sample), not from a stream).
RES=(--module tabular --model.in_features 768 --model.out_features 3 --model.hidden 32
     --data "$PLUGIN" --data.root "$TMP/train" --data.val "$TMP/val" --data.test "$TMP/test"
     --data.resize 20 --data.crop 16 --data.random_crop true --data.hflip true
     --data.num_workers 2 --data.batch_size 16 --max_epochs 3 --seed_everything 4 --threads 1
     --log_every_n_steps 1 --enable_progress_bar false)
expect_success fit "${RES[@]}" --default_root_dir "$TMP/rfull" --callbacks ModelCheckpoint \
    --callbacks.every_n_train_steps 5 --callbacks.save_top_k -1
grep "^Test:" "$TMP/out" | sed 's/ *\[.*//' >"$TMP/rfull.test"
ck=$TMP/rfull/lightning_logs/version_0/checkpoints/epoch=1-step=10.ckpt
[ -f "$ck" ] || fail "no mid-epoch checkpoint epoch=1-step=10.ckpt"
expect_success fit "${RES[@]}" --default_root_dir "$TMP/rhalf" --ckpt_path "$ck"
grep -q "Resuming fit in epoch 1 after batch 2 (global step 10)" "$TMP/out" || { cat "$TMP/out"; fail "no mid-epoch resume"; }
grep "^Test:" "$TMP/out" | sed 's/ *\[.*//' | diff - "$TMP/rfull.test" || fail "test metrics differ after the resume"
python3 - "$TMP"/rfull/lightning_logs/version_0/metrics.csv "$TMP"/rhalf/lightning_logs/version_0/metrics.csv <<'PY' || fail "a mid-epoch resume on augmented images is not bit-exact"
import csv, sys
def rows(path):  # train_loss_epoch averages only the batches this process ran (Lightning too)
    return [sorted((k, v) for k, v in r.items() if v != "" and k != "train_loss_epoch")
            for r in csv.DictReader(open(path)) if int(r["step"]) > 10]
full, half = rows(sys.argv[1]), rows(sys.argv[2])
if full != half or len(full) < 10: sys.exit(f"{len(full)} rows after step 10, {len(half)} resumed")
print(f"ok: {len(full)} metrics rows after a mid-epoch resume on augmented images identical")
PY
expect_error "refused its state: it was saved with 120 samples .* this run has 120 samples split by 7" \
    fit "${RES[@]}" --default_root_dir "$TMP/rbad" --ckpt_path "$ck" --data.val "" --data.split_seed 7

# Errors, each naming the file or folder and the fix.
mkdir -p "$TMP/empty" "$TMP/noimg/cls" && echo hi >"$TMP/noimg/cls/readme.txt"
mkdir -p "$TMP/noimg/empty2" "$TMP/noimg/ok" && cp "$TMP/px/a_cls/"*.png "$TMP/noimg/ok/"
expect_error "${ERR}$TMP/empty: couldn't find any class folder" predict "${DUMP[@]}" --data.root "$TMP/empty"
expect_error "${ERR}$TMP/noimg: found no valid file for the classes cls, empty2\\. Supported extensions are: .png, .jpg, .jpeg" \
    predict "${DUMP[@]}" --data.root "$TMP/noimg"
expect_error "${ERR}--data.root is empty" predict "${DUMP[@]}"
mkdir -p "$TMP/loop/a/sub" "$TMP/deep/a/$(printf 'd/%.0s' $(seq 33))" && cp "$TMP/px/a_cls/"*.png "$TMP/loop/a/"
ln -s ../../a "$TMP/loop/a/sub/back"
expect_error "${ERR}$TMP/loop/a/sub/back: a symlink loop" predict "${DUMP[@]}" --data.root "$TMP/loop"
expect_error "${ERR}$TMP/deep/a(/d)+: folders nested more than 32 deep" predict "${DUMP[@]}" --data.root "$TMP/deep"
expect_error "${ERR}$TMP/nope: cannot open the folder" predict "${DUMP[@]}" --data.root "$TMP/nope"
# A path longer than the reader's 4095 bytes (17 nested 250-byte names) is an error, not a
# silently skipped folder (torchvision would read it).
mkdir -p "$TMP/long/a" && cp "$TMP/px/a_cls/"*.png "$TMP/long/a/"
(cd "$TMP/long/a" && for i in $(seq 17); do n=$(printf 'n%.0s' $(seq 250)); mkdir "$n" && cd "$n"; done) ||
    fail "making the long path"
expect_error "${ERR}a path under $TMP/long/a/n+\\.\\.\\. is over 4095 bytes \\(entry 'n+'\\); shorten the folder or file names" \
    predict "${DUMP[@]}" --data.root "$TMP/long"
mkdir -p "$TMP/bad"
"$GEN" --bad "$TMP/bad" || fail "image_gen --bad"
one() { # one NAME: a folder of a good image and bad/NAME
    rm -rf "$TMP/one"; mkdir -p "$TMP/one/a" "$TMP/one/b"
    cp "$TMP/bad/whole.png" "$TMP/one/a/"; cp "$TMP/bad/$1" "$TMP/one/b/"
}
for f in "truncated.png:corrupt or truncated PNG" "truncated.jpg:corrupt or truncated JPEG \(Premature end" \
         "huge.png:100000x100000 pixels; images may have 1 to 16384" "text.png:neither a PNG nor a JPEG"; do
    one "${f%%:*}"
    expect_error "loading predict batch 0: $TMP/one/b/${f%%:*}: ${f#*:}" predict "${DUMP[@]}" --data.root "$TMP/one"
done
# An empty file, and a JPEG whose frame header claims 65000x65000 pixels (the rest of a
# 32x32 one): refused from the header, before any pixel memory.
: >"$TMP/bad/zero.png" && : >"$TMP/bad/zero.jpg"
python3 - "$TMP/bad/whole.jpg" "$TMP/bad/huge.jpg" <<'PY' || fail "making huge.jpg"
import sys
b = bytearray(open(sys.argv[1], "rb").read())
i = next(i for i in range(len(b) - 1) if b[i] == 0xFF and b[i + 1] in (0xC0, 0xC1, 0xC2))
b[i + 5:i + 9] = (65000).to_bytes(2, "big") * 2  # SOFn: length, precision, height, width
open(sys.argv[2], "wb").write(b)
PY
for f in "zero.png:an empty file, not an image" "zero.jpg:an empty file, not an image" \
         "huge.jpg:65000x65000 pixels; images may have 1 to 16384"; do
    one "${f%%:*}"
    expect_error "loading predict batch 0: $TMP/one/b/${f%%:*}: ${f#*:}" predict "${DUMP[@]}" --data.root "$TMP/one"
done
# An image name that leads nowhere (a dangling or looping symlink) is refused when the
# folder is scanned, as torchvision's loader fails on it; other such names are skipped.
one whole.png && ln -s nowhere "$TMP/one/b/skipped" && ln -s self "$TMP/one/b/self"
expect_success predict "${DUMP[@]}" --data.root "$TMP/one"
ln -s nowhere.png "$TMP/one/b/dangling.png"
expect_error "${ERR}$TMP/one/b/dangling.png: cannot read the image: No such file or directory" \
    predict "${DUMP[@]}" --data.root "$TMP/one"
rm "$TMP/one/b/dangling.png" && ln -s loop.JPG "$TMP/one/b/loop.JPG"
expect_error "${ERR}$TMP/one/b/loop.JPG: cannot read the image: Too many levels of symbolic links" \
    predict "${DUMP[@]}" --data.root "$TMP/one"
one picture.bmp
expect_error "${ERR}$TMP/one/b/picture.bmp: only PNG and JPEG" predict "${DUMP[@]}" --data.root "$TMP/one"
# images of several sizes need --data.crop (or one aspect ratio and --data.resize)
expect_error "loading predict batch 0: .*: [0-9]+x[0-9]+, but the batches are [0-9]+x[0-9]+ .*give --data.crop" \
    predict "${DUMP[@]}" --data.root "$TMP/train"
expect_error "loading predict batch 0: .*: [0-9]+x[0-9]+ after --data.resize, smaller than --data.crop 24" \
    predict "${DUMP[@]}" --data.root "$TMP/train" --data.resize 20 --data.crop 24
expect_error "${ERR}--data.mean '1,2': give three numbers" predict "${DUMP[@]}" --data.root "$TMP/train" --data.mean 1,2
expect_error "${ERR}--data.std: every value must be > 0" predict "${DUMP[@]}" --data.root "$TMP/train" --data.std 1,0,1
mkdir -p "$TMP/val2" && cp -r "$TMP/val/class_0" "$TMP/val/class_1" "$TMP/val2/"
expect_error "${ERR}--data.val has 2 class folders, the training folder 3" validate "${DUMP[@]}" \
    --data.root "$TMP/train" --data.val "$TMP/val2" --data.crop 16
echo "ok: every broken folder or image is one clear error"
