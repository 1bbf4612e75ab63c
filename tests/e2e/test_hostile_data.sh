#!/usr/bin/env bash
# Hostile data folders (issue #15): a FIFO or a device named like a data file is refused
# at once (no hang); bytes past the declared data, a second gzip member and junk after the
# gzip stream are refused; an empty split is the same error in every command that runs it.
. "$(dirname "$0")/lib.sh"
need_dataset

# Every lthost run here is bounded: a hang is a failure (timeout's exit 124), not a stuck CI.
real_lthost=$LTHOST
LTHOST=$TMP/lthost-bounded
printf '#!/bin/sh\nexec timeout -k 5 60 "%s" "$@"\n' "$real_lthost" >"$LTHOST"
chmod +x "$LTHOST"

train_images=train-images-idx3-ubyte.gz train_labels=train-labels-idx1-ubyte.gz
test_images=t10k-images-idx3-ubyte.gz test_labels=t10k-labels-idx1-ubyte.gz
short=(--limit_train_batches 2 --limit_val_batches 1 --max_epochs 1 --enable_checkpointing false)

# data_dir NAME: a folder of links to the real four files, to replace one of them.
data_dir() {
    mkdir -p "$TMP/$1"
    for f in $train_images $train_labels $test_images $test_labels; do ln -sf "$FMNIST/$f" "$TMP/$1/$f"; done
    echo "$TMP/$1"
}

# A FIFO with no writer: open() would block, read() would wait forever.
d=$(data_dir fifo)
rm "$d/$test_labels" && mkfifo "$d/$test_labels"
expect_error "$test_labels: cannot read it: it is a FIFO \(named pipe\), not a regular file" \
    test --module mlp --data.root "$d"
# A device: /dev/zero never ends.
d=$(data_dir device)
ln -sf /dev/zero "$d/$train_labels"
expect_error "$train_labels: cannot read it: it is a character device, not a regular file" \
    fit --module mlp "${short[@]}" --data.root "$d"
d=$(data_dir folder)
rm "$d/$test_images" && mkdir "$d/$test_images"
expect_error "$test_images: cannot read it: it is a directory, not a regular file" \
    test --module mlp --data.root "$d"

# One byte past the declared data inside the gzip member.
d=$(data_dir long)
{ gzip -dc "$FMNIST/$test_images"; printf 'x'; } | gzip -1 -c >"$d/$test_images.new"
mv "$d/$test_images.new" "$d/$test_images"
expect_error "$test_images: 1 byte after the data the header declares; the file is not a valid IDX file \(re-download it" \
    test --module mlp --data.root "$d"
# ... and in an uncompressed file (the reader takes raw IDX files too).
d=$(data_dir rawlong)
{ gzip -dc "$FMNIST/$test_labels"; printf 'abc'; } >"$d/$test_labels.new"
mv "$d/$test_labels.new" "$d/$test_labels"
expect_error "$test_labels: 3 bytes after the data the header declares" test --module mlp --data.root "$d"
# A second gzip member (as `cat a.gz b.gz` makes), and junk after the gzip stream.
d=$(data_dir twomembers)
cat "$FMNIST/$test_labels" "$FMNIST/$test_labels" >"$d/$test_labels.new"
mv "$d/$test_labels.new" "$d/$test_labels"
expect_error "$test_labels: a second gzip member \([0-9]+ bytes\) follows the first" test --module mlp --data.root "$d"
d=$(data_dir junk)
{ cat "$FMNIST/$test_labels"; printf 'junk\n'; } >"$d/$test_labels.new"
mv "$d/$test_labels.new" "$d/$test_labels"
expect_error "$test_labels: 5 bytes of junk after the gzip stream" test --module mlp --data.root "$d"

# An empty test split (valid IDX files of 0 samples): `fit` (testing after training) and
# `test` stop with the same line, also under a batch limit that used to make both exit 0
# after "Test: [0 batches]".
d=$(data_dir empty)
rm "$d/$test_images" "$d/$test_labels"
printf '\0\0\10\3\0\0\0\0\0\0\0\34\0\0\0\34' | gzip -c >"$d/$test_images"
printf '\0\0\10\1\0\0\0\0' | gzip -c >"$d/$test_labels"
empty_test="the test split has 0 samples, so there is nothing to test on"
for limit in 1.0 5; do
    expect_error "$empty_test" fit --module mlp "${short[@]}" --data.root "$d" --limit_test_batches $limit
    fit_line=$(grep '^lthost: error: ' "$TMP/out")
    expect_error "$empty_test" test --module mlp --data.root "$d" --limit_test_batches $limit
    [ "$(grep '^lthost: error: ' "$TMP/out")" = "$fit_line" ] || fail "fit and test differ: '$fit_line' vs '$(grep '^lthost: error: ' "$TMP/out")'"
done
expect_error "the predict split has 0 samples, so there is nothing to predict on" \
    predict --module mlp --data.root "$d" --limit_predict_batches 5
# Asking for no test batches asks for no test: not an error.
expect_success fit --module mlp "${short[@]}" --data.root "$d" --limit_test_batches 0
grep -q 'Test: *\[0 batches' "$TMP/out" || { cat "$TMP/out"; fail "--limit_test_batches 0 should run no test batches"; }

# An empty training file: fit and validate say the same, naming the file.
d=$(data_dir emptytrain)
cp "$TMP/empty/$test_images" "$d/$train_images.new" && mv "$d/$train_images.new" "$d/$train_images"
cp "$TMP/empty/$test_labels" "$d/$train_labels.new" && mv "$d/$train_labels.new" "$d/$train_labels"
expect_error "$train_images holds 0 images, so there is nothing to train or validate on" \
    fit --module mlp "${short[@]}" --data.root "$d"
expect_error "$train_images holds 0 images, so there is nothing to train or validate on" \
    validate --module mlp --data.root "$d"
echo "hostile data reported cleanly"
