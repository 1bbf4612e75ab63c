"""ONNX export against onnxruntime (and torch when it is there) (issue #22).

Every shipped model (plugins/models/*): mlp, the autoencoder (its encoder, and the whole
forward), cnn and tabular (classification with a hidden layer, regression without, uint8
features) are trained a few steps on random data, exported with `lthost export`,
checked with onnx.checker, run in onnxruntime on a batch of another size than the traced
one (the batch axis is dynamic) and compared with `lthost predict` on the same inputs
(1e-5). chargpt (int64 token
input, --input_dtype int64) and the generators and discriminators of dcgan and gan
(--submodule) are trained a few steps, their weights taken out of the checkpoint as a
plain state dict, and `lthost predict --init_weights` on other inputs (token ids, noise)
is compared with onnxruntime the same way. With --ops-plugin, a test module through
every mapped op, at three opsets, and its one_hot mode (int64 labels -> OneHot).

Only if torch is importable: the round trip the other way, a torch MLP's weights
(safetensors) -> `lthost export --init_weights` -> onnxruntime equals
torch.onnx.export's model in onnxruntime (and torch itself) on the same input; without
torch it prints a note and the rest still runs.

    PY=$(bash tests/reference/setup_onnx_venv.sh)     # onnx, onnxruntime, numpy
    $PY tests/reference/check_onnx.py --lthost build/host/lthost

Needs onnx, onnxruntime and numpy (safetensors files are read and written here with
numpy); LT_PLUGIN_PATH must find the cpu accelerator (tests/e2e/test_export.sh sets it).
Prints one "ok:" line per check and exits 1 at the first mismatch.
"""
import argparse
import glob
import importlib.util
import json
import os
import struct
import subprocess
import sys
import tempfile

import numpy as np
import onnx
import onnxruntime as ort

TOL = 1e-5
CHECKED = set()  # the model plugins compared so far, against plugins/models/* at the end
FORWARDED = []  # the models whose lt_model_forward was compared with lthost predict


def forward_agrees(lthost, work, name, ckpt, x, pred, label):
    """lt_model_forward (the build's tests/model_forward, another program on the C API)
    on x gives lthost predict's bytes exactly: same forward, same eval mode and buffers."""
    build = os.path.dirname(os.path.dirname(lthost))
    tool = os.path.join(build, "tests", "model_forward")
    module = name if name.endswith(".so") else os.path.join(build, "plugins", "models", name,
                                                             name + ".so")
    xpath, out = os.path.join(work, label + ".x.npy"), os.path.join(work, label + ".fwd")
    np.save(xpath, np.ascontiguousarray(x))
    run([tool, ckpt, module, xpath, ",".join(str(d) for d in x.shape), out], work)
    want = np.ascontiguousarray(np.load(pred), dtype=np.float32).tobytes()
    with open(out, "rb") as f:
        got = f.read()
    if got != want:
        sys.exit(f"FAIL: {label}: lt_model_forward and lthost predict differ "
                 f"({len(got)} and {len(want)} bytes)")
    FORWARDED.append(label)


def run(cmd, cwd):
    p = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"FAIL: {' '.join(cmd)} exited {p.returncode}:\n{p.stdout}{p.stderr}")
    return p.stdout


def ort_run(path, x):
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    return sess.run(None, {sess.get_inputs()[0].name: x})[0]


def compare(what, got, want):
    if got.shape != want.shape:
        sys.exit(f"FAIL: {what}: shape {got.shape}, expected {want.shape}")
    err = float(np.max(np.abs(got - want) / (1.0 + np.abs(want))))
    if not err <= TOL:
        sys.exit(f"FAIL: {what}: max relative difference {err:.3g} > {TOL}")
    print(f"ok: {what}: {got.shape}, max relative difference {err:.2g}")


def check_model(path):
    model = onnx.load(path)
    onnx.checker.check_model(model, full_check=True)
    return model


