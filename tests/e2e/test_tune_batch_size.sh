#!/usr/bin/env bash
# lthost tune --scale_batch_size (issue #23, Lightning's BatchSizeFinder) on the demo MLP with
# a 16 MiB memory budget, so the search really stops on "out of memory": power mode doubles
# from 2 until a trial fails and keeps the last size that fit; binsearch bisects to the
# boundary and keeps int(size * 0.95). Every trial that fit stayed within the budget, the
# size after the one found did not, a following --lr_find trains at the size found (its
# config.yaml says so), and bad options are one error line each.
. "$(dirname "$0")/lib.sh"
need_dataset
common=(--module mlp --accelerator cpu --threads 1 --seed_everything 7
        --scale_batch_size.max_memory 16MiB)

# Trial lines: "Trial K: batch size N fit, tensors peaked at X MiB" / "... ran out of memory",
# between Lightning's own lines ("Batch size 2 succeeded, trying batch size 4").
check_trials() {
    awk '/^Trial [0-9]+: batch size [0-9]+ fit/ { if ($10 + 0 > 16) exit 1 }' "$TMP/out" ||
        fail "a trial that fit held more than the 16 MiB budget: $(grep ' fit,' "$TMP/out")"
    grep -q '^Trial [0-9]*: batch size [0-9]* ran out of memory$' "$TMP/out" ||
        fail "no trial ran out of memory under a 16 MiB budget: $(cat "$TMP/out")"
    grep -q '^Batch size 2 succeeded, trying batch size 4$' "$TMP/out" ||
        fail "Lightning's 'Batch size 2 succeeded, trying batch size 4' is missing"
}

expect_success tune "${common[@]}" --scale_batch_size power
check_trials
sizes=$(awk '/^Trial [0-9]+:/ { printf "%s%s", sep, $5; sep = " " }' "$TMP/out")
[ "$sizes" = "2 4 8 16 32 64 128 256 512 1024 2048" ] || fail "power tried: $sizes"
last_ok=$(awk '/^Trial [0-9]+: batch size [0-9]+ fit/ { n = $5 } END { print n }' "$TMP/out")
grep -q "^Finished batch size finder: data.batch_size $last_ok (power, 11 trials, within --scale_batch_size.max_memory); train with --data.batch_size $last_ok$" "$TMP/out" ||
    fail "power did not keep the last size that fit ($last_ok): $(tail -1 "$TMP/out")"
grep -q "^Saved the configuration with the batch size found to ./lightning_logs/version_0/config.yaml$" \
    "$TMP/out" && grep -q "^    batch_size: $last_ok$" "$TMP/lightning_logs/version_0/config.yaml" ||
    fail "no config.yaml with batch_size $last_ok: $(tail -2 "$TMP/out")"
echo "ok: power: tried $sizes, found $last_ok (config.yaml)"

expect_success tune "${common[@]}" --scale_batch_size binsearch
check_trials
best=$(awk '/^Trial [0-9]+: batch size [0-9]+ fit/ { if ($5 + 0 > n) n = $5 + 0 } END { print n }' "$TMP/out")
grep -q "^Trial [0-9]*: batch size $((best + 1)) ran out of memory$" "$TMP/out" ||
    fail "binsearch did not find the boundary: $best fit, $((best + 1)) not tried or fit"
want=$(awk -v b="$best" 'BEGIN { printf "%d", b * 0.95 }')
found=$(sed -n 's/^Finished batch size finder: data.batch_size \([0-9]*\) (binsearch, .*/\1/p' "$TMP/out")
[ "$found" = "$want" ] || fail "binsearch found $found, want int($best * 0.95) = $want"
echo "ok: binsearch: the boundary is $best (its successor runs out of memory), found $found"

# A stricter budget finds a smaller size; --lr_find then sweeps at it.
expect_success tune "${common[@]}" --scale_batch_size.max_memory 8MiB --scale_batch_size \
    --lr_find --lr_find.num_training 20 --lr_find.early_stop_threshold 0 --default_root_dir "$TMP/lr"
