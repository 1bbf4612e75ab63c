#!/usr/bin/env bash
# Manual optimization: the gan plugin steps two optimizers per batch (toggled in turn),
# so global_step counts both, as Lightning's does; its losses stay finite; max_steps
# counts those steps; predict writes generated images.
. "$(dirname "$0")/lib.sh"
need_dataset
expect_success fit --module gan --limit_train_batches 30 --max_epochs 2 --logger false \
    --test_after_fit false --seed_everything 3
grep -q 'global step 120)' "$TMP/out" || fail "2 optimizers x 60 batches should be 120 steps: $(tail -n 3 "$TMP/out")"
line=$(grep '^Epoch 2/2' "$TMP/out")
echo "$line" | grep -qE 'g_loss=[0-9]+\.[0-9]+  d_loss=[0-9]+\.[0-9]+' || fail "losses: $line"
echo "ok: $line"
expect_success fit --module gan --limit_train_batches 30 --max_epochs 5 --max_steps 10 --logger false \
    --test_after_fit false
grep -q '^Epoch 1/5 .*\[5 steps' "$TMP/out" || fail "max_steps 10 = 5 batches of 2 steps: $(cat "$TMP/out")"
expect_error "accumulate_grad_batches and --gradient_clip_val are for automatic optimization" \
    fit --module gan --accumulate_grad_batches 2
expect_success predict --module gan --limit_predict_batches 2 --predict.output "$TMP/fake.npy"
python3 - "$TMP/fake.npy" <<'PY' || fail "predictions file"
import ast, struct, sys
b = open(sys.argv[1], "rb").read()
assert b[:6] == b"\x93NUMPY", "not .npy"
n = struct.unpack("<H", b[8:10])[0]
h = ast.literal_eval(b[10:10 + n].decode())
assert h["descr"] == "<f4" and h["shape"] == (128, 784), h
assert len(b) == 10 + n + 128 * 784 * 4, len(b)
print("ok: predict wrote", h["shape"], "float32 images")
PY
