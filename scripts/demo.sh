#!/usr/bin/env bash
# The main job, shown end to end. Until the Learner lands it previews the seed's schedule.
set -euo pipefail
config=${1:-Release}
cd "$(dirname "$0")/.."
cli="dotnet src/Cadence.Cli/bin/$config/net10.0/linux-x64/cadence.dll"
$cli schedule fit --lr 0.01 --cycle-len 3 --use-clr 32,5 --batches-per-epoch 100 --explain
