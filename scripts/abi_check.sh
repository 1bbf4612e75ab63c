#!/usr/bin/env bash
# abi_check.sh LIB [BASELINE]: compare a built liblt.so.1 (with debug info: the ASan build's)
# against the 1.x ABI every plugin links (sdk/abi/liblt.so.1.abi), through libabigail's
# abidiff over the public headers. Added functions and types are compatible and pass;
# a removed or changed one fails, unless the library's soname has a new major (then the
# baseline is for the old major: record the new one, as below).
#   record a baseline: abidw --headers-dir sdk/include/lt --out-file sdk/abi/liblt.so.1.abi LIB
set -uo pipefail
cd "$(dirname "$0")/.."
lib=${1:?usage: abi_check.sh LIB [BASELINE]}
base=${2:-sdk/abi/liblt.so.1.abi}
command -v abidiff >/dev/null || { echo "abi_check: abidiff is missing (apt-get install abigail-tools)"; exit 1; }
soname() { # of a library, or of an abidw file
    case $1 in
        *.abi) grep -o "soname='[^']*'" "$1" | head -1 | cut -d"'" -f2 ;;
        *) readelf -d "$1" | sed -n 's/.*Library soname: \[\(.*\)\]/\1/p' ;;
    esac
}
want=$(soname "$base")
have=$(soname "$lib")
if [ "$have" != "$want" ]; then
    echo "abi_check: $lib is $have, the baseline is $want: a new major; record its baseline (see $0)"
    exit 0
fi
rc=0
abidiff --headers-dir2 sdk/include/lt "$base" "$lib" >/tmp/abi_check.$$ 2>&1 || rc=$?
# abidiff's exit code is a bit set: 1 error, 2 usage, 4 a change, 8 an incompatible change.
if [ $((rc & 11)) -ne 0 ]; then
    cat /tmp/abi_check.$$
    echo "abi_check: $lib breaks the $want ABI that plugins are built against (abidiff exit $rc):"
    echo "  keep the old functions and append struct fields, or bump the soname major"
    rm -f /tmp/abi_check.$$
    exit 1
fi
added=""
[ $((rc & 4)) -ne 0 ] && sed 's/^/  /' /tmp/abi_check.$$ && added=" (with compatible additions)"
rm -f /tmp/abi_check.$$
echo "abi_check: $lib keeps the $want ABI$added"
