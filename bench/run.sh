#!/usr/bin/env bash
# make bench: schedule overhead, Cadence (BenchmarkDotNet) beside PyTorch's scheduler.step(), in one run.
set -euo pipefail
cd "$(dirname "$0")/.."
quick=${1:-}
if [ -x /usr/bin/python3 ] && /usr/bin/python3 -c "import torch" 2>/dev/null; then
  /usr/bin/python3 bench/pytorch_scheduler_step.py
else
  echo "bench: PyTorch peer skipped (install Debian python3-torch to compare)"
fi
job=$([ "$quick" = "--quick" ] && echo Dry || echo Short)
dotnet run -c Release --project bench/Cadence.Bench -- --filter '*' --job "$job" --exporters markdown
if [ -x /usr/bin/python3 ] && /usr/bin/python3 -c "import torch" 2>/dev/null; then
  /usr/bin/python3 bench/pytorch_scheduler_step.py
fi
