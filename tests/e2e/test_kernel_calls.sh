#!/usr/bin/env bash
# Issue #17.5: every profiled kernel call in liblt goes through LT_KCALL or LT_PROF_SPAN
# (sdk/src/lt_impl.h), which open and close the span around it. A hand-written
# LT_PROF_BEGIN ... LT_PROF_END bracket is how a span gets left open on an early return
# or closed with another op's name, so the two halves appear in lt_impl.h only. The
# names, FLOPs and bytes of every span are checked in tests/unit/test_prof.c.
. "$(dirname "$0")/lib.sh"

src="$SRC_DIR/sdk/src"
[ -f "$src/lt_impl.h" ] || fail "no $src/lt_impl.h: SRC_DIR must be the source tree"
grep -q 'define LT_KCALL' "$src/lt_impl.h" || fail "lt_impl.h defines no LT_KCALL"
hits=$(grep -rnE --include='*.c' --include='*.h' 'LT_PROF_(BEGIN|END)\b' "$src" |
       grep -v "^$src/lt_impl.h:" || true)
[ -z "$hits" ] || fail "kernel calls bracketed by hand; use LT_KCALL or LT_PROF_SPAN:
$hits"
uses=$(grep -rhoE --include='*.c' '\bLT_(KCALL|PROF_SPAN)\(' "$src" | wc -l)
[ "$uses" -gt 0 ] || fail "no LT_KCALL or LT_PROF_SPAN in $src"
echo "ok: $uses profiled kernel calls, each through LT_KCALL or LT_PROF_SPAN"
