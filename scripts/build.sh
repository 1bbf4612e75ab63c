#!/usr/bin/env bash
# build.sh DIR [meson options...]: configure DIR once, then build it.
set -euo pipefail
dir=$1
shift
[ -f "$dir/build.ninja" ] || meson setup "$dir" "$@" >/dev/null
log=$(mktemp)
trap 'rm -f "$log"' EXIT
ninja -C "$dir" >"$log" 2>&1 || { cat "$log" >&2; exit 1; }  # quiet unless it fails
