#!/usr/bin/env bash
# uint8 and float16 batch fields (issue #21): the npy plugin passes them as they are with
# --data.x_dtype keep, lt_batch_get returns them in their dtype, lt_to_f32 converts them
# on the device (x / 255 as torch's x.float() / 255), and a model trains on uint8 pixels.
. "$(dirname "$0")/lib.sh"
CHECK="python3 $SRC_DIR/tests/e2e/data_check.py"
D=$TMP/d
mkdir -p "$D"
python3 "$SRC_DIR/tests/e2e/npy_gen.py" "$D" || fail "generating the arrays"
DUMP=(--module "$LT_TEST_PLUGIN_DIR/batch_dump.so" --model.out "$TMP/dump.txt" --data npy --max_epochs 1)
ERR="data plugin npy: setup\('[a-z]+'\) failed: "
y=(--data.y "$D/y_i8.npy" --data.batch_size 13)

# check NAME EXPECTED.json ARGS...: predict dumps every sample in order; compare.
check() {
    local name=$1 want=$2
    shift 2
    rm -f "$TMP/dump.txt"
    expect_success predict "${DUMP[@]}" "$@" "${y[@]}"
    $CHECK "$TMP/dump.txt" "$D/$want" ordered predict || fail "$name"
    echo "ok: $name"
}
check "uint8 kept: the batch's x is uint8, values as saved" cls.json --data.x "$D/x_u1.npy" --data.x_dtype keep --model.x_dtype uint8
check "uint8 kept, lt_to_f32(x, 255) on the device" cls_255.json --data.x "$D/x_u1.npy" --data.x_dtype keep --model.to_f32 255
check "float16 kept: the batch's x is float16, values as saved" cls_f2.json --data.x "$D/x_f2.npy" --data.x_dtype keep --model.x_dtype float16
check "float16 kept, widened by lt_to_f32(x, 1)" cls_f2.json --data.x "$D/x_f2.npy" --data.x_dtype keep --model.to_f32 1
check "float16 read as float32 (the default)" cls_f2.json --data.x "$D/x_f2.npy" --model.x_dtype float32
check "int64 kept" cls.json --data.x "$D/x_i8.npy" --data.x_dtype keep --model.x_dtype int64
check "float32 kept" cls.json --data.x "$D/x_f4.npy" --data.x_dtype keep

# The dump shows each field's dtype by its text: a kept uint8 x prints integers, a float16
# x converted by lt_to_f32(x, 255) prints fractions.
rm -f "$TMP/dump.txt"
expect_success predict "${DUMP[@]}" --data.x "$D/x_u1.npy" --data.x_dtype keep "${y[@]}"
awk '{ for (i = 3; i <= 8; i++) if ($i !~ /^[0-9]+$/) exit 1 }' "$TMP/dump.txt" || fail "kept uint8 is not integers"

# Errors: dtypes a batch cannot hold as they are.
expect_error "${ERR}$D/x_f8.npy: --data.x_dtype keep passes uint8, float16, float32 or int64 as they are, not float64" \
    predict "${DUMP[@]}" --data.x "$D/x_f8.npy" --data.x_dtype keep "${y[@]}"
expect_error "${ERR}$D/x_i4.npy: --data.x_dtype keep .* not int32" \
    predict "${DUMP[@]}" --data.x "$D/x_i4.npy" --data.x_dtype keep "${y[@]}"

# Training on uint8 pixels converted on the device: the tabular model with x_divisor 255.
expect_success fit --module tabular --model.in_features 6 --model.hidden 16 --model.lr 0.01 \
    --model.x_divisor 255 --data npy --data.x "$D/x_u1.npy" --data.x_dtype keep \
    --data.y "$D/y_i8.npy" --data.test_fraction 0.2 --max_epochs 60 --seed_everything 1 \
    --data.batch_size 16
acc=$(sed -n 's/^Test:.*test_acc=\([0-9.]*\).*/\1/p' "$TMP/out")
awk -v a="$acc" 'BEGIN { exit !(a >= 0.8) }' || { cat "$TMP/out"; fail "test_acc '$acc' < 0.8"; }
echo "ok: classifier on kept uint8 pixels / 255, test_acc $acc"
