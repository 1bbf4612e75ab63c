#!/usr/bin/env bash
# run.sh HARNESS SECONDS [libFuzzer flags...]: fuzz one harness of the fuzz build for a
# bounded time over a copy of its checked-in corpus (new inputs never land in the source
# tree). Exit 0 when nothing was found; else 1, with the report and the reproducer kept
# under /tmp (README.md: a reproducer becomes a corpus file). FUZZ_BUILD_DIR: the build
# (default build-fuzz, made by tests/fuzz/build.sh).
set -uo pipefail
cd "$(dirname "$0")/../.."
name=${1:?usage: run.sh HARNESS SECONDS [libFuzzer flags...]}
seconds=${2:?usage: run.sh HARNESS SECONDS [libFuzzer flags...]}
shift 2
case $name in
    fuzz_safetensors)  corpora="safetensors ckpt" dict=json.dict ;;
    fuzz_ckpt_restore) corpora="ckpt" dict=json.dict ;;
    fuzz_idx)          corpora="idx" dict=idx.dict ;;
    fuzz_config)       corpora="config" dict=yaml.dict ;;
    *) echo "run.sh: no harness '$name' (fuzz_safetensors, fuzz_ckpt_restore, fuzz_idx, fuzz_config)" >&2
       exit 2 ;;
esac
build=$(realpath -m "${FUZZ_BUILD_DIR:-build-fuzz}")
harness=$build/tests/fuzz/$name
if [ ! -x "$harness" ]; then
    echo "run.sh: $harness is not built; run tests/fuzz/build.sh" >&2
    exit 2
fi
work=$(mktemp -d "/tmp/lt-$name.XXXXXX")
mkdir "$work/corpus"
for c in $corpora; do cp tests/fuzz/corpus/$c/* "$work/corpus/"; done
# This build's accelerator, whatever the caller's LT_PLUGIN_PATH names (scripts/test.sh
# points it at the gcc builds, whose ASan runtime cannot share a process with clang's).
export LT_PLUGIN_PATH=$build/plugins/accelerators/cpu
# A huge allocation is refused (NULL, as in lthost) rather than reported; one over the
# RSS limit still counts as a finding. Undefined behaviour is fatal (-fno-sanitize-recover).
# libFuzzer checks every input for leaks itself; LeakSanitizer's own check at exit is off:
# after a clean run it sometimes crashed ("Tracer caught signal 11") stopping the
# process's threads, which failed the run with an empty "crash" input.
export ASAN_OPTIONS=detect_leaks=1:leak_check_at_exit=0:allocator_may_return_null=1
export UBSAN_OPTIONS=print_stacktrace=1
rc=0
"$harness" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -dict="tests/fuzz/$dict" \
    -artifact_prefix="$work/" -print_final_stats=1 "$@" "$work/corpus" >"$work/log" 2>&1 || rc=$?
if [ $rc -ne 0 ]; then
    grep -v '^#[0-9]' "$work/log" | tail -60
    echo "$name: FOUND A PROBLEM (exit $rc); log and reproducer in $work:"
    ls "$work" | grep -E '^(crash|leak|timeout|oom|slow-unit)-' | sed "s|^|  $work/|"
    exit 1
fi
echo "$name: nothing found in ${seconds} s: $(grep -E 'stat::number_of_executed_units' "$work/log" | awk '{print $2}') runs, corpus $(ls "$work/corpus" | wc -l) files"
rm -rf "$work"