def export_and_compare(lthost, work, name, submodule, x, extra_fit, data=("d.npz",), tag="",
                       extra_export=()):
    """Fit module name (or a plugin's path) a few steps on data (--data.npz data[0], its
    x is x, then more --data flags), export it traced at batch 2, compare onnxruntime on
    all of x with lthost predict."""
    data = ["--data", "npy", "--data.npz"] + list(data)
    label = os.path.basename(name).removesuffix(".so")  # onnx_ops.so's path: onnx_ops
    label += ("." + submodule if submodule else "") + tag
    root = os.path.join(work, label)
    run([lthost, "fit", "--module", name] + data + [
         "--max_steps", "3", "--limit_val_batches", "1", "--test_after_fit", "false",
         "--enable_progress_bar", "false", "--default_root_dir", root] + extra_fit, work)
    ckpt = glob.glob(os.path.join(root, "lightning_logs/version_0/checkpoints/*.ckpt"))[0]
    sub = ["--submodule", submodule] if submodule else []
    onnx_path = os.path.join(work, label + ".onnx")
    shape = ",".join(str(d) for d in (2,) + x.shape[1:])
    run([lthost, "export", "--module", name, "--ckpt_path", ckpt, "--input_shape", shape,
         "--dynamic_batch", "true", "--output", onnx_path] + sub + list(extra_export), work)
    model = check_model(onnx_path)
    ops = sorted({n.op_type for n in model.graph.node})
    pred = os.path.join(work, label + ".npy")
    run([lthost, "predict", "--module", name, "--ckpt_path", ckpt] + data + [
         "--predict.output", pred, "--enable_progress_bar", "false",
         "--default_root_dir", root] + sub, work)
    compare(f"{label} (ops {', '.join(ops)}): onnxruntime vs lthost predict",
            ort_run(onnx_path, x), np.load(pred))
    if submodule is None and x.dtype == np.float32:
        forward_agrees(lthost, work, name, ckpt, x, pred, label)
    CHECKED.add(name)
    return ckpt, onnx_path


def tabular(lthost, work):
    """tabular on 7 features: classification through a hidden ReLU layer (Gemm, Relu,
    Gemm), linear regression (one Gemm) on float targets, and uint8 features with
    x_divisor 255 (trained on uint8; exported with int64 input: lt_to_f32 -> Cast, Div)."""
    rng = np.random.default_rng(9)
    x = rng.standard_normal((29, 7)).astype(np.float32)
    np.savez(os.path.join(work, "tab.npz"), x=x, y=rng.integers(0, 3, len(x)))
    np.savez(os.path.join(work, "reg.npz"), x=x, y=rng.standard_normal(len(x)).astype(np.float32))
    export_and_compare(lthost, work, "tabular", None, x, ["--model.in_features", "7",
                       "--model.out_features", "3", "--model.hidden", "16"], ["tab.npz"],
                       "-classification")
    export_and_compare(lthost, work, "tabular", None, x, ["--model.in_features", "7",
                       "--model.out_features", "1", "--model.hidden", "0", "--model.task",
                       "regression"], ["reg.npz", "--data.task", "regression"], "-regression")
    x8 = rng.integers(0, 256, (29, 7)).astype(np.uint8)
    np.savez(os.path.join(work, "tab8.npz"), x=x8, y=rng.integers(0, 3, len(x)))
    export_and_compare(lthost, work, "tabular", None, x8.astype(np.int64), [
        "--model.in_features", "7", "--model.out_features", "3", "--model.x_divisor", "255"],
        ["tab8.npz", "--data.x_dtype", "keep"], "-uint8", ["--input_dtype", "int64"])


# safetensors with numpy alone: an 8-byte little-endian header size, a JSON header
# {name: {dtype, shape, data_offsets}}, then the data.
ST_DTYPES = {"F32": np.float32, "F64": np.float64, "F16": np.float16, "I64": np.int64,
             "I32": np.int32, "U8": np.uint8}


def load_safetensors(path):
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    header, base = json.loads(blob[8:8 + n]), 8 + n
    out = {}
    for name, t in header.items():
        if name == "__metadata__" or t["dtype"] not in ST_DTYPES:
            continue  # bf16 and other dtypes are not in any state dict checked here
        lo, hi = t["data_offsets"]
        out[name] = np.frombuffer(blob[base + lo:base + hi],
                                  dtype=ST_DTYPES[t["dtype"]]).reshape(t["shape"])
    return out


