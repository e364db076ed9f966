#!/usr/bin/python3
"""Writes Fashion-MNIST as an image folder: OUT/train/<class>/<n>.png and OUT/valid/<class>/<n>.png.

    python3 scripts/fashion_mnist_to_png.py OUT [--source /usr/share/datasets/fashion-mnist] [--limit N] [--per-class N [--valid-per-class M]]

The layout `cadence fit --data folder OUT` (and fastai's ImageDataLoaders.from_folder) reads. Images are 28x28 grey
PNGs (colour type 0) written with the standard library only, so the pixels are exactly the IDX bytes; the test set is
the valid/ folder. Class folder names are Fashion-MNIST's names, with '/' (not allowed in a file name) written as '-'
("T-shirt-top"). --limit N writes only the first N images of each split (a quick subset); --per-class N only the
first N training images of each class (and the first M validation images of each class, default N). Existing files are
overwritten; a run writes into OUT.tmp and renames it, so OUT is never half-written.
"""

import argparse
import gzip
import os
import shutil
import struct
import sys
import zlib

CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]


def read_idx(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    if data[:2] != b"\0\0" or data[2] != 8:
        raise SystemExit("%s: expected an IDX file of unsigned bytes" % path)
    ndim = data[3]
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    body = data[4 + 4 * ndim:]
    count = 1
    for d in dims:
        count *= d
    if len(body) != count:
        raise SystemExit("%s: expected %d data bytes for shape %s, found %d" % (path, count, list(dims), len(body)))
    return dims, body


def find(source, name):
    for candidate in (name + ".gz", name):
        p = os.path.join(source, candidate)
        if os.path.exists(p):
            return p
    raise SystemExit("%s: file not found (expected %s.gz or %s)" % (os.path.join(source, name), name, name))


def png(width, height, grey):
    def chunk(kind, payload):
        body = kind + payload
        return struct.pack(">I", len(payload)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)
    rows = b"".join(b"\0" + grey[y * width:(y + 1) * width] for y in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows, 6)) + chunk(b"IEND", b"")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out")
    ap.add_argument("--source", default="/usr/share/datasets/fashion-mnist")
    ap.add_argument("--limit", type=int, default=0, help="images per split (0: all)")
    ap.add_argument("--per-class", type=int, default=0, help="training images per class (0: all)")
    ap.add_argument("--valid-per-class", type=int, default=0, help="validation images per class (default: --per-class)")
    a = ap.parse_args()
    tmp = a.out.rstrip("/") + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    folders = [c.replace("/", "-") for c in CLASSES]
    total = 0
    for split, prefix in (("train", "train"), ("valid", "t10k")):
        (n, h, w), pixels = read_idx(find(a.source, prefix + "-images-idx3-ubyte"))
        (m,), labels = read_idx(find(a.source, prefix + "-labels-idx1-ubyte"))
        if m != n:
            raise SystemExit("%s: %d labels for %d images" % (prefix, m, n))
        if a.limit:
            n = min(n, a.limit)
        per_class = a.per_class if split == "train" else (a.valid_per_class or a.per_class)
        written = [0] * len(folders)
        for i in range(n):
            if per_class:
                if written[labels[i]] >= per_class:
                    continue
                written[labels[i]] += 1
            grey = pixels[i * h * w:(i + 1) * h * w]
            folder = os.path.join(tmp, split, folders[labels[i]])
            os.makedirs(folder, exist_ok=True)   # only classes that have images (a small --limit may miss some)
            with open(os.path.join(folder, "%05d.png" % i), "wb") as f:
                f.write(png(w, h, grey))
        total += sum(written) if per_class else n
    shutil.rmtree(a.out, ignore_errors=True)
    os.rename(tmp, a.out)
    print("wrote %d PNG images to %s (train/, valid/; %d classes)" % (total, a.out, len(folders)))


if __name__ == "__main__":
    sys.exit(main())
