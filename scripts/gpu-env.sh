# Sourced by scripts/gpu-check.sh and bench/gpu.sh on a machine with a GPU (docs/gpu.md). Finds or unpacks what
# scripts/gpu-prep.sh put in .gpu/ and exports:
#   CADENCE_DOTNET   a dotnet host with Microsoft.NETCore.App 10 (the machine's own, or .gpu/dotnet.tar.xz unpacked)
#   CADENCE_APP      the folder with cadence.dll and GpuBench.dll, published without the CPU libtorch (.gpu/app.tar.xz)
#   CADENCE_DATA     Fashion-MNIST's four files (.gpu/fashion-mnist, else Debian's folder)
#   CADENCE_LIBTORCH a CUDA libtorch: as given, else the torch/lib of the PyTorch that python3 imports
#   LD_LIBRARY_PATH  with that folder first (its CUDA libraries find each other there)
# Returns 1 with a one-line reason when something is missing.
gpu_env() {
  local root gpu unpack
  root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
  gpu=${CADENCE_GPU_DIR:-$root/.gpu}
  unpack=${CADENCE_UNPACK_DIR:-/tmp/cadence-gpu}
  mkdir -p "$unpack"
  if [ -z "${CADENCE_DOTNET:-}" ]; then
    if command -v dotnet >/dev/null && dotnet --list-runtimes 2>/dev/null | grep -q '^Microsoft.NETCore.App 10\.'; then
      CADENCE_DOTNET=$(command -v dotnet)
    elif [ -f "$gpu/dotnet.tar.xz" ]; then
      [ -x "$unpack/dotnet/dotnet" ] || { mkdir -p "$unpack/dotnet" && tar -C "$unpack/dotnet" -xJf "$gpu/dotnet.tar.xz"; } || return 1
      CADENCE_DOTNET=$unpack/dotnet/dotnet
      export DOTNET_ROOT=$unpack/dotnet
    else
      echo "gpu-env: no .NET 10 runtime: run scripts/gpu-prep.sh (it packs one into .gpu/dotnet.tar.xz)" >&2; return 1
    fi
  fi
  if [ -z "${CADENCE_APP:-}" ]; then
    if [ -f "$gpu/app/cadence.dll" ]; then CADENCE_APP=$gpu/app
    elif [ -f "$gpu/app.tar.xz" ]; then
      [ -f "$unpack/app/cadence.dll" ] || { mkdir -p "$unpack/app" && tar -C "$unpack/app" -xJf "$gpu/app.tar.xz"; } || return 1
      CADENCE_APP=$unpack/app
    else
      echo "gpu-env: no published app in $gpu: run scripts/gpu-prep.sh" >&2; return 1
    fi
  fi
  if [ -z "${CADENCE_DATA:-}" ]; then
    if [ -f "$gpu/fashion-mnist/train-images-idx3-ubyte.gz" ]; then CADENCE_DATA=$gpu/fashion-mnist
    else CADENCE_DATA=/usr/share/datasets/fashion-mnist; fi
  fi
  if [ -z "${CADENCE_LIBTORCH:-}" ]; then
    CADENCE_LIBTORCH=$(python3 -c 'import os, torch; print(os.path.join(os.path.dirname(torch.__file__), "lib"))' 2>/dev/null) || CADENCE_LIBTORCH=
  fi
  if [ -z "$CADENCE_LIBTORCH" ]; then
    echo "gpu-env: no CUDA libtorch: CADENCE_LIBTORCH is unset and python3 imports no torch" >&2; return 1
  elif [ ! -f "$CADENCE_LIBTORCH/libtorch_cuda.so" ]; then
    echo "gpu-env: no CUDA libtorch: $CADENCE_LIBTORCH has no libtorch_cuda.so" >&2; return 1
  fi
  export CADENCE_DOTNET CADENCE_APP CADENCE_DATA CADENCE_LIBTORCH DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
  export LD_LIBRARY_PATH=$CADENCE_LIBTORCH${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
}

# A GPU is there when nvidia-smi lists one.
gpu_present() { command -v nvidia-smi >/dev/null && nvidia-smi -L 2>/dev/null | grep -q '^GPU '; }