def save_safetensors(tensors, path):
    names = {np.dtype(v): k for k, v in ST_DTYPES.items()}
    header, data, off = {}, [], 0
    for name in sorted(tensors):
        a = np.asarray(tensors[name], order="C")  # ascontiguousarray makes 0-d 1-d
        header[name] = {"dtype": names[a.dtype], "shape": list(a.shape),
                        "data_offsets": [off, off + a.nbytes]}
        data.append(a.tobytes())
        off += a.nbytes
    head = json.dumps(header).encode()
    head += b" " * (-len(head) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(head)) + head + b"".join(data))


def weights_of(ckpt, out):
    """The checkpoint's state dict as a plain safetensors file (predict --init_weights
    reads any data, not only the checkpoint's)."""
    sd = load_safetensors(ckpt)
    save_safetensors({k[len("state_dict."):]: v for k, v in sd.items()
                      if k.startswith("state_dict.")}, out)
    return out


def export_weights_and_compare(lthost, work, label, module, hp, submodule, shape, x, dtype):
    """Export from weights, predict x from the same weights, compare in onnxruntime."""
    weights = os.path.join(work, module + ".safetensors")
    sub = ["--submodule", submodule] if submodule else []
    path = os.path.join(work, label + ".onnx")
    run([lthost, "export", "--module", module, "--init_weights", weights, "--input_shape", shape,
         "--input_dtype", dtype, "--dynamic_batch", "true", "--output", path] + hp + sub, work)
    ops = sorted({n.op_type for n in check_model(path).graph.node})
    data, pred = os.path.join(work, label + ".npz"), os.path.join(work, label + ".npy")
    np.savez(data, x=x, y=np.zeros(len(x), dtype=np.int64))
    run([lthost, "predict", "--module", module, "--init_weights", weights, "--data", "npy",
         "--data.npz", data, "--data.x_dtype", "keep", "--predict.output", pred,
         "--enable_progress_bar", "false", "--default_root_dir", os.path.join(work, label)]
        + hp + sub, work)
    compare(f"{label} (ops {', '.join(ops)}): onnxruntime vs lthost predict",
            ort_run(path, x), np.load(pred))
    CHECKED.add(module)


def chargpt(lthost, work):
    """A 2-layer chargpt on 16 letters: embedding (Gather), split (Slice), heads
    (Transpose), causal attention (MatMul, Where, Softmax), GELU, LayerNormalization."""
    rng = np.random.default_rng(5)
    with open(os.path.join(work, "book.txt"), "w") as f:
        f.write("".join(chr(97 + int(i)) for i in rng.integers(0, 16, 4000)))
    hp = ["--model.vocab_size", "16", "--model.block_size", "8", "--model.n_layer", "2",
          "--model.n_head", "2", "--model.n_embd", "16", "--model.dropout", "0.0"]
    root = os.path.join(work, "chargpt")
    run([lthost, "fit", "--module", "chargpt", "--data", "text", "--data.path", "book.txt",
         "--data.block_size", "8", "--data.batch_size", "4", "--max_steps", "3",
         "--limit_val_batches", "1", "--test_after_fit", "false", "--enable_progress_bar",
         "false", "--default_root_dir", root] + hp, work)
    ckpt = glob.glob(os.path.join(root, "lightning_logs/version_0/checkpoints/*.ckpt"))[0]
    weights_of(ckpt, os.path.join(work, "chargpt.safetensors"))
    tokens = rng.integers(0, 16, (9, 8)).astype(np.int64)  # 9: not the traced 1
    export_weights_and_compare(lthost, work, "chargpt", "chargpt", hp, None, "1,8", tokens,
                               "int64")


