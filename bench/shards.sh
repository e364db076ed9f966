#!/usr/bin/env bash
# What sharding costs (issue 16): a shard's overhead beyond its runs (process start-up, data load, shard.json and
# fsynced rows) and the merge of a 1,000-cell sweep (target < 5 s). Real runs: a 10 × 10 × 10 grid of fastai 0.7 CLR
# on the iris flowers (one seed, one epoch each), dealt to SHARDS processes that run side by side, then merged.
#   bash bench/shards.sh [--quick] [--shards N] [OUT_DIR]      (--quick: a 4 × 2 × 2 grid, a smoke test)
# Run it on a quiet machine after `make build`; it prints a Markdown table and leaves the sweep in OUT_DIR.
set -euo pipefail
cd "$(dirname "$0")/.."
quick=0 shards=4 out=""
while (($#)); do
  case "$1" in
    --quick) quick=1 ;;
    --shards) shards="$2"; shift ;;
    *) out="$1" ;;
  esac
  shift
done
out="${out:-$(mktemp -d -t cadence-shards.XXXXXX)}"
mkdir -p "$out"
grid="$out/grid"
rm -rf "$grid"
if ((quick)); then lrs="0.05,0.1,0.15,0.2" divs="10,32" cuts="3,5"; else
  lrs="$(seq -s, 0.02 0.02 0.2)" divs="$(seq -s, 5 5 50)" cuts="$(seq -s, 1 0.5 5.5)"; fi   # cut_div ≤ 8: iris has 8 batches an epoch
sweep=(./cadence sweep fit --data csv samples/data/iris.csv --target species --bs 16 --threads 1 --lr "grid:$lrs" --cycle-len 1
       --use-clr "div=$divs cut-div=$cuts" --out "$grid")

now() { date +%s.%N; }
start=$(now)
pids=()
for ((k = 1; k <= shards; k++)); do
  ( s=$(now); "${sweep[@]}" --shard "$k/$shards" >/dev/null 2>"$out/shard-$k.log"; echo "$s $(now)" >"$out/shard-$k.time" ) &
  pids+=($!)
done
for p in "${pids[@]}"; do wait "$p"; done
wall=$(echo "$(now) - $start" | bc)
s=$(now)
./cadence sweep merge --out "$grid" >/dev/null 2>"$out/merge.log"
merge=$(echo "$(now) - $s" | bc)

cells=$(($(wc -l <"$grid/sweep.csv") - 1))
echo "| shard | runs | wall (s) | Σ run seconds | overhead (s) |"
echo "|---|---|---|---|---|"
for ((k = 1; k <= shards; k++)); do
  read -r a b <"$out/shard-$k.time"
  csv="$grid/shard-$k-of-$shards/sweep.csv"
  # the 'seconds' column (15th) of each run: the run's own time, from model creation to its last validation
  read -r runs busy < <(awk -F, 'NR > 1 { n++; t += $(NF - 1) } END { printf "%d %.2f\n", n, t }' "$csv")
  printf "| %d/%d | %d | %.2f | %.2f | %.2f |\n" "$k" "$shards" "$runs" "$(echo "$b - $a" | bc)" "$busy" "$(echo "$b - $a - $busy" | bc)"
done
printf "\n%d cells in %d shards side by side: %.1f s; merge: %.2f s (target < 5 s for 1,000 cells)\n" "$cells" "$shards" "$wall" "$merge"
echo "sweep and logs in $out"
