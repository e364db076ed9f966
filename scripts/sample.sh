#!/usr/bin/env bash
# Builds and runs samples/CustomLoop against the packages in artifacts/ (from `make pack`), the way a user's
# project would consume them: a copy of the sample outside the repository, a private NuGet package folder (so a
# Cadence package of the same version cached earlier can never stand in for the one just packed), and the
# machine's package cache only as a read-only fallback for TorchSharp and libtorch (no 480 MB download or copy).
# Prints "sample: PASS|FAIL <check>" lines; exits 1 if any failed.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
version=$(sed -n 's:.*<Version>\(.*\)</Version>.*:\1:p' Directory.Build.props | head -1)
cache=${NUGET_PACKAGES:-$HOME/.nuget/packages}
work=$(mktemp -d /tmp/cadence-sample.XXXXXX)
trap 'rm -rf "$work"' EXIT
cp -r samples/CustomLoop "$work/CustomLoop"
rm -rf "$work/CustomLoop/bin" "$work/CustomLoop/obj"
export NUGET_PACKAGES=$work/packages DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
failed=0
if dotnet build "$work/CustomLoop/CustomLoop.csproj" -c Release -nologo -clp:ErrorsOnly -p:CadenceVersion="$version" \
     -p:RestoreAdditionalProjectSources="$root/artifacts" -p:RestoreFallbackFolders="$cache" >"$work/build.log" 2>&1; then
  echo "sample: PASS samples/CustomLoop builds from the packages in artifacts/"
  if dotnet "$work/CustomLoop/bin/Release/net10.0/linux-x64/CustomLoop.dll" >"$work/run.log" 2>&1; then
    echo "sample: PASS samples/CustomLoop trains with a Cadence schedule ($(tail -1 "$work/run.log"))"
  else
    echo "sample: FAIL samples/CustomLoop run"; sed 's/^/    /' "$work/run.log" | tail -20; failed=1
  fi
else
  echo "sample: FAIL samples/CustomLoop build"; sed 's/^/    /' "$work/build.log" | tail -20; failed=1
fi
# The restore must have taken Cadence from artifacts/, not from anywhere else.
if ! ls "$work/packages/cadence.core/$version" >/dev/null 2>&1; then echo "sample: FAIL Cadence.Core $version was not restored from artifacts/"; failed=1; fi
exit $failed
