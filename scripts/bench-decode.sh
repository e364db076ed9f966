#!/usr/bin/env bash
# Decode benchmark of image folders (issue 14): Fashion-MNIST as 70,000 28×28 PNGs (60,000 train + 10,000 valid),
# a cold start (decode in parallel + write the cache) and a cached start, with images/s and their ratio.
# Targets: ≥ 5,000 images/s cold on 2 cores; cached start ≥ 20× faster. Run it on a quiet machine:
#   bash scripts/bench-decode.sh [WORKDIR]        (THREADS=2 by default; WORKDIR default /tmp/cadence-bench-decode)
set -euo pipefail
work=${1:-/tmp/cadence-bench-decode}
root=$(cd "$(dirname "$0")/.." && pwd)
if [ ! -d "$work/fashion-mnist-png/train" ]; then
  python3 "$root/scripts/fashion_mnist_to_png.py" "$work/fashion-mnist-png"
fi
cd "$root/scripts"
dotnet run -c Release bench_decode.cs -- "$work/fashion-mnist-png" "$work/cache" "${THREADS:-2}"
