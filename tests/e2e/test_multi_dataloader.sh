#!/usr/bin/env bash
# Several val and test dataloaders (--data.val a.csv,b.csv) behave as in Lightning 2.x,
# checked against tests/fixtures/multi_dataloader_lightning.json (from
# tests/reference/multi_dataloader.py, the same module and batch counts): the hooks in
# order with their dataloader_idx, callback_metrics' names after fit and after test
# (NAME/dataloader_idx_K), and metrics.csv's columns and rows. Then monitoring a suffixed
# name, the progress bar's per-dataloader names, and the errors.
. "$(dirname "$0")/lib.sh"
FIXTURE=$SRC_DIR/tests/fixtures/multi_dataloader_lightning.json

# gen ROWS SEED OUT.csv: 3 features and a 0/1 class.
gen() {
    python3 - "$@" <<'PY'
import random, sys
rows, seed, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
rng = random.Random(seed)
with open(out, "w") as f:
    for _ in range(rows):
        x = [rng.uniform(-1, 1) for _ in range(3)]
        f.write(",".join(f"{v:.6f}" for v in x) + f",{int(x[0] + x[1] > 0)}\n")
PY
}
gen 8 1 "$TMP/train.csv"
gen 6 2 "$TMP/va.csv"
gen 4 3 "$TMP/vb.csv"
gen 4 4 "$TMP/ta.csv"
gen 2 5 "$TMP/tb.csv"
MODULE=$LT_TEST_PLUGIN_DIR/multi_loader.so
DATA=(--data csv --data.train "$TMP/train.csv" --data.val "$TMP/va.csv,$TMP/vb.csv"
      --data.test "$TMP/ta.csv,$TMP/tb.csv" --data.batch_size 2 --data.num_workers 0)

# The metric names lthost printed: "Epoch 1/1  a=1  b=2 ..." / "Test:  a=1 ...".
metric_names() { grep -E "^$1" "$TMP/out" | grep -oE '[A-Za-z_/0-9]+=' | tr -d '=' | sort -u; }

expect_success fit --module "$MODULE" --model.log "$TMP/hooks.txt" "${DATA[@]}" \
    --max_epochs 1 --limit_train_batches 2 --num_sanity_val_steps 1 --enable_checkpointing false \
    --enable_progress_bar false --default_root_dir "$TMP" --logger csv
cp "$TMP/out" "$TMP/fit.out"
python3 - "$FIXTURE" "$TMP/hooks.txt" "$TMP/lightning_logs/version_0/metrics.csv" "$TMP/fit.out" <<'PY' || fail "lthost differs from Lightning with two val and two test dataloaders"
import csv, json, re, sys
want = json.load(open(sys.argv[1]))
ok = True
def same(what, got, exp):
    global ok
    if got != exp:
        ok = False
        print(f"{what}:\n  Lightning: {exp}\n  lthost:    {got}")
    else:
        print(f"ok: {what} as Lightning's ({len(exp)})")
same("hooks (name dataloader_idx batch_idx)", open(sys.argv[2]).read().split("\n")[:-1], want["hooks"])
with open(sys.argv[3]) as f:
    table = list(csv.DictReader(f))
logged = sorted(k for k in table[0] if k not in ("epoch", "step"))
same("metrics.csv columns", logged, want["logged_keys"])
rows = [[r["epoch"], int(r["step"]), sorted(k for k in logged if r[k] != "")] for r in table]
same("metrics.csv rows [epoch, step, keys]", rows, want["rows"])
out = open(sys.argv[4]).read()
epoch = [l for l in out.splitlines() if l.startswith("Epoch 1/1")][0]
test = [l for l in out.splitlines() if l.startswith("Test:")][0]
names = lambda line: sorted(set(re.findall(r"([A-Za-z_/0-9]+)=", line)))
# the epoch line shows NAME for NAME_step/NAME_epoch pairs, as callback_metrics has both
shown = [k for k in want["fit_metrics"] if "_epoch/" not in k]
same("callback_metrics after fit (epoch line)", names(epoch), shown)
same("callback_metrics after test (Test: line)", names(test), want["test_metrics"])
sys.exit(0 if ok else 1)
PY

