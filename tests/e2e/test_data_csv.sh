#!/usr/bin/env bash
# The csv data plugin: generated tables come back value for value (in order from a test
# file, shuffled in training, split once by seed), a logistic and a linear regression
# learn them, and every malformed file is one error naming file:line:column.
. "$(dirname "$0")/lib.sh"
CHECK="python3 $SRC_DIR/tests/e2e/data_check.py"
DUMP=(--module "$LT_TEST_PLUGIN_DIR/batch_dump.so" --model.out "$TMP/dump.txt" --data csv --max_epochs 1)
ERR="data plugin csv: setup\('[a-z]+'\) failed: "

# gen.py ROWS SEED TASK OUT.csv OUT.json [header]: features a,c (multiples of 1/64, so
# exact in float32) and b (any magnitude, written as repr, fixed, exponent, padded or
# quoted: the fast path and strtod must both read it as Python does), the target in the middle column "label": class (a + c > 0) or
# 2a - 3c + 0.5 (regression); the JSON lists [x, y] per sample.
cat >"$TMP/gen.py" <<'PY'
import json, random, sys
rows, seed, task, out_csv, out_json = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
header = len(sys.argv) > 6
rng = random.Random(seed)
samples = []
with open(out_csv, "w") as f:
    if header:
        f.write("a,label,b,c\n")
    for _ in range(rows):
        a, c = (rng.randint(-64, 64) / 64 for _ in range(2))
        while task == "classification" and abs(a + c) < 0.125:  # a margin: learnable exactly
            a, c = (rng.randint(-64, 64) / 64 for _ in range(2))
        x = rng.uniform(-1, 1) * 10 ** rng.randint(-9, 0)  # b: every form of number
        bt = rng.choice([repr(x), f"{x:.9f}", f"{x:.3e}", f"{x:.0f}", f" {x:.2f} ", f'"{x:.4f}"'])
        b = float(bt.strip(' "'))
        y = int(a + c > 0) if task == "classification" else 2 * a - 3 * c + 0.5
        f.write(f"{a},{y},{bt},{c}\r\n" if rng.random() < 0.1 else f"{a},{y},{bt},{c}\n")
        samples.append([[a, b, c], [y]])
json.dump(samples, open(out_json, "w"))
PY
gen() { python3 "$TMP/gen.py" "$@"; }

gen 300 1 classification "$TMP/train.csv" "$TMP/train.json" header
gen 50 2 classification "$TMP/test.csv" "$TMP/test.json"

# In order: a test file is read as it is, every row, with the target by header name.
rm -f "$TMP/dump.txt"
expect_success test "${DUMP[@]}" --data.train "$TMP/train.csv" --data.test "$TMP/test.csv" \
    --data.target label --data.batch_size 7
$CHECK "$TMP/dump.txt" "$TMP/test.json" ordered test || fail "csv test file round trip"

# predict reads every row of the training file, in order.
rm -f "$TMP/dump.txt"
expect_success predict "${DUMP[@]}" --data.train "$TMP/train.csv" --data.target label
$CHECK "$TMP/dump.txt" "$TMP/train.json" ordered predict || fail "csv predict in order"

# Shuffled: one training epoch over the whole file (target by index) is every row once,
# in another order; then the seeded split is a partition of the rows.
rm -f "$TMP/dump.txt"
expect_success fit "${DUMP[@]}" --data.train "$TMP/train.csv" --data.target 1 \
    --data.val_fraction 0 --data.test_fraction 0 --test_after_fit false
$CHECK "$TMP/dump.txt" "$TMP/train.json" shuffled train || fail "csv shuffled round trip"
rm -f "$TMP/dump.txt"
expect_success fit "${DUMP[@]}" --data.train "$TMP/train.csv" --data.target -3 \
    --data.val_fraction 0.2 --data.test_fraction 0.1 --data.num_workers 2 --num_sanity_val_steps 0
$CHECK "$TMP/dump.txt" "$TMP/train.json" partition train,val,test || fail "csv split"
[ "$(grep -c '^val ' "$TMP/dump.txt")" -eq 60 ] || fail "val_fraction 0.2 of 300 is 60 rows"
[ "$(grep -c '^test ' "$TMP/dump.txt")" -eq 30 ] || fail "test_fraction 0.1 of 300 is 30 rows"

