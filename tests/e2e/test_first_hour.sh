#!/usr/bin/env bash
# What a new user types first: the design card's command line (no subcommand, --accel,
# --accelerator auto), plugin errors before any process starts, help that shows the flags
# to copy, Lightning's --print_config forms, one exit code for every bad command line,
# and no log folder from a run that failed to start.
. "$(dirname "$0")/lib.sh"
need_dataset
quick=(--limit_train_batches 2 --limit_val_batches 1 --max_epochs 1 --test_after_fit false
       --enable_progress_bar false --enable_model_summary false)

# No subcommand is fit; --accelerator auto (the default) says what it chose.
expect_success --module mlp "${quick[@]}"
grep -q '`Trainer.fit` stopped' "$TMP/out" || { cat "$TMP/out"; fail "lthost --module ... did not fit"; }
grep -q 'cpu accelerator (auto)' "$TMP/out" || { cat "$TMP/out"; fail "auto did not say it chose cpu"; }
expect_success --module mlp "${quick[@]}" --accel cpu --logger false
grep -q 'cpu accelerator, single' "$TMP/out" || { cat "$TMP/out"; fail "--accel cpu"; }
"$LTHOST" --help | grep -q "With no command, lthost runs fit" || fail "--help does not say fit is the default"
echo "ok: no subcommand fits; --accelerator auto picks cpu here and says so"

# Every plugin is found before mpirun starts: one line, exit 1, nothing launched.
expect_error "no accelerator plugin named 'tpu'" --module mlp --accel tpu --devices 2
[ "$rc" -eq 1 ] || fail "a missing plugin under --devices 2 exited $rc"
! grep -q -i "launching\|mpirun\|primary job" "$TMP/out" || { cat "$TMP/out"; fail "mpirun was started"; }
expect_error "no module plugin named 'nope'" fit --module nope --devices 2
expect_error "--callbacks EarlyStoping: .*did you mean EarlyStopping\?" fit --module mlp --devices 2 --callbacks EarlyStoping
expect_error "--callbacks EarlyStoping: .*did you mean EarlyStopping\?" fit --module mlp --callbacks EarlyStoping

# --logger tensorboard alone.
expect_success fit --module mlp "${quick[@]}" --logger tensorboard --default_root_dir "$TMP/tb"
ls "$TMP"/tb/lightning_logs/version_0/events.out.tfevents.* >/dev/null || fail "--logger tensorboard wrote no events"
[ ! -e "$TMP/tb/lightning_logs/version_0/metrics.csv" ] || fail "--logger tensorboard also wrote metrics.csv"
echo "ok: --logger tensorboard alone"

# LightningCLI's --print_config forms.
expect_success fit --module mlp --print_config=skip_null
! grep -q ': null$' "$TMP/out" || fail "skip_null printed nulls"
grep -q '^  max_epochs: 1000$' "$TMP/out" || fail "skip_null dropped set values"
expect_success fit --module mlp --print_config=skip_default,skip_null --max_epochs 3 --model.hidden 32
grep -q '^  max_epochs: 3$' "$TMP/out" && grep -q '^    hidden: 32$' "$TMP/out" || { cat "$TMP/out"; fail "skip_default lost a set value"; }
! grep -q 'limit_val_batches\|hidden2' "$TMP/out" || { cat "$TMP/out"; fail "skip_default printed defaults"; }
expect_error "--print_config=comments: unknown option 'comments'; lthost accepts .*skip_null" fit --module mlp --print_config=comments
echo "ok: --print_config=skip_null,skip_default"

# Help shows the flags as they are typed; a bare hyper-parameter name points to them.
"$LTHOST" fit --module mlp --help >"$TMP/help"
grep -q -- '--model.hidden  ' "$TMP/help" && grep -q -- '--data.batch_size' "$TMP/help" || fail "help: $(cat "$TMP/help")"
expect_error "unknown flag --hidden; did you mean --model.hidden\? \(a hyper-parameter of mlp\)" fit --hidden 64 --module mlp
expect_error "unknown flag --batch_size; did you mean --data.batch_size\?" fit --module mlp --batch_size 64

# One exit code for a bad command line: 2, whatever kind of flag.
bad_line() {
    expect_error "$@"
    [ "$rc" -eq 2 ] || fail "lthost ${*:2} exited $rc, expected 2 (bad command line)"
}
bad_line "unknown flag --max_epoch" fit --module mlp --max_epoch 1
bad_line "--max_epochs expects" fit --module mlp --max_epochs abc
bad_line "needs --module" fit --max_epochs 1
bad_line "--model.lrr: mlp has no hyper-parameter 'lrr'" fit --module mlp --model.lrr 0.1
bad_line "--data.batchsize: .*did you mean 'batch_size'" fit --module mlp --data.batchsize 32
bad_line "--model.hidden: .*expects an integer" fit --module mlp --model.hidden abc
bad_line "--callbacks.patiense: .*did you mean 'patience'" fit --module mlp --callbacks EarlyStopping --callbacks.patiense 2
bad_line "unknown command" fitt --module mlp
echo "ok: every bad command line exits 2"

# A run that fails at start-up leaves no version folder; the next good run is version_0.
root=$TMP/startup
expect_error "profiler" fit --module mlp "${quick[@]}" --default_root_dir "$root" --profiler "$TMP/no-such-profiler.so"
expect_error "fashion_mnist" fit --module mlp "${quick[@]}" --default_root_dir "$root" --data.root "$TMP/no-data"
[ ! -e "$root/lightning_logs/version_0" ] || fail "a failed start-up created $(ls "$root/lightning_logs")"
expect_success fit --module mlp "${quick[@]}" --default_root_dir "$root"
[ "$(ls "$root/lightning_logs")" = version_0 ] || fail "the first good run got $(ls "$root/lightning_logs")"
grep -q "Logging to $root/lightning_logs/version_0" "$TMP/out" || { cat "$TMP/out"; fail "no Logging to line"; }
echo "ok: failed start-ups leave no version folder"

# --module mymodel.so: a file in the current folder, no ./ needed; a missing one is named
# as given, never as mymodel.so.so.
cp "$LT_TEST_MLP_PLUGIN" "$TMP/mymodel.so"
expect_success --module mymodel.so "${quick[@]}" --logger false
expect_error "\./other\.so: No such file" --module other.so "${quick[@]}"
! grep -q "\.so\.so" "$TMP/out" || fail "the hint doubled the suffix"
"$LTHOST" plugins >"$TMP/list"
grep -q "callback *EarlyStopping *--callbacks EarlyStopping" "$TMP/list" || fail "lthost plugins: $(cat "$TMP/list")"
echo "ok: --module FILE.so in the current folder; lthost plugins lists the built-in callbacks"
