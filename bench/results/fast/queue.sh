#!/usr/bin/env bash
# Runs the FastSearch configurations of a queue file (one line of options each; '#' comments), one after another,
# appending every result line to bench/results/fast/runs.jsonl. Usage: queue.sh QUEUE_FILE [EXTRA OPTIONS…]
# Lines are consumed from the top (a line is removed once it has run), so other lines can be appended while it runs.
set -uo pipefail
cd "$(dirname "$0")/../../.."
queue=$1; shift
build=bench/FastSearch/bin/Release/net10.0/linux-x64
while true; do
  line=$(grep -v '^\s*#' "$queue" | grep -v '^\s*$' | head -1)
  [ -z "$line" ] && break
  echo "$(date +%H:%M:%S) start: $line" >&2
  # Run a private copy of the build, so rebuilding FastSearch meanwhile cannot change a running experiment's files.
  copy=$(mktemp -d /tmp/fastsearch.XXXXXX)
  cp -r "$build"/. "$copy"/
  # shellcheck disable=SC2086
  "$copy"/FastSearch train $line "$@" --out bench/results/fast/runs.jsonl > /dev/null || echo "$(date +%H:%M:%S) FAILED: $line" >&2
  rm -rf "$copy"
  python3 - "$queue" "$line" <<'PY'
import sys
path, line = sys.argv[1], sys.argv[2]
lines = open(path).read().splitlines()
for i, l in enumerate(lines):
    if l.strip() == line.strip():
        del lines[i]
        break
open(path, "w").write("\n".join(lines) + ("\n" if lines else ""))
PY
done
