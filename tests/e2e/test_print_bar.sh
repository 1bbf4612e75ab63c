#!/usr/bin/env bash
# lt_print on a terminal goes through the progress bar, as Lightning's LightningModule.print
# through TQDMProgressBar.print: the bar line is wiped (CR, blanks, CR), the text gets its
# own line, and the bar is drawn again below it. `script` gives lthost a pseudo-terminal.
. "$(dirname "$0")/lib.sh"
command -v script >/dev/null || skip "script (util-linux) is not installed"
d=$LT_TEST_PLUGIN_DIR
cmd="$LTHOST fit --module $d/log_reduce.so --data $d/log_reduce_data.so --max_epochs 1"
cmd+=" --enable_checkpointing false --enable_model_summary false --logger false"
cmd+=" --test_after_fit false --default_root_dir $TMP"
script -qec "$cmd" /dev/null >"$TMP/tty.out" 2>&1 || fail "fit on a terminal failed: $(cat "$TMP/tty.out")"
python3 - "$TMP/tty.out" <<'PY' || fail "lt_print garbled the bar: $(cat -A "$TMP/tty.out" | head -20)"
import re, sys
out = open(sys.argv[1], "rb").read().decode()
# the bar (from 0%), wiped, the message on its own line, the bar redrawn
m = re.search(r"\rEpoch 0:[^\r\n]*\r( +)\rlog_reduce: printed once\r\n\rEpoch 0:", out)
sys.exit(0 if m and out.count("log_reduce: printed once") == 1 else 1)
PY
echo "ok: lt_print wipes the bar, prints its own line and redraws the bar"
