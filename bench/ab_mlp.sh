#!/usr/bin/env bash
# Benchmark: two lthost builds (or two thread counts) on the demo MLP's epoch, interleaved
# (A B A B ... in the same minutes, so a shared machine's load hits both alike).
#   bench/ab_mlp.sh BUILD_A BUILD_B THREADS_A THREADS_B ROUNDS [extra lthost flags...]
# Prints one line per run (train samples/s, user+sys CPU s, wall s) and the medians.
# Timings, never assertions.
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 5 ] || { echo "usage: $0 BUILD_A BUILD_B THREADS_A THREADS_B ROUNDS [flags...]" >&2; exit 2; }
a=$1 b=$2 ta=$3 tb=$4 rounds=$5
shift 5
extra=("$@")
for d in "$a" "$b"; do [ -x "$d/host/lthost" ] || { echo "no $d/host/lthost: build it first" >&2; exit 1; }; done
command -v /usr/bin/time >/dev/null || { echo "needs /usr/bin/time: apt-get install time" >&2; exit 1; }
run() { # BUILD THREADS -> "samples/s cpu_s wall_s"
    local out
    out=$( { /usr/bin/time -f 'time %U %S %e' "$1/host/lthost" fit --module mlp --max_epochs 1 \
        --seed_everything 0 --threads "$2" --limit_val_batches 0 --test_after_fit false "${extra[@]}"; } 2>&1 )
    local sps t
    sps=$(sed -n 's/^Epoch 1\/1.*, \([0-9]*\) samples\/s\]$/\1/p' <<<"$out")
    t=$(sed -n 's/^time //p' <<<"$out")
    [ -n "$sps" ] && [ -n "$t" ] || { echo "no result from $1 --threads $2:" >&2; echo "$out" >&2; exit 1; }
    awk -v s="$sps" '{ printf "%s %.2f %.2f\n", s, $1 + $2, $3 }' <<<"$t"
}
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
ra="" rb=""
for ((i = 1; i <= rounds; i++)); do
    x=$(run "$a" "$ta"); y=$(run "$b" "$tb")
    echo "round $i: A ($a, --threads $ta) $x | B ($b, --threads $tb) $y"
    ra+="$x"$'\n' rb+="$y"$'\n'
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
for k in 1 2 3; do
    name=$(sed -n "${k}p" <<<$'samples/s\ncpu s\nwall s')
    echo "median $name: A $(cut -d' ' -f$k <<<"${ra%$'\n'}" | median)  B $(cut -d' ' -f$k <<<"${rb%$'\n'}" | median)"
done
