#!/usr/bin/env bash
# bench/gemm_kernels.sh [ROUNDS] — sgemm kernels side by side on this CPU (issue #20):
# OpenBLAS's default pick, each kernel family the CPU runs (OPENBLAS_CORETYPE), and
# oneDNN's dnnl_sgemm when libdnnl-dev is installed, and the cpu accelerator's own
# small-GEMM tiles (one thread) at the small MLP's and the GEMM-bound MLP's step, on 1 and
# 2 threads, in interleaved rounds. Prints one line per run
# (round set threads contender result); bench/RESULTS.md has the medians.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
mkdir -p bench/.build
dnnl=()
[ -f /usr/include/dnnl.h ] && dnnl=(-DWITH_DNNL -fopenmp -ldnnl)
cc -O2 -std=c11 -D_GNU_SOURCE -Isdk/include -Iplugins/accelerators/cpu bench/gemm_kernels.c \
    plugins/accelerators/cpu/gemm_small.c $(pkg-config --cflags --libs openblas) "${dnnl[@]}" \
    -o bench/.build/gemm_kernels
cores=(Prescott Sandybridge Haswell Zen SkylakeX Cooperlake)
flags=$(grep -m1 '^flags' /proc/cpuinfo)
runs() { # the contenders this CPU can run
    echo default
    for c in "${cores[@]}"; do
        case $c in
            Sandybridge) [[ $flags == *" avx "* ]] ;;
            Haswell | Zen) [[ $flags == *" avx2 "* && $flags == *" fma "* ]] ;;
            SkylakeX) [[ $flags == *" avx512bw "* && $flags == *" avx512vl "* ]] ;;
            Cooperlake) [[ $flags == *" avx512_bf16 "* ]] ;;
            *) true ;;
        esac && echo "$c"
    done
    [ ${#dnnl[@]} -gt 0 ] && echo dnnl
    [[ $flags == *" avx512f "* ]] && echo avx512
    [[ $flags == *" avx2 "* && $flags == *" fma "* ]] && echo avx2
    return 0
}
mapfile -t contenders < <(runs)
for r in $(seq "$rounds"); do
    for set in small big; do
        for t in 1 2; do
            for c in "${contenders[@]}"; do
                case $c in
                    default) out=$(env -u OPENBLAS_CORETYPE bench/.build/gemm_kernels blas $set $t) ;;
                    dnnl) out=$(bench/.build/gemm_kernels dnnl $set $t) ;;
                    avx512 | avx2) # own tiles: one thread, the shapes they take
                        [ "$t" = 1 ] && [ "$set" = small ] || continue
                        out=$(bench/.build/gemm_kernels "$c" $set 1) ;;
                    *) out=$(OPENBLAS_CORETYPE=$c bench/.build/gemm_kernels blas $set $t) ;;
                esac
                echo "$r $set $t $c $out"
            done
        done
    done
done
