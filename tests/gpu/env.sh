# tests/gpu/env.sh — sourced on the GPU machine (by tests/gpu/run.sh): unpack the .debs that
# tests/gpu/prepare.sh gathered into .gpu/debs into $LT_GPU_ROOT (never into /), and point
# pkg-config, the linker, the loader and Open MPI at them. Idempotent.
LT_GPU_ROOT=${LT_GPU_ROOT:-/tmp/lt-gpu-root}
lt_gpu_env() {
    local src=$1 root=$LT_GPU_ROOT multi=usr/lib/x86_64-linux-gnu debs
    # unpacked again when the carried set of .debs changed (prepare.sh gained a package)
    debs=$(cd "$src/.gpu/debs" 2>/dev/null && ls -- *.deb | sort)
    if [ "$(cat "$root/.unpacked" 2>/dev/null)" != "$debs" ]; then
        [ ! -f "$root/.unpacked" ] || rm -rf "$root" # only a root this script made
        compgen -G "$src/.gpu/debs/*.deb" >/dev/null ||
            { echo "env.sh: no .debs in $src/.gpu/debs: run tests/gpu/prepare.sh here and carry .gpu" >&2; return 1; }
        mkdir -p "$root"
        for f in "$src"/.gpu/debs/*.deb; do dpkg -x "$f" "$root" || return 1; done
        # Links made with absolute targets (zlib1g-dev's libz.so -> /lib/...) would point at
        # the machine's own files, which may be missing or another version: into the root.
        local l t
        while IFS= read -r l; do
            t=$(readlink "$l")
            [ ! -e "$root$t" ] || ln -sfn "$root$t" "$l"
        done < <(find "$root" -type l -lname '/*')
        # The .pc files say prefix=/usr: rewrite every /usr path into the root. Debian's
        # alternatives (openblas.pc, libblas.so.3, mpirun) are links dpkg -x does not make.
        mkdir -p "$root/pc" "$root/bin"
        local pc
        for pc in "$root/$multi"/pkgconfig/*.pc "$root/$multi"/openblas-pthread/pkgconfig/openblas.pc \
                  "$root"/usr/share/pkgconfig/*.pc; do
            [ -e "$pc" ] || continue
            sed -e "s#=/usr#=$root/usr#g" -e "s#-I/usr#-I$root/usr#g" -e "s#-L/usr#-L$root/usr#g" \
                "$pc" >"$root/pc/$(basename "$pc")"
        done
        ln -sf "$root/usr/bin/mpirun.openmpi" "$root/bin/mpirun"
        ln -sf "$root/usr/bin/mpicc.openmpi" "$root/bin/mpicc"
        pkg-config --version >/dev/null 2>&1 || ln -sf "$root/usr/bin/pkgconf" "$root/bin/pkg-config"
        printf '%s\n' "$debs" >"$root/.unpacked"
    fi
    export PKG_CONFIG_LIBDIR=$root/pc
    export PATH=$root/bin:$PATH
    export LIBRARY_PATH=$root/$multi/openblas-pthread:$root/$multi${LIBRARY_PATH:+:$LIBRARY_PATH}
    export LD_LIBRARY_PATH=$root/$multi/openblas-pthread:$root/$multi:$root/lib/x86_64-linux-gnu:$root/$multi/openmpi/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
    # cuDNN (the conv slots): where the toolkit lacks it, PyTorch's wheel (nvidia-cudnn-*)
    # has cudnn.h for the build and libcudnn.so.9 for the plugin's dlopen.
    local dnn
    dnn=$(python3 -c 'import nvidia.cudnn as m; print(list(m.__path__)[0])' 2>/dev/null)
    if [ -n "$dnn" ] && [ -d "$dnn/lib" ]; then
        [ -e /usr/local/cuda/include/cudnn.h ] || export CPATH=$dnn/include${CPATH:+:$CPATH}
        ldconfig -p 2>/dev/null | grep -q 'libcudnn\.so\.9 ' || export LD_LIBRARY_PATH=$LD_LIBRARY_PATH:$dnn/lib
    fi
    # NCCL (the ddp strategy on cuda): likewise from PyTorch's wheel (nvidia-nccl-*). Meson's
    # CUDA dependency looks for its modules (nccl) in the toolkit's own folders only, and
    # the wheel ships libnccl.so.2 alone, so a link to it goes into the toolkit there (the GPU
    # machine is a throwaway one; tests/gpu/run.sh is its only user).
    local nccl cuda=/usr/local/cuda
    nccl=$(python3 -c 'import nvidia.nccl as m; print(list(m.__path__)[0])' 2>/dev/null)
    if [ -n "$nccl" ] && [ -e "$nccl/lib/libnccl.so.2" ] && [ ! -e "$cuda/include/nccl.h" ] &&
        [ -d "$cuda/lib64" ]; then
        ln -sf "$nccl/lib/libnccl.so.2" "$cuda/lib64/libnccl.so"
        export CPATH=$nccl/include${CPATH:+:$CPATH} LD_LIBRARY_PATH=$LD_LIBRARY_PATH:$nccl/lib
    fi
    # Open MPI finds its components and help files under OPAL_PREFIX instead of /usr.
    export OPAL_PREFIX=$root/usr
    export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
    # One node: shared memory (vader) only. The network transports (UCX, libfabric, PSM)
    # are not needed there, and UCX crashed at exit when run from an unpacked root.
    export OMPI_MCA_pml=ob1 OMPI_MCA_btl=self,vader OMPI_MCA_osc=^ucx OMPI_MCA_mtl=^ofi,psm,psm2
}
