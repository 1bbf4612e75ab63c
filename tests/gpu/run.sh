#!/usr/bin/env bash
# tests/gpu/run.sh — every check that needs a GPU, in one script for a GPU machine (one
# H200 here; no network, no Debian -dev packages). Before: `bash tests/gpu/prepare.sh` on
# a Debian machine, then run this there with `.gpu` carried. It builds with the unpacked
# packages, runs the checks below and the GPU benchmarks, prints one line per check and
# ends with `N passed, N failed`. Logs go to $OUT (the device tool's folder) or /tmp.
#   LT_GPU_SKIP_BENCH=1   skip the benchmarks (the checks alone take ~3 minutes)
set -uo pipefail
cd "$(dirname "$0")/../.."
src=$PWD
out=${OUT:-/tmp/lt-gpu-out}
mkdir -p "$out"
log=$out/gpu.log
: >"$log"
. tests/gpu/env.sh
lt_gpu_env "$src" >>"$log" 2>&1 || { echo "tests/gpu/run.sh: unpacking .gpu failed (see $log)"; exit 1; }
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1 | head -1 || true
passed=0 failed=0
check() { # check NAME CMD...: run CMD, log its output, count it
    local name=$1 t0=$SECONDS rc=0
    shift
    echo "=== $name: $*" >>"$log"
    "$@" >"$out/step.log" 2>&1 || rc=$?
    cat "$out/step.log" >>"$log"
    if [ $rc -eq 0 ]; then
        passed=$((passed + 1))
        echo "ok: $name ($((SECONDS - t0)) s) $(grep -E '^(ok|result):' "$out/step.log" | tail -1 | cut -c1-150)"
    else
        failed=$((failed + 1))
        echo "FAIL: $name (exit $rc, $((SECONDS - t0)) s)"
        tail -15 "$out/step.log" | sed 's/^/    /'
    fi
}

b=$src/build-gpu
build() {
    [ -f "$b/build.ninja" ] || meson setup "$b" -Dbuildtype=release -Dcuda=enabled -Dnccl=enabled \
        -Dcuda-arch=sm_90 -Dwerror=false || return 1
    ninja -C "$b"
}
check build build
[ -x "$b/host/lthost" ] || { echo "0 passed, 1 failed"; exit 1; }

export LTHOST=$b/host/lthost BUILD_DIR=$b SRC_DIR=$src
export LT_PLUGIN_PATH=$b/plugins/accelerators/cpu:$b/plugins/accelerators/cuda
export LT_TEST_PLUGIN_DIR=$b/tests/e2e/plugins LT_FIXTURE_DIR=$src/tests/fixtures
export LT_TEST_MLP_PLUGIN=$b/plugins/models/mlp/mlp.so
export LT_TEST_ADVANCED_PROFILER=$b/plugins/profilers/advanced/advanced.so
data=$src/.gpu/data
# The e2e tests and the fashion_mnist plugin's default --data.root read Debian's path;
# on this throwaway machine it is a link to the carried files.
fm=/usr/share/datasets/fashion-mnist
[ -e "$fm" ] || { mkdir -p "$(dirname "$fm")" && ln -s "$data" "$fm"; }
fit=(fit --module mlp --data.root "$data" --accelerator cuda --enable_progress_bar false
     --enable_model_summary false)

# PyTorch parity (tests/unit/test_parity.c runs every fixture on cpu and on cuda).
parity() {
    "$b/tests/unit_tests" || return 1
    ! grep -q 'cuda accelerator not available' "$out/step.log"
}
check "unit tests incl. PyTorch parity on cuda" parity
check "cuda against cpu, every slot, random shapes" "$b/tests/gpu/cuda_ops_check"
check "e2e: the cuda plugin" bash tests/e2e/test_cuda.sh

