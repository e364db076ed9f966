#!/usr/bin/env bash
# make bench [QUICK=1 | FULL=1]: every benchmark of docs/benchmarks.md in one run.
#   1. schedule overhead: PyTorch's scheduler.step(), Cadence's BenchmarkDotNet suite, PyTorch again;
#   2. training (bench/harness.py): throughput of the Learner, the raw TorchSharp loop and PyTorch (two BLAS set-ups),
#      compute floor, phase profile, memory over epochs, time to accuracy.
# Default ≈ 25 min on an idle 2-core machine, QUICK ≈ 5 min (plumbing check, docs untouched), FULL: hours.
# Extra arguments go to bench/harness.py (e.g. --stages throughput,floor --reps 3).
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-}
case "$mode" in --quick|--full) shift ;; *) mode= ;; esac
start=$(date +%s)

have_torch() { [ -x /usr/bin/python3 ] && /usr/bin/python3 -c "import torch" 2>/dev/null; }
echo "== schedule overhead"
if have_torch; then /usr/bin/python3 bench/pytorch_scheduler_step.py
else echo "bench: PyTorch peer skipped (install Debian python3-torch to compare)"; fi
job=$([ "$mode" = --quick ] && echo Dry || echo Short)
dotnet run -c Release --project bench/Cadence.Bench -- --filter '*' --job "$job" --exporters markdown
if have_torch; then /usr/bin/python3 bench/pytorch_scheduler_step.py; fi

echo "== training benchmarks"
if [ ! -x /usr/bin/python3 ]; then
  echo "bench: training benchmarks need /usr/bin/python3 (the harness and the PyTorch peer); skipped" >&2
  exit 1
fi
for p in bench/TrainBench/TrainBench.csproj bench/RawLoop/RawLoop.csproj bench/FastSearch/FastSearch.csproj; do
  dotnet build "$p" -c Release -nologo -clp:ErrorsOnly
done
/usr/bin/python3 bench/harness.py $mode "$@"
echo "bench: done in $(( ($(date +%s) - start) / 60 )) min"
