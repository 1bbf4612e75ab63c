#!/usr/bin/env bash
# dcgan training steps/s with liblt from two builds, interleaved (A B A B ...) so the
# shared machine's load hits both alike. usage: bench/dcgan_steps.sh BEFORE_LIBDIR BUILD [N] [REPS]
# BEFORE_LIBDIR holds a liblt.so.1 to compare (LD_LIBRARY_PATH wins over lthost's RUNPATH).
set -euo pipefail
before=$1 b=$2 n=${3:-20} reps=${4:-3}
src=$(cd "$(dirname "$0")/.." && pwd)
export LT_PLUGIN_PATH=$src/$b/plugins/accelerators/cpu
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
run() { # label, then env
    local label=$1
    shift
    /usr/bin/time -f "$label %U %S %e" env "$@" "$src/$b/host/lthost" fit --module dcgan \
        --limit_train_batches "$n" --limit_val_batches 0 --max_epochs 1 --test_after_fit false \
        --seed_everything 3 --threads 1 --default_root_dir "$tmp/run" >/dev/null 2>>"$tmp/t"
}
for _ in $(seq "$reps"); do
    run before LD_LIBRARY_PATH="$before"
    run after LD_LIBRARY_PATH=
done
grep -E '^(before|after) ' "$tmp/t" | awk -v n="$n" '{print $0, "steps/s(wall)", n / $4}'
