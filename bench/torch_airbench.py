#!/usr/bin/env python3
"""`nabla train airbench` in PyTorch: Keller Jordan's airbench94 CIFAR-10 recipe (github.com/
KellerJordan/cifar10-airbench, airbench94.py, now legacy/airbench94.py; arXiv 2404.00498) on the
CPU in float32 and channels_last, the peer that nabla's run is timed against. The same whitening
conv, network, optimizer, schedules, lookahead, augmentation and test-time augmentation; only the
precision (float32, not float16) and the per-epoch test accuracy (skipped; airbench does not time
it either) differ. A full run (9.9 epochs, 476 steps) takes most of an hour on 2 cores, so
--max_steps N runs the first N steps of the same schedule and reports the per-step time from
which the full run is estimated, e.g.
    python3 bench/torch_airbench.py --max_steps 20 --out torch_airbench.json
    python3 bench/torch_airbench.py --out torch_airbench.json          # the whole run
Run it with the same OMP_NUM_THREADS, and OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE unset, on both sides.
"""
import argparse
import json
import os
import statistics
import time
from math import ceil

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

MEAN = (0.4914, 0.4822, 0.4465)
STD = (0.2470, 0.2435, 0.2616)
BATCH = 1024
LR = 11.5  # per 1024 examples, decoupled from the momentum (see main)
MOMENTUM = 0.85
WEIGHT_DECAY = 0.0153  # per 1024 examples, decoupled from the learning rate
BIAS_SCALER = 64.0  # BatchNorm biases learn 64 times faster, with the same decay
LABEL_SMOOTHING = 0.2
WHITEN_BIAS_EPOCHS = 3
TRANSLATE = 2
WIDTHS = (64, 256, 256)
BN_MOMENTUM = 0.6  # airbench's convention: running = 0.6 running + 0.4 batch
SCALE = 1 / 9
TEST_BATCH = 2000


def load(data_dir):
    """Normalised float32 NCHW images and int64 labels of the training and test sets."""
    mean = torch.tensor(MEAN).view(1, 3, 1, 1)
    std = torch.tensor(STD).view(1, 3, 1, 1)

    def read(names):
        raw = np.concatenate([np.fromfile(os.path.join(data_dir, n), dtype=np.uint8)
                              .reshape(-1, 3073) for n in names])
        images = torch.from_numpy(raw[:, 1:].reshape(-1, 3, 32, 32).astype(np.float32)) / 255
        return (images - mean) / std, torch.from_numpy(raw[:, 0].astype(np.int64))

    return read([f"data_batch_{i}.bin" for i in range(1, 6)]) + read(["test_batch.bin"])


# ---------------------------------------------------------------------------------------------
# Network

class Conv(nn.Conv2d):
    """PyTorch's default init, zero bias, and the first C_in filters the identity (dirac)."""

    def __init__(self, cin, cout, kernel_size=3, padding="same", bias=False):
        super().__init__(cin, cout, kernel_size=kernel_size, padding=padding, bias=bias)

    def reset_parameters(self):
        super().reset_parameters()
        if self.bias is not None:
            self.bias.data.zero_()
        nn.init.dirac_(self.weight.data[:self.weight.size(1)])


class BatchNorm(nn.BatchNorm2d):
    """Weight frozen at 1, bias trained from 0."""

    def __init__(self, channels):
        super().__init__(channels, eps=1e-12, momentum=1 - BN_MOMENTUM)
        self.weight.requires_grad = False


