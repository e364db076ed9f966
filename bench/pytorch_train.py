#!/usr/bin/python3
"""PyTorch peer of the training benchmark (Debian python3-torch 1.13.1, run with /usr/bin/python3).

The same models as Cadence's ModelZoo, the same data (Fashion-MNIST read from the IDX .gz files, scaled to [0, 1]
and standardized with the training set's mean and std), batch 256, torch.set_num_threads(2), SGD momentum 0.9 with
OneCycleLR(max_lr 0.1) stepped every batch, reshuffled every epoch from a seeded generator, loss.item() every batch
(as Cadence's Recorder and the raw loop do). Data loading and evaluation are outside the train time.
Prints one JSON line; the BLAS that was really loaded is read from /proc/self/maps.
"""
import time

_STARTED = time.time()  # before importing torch: time to accuracy counts the import and the data load

import argparse
import ctypes
import json
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fmnist import FMNIST, cnn, load  # noqa: E402  (the same data and CNN as the GPU peer)


def model(name):
    if name == "mlp":
        return nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 10))
    return cnn()


def blas():
    """The BLAS that serves torch's libblas.so.3 in this process and, for OpenBLAS, its core type."""
    paths = sorted({line.split()[-1] for line in open("/proc/self/maps") if "blas" in line.lower() and "/" in line})
    libblas = [p for p in paths if os.path.basename(p).startswith("libblas.so")]
    name = "unknown"
    if libblas:
        try:
            f = ctypes.CDLL(libblas[0]).openblas_get_corename
            f.restype = ctypes.c_char_p
            name = "OpenBLAS " + f().decode()
        except (OSError, AttributeError):
            name = "reference BLAS" if "/blas/" in libblas[0] else os.path.basename(os.path.realpath(libblas[0]))
    return {"name": name, "libraries": paths}


def evaluate(net, x_test, y_test, bs):
    net.eval()
    correct = 0
    with torch.no_grad():
        for lo in range(0, x_test.shape[0], bs):
            correct += (net(x_test[lo:lo + bs]).argmax(1) == y_test[lo:lo + bs]).sum().item()
    net.train()
    return correct / x_test.shape[0]


def train(net, x, y, batches, epochs, bs, max_lr, gen, timed, after_epoch=None):
    opt = torch.optim.SGD(net.parameters(), lr=max_lr / 25, momentum=0.9)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=max_lr, total_steps=batches * epochs) if timed else None
    n = x.shape[0]
    net.train()
    seconds = []
    for _ in range(epochs):
        start = time.perf_counter()
        order = torch.randperm(n, generator=gen)
        loss_sum = 0.0
        for b in range(batches):
            lo = b * bs % n
            idx = order[lo:lo + bs]
            xb, yb = x.index_select(0, idx), y.index_select(0, idx)
            loss = F.cross_entropy(net(xb), yb)
            loss_sum += loss.item()
            opt.zero_grad()
            loss.backward()
            opt.step()
            if sched is not None:
                sched.step()
        seconds.append(round(time.perf_counter() - start, 4))
        if not np.isfinite(loss_sum):
            raise SystemExit("training diverged")
        if after_epoch is not None:
            after_epoch()
    return seconds


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", choices=["mlp", "cnn"], default="mlp")
    ap.add_argument("--data", default=FMNIST)
    ap.add_argument("--bs", type=int, default=256)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--train-images", type=int, default=None)
    ap.add_argument("--eval-images", type=int, default=None)
    ap.add_argument("--warmup-batches", type=int, default=10)
    ap.add_argument("--max-lr", type=float, default=0.1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--label", default="pytorch")
    ap.add_argument("--eval-every-epoch", action="store_true",
                    help="time to accuracy: test accuracy after every epoch, with the seconds since the process started")
    a = ap.parse_args()

    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    x_train, y_train, x_test, y_test = load(a.data)
    if a.train_images:
        x_train, y_train = x_train[:a.train_images].clone(), y_train[:a.train_images].clone()
    if a.eval_images:
        x_test, y_test = x_test[:a.eval_images], y_test[:a.eval_images]
    n = x_train.shape[0]
    batches = (n + a.bs - 1) // a.bs
    net = model(a.model)
    gen = torch.Generator().manual_seed(a.seed)

    if a.warmup_batches:
        train(net, x_train, y_train, a.warmup_batches, 1, a.bs, a.max_lr, gen, timed=False)
    per_epoch = []

    def after_epoch():
        per_epoch.append({"accuracy": round(evaluate(net, x_test, y_test, a.bs), 5), "since_start": round(time.time() - _STARTED, 3)})

    seconds = train(net, x_train, y_train, batches, a.epochs, a.bs, a.max_lr, gen, timed=True,
                    after_epoch=after_epoch if a.eval_every_epoch else None)

    start = time.perf_counter()
    accuracy = per_epoch[-1]["accuracy"] if per_epoch else evaluate(net, x_test, y_test, a.bs)
    eval_seconds = time.perf_counter() - start

    print(json.dumps({
        "contender": a.label, "model": a.model, "epochs": a.epochs, "batches_per_epoch": batches,
        "images_per_epoch": n, "epoch_train_seconds": seconds,
        "images_per_second": round(n * a.epochs / sum(seconds), 1),
        "eval_images": int(x_test.shape[0]), "eval_seconds": round(eval_seconds, 3),
        "accuracy": round(accuracy, 5), "threads": torch.get_num_threads(),
        "per_epoch": per_epoch, "process_seconds": round(time.time() - _STARTED, 3),
        "torch": torch.__version__, "blas": blas(),
        "openblas_coretype": os.environ.get("OPENBLAS_CORETYPE"), "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"),
    }))


if __name__ == "__main__":
    main()
