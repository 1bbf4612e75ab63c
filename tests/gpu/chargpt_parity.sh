#!/usr/bin/env bash
# tests/gpu/chargpt_parity.sh [ACCEL [REFERENCE]] — chargpt, the text model, 40 steps from
# one seed on ACCEL (default cuda) and on REFERENCE (default cpu) in 32-true: the slots a
# text model adds (embedding gather and scatter, masks, strided copies, attention's
# batched products through gemm_batched) in a real fit. The logged training losses must
# agree within 0.5% at every logged step and fall. The text is this repository's docs (the
# GPU machine has no Debian text packages). Needs LTHOST and LT_PLUGIN_PATH, as
# tests/gpu/run.sh sets them; `cpu cpu` checks the script itself anywhere.
set -euo pipefail
cd "$(dirname "$0")/../.."
accel=${1:-cuda} ref=${2:-cpu}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cat docs/*.md >"$dir/text.txt"
vocab=$(od -An -v -tu1 "$dir/text.txt" | tr -s ' ' '\n' | sed '/^$/d' | sort -u | wc -l)
losses() { # losses NAME ACCEL: the run's train_loss_step values, one per line
    "$LTHOST" fit --module chargpt --model.vocab_size "$vocab" --model.block_size 64 \
        --model.n_layer 2 --model.n_head 4 --model.n_embd 64 --model.dropout 0.0 \
        --model.lr 3e-3 --data text --data.path "$dir/text.txt" --data.block_size 64 \
        --data.batch_size 32 --accelerator "$2" --max_steps 40 --limit_val_batches 0 \
        --num_sanity_val_steps 0 --test_after_fit false --log_every_n_steps 10 \
        --enable_progress_bar false --enable_checkpointing false --seed_everything 5 \
        --logger csv --default_root_dir "$dir/$1" >"$dir/$1.log" 2>&1 || {
        cat "$dir/$1.log"
        return 1
    }
    tr -d '\r' <"$dir/$1/lightning_logs/version_0/metrics.csv" | # csv's CRLF, as Lightning's
        awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "train_loss_step") c = i; next }
            c && $c != "" { print $c }'
}
a=$(losses a "$accel")
b=$(losses b "$ref")
echo "$accel: $(tr '\n' ' ' <<<"$a")"
echo "$ref: $(tr '\n' ' ' <<<"$b")"
paste <(echo "$a") <(echo "$b") | awk -v acc="$accel" -v ref="$ref" '
    { n++; d = $1 - $2; if (d < 0) d = -d; if (d > 0.005 * $2) bad = bad " step " n * 10 }
    NR == 1 { first = $1 } { last = $1 }
    END {
        if (n < 4) { print "FAIL: " n " logged losses, want 4"; exit 1 }
        if (bad != "") { print "FAIL: " acc " and " ref " differ by more than 0.5% at" bad; exit 1 }
        if (!(last < first)) { print "FAIL: the loss did not fall: " first " -> " last; exit 1 }
        printf "ok: chargpt on %s matches %s within 0.5%% at every logged step; loss %s -> %s\n",
            acc, ref, first, last }'
