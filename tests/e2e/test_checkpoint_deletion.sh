#!/usr/bin/env bash
# A resumed run removes only its own checkpoint files. A crafted checkpoint whose
# ModelCheckpoint books name a path that climbs out of the folder, an absolute path
# elsewhere, or a symlink in the folder pointing outside deletes nothing, and the run
# says which entry it ignored and why. Temp files of a save killed by SIGKILL are
# cleaned up at the next run; nothing else in the folder is touched.
. "$(dirname "$0")/lib.sh"
need_dataset
edit=$SRC_DIR/tests/e2e/ckpt_edit.py
common=(--module mlp --limit_train_batches 5 --limit_val_batches 2 --seed_everything 1
        --test_after_fit false --enable_progress_bar false --enable_model_summary false)
root=$(realpath "$TMP")
mkdir -p "$root/victim"
victim() { echo "precious $1" >"$root/victim/$1"; }
survives() { [ "$(cat "$root/victim/$1" 2>/dev/null)" = "precious $1" ] || fail "$2 deleted victim/$1"; }
warned() {
    grep -q -E -- "warning: ModelCheckpoint: ignoring $1" "$TMP/out" || { cat "$TMP/out"; fail "no warning for $1"; }
    echo "ok: $(grep -m1 -E -- "ignoring $1" "$TMP/out" | cut -c1-200)"
}

