#!/usr/bin/env bash
# The GPU acceptance run (issue 13, docs/gpu.md): the published cadence CLI on a GPU, with a carried .NET runtime and
# the CUDA libtorch of the machine's PyTorch. Prints one "gpu-check: PASS|FAIL <check> (<detail>)" line per check and
# ends with "N passed, M failed"; exits 1 when a check failed. Without a GPU it says so and exits 0.
#
#   bash scripts/gpu-prep.sh                 # here: .gpu/ (app without CPU libtorch, .NET runtime, Fashion-MNIST)
#   bash scripts/gpu-check.sh [OUT]          # there: OUT (default $OUT or /tmp/cadence-gpu-check) keeps the logs
#
# One `device` run does it all (carry: [".gpu"]); see docs/gpu.md for the exact command.
set -uo pipefail
cd "$(dirname "$0")/.."
source scripts/gpu-env.sh

if ! gpu_present; then
  echo "gpu-check: no GPU here (nvidia-smi lists none): nothing to check"
  exit 0
fi
gpu_env || { echo "0 passed, 1 failed"; exit 1; }
out=${1:-${OUT:-/tmp/cadence-gpu-check}}   # logs only: the runs' directories (checkpoints, charts) stay in $work
work=$(mktemp -d /tmp/cadence-gpu-runs.XXXXXX)
mkdir -p "$out"
nvidia-smi -L | sed 's/^/gpu-check: /'
echo "gpu-check: dotnet $CADENCE_DOTNET, app $CADENCE_APP, data $CADENCE_DATA, libtorch $CADENCE_LIBTORCH"