# cuDNN convolutions (issue 18): the conv slots against a direct convolution in double at
# fixed and random geometries, every precision; then the cnn model (100 steps) on cuda
# through cuDNN twice and through im2col + cuBLAS (LT_CUDA_CUDNN=0) once: cuDNN must run
# the convolutions (LT_CUDA_STATS), the two cuDNN runs log identical metrics (deterministic
# algorithms), and the im2col run's test accuracy is within 0.02 of theirs.
check "cuDNN convolution slots against a direct convolution, every precision" \
    "$b/tests/gpu/cuda_ops_check" --only conv
cnn_run() { # cnn_run NAME LT_CUDA_CUDNN: prints its stats lines and test_acc
    rm -rf "/tmp/lt-gpu-cnn-$1"
    LT_CUDA_STATS=1 LT_CUDA_CUDNN=$2 "$LTHOST" fit --module cnn --data.root "$data" --accelerator cuda \
        --max_epochs 1 --limit_train_batches 100 --limit_val_batches 5 --limit_test_batches 20 \
        --seed_everything 7 --enable_progress_bar false --enable_model_summary false --logger csv \
        --log_every_n_steps 10 --enable_checkpointing false --default_root_dir "/tmp/lt-gpu-cnn-$1" 2>&1 |
        grep -E '^cuda:|test_acc='
}
cudnn_cnn() {
    local a b c m=lightning_logs/version_0/metrics.csv
    a=$(cnn_run dnn1 1) && b=$(cnn_run dnn2 1) && c=$(cnn_run im2col 0) || return 1
    printf '%s\n' "$a" "$c"
    local ran acc1 acc0
    ran=$(echo "$a" | sed -n 's/.*cuDNN ran \([0-9]*\) convolutions.*/\1/p')
    acc1=$(echo "$a" | sed -n 's/.*test_acc=\([0-9.]*\).*/\1/p' | tail -1)
    acc0=$(echo "$c" | sed -n 's/.*test_acc=\([0-9.]*\).*/\1/p' | tail -1)
    echo "result: cuDNN ran ${ran:-0} convolutions; test_acc cuDNN $acc1, im2col $acc0"
    [ "${ran:-0}" -gt 0 ] && ! echo "$c" | grep -q 'cuDNN ran' || return 1
    cmp "/tmp/lt-gpu-cnn-dnn1/$m" "/tmp/lt-gpu-cnn-dnn2/$m" || return 1
    awk -v a="${acc1:-0}" -v b="${acc0:-9}" 'BEGIN { d = a - b; exit !(a > 0.5 && d < 0.02 && d > -0.02) }'
}
check "cnn on cuda: cuDNN deterministic, LT_CUDA_CUDNN=0 (im2col) agrees" cudnn_cnn

# The demo MLP, 5 epochs, in each precision: test accuracy >= 0.87.
accuracy() {
    local o
    o=$("$LTHOST" "${fit[@]}" --max_epochs 5 --precision "$1" --default_root_dir "/tmp/lt-gpu-acc-$1" 2>&1)
    echo "$o" | tail -4
    local acc
    acc=$(echo "$o" | sed -n 's/.*test_acc=\([0-9.]*\).*/\1/p' | tail -1)
    echo "result: $1 test_acc=$acc"
    awk -v a="${acc:-0}" 'BEGIN { exit !(a >= 0.87) }'
}
for p in 32-true 16-mixed bf16-mixed; do check "demo MLP 5 epochs, $p, test_acc >= 0.87" accuracy $p; done

# Steady state: a run of 60 steps and one of 300 make the same number of cudaMalloc calls.
allocations() {
    local n1 n2
    n1=$(LT_CUDA_STATS=1 "$LTHOST" "${fit[@]}" --max_epochs 1 --limit_train_batches 60 --limit_val_batches 5 \
        --logger false --enable_checkpointing false 2>&1 | sed -n 's/.*cuda: \([0-9]*\) device allocations.*/\1/p')
    n2=$(LT_CUDA_STATS=1 "$LTHOST" "${fit[@]}" --max_epochs 1 --limit_train_batches 300 --limit_val_batches 5 \
        --logger false --enable_checkpointing false 2>&1 | sed -n 's/.*cuda: \([0-9]*\) device allocations.*/\1/p')
    echo "result: $n1 device allocations for 60 steps, $n2 for 300"
    [ -n "$n1" ] && [ "$n1" = "$n2" ]
}
check "0 device allocations in steady-state steps" allocations

