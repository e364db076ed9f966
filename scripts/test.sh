#!/usr/bin/env bash
# Runs every test project and ends with one line "N passed, M failed" counted from the TRX results.
set -uo pipefail
config=${1:-Release}
cd "$(dirname "$0")/.."
results=TestResults
rm -rf "$results"
status=0
for proj in tests/*.Tests/*.csproj; do
  name=$(basename "$proj" .csproj)
  dotnet test "$proj" -c "$config" --no-build --nologo \
    --logger "trx;LogFileName=$name.trx" --results-directory "$results" -- RunConfiguration.DisableAppDomain=true || status=1
done
passed=0; failed=0; skipped=0
for trx in "$results"/*.trx; do
  [ -e "$trx" ] || continue
  counters=$(grep -o '<Counters [^>]*>' "$trx" | head -1)
  p=$(sed -n 's/.* passed="\([0-9]*\)".*/\1/p' <<<"$counters"); f=$(sed -n 's/.* failed="\([0-9]*\)".*/\1/p' <<<"$counters")
  # xunit's skipped tests are in total but not in executed (its notExecuted counter stays 0).
  t=$(sed -n 's/.* total="\([0-9]*\)".*/\1/p' <<<"$counters"); x=$(sed -n 's/.* executed="\([0-9]*\)".*/\1/p' <<<"$counters")
  n=$(( ${t:-0} - ${x:-0} )); e=$(sed -n 's/.* error="\([0-9]*\)".*/\1/p' <<<"$counters")
  passed=$((passed + ${p:-0})); failed=$((failed + ${f:-0} + ${e:-0})); skipped=$((skipped + ${n:-0}))
done
# Packaging: the packages of `make pack`, with the tool installed from them and run as a user would
# (scripts/tool-smoke.sh), and samples/CustomLoop built against them (scripts/sample.sh). Each check counts as one test. SKIP_PACK_SMOKE=1 leaves them out.
if [ "${SKIP_PACK_SMOKE:-0}" != 1 ]; then
  rm -rf artifacts; mkdir -p "$results"
  if dotnet pack Cadence.sln -c "$config" -o artifacts -nologo -clp:ErrorsOnly >"$results/pack.log" 2>&1; then
    smoke=$(bash scripts/tool-smoke.sh 2>&1; bash scripts/sample.sh 2>&1)
    echo "$smoke"
    passed=$((passed + $(grep -cE '^(smoke|sample): PASS' <<<"$smoke"))); failed=$((failed + $(grep -cE '^(smoke|sample): FAIL' <<<"$smoke")))
  else
    echo "dotnet pack failed:"; tail -20 "$results/pack.log"; failed=$((failed + 1))
  fi
fi
# A test project that crashed writes no TRX: count it as a failure rather than silently passing.
expected=$(ls tests/*.Tests/*.csproj | wc -l); got=$(ls "$results"/*.trx 2>/dev/null | wc -l)
if [ "$got" -lt "$expected" ]; then failed=$((failed + expected - got)); status=1; fi
[ "$failed" -gt 0 ] && status=1
echo "$passed passed, $failed failed, $skipped skipped"
exit $status
