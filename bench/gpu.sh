#!/usr/bin/env bash
# The GPU benchmark of issue 13 (docs/gpu.md, docs/benchmarks.md): Cadence's Learner vs a raw TorchSharp loop (batches
# copied every step / data resident on the GPU) vs PyTorch (typical DataLoader loop / data resident), the CNN on
# Fashion-MNIST with the demo's recipe, batch 64 and 256; s/epoch and time to 91% test accuracy, medians of --reps runs;
# also the Learner with TorchRuntime.Deterministic (the cost of deterministic kernels).
# Runs on a machine with a GPU after scripts/gpu-prep.sh (same .gpu/ as scripts/gpu-check.sh). Writes every run to
# OUT/gpu-bench.jsonl and prints the table.
#   bash bench/gpu.sh [--reps 3] [--out DIR] [--bs "64 256"]
#   bash bench/gpu.sh --smoke      # here, on the CPU: 2 small epochs, one rep: checks the drivers and the table
set -uo pipefail
cd "$(dirname "$0")/.."
source scripts/gpu-env.sh
reps=3; out=${OUT:-/tmp/cadence-gpu-bench}; sizes="64 256"; smoke=0
while [ $# -gt 0 ]; do
  case "$1" in
    --reps) reps=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --bs) sizes=$2; shift 2 ;;
    --smoke) smoke=1; shift ;;
    *) echo "bench/gpu.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
mkdir -p "$out"
results=$out/gpu-bench.jsonl
: >"$results"
if [ $smoke = 1 ]; then
  device=cpu; reps=1; sizes=64
  extra=(--train-images 1024 --eval-images 512 --epochs 2 --threads 2 --target 0.5)
  bench=(dotnet bench/GpuBench/bin/Release/net10.0/linux-x64/GpuBench.dll)
  python=/usr/bin/python3
  [ -f "${bench[1]}" ] || dotnet build bench/GpuBench/GpuBench.csproj -c Release -nologo -clp:ErrorsOnly >&2
else
  gpu_present || { echo "bench/gpu.sh: no GPU here (use --smoke for the CPU check)"; exit 0; }
  gpu_env || exit 1
  device=cuda; extra=(--data "$CADENCE_DATA")
  bench=("$CADENCE_DOTNET" "$CADENCE_APP/GpuBench.dll")
  python=python3
fi
for bs in $sizes; do
  for rep in $(seq 1 "$reps"); do
    for contender in learner learner-deterministic raw-typical raw-resident pytorch-typical pytorch-resident; do
      case $contender in
        learner) cmd=("${bench[@]}" learner --device $device --bs "$bs" "${extra[@]}") ;;
        learner-deterministic) cmd=("${bench[@]}" learner --deterministic --device $device --bs "$bs" "${extra[@]}") ;;
        raw-*) cmd=("${bench[@]}" raw --placement "${contender#raw-}" --device $device --bs "$bs" "${extra[@]}") ;;
        pytorch-*) cmd=("$python" bench/pytorch_gpu.py --placement "${contender#pytorch-}" --device $device --bs "$bs" "${extra[@]}") ;;
      esac
      line=$("${cmd[@]}" 2>"$out/$contender-bs$bs-$rep.err" | grep '^{' | tail -1)
      if [ -n "$line" ]; then echo "$line" >>"$results"; echo "bench/gpu.sh: $contender bs $bs rep $rep: $(python3 -c 'import json,sys; r=json.loads(sys.argv[1]); print(r["total_seconds"], "s, accuracy", r["accuracy"])' "$line")"
      else echo "bench/gpu.sh: $contender bs $bs rep $rep FAILED: $(tail -1 "$out/$contender-bs$bs-$rep.err")"; fi
    done
  done
done
python3 bench/gpu_table.py "$results"
