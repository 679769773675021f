#!/usr/bin/env python3
"""The peers of `nabla bench`: the same models in PyTorch, and the hand-written MLP in NumPy.

Times one training step (median of --repeats after --warmup) and, with --eval_repeats, the
evaluation of 10,000 images in chunks of 500, on synthetic CIFAR-shaped data, as nabla bench does.
Prints a line per model and writes the figures to --json. Run it through bench/run.sh, which sets
the thread count and the BLAS environment for both sides.
"""
import argparse
import json
import os
import time

import numpy as np


def median(xs):
    xs = sorted(xs)
    n = len(xs)
    return xs[n // 2] if n % 2 else 0.5 * (xs[n // 2 - 1] + xs[n // 2])


def time_steps(step, warmup, repeats):
    for _ in range(warmup):
        step()
    out = []
    for _ in range(repeats):
        t = time.perf_counter()
        step()
        out.append(time.perf_counter() - t)
    return out


def torch_models(torch):
    nn = torch.nn

    def convnet():
        layers, cin = [], 3
        for cout, pool in [(64, True), (128, True), (256, False), (256, True), (512, False),
                           (512, True), (512, False), (512, True)]:
            layers += [nn.Conv2d(cin, cout, 3, 1, 1), nn.BatchNorm2d(cout), nn.ReLU()]
            if pool:
                layers.append(nn.MaxPool2d(3, 2, 1))
            cin = cout
        layers += [nn.Flatten(), nn.Linear(512, 10)]
        return nn.Sequential(*layers)

    def mlp(hidden):
        layers, cin = [nn.Flatten()], 3 * 32 * 32
        for h in hidden:
            layers += [nn.Linear(cin, h), nn.LeakyReLU(0.02)]
            cin = h
        layers.append(nn.Linear(cin, 10))
        return nn.Sequential(*layers)

    return {
        "cnn": (convnet, 32, lambda p: torch.optim.Adam(p, lr=1e-4)),
        "mlp": (lambda: mlp([100]), 200, lambda p: torch.optim.SGD(p, lr=2e-3)),
        "mlp-deep": (lambda: mlp([300, 200, 100, 100, 50, 50]), 200,
                     lambda p: torch.optim.Adam(p, lr=2e-3)),
    }


def bench_torch(name, args, rng):
    import torch
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    make_model, batch, make_opt = torch_models(torch)[name]
    model = make_model()
    opt = make_opt(model.parameters())
    loss_fn = torch.nn.CrossEntropyLoss()
    batches = [(torch.from_numpy(rng.normal(0, 60, (batch, 3, 32, 32)).astype(np.float32)),
                torch.from_numpy(rng.integers(0, 10, batch))) for _ in range(4)]
    i = [0]

    def step():
        x, y = batches[i[0] % 4]
        i[0] += 1
        model.train()
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        return loss.item()

    steps = time_steps(step, args.warmup, args.repeats)
    evals = []
    if args.eval_repeats:
        images = torch.from_numpy(rng.normal(0, 60, (10000, 3, 32, 32)).astype(np.float32))
        labels = torch.from_numpy(rng.integers(0, 10, 10000))

        def evaluate():
            model.eval()
            with torch.no_grad():
                hits, loss = 0, 0.0
                for b in range(0, 10000, 500):
                    out = model(images[b:b + 500])
                    loss += loss_fn(out, labels[b:b + 500]).item() * 500
                    hits += (out.argmax(1) == labels[b:b + 500]).sum().item()
            return loss, hits

        evals = time_steps(evaluate, 1, args.eval_repeats)
    return {"peer": "pytorch " + torch.__version__, "steps_ms": [s * 1e3 for s in steps],
            "evals_s": evals}


def bench_numpy_mlp(args, rng):
    """The report's NumPy part: Linear, LeakyReLU, SoftMax, CrossEntropy with explicit backward."""
    sizes = [3 * 32 * 32, 100, 10]
    W = [rng.normal(0, 1e-4, (o, i)).astype(np.float32) for i, o in zip(sizes, sizes[1:])]
    b = [np.zeros(o, np.float32) for o in sizes[1:]]
    slope, lr = np.float32(0.02), np.float32(2e-3)
    batches = [(rng.normal(0, 60, (200, sizes[0])).astype(np.float32),
                rng.integers(0, 10, 200)) for _ in range(4)]

    def forward(x):
        acts = [x]
        for k in range(len(W)):
            z = acts[-1] @ W[k].T + b[k]
            if k < len(W) - 1:
                z = np.where(z > 0, z, slope * z)
            acts.append(z)
        z = acts[-1]
        e = np.exp(z - z.max(axis=1, keepdims=True))
        return acts, e / e.sum(axis=1, keepdims=True)

    i = [0]

    def step():
        x, y = batches[i[0] % 4]
        i[0] += 1
        acts, p = forward(x)
        n = x.shape[0]
        t = np.zeros_like(p)
        t[np.arange(n), y] = 1
        loss = -np.log(p[np.arange(n), y]).mean()
        d = -t / p / n  # dL/dp, then through the softmax
        d = p * (d - (d * p).sum(axis=1, keepdims=True))
        for k in reversed(range(len(W))):
            dW, db = d.T @ acts[k], d.sum(axis=0)
            if k > 0:
                d = d @ W[k]
                d = np.where(acts[k] > 0, d, slope * d)
            W[k] -= lr * dW
            b[k] -= lr * db
        return loss

    steps = time_steps(step, args.warmup, args.repeats)
    evals = []
    if args.eval_repeats:
        images = rng.normal(0, 60, (10000, sizes[0])).astype(np.float32)
        evals = time_steps(lambda: [forward(images[s:s + 500]) for s in range(0, 10000, 500)], 1,
                           args.eval_repeats)
    return {"peer": "numpy " + np.__version__, "steps_ms": [s * 1e3 for s in steps],
            "evals_s": evals}


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--model", default="cnn,mlp,mlp-deep,mlp-manual")
    ap.add_argument("--threads", type=int, default=int(os.environ.get("OMP_NUM_THREADS", "2")))
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--eval_repeats", type=int, default=3)
    ap.add_argument("--json", default="")
    args = ap.parse_args()
    rng = np.random.default_rng(42)
    out = {"threads": args.threads, "models": {}}
    for name in args.model.split(","):
        r = bench_numpy_mlp(args, rng) if name == "mlp-manual" else bench_torch(name, args, rng)
        r["step_ms"] = median(r["steps_ms"])
        line = f"{name:10s} {r['peer']}: training step {r['step_ms']:9.3f} ms"
        if r["evals_s"]:
            r["eval_s"] = median(r["evals_s"])
            line += f", evaluation {r['eval_s']:7.3f} s"
        print(line, flush=True)
        out["models"][name] = r
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=2)


if __name__ == "__main__":
    main()