def dcgan(lthost, work, x):
    """dcgan's generator (Gemm, BatchNormalization, ConvTranspose) from noise, and its
    discriminator (Conv, leaky relu) from images."""
    hp = ["--model.ngf", "8", "--model.ndf", "8", "--model.samples", "4"]
    root = os.path.join(work, "dcgan")
    run([lthost, "fit", "--module", "dcgan", "--data", "npy", "--data.npz", "d.npz",
         "--data.batch_size", "8", "--max_steps", "2", "--limit_val_batches", "0",
         "--test_after_fit", "false", "--enable_progress_bar", "false", "--default_root_dir",
         root] + hp, work)
    ckpt = glob.glob(os.path.join(root, "lightning_logs/version_0/checkpoints/*.ckpt"))[0]
    weights_of(ckpt, os.path.join(work, "dcgan.safetensors"))
    z = np.random.default_rng(6).standard_normal((11, 64)).astype(np.float32)
    export_weights_and_compare(lthost, work, "dcgan.generator", "dcgan", hp, "generator",
                               "2,64", z, "float32")
    export_weights_and_compare(lthost, work, "dcgan.discriminator", "dcgan", hp,
                               "discriminator", "2,1,28,28", x, "float32")


def gan(lthost, work, x):
    """The linear GAN's generator (noise -> (N, 784)) and discriminator."""
    root = os.path.join(work, "gan")
    run([lthost, "fit", "--module", "gan", "--data", "npy", "--data.npz", "d.npz",
         "--data.batch_size", "8", "--max_steps", "2", "--limit_val_batches", "0",
         "--test_after_fit", "false", "--enable_progress_bar", "false", "--default_root_dir",
         root], work)
    ckpt = glob.glob(os.path.join(root, "lightning_logs/version_0/checkpoints/*.ckpt"))[0]
    weights_of(ckpt, os.path.join(work, "gan.safetensors"))
    z = np.random.default_rng(8).standard_normal((13, 64)).astype(np.float32)
    export_weights_and_compare(lthost, work, "gan.generator", "gan", [], "generator", "2,64", z,
                               "float32")
    export_weights_and_compare(lthost, work, "gan.discriminator", "gan", [], "discriminator",
                               "2,784", x.reshape(len(x), -1), "float32")


def op_zoo(lthost, work, plugin):
    """Every mapped op (tests/e2e/plugins/onnx_ops.c) at three opsets: 13 (ReduceMean's
    axes an attribute, GELU as Erf), 17, 20 (Gelu)."""
    rng = np.random.default_rng(7)
    x = rng.standard_normal((19, 2, 8, 8)).astype(np.float32)
    np.savez(os.path.join(work, "zoo.npz"), x=x, y=rng.integers(0, 10, len(x)))
    root = os.path.join(work, "zoo")
    run([lthost, "fit", "--module", plugin, "--data", "npy", "--data.npz", "zoo.npz",
         "--max_steps", "3", "--limit_val_batches", "0", "--test_after_fit", "false",
         "--enable_progress_bar", "false", "--default_root_dir", root], work)
    ckpt = glob.glob(os.path.join(root, "lightning_logs/version_0/checkpoints/*.ckpt"))[0]
    pred = os.path.join(work, "zoo.npy")
    run([lthost, "predict", "--module", plugin, "--ckpt_path", ckpt, "--data", "npy",
         "--data.npz", "zoo.npz", "--predict.output", pred, "--enable_progress_bar", "false",
         "--default_root_dir", root], work)
    for opset in ("13", "17", "20"):
        path = os.path.join(work, f"zoo{opset}.onnx")
        run([lthost, "export", "--module", plugin, "--ckpt_path", ckpt, "--input_shape",
             "3,2,8,8", "--dynamic_batch", "true", "--opset", opset, "--output", path], work)
        ops = sorted({n.op_type for n in check_model(path).graph.node})
        compare(f"onnx_ops opset {opset} ({len(ops)} ONNX ops): onnxruntime vs lthost predict",
                ort_run(path, x), np.load(pred))


def one_hot_zoo(lthost, work, plugin):
    """The test module's one_hot mode: int64 labels (N, 6) -> OneHot -> MatMul, Gemm."""
    rng = np.random.default_rng(10)
    x = rng.integers(0, 8, (23, 6)).astype(np.int64)
    np.savez(os.path.join(work, "onehot.npz"), x=x, y=rng.integers(0, 5, len(x)))
    export_and_compare(lthost, work, plugin, None, x, ["--model.mode", "one_hot"],
                       ["onehot.npz", "--data.x_dtype", "keep"], "-one_hot",
                       ["--input_dtype", "int64"])


