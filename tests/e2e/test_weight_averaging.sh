#!/usr/bin/env bash
# StochasticWeightAveraging and EMAWeightAveraging (issue 23) against Lightning 2.6: each
# case of tests/fixtures/weight_averaging_lightning.txt (tests/reference/weight_averaging.py)
# is run with lthost on the same module (avg_probe.so: its weights follow the lr schedule
# alone); the lr at every epoch start (SWALR) and the weights after fit (the average) must
# equal Lightning's within 1e-6 relative (swa_lrs_list: one swa_lr per param group). Then a run resumed mid-averaging from a
# checkpoint must end with the uninterrupted run's weights, and bad options are refused.
. "$(dirname "$0")/lib.sh"
d=$LT_TEST_PLUGIN_DIR
fix=$SRC_DIR/tests/fixtures/weight_averaging_lightning.txt
[ -f "$fix" ] || fail "no fixture $fix"
probe=(--module "$d/avg_probe.so" --data "$d/log_reduce_data.so" --limit_val_batches 0
       --test_after_fit false --enable_progress_bar false --enable_model_summary false --logger false)

# same FILE_A FILE_B: the "epoch ... lr X" and "final ..." lines agree to 1e-6 relative.
same() {
    paste -d' ' <(grep -E '^(epoch|final) ' "$1") <(grep -E '^(epoch|final) ' "$2") | awk '
        { n = NF / 2; if ($1 != $(n + 1)) bad = 1
          for (i = 2; i <= n; i++) { a = $i; b = $(n + i); d = a - b; if (d < 0) d = -d
              m = (b < 0 ? -b : b); if (d > 1e-6 * m + 1e-7) bad = 1 } }
        END { exit bad }' &&
        [ "$(grep -cE '^(epoch|final) ' "$1")" -eq "$(grep -cE '^(epoch|final) ' "$2")" ]
}

cases=0
while read -r marker name epochs flags; do
    [ "$marker" = "==" ] || continue
    awk -v n="$name" '$1 == "==" { on = ($2 == n); next } on' "$fix" >"$TMP/want_$name"
    # shellcheck disable=SC2086 # the fixture's flags are words
    expect_success fit "${probe[@]}" --max_epochs "$epochs" $flags
    same "$TMP/out" "$TMP/want_$name" || {
        diff <(grep -E '^(epoch|final) ' "$TMP/out") "$TMP/want_$name"
        fail "$name: lthost differs from Lightning"
    }
    echo "ok: $name: lrs and averaged weights equal Lightning's ($(grep '^final' "$TMP/out"))"
    cases=$((cases + 1))
done <"$fix"
[ "$cases" -ge 6 ] || fail "only $cases cases in $fix"

# Resume mid-averaging: 3 epochs (averaging began at epoch 1), then on to 6 from the
# checkpoint: n_averaged, the average, SWALR's step count and the lr carry over.
swa=(--callbacks StochasticWeightAveraging --callbacks.swa_lrs 0.02 --callbacks.swa_epoch_start 2
     --callbacks.annealing_epochs 3)
