"""Fashion-MNIST and the CNN of Cadence's ModelZoo for the PyTorch peers (pytorch_train.py, pytorch_gpu.py); torch and
the standard library only."""
import gzip
import struct

import torch
import torch.nn as nn

FMNIST = "/usr/share/datasets/fashion-mnist"


def read_idx(path):
    with gzip.open(path, "rb") if path.endswith(".gz") else open(path, "rb") as f:
        data = f.read()
    zero, dtype, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0 or dtype != 0x08:
        raise SystemExit(f"{path}: not an unsigned-byte IDX file")
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    return torch.frombuffer(bytearray(data[4 + 4 * ndim:]), dtype=torch.uint8).reshape(dims)


def load(directory):
    """Fashion-MNIST as Cadence's IdxImages loads it: [N, 1, 28, 28] scaled to [0, 1], standardized with the training set's mean and std."""
    def images(prefix):
        return (read_idx(f"{directory}/{prefix}-images-idx3-ubyte.gz").float() / 255.0).unsqueeze(1)

    def labels(prefix):
        return read_idx(f"{directory}/{prefix}-labels-idx1-ubyte.gz").long()

    x_train, x_test = images("train"), images("t10k")
    mean, std = x_train.mean().item(), x_train.std().item()
    return (x_train - mean) / std, labels("train"), (x_test - mean) / std, labels("t10k")


def cnn():
    """Cadence's ModelZoo cnn."""
    return nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(3136, 128), nn.ReLU(), nn.Linear(128, 10))
