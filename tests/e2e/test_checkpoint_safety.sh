#!/usr/bin/env bash
# Checkpoints never break a run and are never half-loaded: corrupt, truncated, foreign,
# mismatched and newer-format files are refused with one clear error; a full disk
# (ulimit -f) fails the save and keeps the previous checkpoint; kill -9 during repeated
# saves never leaves a corrupt last.ckpt; SIGTERM saves last.ckpt and --ckpt_path last
# continues.
. "$(dirname "$0")/lib.sh"
need_dataset
common=(--module mlp --limit_train_batches 10 --limit_val_batches 2 --seed_everything 1
        --test_after_fit false --enable_progress_bar false --enable_model_summary false)
expect_success fit "${common[@]}" --max_epochs 1 --default_root_dir "$TMP"
good=$TMP/lightning_logs/version_0/checkpoints/epoch=0-step=10.ckpt
[ -f "$good" ] || fail "no checkpoint at $good"
val=(validate --module mlp --limit_val_batches 2)
expect_success "${val[@]}" --ckpt_path "$good"
size=$(stat -c %s "$good")

head -c $((size / 2)) "$good" >"$TMP/truncated.ckpt"
expect_error "truncated.ckpt: .*(past the end|truncated)" "${val[@]}" --ckpt_path "$TMP/truncated.ckpt"
head -c 5 "$good" >"$TMP/tiny.ckpt"
expect_error "tiny.ckpt" "${val[@]}" --ckpt_path "$TMP/tiny.ckpt"
cp "$good" "$TMP/flipped.ckpt"
printf '\x55' | dd of="$TMP/flipped.ckpt" bs=1 seek=$((size - 1000)) conv=notrunc 2>/dev/null
expect_error "flipped.ckpt: checksum mismatch" "${val[@]}" --ckpt_path "$TMP/flipped.ckpt"
cp "$good" "$TMP/header.ckpt"
printf '\xff\xff\xff\x00' | dd of="$TMP/header.ckpt" bs=1 seek=0 conv=notrunc 2>/dev/null
expect_error "header.ckpt: .*header" "${val[@]}" --ckpt_path "$TMP/header.ckpt"
expect_error "no-such.ckpt" "${val[@]}" --ckpt_path "$TMP/no-such.ckpt"
printf 'not a checkpoint' >"$TMP/text.ckpt"
expect_error "text.ckpt" "${val[@]}" --ckpt_path "$TMP/text.ckpt"

