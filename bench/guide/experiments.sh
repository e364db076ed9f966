#!/usr/bin/env bash
# The experiments of docs/guide.md, exactly as run: Fashion-MNIST, the CNN, SGD with momentum 0.9, batch 64,
# 20% of the training set (seeded) except in the last command, accuracy on the full 10,000-image test set after
# every epoch. Results land in bench/results/guide/ (the CSV and JSON are committed; charts and reports are not).
# Time on the 2-core machine, idle: about 15 minutes for each of the first two commands, 14 for the third.
set -euo pipefail
cd "$(dirname "$0")/../.."
cadence=${CADENCE:-src/Cadence.Cli/bin/Release/net10.0/linux-x64/cadence}
out=bench/results/guide
mkdir -p "$out"
common=(--model cnn --subset 0.2 --threads 2)

# 1. Schedules at equal epochs (3), three seeds: CLR (32,5) in one cycle and in three, fastai 0.7's cosine
#    (SGDR with its warm-up), PyTorch's 1cycle, and constant learning rates.
"$cadence" compare "${common[@]}" --epochs 3 --seeds 3 --target-accuracy 0.88 --out "$out/schedules" \
  "clr-32-5: fit lr=0.1 cycle-len=3 use-clr=32,5" \
  "clr-32-5-x3: fit lr=0.1 cycle-len=1 cycles=3 use-clr=32,5" \
  "cosine: fit lr=0.1 cycle-len=3" \
  "1cycle: one-cycle max-lr=0.1" \
  "constant-0.1: fit lr=0.1 cycles=3" \
  "constant-0.01: fit lr=0.01 cycles=3"

# 2. use_clr's two numbers: div (how far below the peak the cycle starts and ends) by cut_div (1/cut_div of the
#    cycle climbs), three epochs, three seeds.
"$cadence" sweep fit "${common[@]}" --lr 0.1 --cycle-len 3 --use-clr "div=10,32,40 cut-div=3,5,10" --seeds 3 \
  $( [ -f "$out/clr-grid/sweep.csv" ] && echo --resume ) --out "$out/clr-grid"

# 3. The first comparison on the full training set (60,000 images), one seed: about 14 minutes.
"$cadence" compare --model cnn --threads 2 --epochs 3 --seeds 1 --target-accuracy 0.91 --out "$out/full-data" \
  "clr-32-5: fit lr=0.1 cycle-len=3 use-clr=32,5" \
  "cosine: fit lr=0.1 cycle-len=3" \
  "1cycle: one-cycle max-lr=0.1" \
  "constant-0.01: fit lr=0.01 cycles=3"
