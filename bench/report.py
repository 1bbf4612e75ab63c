#!/usr/bin/env python3
"""bench/run's measuring and reporting half (run through bench/run, which builds and
installs what this needs). Every contender runs as its own process under /usr/bin/time."""
import datetime
import os
import re
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LTHOST = os.path.join(ROOT, "build/host/lthost")
PY = os.path.join(ROOT, "bench/.venv/bin/python")
CONTENDERS = os.path.join(ROOT, "bench/contenders.py")
THREADS = int(sys.argv[1]) if len(sys.argv) > 1 else 1
MODEL_FLOP = 6 * 512 * (784 * 4096 + 4096 * 4096 + 4096 * 10)  # per step: fwd 2 + bwd 4 per MAC


QUIET_WAIT_S = 120  # at most this long, over the whole run, waiting for quiet cores
waited = {"s": 0.0, "contended": 0, "measured": 0}


def wait_for_quiet_cores(threads):
    """Before each measurement: until T threads run the small GEMMs >= 0.65 T times as fast as
    one (2 vCPUs here sometimes run 2 threads no faster than 1, for seconds to minutes, and
    then every multi-threaded contender is ~2x slower). Gives up once QUIET_WAIT_S is spent
    and counts the measurement as contended."""
    waited["measured"] += 1
    if threads == 1:
        return
    probe = [os.path.join(ROOT, "bench/.build/sgemm_peak"), str(threads), "probe"]
    while True:
        out = subprocess.run(probe, text=True, capture_output=True, check=True).stdout
        if float(out) >= 0.65 * threads:
            return
        if waited["s"] >= QUIET_WAIT_S:
            waited["contended"] += 1
            return
        time.sleep(2)
        waited["s"] += 2


def timed(cmd):
    """(stdout+stderr, wall seconds, peak RSS MiB) of one process, started on quiet cores."""
    wait_for_quiet_cores(THREADS)
    out = subprocess.run(["/usr/bin/time", "-f", "TIME %e %M"] + cmd, cwd=ROOT, text=True,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, check=True).stdout
    wall, rss = re.findall(r"TIME ([\d.]+) (\d+)", out)[-1]
    return out, float(wall), int(rss) / 1024


def lthost(args, threads):
    return timed([LTHOST, "fit", "--threads", str(threads), "--seed_everything", "0",
                  "--max_epochs", "1", "--test_after_fit", "false"] + args)


def samples_per_s(out):
    return float(re.search(r"([\d.]+) samples/s\]", out).group(1))


def steps_seconds(out):
    return float(re.search(r"\[(\d+) steps, ([\d.]+) s", out).group(2))


REPS = 5  # small-MLP epochs and start-ups are short and noisy: the best of REPS processes
GEMM_REPS = 2  # the GEMM-bound runs take ~20 s each


RUNS = []  # "name: v1 v2 v3" of every best_of, printed under the table


def best_of(contenders, reps=REPS):
    """contenders: name -> (measure, better); measure() -> (value, peak RSS MiB). Runs REPS
    rounds, each contender once per round (so all see the same machine), and keeps each one's
    best run (better: max or min). Best, not median: on this shared virtual machine a run is
    sometimes slowed 2x from outside (see RESULTS.md)."""
    runs = {name: [] for name in contenders}
    for _ in range(reps):
        for name, (measure, _) in contenders.items():
            runs[name].append(measure())
    for name in contenders:
        RUNS.append(f"{name}: " + " ".join(f"{v:.6g}" for v, _ in runs[name]))
        print("   ", RUNS[-1], flush=True)
    return [better(runs[name], key=lambda run: run[0]) for name, (_, better) in contenders.items()]


def sgemm_peak(threads):
    """The best sgemm GFLOP/s over the kernel families the CPU runs; the line is kept."""
    out, _, _ = timed([os.path.join(ROOT, "bench/.build/sgemm_peak"), str(threads)])
    RUNS.append(f"sgemm peak, {threads} threads: " + out.splitlines()[0])
    return float(out.split()[0])


WIDE_EPOCHS = 30  # the 784-500-10 row (#20): long enough for its test accuracy to settle
CNN_STEPS = 300  # the cnn row (#19): steps of 64, ~3 s for lthost
CHARGPT_STEPS = 30  # the chargpt row (#19): steps of 32 x 128 characters
REPS_LAYERS = 3  # rounds of the cnn and chargpt rows


