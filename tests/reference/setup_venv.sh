#!/usr/bin/env bash
# Create tests/reference/.venv (gitignored) with PyTorch and safetensors from PyPI. PyTorch
# is a reference tool only: lthost and its test suite never need it. Then regenerate the
# fixtures with:
#   tests/reference/.venv/bin/python tests/reference/make_fixtures.py
# A torch wheel already downloaded into /tmp/pipdl (or $PIP_FIND_LINKS) is used first.
set -euo pipefail
cd "$(dirname "$0")"
[ -x .venv/bin/python ] || python3 -m venv .venv
links=()
dir="${PIP_FIND_LINKS:-/tmp/pipdl}"
[ -d "$dir" ] && links=(--find-links "$dir")
.venv/bin/pip install -q --upgrade pip
.venv/bin/pip install -q "${links[@]}" torch safetensors numpy
.venv/bin/python -c 'import torch, safetensors; print("torch", torch.__version__, "safetensors", safetensors.__version__)'
# issue 23 (gen): TensorBoard's reader and pillow for check_images.py (tests/e2e/test_dcgan.sh)
.venv/bin/pip install -q tensorboard pillow
