#!/usr/bin/env bash
# The main job, end to end: the seed's fastai 0.7 call on Fashion-MNIST with the CNN, three epochs
# (learn.fit(0.1, 1, cycle_len=3, use_clr=(32, 5))), then a check that it reached >= 90% test accuracy.
set -euo pipefail
config=${1:-Release}
cd "$(dirname "$0")/.."
cli="dotnet src/Cadence.Cli/bin/$config/net10.0/linux-x64/cadence.dll"
if [ ! -e /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ]; then
  echo "demo: Fashion-MNIST is missing: run 'make setup' as root (Debian package dataset-fashion-mnist)" >&2; exit 1
fi
out=${DEMO_OUT:-out/demo}
echo "cadence fit --model cnn --lr 0.1 --cycle-len 3 --use-clr 32,5 --out $out --overwrite"
json=$($cli fit --model cnn --lr 0.1 --cycle-len 3 --use-clr 32,5 --out "$out" --overwrite --json)   # the demo replaces its last run
echo "$json"
acc=$(grep -o '"accuracy":[0-9.eE+-]*' <<<"$json" | cut -d: -f2)
if awk -v a="$acc" 'BEGIN { exit !(a >= 0.90) }'; then
  echo "demo: test accuracy $acc >= 0.90"
else
  echo "demo: test accuracy $acc is below 0.90" >&2; exit 1
fi
