#!/usr/bin/env python3
"""PyTorch peer of bench/GpuBench on a GPU (run with the python3 that has the CUDA PyTorch, e.g. the lent H200's).

The demo's recipe: the CNN of Cadence's ModelZoo, SGD momentum 0.9, fastai 0.7
learn.fit(0.1, 1, cycle_len=3, use_clr=(32, 5)) (CircularLR: lr/32 rising to lr at nb//5, then falling), Fashion-MNIST
standardized with the training set's mean and std. Two loops:
  typical   torch DataLoader (shuffle, pin_memory) + .to(device, non_blocking=True), loss.item() every step
  resident  the whole dataset on the GPU, indices from a seeded CPU generator copied once per epoch, the loss summed on
            the GPU and read once per epoch (no per-step host-device sync)
Wall time from the first batch to the end of each epoch's test evaluation (first-epoch CUDA warm-up included).
Prints one JSON line with the fields of GpuBench.
"""
import argparse
import json
import time

import torch
import torch.nn.functional as F

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fmnist import FMNIST, cnn, load  # noqa: E402  (torch only: the GPU machine's PyTorch venv need not have numpy)


def circular_lr(lr, t, nb, div=32, cut_div=5):
    """fastai 0.7 CircularLR (use_clr=(div, cut_div)) at iteration t of a cycle of nb iterations."""
    cut = nb // cut_div
    pct = 1 - (t - cut) / (nb - cut) if t > cut else t / cut
    return lr * (1 + pct * (div - 1)) / div


def evaluate(net, x, y):
    net.eval()
    correct = torch.zeros((), dtype=torch.int64, device=x.device)
    with torch.no_grad():
        for lo in range(0, x.shape[0], 1024):
            correct += (net(x[lo:lo + 1024]).argmax(1) == y[lo:lo + 1024]).sum()
    net.train()
    return correct.item() / x.shape[0]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--bs", type=int, default=64)
    ap.add_argument("--placement", choices=["typical", "resident"], default="resident")
    ap.add_argument("--data", default=FMNIST)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--lr", type=float, default=0.1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--train-images", type=int, default=None)
    ap.add_argument("--eval-images", type=int, default=None)
    ap.add_argument("--target", type=float, default=0.91)
    a = ap.parse_args()

    if a.threads:
        torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    dev = torch.device(a.device)
    x_train, y_train, x_test, y_test = load(a.data)
    if a.train_images:
        x_train, y_train = x_train[:a.train_images].clone(), y_train[:a.train_images].clone()
    if a.eval_images:
        x_test, y_test = x_test[:a.eval_images].clone(), y_test[:a.eval_images].clone()
    n = x_train.shape[0]
    batches = (n + a.bs - 1) // a.bs
    net = cnn().to(dev)
    opt = torch.optim.SGD(net.parameters(), lr=a.lr / 32, momentum=0.9)
    gen = torch.Generator().manual_seed(a.seed)
    x_test, y_test = x_test.to(dev), y_test.to(dev)
    resident = a.placement == "resident"
    if resident:
        x_train, y_train = x_train.to(dev), y_train.to(dev)
        loader = None
    else:
        loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x_train, y_train), batch_size=a.bs, shuffle=True,
                                             generator=gen, pin_memory=dev.type == "cuda", num_workers=0)
    total = batches * a.epochs
    ends, accuracy = [], []
    step = 0
    start = time.perf_counter()
    for _ in range(a.epochs):
        net.train()
        if resident:
            order = torch.randperm(n, generator=gen).to(dev)
            loss_sum = torch.zeros((), device=dev)
            pairs = ((x_train.index_select(0, idx), y_train.index_select(0, idx))
                     for idx in (order[lo:lo + a.bs] for lo in range(0, n, a.bs)))
        else:
            loss_sum = 0.0
            pairs = ((xb.to(dev, non_blocking=True), yb.to(dev, non_blocking=True)) for xb, yb in loader)
        for xb, yb in pairs:
            for group in opt.param_groups:
                group["lr"] = circular_lr(a.lr, step, total)
            loss = F.cross_entropy(net(xb), yb)
            if resident:
                loss_sum += loss.detach()
            else:
                loss_sum += loss.item()
            opt.zero_grad()
            loss.backward()
            opt.step()
            step += 1
        if not torch.isfinite(torch.as_tensor(float(loss_sum))):
            raise SystemExit("training diverged")
        accuracy.append(evaluate(net, x_test, y_test))
        ends.append(time.perf_counter() - start)
    reached = next((i for i, acc in enumerate(accuracy) if acc >= a.target), None)
    print(json.dumps({
        "contender": f"pytorch-{a.placement}", "bs": a.bs, "epochs": a.epochs,
        "epoch_end_seconds": [round(s, 3) for s in ends], "accuracy": [round(v, 5) for v in accuracy],
        "total_seconds": round(ends[-1], 3), "seconds_per_epoch": round(ends[-1] / a.epochs, 3), "target": a.target,
        "time_to_target": None if reached is None else round(ends[reached], 3), "placement": a.placement,
        "device": str(dev), "torch": torch.__version__,
    }))


if __name__ == "__main__":
    main()
