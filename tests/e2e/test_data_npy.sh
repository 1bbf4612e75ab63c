#!/usr/bin/env bash
# The npy data plugin: .npy pairs of every supported dtype and .npz archives (stored and
# deflated, zip64 as numpy writes them) come back value for value, in order (predict)
# and shuffled (fit); models learn from them; hostile files are one clear error each.
. "$(dirname "$0")/lib.sh"
CHECK="python3 $SRC_DIR/tests/e2e/data_check.py"
D=$TMP/d
mkdir -p "$D"
python3 "$SRC_DIR/tests/e2e/npy_gen.py" "$D" || fail "generating the arrays"
DUMP=(--module "$LT_TEST_PLUGIN_DIR/batch_dump.so" --model.out "$TMP/dump.txt" --data npy --max_epochs 1)
ERR="data plugin npy: setup\('[a-z]+'\) failed: "

# Every x dtype with every integer y dtype, in order.
for x in f4 f8 i8 i4 u1; do
    for y in i8 i4 u1; do
        rm -f "$TMP/dump.txt"
        expect_success predict "${DUMP[@]}" --data.x "$D/x_$x.npy" --data.y "$D/y_$y.npy" --data.batch_size 13
        $CHECK "$TMP/dump.txt" "$D/cls.json" ordered predict || fail "x $x, y $y in order"
    done
done
# .npz, stored and deflated, shuffled in training and split once by seed.
for z in stored deflated; do
    rm -f "$TMP/dump.txt"
    expect_success fit "${DUMP[@]}" --data.npz "$D/$z.npz" --data.x_key inputs --data.y_key labels \
        --data.val_fraction 0 --data.test_fraction 0 --test_after_fit false
    $CHECK "$TMP/dump.txt" "$D/cls.json" shuffled train || fail "$z .npz shuffled"
    rm -f "$TMP/dump.txt"
    expect_success fit "${DUMP[@]}" --data.npz "$D/$z.npz" --data.x_key inputs --data.y_key labels \
        --num_sanity_val_steps 0 --data.num_workers 3
    $CHECK "$TMP/dump.txt" "$D/cls.json" partition train,val,test || fail "$z .npz split"
done
# Regression targets (N, 2) float64, from a format 2.0 file.
rm -f "$TMP/dump.txt"
expect_success predict "${DUMP[@]}" --data.x "$D/x_u1.npy" --data.y "$D/yreg.npy" --data.task regression
$CHECK "$TMP/dump.txt" "$D/reg.json" ordered predict || fail "regression targets in order"

# Training: a logistic regression on the uint8 images, a linear one on the targets.
expect_success fit --module tabular --model.in_features 6 --model.hidden 16 --model.lr 0.01 \
    --data npy --data.x "$D/x_u1.npy" --data.y "$D/y_i8.npy" --data.test_fraction 0.2 \
    --max_epochs 60 --seed_everything 1 --data.batch_size 16
acc=$(sed -n 's/^Test:.*test_acc=\([0-9.]*\).*/\1/p' "$TMP/out")
awk -v a="$acc" 'BEGIN { exit !(a >= 0.8) }' || { cat "$TMP/out"; fail "test_acc '$acc' < 0.8"; }
echo "ok: classifier on .npy arrays, test_acc $acc"

# Larger than RAM: a sparse x.npy of MemTotal + 8 GiB (no disk used) trains a few
# shuffled batches straight from the mapping, in a small fraction of that memory.
if [ -z "${LT_E2E_SANITIZED:-}" ] && [ -x /usr/bin/time ]; then
    python3 - "$D" <<'PY'
import struct, sys
mem = next(int(l.split()[1]) * 1024 for l in open("/proc/meminfo") if l.startswith("MemTotal:"))
d, row = 1024, 4096
n = (mem + (8 << 30)) // row
def header(descr, shape):
    h = "{'descr': '%s', 'fortran_order': False, 'shape': %s, }" % (descr, shape)
    h = (h + " " * ((64 - (10 + len(h) + 1) % 64) % 64) + "\n").encode()
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(h)) + h
for name, descr, shape, size in (("big_x", "<f4", "(%d, %d)" % (n, d), n * row),
                                 ("big_y", "|u1", "(%d,)" % n, n)):
    with open(f"{sys.argv[1]}/{name}.npy", "wb") as f:
        h = header(descr, shape)
        f.write(h)
        f.truncate(len(h) + size)
