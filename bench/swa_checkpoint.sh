#!/usr/bin/env bash
# bench/swa_checkpoint.sh [BUILD] [RUNS]: what storing StochasticWeightAveraging's average
# as an F32 tensor of the checkpoint (issue #23) buys over the hex text earlier lthost
# versions wrote. One short cnn fit (Fashion-MNIST, 2 epochs of 20 batches, averaging from
# epoch 1) saves a checkpoint; tests/e2e/ckpt_state_arrays.py rewrites it in the old hex
# form; then the file and header sizes, and the CPU time of a resume from each form
# (lthost fit --ckpt_path, which reads the checkpoint and has nothing left to train),
# interleaved A B A B, medians of RUNS. The machine is shared: see the load average.
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
b=$src/${1:-build}
runs=${2:-5}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export LT_PLUGIN_PATH=$b/plugins/accelerators/cpu
common=(--module cnn --max_epochs 2 --limit_train_batches 20 --limit_val_batches 0 --test_after_fit false
        --enable_progress_bar false --enable_model_summary false --logger false --seed_everything 1
        --callbacks StochasticWeightAveraging --callbacks.swa_epoch_start 1)
(cd "$tmp" && "$b/host/lthost" fit "${common[@]}" --default_root_dir run >/dev/null 2>&1)
ck=$(ls "$tmp"/run/checkpoints/*.ckpt | head -1)
python3 "$src/tests/e2e/ckpt_state_arrays.py" hex "$ck" "$tmp/hex.ckpt" >/dev/null
header() { python3 -c 'import struct,sys; print(struct.unpack("<Q", open(sys.argv[1],"rb").read(8))[0])' "$1"; }
echo "tensor form: $(stat -c %s "$ck") bytes, header $(header "$ck") bytes"
echo "hex form:    $(stat -c %s "$tmp/hex.ckpt") bytes, header $(header "$tmp/hex.ckpt") bytes"
resume() { (cd "$tmp" && /usr/bin/time -f '%U %S %e' "$b/host/lthost" fit "${common[@]}" --default_root_dir r --ckpt_path "$1" >/dev/null 2>"$tmp/err" && tail -1 "$tmp/err"); }
for i in $(seq "$runs"); do
    resume "$ck" >>"$tmp/tensor.times"
    resume "$tmp/hex.ckpt" >>"$tmp/hex.times"
done
# median FILE COLUMN-EXPRESSION: the middle value of the runs (CPU = user + sys, or wall)
median() { awk "{ print $2 }" "$1" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
for k in tensor hex; do
    echo "$k resume: median cpu $(median "$tmp/$k.times" '$1 + $2') s, wall $(median "$tmp/$k.times" '$3') s" \
        "(user sys wall per run: $(tr '\n' ';' <"$tmp/$k.times"))"
done
uptime
