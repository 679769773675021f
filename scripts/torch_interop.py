#!/usr/bin/python3
"""State dicts both ways between nabla and PyTorch, on the report's ConvNet and CIFAR-10.

1. nabla -> PyTorch: `nabla train cnn` for a few hundred steps writes model.safetensors; PyTorch's
   ConvNet (same names) loads its state dict with load_state_dict(strict=True) (mean_image aside)
   and its test accuracy is compared with `nabla eval` on the same file.
2. PyTorch -> nabla: PyTorch trains its ConvNet a few steps, writes the state dict as
   safetensors.torch.save_file writes it (plus mean_image and the `model` metadata), and
   `nabla eval` on that file is compared with PyTorch's own test accuracy.
Both must agree within 0.002. Exits 1 otherwise.

Usage: /usr/bin/python3 scripts/torch_interop.py [--nabla build/release/nabla]
       [--data_dir DIR] [--steps 300] [--torch_steps 100]   (needs Debian's python3-torch)
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "fixtures"))
from torch_safetensors import load_file, save_file  # noqa: E402
import make_fixtures  # noqa: E402  (the ConvNet with nabla's names)

torch.set_default_dtype(torch.float32)  # make_fixtures sets float64 for its fixtures


def read_cifar(data_dir):
    def read(name):
        raw = np.fromfile(os.path.join(data_dir, name), dtype=np.uint8).reshape(-1, 3073)
        return raw[:, 1:].reshape(-1, 3, 32, 32).astype(np.float32), raw[:, 0].astype(np.int64)
    parts = [read("data_batch_%d.bin" % i) for i in range(1, 6)]
    train_x = np.concatenate([p[0] for p in parts])
    train_y = np.concatenate([p[1] for p in parts])
    test_x, test_y = read("test_batch.bin")
    return train_x, train_y, test_x, test_y


def accuracy(model, x, y, mean_image):
    model.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, len(x), 500):
            batch = torch.from_numpy(x[i:i + 500]) - mean_image
            correct += (model(batch).argmax(1) == torch.from_numpy(y[i:i + 500])).sum().item()
    return correct / len(x)


def nabla_eval(nabla, model_file, data_dir):
    out = subprocess.run([nabla, "eval", "--model", model_file, "--data_dir", data_dir],
                         check=True, capture_output=True, text=True).stdout
    return float(re.search(r"test_acc=([0-9.]+)", out).group(1))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--nabla", default=os.path.join(HERE, "..", "build", "release", "nabla"))
    ap.add_argument("--data_dir", default=os.environ.get("CIFAR10_DIR", "data/cifar-10-batches-bin"))
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--torch_steps", type=int, default=100)
    args = ap.parse_args()
    torch.manual_seed(0)
    train_x, train_y, test_x, test_y = read_cifar(args.data_dir)
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        # 1. nabla -> PyTorch.
        out = os.path.join(tmp, "nabla_cnn")
        subprocess.run([args.nabla, "train", "cnn", "--data_dir", args.data_dir, "--out", out,
                        "--max_steps", str(args.steps), "--eval_freq", str(args.steps), "--quiet"],
                       check=True)
        model_file = os.path.join(out, "model.safetensors")
        tensors, _ = load_file(model_file)
        mean_image = tensors.pop("mean_image")
        model = make_fixtures.ConvNet().float()
        model.load_state_dict(tensors, strict=True)
        torch_acc = accuracy(model, test_x, test_y, mean_image)
        nabla_acc = nabla_eval(args.nabla, model_file, args.data_dir)
        print("nabla -> PyTorch: nabla eval %.4f, PyTorch (strict load) %.4f" % (nabla_acc, torch_acc))
        ok &= abs(nabla_acc - torch_acc) <= 0.002

        # 2. PyTorch -> nabla.
        mean_image = torch.from_numpy(train_x.astype(np.float64).mean(0).astype(np.float32))
        model = make_fixtures.ConvNet().float()
        opt = torch.optim.Adam(model.parameters(), lr=1e-4)
        order = np.random.default_rng(0).permutation(len(train_x))
        model.train()
        for step in range(args.torch_steps):
            idx = order[step * 32:(step + 1) * 32]
            loss = F.cross_entropy(model(torch.from_numpy(train_x[idx]) - mean_image),
                                   torch.from_numpy(train_y[idx]))
            opt.zero_grad()
            loss.backward()
            opt.step()
        torch_acc = accuracy(model, test_x, test_y, mean_image)
        state = dict(model.state_dict())
        state["mean_image"] = mean_image
        torch_file = os.path.join(tmp, "torch_cnn.safetensors")
        save_file(state, torch_file, metadata={"format": "pytorch", "model": "cnn"})
        nabla_acc = nabla_eval(args.nabla, torch_file, args.data_dir)
        print("PyTorch -> nabla: PyTorch %.4f, nabla eval %.4f" % (torch_acc, nabla_acc))
        ok &= abs(nabla_acc - torch_acc) <= 0.002
    print("agree within 0.002" if ok else "DISAGREE")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