# 1. Traversal: the books name <next run's folder>/../../../victim/a, as the next run's own.
expect_success fit "${common[@]}" --max_epochs 1
next=$root/lightning_logs/version_1/checkpoints
victim a
python3 "$edit" "$root"/lightning_logs/version_0/checkpoints/*.ckpt "$TMP/traversal.ckpt" "
for key, book in meta['callbacks'].items():
    if key.startswith('ModelCheckpoint'):
        bad = '$next/../../../victim/a'
        book.update(dirpath='$next', best_model_path=bad, kth_best_model_path=bad,
                    last_model_path=bad, best_k_models={bad: 0.5})"
expect_success fit "${common[@]}" --max_epochs 2 --ckpt_path "$TMP/traversal.ckpt"
survives a "a book naming $next/../../../victim/a"
warned "best_model_path '$next/\.\./\.\./\.\./victim/a' in .*traversal.ckpt: it is not a file in this run's checkpoint folder"
warned "best_k_models entry '$next/\.\./"
[ -f "$next/epoch=1-step=10.ckpt" ] || fail "the resumed run saved no checkpoint"

# 2. The same, from a book of another folder (only best_model_path is restored then).
victim b
python3 "$edit" "$TMP/traversal.ckpt" "$TMP/other.ckpt" "
for book in meta['callbacks'].values():
    book.update(dirpath='/nowhere', best_model_path='$root/lightning_logs/version_2/checkpoints/../../../victim/b')"
expect_success fit "${common[@]}" --max_epochs 2 --ckpt_path "$TMP/other.ckpt"
survives b "a book from another folder naming victim/b"
warned "best_model_path '.*victim/b' in .*other.ckpt: it is not a file of the checkpoint's folder /nowhere"

# 3. A monitored top-k book whose worst entry is an absolute path elsewhere and another
#    entry a path that climbs out: the new best would replace them.
dir=$root/topk
mc=(--callbacks ModelCheckpoint --callbacks.dirpath "$dir" --callbacks.monitor val_loss --logger false)
expect_success fit "${common[@]}" "${mc[@]}" --max_epochs 1
victim c
victim d
python3 "$edit" "$dir"/epoch=0-step=5.ckpt "$TMP/topk.ckpt" "
for book in meta['callbacks'].values():
    book.update(kth_best_model_path='$root/victim/c', kth_value=1e9,
                best_k_models={'$root/victim/c': 1e9, '$dir/../victim/d': 1e8})"
expect_success fit "${common[@]}" "${mc[@]}" --max_epochs 2 --ckpt_path "$TMP/topk.ckpt"
survives c "a best_k_models key naming an absolute path"
survives d "a best_k_models key naming $dir/../victim/d"
warned "best_k_models entry '$root/victim/c'"
warned "best_k_models entry '$dir/\.\./victim/d'"
[ -f "$dir/epoch=0-step=5.ckpt" ] && [ -f "$dir/epoch=1-step=10.ckpt" ] || fail "top-k files: $(ls "$dir")"

# 4. A symlink in the folder, where the books expect a checkpoint, pointing outside.
dir=$root/linked
mc=(--callbacks ModelCheckpoint --callbacks.dirpath "$dir" --logger false)
expect_success fit "${common[@]}" "${mc[@]}" --max_epochs 1
cp "$dir/epoch=0-step=5.ckpt" "$TMP/linked.ckpt"
victim e
ln -sf "$root/victim/e" "$dir/epoch=0-step=5.ckpt"
expect_success fit "${common[@]}" "${mc[@]}" --max_epochs 2 --ckpt_path "$TMP/linked.ckpt"
survives e "a symlink in the checkpoint folder"
[ -L "$dir/epoch=0-step=5.ckpt" ] || fail "the symlink itself was removed"
warned "best_model_path '$dir/epoch=0-step=5.ckpt' .*: it is a symbolic link, not a checkpoint file"

# 5. Without a crafted file nothing changes: the resumed run's old best is removed.
dir=$root/plain
mc=(--callbacks ModelCheckpoint --callbacks.dirpath "$dir" --logger false)
expect_success fit "${common[@]}" "${mc[@]}" --max_epochs 1
cp "$dir/epoch=0-step=5.ckpt" "$TMP/plain.ckpt"
expect_success fit "${common[@]}" "${mc[@]}" --max_epochs 2 --ckpt_path "$TMP/plain.ckpt"
[ "$(ls "$dir")" = "epoch=1-step=10.ckpt" ] || fail "plain resume left: $(ls "$dir")"
! grep -q warning "$TMP/out" || { cat "$TMP/out"; fail "a plain resume warned"; }
echo "ok: crafted books deleted nothing; a plain resume keeps only the new best"

# 6. Temp files of killed saves: a dead process's old one is removed; a live process's,
#    a fresh one, a symlink and other hidden files are kept.
sh -c 'exit 0' & dead=$!
wait $dead
t=$dir/.epoch=0-step=5.ckpt.tmp
printf x >"$t.$dead"; touch -d '-2 min' "$t.$dead"
printf x >"$t.$$"; touch -d '-2 min' "$t.$$"
printf x >"$dir/.last.ckpt.tmp.$dead"
ln -s "$root/victim/e" "$dir/.x.ckpt.tmp.$dead"
printf x >"$dir/.notes.tmp.$dead"; touch -d '-2 min' "$dir/.notes.tmp.$dead"
expect_success fit "${common[@]}" "${mc[@]}" --max_epochs 3 --ckpt_path "$dir/epoch=1-step=10.ckpt"
[ ! -e "$t.$dead" ] || fail "a dead process's temp file was kept"
for f in "$t.$$" "$dir/.last.ckpt.tmp.$dead" "$dir/.notes.tmp.$dead"; do [ -f "$f" ] || fail "removed $f"; done
[ -L "$dir/.x.ckpt.tmp.$dead" ] || fail "removed a symlink named like a temp file"
survives e "the temp-file clean-up"
grep -q "removed $t.$dead, a partial checkpoint left by process $dead" "$TMP/out" || { cat "$TMP/out"; fail "clean-up not reported"; }
echo "ok: a killed save's temp file removed and reported; nothing else touched"

# A path with a newline in the books stays on one warning line.
python3 "$edit" "$TMP/traversal.ckpt" "$TMP/newline.ckpt" "
for key, book in meta['callbacks'].items():
    book['dirpath'] = '$root/nl/lightning_logs/version_0/checkpoints'
    book['best_k_models'] = {'$root/x\nlthost: error: forged': 0.5}"
expect_success fit "${common[@]}" --max_epochs 2 --ckpt_path "$TMP/newline.ckpt" --default_root_dir "$TMP/nl"
! grep -q "^lthost: error: forged" "$TMP/out" || { cat "$TMP/out"; fail "a path from the file broke the warning into lines"; }
grep -q "ignoring best_k_models entry '.*x\\\\nlthost: error: forged'" "$TMP/out" || { cat "$TMP/out"; fail "no escaped warning"; }
echo "ok: a path from the file is quoted on one line"