class ConvGroup(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.conv1 = Conv(cin, cout)
        self.pool = nn.MaxPool2d(2)
        self.norm1 = BatchNorm(cout)
        self.conv2 = Conv(cout, cout)
        self.norm2 = BatchNorm(cout)
        self.activ = nn.GELU()

    def forward(self, x):
        x = self.activ(self.norm1(self.pool(self.conv1(x))))
        return self.activ(self.norm2(self.conv2(x)))


class Mul(nn.Module):
    def __init__(self, scale):
        super().__init__()
        self.scale = scale

    def forward(self, x):
        return x * self.scale


def make_net():
    """(N,3,32,32) -> (N,10). The names of the parameters are airbench's: the optimizer finds the
    BatchNorm biases by the 'norm' in theirs."""
    net = nn.Sequential(
        Conv(3, 24, kernel_size=2, padding=0, bias=True),  # 31x31, whitening
        nn.GELU(),
        ConvGroup(24, WIDTHS[0]),  # 15x15
        ConvGroup(WIDTHS[0], WIDTHS[1]),  # 7x7
        ConvGroup(WIDTHS[1], WIDTHS[2]),  # 3x3
        nn.MaxPool2d(3),
        nn.Flatten(),
        nn.Linear(WIDTHS[2], 10, bias=False),
        Mul(SCALE),
    )
    net[0].weight.requires_grad = False
    return net.to(memory_format=torch.channels_last)


def init_whitening(conv, images, eps=5e-4):
    """Filters e/sqrt(l+eps) and their negatives for the eigenpairs (l, e) of the covariance of all
    2x2 patches of the images, largest eigenvalue first."""
    c, (h, w) = images.size(1), conv.weight.shape[2:]
    patches = images.unfold(2, h, 1).unfold(3, w, 1).transpose(1, 3).reshape(-1, c * h * w)
    cov = patches.T @ patches / len(patches)
    eigenvalues, eigenvectors = torch.linalg.eigh(cov, UPLO="U")
    eigenvalues = eigenvalues.flip(0).view(-1, 1, 1, 1)
    eigenvectors = eigenvectors.T.reshape(c * h * w, c, h, w).flip(0)
    scaled = eigenvectors / torch.sqrt(eigenvalues + eps)
    conv.weight.data[:] = torch.cat((scaled, -scaled))


class Lookahead:
    """An average of every float tensor of the state dict (parameters, frozen ones included, and
    BatchNorm running statistics); update() moves it towards the network by 1 - decay and copies
    it back into the network."""

    def __init__(self, net):
        self.ema = {k: v.clone() for k, v in net.state_dict().items()}

    def update(self, net, decay):
        for ema, current in zip(self.ema.values(), net.state_dict().values()):
            if current.dtype == torch.float32:
                ema.lerp_(current, 1 - decay)
                current.copy_(ema)


# ---------------------------------------------------------------------------------------------
# Data

def flip_at_random(images):
    """Each image mirrored left-right with probability 1/2."""
    mask = (torch.rand(len(images)) < 0.5).view(-1, 1, 1, 1)
    return torch.where(mask, images.flip(-1), images)


def translate_at_random(padded, size=32):
    """A size x size crop of each padded image, shifted from the centre by (dy, dx) drawn
    uniformly from [-r, r]^2, r = (padded size - size) / 2."""
    r = (padded.size(-1) - size) // 2
    shifts = torch.randint(-r, r + 1, size=(len(padded), 2))
    out = torch.empty(len(padded), padded.size(1), size, size, dtype=padded.dtype)
    for dy in range(-r, r + 1):
        for dx in range(-r, r + 1):
            mask = (shifts[:, 0] == dy) & (shifts[:, 1] == dx)
            out[mask] = padded[mask, :, r + dy:r + dy + size, r + dx:r + dx + size]
    return out


class TrainLoader:
    """airbench's alternating flip: each image is mirrored at random once, and in every odd epoch
    all of them are mirrored, so an image is seen both ways in every pair of epochs. A random
    translation by up to TRANSLATE pixels (reflect padding) is drawn anew every epoch. Shuffled
    batches, the last partial one dropped."""

    def __init__(self, images, labels):
        self.images, self.labels = images, labels
        self.padded = None
        self.epoch = 0

    def __len__(self):
        return len(self.images) // BATCH

    def next_epoch(self):
        """The epoch's augmented images and the order in which to visit them."""
        if self.padded is None:  # on the first epoch, as airbench, so that its time counts
            flipped = flip_at_random(self.images)
            self.padded = F.pad(flipped, (TRANSLATE,) * 4, mode="reflect")
        images = translate_at_random(self.padded, self.images.size(-1))
        if self.epoch % 2 == 1:
            images = images.flip(-1)
        self.epoch += 1
        return images, torch.randperm(len(images))


# ---------------------------------------------------------------------------------------------
# Evaluation

def evaluate(net, images, labels, tta_level):
    """Accuracy without and with test-time augmentation, as airbench94's infer: level 1 averages
    the logits of each image and its mirror image; level 2 averages that, at weight 1/2, with the
    mean of the same for the image translated by one pixel up-left and down-right (reflect
    padding), six views in all."""

    def run(x):
        return net(x.contiguous(memory_format=torch.channels_last))

    def mirror(x):
        return 0.5 * run(x) + 0.5 * run(x.flip(-1))

    net.eval()
    plain, tta = [], []
    with torch.no_grad():
        for x in images.split(TEST_BATCH):
            logits = run(x)
            plain.append(logits)
            if tta_level >= 1:
                logits = 0.5 * logits + 0.5 * run(x.flip(-1))
            if tta_level == 2:
                padded = F.pad(x, (1,) * 4, mode="reflect")
                shifted = [mirror(padded[:, :, 0:32, 0:32]), mirror(padded[:, :, 2:34, 2:34])]
                logits = 0.5 * logits + 0.5 * torch.stack(shifted).mean(0)
            tta.append(logits)

    def accuracy(chunks):
        return (torch.cat(chunks).argmax(1) == labels).float().mean().item()

    return accuracy(plain), accuracy(tta)


# ---------------------------------------------------------------------------------------------
# Training

def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data_dir", default=os.environ.get(
        "CIFAR10_DIR", "/work/shared/cifar10/cifar-10-batches-bin"))
    ap.add_argument("--epochs", type=float, default=9.9)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=0, help="0: torch's default")
    ap.add_argument("--max_steps", type=int, default=0,
                    help="stop after this many steps of the full schedule (0: run it all)")
    ap.add_argument("--tta_level", type=int, default=2, choices=(0, 1, 2))
    ap.add_argument("--out", default="", help="JSON file for the results")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)

    x_train, y_train, x_test, y_test = load(args.data_dir)
    loader = TrainLoader(x_train, y_train)
    total_steps = ceil(len(loader) * args.epochs)
    steps = min(total_steps, args.max_steps) if args.max_steps else total_steps

    # Nesterov momentum makes steps 1 + 1/(1 - momentum) times the gradient once it is steady;
    # dividing by that keeps the step size independent of the momentum. PyTorch multiplies the
    # weight decay by the learning rate, so it is passed divided by it.
    kilostep_scale = 1024 * (1 + 1 / (1 - MOMENTUM))
    lr = LR / kilostep_scale
    wd = WEIGHT_DECAY * BATCH / kilostep_scale
    lr_biases = lr * BIAS_SCALER

    net = make_net()
    named = [(k, p) for k, p in net.named_parameters() if p.requires_grad]
    norm_biases = [p for k, p in named if "norm" in k]
    others = [p for k, p in named if "norm" not in k]  # the whitening bias among them
    opt = torch.optim.SGD([dict(params=norm_biases, lr=lr_biases, weight_decay=wd / lr_biases),
                           dict(params=others, lr=lr, weight_decay=wd / lr)],
                          momentum=MOMENTUM, nesterov=True)
    warmup = int(total_steps * 0.23)

    def triangle(step):  # 0.2 -> 1 over the first 23% of the steps, then down to 0.07
        if step < warmup:
            return 0.2 + 0.8 * step / warmup
        return 1.0 - 0.93 * (step - warmup) / (total_steps - warmup)

    scheduler = torch.optim.lr_scheduler.LambdaLR(opt, triangle)
    # Taken before the whitening init, as airbench does, so its first update (decay ~1e-6) keeps
    # that share of the random whitening filters.
    lookahead = Lookahead(net)
    loss_fn = nn.CrossEntropyLoss(label_smoothing=LABEL_SMOOTHING, reduction="none")

    start = time.perf_counter()
    init_whitening(net[0], x_train[:5000])
    whiten_s = time.perf_counter() - start

    step, step_times, augment_times, losses = 0, [], [], []
    quick = steps < total_steps
    for epoch in range(ceil(args.epochs)):
        if step == steps:
            break
        net[0].bias.requires_grad = epoch < WHITEN_BIAS_EPOCHS
        t = time.perf_counter()
        images, order = loader.next_epoch()
        augment_times.append(time.perf_counter() - t)
        net.train()
        for b in range(len(loader)):
            t = time.perf_counter()
            idx = order[b * BATCH:(b + 1) * BATCH]
            x = images[idx].contiguous(memory_format=torch.channels_last)
            outputs = net(x)
            loss = loss_fn(outputs, y_train[idx]).sum()
            opt.zero_grad(set_to_none=True)  # so that the frozen whitening bias gets no decay
            loss.backward()
            opt.step()
            scheduler.step()
            step += 1
            if step % 5 == 0:
                lookahead.update(net, decay=0.95**5 * (step / total_steps)**3)
            if step == total_steps:
                lookahead.update(net, decay=1.0)
            step_times.append(time.perf_counter() - t)
            losses.append(loss.item() / BATCH)
            if quick:
                print(f"step {step}/{total_steps} loss {losses[-1]:.4f} "
                      f"time {step_times[-1]:.3f} s", flush=True)
            if step == steps:
                break
        if not quick:
            train_acc = (outputs.argmax(1) == y_train[idx]).float().mean().item()
            print(f"epoch {epoch + 1} step {step} loss {losses[-1]:.4f} train_acc {train_acc:.4f} "
                  f"elapsed {time.perf_counter() - start:.1f} s", flush=True)
    train_s = time.perf_counter() - start

    t = time.perf_counter()
    acc, acc_tta = evaluate(net, x_test, y_test, args.tta_level)
    eval_s = time.perf_counter() - t

    timed = step_times[2:] or step_times
    step_median, step_mean = statistics.median(timed), statistics.mean(timed)
    augment_mean = statistics.mean(augment_times)
    estimate_s = whiten_s + ceil(args.epochs) * augment_mean + total_steps * step_mean
    result = {
        "peer": "pytorch " + torch.__version__, "threads": torch.get_num_threads(),
        "seed": args.seed, "epochs": args.epochs, "tta_level": args.tta_level,
        "steps": step, "total_steps": total_steps, "complete": not quick,
        "test_acc": acc, "test_acc_tta": acc_tta,
        "step_median_s": step_median, "step_mean_s": step_mean,
        "whiten_init_s": whiten_s, "augment_epoch_s": augment_mean,
        "train_s": train_s, "eval_s": eval_s, "total_s": train_s + eval_s,
        # whitening + every epoch's augmentation + total_steps mean steps; for --max_steps runs
        "train_estimate_s": estimate_s,
        "step_times_s": step_times, "losses": losses,
    }
    if args.out:
        with open(args.out, "w") as f:
            json.dump(result, f, indent=2)
    line = (f"airbench94 pytorch {torch.__version__} ({result['threads']} threads): {step}/"
            f"{total_steps} steps, step {step_median:.3f} s median {step_mean:.3f} s mean, "
            f"train {train_s:.1f} s, eval {eval_s:.1f} s, test_acc {acc:.4f} "
            f"tta{args.tta_level} {acc_tta:.4f}")
    if quick:
        line += (f"; truncated at --max_steps, the accuracies mean nothing; full training "
                 f"estimated at {estimate_s:.0f} s (scaled from the mean step)")
    print(line, flush=True)


if __name__ == "__main__":
    main()
