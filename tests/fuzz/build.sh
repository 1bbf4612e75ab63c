#!/usr/bin/env bash
# build.sh [DIR]: configure (once) and build the libFuzzer harnesses in DIR (default
# build-fuzz at the repository root): clang, ASan + UBSan, libFuzzer's coverage in liblt
# and the plugins, no unit tests. scripts/deps.sh installs clang and libFuzzer.
set -euo pipefail
cd "$(dirname "$0")/../.."
dir=${1:-build-fuzz}
if [ ! -f "$dir/build.ninja" ]; then
    CC=clang meson setup "$dir" -Dfuzz=true -Dtests=false -Dnccl=disabled \
        -Db_sanitize=address,undefined -Db_lundef=false -Dbuildtype=debugoptimized >/dev/null
fi
log=$(mktemp)
trap 'rm -f "$log"' EXIT
ninja -C "$dir" >"$log" 2>&1 || { cat "$log" >&2; exit 1; }  # quiet unless it fails
