#!/usr/bin/env bash
# The chargpt model (a decoder-only character transformer) learns a text a Debian package
# ships — the Vim user manual of vim-runtime — in a short CPU run: its validation loss per
# character falls well below the text's unigram entropy (what a model that ignores the
# context can reach). `lthost predict --predict.prompt` then samples text of the asked
# length from the checkpoint, the same text for the same seed, and bad flags each give one
# clear error line.
. "$(dirname "$0")/lib.sh"
manual=$(ls /usr/share/vim/vim*/doc/usr_0[1-9].txt 2>/dev/null | head -n 9)
[ -n "$manual" ] || skip "the Vim user manual is not installed (apt-get install vim-runtime)"
cat $manual >"$TMP/book.txt"
# Unigram entropy in nats per character (the manual is ASCII: bytes are characters).
entropy=$(od -An -v -tu1 "$TMP/book.txt" | awk '{ for (i = 1; i <= NF; i++) { c[$i]++; n++ } }
    END { for (k in c) { p = c[k] / n; h -= p * log(p) }; printf "%.4f", h }')
vocab=$(od -An -v -tu1 "$TMP/book.txt" | tr -s ' ' '\n' | sed '/^$/d' | sort -u | wc -l)

steps=300 margin=0.5
[ -z "${LT_E2E_SANITIZED:-}" ] || { steps=30 margin=0.1; }
model=(--module chargpt --model.vocab_size "$vocab" --model.block_size 32 --model.n_layer 2
       --model.n_head 4 --model.n_embd 48 --model.dropout 0.0 --model.lr 3e-3 --threads 1)
data=(--data text --data.path "$TMP/book.txt" --data.block_size 32 --data.batch_size 32)
expect_success fit "${model[@]}" "${data[@]}" --data.vocab_out "$TMP/vocab.json" \
    --max_steps "$steps" --val_check_interval "$steps" --limit_val_batches 30 \
    --num_sanity_val_steps 0 --test_after_fit false --log_every_n_steps 10 \
    --enable_progress_bar false --seed_everything 5 --default_root_dir "$TMP/run"
tr -d '\r' <"$TMP/run/lightning_logs/version_0/metrics.csv" >"$TMP/metrics.csv"
csv=$TMP/metrics.csv
col() { awk -F, -v name="$1" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == name) c = i; next }
    c && $c != "" { v = $c } END { print v }' "$csv"; }
first=$(awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "train_loss_step") c = i; next }
    $c != "" { print $c; exit }' "$csv")
val=$(col val_loss)
[ -n "$val" ] && [ -n "$first" ] || { cat "$csv"; fail "no train_loss_step or val_loss in $csv"; }
awk -v v="$val" -v h="$entropy" -v m="$margin" 'BEGIN { exit !(v < h - m) }' ||
    fail "val_loss $val nats/char is not $margin below the unigram entropy $entropy after $steps steps"
awk -v v="$val" -v f="$first" 'BEGIN { exit !(v < f) }' || fail "val_loss $val is not below the first loss $first"
echo "ok: chargpt learns: loss $first -> val_loss $val nats/char after $steps steps (unigram entropy $entropy)"

ckpt=$(ls "$TMP"/run/lightning_logs/version_0/checkpoints/*.ckpt)
header=$(head -c 65536 "$ckpt" | tr -d '\0')
for key in transformer.wte.weight transformer.wpe.weight transformer.h.1.attn.c_attn.weight \
    transformer.h.0.mlp.c_proj.bias transformer.ln_f.weight lm_head.weight; do
    grep -q "\"state_dict.$key\"" <<<"$header" || fail "$ckpt has no state_dict.$key"
done
echo "ok: the checkpoint holds minGPT's state_dict names"

# Sampling: the prompt, then exactly max_new_tokens characters, then a newline.
sample() {
    expect_success predict --module chargpt --ckpt_path "$ckpt" --threads 1 --seed_everything 9 \
        --predict.vocab "$TMP/vocab.json" --predict.prompt "The " --predict.max_new_tokens 80 "$@"
    sed -n '/^The /,$p' "$TMP/out" >"$TMP/sample.txt"
    chars=$(wc -m <"$TMP/sample.txt")
    [ "$chars" -eq 85 ] || { cat "$TMP/out"; fail "predict printed $chars characters after the banner, expected 4 + 80 + 1"; }
}
sample --predict.temperature 0.8 --predict.top_k 5
cp "$TMP/sample.txt" "$TMP/first.txt"
sample --predict.temperature 0.8 --predict.top_k 5
cmp -s "$TMP/first.txt" "$TMP/sample.txt" || fail "the same seed sampled different text"
sample --predict.temperature 1.5
echo "ok: predict --predict.prompt samples 80 characters after the prompt, the same for the same seed: $(head -c 60 "$TMP/first.txt" | tr '\n\t' '  ')"

expect_error "predict.temperature 0 must be positive" predict --module chargpt --ckpt_path "$ckpt" \
    --predict.vocab "$TMP/vocab.json" --predict.prompt "The " --predict.temperature 0
expect_error "character at byte 1 .unknown. is not in the vocabulary" predict --module chargpt \
    --ckpt_path "$ckpt" --predict.vocab "$TMP/vocab.json" --predict.prompt "T€"
printf '[1, 2' >"$TMP/bad.json"
expect_error "predict.vocab .*bad.json: expected a JSON array" predict --module chargpt \
    --ckpt_path "$ckpt" --predict.vocab "$TMP/bad.json" --predict.prompt "The "
expect_error "index [0-9]+ at position [0-9]+ is out of range" predict --module chargpt \
    --ckpt_path "$ckpt" --predict.prompt "The ~~~~"
expect_error "n_embd 50 must be a positive multiple of --model.n_head 4" fit "${model[@]}" \
    --model.n_embd 50 "${data[@]}" --max_steps 1
expect_error "T <= block_size 32" fit "${model[@]}" --data text --data.path "$TMP/book.txt" \
    --data.block_size 64 --max_steps 1 --num_sanity_val_steps 0
