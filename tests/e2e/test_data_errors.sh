#!/usr/bin/env bash
# Damaged datasets: a truncated IDX file and a missing root are named, never a crash.
. "$(dirname "$0")/lib.sh"
need_dataset

mkdir -p "$TMP/trunc"
for f in train-labels-idx1-ubyte.gz t10k-images-idx3-ubyte.gz t10k-labels-idx1-ubyte.gz; do
    ln -s "$FMNIST/$f" "$TMP/trunc/$f"
done
# Whole gzip stream, but the IDX payload inside stops short.
gzip -dc "$FMNIST/train-images-idx3-ubyte.gz" | head -c 100000 | gzip -c >"$TMP/trunc/train-images-idx3-ubyte.gz"
expect_error "train-images-idx3-ubyte.gz.*truncated" fit --module mlp --max_epochs 1 --data.root "$TMP/trunc"

# A gzip stream cut in the middle.
mkdir -p "$TMP/cut"
cp "$TMP/trunc/"*labels* "$TMP/cut/" 2>/dev/null || true
head -c 300000 "$FMNIST/train-images-idx3-ubyte.gz" >"$TMP/cut/train-images-idx3-ubyte.gz"
ln -sf "$FMNIST/train-labels-idx1-ubyte.gz" "$TMP/cut/train-labels-idx1-ubyte.gz"
expect_error "train-images-idx3-ubyte.gz" fit --module mlp --max_epochs 1 --data.root "$TMP/cut"

expect_error "$TMP/none.*(No such file|not found|cannot open)" fit --module mlp --data.root "$TMP/none"
echo "damaged data reported cleanly"
