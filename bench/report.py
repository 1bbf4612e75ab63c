#!/usr/bin/env python3
"""bench/run's measuring and reporting half (run through bench/run, which builds and
installs what this needs). Every contender runs as its own process under /usr/bin/time."""
import datetime
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LTHOST = os.path.join(ROOT, "build/host/lthost")
PY = os.path.join(ROOT, "bench/.venv/bin/python")
CONTENDERS = os.path.join(ROOT, "bench/contenders.py")
MODEL_FLOP = 6 * 512 * (784 * 4096 + 4096 * 4096 + 4096 * 10)  # per step: fwd 2 + bwd 4 per MAC


def timed(cmd):
    """(stdout+stderr, wall seconds, peak RSS MiB) of one process."""
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


def main():
    t = int(sys.argv[1])
    r = {}
    out, _, r["rss_lt_small"] = lthost(["--module", "bench/.build/mlp1.so", "--limit_val_batches", "0"], t)
    r["lt_small"] = samples_per_s(out)
    out, _, r["rss_torch_small"] = timed([PY, CONTENDERS, "small", "--impl", "torch", "--threads", str(t)])
    r["torch_small"] = float(re.search(r"samples_per_s=([\d.]+)", out).group(1))
    out, _, r["rss_pl_small"] = timed([PY, CONTENDERS, "small", "--impl", "lightning", "--threads", str(t)])
    r["pl_small"] = float(re.search(r"samples_per_s=([\d.]+)", out).group(1))

    out, _, _ = lthost(["--module", "mlp", "--model.hidden", "4096", "--model.hidden2", "4096",
                        "--data.batch_size", "512", "--limit_train_batches", "50",
                        "--limit_val_batches", "0"], t)
    r["lt_gflops"] = MODEL_FLOP * 50 / steps_seconds(out) / 1e9
    out, _, _ = timed([PY, CONTENDERS, "gemm", "--threads", str(t)])
    r["torch_gflops"] = MODEL_FLOP * 50 / float(re.search(r"seconds=([\d.]+)", out).group(1)) / 1e9
    out, _, _ = timed([os.path.join(ROOT, "bench/.build/sgemm_peak"), str(t)])
    r["peak_gflops"] = float(out.split()[0])

    _, r["lt_start"], r["rss_lt_start"] = lthost(["--module", "bench/.build/mlp1.so", "--fast_dev_run", "1"], t)
    _, r["pl_start"], r["rss_pl_start"] = timed([PY, CONTENDERS, "startup", "--threads", str(t)])
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
            f"torch {torch.__version__}, lightning {lightning.__version__}. Command: `bench/run {t}`.\n")
    text = head + "\n" + "\n".join(table) + "\n"
    print(text)
    with open(os.path.join(ROOT, "bench/RESULTS.md"), "a") as f:
        f.write("\n" + text)
    chart({"small MLP\nvs Lightning": ratio_pl, "small MLP\nvs PyTorch": ratio_torch,
           "start-up\nvs Lightning": start_ratio, "peak RSS\nvs Lightning": rss_ratio,
           "GEMM share\nvs PyTorch's": share_lt / share_torch}, t, cpu)


def chart(ratios, t, cpu):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(8, 4), dpi=80)
    bars = ax.bar(list(ratios), list(ratios.values()), color="#4c72b0")
    ax.axhline(1.0, color="grey", linewidth=0.8)
    ax.set_yscale("log")
    ax.set_ylabel("lthost advantage (x, log scale)")
    ax.set_title(f"lthost vs PyTorch Lightning / PyTorch — {cpu}, {t} threads", fontsize=9)
    for b, v in zip(bars, ratios.values()):
        ax.annotate(f"{v:.1f}x", (b.get_x() + b.get_width() / 2, v), ha="center", va="bottom", fontsize=8)
    fig.tight_layout()
    fig.savefig(os.path.join(ROOT, "bench/results.png"))


if __name__ == "__main__":
    main()
