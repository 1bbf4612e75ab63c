"""Check that lthost checkpoints and weights interoperate with PyTorch.

1. `lthost fit` trains the demo MLP (plugins/models/mlp) for 30 steps and saves a checkpoint.
2. The checkpoint opens with safetensors; its metadata is JSON (format_version "1.0") and
   its `state_dict.*` tensors load strictly into an equivalent torch module.
3. Its Adam state (`optimizer_states.*`) loads into torch.optim.Adam, which can then step.
4. `lthost predict --ckpt_path` gives the same logits as torch on the first 64 test images.
5. A torch-trained state dict saved with safetensors.torch.save_file, given to
   `lthost predict --init_weights`, gives the same logits as torch.

Run by hand (not in CI), with the venv from setup_venv.sh and a built lthost:

    tests/reference/.venv/bin/python tests/reference/check_checkpoint.py

LT_BUILD_DIR (default /work/main/build) or LTHOST (default $LT_BUILD_DIR/host/lthost) say
where lthost is. Fashion-MNIST comes from Debian's dataset-fashion-mnist package.
Exits 0 when every check passes, 1 otherwise.
"""
import glob
import gzip
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import torch
import torch.nn.functional as F
from safetensors import safe_open
from safetensors.torch import save_file
from torch import nn

BUILD = os.environ.get("LT_BUILD_DIR", "/work/main/build")
LTHOST = os.environ.get("LTHOST", os.path.join(BUILD, "host/lthost"))
MLP_SO = os.path.join(BUILD, "plugins/models/mlp/mlp.so")
DATA = "/usr/share/datasets/fashion-mnist"
TOL = 1e-5
N = 64

results = []


def check(name, ok, detail=""):
    results.append(bool(ok))
    print(f"{'PASS' if ok else 'FAIL'}  {name}" + (f": {detail}" if detail else ""))


def lthost(tmp, *args):
    cmd = [LTHOST, *args, "--enable_progress_bar", "false", "--default_root_dir", tmp]
    env = dict(os.environ)
    env.setdefault("LT_PLUGIN_PATH", os.path.join(BUILD, "plugins/accelerators/cpu"))
    try:
        r = subprocess.run(cmd, cwd=tmp, env=env, capture_output=True, text=True)
    except OSError as e:
        sys.exit(f"FAIL  cannot run {LTHOST} ({e}); set LTHOST or LT_BUILD_DIR")
    if r.returncode != 0:
        sys.exit(f"FAIL  lthost exited with {r.returncode}\n  command: {shlex.join(cmd)}\n"
                 f"  stderr:\n{r.stderr}")


class MLP(nn.Module):
    def __init__(self, hidden, hidden2):
        super().__init__()
        self.l1 = nn.Linear(784, hidden)
        self.l2 = nn.Linear(hidden, hidden2)
        self.l3 = nn.Linear(hidden2, 10)

    def forward(self, x):
        x = x.flatten(1)
        return self.l3(F.relu(self.l2(F.relu(self.l1(x)))))


def read_idx(name, header, count, size):
    with gzip.open(os.path.join(DATA, name), "rb") as f:
        raw = f.read(header + count * size)
    return torch.from_numpy(np.frombuffer(raw, np.uint8, offset=header).copy())


def test_images(n):
    # true divisions, in this order, as the data plugin does (see README.md)
    u8 = read_idx("t10k-images-idx3-ubyte.gz", 16, n, 784).reshape(n, 784)
    return (u8.float() / 255 - 0.2860) / 0.3530


def max_diff(npy, model, x):
    with torch.no_grad():
        ref = model(x).numpy()
    got = np.load(npy)
    if got.shape != ref.shape:
        return float("inf"), f"shape {got.shape}, expected {ref.shape}"
    d = float(np.abs(got.astype(np.float64) - ref).max())
    return d, f"max |diff| {d:.3g} over {ref.shape} logits (tolerance {TOL})"


