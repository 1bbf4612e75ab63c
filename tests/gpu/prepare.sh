#!/usr/bin/env bash
# tests/gpu/prepare.sh — run HERE (a Debian 12 machine with apt), before a GPU run.
# The GPU machine has nvcc, gcc, meson, ninja, torch and Lightning, but none of the Debian
# -dev packages lthost builds against, and no network. This gathers them as .deb files
# (apt-get download: nothing is installed here) plus the Fashion-MNIST files into .gpu/,
# an ignored folder that the device tool carries (`carry: [".gpu"]`); tests/gpu/run.sh
# unpacks them there with dpkg -x into a folder of its own, never into /.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=.gpu
# What meson's dependency() calls need (headers, .so links, .pc files) and the runtime
# libraries behind them, with Open MPI's own runtime closure (the ddp strategy and mpirun),
# minus what every Linux image has (libc, libstdc++, libgomp with gcc). zlib1g is carried all
# the same: zlib1g-dev's libz.so points at its libz.so.1.2.13, and where the machine has
# another version the linker fell back to the non-PIC libz.a.
packages=(
    libopenblas-dev libopenblas-pthread-dev libopenblas0 libopenblas0-pthread libgfortran5
    zlib1g-dev zlib1g libdeflate-dev libdeflate0 libjansson-dev libjansson4 libxxhash-dev libxxhash0
    libyaml-dev libyaml-0-2 check libsubunit-dev libsubunit0
    libpng-dev libpng16-16 # lt_log_image's PNG files (liblt requires libpng since #23)
    libopenmpi-dev libopenmpi3 openmpi-bin openmpi-common libevent-core-2.1-7
    libevent-pthreads-2.1-7 libfabric1 libhwloc15 libibverbs1 libnl-3-200 libnl-route-3-200
    libpmix2 libpsm-infinipath1 libpsm2-2 libucx0 librdmacm1 libnuma1 libmunge2
    pkgconf pkgconf-bin libpkgconf3 # in case the image has no pkg-config
)
mkdir -p "$out/debs" "$out/data"
grep -qx '/.gpu/' .git/info/exclude 2>/dev/null || grep -qx '/.gpu/' .gitignore ||
    { echo "tests/gpu/prepare.sh: .gpu/ is not ignored; add /.gpu/ to .gitignore" >&2; exit 1; }
need=()
for p in "${packages[@]}"; do
    compgen -G "$out/debs/${p}_*.deb" >/dev/null || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
    echo "downloading ${#need[@]} packages into $out/debs"
    # apt's sandbox user cannot write into a root-owned folder: fetch in a temp dir it owns
    tmp=$(mktemp -d)
    chmod 777 "$tmp"
    (cd "$tmp" && apt-get download -qq "${need[@]}")
    mv "$tmp"/*.deb "$out/debs/"
    rmdir "$tmp"
fi
fm=/usr/share/datasets/fashion-mnist
[ -f "$fm/train-images-idx3-ubyte.gz" ] || bash scripts/deps.sh
cp -u "$fm"/*-ubyte.gz "$out/data/"
echo "ready: $(du -sh "$out" | cut -f1) in $out (carry \".gpu\" with tests/gpu/run.sh)"