# A tab-separated file without a header, the target the last column (the default).
python3 - "$TMP/train.csv" "$TMP/train.tsv" <<'PY'
import sys
lines = open(sys.argv[1]).read().splitlines()[1:]
with open(sys.argv[2], "w") as f:
    for l in lines:
        a, y, b, c = l.split(",")
        f.write("\t".join([a, b, c, y]) + "\n")
PY
rm -f "$TMP/dump.txt"
expect_success test "${DUMP[@]}" --data.train "$TMP/train.tsv" --data.test "$TMP/train.tsv" \
    --data.delimiter tab --data.header false
$CHECK "$TMP/dump.txt" "$TMP/train.json" ordered test || fail "tsv round trip"

# Training: a logistic regression separates the classes, a linear regression fits the plane.
expect_success fit --module tabular --model.in_features 3 --model.hidden 0 --model.lr 0.05 \
    --data csv --data.train "$TMP/train.csv" --data.target label --max_epochs 15 --seed_everything 1
acc=$(sed -n 's/^Test:.*test_acc=\([0-9.]*\).*/\1/p' "$TMP/out")
awk -v a="$acc" 'BEGIN { exit !(a >= 0.9) }' || { cat "$TMP/out"; fail "logistic test_acc '$acc' < 0.9"; }
echo "ok: logistic regression on a CSV, test_acc $acc"
gen 400 3 regression "$TMP/reg.csv" "$TMP/reg.json" header
expect_success fit --module tabular --model.in_features 3 --model.hidden 0 --model.out_features 1 \
    --model.task regression --model.lr 0.05 --data csv --data.task regression \
    --data.train "$TMP/reg.csv" --data.target label --max_epochs 30 --seed_everything 1
mse=$(sed -n 's/^Test:.*test_loss=\([0-9.e-]*\).*/\1/p' "$TMP/out")
awk -v m="$mse" 'BEGIN { exit !(m != "" && m < 0.01) }' || { cat "$TMP/out"; fail "linear regression test mse '$mse' >= 0.01"; }
echo "ok: linear regression on a CSV, test mse $mse"

