#!/usr/bin/env bash
# What a checkpoint costs: the demo MLP (235k parameters + Adam state, a 2.8 MB .ckpt)
# saved after every training step (temp file, fsync, rename, directory fsync) against the
# same steps with checkpointing off; the difference per step is one save. Best of 3.
# Appends the result to bench/RESULTS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
steps=${1:-200}
export LT_PLUGIN_PATH=$PWD/build/plugins/accelerators/cpu
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
run() { # seconds of one fit
    local t0 t1
    t0=$(date +%s.%N)
    build/host/lthost fit --module mlp --limit_train_batches "$steps" --limit_val_batches 0 --max_epochs 1 \
        --seed_everything 1 --threads 2 --test_after_fit false --logger false --enable_progress_bar false \
        --enable_model_summary false --default_root_dir "$dir" "$@" >/dev/null
    t1=$(date +%s.%N)
    awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.4f\n", b - a }'
}
plain=$(for i in 1 2 3; do run --enable_checkpointing false; done | sort -g | head -1)
saving=$(for i in 1 2 3; do
    run --callbacks ModelCheckpoint --callbacks.dirpath "$dir/c$i" --callbacks.every_n_train_steps 1 \
        --callbacks.save_top_k 0 --callbacks.save_last true
done | sort -g | head -1)
size=$(stat -c %s "$dir/c1/last.ckpt")
per=$(awk -v p="$plain" -v s="$saving" -v n="$steps" 'BEGIN { printf "%.2f", (s - p) / n * 1e3 }')
disk=$(df -h "$dir" | awk 'NR == 2 { print $1 }')
echo "checkpoint of $size bytes: $per ms per save ($steps saves; fit ${plain} s without, ${saving} s with)"
cat >>bench/RESULTS.md <<MD

## Checkpoint save (\`bash bench/checkpoint_save.sh $steps\`, $(date -u +%F), $(nproc) cores, $disk)

| | fit of $steps steps | per save |
|---|---|---|
| checkpointing off | ${plain} s | - |
| last.ckpt after every step ($size bytes, fsync + rename) | ${saving} s | ${per} ms |
MD