cadence() { "$CADENCE_DOTNET" "$CADENCE_APP/cadence.dll" "$@"; }
gpubench() { "$CADENCE_DOTNET" "$CADENCE_APP/GpuBench.dll" "$@"; }
# The value of a field of the last JSON line of a file (python3 is there: it brought the CUDA libtorch).
field() { python3 -c 'import json, sys
line = [l for l in open(sys.argv[1]) if l.startswith("{")][-1]
v = json.loads(line)
for k in sys.argv[2].split("."): v = v[k]
print(v)' "$1" "$2" 2>/dev/null; }
at_least() { python3 -c 'import sys; sys.exit(0 if float(sys.argv[1]) >= float(sys.argv[2]) else 1)' "$1" "$2" 2>/dev/null; }

passed=0; failed=0
check() {   # check NAME LOG CONDITION DETAIL
  local name=$1 log=$2 ok=$3 detail=$4
  if [ "$ok" = yes ]; then echo "gpu-check: PASS $name ($detail)"; passed=$((passed + 1))
  else echo "gpu-check: FAIL $name ($detail; log: $log)"; tail -5 "$log" 2>/dev/null | sed 's/^/    /'; failed=$((failed + 1)); fi
}
demo=(--data idx "$CADENCE_DATA" --model cnn --lr 0.1 --cycle-len 3 --use-clr 32,5)
# killed_after_checkpoint RUN ARGS…: runs cadence ARGS (writing into RUN) and kills it (-9) once its first checkpoint is
# complete, or after 60 s; the log is OUT/<name of RUN>.log.
killed_after_checkpoint() {
  local run=$1; shift
  cadence "$@" >"$out/$(basename "$run").log" 2>&1 &
  local pid=$!
  for _ in $(seq 1 600); do
    ls -d "$run"/checkpoints/ckpt-* >/dev/null 2>&1 && break
    kill -0 $pid 2>/dev/null || break
    sleep 0.1
  done
  kill -9 $pid 2>/dev/null; wait $pid 2>/dev/null
}

# 1–2. The demo on the GPU, at batch 64 (the demo's) and 256.
for bs in 64 256; do
  log=$out/demo-bs$bs.log
  cadence fit --device cuda "${demo[@]}" --bs $bs --out "$work/demo-bs$bs" --json >"$log" 2>&1
  rc=$?; acc=$(field "$log" accuracy); dev=$(field "$log" device); secs=$(field "$log" seconds)
  ok=no; [ $rc -eq 0 ] && [ "$dev" = cuda:0 ] && at_least "${acc:-0}" 0.90 && ok=yes
  check "fit --device cuda, batch $bs, ≥ 90% test accuracy" "$log" $ok "exit $rc, device ${dev:-?}, accuracy ${acc:-?}, ${secs:-?} s"
done

# 3. fit → checkpoint → kill -9 → resume, on the GPU.
run=$work/killed
killed_after_checkpoint "$run" fit --device cuda "${demo[@]}" --bs 256 --out "$run" --checkpoint-every 100
first=$(ls -d "$run"/checkpoints/ckpt-* 2>/dev/null | head -1)
cadence fit --resume "$run" --device cuda --json >"$out/resumed.log" 2>&1
rc=$?; acc=$(field "$out/resumed.log" accuracy); its=$(field "$out/resumed.log" iterations)
ok=no; [ -n "$first" ] && [ $rc -eq 0 ] && [ "$its" = 705 ] && at_least "${acc:-0}" 0.90 && ok=yes
check "killed after checkpoint $(basename "${first:-none}"), resumed on the GPU" "$out/resumed.log" $ok "exit $rc, iterations ${its:-?} of 705, accuracy ${acc:-?}"

# 4. A checkpoint written on the GPU, resumed on the CPU (a small run: the CPU finishes it in seconds).
run=$work/to-cpu
killed_after_checkpoint "$run" fit --device cuda --data idx "$CADENCE_DATA" --model mlp --subset 0.2 --lr 0.1 --cycle-len 2 --use-clr 32,5 \
  --bs 256 --out "$run" --checkpoint-every 20
saved=$(python3 -c 'import json, glob, sys; p = sorted(glob.glob(sys.argv[1] + "/checkpoints/ckpt-*/state.json")); print(json.load(open(p[0]))["device"] if p else "")' "$run" 2>/dev/null)
cadence fit --resume "$run" --device cpu --json >"$out/to-cpu-resumed.log" 2>&1
rc=$?; acc=$(field "$out/to-cpu-resumed.log" accuracy); dev=$(field "$out/to-cpu-resumed.log" device)
ok=no; [ "$saved" = cuda:0 ] && [ $rc -eq 0 ] && [ "$dev" = cpu ] && at_least "${acc:-0}" 0.75 && ok=yes
check "checkpoint saved on ${saved:-?}, resumed on the CPU" "$out/to-cpu-resumed.log" $ok "exit $rc, device ${dev:-?}, accuracy ${acc:-?}"

# 5. The LR range test on the GPU.
log=$out/lr-find.log
cadence lr-find --device cuda --data idx "$CADENCE_DATA" --model cnn --json >"$log" 2>&1
rc=$?; valley=$(field "$log" suggestions.valley); n=$(python3 -c 'import json, sys; print(len(json.loads([l for l in open(sys.argv[1]) if l.startswith("{")][-1])["lrs"]))' "$log" 2>/dev/null)
ok=no; [ $rc -eq 0 ] && [ -n "$valley" ] && at_least "${n:-0}" 20 && ok=yes
check "lr-find --device cuda" "$log" $ok "exit $rc, ${n:-?} points, valley ${valley:-?}"

# 6. compare of two schedules on the GPU.
log=$out/compare.log
cadence compare --device cuda --data idx "$CADENCE_DATA" --model cnn --epochs 1 --seeds 1 --out "$work/compare" \
  "clr: fit lr=0.1 cycle-len=1 use-clr=32,5" "1cycle: one-cycle max-lr=0.1" >"$log" 2>&1
rc=$?; cp "$work/compare/results.csv" "$out/compare-results.csv" 2>/dev/null
rows=$(($(wc -l <"$out/compare-results.csv" 2>/dev/null || echo 1) - 1))
ok=no; [ $rc -eq 0 ] && [ "$rows" -eq 2 ] && ok=yes
check "compare --device cuda, two schedules" "$log" $ok "exit $rc, $rows runs in results.csv"

# 7. Optimizer steps on CUDA equal the CPU's (TF32 off).
log=$out/step-check.log
gpubench step-check --device cuda --data "$CADENCE_DATA" >"$log" 2>&1
rc=$?; diff=$(field "$log" max_abs_weight_diff); ok=$(field "$log" ok)
check "two SGD steps on CUDA equal the CPU's within 1e-5" "$log" "$([ $rc -eq 0 ] && [ "$ok" = True ] && echo yes || echo no)" "exit $rc, largest weight difference ${diff:-?}"

# 8. Your own images on the GPU (issue 14): fine-tune a torchvision-format ResNet-18 on the repository's tiny image
# folder, from a state dict saved by the machine's torchvision when it has one (random weights otherwise).
log=$out/fine-tune.log
weights=(); detail="random init (no torchvision here)"
if python3 -c 'import sys, torch, torchvision; torch.save(torchvision.models.resnet18().state_dict(), sys.argv[1])' "$work/resnet18.pt" 2>/dev/null; then
  weights=(--weights "$work/resnet18.pt"); detail="weights saved by torchvision's resnet18().state_dict()"
fi
cadence fit --device cuda --data folder samples/images/fashion-mnist-tiny --model resnet18 "${weights[@]}" --fine-tune 1 --bs 16 \
  --cache-dir "$work/image-cache" --out "$work/fine-tune" --json >"$log" 2>&1
rc=$?; dev=$(field "$log" device); epochs=$(field "$log" epochs)
phases=$(python3 -c 'import json, sys; print(",".join(e["phase"] for e in json.load(open(sys.argv[1]))["epochs"]))' "$work/fine-tune/history.json" 2>/dev/null)
ok=no; [ $rc -eq 0 ] && [ "${dev#cuda}" != "$dev" ] && [ "$phases" = "frozen,unfrozen" ] && ok=yes
check "fit --fine-tune 1 --model resnet18 on an image folder, --device cuda" "$log" $ok "exit $rc, device ${dev:-?}, epochs ${epochs:-?} ($phases), $detail"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