small=$(sed -n 's/^Finished batch size finder: data.batch_size \([0-9]*\) .*/\1/p' "$TMP/out")
[ -n "$small" ] && [ "$small" -lt "$last_ok" ] || fail "8 MiB found '$small', not below $last_ok"
grep -q "^Learning rate finder: suggested lr" "$TMP/out" || fail "no lr_find after the search"
grep -q "^    batch_size: $small$" "$TMP/lr/lightning_logs/version_0/config.yaml" ||
    fail "the lr_find run's config.yaml does not carry batch_size $small"
grep -q "^  max_steps: null$" "$TMP/lr/lightning_logs/version_0/config.yaml" &&
    grep -q "^  callbacks: \[\]$" "$TMP/lr/lightning_logs/version_0/config.yaml" ||
    fail "config.yaml records the sweep's max_steps or LearningRateFinder, not the user's flags"
expect_success fit --config "$TMP/lr/lightning_logs/version_0/config.yaml" --max_steps 2 \
    --test_after_fit false --default_root_dir "$TMP/refit"
grep -q "^    batch_size: $small$" "$TMP/refit/lightning_logs/version_0/config.yaml" ||
    fail "fit --config did not train at batch_size $small"
echo "ok: 8 MiB: batch size $small; --lr_find then ran at it; its config.yaml trains a fit at it"
# The search leaves the weights it started from: the sweep after it is the sweep alone.
mv "$TMP/lr/lightning_logs/version_0/lr_find.csv" "$TMP/after_search.csv"
expect_success tune --module mlp --accelerator cpu --threads 1 --seed_everything 7 \
    --data.batch_size "$small" --lr_find --lr_find.num_training 20 \
    --lr_find.early_stop_threshold 0 --default_root_dir "$TMP/lr"
cmp -s "$TMP/after_search.csv" "$TMP/lr/lightning_logs/version_1/lr_find.csv" ||
    fail "lr_find after the search swept other losses than lr_find alone at batch size $small"
echo "ok: the search leaves the initial weights (the same sweep as without it)"

# max_val, as Lightning's: the size that reaches it ends the search, untried.
expect_success tune "${common[@]}" --scale_batch_size power --scale_batch_size.max_val 16
grep -q "^Reached the maximum batch size limit of 16. Stopping search.$" "$TMP/out" &&
    grep -q "^Finished batch size finder: data.batch_size 16 (power, 3 trials" "$TMP/out" ||
    fail "max_val 16: $(cat "$TMP/out")"
echo "ok: max_val 16 stops the search at 16, as Lightning's"

expect_success tune "${common[@]}" --scale_batch_size --fast_dev_run 1
grep -q "^Skipping batch size scaler since fast_dev_run is enabled.$" "$TMP/out" ||
    fail "fast_dev_run did not skip the search as Lightning does"
echo "ok: fast_dev_run skips it"

expect_error "scale_batch_size.mode 'fast': expected power or binsearch" tune "${common[@]}" \
    --scale_batch_size fast
expect_error "max_memory '2XB': expected a size" tune "${common[@]}" --scale_batch_size \
    --scale_batch_size.max_memory 2XB
expect_error "unknown option --scale_batch_size.foo" tune "${common[@]}" --scale_batch_size \
    --scale_batch_size.foo 1
expect_error "max_trials '0': expected an integer from 1" tune "${common[@]}" --scale_batch_size \
    --scale_batch_size.max_trials 0
expect_error "max_val '0': expected an integer from 1" tune "${common[@]}" --scale_batch_size \
    --scale_batch_size.max_val 0
expect_error "declares an integer hyper-parameter 'bs'" tune "${common[@]}" --scale_batch_size \
    --scale_batch_size.batch_arg_name bs
expect_error "the model alone does not fit in memory; raise --scale_batch_size.max_memory" tune \
    "${common[@]}" --scale_batch_size --scale_batch_size.max_memory 1MiB
expect_error "lthost tune needs --lr_find or --scale_batch_size" tune "${common[@]}"
echo "ok: refusals"
