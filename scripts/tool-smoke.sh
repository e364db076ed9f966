#!/usr/bin/env bash
# Packaging smoke test: installs the `cadence` tool from artifacts/ the way a user would (a local tool manifest in
# an empty folder, a private NuGet package folder and CLI home so nothing from this machine's caches is used or
# left behind — the tool resolver cache in ~/.dotnet would otherwise remember a deleted folder), then runs it.
# Prints one "smoke: PASS|FAIL <check>" line per check; exits 1 if any failed. Needs `make pack` (or scripts/test.sh).
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
artifacts=$root/artifacts
version=$(sed -n 's:.*<Version>\(.*\)</Version>.*:\1:p' Directory.Build.props | head -1)
libtorch=${NUGET_PACKAGES:-$HOME/.nuget/packages}/libtorch-cpu-linux-x64/2.10.0/runtimes/linux-x64/native
work=$(mktemp -d /tmp/cadence-tool-smoke.XXXXXX)
trap 'rm -rf "$work"' EXIT
export NUGET_PACKAGES=$work/packages DOTNET_CLI_HOME=$work/cli-home DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
failed=0
check() {   # check NAME COMMAND...: runs the command in $work, output in $work/out
  local name=$1; shift
  if (cd "$work" && "$@") >"$work/out" 2>&1; then echo "smoke: PASS $name"
  else echo "smoke: FAIL $name"; sed 's/^/    /' "$work/out" | tail -20; failed=1; fi
}
has() { grep -q -- "$1" "$work/out"; }

package=$artifacts/cadence.$version.nupkg
check "tool package exists and is small (no libtorch)" bash -c "[ -f '$package' ] && [ \$(stat -c %s '$package') -lt 20000000 ]"
check "dotnet tool install from artifacts/ into a local manifest" bash -c \
  "dotnet new tool-manifest && dotnet tool install --add-source '$artifacts' cadence --version '$version'"
check "dotnet tool run cadence -- --help" bash -c "dotnet tool run cadence -- --help | grep -q 'schedule <POLICY>'"
check "cadence schedule one-cycle --csv" bash -c \
  "dotnet cadence schedule one-cycle --max-lr 0.1 --total-steps 10 --csv > sched.csv && [ \$(wc -l < sched.csv) -eq 11 ] && sed -n 2p sched.csv | grep -q '^0,0.0040000000000000036,0.95$'"
check "cadence schedule --plots draws a PNG (Skia's native library is in the package)" bash -c \
  "dotnet cadence schedule one-cycle --max-lr 0.1 --total-steps 100 --plots s.png > /dev/null && head -c 4 s.png | grep -q PNG"
printf 'a,b,label\n' > "$work/tiny.csv"
for i in $(seq 1 60); do printf '%d,%d,%s\n' $((i % 7)) $((i % 5)) $([ $((i % 2)) -eq 0 ] && echo even || echo odd) >> "$work/tiny.csv"; done
check "cadence fit without libtorch: clear error, exit 1" bash -c \
  "mkdir -p home && HOME='$work/home' dotnet cadence fit --data csv tiny.csv --target label --epochs 1 --threads 1 > fit.txt 2>&1; rc=\$?; cat fit.txt; [ \$rc -eq 1 ] && grep -q 'CADENCE_LIBTORCH' fit.txt && ! grep -q '   at ' fit.txt"
if [ -f "$libtorch/libtorch_cpu.so" ]; then
  check "cadence fit with CADENCE_LIBTORCH" bash -c \
    "CADENCE_LIBTORCH='$libtorch' dotnet cadence fit --data csv tiny.csv --target label --epochs 2 --threads 1 --json 2>/dev/null | tail -1 | grep -q '\"epochs\"'"
else
  echo "smoke: FAIL cadence fit with CADENCE_LIBTORCH (no libtorch at $libtorch: run make build first)"; failed=1
fi
exit $failed
