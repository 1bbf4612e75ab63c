#!/usr/bin/env bash
# bench/loss_nd.sh [N C T REPS] — cross_entropy (label_smoothing 0.1) forward + backward
# on an (N, C, T) input and on (N T, C) rows, lthost's cpu accelerator (1 thread,
# bench/loss_nd.c) and torch's (1 thread, tests/reference/.venv), best of REPS.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-8} c=${2:-256} t=${3:-128} reps=${4:-20}
mkdir -p bench/.build
cc -O2 -std=c11 -D_POSIX_C_SOURCE=200809L -Isdk/include bench/loss_nd.c -Lbuild/sdk -llt -Wl,-rpath,"$PWD/build/sdk" \
    -o bench/.build/loss_nd
LT_PLUGIN_PATH=$PWD/build/plugins/accelerators/cpu bench/.build/loss_nd "$n" "$c" "$t" "$reps"
tests/reference/.venv/bin/python - "$n" "$c" "$t" "$reps" <<'PY'
import sys, time, torch
import torch.nn.functional as F
torch.set_num_threads(1)
n, c, t, reps = map(int, sys.argv[1:])
x0 = torch.rand(n, c, t) * 4 - 2
y = torch.randint(0, c, (n, t))
def best(x, y):
    b = 1e30
    for _ in range(reps):
        t0 = time.perf_counter()
        xi = x.clone().requires_grad_()
        F.cross_entropy(xi, y, label_smoothing=0.1).backward()
        b = min(b, time.perf_counter() - t0)
    return b
rows = x0.transpose(1, 2).reshape(n * t, c).contiguous()
print(f"torch {torch.__version__}: (N, C, T) {1e3 * best(x0, y):.3f} ms, "
      f"(N T, C) rows {1e3 * best(rows, y.reshape(-1)):.3f} ms")
PY
