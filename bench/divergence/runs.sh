#!/usr/bin/env bash
# DivergenceGuard evidence (docs/checkpoints.md): runs that train fine and runs that diverge, each writing
# OUT/NAME/history.json (every step's loss and smoothed loss) and OUT/NAME/exit; then bench/divergence/analyze.py OUT.
# Deterministic (one torch thread), so a loaded machine gives the same numbers; about 75 minutes on one core.
# usage: bench/divergence/runs.sh [OUT] (default out/divergence); needs Fashion-MNIST for the mlp/cnn runs.
set -uo pipefail
cd "$(dirname "$0")/../.."
out=$(realpath -m "${1:-out/divergence}")
cli=$PWD/src/Cadence.Cli/bin/${CONFIG:-Release}/net10.0/linux-x64/cadence
mkdir -p "$out" && cd "$out"
python3 - <<'PY'
import random
# The CSV of tests/Cadence.Cli.Tests/TestData.cs (three classes, 13 columns, 300 rows; python's generator, not .NET's),
# separable and noisy, and the separable one with 3% of its labels flipped (the loss falls near zero, the flipped rows spike).
for name, noisy, flip in (("three.csv", False, 0), ("noisy.csv", True, 0), ("flipped.csv", False, 0.03)):
    rng, flips = random.Random(5), random.Random(11)
    lines = [",".join([f"f{i}" for i in range(13)] + ["label"])]
    for r in range(300):
        c = r % 3
        vals = [f"{((0.35 if i % 3 == c else 0.0) if noisy else c * (3.0 if i % 3 == c else 0.5)) + rng.random():.3f}" for i in range(13)]
        label = (c + 1) % 3 if flips.random() < flip else c
        lines.append(",".join(vals + [["alpha", "beta", "gamma"][label]]))
    open(name, "w").write("\n".join(lines) + "\n")
PY
run() {
  local name=$1; shift
  [ -e "$name/exit" ] && return
  echo "== $name: cadence fit $*"
  rm -rf "$name"
  "$cli" fit --threads 1 --out "$name" --json "$@" 2>"$name.err" | tail -1
  echo "${PIPESTATUS[0]}" > "$name/exit"
}
for csv in three noisy; do
  run csv-$csv-clr --data csv $csv.csv --target label --bs 16 --lr 0.05 --cycle-len 2 --use-clr 10,4,0.95,0.85
  run csv-$csv-const --data csv $csv.csv --target label --bs 16 --epochs 10
  run csv-$csv-1cycle --data csv $csv.csv --target label --bs 16 --epochs 10 --schedule fit-one-cycle --lr-max 0.1
  run csv-$csv-lr1 --data csv $csv.csv --target label --bs 16 --epochs 10 --lr 1
  run csv-$csv-lr10 --data csv $csv.csv --target label --bs 16 --epochs 3 --lr 10
  run csv-$csv-lr99 --data csv $csv.csv --target label --bs 16 --epochs 3 --lr 99
done
run csv-three-long --data csv three.csv --target label --bs 16 --epochs 60 --lr 0.5
run csv-noisy-long --data csv noisy.csv --target label --bs 16 --epochs 60 --lr 0.1
run csv-flipped-const --data csv flipped.csv --target label --bs 16 --epochs 40 --lr 0.1
run csv-flipped-1cycle --data csv flipped.csv --target label --bs 16 --epochs 40 --schedule fit-one-cycle --lr-max 0.5
run csv-flipped-lr1 --data csv flipped.csv --target label --bs 16 --epochs 40 --lr 1
for lr in 1 3 10; do run csv-noisy64-lr$lr --data csv noisy.csv --target label --model mlp --epochs 10 --lr $lr --seed 0; done
# Fashion-MNIST: 20% of the training set (188 batches per epoch), then the full set (938)
run mlp-clr-s --model mlp --subset 0.2 --lr 0.1 --cycle-len 3 --use-clr 32,5
run mlp-1cycle-s --model mlp --subset 0.2 --epochs 3 --schedule fit-one-cycle --lr-max 0.1
run mlp-cos-s --model mlp --subset 0.2 --lr 0.1 --cycle-len 3
run mlp-lr10-s --model mlp --subset 0.2 --epochs 1 --lr 10
run mlp-lr99-s --model mlp --subset 0.2 --epochs 1 --lr 99
run cnn-clr-s --model cnn --subset 0.2 --lr 0.1 --cycle-len 3 --use-clr 32,5
run cnn-1cycle-s --model cnn --subset 0.2 --epochs 3 --schedule fit-one-cycle --lr-max 0.1
run cnn-cos-s --model cnn --subset 0.2 --lr 0.1 --cycle-len 3
run cnn-clr1-s --model cnn --subset 0.2 --lr 1 --cycle-len 3 --use-clr 32,5
run cnn-lr10-s --model cnn --subset 0.2 --epochs 1 --lr 10
run cnn-lr99-s --model cnn --subset 0.2 --epochs 1 --lr 99
run mlp-clr --model mlp --lr 0.1 --cycle-len 3 --use-clr 32,5
run mlp-1cycle --model mlp --epochs 3 --schedule fit-one-cycle --lr-max 0.1
run cnn-clr --model cnn --lr 0.1 --cycle-len 3 --use-clr 32,5
run cnn-1cycle --model cnn --epochs 3 --schedule fit-one-cycle --lr-max 0.1
python3 "$OLDPWD/bench/divergence/analyze.py" "$out"
