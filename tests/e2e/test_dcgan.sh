#!/usr/bin/env bash
# The dcgan plugin (issue 19) with lt_log_image (issue 23): a short fit under manual
# optimization (2 optimizer steps per batch) keeps both losses finite, writes one PNG
# grid of the fixed noise batch per epoch at images/generated/step_<global_step>.png
# that decodes (zlib and struct only) to 8x8 tiles of 28x28 with 2 pixels of padding,
# and puts the same image in the TensorBoard event file (TensorBoard's own reader checks
# it with tests/reference/check_images.py when tests/reference/.venv exists).
. "$(dirname "$0")/lib.sh"
need_dataset
expect_success fit --module dcgan --limit_train_batches 6 --limit_val_batches 0 --max_epochs 2 \
    --test_after_fit false --seed_everything 3 --threads 1 --default_root_dir "$TMP/run"
line=$(grep '^Epoch 2/2' "$TMP/out")
echo "$line" | grep -qE 'g_loss=[0-9]+\.[0-9]+  d_loss=[0-9]+\.[0-9]+' || fail "losses: $line"
grep -q 'global step 24)' "$TMP/out" || fail "2 optimizers x 12 batches should be 24 steps: $(tail -n 3 "$TMP/out")"
echo "ok: $line"
log="$TMP/run/lightning_logs/version_0"
for step in 12 24; do
    [ -f "$log/images/generated/step_$step.png" ] || fail "no $log/images/generated/step_$step.png: $(find "$log")"
done
python3 - "$log" <<'PY' || fail "the sample grids"
import csv, glob, math, os, struct, sys, zlib
log = sys.argv[1]

def png_pixels(path):
    """(width, height, rows of RGB bytes) of an 8-bit RGB, non-interlaced PNG."""
    b = open(path, "rb").read()
    assert b[:8] == b"\x89PNG\r\n\x1a\n", path + ": not a PNG"
    pos, idat, ihdr = 8, b"", None
    while pos < len(b):
        n, kind = struct.unpack(">I4s", b[pos:pos + 8])
        data = b[pos + 8:pos + 8 + n]
        assert zlib.crc32(kind + data) == struct.unpack(">I", b[pos + 8 + n:pos + 12 + n])[0], kind
        if kind == b"IHDR": ihdr = struct.unpack(">IIBBBBB", data)
        if kind == b"IDAT": idat += data
        pos += 12 + n
    w, h, depth, color, _, _, interlace = ihdr
    assert (depth, color, interlace) == (8, 2, 0), ihdr
    raw, stride, rows, prev = zlib.decompress(idat), 3 * w, [], bytearray(3 * w)
    assert len(raw) == h * (1 + stride), (len(raw), h, w)
    for y in range(h):
        f, line = raw[y * (1 + stride)], bytearray(raw[y * (1 + stride) + 1:(y + 1) * (1 + stride)])
        for x in range(stride):
            a = line[x - 3] if x >= 3 else 0
            c = prev[x - 3] if x >= 3 else 0
            p = a + prev[x] - c
            pa, pb, pc = abs(p - a), abs(p - prev[x]), abs(p - c)
            pred = [0, a, prev[x], (a + prev[x]) // 2, a if pa <= pb and pa <= pc else prev[x] if pb <= pc else c][f]
            line[x] = (line[x] + pred) & 0xFF
        rows.append(line)
        prev = line
    return w, h, rows

for step in (12, 24):
    w, h, rows = png_pixels(f"{log}/images/generated/step_{step}.png")
    assert (w, h) == (8 * 30 + 2, 8 * 30 + 2), (w, h)   # make_grid: 8 x 8 tiles of 28 + 2 padding
    assert all(v == 0 for v in rows[0]) and all(r[0] == 0 for r in rows), "padding is not black"
    tile = [rows[2 + y][3 * (2 + x)] for y in range(28) for x in range(28)]
    assert len(set(tile)) > 20, "the first sample is flat: %s" % sorted(set(tile))[:10]
    assert all(r[3 * x] == r[3 * x + 1] == r[3 * x + 2] for r in rows for x in range(w)), "not gray"
    print(f"ok: step_{step}.png is a {w}x{h} grid, first tile spans {min(tile)}..{max(tile)}")

events = glob.glob(f"{log}/events.out.tfevents.*")
assert len(events) == 1, events
blob = open(events[0], "rb").read()
pngs = [open(f"{log}/images/generated/step_{s}.png", "rb").read() for s in (12, 24)]
assert all(p in blob for p in pngs), "the event file does not hold the PNG files' bytes"
assert blob.count(b"generated") == 2, blob.count(b"generated")
for row in csv.DictReader(open(f"{log}/metrics.csv")):
    for k in ("g_loss_step", "d_loss_step"):
        assert row.get(k, "") == "" or math.isfinite(float(row[k])), row
print("ok: the event file holds both PNGs; logged losses are finite")
PY
venv="$SRC_DIR/tests/reference/.venv/bin/python"
if [ -x "$venv" ] && "$venv" -c 'import tensorboard, PIL' 2>/dev/null; then
    "$venv" "$SRC_DIR/tests/reference/check_images.py" "$log" || fail "TensorBoard's reader disagrees"
else
    echo "SKIP (part): TensorBoard's EventAccumulator check needs tensorboard and pillow in tests/reference/.venv"
fi
expect_error "dcgan: latent must be 1 to 1024, ngf and ndf 1 to 512, samples 1 to 256" \
    fit --module dcgan --max_epochs 1 --model.samples 0
