#!/usr/bin/env bash
# build.sh DIR [meson options...]: configure DIR once, then build it.
set -euo pipefail
dir=$1
shift
[ -f "$dir/build.ninja" ] || meson setup "$dir" "$@" >/dev/null
ninja -C "$dir" >/dev/null
