#!/usr/bin/env bash
# bench/pool_norm_kernels.sh [BUILD_DIR] [ROUNDS] — the cnn's 2x2 max pool and batch norm
# (64x32x28x28) in the cpu accelerator's own kernels and in oneDNN, 1 and 2 threads,
# interleaved rounds; prints "round threads op impl fwd_ms bwd_ms". Needs libdnnl-dev.
# LT_BENCH_CPU_CLOCK=1 times process CPU instead of wall time (fairer at 1 thread on a
# loaded machine; at 2 threads it sums both).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build} rounds=${2:-3}
[ -f /usr/include/dnnl.h ] || { echo "needs libdnnl-dev (bash scripts/deps.sh)" >&2; exit 1; }
mkdir -p bench/.build
cc -O2 -std=c11 -D_GNU_SOURCE -fopenmp -Isdk/include bench/pool_norm_kernels.c -L"$build/sdk" -llt \
    -ldnnl -Wl,-rpath,"$PWD/$build/sdk" -o bench/.build/pool_norm_kernels
export LT_PLUGIN_PATH=$PWD/$build/plugins/accelerators/cpu
echo "# $(date -u +%FT%TZ) load $(cut -d' ' -f1-3 /proc/loadavg)"
for r in $(seq "$rounds"); do
    for t in 1 2; do
        bench/.build/pool_norm_kernels "$t" 20 | sed "s/^/$r $t /"
    done
done
