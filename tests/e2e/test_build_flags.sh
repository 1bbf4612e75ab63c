#!/usr/bin/env bash
# A sanitizer build with meson's defaults builds (issue #15): `meson setup B
# -Db_sanitize=address,undefined -Db_lundef=false` is buildtype debug (-O0 -g), where GCC 12
# saw a NULL snprintf destination in hparams.c and -Werror stopped the build. scripts/test.sh
# builds debugoptimized with sanitizers and the default release-like build itself; this is
# the configuration a user gets without -Dbuildtype. Runs once, in the plain build's pass.
. "$(dirname "$0")/lib.sh"
[ -z "${LT_E2E_SANITIZED:-}" ] || skip "built once, in the plain build's pass"
command -v meson >/dev/null && command -v ninja >/dev/null || skip "meson or ninja is not installed"
meson setup "$TMP/b" "$SRC_DIR" -Db_sanitize=address,undefined -Db_lundef=false -Dtests=false \
    >"$TMP/setup.log" 2>&1 || { cat "$TMP/setup.log"; fail "meson setup with sanitizers failed"; }
ninja -C "$TMP/b" >"$TMP/build.log" 2>&1 || {
    grep -E "error|warning" "$TMP/build.log" | head -20
    fail "the sanitizer build with meson's default buildtype failed"
}
echo "test_build_flags: debug + address,undefined builds"
