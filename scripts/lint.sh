#!/usr/bin/env bash
# lint.sh BUILD_DIR: the code's form, checked in CI. clang-format (.clang-format) must
# leave every C file of ours unchanged, and clang-tidy (.clang-tidy: no function over
# cognitive complexity 20) must pass on the sources BUILD_DIR compiles. Fix the first
# with `clang-format -i FILE`.
set -uo pipefail
cd "$(dirname "$0")/.."
build=${1:?usage: lint.sh BUILD_DIR}
for tool in clang-format clang-tidy; do
    command -v $tool >/dev/null || { echo "lint: $tool is missing (apt-get install $tool)"; exit 1; }
done
mapfile -t sources < <(git ls-files '*.c' '*.h')
bad=0
for f in "${sources[@]}"; do
    if ! clang-format --dry-run --Werror "$f" >/dev/null 2>&1; then
        echo "lint: $f is not formatted (clang-format -i $f)"
        bad=1
    fi
done
# clang-tidy reads the flags of what the build compiles (its compile_commands.json).
mapfile -t compiled < <(python3 -c 'import json,os,sys
seen = set()
for e in json.load(open(sys.argv[1] + "/compile_commands.json")):
    p = os.path.relpath(os.path.join(e["directory"], e["file"]))
    if not p.startswith(("build", "..")) and p not in seen:
        seen.add(p); print(p)' "$build")
if ! clang-tidy -p "$build" --quiet "${compiled[@]}" >/tmp/lint.$$ 2>&1; then
    grep -E "warning:|error:" /tmp/lint.$$
    bad=1
fi
rm -f /tmp/lint.$$
[ $bad -eq 0 ] && echo "lint: ${#sources[@]} files formatted, ${#compiled[@]} sources pass clang-tidy"
exit $bad
