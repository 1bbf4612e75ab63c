#!/usr/bin/env bash
# liblt.so.1 keeps the 1.x ABI recorded in sdk/abi/liblt.so.1.abi (scripts/abi_check.sh,
# libabigail's abidiff over the public headers), and the check fails on an incompatible
# change: a library that lost a function.
. "$(dirname "$0")/lib.sh"
[ -n "${LT_E2E_SANITIZED:-}" ] || skip "the ABI is compared on the ASan build, the one with debug info (types)"
command -v abidiff >/dev/null || skip "abidiff is not installed (apt-get install abigail-tools)"
check=$SRC_DIR/scripts/abi_check.sh
base=$SRC_DIR/sdk/abi/liblt.so.1.abi
bash "$check" "$BUILD_DIR/sdk/liblt.so.1" >"$TMP/out" 2>&1 || { cat "$TMP/out"; fail "liblt.so.1 breaks its recorded ABI"; }
cat "$TMP/out"
# The same library without lt_version, as an abidw file: a removed function.
python3 - "$base" "$TMP/lost.abi" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
text = re.sub(r"\s*<elf-symbol name='lt_version'[^>]*/>", "", text)
text = re.sub(r"\s*<function-decl name='lt_version'.*?</function-decl>", "", text, flags=re.S)
open(sys.argv[2], "w").write(text)
PY
rc=0
bash "$check" "$TMP/lost.abi" "$base" >"$TMP/out" 2>&1 || rc=$?
[ $rc -eq 1 ] && grep -q "breaks the liblt.so.1 ABI" "$TMP/out" && grep -q "lt_version" "$TMP/out" ||
    { cat "$TMP/out"; fail "a removed function was not caught (exit $rc)"; }
echo "ok: a library without lt_version is refused: $(grep -m1 -i 'removed' "$TMP/out")"
