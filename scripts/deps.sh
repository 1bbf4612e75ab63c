#!/usr/bin/env bash
# Install the Debian packages lthost needs to build, test and train the demo.
# Idempotent: apt-get runs only when `dpkg -s` reports a package missing.
set -euo pipefail
packages=(
    meson ninja-build pkg-config gcc libc6-dev   # build
    libopenblas-dev zlib1g-dev libdeflate-dev    # liblt and the cpu accelerator
    libdnnl-dev cmake ocl-icd-opencl-dev         # oneDNN conv in the cpu plugin (#19; its CMake config wants OpenCL)
    libjansson-dev                               # safetensors headers (JSON)
    libxxhash-dev                                # safetensors checksums (XXH64)
    libyaml-dev                                  # --config files, hparams.yaml
    libpng-dev libjpeg-dev                       # the image_folder data plugin (#21)
    check libsubunit-dev                         # unit tests
    dataset-fashion-mnist                        # the demo's data
    valgrind                                     # memcheck e2e test
    libopenmpi-dev openmpi-bin                   # the ddp strategy (MPI, mpirun)
    clang libclang-rt-14-dev                     # fuzzers (tests/fuzz: libFuzzer)
    abigail-tools                                # the ABI check (scripts/abi_check.sh)
    clang-format clang-tidy                      # the form check (scripts/lint.sh)
    libpng-dev                                   # lt_log_image's PNG files, tune's lr_find.png (#23)
    vim-runtime                                  # chargpt's text: the Vim user manual (test_chargpt)
    python3-venv                                 # the ONNX checker venv (tests/reference/setup_onnx_venv.sh)
)
missing=()
for p in "${packages[@]}"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo=sudo
    echo "installing: ${missing[*]}"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
