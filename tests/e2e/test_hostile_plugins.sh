#!/usr/bin/env bash
# Issue #15, plugins: a descriptor's strings, tables and sizes are bounded and checked
# before use (one clear line, never a crash or a 1 MiB name), and `lthost plugins`
# probes each file in a child process, so a plugin that crashes, exits or returns a
# garbage pointer while loading is one "skipped" line and the listing goes on.
. "$(dirname "$0")/lib.sh"
H=$LT_TEST_PLUGIN_DIR/hostile

# -- descriptors: opening each is refused, naming the file and the field ------------
expect_error "name_unterminated.so: its lt_module_desc .name is longer than 64 bytes or not NUL-terminated" \
    fit --module "$H/name_unterminated.so"
expect_error "name_1mib.so: its lt_module_desc .name is longer than 64 bytes" fit --module "$H/name_1mib.so"
[ "$(wc -c <"$TMP/out")" -lt 2000 ] || fail "the 1 MiB name was printed: $(wc -c <"$TMP/out") bytes"
expect_error "name_unreadable.so: its lt_module_desc .name points to memory that cannot be read" \
    fit --module "$H/name_unreadable.so"
expect_error "name_control.so: its lt_module_desc .name contains a control character" \
    fit --module "$H/name_control.so"
grep -q $'\033' "$TMP/out" && fail "the name's escape sequence reached the terminal"
expect_error "self_size_huge.so: its lt_module_desc .self_size is [0-9]+ bytes, more than" \
    fit --module "$H/self_size_huge.so"
expect_error "hparams_too_many.so: its lt_module_desc .hparams has more than 256 entries.*LT_HPARAM_END" \
    fit --module "$H/hparams_too_many.so"
expect_error "hparam_help_unterminated.so: its lt_module_desc .hparams\[0\]\.help is longer than 1024 bytes" \
    fit --module "$H/hparam_help_unterminated.so"
expect_error "hparam_bad_type.so: its lt_module_desc .hparams\[0\]\.type is not LT_HP_INT" \
    fit --module "$H/hparam_bad_type.so"
expect_error "hparams_unreadable.so: its lt_module_desc .hparams points to memory that cannot be read" \
    fit --module "$H/hparams_unreadable.so"
expect_error "submodule_name_unterminated.so: its lt_module_desc .submodules\[0\]\.name is longer than 64" \
    fit --module "$H/submodule_name_unterminated.so"
expect_error "entry_garbage.so: lt_module_entry\(\) returned 0xdeadbeef, which is not readable memory" \
    fit --module "$H/entry_garbage.so"

# -- the listing: every hostile file is one skipped line with its reason -------------
LT_PLUGIN_PATH=$H run_lthost plugins
[ "$rc" -eq 0 ] || { cat "$TMP/out"; fail "lthost plugins exited $rc with hostile plugins on LT_PLUGIN_PATH"; }
skipped() {
    grep -q -E -- "skipped: $H/$1: $2" "$TMP/out" || { cat "$TMP/out"; fail "lthost plugins: no skipped line /$1: $2/"; }
}
skipped ctor_crash.so "loading it killed the process with signal 11 \\(Segmentation fault\\): its constructor or entry function crashed"
skipped ctor_exit.so "loading it ended the process with exit status [0-9]+ before its entry could be checked"
skipped entry_garbage.so "lt_module_entry\(\) returned 0xdeadbeef"
skipped name_unterminated.so "its lt_module_desc .name is longer than 64"
skipped name_1mib.so "its lt_module_desc .name is longer than 64"
skipped hparams_too_many.so "its lt_module_desc .hparams has more than 256"
n=$(ls "$H"/*.so | wc -l)
[ "$(grep -c " skipped: $H/" "$TMP/out")" -eq "$n" ] || { cat "$TMP/out"; fail "expected $n skipped hostile files"; }
grep -q -E "^[0-9]+ plugins found, $n skipped$" "$TMP/out" || { cat "$TMP/out"; fail "summary does not count $n skipped"; }
grep -q -E "module *mlp" "$TMP/out" || { cat "$TMP/out"; fail "the good plugins are no longer listed"; }
[ "$(wc -c <"$TMP/out")" -lt 20000 ] || fail "the listing printed $(wc -c <"$TMP/out") bytes"
echo "hostile plugins refused cleanly; lthost plugins lists the rest"
