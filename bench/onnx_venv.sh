#!/usr/bin/env bash
# bench/onnx_venv.sh [RUNS]: how long tests/reference/setup_onnx_venv.sh takes to make the
# ONNX checker venv from nothing (a copy of the script in a temporary folder, pip's cache
# off, as on a fresh CI machine), and to find it once made; its size. Appends a section
# to bench/RESULTS.md. Network-bound: PyPI's speed from this machine dominates.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-2}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
rows=""
for r in $(seq "$runs"); do
    rm -rf "$tmp/ref" && mkdir -p "$tmp/ref" && cp tests/reference/setup_onnx_venv.sh "$tmp/ref/"
    t0=$(date +%s.%N)
    env -u LT_ONNX_PYTHON PIP_NO_CACHE_DIR=1 bash "$tmp/ref/setup_onnx_venv.sh" >/dev/null 2>&1
    t1=$(date +%s.%N)
    env -u LT_ONNX_PYTHON bash "$tmp/ref/setup_onnx_venv.sh" >/dev/null
    t2=$(date +%s.%N)
    size=$(du -sm "$tmp/ref/.onnxvenv" | cut -f1)
    rows+=$(printf '| %d | %.1f | %.2f | %d |' "$r" "$(echo "$t1 - $t0" | bc)" "$(echo "$t2 - $t1" | bc)" "$size")$'\n'
done
versions=$("$tmp/ref/.onnxvenv/bin/python" -c 'import onnx, onnxruntime, numpy; print(f"onnx {onnx.__version__}, onnxruntime {onnxruntime.__version__}, numpy {numpy.__version__}")')
{
    echo
    echo "## ONNX checker venv (tests/reference/setup_onnx_venv.sh) — $(date -u +%F), $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores (shared, load $(cut -d' ' -f1 /proc/loadavg))"
    echo
    echo "Command: \`bash bench/onnx_venv.sh $runs\`; $versions, Python $(python3 -c 'import platform; print(platform.python_version())'); pip's cache off."
    echo
    echo "| run | make it fresh (s) | find it made (s) | size (MiB) |"
    echo "| ---: | ---: | ---: | ---: |"
    printf '%s' "$rows"
} | tee -a bench/RESULTS.md