expect_success fit "${probe[@]}" "${swa[@]}" --max_epochs 6 --default_root_dir full
cp "$TMP/out" "$TMP/out_full"
expect_success fit "${probe[@]}" "${swa[@]}" --max_epochs 3 --default_root_dir part
ck=$(ls part/checkpoints/*.ckpt 2>/dev/null | head -1)
[ -n "$ck" ] || fail "the 3-epoch run saved no checkpoint"
expect_success fit "${probe[@]}" "${swa[@]}" --max_epochs 6 --default_root_dir part --ckpt_path "$ck"
[ "$(grep '^final' "$TMP/out")" = "$(grep '^final' "$TMP/out_full")" ] ||
    fail "SWA resumed at epoch 3: $(grep '^final' "$TMP/out"), uninterrupted: $(grep '^final' "$TMP/out_full")"
grep -q '^epoch 4 lr' "$TMP/out" && [ "$(grep '^epoch 5 lr' "$TMP/out")" = "$(grep '^epoch 5 lr' "$TMP/out_full")" ] ||
    fail "SWA resumed: lr at epoch 5 differs"
ema=(--callbacks EMAWeightAveraging --callbacks.decay 0.7)
expect_success fit "${probe[@]}" "${ema[@]}" --max_epochs 4 --default_root_dir efull
cp "$TMP/out" "$TMP/out_efull"
expect_success fit "${probe[@]}" "${ema[@]}" --max_epochs 2 --default_root_dir epart
ck=$(ls epart/checkpoints/*.ckpt 2>/dev/null | head -1)
expect_success fit "${probe[@]}" "${ema[@]}" --max_epochs 4 --default_root_dir epart --ckpt_path "$ck"
[ "$(grep '^final' "$TMP/out")" = "$(grep '^final' "$TMP/out_efull")" ] ||
    fail "EMA resumed at epoch 2: $(grep '^final' "$TMP/out"), uninterrupted: $(grep '^final' "$TMP/out_efull")"
echo "ok: SWA and EMA resumed mid-averaging end with the uninterrupted run's weights"

# The averages are float32 tensors of the checkpoint, not text; a checkpoint of the
# previous lthost (hex text) still resumes exactly; a hostile one is refused.
ck=$(ls part/checkpoints/*.ckpt | head -1)
header=$(head -c 65536 "$ck" | tr -d '\0')
grep -q '"callbacks.StochasticWeightAveraging.average_model_state":{"dtype":"F32","shape":\[4\]' <<<"$header" ||
    fail "$ck holds no F32 tensor callbacks.StochasticWeightAveraging.average_model_state"
grep -q '\\"average_model_state\\":{\\"__lt_tensor__\\"' <<<"$header" || fail "the callbacks' JSON does not name the tensor"
grep -q 'EMAWeightAveraging.averaging_state.average_model_state":{"dtype":"F32"' < <(head -c 65536 epart/checkpoints/*.ckpt | tr -d '\0') ||
    fail "the EMA checkpoint holds no F32 average tensor"
arrays=$SRC_DIR/tests/e2e/ckpt_state_arrays.py
python3 "$arrays" hex "$ck" "$TMP/hex.ckpt" >/dev/null || fail "rewriting $ck in the hex form"
grep -q '"average_model_state\\":\\"' < <(head -c 65536 "$TMP/hex.ckpt" | tr -d '\0') || fail "no hex in $TMP/hex.ckpt"
expect_success fit "${probe[@]}" "${swa[@]}" --max_epochs 6 --default_root_dir hex --ckpt_path "$TMP/hex.ckpt"
[ "$(grep '^final' "$TMP/out")" = "$(grep '^final' "$TMP/out_full")" ] ||
    fail "SWA resumed from the hex form: $(grep '^final' "$TMP/out"), uninterrupted: $(grep '^final' "$TMP/out_full")"
echo "ok: the float32 tensor in the checkpoint; a hex checkpoint of the previous lthost resumes exactly"
python3 "$arrays" missing "$ck" "$TMP/missing.ckpt" >/dev/null && python3 "$arrays" short "$ck" "$TMP/short.ckpt" >/dev/null ||
    fail "rewriting $ck"
expect_error "names tensor 'callbacks.StochasticWeightAveraging.average_model_state', which the file does not hold" \
    fit "${probe[@]}" "${swa[@]}" --max_epochs 6 --default_root_dir bad --ckpt_path "$TMP/missing.ckpt"
expect_error "average_model_state holds 3 values, the module has 4 parameters" \
    fit "${probe[@]}" "${swa[@]}" --max_epochs 6 --default_root_dir bad --ckpt_path "$TMP/short.ckpt"

expect_error "swa_epoch_start should be a >0 integer or a float between 0 and 1, got '0'" \
    fit "${probe[@]}" --max_epochs 2 --callbacks StochasticWeightAveraging --callbacks.swa_epoch_start 0
expect_error "swa_epoch_start should be a >0 integer or a float between 0 and 1, got '1.5'" \
    fit "${probe[@]}" --max_epochs 2 --callbacks StochasticWeightAveraging --callbacks.swa_epoch_start 1.5
expect_error "swa_epoch_start 3 is past max_epochs 2, so no epoch would be averaged" \
    fit "${probe[@]}" --max_epochs 2 --callbacks StochasticWeightAveraging --callbacks.swa_epoch_start 3
expect_error "swa_lr must have the same length as optimizer.param_groups. swa_lr has 3 values, param_groups has 2." \
    fit "${probe[@]}" --max_epochs 2 --model.groups 2 --callbacks StochasticWeightAveraging --callbacks.swa_lrs "[0.1, 0.2, 0.3]"
for bad in "-0.1" "[0.1, 0]" "[0.1" "[]" "0.1x"; do
    expect_error "The \`swa_lrs\` should a positive float, or a list of positive floats" \
        fit "${probe[@]}" --max_epochs 2 --callbacks StochasticWeightAveraging --callbacks.swa_lrs "$bad"
done
expect_error "decay must be in \[0, 1\]" \
    fit "${probe[@]}" --max_epochs 2 --callbacks EMAWeightAveraging --callbacks.decay 2
