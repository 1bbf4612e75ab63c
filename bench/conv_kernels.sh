#!/usr/bin/env bash
# bench/conv_kernels.sh [BUILD_DIR] [ROUNDS] — the cnn model's two convolutions (batch 64,
# 3x3 "same": 1->16 and 16->32 channels on 28x28) through liblt on the cpu accelerator,
# forward and backward, on 1 and 2 threads, with each direction in im2col + OpenBLAS
# (LT_CPU_DNNL=none) or in oneDNN (fwd, bwd_data, bwd_weights, fwd,bwd_data or all), in
# interleaved rounds; and a dcgan-style upsampling conv_transpose2d (64 -> 32 channels,
# 7x7 -> 14x14, kernel 4, stride 2, padding 1, batch 64: row "deconv"; its forward runs in
# conv2d's bwd_data slot, its input gradient in conv2d's forward).
# Prints "round threads layer choice fwd_ms bwd_ms" (medians of 10 steps); bench/RESULTS.md
# has the table. Needs a build with oneDNN (meson -Ddnnl=enabled).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build} rounds=${2:-3}
mkdir -p bench/.build
cc -O2 -std=c11 -D_GNU_SOURCE -Isdk/include bench/conv_kernels.c -L"$build/sdk" -llt \
    -Wl,-rpath,"$PWD/$build/sdk" -o bench/.build/conv_kernels
export LT_PLUGIN_PATH=$PWD/$build/plugins/accelerators/cpu
layers=("conv1 64 1 28 28 16 3" "conv2 64 16 28 28 32 3" "deconv 64 64 7 7 32 4 t")
echo "# $(date -u +%FT%TZ) load $(cut -d' ' -f1-3 /proc/loadavg) $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2)"
for r in $(seq "$rounds"); do
    for t in 1 2; do
        for l in "${layers[@]}"; do
            read -r name n c h w o k tr <<<"$l"
            for choice in none fwd bwd_data bwd_weights fwd,bwd_data all; do
                out=$(LT_CPU_DNNL=$choice bench/.build/conv_kernels "$t" "$n" "$c" "$h" "$w" "$o" "$k" 10 ${tr:-})
                echo "$r $t $name $choice $out"
            done
        done
    done
done