# Monitoring a dataloader's metric: ModelCheckpoint keeps the best by it.
expect_success fit --module "$MODULE" --model.log "$TMP/h2.txt" "${DATA[@]}" --max_epochs 3 \
    --enable_progress_bar false --default_root_dir "$TMP/ck" --logger false \
    --callbacks ModelCheckpoint --callbacks.monitor "val_loss/dataloader_idx_1" \
    --callbacks.mode min --test_after_fit false
ls "$TMP"/ck/checkpoints/*.ckpt >/dev/null 2>&1 || { cat "$TMP/out"; fail "no checkpoint monitored on val_loss/dataloader_idx_1"; }
echo "ok: ModelCheckpoint monitors val_loss/dataloader_idx_1"

# lthost validate on a terminal: one progress bar per dataloader, named as Lightning's.
script -qec "$(printf '%q ' "$LTHOST" validate --module "$MODULE" --model.log "$TMP/h3.txt" \
    "${DATA[@]}" --default_root_dir "$TMP/v" --logger false)" /dev/null >"$TMP/out" 2>&1 ||
    { cat "$TMP/out"; fail "validate on a terminal failed"; }
grep -q "Validation DataLoader 0: 100%|#*| 3/3" "$TMP/out" &&
    grep -q "Validation DataLoader 1: 100%|#*| 2/2" "$TMP/out" ||
    { cat "$TMP/out"; fail "validate: no 'Validation DataLoader 0/1' progress bars"; }
grep -q "val_loss/dataloader_idx_1=" "$TMP/out" || { cat "$TMP/out"; fail "validate: no val_loss/dataloader_idx_1"; }
echo "ok: validate shows each dataloader's bar and metrics"

# One dataloader: plain names, as Lightning (no suffix).
expect_success validate --module "$MODULE" --model.log "$TMP/h4.txt" --data csv \
    --data.train "$TMP/train.csv" --data.val "$TMP/va.csv" --data.batch_size 2 \
    --default_root_dir "$TMP/one" --logger false
grep -q " val_loss=" "$TMP/out" && ! grep -q "dataloader_idx" "$TMP/out" ||
    { cat "$TMP/out"; fail "one val dataloader: expected plain val_loss"; }
grep -q "^validation_step 0 0$" "$TMP/h4.txt" || fail "one dataloader: dataloader_idx is not 0"
echo "ok: one dataloader logs plain names and has dataloader_idx 0"

# Mid-epoch resume with two val and two test dataloaders: the run resumed from step 14
# (epoch 1, batch 4 of 10) logs the same rows, every dataloader's metrics included, and
# tests to the same numbers, bit for bit; the checkpoint keeps each dataloader's size, and
# a resume with other --data.val files is refused.
gen 40 6 "$TMP/train40.csv"
RES=(--module tabular --model.in_features 3 --data csv --data.train "$TMP/train40.csv"
     --data.val "$TMP/va.csv,$TMP/vb.csv" --data.test "$TMP/ta.csv,$TMP/tb.csv"
     --data.batch_size 4 --data.num_workers 2 --seed_everything 3
     --threads 1 --max_epochs 3 --log_every_n_steps 1 --enable_progress_bar false)
expect_success fit "${RES[@]}" --default_root_dir "$TMP/rfull" --callbacks ModelCheckpoint \
    --callbacks.every_n_train_steps 7 --callbacks.save_top_k -1
test_line() { grep "^Test:" "$TMP/out" | sed 's/ *\[.*//'; } # without the timing
test_line >"$TMP/rfull.test"
ck=$TMP/rfull/lightning_logs/version_0/checkpoints/epoch=1-step=14.ckpt
[ -f "$ck" ] || fail "no mid-epoch checkpoint epoch=1-step=14.ckpt"
expect_success fit "${RES[@]}" --default_root_dir "$TMP/rhalf" --ckpt_path "$ck"
grep -q "Resuming fit in epoch 1 after batch 4 (global step 14)" "$TMP/out" || { cat "$TMP/out"; fail "no mid-epoch resume"; }
test_line | diff - "$TMP/rfull.test" || fail "test metrics of both dataloaders differ after the resume"
python3 - "$ck" "$TMP"/rfull/lightning_logs/version_0/metrics.csv "$TMP"/rhalf/lightning_logs/version_0/metrics.csv <<'PY' || fail "a mid-epoch resume with two val dataloaders is not bit-exact"
import csv, json, struct, sys
b = open(sys.argv[1], "rb").read()
state = json.loads(json.loads(b[8:8 + struct.unpack("<Q", b[:8])[0]])["__metadata__"]["datamodule_state"])
want = {"val_dataloaders": 2, "val_dataloader_1": 4, "test_dataloaders": 2, "test_dataloader_1": 2, "val": 6, "test": 4}
if any(state.get(k) != v for k, v in want.items()): sys.exit(f"datamodule_state {state}")
def rows(path, after):
    t = list(csv.DictReader(open(path)))
    # train_loss_epoch averages the batches this process ran, in Lightning too (its loop
    # state does not keep the metric's sums), so it is left out; the rest must agree.
    return [sorted((k, v) for k, v in r.items() if v != "" and k != "train_loss_epoch")
            for r in t if int(r["step"]) > after]
