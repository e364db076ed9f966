#!/usr/bin/env bash
# Builds .gpu/ here for one run on a lent GPU machine (scripts/gpu-check.sh, bench/gpu.sh; docs/gpu.md), which has no
# .NET and cannot download anything:
#   .gpu/app.tar.xz       the cadence CLI and bench/GpuBench, published WITHOUT the CPU libtorch (scripts/gpu-publish.targets):
#                         a CUDA libtorch loaded beside a CPU one would put two libtorch copies in the process
#   .gpu/dotnet.tar.xz    the .NET runtime (dotnet host, hostfxr, Microsoft.NETCore.App), ~26 MB
#   .gpu/fashion-mnist/   the four Fashion-MNIST .gz files (30 MB)
# Everything travels as `carry: [".gpu"]` (64 MiB with the working tree); the script fails when it would not fit.
# Usage: bash scripts/gpu-prep.sh [--no-data]
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
gpu=$root/.gpu
with_data=1
[ "${1:-}" = --no-data ] && with_data=0
mkdir -p "$gpu"
grep -qx '/\.gpu/\?' .gitignore 2>/dev/null || grep -qx '\.gpu/' .gitignore 2>/dev/null || {
  echo "gpu-prep: .gpu/ must be ignored by git (it is carried explicitly): add it to .gitignore" >&2; exit 1; }

echo "gpu-prep: publishing the CLI and GpuBench without the CPU libtorch"
app=$(mktemp -d /tmp/cadence-gpu-app.XXXXXX)
trap 'rm -rf "$app"' EXIT
for project in src/Cadence.Cli/Cadence.Cli.csproj bench/GpuBench/GpuBench.csproj; do
  dotnet publish "$project" -c Release -o "$app" -nologo -clp:ErrorsOnly -p:CustomAfterMicrosoftCommonTargets="$root/scripts/gpu-publish.targets"
done
if ls "$app"/libtorch* "$app"/libc10* "$app"/runtimes/*/native/libtorch* >/dev/null 2>&1; then
  echo "gpu-prep: the published folder still holds a libtorch: $(ls "$app" | grep -E '^lib(torch|c10)' | tr '\n' ' ')" >&2; exit 1
fi
rm -f "$app"/*.pdb "$app"/*.xml
tar -C "$app" -cf - . | xz -6 -T0 > "$gpu/app.tar.xz"

runtime=$(dotnet --list-runtimes | awk '$1 == "Microsoft.NETCore.App" && $2 ~ /^10\./ { v = $2; p = $3 } END { print v " " p }')
version=${runtime%% *}; shared=$(tr -d '[]' <<<"${runtime#* }")
dotnet_root=$(cd "$shared/../.." && pwd)
if [ -z "$version" ]; then echo "gpu-prep: no Microsoft.NETCore.App 10 runtime here" >&2; exit 1; fi
# Without the debugger's and tracing's native libraries (createdump, DAC, DBI, LTTng provider: 5 MB nobody loads here).
pack="$version without-diagnostics"
if [ "$(cat "$gpu/dotnet.version" 2>/dev/null)" != "$pack" ]; then
  echo "gpu-prep: packing the .NET runtime $version from $dotnet_root"
  fw=shared/Microsoft.NETCore.App/$version
  tar -C "$dotnet_root" --exclude="$fw/createdump" --exclude="$fw/libmscordaccore.so" --exclude="$fw/libmscordbi.so" \
    --exclude="$fw/libcoreclrtraceptprovider.so" -cf - dotnet host/fxr "$fw" | xz -6 -T0 > "$gpu/dotnet.tar.xz"
  echo "$pack" > "$gpu/dotnet.version"
fi

if [ $with_data = 1 ]; then
  src=/usr/share/datasets/fashion-mnist
  mkdir -p "$gpu/fashion-mnist"
  for f in train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte; do
    [ -f "$gpu/fashion-mnist/$f.gz" ] || cp "$src/$f.gz" "$gpu/fashion-mnist/"
  done
else
  rm -rf "$gpu/fashion-mnist"
fi

carry=$(du -sb "$gpu" | cut -f1)
tree=$(git ls-files -z | xargs -0 du -cb 2>/dev/null | tail -1 | cut -f1)
limit=$((64 * 1024 * 1024))
printf 'gpu-prep: .gpu is %.1f MiB (app %.1f, runtime %.1f), the working tree %.1f MiB; the carry limit is 64 MiB\n' \
  "$(bc -l <<<"$carry / 1048576")" "$(bc -l <<<"$(stat -c %s "$gpu/app.tar.xz") / 1048576")" \
  "$(bc -l <<<"$(stat -c %s "$gpu/dotnet.tar.xz") / 1048576")" "$(bc -l <<<"$tree / 1048576")"
if [ $((carry + tree)) -gt $limit ]; then
  echo "gpu-prep: .gpu and the working tree exceed 64 MiB" >&2; exit 1
fi