def main():
    torch.set_num_threads(1)
    tmp = tempfile.mkdtemp(prefix="lt_ckpt_")
    x = test_images(N)

    # 1. train and save a checkpoint
    lthost(tmp, "fit", "--module", MLP_SO, "--max_epochs", "1", "--limit_train_batches", "30",
           "--limit_val_batches", "2", "--seed_everything", "3", "--test_after_fit", "false")
    ckpts = glob.glob(os.path.join(tmp, "lightning_logs/**/*.ckpt"), recursive=True)
    check("fit saves a checkpoint", len(ckpts) == 1, ", ".join(ckpts) or f"none under {tmp}")
    if len(ckpts) != 1:
        return 1
    ckpt = ckpts[0]

    # 2. metadata and weights
    with safe_open(ckpt, framework="pt") as f:
        meta = f.metadata()
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    print("      metadata keys:", " ".join(sorted(meta)))
    parsed = {}
    for key in ("format_version", "hyper_parameters", "optimizer_states", "loops", "callbacks"):
        try:
            parsed[key] = json.loads(meta[key])
        except (KeyError, ValueError) as e:
            check(f"metadata {key} is JSON", False, repr(e))
            return 1
    check("format_version", parsed["format_version"] == "1.0", meta["format_version"])
    check("metadata is JSON", True, "hyper_parameters, optimizer_states, loops, callbacks")
    hp = parsed["hyper_parameters"]
    model = MLP(hp["hidden"], hp["hidden2"])
    sd = {k[len("state_dict."):]: v for k, v in tensors.items() if k.startswith("state_dict.")}
    try:
        model.load_state_dict(sd, strict=True)
        check("state_dict loads into torch (strict)", True,
              f"hidden={hp['hidden']} hidden2={hp['hidden2']}, {len(sd)} tensors")
    except RuntimeError as e:
        check("state_dict loads into torch (strict)", False, str(e))
        return 1

    # 3. optimizer state
    os0 = parsed["optimizer_states"]["0"]
    pg = os0["param_group"]
    opt = torch.optim.Adam(model.parameters(), lr=pg["lr"])
    osd = opt.state_dict()
    osd["param_groups"][0].update(lr=pg["lr"], betas=(pg["beta1"], pg["beta2"]), eps=pg["eps"],
                                  weight_decay=pg["weight_decay"])
    pre = "optimizer_states.0.state"
    osd["state"] = {p: {"step": torch.tensor(float(os0["step"])),
                        "exp_avg": tensors[f"{pre}.{p}.exp_avg"],
                        "exp_avg_sq": tensors[f"{pre}.{p}.exp_avg_sq"]} for p in range(6)}
    try:
        opt.load_state_dict(osd)
        y = read_idx("t10k-labels-idx1-ubyte.gz", 8, N, 1).long()
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()
        finite = all(torch.isfinite(p).all() for p in model.parameters())
        check("Adam state loads into torch.optim.Adam and steps", finite,
              f"type={os0['type']} step={os0['step']}, parameters finite after one step: {finite}")
    except (RuntimeError, KeyError, ValueError) as e:
        check("Adam state loads into torch.optim.Adam and steps", False, repr(e))
    model.load_state_dict(sd, strict=True)  # undo that step for the logits check

    # 4. lthost predict from the checkpoint vs torch
    out = os.path.join(tmp, "logits.npy")
    lthost(tmp, "predict", "--module", MLP_SO, "--ckpt_path", ckpt, "--limit_predict_batches",
           "1", "--data.batch_size", str(N), "--predict.output", out)
    d, detail = max_diff(out, model, x)
    check("lthost predict --ckpt_path matches torch", d <= TOL, detail)

    # 5. torch-trained weights into lthost predict --init_weights
    torch.manual_seed(0)
    tmodel = MLP(256, 128)
    sgd = torch.optim.SGD(tmodel.parameters(), lr=0.05)
    for _ in range(5):
        sgd.zero_grad()
        F.cross_entropy(tmodel(torch.randn(32, 784)), torch.randint(0, 10, (32,))).backward()
        sgd.step()
    weights = os.path.join(tmp, "torch_mlp.safetensors")
    save_file(tmodel.state_dict(), weights)
    out2 = os.path.join(tmp, "logits2.npy")
    lthost(tmp, "predict", "--module", MLP_SO, "--init_weights", weights,
           "--limit_predict_batches", "1", "--data.batch_size", str(N), "--predict.output", out2)
    d, detail = max_diff(out2, tmodel, x)
    check("lthost predict --init_weights (torch state dict) matches torch", d <= TOL, detail)

    failed = results.count(False)
    print(f"{len(results) - failed}/{len(results)} checks passed" +
          (f"; {failed} FAILED (files kept in {tmp})" if failed else ""))
    if not failed:
        shutil.rmtree(tmp)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