full, half = rows(sys.argv[2], 14), rows(sys.argv[3], 14)
cols = {k for r in full for k, _ in r}
if not {"val_loss/dataloader_idx_0", "val_loss/dataloader_idx_1"} <= cols: sys.exit(f"columns {cols}")
if full != half or len(full) < 10: sys.exit(f"{len(full)} rows after step 14 in the full run, {len(half)} resumed; first differing: "
                                           + str(next((a, b) for a, b in zip(full, half) if a != b) if full != half else ""))
print(f"ok: {len(full)} metrics rows after step 14 identical, val_loss of both dataloaders included")
PY
expect_error "refused its state: it was saved with 2 val dataloaders, this run has 1" \
    fit "${RES[@]}" --default_root_dir "$TMP/rbad" --ckpt_path "$ck" --data.val "$TMP/va.csv"
expect_error "refused its state: val dataloader 1 had 4 samples when saved, 6 in this run" \
    fit "${RES[@]}" --default_root_dir "$TMP/rbad" --ckpt_path "$ck" --data.val "$TMP/va.csv,$TMP/va.csv"
echo "ok: mid-epoch resume with two val and two test dataloaders is bit-exact"

# Errors: an empty entry, too many files, an empty second file, a missing one.
ERR="data plugin csv: setup\('[a-z]+'\) failed: "
expect_error "${ERR}--data.val '.*': an empty path in the list" validate --module "$MODULE" \
    --data csv --data.train "$TMP/train.csv" --data.val "$TMP/va.csv,,$TMP/vb.csv"
many=$(printf "$TMP/va.csv,%.0s" 1 2 3 4 5 6 7 8)$TMP/vb.csv
expect_error "${ERR}--data.val: more than 8 files" validate --module "$MODULE" --data csv \
    --data.train "$TMP/train.csv" --data.val "$many"
: >"$TMP/empty.csv"
expect_error "the val split \(dataloader 1\) has 0 samples|empty.csv" validate --module "$MODULE" \
    --data csv --data.train "$TMP/train.csv" --data.val "$TMP/va.csv,$TMP/empty.csv"
expect_error "$TMP/nope.csv: cannot open" validate --module "$MODULE" --data csv \
    --data.train "$TMP/train.csv" --data.val "$TMP/va.csv,$TMP/nope.csv"
echo "ok: every bad --data.val list is one clear error"
