#!/usr/bin/env bash
# StochasticWeightAveraging on a module with BatchNorm (issue 23) against Lightning 2.6:
# after the last averaged epoch Lightning moves the average into the module, resets the
# batch norms' running statistics, makes their momentum None (a cumulative mean) and runs
# one more epoch of forwards without backward. Each case of
# tests/fixtures/swa_bn_lightning.txt (tests/reference/swa_batch_norm.py) is run with
# lthost from the same initial weights and data (swa_bn.so, swa_bn_data.so); every
# parameter and buffer after fit, running_mean/var and num_batches_tracked included, must
# equal Lightning's within 1e-5.
. "$(dirname "$0")/lib.sh"
d=$LT_TEST_PLUGIN_DIR
fix=$SRC_DIR/tests/fixtures/swa_bn_lightning.txt
init=$SRC_DIR/tests/fixtures/swa_bn_init.safetensors
[ -f "$fix" ] && [ -f "$init" ] || fail "no fixture $fix or $init"
run=(--module "$d/swa_bn.so" --data "$d/swa_bn_data.so" --init_weights "$init" --limit_val_batches 0
     --test_after_fit false --enable_progress_bar false --enable_model_summary false --logger false)

# same FILE_A FILE_B: the "state NAME v ..." lines agree to 1e-5 (absolute or relative).
same() {
    [ "$(grep -c '^state ' "$1")" -eq "$(grep -c '^state ' "$2")" ] &&
        paste -d' ' <(grep '^state ' "$1") <(grep '^state ' "$2") | awk '
        { n = NF / 2; if ($2 != $(n + 2) || NF % 2) bad = 1
          for (i = 3; i <= n; i++) { a = $i; b = $(n + i); d = a - b; if (d < 0) d = -d
              m = (b < 0 ? -b : b); if (d > 1e-5 * m + 1e-5) bad = 1 } }
        END { exit bad }'
}

cases=0
while read -r marker name epochs flags; do
    [ "$marker" = "==" ] || continue
    awk -v n="$name" '$1 == "==" { on = ($2 == n); next } on' "$fix" >"$TMP/want_$name"
    # shellcheck disable=SC2086 # the fixture's flags are words
    expect_success fit "${run[@]}" --max_epochs "$epochs" $flags
    same "$TMP/out" "$TMP/want_$name" || {
        diff <(grep '^state ' "$TMP/out") "$TMP/want_$name"
        fail "$name: lthost's weights and batch norm statistics differ from Lightning's"
    }
    grep -q "^Epoch $((epochs + 1))/$((epochs + 1)) " "$TMP/out" ||
        fail "$name: no statistics epoch $((epochs + 1)) after max_epochs $epochs"
    echo "ok: $name: averaged weights and recomputed statistics equal Lightning's ($(grep 'running_var' "$TMP/out"))"
    cases=$((cases + 1))
done <"$fix"
[ "$cases" -ge 2 ] || fail "only $cases cases in $fix"

# Without SWA the statistics are the training run's own: 5 epochs of 3 batches.
expect_success fit "${run[@]}" --max_epochs 5
grep -q '^state bn.num_batches_tracked 15$' "$TMP/out" || fail "plain fit: $(grep num_batches "$TMP/out")"
echo "ok: without SWA there is no statistics epoch (num_batches_tracked 15)"