def wide_mlp(threads):
    """784-500-10 at batch 500, Adam, WIDE_EPOCHS epochs, one process: training samples/s
    over all epochs (epoch times only) and the test accuracy after them."""
    out, _, _ = timed([LTHOST, "fit", "--threads", str(threads), "--seed_everything", "0",
                       "--module", "bench/.build/mlp1.so", "--model.hidden", "500",
                       "--data.batch_size", "500", "--max_epochs", str(WIDE_EPOCHS),
                       "--limit_val_batches", "0"])
    epochs = re.findall(r"^Epoch \d+/\d+ .*\[\d+ steps, ([\d.]+) s, ([\d.]+) samples/s\]", out, re.M)
    samples = sum(float(sec) * float(sps) for sec, sps in epochs)
    sps = samples / sum(float(sec) for sec, _ in epochs)
    acc = float(re.search(r"test_acc=([\d.]+)", out).group(1))
    RUNS.append(f"784-500-10: {sps:.6g} samples/s over {len(epochs)} epochs, test_acc {acc:.4f}")
    return sps, acc


def main():
    t = int(sys.argv[1])
    r = {}

    def lt_small():
        out, _, rss = lthost(["--module", "bench/.build/mlp1.so", "--limit_val_batches", "0"], t)
        return samples_per_s(out), rss

    def py_small(impl):
        out, _, rss = timed([PY, CONTENDERS, "small", "--impl", impl, "--threads", str(t)])
        return float(re.search(r"samples_per_s=([\d.]+)", out).group(1)), rss

    print(f"small MLP epoch, best of {REPS} ...", flush=True)
    (r["lt_small"], r["rss_lt_small"]), (r["torch_small"], r["rss_torch_small"]), \
        (r["pl_small"], r["rss_pl_small"]) = best_of({
            "lthost samples/s": (lt_small, max),
            "PyTorch samples/s": (lambda: py_small("torch"), max),
            "Lightning samples/s": (lambda: py_small("lightning"), max)})

    def lt_gemm():
        out, _, rss = lthost(["--module", "mlp", "--model.hidden", "4096", "--model.hidden2", "4096",
                              "--data.batch_size", "512", "--limit_train_batches", "50",
                              "--limit_val_batches", "0"], t)
        return MODEL_FLOP * 50 / steps_seconds(out) / 1e9, rss

    def torch_gemm():
        out, _, rss = timed([PY, CONTENDERS, "gemm", "--threads", str(t)])
        return MODEL_FLOP * 50 / float(re.search(r"seconds=([\d.]+)", out).group(1)) / 1e9, rss

    print(f"GEMM-bound MLP, 50 steps, best of {GEMM_REPS} ...", flush=True)
    (r["lt_gflops"], _), (r["torch_gflops"], _) = best_of({
        "lthost GFLOP/s": (lt_gemm, max), "PyTorch GFLOP/s": (torch_gemm, max)}, GEMM_REPS)
    r["peak_gflops"], r["peak_1"] = sgemm_peak(t), sgemm_peak(1)

    print(f"784-500-10 MLP, batch 500, {WIDE_EPOCHS} epochs, once ...", flush=True)
    r["wide_sps"], r["wide_acc"] = wide_mlp(t)

    print(f"cnn, {CNN_STEPS} steps, best of {REPS_LAYERS} ...", flush=True)

    def lt_cnn():
        out, _, rss = lthost(["--module", "cnn", "--limit_train_batches", str(CNN_STEPS),
                              "--limit_val_batches", "0", "--logger", "false",
                              "--enable_checkpointing", "false"], t)
        return samples_per_s(out), rss

    def py_cnn(impl):
        out, _, rss = timed([PY, CONTENDERS, "cnn", "--impl", impl, "--threads", str(t),
                             "--steps", str(CNN_STEPS)])
        return float(re.search(r"samples_per_s=([\d.]+)", out).group(1)), rss

    (r["lt_cnn"], _), (r["torch_cnn"], _), (r["pl_cnn"], _) = best_of({
        "lthost cnn samples/s": (lt_cnn, max),
        "PyTorch cnn samples/s": (lambda: py_cnn("torch"), max),
        "Lightning cnn samples/s": (lambda: py_cnn("lightning"), max)}, REPS_LAYERS)

    print(f"chargpt, {CHARGPT_STEPS} steps, best of {REPS_LAYERS} ...", flush=True)
    book = os.path.join(ROOT, "bench/.build/chargpt_book.txt")
    subprocess.run([PY, "-c", "import sys; sys.path.insert(0, 'bench'); import contenders; "
                    "contenders.chargpt_text(sys.argv[1])", book], cwd=ROOT, check=True)

    def lt_chargpt():
        out, _, rss = lthost(["--module", "chargpt", "--data", "text", "--data.path", book,
                              "--data.block_size", "128", "--data.batch_size", "32",
                              "--model.vocab_size", "97", "--limit_train_batches", str(CHARGPT_STEPS),
                              "--limit_val_batches", "0", "--logger", "false",
                              "--enable_checkpointing", "false"], t)
        return samples_per_s(out) * 128, rss

    def py_chargpt():
        out, _, rss = timed([PY, CONTENDERS, "chargpt", "--threads", str(t), "--steps",
                             str(CHARGPT_STEPS), "--text", book])
        return float(re.search(r"tokens_per_s=([\d.]+)", out).group(1)), rss

    (r["lt_gpt"], _), (r["torch_gpt"], _) = best_of({
        "lthost chargpt tokens/s": (lt_chargpt, max),
        "PyTorch chargpt tokens/s": (py_chargpt, max)}, REPS_LAYERS)

    print(f"start-up, best of {REPS} ...", flush=True)
    (r["lt_start"], r["rss_lt_start"]), (r["pl_start"], r["rss_pl_start"]) = best_of({
        "lthost start-up s": (lambda: lthost(["--module", "bench/.build/mlp1.so", "--fast_dev_run", "1"], t)[1:], min),
        "Lightning start-up s": (lambda: timed([PY, CONTENDERS, "startup", "--threads", str(t)])[1:], min)})
    report(r, t)


