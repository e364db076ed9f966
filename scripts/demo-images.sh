#!/usr/bin/env bash
# Your own images, end to end: Fashion-MNIST written out as an image folder of PNGs (out/fashion-mnist-png/train/<class>/
# and valid/<class>/, by scripts/fashion_mnist_to_png.py), the demo's recipe trained from that folder
# (learn.fit(0.1, 1, cycle_len=3, use_clr=(32, 5)) with the CNN), a check that it reached >= 90% on the 10,000 test
# images, then `cadence predict` on the first ten of them.
set -euo pipefail
config=${1:-Release}
cd "$(dirname "$0")/.."
cli="dotnet src/Cadence.Cli/bin/$config/net10.0/linux-x64/cadence.dll"
if [ ! -e /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ]; then
  echo "demo-images: Fashion-MNIST is missing: run 'make setup' as root (Debian package dataset-fashion-mnist)" >&2; exit 1
fi
images=${DEMO_IMAGES:-out/fashion-mnist-png}
out=${DEMO_OUT:-out/demo-images}
[ -d "$images/valid" ] || python3 scripts/fashion_mnist_to_png.py "$images"
echo "cadence fit --data folder $images --model cnn --lr 0.1 --cycle-len 3 --use-clr 32,5 --out $out"
json=$($cli fit --data folder "$images" --model cnn --lr 0.1 --cycle-len 3 --use-clr 32,5 --out "$out" --json)
echo "$json"
acc=$(grep -o '"accuracy":[0-9.eE+-]*' <<<"$json" | cut -d: -f2)
if awk -v a="$acc" 'BEGIN { exit !(a >= 0.90) }'; then
  echo "demo-images: test accuracy $acc >= 0.90"
else
  echo "demo-images: test accuracy $acc is below 0.90" >&2; exit 1
fi
echo "cadence predict --model-dir $out --top-k 2 $images/valid/*/0000?.png"
$cli predict --model-dir "$out" --top-k 2 "$images"/valid/*/0000?.png
