#!/usr/bin/env bash
# LightningCLI's SaveConfigCallback (issue #23): each run writes its resolved configuration
# as config.yaml in the log folder, with the seed it drew; --config on that file prints the
# same file back (--print_config) and trains the same run again; an existing config.yaml is
# not replaced unless --save_config_overwrite true; --save_config false writes none.
. "$(dirname "$0")/lib.sh"
need_dataset
probe=$BUILD_DIR/tests/e2e/recorder/probe.so
common=(--module "$probe" --data.batch_size 4 --limit_train_batches 3 --limit_val_batches 2
        --max_epochs 2 --num_sanity_val_steps 0 --test_after_fit false --threads 1
        --default_root_dir "$TMP/root" --enable_progress_bar false)
expect_success fit "${common[@]}" --model.lr 0.05 --logger csv --logger.name exp
v0=$TMP/root/exp/version_0
[ -f "$v0/config.yaml" ] || fail "no $v0/config.yaml"
grep -q '^seed_everything: [0-9][0-9]*$' "$v0/config.yaml" || fail "config.yaml has no drawn seed: $(head -3 "$v0/config.yaml")"
grep -q 'lr: 0.05' "$v0/config.yaml" || fail "config.yaml lacks --model.lr"
grep -q 'logger.name: exp' "$v0/config.yaml" || fail "config.yaml lacks --logger.name"
echo "ok: config.yaml with the seed, the module's hparams and the logger options"

# Round trip: the file reads back to itself, and to the same run.
run_lthost fit --config "$v0/config.yaml" --print_config
[ "$rc" = 0 ] || fail "--config config.yaml --print_config exited $rc: $(cat "$TMP/out")"
grep -v '^lthost: ' "$TMP/out" >"$TMP/printed.yaml"
diff -u "$v0/config.yaml" "$TMP/printed.yaml" || fail "config.yaml does not read back to itself"
expect_success fit --config "$v0/config.yaml"
v1=$TMP/root/exp/version_1
diff -u "$v0/config.yaml" "$v1/config.yaml" || fail "the re-run saved another configuration"
diff -u "$v0/metrics.csv" "$v1/metrics.csv" || fail "the re-run from config.yaml logged other values"
echo "ok: --config config.yaml prints the same file and trains the same run (same metrics.csv)"

# A folder that already holds a config.yaml: refused, then overwritten on request.
expect_error "config.yaml already exists; refusing to overwrite" fit "${common[@]}" --logger csv \
    --logger.name exp --logger.version 0
cmp -s "$v0/metrics.csv" "$v1/metrics.csv" || fail "the refused run touched $v0/metrics.csv"
expect_success fit "${common[@]}" --logger csv --logger.name exp --logger.version 0 \
    --save_config_overwrite true
expect_success fit "${common[@]}" --logger csv --logger.name exp --save_config false
[ ! -e "$TMP/root/exp/version_2/config.yaml" ] || fail "--save_config false wrote config.yaml"
echo "ok: no overwrite unless asked; --save_config false"