def report(r, t):
    cpu = subprocess.run(["lscpu"], text=True, capture_output=True).stdout
    cpu = re.search(r"Model name:\s*(.*)", cpu).group(1).strip()
    ratio_pl, ratio_torch = r["lt_small"] / r["pl_small"], r["lt_small"] / r["torch_small"]
    share_lt, share_torch = r["lt_gflops"] / r["peak_gflops"], r["torch_gflops"] / r["peak_gflops"]
    start_ratio, rss_ratio = r["pl_start"] / r["lt_start"], r["rss_pl_small"] / r["rss_lt_small"]
    met = lambda ok: "met" if ok else "**not met**"
    rows = [
        ("small MLP epoch, samples/s", f"{r['lt_small']:.0f}", f"{r['pl_small']:.0f}", f"{r['torch_small']:.0f}",
         f"{ratio_pl:.1f}x PL, {ratio_torch:.1f}x torch", f">= 10x PL, >= 3x torch: {met(ratio_pl >= 10 and ratio_torch >= 3)}"),
        ("GEMM-bound MLP, GFLOP/s (share of sgemm peak)", f"{r['lt_gflops']:.1f} ({share_lt:.0%})", "-",
         f"{r['torch_gflops']:.1f} ({share_torch:.0%})", f"peak {r['peak_gflops']:.1f}", f">= 80% of peak: {met(share_lt >= 0.8)}"),
        (f"784-500-10 MLP, batch 500, Adam, {WIDE_EPOCHS} epochs: samples/s (test acc)",
         f"{r['wide_sps']:.0f} ({r['wide_acc']:.2%})", "-", "-", "", "a row (#20)"),
        (f"cnn, {CNN_STEPS} steps of 64, samples/s", f"{r['lt_cnn']:.0f}", f"{r['pl_cnn']:.0f}", f"{r['torch_cnn']:.0f}",
         f"{r['lt_cnn'] / r['pl_cnn']:.1f}x PL, {r['lt_cnn'] / r['torch_cnn']:.1f}x torch",
         f">= 2x PL, >= 1x torch: {met(r['lt_cnn'] >= 2 * r['pl_cnn'] and r['lt_cnn'] >= r['torch_cnn'])}"),
        (f"chargpt, {CHARGPT_STEPS} steps of 32 x 128 characters, tokens/s", f"{r['lt_gpt']:.0f}", "-",
         f"{r['torch_gpt']:.0f}", f"{r['lt_gpt'] / r['torch_gpt']:.1f}x torch", "a row (#19)"),
        ("start-up, 1 batch, wall s", f"{r['lt_start']:.2f}", f"{r['pl_start']:.2f}", "-",
         f"{start_ratio:.0f}x faster", f">= 30x: {met(start_ratio >= 30)}"),
        ("peak RSS, small MLP epoch, MiB", f"{r['rss_lt_small']:.0f}", f"{r['rss_pl_small']:.0f}",
         f"{r['rss_torch_small']:.0f}", f"{rss_ratio:.1f}x less", f"<= 1/10 of PL: {met(rss_ratio >= 10)}"),
        ("peak RSS, start-up, MiB", f"{r['rss_lt_start']:.0f}", f"{r['rss_pl_start']:.0f}", "-",
         f"{r['rss_pl_start'] / r['rss_lt_start']:.1f}x less", ""),
    ]
    table = ["| benchmark | lthost | Lightning | PyTorch | ratio | target |",
             "| --- | ---: | ---: | ---: | --- | --- |"] + ["| " + " | ".join(x) + " |" for x in rows]
    import lightning
    import torch
    head = (f"## bench/run — {datetime.date.today()}, {cpu}, {os.cpu_count()} cores, {t} threads for every contender\n\n"
            f"torch {torch.__version__}, lightning {lightning.__version__}. Command: `bench/run {t}`. "
            f"Best of {REPS} processes each (GEMM-bound: {GEMM_REPS}), in interleaved rounds.\n"
            f"Best sgemm over OpenBLAS's kernel families on the GEMM-bound shapes: {r['peak_gflops']:.1f} GFLOP/s on {t} threads, "
            f"{r['peak_1']:.1f} on 1.\n")
    if t > 1:
        head += (f"Each measurement waited for quiet cores ({t} threads >= {0.65 * t:.1f}x one thread on "
                 f"small GEMMs): {waited['s']:.0f} s waited in all; {waited['contended']} of "
                 f"{waited['measured']} processes ran on contended cores anyway.\n")
    text = head + "\n" + "\n".join(table) + "\n\nEvery try: " + "; ".join(RUNS) + ".\n"
    print(text)
    with open(os.path.join(ROOT, "bench/RESULTS.md"), "a") as f:
        f.write("\n" + text)
    chart({"small MLP\nvs Lightning": (ratio_pl, 10), "small MLP\nvs PyTorch": (ratio_torch, 3),
           "cnn\nvs Lightning": (r["lt_cnn"] / r["pl_cnn"], 2), "cnn\nvs PyTorch": (r["lt_cnn"] / r["torch_cnn"], 1),
           "start-up\nvs Lightning": (start_ratio, 30), "peak RSS\nvs Lightning": (rss_ratio, 10),
           "GEMM share of peak\nvs PyTorch's": (share_lt / share_torch, None)}, t, cpu)


def chart(ratios, t, cpu):
    """ratios: label -> (lthost's advantage, target or None); a red dash marks each target."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(8, 4), dpi=80)
    values = [v for v, _ in ratios.values()]
    bars = ax.bar(list(ratios), values, color="#4c72b0")
    ax.axhline(1.0, color="grey", linewidth=0.8)
    ax.set_yscale("log")
    ax.set_ylabel("lthost advantage (x, log scale)")
    ax.set_title(f"lthost vs PyTorch Lightning / PyTorch — {cpu}, {t} threads", fontsize=9)
    for b, (v, target) in zip(bars, ratios.values()):
        x = b.get_x() + b.get_width() / 2
        ax.annotate(f"{v:.1f}x", (x, v), ha="center", va="bottom", fontsize=8)
        if target:
            ax.hlines(target, b.get_x() - 0.05, b.get_x() + b.get_width() + 0.05, color="#c44e52",
                      linewidth=2, label="target" if not ax.get_legend_handles_labels()[0] else None)
    ax.legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    fig.savefig(os.path.join(ROOT, "bench/results.png"))


if __name__ == "__main__":
    main()