def opsets(lthost, work, ckpt, x, want):
    for opset in ("13", "21"):
        path = os.path.join(work, f"mlp_opset{opset}.onnx")
        run([lthost, "export", "--module", "mlp", "--ckpt_path", ckpt, "--input_shape",
             f"{x.shape[0]},784", "--opset", opset, "--output", path], work)
        check_model(path)
        compare(f"mlp opset {opset}, static batch", ort_run(path, x.reshape(len(x), -1)), want)


def round_trip(lthost, work, x):
    import torch

    torch.manual_seed(0)

    class MLP(torch.nn.Module):  # plugins/models/mlp with its default hparams
        def __init__(self):
            super().__init__()
            self.l1 = torch.nn.Linear(784, 256)
            self.l2 = torch.nn.Linear(256, 128)
            self.l3 = torch.nn.Linear(128, 10)

        def forward(self, x):
            x = torch.flatten(x, 1)
            return self.l3(torch.relu(self.l2(torch.relu(self.l1(x)))))

    model = MLP().eval()
    weights = os.path.join(work, "torch_mlp.safetensors")
    save_safetensors({k: v.numpy() for k, v in model.state_dict().items()}, weights)
    ours = os.path.join(work, "lthost_mlp.onnx")
    run([lthost, "export", "--module", "mlp", "--init_weights", weights, "--input_shape",
         "1,784", "--dynamic_batch", "true", "--output", ours], work)
    check_model(ours)
    theirs = os.path.join(work, "torch_mlp.onnx")
    x2 = x.reshape(len(x), -1)
    torch.onnx.export(model, (torch.from_numpy(x2[:1]),), theirs, dynamo=False,
                      input_names=["input"], output_names=["output"],
                      dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}})
    got = ort_run(ours, x2)
    compare("round trip: torch weights -> lthost export vs torch.onnx.export (onnxruntime)",
            got, ort_run(theirs, x2))
    with torch.no_grad():
        compare("round trip: lthost export (onnxruntime) vs torch forward",
                got, model(torch.from_numpy(x2)).numpy())


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lthost", required=True)
    ap.add_argument("--ops-plugin", help="tests/e2e/plugins/onnx_ops.so from the build")
    ap.add_argument("--models-dir", help="plugins/models: fail if a model there was not checked")
    args = ap.parse_args()
    lthost = os.path.abspath(args.lthost)
    with tempfile.TemporaryDirectory() as work:
        rng = np.random.default_rng(22)
        x = rng.standard_normal((37, 1, 28, 28)).astype(np.float32)  # 37: not the traced 2
        np.savez(os.path.join(work, "d.npz"), x=x, y=rng.integers(0, 10, len(x)))
        mlp_ckpt, mlp_onnx = export_and_compare(lthost, work, "mlp", None, x, [])
        export_and_compare(lthost, work, "autoencoder", "encoder", x, [])
        export_and_compare(lthost, work, "autoencoder", None, x, [])
        export_and_compare(lthost, work, "cnn", None, x, ["--model.hidden", "32"])
        tabular(lthost, work)
        opsets(lthost, work, mlp_ckpt, x, ort_run(mlp_onnx, x))
        if importlib.util.find_spec("torch"):
            round_trip(lthost, work, x)
        else:
            print(f"note: torch.onnx.export round trip skipped: torch is not importable in "
                  f"{sys.executable} (it needs the reference venv, tests/reference/setup_venv.sh)")
        chargpt(lthost, work)
        dcgan(lthost, work, x)
        gan(lthost, work, x)
        if args.ops_plugin:
            op_zoo(lthost, work, os.path.abspath(args.ops_plugin))
            one_hot_zoo(lthost, work, os.path.abspath(args.ops_plugin))
    if args.models_dir:
        shipped = {d for d in os.listdir(args.models_dir)
                   if os.path.isdir(os.path.join(args.models_dir, d))}
        if shipped - CHECKED:
            sys.exit(f"FAIL: {', '.join(sorted(shipped - CHECKED))} in {args.models_dir} "
                     "not checked: add each model to tests/reference/check_onnx.py")
        print(f"ok: every shipped model checked: {', '.join(sorted(shipped))}")
    print(f"ok: lt_model_forward equals lthost predict bit for bit: {', '.join(FORWARDED)}")
    print("ok: every ONNX check passed")


if __name__ == "__main__":
    main()
