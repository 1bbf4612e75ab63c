#!/usr/bin/env bash
# Install into a temporary root, build docs/examples/tiny.c against the installed SDK
# with pkg-config, and train it for a few batches with the installed lthost; then build
# the docs' profiler (docs/custom-profiler.md) and docs/examples/embed.c with the very
# commands the docs give, and run them.
. "$(dirname "$0")/lib.sh"
need_dataset

DEST=$TMP/root
meson install -C "$BUILD_DIR" --destdir "$DEST" --quiet >/dev/null || fail "meson install failed"
prefix=$(meson introspect "$BUILD_DIR" --buildoptions | python3 -c 'import json,sys; print([o["value"] for o in json.load(sys.stdin) if o["name"]=="prefix"][0])')
libdir=$(meson introspect "$BUILD_DIR" --buildoptions | python3 -c 'import json,sys; print([o["value"] for o in json.load(sys.stdin) if o["name"]=="libdir"][0])')
case $libdir in /*) ;; *) libdir=$prefix/$libdir ;; esac
root=$DEST$prefix
[ -x "$root/bin/lthost" ] || fail "no bin/lthost under the install root"
[ -f "$root/include/lt/lt.h" ] || fail "no include/lt/lt.h"
[ -e "$DEST$libdir/liblt.so.1" ] || fail "no liblt.so.1 in $libdir"
for p in models/mlp accelerators/cpu strategies/single data/fashion_mnist; do
    [ -f "$DEST$libdir/lthost/$p.so" ] || fail "plugin $p.so not installed in $libdir/lthost"
done

export PKG_CONFIG_PATH=$DEST$libdir/pkgconfig PKG_CONFIG_SYSROOT_DIR=$DEST
flags=$(pkg-config --cflags --libs lt) || fail "pkg-config lt failed"
cc -shared -fPIC "$SRC_DIR/docs/examples/tiny.c" $flags -o "$TMP/tiny.so" || fail "out-of-tree build failed"

# The installed lthost must find its plugins next to its own liblt, not in the build tree.
env -u LT_PLUGIN_PATH "$root/bin/lthost" plugins >"$TMP/out" 2>&1 || fail "installed lthost plugins"
grep -q "^  module *mlp .*$DEST.*/lthost/models/mlp.so" "$TMP/out" || { cat "$TMP/out"; fail "installed plugins not found"; }
LTHOST=$root/bin/lthost
expect_success fit --module "$TMP/tiny.so" --max_epochs 1 --limit_train_batches 10 --limit_val_batches 2 \
    --seed_everything 3
cat "$TMP/out"
grep -q 'Epoch 1/1  train_loss=' "$TMP/out" || fail "the out-of-tree model did not train"
grep -q 'tiny: 4 tensors' "$TMP/out" || fail "the out-of-tree model was not the one loaded"

# The commands of the docs, run as written against the install (PKG_CONFIG_PATH as the
# README says; PKG_CONFIG_SYSROOT_DIR only because this install is under a DESTDIR).
# A profiler written from docs/custom-profiler.md: its count.c, with <lt/lt.h> alone.
mkdir -p "$TMP/docs" && cd "$TMP/docs" || fail "cd"
awk '/^\/\* count.c: /{on=1} on&&/^```/{exit} on' "$SRC_DIR/docs/custom-profiler.md" >count.c
grep -q 'LT_PROFILER_EXPORT' count.c || fail "no count.c example in docs/custom-profiler.md"
build=$(grep -m1 '^cc -shared -fPIC count.c ' "$SRC_DIR/docs/custom-profiler.md") || fail "no build line for count.c"
eval "$build" 2>"$TMP/cc.err" || { cat "$TMP/cc.err"; fail "the profiler of docs/custom-profiler.md does not compile: $build"; }
expect_success fit --module mlp --max_epochs 1 --limit_train_batches 3 --limit_val_batches 1 \
    --limit_test_batches 1 --profiler ./count.so --enable_checkpointing false --logger false
grep -Eq '^count: fit ran [1-9][0-9]* actions' "$TMP/out" || { cat "$TMP/out"; fail "the docs' profiler did not report"; }
echo "ok: docs/custom-profiler.md's count.c builds with <lt/lt.h> and runs"

# A program linked with -llt (docs/examples/embed.c), built as docs/checkpoints.md says,
# starts without LD_LIBRARY_PATH and reads a checkpoint trained by the installed lthost.
cp "$SRC_DIR/docs/examples/embed.c" .
build=$(grep -m1 '^cc embed.c ' "$SRC_DIR/docs/checkpoints.md") || fail "no build line for embed.c in docs/checkpoints.md"
# (a program linked with an ASan liblt needs the ASan runtime linked in first)
eval "$build ${LT_E2E_SANITIZED:+-fsanitize=address,undefined}" 2>"$TMP/cc.err" ||
    { cat "$TMP/cc.err"; fail "embed.c does not build as documented: $build"; }
expect_success fit --module autoencoder --max_epochs 1 --limit_train_batches 3 --limit_val_batches 1 \
    --test_after_fit false --logger false --default_root_dir "$TMP/docs/ae"
ckpt=$(ls "$TMP"/docs/ae/checkpoints/*.ckpt 2>/dev/null | head -1)
[ -n "$ckpt" ] || { ls -R "$TMP/docs/ae"; fail "no autoencoder checkpoint"; }
env -u LD_LIBRARY_PATH -u LT_PLUGIN_PATH ./embed "$ckpt" autoencoder >"$TMP/embed.out" 2>&1 ||
    { cat "$TMP/embed.out"; fail "the documented embed build does not run"; }
[ "$(grep -cE '^[0-7]: ' "$TMP/embed.out")" -eq 8 ] || { cat "$TMP/embed.out"; fail "embed printed no embeddings"; }
echo "ok: docs/examples/embed.c builds as documented and runs from the install"
