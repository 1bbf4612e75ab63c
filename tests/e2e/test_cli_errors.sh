#!/usr/bin/env bash
# Bad flags and bad values: one clear line, a non-zero exit, never a crash.
. "$(dirname "$0")/lib.sh"

expect_error "needs --module" fit
expect_error "max_epochs expects an integer >= -1 or null, got '-2'" fit --module mlp --max_epochs -2
expect_error "max_epochs expects an integer" fit --module mlp --max_epochs five
expect_error "unknown flag --max_epoch; did you mean --max_epochs" fit --module mlp --max_epoch 3
expect_error "no hyper-parameter 'lrr'; did you mean 'lr'" fit --module mlp --model.lrr 0.1
expect_error "no hyper-parameter 'foo'" fit --module mlp --model.foo 1
expect_error "'lr' expects a finite number, got 'abc'" fit --module mlp --model.lr abc
expect_error "'hidden' expects an integer, got '1.5'" fit --module mlp --model.hidden 1.5
expect_error "'optimizer' expects one of sgd\|adam\|adamw\|rmsprop.*, got 'adamx'" fit --module mlp --model.optimizer adamx
expect_error "batch_size" fit --module mlp --data.batch_sise 3
expect_error "mlp.setup failed: mlp: parameter 'l1.weight'" fit --module mlp --model.hidden 0
expect_error "limit_train_batches expects a batch count" fit --module mlp --limit_train_batches 1.5
expect_error "fast_dev_run expects true, false or a number of batches" fit --module mlp --fast_dev_run maybe
expect_error "needs a value" fit --module mlp --max_epochs
expect_error "unexpected argument 'extra'" fit --module mlp extra
expect_error "unknown command 'train'" train --module mlp
# Lightning 1.x arguments (the seed's Trainer(gpus=[0, 1], ...)) and device lists
expect_error "gpus is a Lightning 1.x argument that Lightning 2.0 removed; use --accelerator gpu --devices N" \
    fit --module mlp --gpus "[0, 1]"
expect_error "resume_from_checkpoint is a Lightning 1.x argument .*; use --ckpt_path" \
    fit --module mlp --resume_from_checkpoint x.ckpt
expect_error "devices \[list\]: a list picks GPUs by index, but the cpu accelerator runs processes" \
    fit --module mlp --accelerator cpu --devices "[1,3,5]"
expect_error "devices \[1,3,1\] names GPU 1 twice: two ranks cannot share one GPU" \
    fit --module mlp --accelerator gpu --devices "[1,3,1]"
expect_error "devices \[1,x\]: a list of GPU indices looks like 1,3 or \[1,3\]" fit --module mlp --devices "[1,x]"
expect_error "cuda" fit --module mlp --accelerator gpu --devices 1 # gpu is Lightning's name for cuda
expect_error "strategy 'single' runs one process" fit --module mlp --strategy single --devices 2

run_lthost --version
[ "$rc" -eq 0 ] && grep -q "plugin ABI 1.1" "$TMP/out" || fail "--version: $(cat "$TMP/out")"
run_lthost fit --help
[ "$rc" -eq 0 ] && grep -q -- "--max_epochs" "$TMP/out" || fail "fit --help: $(cat "$TMP/out")"
echo "all CLI errors reported cleanly"