# Pinned batch buffers and the copy stream (issues 21, 18): the loaders' buffers come from
# cudaHostAlloc and every batch is uploaded from them on the copy stream; with worker
# threads refilling buffers while those uploads run (each waits on its buffer's event),
# and with the copy stream off (LT_CUDA_COPY_STREAM=0), the metrics must not change.
pinned_run() { # pinned_run NAME WORKERS COPY_STREAM
    local short=(--max_epochs 2 --limit_train_batches 50 --limit_val_batches 5 --limit_test_batches 5
                 --enable_checkpointing false --logger csv --seed_everything 7) st
    rm -rf "/tmp/lt-gpu-$1"
    st=$(LT_CUDA_STATS=1 LT_CUDA_COPY_STREAM=$3 "$LTHOST" "${fit[@]}" "${short[@]}" \
        --data.num_workers "$2" --default_root_dir "/tmp/lt-gpu-$1" 2>&1 | grep 'pinned buffers')
    echo "result: $1: $st"
    bufs=$(echo "$st" | sed -n 's/.* \([0-9]*\) pinned buffers.*/\1/p')
    copies=$(echo "$st" | sed -n 's/.* \([0-9]*\) copies from them.*/\1/p')
    xfer=$(echo "$st" | sed -n 's/.*(\([0-9]*\) on the copy stream).*/\1/p')
    [ "${bufs:-0}" -gt 0 ] && [ "${copies:-0}" -gt 0 ]
}
pinned() {
    local bufs copies xfer m=lightning_logs/version_0/metrics.csv
    pinned_run pin0 0 1 && [ "${xfer:-0}" -gt 0 ] || return 1
    pinned_run pin3 3 1 && [ "${xfer:-0}" -gt 0 ] || return 1
    pinned_run nocopy 0 0 && [ "${xfer:-1}" -eq 0 ] || return 1
    cmp "/tmp/lt-gpu-pin0/$m" "/tmp/lt-gpu-pin3/$m" && cmp "/tmp/lt-gpu-pin0/$m" "/tmp/lt-gpu-nocopy/$m"
}
check "pinned buffers + copy stream used, metrics identical with workers and without it" pinned

# DeviceStatsMonitor on cuda (issue 23): the caching allocator's and cudaMemGetInfo's bytes.
device_stats() {
    rm -rf /tmp/lt-gpu-dsm
    "$LTHOST" "${fit[@]}" --max_epochs 1 --limit_train_batches 20 --limit_val_batches 2 \
        --limit_test_batches 2 --log_every_n_steps 5 --logger csv --callbacks DeviceStatsMonitor \
        --enable_checkpointing false --default_root_dir /tmp/lt-gpu-dsm || return 1
    python3 - /tmp/lt-gpu-dsm/lightning_logs/version_0/metrics.csv <<'PY'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
pre = "DeviceStatsMonitor.on_train_batch_end/"
def last(k):
    v = [float(r[pre + k]) for r in rows if r.get(pre + k)]
    return v[-1] if v else 0.0
a, r, t = last("allocated_bytes.all.current"), last("reserved_bytes.all.current"), last("mem_get_info.total")
print(f"result: allocated {a:.0f} reserved {r:.0f} total {t:.0f} bytes")
sys.exit(0 if 0 < a <= r <= t and last("mem_get_info.free") > 0 else 1)
PY
}
check "DeviceStatsMonitor logs cuda memory stats" device_stats