# A newer major format (metadata rewritten without the checksum, which is optional).
python3 - "$good" "$TMP/newer.ckpt" <<'PY'
import json, struct, sys
raw = open(sys.argv[1], "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
head = json.loads(raw[8:8 + n])
head["__metadata__"]["format_version"] = '"2.0"'
del head["__metadata__"]["checksum"]
text = json.dumps(head).encode()
text += b" " * (-len(text) % 8)
open(sys.argv[2], "wb").write(struct.pack("<Q", len(text)) + text + raw[8 + n:])
PY
expect_error "format 2.0 by a newer lthost" "${val[@]}" --ckpt_path "$TMP/newer.ckpt"

# The wrong model: every mismatch named; strict=false loads what matches.
expect_error "size mismatch for l1.weight: F32 \[256, 784\] in the file, \[64, 784\]" \
    "${val[@]}" --ckpt_path "$good" --model.hidden 64
expect_error "missing key\(s\) encoder.0.weight, .* unexpected key\(s\) l1.weight" \
    validate --module autoencoder --limit_val_batches 2 --ckpt_path "$good"
expect_success validate --module autoencoder --limit_val_batches 2 --ckpt_path "$good" --strict false
echo "ok: corrupt, foreign and mismatched checkpoints refused; --strict false accepted"

# A full disk: the save fails, the previous checkpoint stays.
dir=$TMP/keep
expect_success fit "${common[@]}" --max_epochs 1 --logger false --callbacks ModelCheckpoint --callbacks.dirpath "$dir"
before=$(md5sum "$dir"/*.ckpt)
rc=0
(ulimit -f 1024; "$LTHOST" fit "${common[@]}" --max_epochs 1 --logger false --callbacks ModelCheckpoint \
    --callbacks.dirpath "$dir" >"$TMP/out" 2>&1) || rc=$?
[ "$rc" -eq 1 ] || { cat "$TMP/out"; fail "a save past ulimit -f exited $rc, expected 1"; }
grep -q "^lthost: error: writing .*File too large" "$TMP/out" || { cat "$TMP/out"; fail "no clear error for a full disk"; }
[ "$(md5sum "$dir"/*.ckpt)" = "$before" ] || fail "the previous checkpoint changed after a failed save"
[ -z "$(ls -A "$dir" | grep -v '^epoch=0-step=10.ckpt$')" ] || fail "a failed save left files: $(ls -A "$dir")"
echo "ok: ulimit -f: $(grep -o 'writing .*' "$TMP/out" | cut -c1-100)"

# kill -9 at random moments while last.ckpt is rewritten every step.
loop=$TMP/loop
for i in 1 2 3 4 5 6; do
    "$LTHOST" fit "${common[@]}" --limit_train_batches 1000 --max_epochs 100 --logger false \
        --callbacks ModelCheckpoint --callbacks.dirpath "$loop" --callbacks.every_n_train_steps 1 \
        --callbacks.save_top_k 0 --callbacks.save_last true --num_sanity_val_steps 0 >/dev/null 2>&1 &
    pid=$!
    sleep "0.$((RANDOM % 7 + 3))"
    kill -9 $pid
    wait $pid 2>/dev/null
    [ -f "$loop/last.ckpt" ] || continue
    expect_success "${val[@]}" --ckpt_path "$loop/last.ckpt"
done
[ -f "$loop/last.ckpt" ] || fail "no last.ckpt was ever written"
echo "ok: kill -9 during repeated saves: last.ckpt always loads"

# SIGTERM: finish the optimizer step (here a window of 3 accumulated batches), save
# last.ckpt, exit 143; --ckpt_path last continues.
sig=$TMP/sig
"$LTHOST" fit "${common[@]}" --limit_train_batches 1.0 --max_epochs 1000 --default_root_dir "$sig" \
    --num_sanity_val_steps 0 --accumulate_grad_batches 3 >"$TMP/sig.out" 2>&1 &
pid=$!
for _ in $(seq 100); do grep -q "Epoch 1/" "$TMP/sig.out" && break; sleep 0.1; done
kill -TERM $pid
rc=0
wait $pid || rc=$?
[ "$rc" -eq 143 ] || { cat "$TMP/sig.out"; fail "SIGTERM: exit $rc, expected 143"; }
grep -q "received SIGTERM at epoch .*saved .*last.ckpt; run the same command with --ckpt_path last" "$TMP/sig.out" ||
    { cat "$TMP/sig.out"; fail "SIGTERM: no message"; }
epoch=$(grep -o 'received SIGTERM at epoch [0-9]*' "$TMP/sig.out" | grep -o '[0-9]*$')
batch=$(grep -o 'after batch [0-9]*' "$TMP/sig.out" | grep -o '[0-9]*$')
[ $((batch % 3)) -eq 0 ] || [ "$batch" -eq 860 ] || fail "SIGTERM saved after batch $batch, inside an accumulation window of 3"
expect_success fit "${common[@]}" --limit_train_batches 1.0 --max_epochs $((epoch + 1)) --default_root_dir "$sig" \
    --num_sanity_val_steps 0 --accumulate_grad_batches 3 --ckpt_path last
grep -q "Resuming fit" "$TMP/out" && grep -q "max_epochs=$((epoch + 1))\` reached" "$TMP/out" ||
    { cat "$TMP/out"; fail "--ckpt_path last did not continue the interrupted run"; }
echo "ok: SIGTERM in epoch $epoch saved last.ckpt (exit 143), --ckpt_path last finished the epoch"

# Plain safetensors weights (no checkpoint metadata): liblt says what the file is, lthost
# names the flag that loads it.
python3 - "$TMP/plain.safetensors" <<'PY'
import json, struct, sys
head = json.dumps({"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}).encode()
head += b" " * (-len(head) % 8)
open(sys.argv[1], "wb").write(struct.pack("<Q", len(head)) + head + b"\0\0\0\0")
PY
expect_error "not an lthost checkpoint .* \(pass it with --init_weights\)" "${val[@]}" --ckpt_path "$TMP/plain.safetensors"
