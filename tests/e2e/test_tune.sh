#!/usr/bin/env bash
# lthost tune --lr_find (issue #23, Lightning's Tuner.lr_find): the sweep's CSV (one row per
# step, lr growing exponentially from min_lr), lr_find.png, the printed suggestion, which
# Lightning's own _LRFinder.suggestion must agree with on the same sweep (when the reference
# venv is there); and the refusals.
. "$(dirname "$0")/lib.sh"
need_dataset
probe=$BUILD_DIR/tests/e2e/recorder/probe.so
common=(--module "$probe" --data.batch_size 8 --default_root_dir "$TMP/root"
        --enable_progress_bar false --seed_everything 3)
expect_success tune "${common[@]}" --lr_find --lr_find.num_training 40 --lr_find.min_lr 1e-6 \
    --lr_find.early_stop_threshold 0
dir=$TMP/root/lightning_logs/version_0
line=$(grep '^Learning rate finder: suggested lr ' "$TMP/out") || fail "no suggestion printed: $(cat "$TMP/out")"
lr=$(echo "$line" | awk '{print $6}')
[ "$(wc -l <"$dir/lr_find.csv")" = 41 ] || fail "lr_find.csv: $(wc -l <"$dir/lr_find.csv") lines, want 41"
awk -F, 'NR == 2 && $1 != 1e-06 { exit 1 } NR > 2 && !($1 > prev) { exit 1 } NR > 1 { prev = $1 }' \
    "$dir/lr_find.csv" || fail "lr_find.csv does not start at min_lr and grow"
[ "$(head -c 8 "$dir/lr_find.png" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ] ||
    fail "lr_find.png is not a PNG"
grep -q "max_steps=40" "$TMP/out" || fail "the sweep did not stop at num_training steps"
echo "ok: sweep of 40 steps, lr_find.csv, lr_find.png, suggestion $lr"

py=$SRC_DIR/tests/reference/.venv/bin/python
if [ -x "$py" ] && "$py" -c 'import lightning' 2>/dev/null; then
    "$py" - "$dir/lr_find.csv" "$lr" <<'PY' || fail "Lightning's suggestion differs"
import csv, sys
from lightning.pytorch.tuner.lr_finder import _LRFinder
rows = list(csv.DictReader(open(sys.argv[1])))
f = _LRFinder("exponential", 1e-6, 1.0, len(rows))
f.results = {"lr": [float(r["lr"]) for r in rows], "loss": [float(r["loss"]) for r in rows]}
want, got = f.suggestion(), float(sys.argv[2])
assert abs(want - got) <= 1e-5 * want, (want, got)
print(f"ok: Lightning's _LRFinder.suggestion on the same sweep: {want:.6g}")
PY
else
    echo "skip: no tests/reference/.venv with lightning"
fi

expect_error "lthost tune needs --lr_find" tune "${common[@]}"
expect_error "LearningRateFinder runs under .lthost tune" fit "${common[@]}" --max_steps 2 \
    --callbacks LearningRateFinder
expect_error "needs 0 < min_lr < max_lr" tune "${common[@]}" --lr_find --lr_find.min_lr 2
expect_error "failed to compute a suggestion: 5 steps ran" tune "${common[@]}" --lr_find \
    --lr_find.num_training 5
echo "ok: refusals"
