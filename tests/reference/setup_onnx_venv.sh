#!/usr/bin/env bash
# The Python that checks ONNX exports (tests/reference/check_onnx.py, run by
# tests/e2e/test_export.sh): one with onnx, onnxruntime and numpy from PyPI, never torch.
# Prints its path on stdout. Idempotent and quick once made: $LT_ONNX_PYTHON, then the
# reference venv (.venv, when it has the three), then tests/reference/.onnxvenv are tried
# first, and pip runs only when none imports them (a fresh .onnxvenv: about 20 s, 210 MB).
#
#   bash tests/reference/setup_onnx_venv.sh           # find or make it
#   bash tests/reference/setup_onnx_venv.sh --find    # find it only; exit 1 when there is none
#
# When it cannot be made (no network, no pip): exit 1 under CI=true, so that CI fails
# loudly instead of skipping the comparison; else exit 77 (skip), with one line on stderr.
set -uo pipefail
cd "$(dirname "$0")"
here=$(pwd)
venv=$here/.onnxvenv
mods="import onnx, onnx.checker, onnxruntime, numpy"
# The versions it was tried with: onnx 1.23.2, onnxruntime 1.32.0, numpy 2.4.6. The floors
# are the first with opset 21 (the highest `lthost export --opset` writes).
reqs=("onnx>=1.16" "onnxruntime>=1.18" "numpy")

has_mods() { [ -n "$1" ] && [ -x "$1" ] && "$1" -c "$mods" >/dev/null 2>&1; }

for py in "${LT_ONNX_PYTHON:-}" "$here/.venv/bin/python" "$venv/bin/python"; do
    has_mods "$py" && { echo "$py"; exit 0; }
done
[ "${1:-}" = --find ] && exit 1

cannot() { # why: one line, then fail under CI or skip elsewhere
    if [ "${CI:-}" = true ]; then
        echo "setup_onnx_venv.sh: CI=true and cannot make $venv: $1" >&2
        exit 1
    fi
    echo "SKIP: cannot make $venv: $1 (under CI=true this fails)" >&2
    exit 77
}

# A venv left broken (interrupted creation, a Python upgraded underneath) is made anew;
# one that only lacks packages keeps what pip already put there.
t0=$SECONDS
if ! "$venv/bin/python" -c pass >/dev/null 2>&1; then
    rm -rf "$venv"
    log=$(python3 -m venv "$venv" 2>&1) || cannot "python3 -m venv failed (Debian: apt-get install python3-venv): $(echo "$log" | tail -1)"
fi
log=$("$venv/bin/pip" install --disable-pip-version-check -q --retries 1 --timeout 20 \
    "${reqs[@]}" 2>&1) || cannot "pip install ${reqs[*]} failed (is PyPI reachable?): $(echo "$log" | grep -v '^ *$' | tail -1)"
has_mods "$venv/bin/python" || cannot "pip installed ${reqs[*]}, but '$mods' fails"
echo "setup_onnx_venv.sh: made $venv in $((SECONDS - t0)) s ($(du -sh "$venv" | cut -f1))" >&2
echo "$venv/bin/python"
