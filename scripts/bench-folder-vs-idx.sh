#!/usr/bin/env bash
# Training speed from an image folder vs the same pixels as in-memory IDX data (issue 14's target: the same images/s,
# ±5%). Fashion-MNIST's PNG folder (scripts/bench-decode.sh makes it) and its IDX files, the same model and schedule;
# both sources run in each repetition, which one goes first alternating, and the medians of `fit --json`'s images_per_second (training and
# validation, data already loaded) are compared. Run it on a quiet machine:
#   bash scripts/bench-folder-vs-idx.sh [FOLDER] [REPS]    (MODELS="mlp cnn" by default; CONFIG=Release)
set -euo pipefail
folder=${1:-/tmp/cadence-bench-decode/fashion-mnist-png}
reps=${2:-3}
root=$(cd "$(dirname "$0")/.." && pwd)
cli="dotnet $root/src/Cadence.Cli/bin/${CONFIG:-Release}/net10.0/linux-x64/cadence.dll"
[ -d "$folder/valid" ] || python3 "$root/scripts/fashion_mnist_to_png.py" "$folder"
# One run of each source first, untimed: the folder's decode cache is written and both sources are in the page cache.
$cli fit --data folder "$folder" --model mlp --lr 0.1 --cycle-len 1 --use-clr 32,5 --json >/dev/null 2>&1
$cli fit --model mlp --lr 0.1 --cycle-len 1 --use-clr 32,5 --json >/dev/null 2>&1
for model in ${MODELS:-mlp cnn}; do
  epochs=$([ "$model" = mlp ] && echo 3 || echo 1)
  for r in $(seq "$reps"); do
    order="idx folder"; [ $((r % 2)) -eq 0 ] && order="folder idx"   # who goes first alternates
    for source in $order; do
      data=(); [ "$source" = folder ] && data=(--data folder "$folder")
      json=$($cli fit "${data[@]}" --model "$model" --lr 0.1 --cycle-len "$epochs" --use-clr 32,5 --json 2>/dev/null | tail -1)
      echo "$model $source $r $json"
    done
  done
done | python3 -c '
import json, statistics, sys
runs = {}
for line in sys.stdin:
    model, source, rep, js = line.split(" ", 3)
    v = json.loads(js)
    runs.setdefault((model, source), []).append((v["images_per_second"], v["accuracy"]))
    ips, acc = v["images_per_second"], v["accuracy"]
    print(f"{model:4} {source:6} rep {rep}: {ips:>10,.1f} images/s  accuracy {acc:.4f}", flush=True)
for model in dict.fromkeys(m for m, _ in runs):
    idx = statistics.median(r[0] for r in runs[(model, "idx")])
    folder = statistics.median(r[0] for r in runs[(model, "folder")])
    print(f"{model}: median idx {idx:,.1f} images/s, folder {folder:,.1f} images/s: folder/idx = {folder / idx:.3f}")
'