PY
    /usr/bin/time -f "maxrss_kb=%M" -o "$TMP/rss" "$LTHOST" fit --module tabular --model.in_features 1024 \
        --data npy --data.x "$D/big_x.npy" --data.y "$D/big_y.npy" --max_epochs 1 \
        --limit_train_batches 20 --limit_val_batches 2 --test_after_fit false \
        --enable_checkpointing false --logger false >"$TMP/out" 2>&1 || { cat "$TMP/out"; fail "training on a larger-than-RAM .npy"; }
    rss=$(sed -n 's/^maxrss_kb=//p' "$TMP/rss")
    size=$(stat -c %s "$D/big_x.npy")
    [ "$rss" -lt 1048576 ] || fail "max RSS ${rss} KiB training on a ${size}-byte .npy; it must stream"
    echo "ok: trained on a $((size >> 30)) GiB .npy (RAM: $(awk '/MemTotal/ {print int($2 / 1048576)}' /proc/meminfo) GiB) in $((rss / 1024)) MiB"
    rm -f "$D/big_x.npy" "$D/big_y.npy"
fi

# Hostile files: each one error, naming the file (and the offset in it).
bad() { # bad PATTERN FLAGS...
    local pattern=$1
    shift
    expect_error "$ERR$pattern" fit "${DUMP[@]}" "$@"
}
y=(--data.y "$D/y_i8.npy")
bad "$D/bad_magic.npy: at offset 0: not a .npy file" --data.x "$D/bad_magic.npy" "${y[@]}"
bad "$D/bad_version.npy: at offset 6: unknown .npy format version" --data.x "$D/bad_version.npy" "${y[@]}"
bad "$D/huge_header.npy: at offset [0-9]+: truncated in the header" --data.x "$D/huge_header.npy" "${y[@]}"
bad "$D/trunc_header.npy: at offset 40: truncated in the header" --data.x "$D/trunc_header.npy" "${y[@]}"
bad "$D/not_dict.npy: at offset 10: the header is not a dict" --data.x "$D/not_dict.npy" "${y[@]}"
bad "$D/fortran.npy: fortran_order is True" --data.x "$D/fortran.npy" "${y[@]}"
bad "$D/big_endian.npy: dtype '>f4' is not supported" --data.x "$D/big_endian.npy" "${y[@]}"
bad "$D/complex.npy: dtype '<c8' is not supported" --data.x "$D/complex.npy" "${y[@]}"
bad "$D/overflow.npy: the shape's element count overflows" --data.x "$D/overflow.npy" "${y[@]}"
bad "$D/bytes_overflow.npy: the shape's byte count overflows" --data.x "$D/bytes_overflow.npy" "${y[@]}"
bad "$D/trunc_data.npy: the header's shape needs 2880 data bytes from offset 128, the file has 2875 \(truncated\)" --data.x "$D/trunc_data.npy" "${y[@]}"
bad "$D/trailing.npy: .* \(trailing bytes\)" --data.x "$D/trailing.npy" "${y[@]}"
bad "$D/scalar.npy: a 0-d array" --data.x "$D/scalar.npy" "${y[@]}"
bad "$D/x_f4.npy has 120 samples but $D/y_short.npy has 119" --data.x "$D/x_f4.npy" --data.y "$D/y_short.npy"
bad "$D/y_float.npy: classification needs y of shape \(N\) holding integer" --data.x "$D/x_f4.npy" --data.y "$D/y_float.npy"
bad "$D/y_negative.npy: y\[119\] = -3 is no class index" --data.x "$D/x_f4.npy" --data.y "$D/y_negative.npy"
bad "$D/not_zip.npz: at offset [0-9]+: not a zip archive" --data.npz "$D/not_zip.npz"
bad "$D/stored.npz: no member x.npy" --data.npz "$D/stored.npz"
bad "$D/corrupt.npz\[labels.npy\]: the deflated member is damaged" --data.npz "$D/corrupt.npz" --data.x_key inputs --data.y_key labels
bad "$D/cut.npz: at offset [0-9]+: not a zip archive" --data.npz "$D/cut.npz"
bad "$D/none.npy: cannot open: No such file" --data.x "$D/none.npy" "${y[@]}"
: >"$D/zero.npy" && : >"$D/zero.npz" && ln -s loop.npy "$D/loop.npy"
bad "$D/zero.npy: at offset 0: not a .npy file" --data.x "$D/zero.npy" "${y[@]}"
bad "$D/zero.npz: at offset 0: not a zip archive \(too short\)" --data.npz "$D/zero.npz"
bad "$D/loop.npy: cannot open: Too many levels of symbolic links \(check --data.y\)" --data.x "$D/x_f4.npy" --data.y "$D/loop.npy"
bad "give the data: --data.x X.npy --data.y Y.npy, or --data.npz D.npz"
echo "npy data plugin checked"