# The split in checkpoints (LightningDataModule.state_dict): a resume with the same data
# goes on; with another split seed or more rows it is refused before training.
TAB=(--module tabular --model.in_features 3 --data csv --data.train "$TMP/train.csv" --data.target label)
expect_success fit "${TAB[@]}" --max_epochs 1 --default_root_dir "$TMP/run"
ckpt=$(ls "$TMP"/run/lightning_logs/version_0/checkpoints/*.ckpt | head -1)
[ -f "$ckpt" ] || fail "no checkpoint written"
python3 - "$ckpt" <<'PY' || fail "datamodule_state is not the split"
import json, struct, sys
b = open(sys.argv[1], "rb").read()
meta = json.loads(b[8:8 + struct.unpack("<Q", b[:8])[0]])["__metadata__"]
state = json.loads(meta["datamodule_state"])
assert state == {"split_seed": 42, "samples": 300, "train": 240, "val": 30, "test": 30,
                 "val_dataloaders": 1, "test_dataloaders": 1}, state
PY
expect_success fit "${TAB[@]}" --max_epochs 2 --ckpt_path "$ckpt"
expect_error "--ckpt_path $ckpt: data plugin csv refused its state: it was saved with 300 samples split by --data.split_seed 42 into train 240 / val 30 / test 30, this run has 300 samples split by 7" \
    fit "${TAB[@]}" --max_epochs 2 --ckpt_path "$ckpt" --data.split_seed 7
head -n 101 "$TMP/train.csv" >"$TMP/fewer.csv"
expect_error "refused its state: it was saved with 300 samples .* this run has 100 samples" \
    test "${TAB[@]}" --ckpt_path "$ckpt" --data.train "$TMP/fewer.csv"

# Malformed files: one error each, naming the file, and the line and column of a cell.
bad() { # bad NAME CONTENT PATTERN [FLAGS...]
    local name=$1 content=$2 pattern=$3
    shift 3
    printf '%b' "$content" >"$TMP/$name.csv"
    expect_error "$ERR$TMP/$name.csv$pattern" fit "${DUMP[@]}" --data.train "$TMP/$name.csv" "$@"
}
bad word 'a,b,y\n1,2,0\n3,x4,1\n' ":3:3: the cell 'x4' is not a finite number"
bad empty_cell 'a,b,y\n1,2,0\n3,,1\n' ":3:3: the cell '' is empty"
bad nan '1,2,0\n3,nan,1\n' ":2:3: the cell 'nan' is not a finite number"
bad inf '1,2,0\n3,-inf,1\n' ":2:3: the cell '-inf' is not a finite number"
bad huge '1,2,0\n3,1e999,1\n' ":2:3: the cell '1e999' is not a finite number"
bad hex '1,2,0\n3,0x10,1\n' ":2:3: the cell '0x10' is not a finite number"
bad nul '1,2,0\n3,4\0junk,1\n' ":2:3: the cell '4' holds a NUL byte"
bad f32 '1,2,0\n3,1e300,1\n' ":2:3: the cell '1e300' does not fit a float32"
bad ragged_short 'a,b,y\n1,2,0\n3,1\n' ":3:4: this row has 2 cells, the training file's first row 3"
bad ragged_long 'a,b,y\n1,2,0\n3,1,1,7\n' ":3:8: this row has 4 cells, the training file's first row 3"
bad class_frac '1,2,0\n3,4,1.5\n' ":2:5: the cell '1.5' is no class index"
bad class_neg '1,2,0\n3,4,-1\n' ":2:5: the cell '-1' is no class index"
bad nothing '' ": the file has no rows"
bad blank '\n\r\n\n' ": the file has no rows"
bad header_only 'a,b,y\n' ": no data rows after the header"
bad one_column '1\n2\n' ": one column"
expect_error "$ERR--data.target 'z' is no column of $TMP/train.csv" \
    fit "${DUMP[@]}" --data.train "$TMP/train.csv" --data.target z
expect_error "$ERR--data.target 4: $TMP/train.csv has 4 columns, so the index must be in \[-4, 3\]" \
    fit "${DUMP[@]}" --data.train "$TMP/train.csv" --data.target 4
python3 -c "print('1,' * 70000 + '1')" >"$TMP/wide.csv"
expect_error "$ERR$TMP/wide.csv:1:131073: more than 65536 columns" fit "${DUMP[@]}" --data.train "$TMP/wide.csv"
python3 -c "print('1,2,0'); print('1,' + '1' * 300 + ',0')" >"$TMP/long.csv"
expect_error "$ERR$TMP/long.csv:2:3: a cell of 300 characters" fit "${DUMP[@]}" --data.train "$TMP/long.csv"
printf 'a,b,c,d,y\n1,2,3,4,0\n' >"$TMP/wide_test.csv"
expect_error "${ERR}$TMP/wide_test.csv:1: a header of 5 columns; the training file has 4" \
    fit "${DUMP[@]}" --data.train "$TMP/train.csv" --data.target label --data.test "$TMP/wide_test.csv"
printf '1,2,3,4,0\n' >"$TMP/wide_val.csv"
expect_error "${ERR}$TMP/wide_val.csv:1:10: this row has 5 cells, the training file's first row 4" \
    fit "${DUMP[@]}" --data.train "$TMP/train.csv" --data.target label --data.val "$TMP/wide_val.csv"
expect_error "${ERR}$TMP/missing.csv: cannot open: No such file" fit "${DUMP[@]}" --data.train "$TMP/missing.csv"
ln -s loop.csv "$TMP/loop.csv"
expect_error "${ERR}$TMP/loop.csv: cannot open: Too many levels of symbolic links" fit "${DUMP[@]}" --data.train "$TMP/loop.csv"
expect_error "${ERR}$TMP: not a regular file; --data.train" fit "${DUMP[@]}" --data.train "$TMP"
mkfifo "$TMP/fifo.csv"
expect_error "${ERR}$TMP/fifo.csv: not a regular file" fit "${DUMP[@]}" --data.train "$TMP/fifo.csv"
expect_error "${ERR}--data.train is empty" fit "${DUMP[@]}"
expect_error "${ERR}--data.delimiter '..' must be one character" fit "${DUMP[@]}" --data.train "$TMP/train.csv" --data.delimiter ..
expect_error "${ERR}--data.val_fraction 0.6 and --data.test_fraction 0.4 leave none" \
    fit "${DUMP[@]}" --data.train "$TMP/train.csv" --data.target label --data.val_fraction 0.6 --data.test_fraction 0.4
expect_error "${ERR}--data.val_fraction 1.5 must be in \[0, 1\)" fit "${DUMP[@]}" --data.train "$TMP/train.csv" --data.target label --data.val_fraction 1.5
expect_error "${ERR}--data.batch_size 0 must be >= 1" fit "${DUMP[@]}" --data.train "$TMP/train.csv" --data.batch_size 0
echo "csv data plugin checked"
