#!/usr/bin/env bash
# build.sh DIR [meson options...]: configure DIR (once; the options are applied again to an
# existing DIR, so a build-asan first configured without its sanitizers gets them), then
# build it.
set -euo pipefail
dir=$1
shift
if [ ! -f "$dir/build.ninja" ]; then
    meson setup "$dir" "$@" >/dev/null
elif [ $# -gt 0 ]; then
    meson configure "$dir" "$@" >/dev/null
fi
log=$(mktemp)
trap 'rm -f "$log"' EXIT
ninja -C "$dir" >"$log" 2>&1 || { cat "$log" >&2; exit 1; }  # quiet unless it fails
