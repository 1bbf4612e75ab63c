#!/usr/bin/env bash
# Create tests/reference/.venv with PyTorch and safetensors from PyPI (a reference tool
# only: lthost and its test suite never need it), then regenerate the fixtures with:
#   tests/reference/.venv/bin/python tests/reference/make_fixtures.py
set -euo pipefail
cd "$(dirname "$0")"
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/pip install -q --upgrade pip
.venv/bin/pip install -q torch safetensors numpy
.venv/bin/python -c 'import torch, safetensors; print("torch", torch.__version__)'
