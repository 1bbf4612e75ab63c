#!/usr/bin/env bash
# CSV load time: a generated table of MB megabytes (20 float columns with 6 decimals and
# an integer class column; 200,000 distinct rows repeated) read by lthost's csv data plugin (its setup: map, parse every
# cell, check it) against pandas.read_csv (C engine) on the same file. lthost's number is
# the [LightningDataModule]csv.setup row of the simple profiler; pandas' the read_csv call.
# Best of 3 each. Appends the result to bench/RESULTS.md. Needs python3 with pandas.
set -euo pipefail
cd "$(dirname "$0")/.."
mb=${1:-1024}
export LT_PLUGIN_PATH=$PWD/build/plugins/accelerators/cpu
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
python3 - "$dir/table.csv" "$mb" <<'PY'
import sys
import numpy as np
import pandas as pd
path, mb = sys.argv[1], int(sys.argv[2])
rng = np.random.default_rng(0)
x = rng.standard_normal((200_000, 20))
df = pd.DataFrame(x, columns=[f"f{i}" for i in range(20)])
df["label"] = (x[:, 0] + x[:, 1] > 0).astype(int)
body = df.to_csv(index=False, header=False, float_format="%.6f")  # ~38 MB, written repeatedly
with open(path, "w") as f:
    f.write(",".join(df.columns) + "\n")
    while f.tell() < mb << 20:
        f.write(body)
PY
size=$(stat -c %s "$dir/table.csv")
rows=$(($(wc -l <"$dir/table.csv") - 1))
lthost_s() {
    build/host/lthost validate --module tabular --model.in_features 20 --data csv \
        --data.train "$dir/table.csv" --data.target label --limit_val_batches 1 --logger false \
        --enable_progress_bar false --profiler simple --default_root_dir "$dir" 2>&1 |
        awk -F'|' '/\[LightningDataModule\]csv.setup/ { gsub(/[ \t]/, "", $3); print $3 }'
}
pandas_s() {
    python3 -c "
import sys, time, pandas as pd
t = time.perf_counter(); df = pd.read_csv(sys.argv[1]); print(f'{time.perf_counter() - t:.3f}')
assert len(df) == int(sys.argv[2])" "$dir/table.csv" "$rows"
}
best() { sort -g | head -1; }
lt=$(for i in 1 2 3; do lthost_s; done | best)
pd=$(for i in 1 2 3; do pandas_s; done | best)
[ -n "$lt" ] && [ -n "$pd" ] || { echo "csv_load: a measurement failed (lthost '$lt', pandas '$pd')" >&2; exit 1; }
pv=$(python3 -c "import pandas; print(pandas.__version__)")
{
    echo
    echo "## CSV load (\`bash bench/csv_load.sh $mb\`, $(date +%F), $(nproc) cores, pandas $pv)"
    echo
    echo "A table of $rows rows x 21 columns, $((size >> 20)) MiB; best of 3."
    echo
    echo "| reader | seconds | MB/s |"
    echo "| --- | ---: | ---: |"
    awk -v s="$lt" -v b="$size" 'BEGIN { printf "| lthost csv plugin (setup: map, parse, check) | %.3f | %.0f |\n", s, b / s / 1e6 }'
    awk -v s="$pd" -v b="$size" 'BEGIN { printf "| pandas.read_csv (C engine) | %.3f | %.0f |\n", s, b / s / 1e6 }'
} | tee -a bench/RESULTS.md