# The profiler on cuda (issue 18): --profiler advanced times each op with cudaEvents (its
# ops table says device time) and adds no per-op sync (LT_CUDA_STATS: sync calls far below
# the ops); the event pool is made once (60 and 300 steps create as many events); --profiler
# trace has a valid "GPU 0" / "stream compute" track of non-overlapping spans, as many as
# advanced counted in the same run.
prof_stats() { # prof_stats STEPS PROFILER DIR: the run's "profiler timer" stats line
    LT_CUDA_STATS=1 "$LTHOST" "${fit[@]}" --max_epochs 1 --limit_train_batches "$1" \
        --limit_val_batches 5 --test_after_fit false --logger false --enable_checkpointing false \
        --log_every_n_steps 50 --seed_everything 7 --profiler "$2" --profiler.dirpath "$3" \
        --profiler.filename rep 2>&1 | grep 'cuda: profiler timer'
}
prof_cuda() {
    local d=/tmp/lt-gpu-prof a b ops gpu c60 c300 s300
    rm -rf "$d"
    a=$(prof_stats 60 advanced "$d/a") && b=$(prof_stats 300 advanced "$d/b") || return 1
    printf '%s\n' "$a" "$b"
    grep -q "^Operations (device time on device 0" "$d/a/fit-rep.txt" || return 1
    ops=$(awk '/^Operations/ { on = 1; next } on && /^\|  Total / { gsub(/\|/, " "); print $2; exit }' "$d/a/fit-rep.txt")
    prof_stats 60 trace "$d/t" >/dev/null || return 1
    python3 tests/e2e/check_trace.py "$d/t/fit-rep.json" --expect-gpu >"$d/gpu" || return 1
    gpu=$(awk '$1 == "gpu_op" { s += $3 } END { print s + 0 }' "$d/gpu")
    c60=$(echo "$a" | sed -n 's/.*timer: \([0-9]*\) events created.*/\1/p')
    c300=$(echo "$b" | sed -n 's/.*timer: \([0-9]*\) events created.*/\1/p')
    s300=$(echo "$b" | sed -n 's/.*marks, \([0-9]*\) syncs.*/\1/p')
    echo "result: $ops ops timed on the device, $gpu on the trace's GPU track; events created $c60 (60 steps), $c300 (300); $s300 syncs in 300 steps"
    [ "${ops:-0}" -gt 0 ] && [ "$gpu" = "$ops" ] && [ -n "$c60" ] && [ "$c60" = "$c300" ] &&
        [ "${s300:-999999}" -lt 30 ]
}
check "profiler: CUDA-event op times, GPU trace track, no per-op sync, event pool reused" prof_cuda

# compute-sanitizer memcheck of a short fit: 0 errors.
memcheck() {
    command -v compute-sanitizer >/dev/null || { echo "no compute-sanitizer"; return 1; }
    compute-sanitizer --tool memcheck --error-exitcode 3 "$LTHOST" "${fit[@]}" --max_epochs 1 \
        --limit_train_batches 5 --limit_val_batches 2 --limit_test_batches 2 --logger false \
        --enable_checkpointing false 2>&1 | tail -3
    return "${PIPESTATUS[0]}"
}
check "compute-sanitizer memcheck of a short fit" memcheck

# Checkpoints are accelerator-neutral: cuda -> cpu and cpu -> cuda, bit-exact in 32-true.
check "checkpoints across accelerators, byte-identical" bash tests/gpu/cross_resume.sh "$data"
# chargpt, 40 steps on cuda and on cpu from one seed: the text model's slots (gemm_batched
# among them) in a fit, its logged losses within 0.5%.
check "chargpt on cuda matches cpu" bash tests/gpu/chargpt_parity.sh cuda cpu
# NCCL all-reduce on device memory (world size 1 on one GPU).
check "NCCL collectives on device memory" bash tests/e2e/test_ddp_nccl.sh

if [ -z "${LT_GPU_SKIP_BENCH:-}" ]; then
    check "benchmarks (bench/gpu_run.sh)" bash bench/gpu_run.sh "$b" "$data" "$out/bench.md"
fi
rm -f "$out/step.log"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
