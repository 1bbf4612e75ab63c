#!/usr/bin/env bash
# bench/fill_kernel.sh [BUILD_DIR] [ROUNDS] [OTHER_CPU_PLUGIN_DIR] — zero_grad's fill
# (bench/fill_kernel.c) at 1 and 2 threads; with a third argument (a folder holding another
# build's cpu.so) the two plugins run interleaved, A (that folder) then B (BUILD_DIR's).
# Timings, never assertions.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build} rounds=${2:-3} other=${3:-}
mkdir -p bench/.build
# as lthost runs it (main.c): without this libgomp spins and the 2-thread numbers are its spin
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
cc -O2 -std=c11 -D_GNU_SOURCE -Isdk/include bench/fill_kernel.c -L"$build/sdk" -llt \
    -Wl,-rpath,"$PWD/$build/sdk" -o bench/.build/fill_kernel
dirs=("$PWD/$build/plugins/accelerators/cpu")
[ -z "$other" ] || dirs=("$other" "${dirs[@]}")
echo "# $(date -u +%FT%TZ) load $(cut -d' ' -f1-3 /proc/loadavg)"
for r in $(seq "$rounds"); do
    for t in 1 2; do
        for d in "${dirs[@]}"; do
            echo "$r $d $(LT_PLUGIN_PATH=$d bench/.build/fill_kernel "$t")"
        done
    done
done
