#!/usr/bin/env bash
# A steady-state training step allocates nothing: 150 steps make exactly as many
# heap allocations as 50 (arena, caching allocator and loader buffers are reused). The
# loggers are off: their rows (every log_every_n_steps, and the text of each value) are
# buffered on the heap, which is logging's cost, not a step's.
. "$(dirname "$0")/lib.sh"
need_dataset
shim=$BUILD_DIR/tests/malloc_count.so
[ -f "$shim" ] || skip "no allocation counter in a sanitizer build"

count() { # count STEPS THREADS
    LD_PRELOAD=$shim "$LTHOST" fit --module mlp --max_epochs 1 --limit_train_batches "$1" --threads "$2" \
        --limit_val_batches 0 --test_after_fit false --seed_everything 1 --logger false 2>&1 |
        sed -n 's/^malloc_count: //p'
}
for threads in 1 2; do
    a=$(count 50 "$threads")
    b=$(count 150 "$threads")
    [ -n "$a" ] && [ -n "$b" ] || fail "the counter printed nothing"
    echo "threads $threads: $a allocations for 50 steps, $b for 150"
    [ "$a" -eq "$b" ] || fail "100 more training steps made $((b - a)) more heap allocations"
done
