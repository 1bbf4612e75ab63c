#!/usr/bin/env bash
# The seed's autoencoder: fit, then use only its encoder to embed images, from lthost
# (predict --submodule encoder) and from another program through the C API
# (docs/examples/embed.c: lt_model_load_ex + lt_model_forward); both give the same numbers.
. "$(dirname "$0")/lib.sh"
need_dataset
expect_success fit --module autoencoder --max_epochs 1 --limit_train_batches 30 --limit_val_batches 2 \
    --seed_everything 4 --test_after_fit false --enable_progress_bar false --default_root_dir "$TMP"
ckpt=$(ls "$TMP"/lightning_logs/version_0/checkpoints/*.ckpt)
expect_success predict --module autoencoder --ckpt_path "$ckpt" --submodule encoder \
    --limit_predict_batches 1 --predict.output "$TMP/emb.csv"
rows=$(wc -l <"$TMP/emb.csv")
cols=$(head -1 "$TMP/emb.csv" | awk -F, '{ print NF }')
[ "$cols" -eq 3 ] && [ "$rows" -ge 8 ] || fail "encoder embeddings: $rows rows of $cols columns, expected (N, 3)"
expect_success predict --module autoencoder --ckpt_path "$ckpt" --limit_predict_batches 1 --predict.output "$TMP/rec.csv"
[ "$(head -1 "$TMP/rec.csv" | awk -F, '{ print NF }')" -eq 784 ] || fail "full forward is not a 784-wide reconstruction"
echo "ok: predict --submodule encoder -> $rows x 3 embeddings; forward -> 784-wide reconstructions"
expect_error "--submodule bottleneck: module 'autoencoder' has no such submodule \(it declares: encoder, decoder\)" \
    predict --module autoencoder --ckpt_path "$ckpt" --submodule bottleneck

embed=$BUILD_DIR/docs/examples/embed
so=$BUILD_DIR/plugins/models/autoencoder/autoencoder.so
"$embed" "$ckpt" "$so" >"$TMP/embed.txt" 2>&1 || { cat "$TMP/embed.txt"; fail "embed exited non-zero"; }
[ "$(wc -l <"$TMP/embed.txt")" -eq 8 ] || { cat "$TMP/embed.txt"; fail "embed printed $(wc -l <"$TMP/embed.txt") lines, expected 8"; }
paste -d' ' <(head -8 "$TMP/emb.csv" | tr ',' ' ') <(cut -d: -f2 "$TMP/embed.txt") | awk '
    { for (i = 1; i <= 3; i++) { d = $i - $(i + 3); if (d < 0) d = -d; if (d > 1e-4 * (1 + ($i < 0 ? -$i : $i))) bad = 1 } }
    END { exit bad }' || { paste "$TMP/emb.csv" "$TMP/embed.txt" | head -8; fail "embed and lthost predict disagree"; }
echo "ok: docs/examples/embed (lt_model C API) prints the same 8 embeddings as lthost predict"
rc=0
"$embed" "$TMP/missing.ckpt" "$so" >"$TMP/out" 2>&1 || rc=$?
[ "$rc" -eq 1 ] && grep -q "missing.ckpt" "$TMP/out" || { cat "$TMP/out"; fail "embed with a missing checkpoint: exit $rc"; }
"$embed" "$ckpt" "$BUILD_DIR/plugins/models/mlp/mlp.so" >"$TMP/out" 2>&1 && fail "embed loaded an autoencoder checkpoint into mlp"
grep -q "does not fit module 'mlp'" "$TMP/out" || { cat "$TMP/out"; fail "embed: no clear error for the wrong module"; }
echo "ok: embed reports a missing checkpoint and the wrong module"

# docs/export.md end to end: embed also writes the encoder as ONNX, and
# docs/examples/embed_onnx.py (onnxruntime, no lthost) prints the same 8 embeddings.
images=/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz
"$embed" "$ckpt" "$so" "$images" "$TMP/encoder.onnx" >"$TMP/embed2.txt" 2>&1 ||
    { cat "$TMP/embed2.txt"; fail "embed with an ONNX file exited non-zero"; }
cmp -s "$TMP/embed.txt" "$TMP/embed2.txt" || fail "embed printed other embeddings when exporting"
[ -s "$TMP/encoder.onnx" ] || fail "embed wrote no $TMP/encoder.onnx"
if py=$(bash "$SRC_DIR/tests/reference/setup_onnx_venv.sh" --find); then
    "$py" "$SRC_DIR/docs/examples/embed_onnx.py" "$TMP/encoder.onnx" "$images" >"$TMP/ort.txt" ||
        fail "docs/examples/embed_onnx.py failed"
    [ "$(wc -l <"$TMP/ort.txt")" -eq 8 ] || { cat "$TMP/ort.txt"; fail "embed_onnx.py printed $(wc -l <"$TMP/ort.txt") lines"; }
    paste -d' ' <(cut -d: -f2 "$TMP/embed.txt") <(cut -d: -f2 "$TMP/ort.txt") | awk '
        { for (i = 1; i <= 3; i++) { d = $i - $(i + 3); if (d < 0) d = -d; if (d > 1e-4 * (1 + ($i < 0 ? -$i : $i))) bad = 1 } }
        END { exit bad }' || { paste "$TMP/embed.txt" "$TMP/ort.txt"; fail "embed and embed_onnx.py (onnxruntime) disagree"; }
    echo "ok: docs/examples/embed_onnx.py (onnxruntime on embed's encoder.onnx) prints the same 8 embeddings"
else
    echo "note: embed_onnx.py not run: no Python with onnxruntime (bash tests/reference/setup_onnx_venv.sh)"
fi
