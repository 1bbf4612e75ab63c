#!/usr/bin/env bash
# Install into a temporary root, build docs/examples/tiny.c against the installed SDK
# with pkg-config, and train it for a few batches with the installed lthost.
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
