#!/usr/bin/env python3
"""`nabla train cnn` in PyTorch: the same data preparation (float32 NCHW, training mean image
subtracted), ConvNet of Table 1, Adam 1e-4, batch 32, evaluation of all 10,000 test images in
chunks of 500 every --eval_freq steps. For the peak-memory and whole-run comparisons of
docs/results.md, e.g.
    /usr/bin/time -v python3 bench/torch_train_cnn.py --data_dir DIR --max_steps 300 --eval_freq 100
Run it with the same OMP_NUM_THREADS, and OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE unset, on both sides.
"""
import argparse
import os
import time

import numpy as np
import torch

import peer


def load(data_dir):
    def read(name):
        raw = np.fromfile(os.path.join(data_dir, name), dtype=np.uint8).reshape(-1, 3073)
        return raw[:, 1:].reshape(-1, 3, 32, 32).astype(np.float32), raw[:, 0].astype(np.int64)

    parts = [read(f"data_batch_{i}.bin") for i in range(1, 6)]
    x_train = np.concatenate([p[0] for p in parts])
    y_train = np.concatenate([p[1] for p in parts])
    x_test, y_test = read("test_batch.bin")
    mean = x_train.mean(axis=0)
    x_train -= mean
    x_test -= mean
    return (torch.from_numpy(x_train), torch.from_numpy(y_train), torch.from_numpy(x_test),
            torch.from_numpy(y_test))


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data_dir", default=os.environ.get("CIFAR10_DIR", ""))
    ap.add_argument("--max_steps", type=int, default=5000)
    ap.add_argument("--eval_freq", type=int, default=500)
    ap.add_argument("--threads", type=int, default=int(os.environ.get("OMP_NUM_THREADS", "2")))
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(42)
    x_train, y_train, x_test, y_test = load(args.data_dir)
    make_model, batch, make_opt = peer.torch_models(torch)["cnn"]
    model = make_model()
    opt = make_opt(model.parameters())
    loss_fn = torch.nn.CrossEntropyLoss()
    order = torch.randperm(len(x_train))
    start = time.time()
    for step in range(1, args.max_steps + 1):
        idx = order[((step - 1) * batch) % len(order):][:batch]
        model.train()
        opt.zero_grad()
        loss = loss_fn(model(x_train[idx]), y_train[idx])
        loss.backward()
        opt.step()
        if step % args.eval_freq == 0 or step == args.max_steps:
            model.eval()
            hits = 0
            with torch.no_grad():
                for b in range(0, len(x_test), 500):
                    hits += (model(x_test[b:b + 500]).argmax(1) == y_test[b:b + 500]).sum().item()
            print(f"step {step} loss {loss.item():.4f} test_acc {hits / len(x_test):.4f} "
                  f"elapsed {time.time() - start:.1f} s", flush=True)


if __name__ == "__main__":
    main()
