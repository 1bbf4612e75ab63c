#!/usr/bin/env bash
# LightningCLI-style config: --config files, later flags override them, --print_config
# prints YAML that reads back to itself, --help lists a module's hparams, and bad keys or
# YAML give one clear error with the file and line.
. "$(dirname "$0")/lib.sh"
need_dataset
cat >"$TMP/cfg.yaml" <<'YAML'
seed_everything: 7
trainer:
  max_epochs: 2
  limit_train_batches: 3
  limit_val_batches: 2
  logger: false
  callbacks:
    - class_path: lightning.pytorch.callbacks.EarlyStopping
      init_args:
        monitor: val_loss
        patience: 5
model:
  class_path: mlp
  init_args:
    lr: 0.01
    hidden: 32
data:
  batch_size: 32
YAML
expect_success fit --config "$TMP/cfg.yaml" --trainer.max_epochs 1 --model.hidden 16 --print_config
cp "$TMP/out" "$TMP/printed.yaml"
for line in 'seed_everything: 7' '  max_epochs: 1' '  limit_train_batches: 3' '    hidden: 16' \
            '    lr: 0.01' '    batch_size: 32' '      patience: 5' '      monitor: val_loss'; do
    grep -qxF -- "$line" "$TMP/printed.yaml" || fail "--print_config lacks '$line':
$(cat "$TMP/printed.yaml")"
done
echo "ok: --print_config shows the file's values with later flags applied"
expect_success fit --config "$TMP/printed.yaml" --print_config
diff -u "$TMP/printed.yaml" "$TMP/out" || fail "the printed config does not read back to itself"
echo "ok: the printed config is re-usable with --config"
expect_success fit --config "$TMP/printed.yaml" --max_epochs 1
grep -q '^Seed set to 7$' "$TMP/out" || fail "seed_everything from the file not applied"
grep -q '^Epoch 1/1' "$TMP/out" || fail "training from the config did not run: $(cat "$TMP/out")"
grep -q '^mlp: 6 tensors, 16026 parameters' "$TMP/out" || fail "hidden 16 not applied: $(head -3 "$TMP/out")"
echo "ok: training from the printed config"

expect_success fit --module mlp --help
grep -q -- '--max_epochs' "$TMP/out" || fail "--help lists no trainer flags"
grep -qE -- '--model.lr +learning rate \(float, default 0.001\)' "$TMP/out" || fail "--help lacks mlp's hparams: $(cat "$TMP/out")"
grep -qE -- '--data.batch_size .*\(int, default 64\)' "$TMP/out" || fail "--help lacks the data plugin's hparams"
echo "ok: --help lists trainer flags and the plugins' hparams"

printf 'trainer:\n  max_epoch: 3\n' >"$TMP/bad1.yaml"
expect_error "bad1.yaml:2: unknown flag --max_epoch; did you mean --max_epochs\?" fit --config "$TMP/bad1.yaml" --module mlp
printf 'model:\n  class_path: mlp\n  init_args:\n    lrr: 0.1\n' >"$TMP/bad2.yaml"
expect_error "model.lrr: mlp has no hyper-parameter 'lrr'; did you mean 'lr'" fit --config "$TMP/bad2.yaml"
printf 'trainer:\n  max_epochs: [1\n' >"$TMP/bad3.yaml"
expect_error "bad3.yaml:[0-9]+:[0-9]+: " fit --config "$TMP/bad3.yaml" --module mlp
expect_error "missing.yaml" fit --config "$TMP/missing.yaml" --module mlp
expect_error "unknown flag --max_epoch; did you mean --max_epochs" fit --module mlp --max_epoch 3
expect_error "callbacks.patience comes before any --callbacks NAME" fit --module mlp --callbacks.patience 3
expect_error "EarlyStopping has no hyper-parameter 'patienc'; did you mean 'patience'" fit --module mlp \
    --callbacks EarlyStopping --callbacks.patienc 3
