#!/usr/bin/env bash
# The README's first command: install what is missing, build, train the MLP demo on
# Fashion-MNIST for 5 epochs (test accuracy at the end).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
bash scripts/build.sh build
exec build/host/lthost fit --module mlp --data fashion_mnist --max_epochs 5 --seed_everything 42 "$@"
